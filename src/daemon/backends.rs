//! The backends, picked once from the config before the daemon starts
//! ([`Backends::from_config`]): the capture pipeline, the controls (GPIO or simulated),
//! the battery gauge, the trigger pins, the peer transport and the encoder's silent
//! frame. [`super::setup::build`] then builds the running daemon from them.

use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::time::Duration;

use tracing::debug;

use super::DaemonError;
use crate::capture::{self, Encoder};
use crate::config::{CameraSource, Config, ControlsBackendKind, GaugeKind};
use crate::controls::sim::{SimButton, SimulatedControls};
use crate::controls::triggers::TriggerPin;
use crate::controls::{self, ControlsBackend, GestureTimings};
use crate::flash::{Flash, RealFlash};
use crate::peer::Opener;
use crate::power::Gauge;
use crate::power::sim::SimGauge;
use crate::power::sysfs::SysfsGauge;

/// The capture pipeline to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSetup {
    /// GStreamer pipeline description ([`capture::pipeline_description`]).
    pub description: String,
    /// The H.264 encoder element in it.
    pub encoder: &'static str,
    /// The AAC encoder element, if audio is captured.
    pub audio_encoder: Option<&'static str>,
    /// One ADTS frame of silence from that encoder, which stands in for muted audio
    /// (none: muted audio frames are left out).
    pub audio_silence: Option<Vec<u8>>,
    /// The encoder's silent frame, put in place of pre-event audio whose sound is not
    /// kept (`recording.pre_event_audio = false`); `None` without audio, with pre-event
    /// audio, or if the encoder could not make one (then that span has no audio).
    pub silence: Option<capture::silence::SilentFrame>,
}

/// The hardware and sockets the daemon runs on, picked once at start.
pub struct Backends {
    /// The capture pipeline.
    pub capture: CaptureSetup,
    /// Button, LEDs and haptics.
    pub controls: Box<dyn ControlsBackend>,
    /// The simulated button, when the controls are simulated: `ctl button`,
    /// `ctl dock` and `ctl undock` work only then.
    pub sim_button: Option<SimButton>,
    /// The dock sense input to watch (GPIO backend), if fitted.
    pub dock_pin: Option<u8>,
    /// The bound control socket.
    pub ctl: UnixListener,
    /// The filesystem footage is written to.
    pub flash: Arc<dyn Flash>,
    /// The battery gauge (`[power] gauge`), if any.
    pub gauge: Option<Box<dyn Gauge>>,
    /// The simulated gauge: `ctl battery` and `ctl power-fail` work only with it.
    pub sim_gauge: Option<SimGauge>,
    /// The power-fail input on GPIO, as (pin, active low).
    pub power_fail: Option<(u8, bool)>,
    /// Trigger inputs watched on GPIO (none with simulated controls: `ctl trigger`).
    pub trigger_pins: Vec<TriggerPin>,
    /// Opens the peers' transport, when `[peers]` is enabled.
    pub peer_transport: Option<Opener>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("capture", &self.capture)
            .field("controls", &self.controls.name())
            .field("dock_pin", &self.dock_pin)
            .field("gauge", &self.gauge.as_ref().map(|g| g.name()))
            .field("power_fail", &self.power_fail)
            .field("trigger_pins", &self.trigger_pins)
            .field("peers", &self.peer_transport.is_some())
            .finish_non_exhaustive()
    }
}

impl Backends {
    /// The real backends for `cfg`: the capture pipeline for its source with
    /// `encoder` (from [`capture::resolve_encoder`], so that a bad encoder choice was
    /// already reported as a configuration error), the controls it names, the control
    /// socket bound at its path, the real filesystem.
    pub fn from_config(cfg: &Config, encoder: Encoder) -> Result<Backends, DaemonError> {
        capture::check_elements(cfg)?;
        let replay = cfg.camera.source == CameraSource::Replay;
        let aac = match (cfg.audio.enabled, replay) {
            (false, _) => None,
            // Replayed audio is encoded already.
            (true, true) => Some("replay"),
            (true, false) => Some(capture::resolve_aac()?),
        };
        let description = capture::pipeline_description(cfg, encoder, aac);
        let silence = match aac {
            Some(aac) if !cfg.recording.pre_event_audio => silent_frame(cfg, aac),
            Some(_) | None => None,
        };
        let (controls, sim_button) = controls_backend(cfg, gesture_timings(cfg))?;
        let gpio = cfg.controls.backend == ControlsBackendKind::Gpio;
        let dock_pin = match cfg.controls.backend {
            ControlsBackendKind::Gpio => cfg.controls.dock_pin,
            ControlsBackendKind::Simulated => None,
        };
        let audio_silence = aac.and_then(|a| match crate::mute::silent_aac_frame(cfg, a) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(error = %e, "no encoded silence: muted audio will be left out");
                None
            }
        });
        let (gauge, sim_gauge) = gauge(cfg);
        Ok(Backends {
            capture: CaptureSetup {
                description,
                encoder: if replay { "replay" } else { encoder.element() },
                audio_encoder: aac,
                audio_silence,
                silence,
            },
            controls,
            sim_button,
            dock_pin,
            ctl: crate::ctl::bind(&cfg.socket_path())?,
            flash: Arc::new(RealFlash),
            gauge,
            sim_gauge,
            power_fail: cfg
                .power
                .power_fail_pin
                .filter(|_| gpio)
                .map(|p| (p, cfg.power.power_fail_active_low)),
            trigger_pins: if gpio { trigger_pins(cfg) } else { Vec::new() },
            peer_transport: cfg.peers.enabled.then(|| peer_transport(cfg)),
        })
    }
}

/// The gauge `[power] gauge` names (and the simulated one's handle).
fn gauge(cfg: &Config) -> (Option<Box<dyn Gauge>>, Option<SimGauge>) {
    match cfg.power.gauge {
        GaugeKind::None => (None, None),
        GaugeKind::Simulated => {
            let g = SimGauge::new();
            (Some(Box::new(g.clone())), Some(g))
        }
        GaugeKind::Sysfs => (
            Some(Box::new(SysfsGauge::new(cfg.power.supply.clone()))),
            None,
        ),
    }
}

/// The `[[trigger]]` inputs for the GPIO backend.
fn trigger_pins(cfg: &Config) -> Vec<TriggerPin> {
    cfg.triggers
        .iter()
        .map(|t| TriggerPin {
            name: t.name.clone(),
            pin: t.pin,
            edge: t.edge,
            pull: t.pull,
            debounce: Duration::from_millis(u64::from(t.debounce_ms)),
        })
        .collect()
}

/// UDP multicast on `peers.interface`, opened (again) by the peer link.
fn peer_transport(cfg: &Config) -> Opener {
    let interface = cfg.peers.interface.clone();
    let group = crate::peer::udp::parse_group(&cfg.peers.group);
    Box::new(move || {
        let group =
            group.ok_or_else(|| std::io::Error::other("peers.group is not a multicast address"))?;
        let t = crate::peer::udp::UdpMulticast::open(&interface, group)?;
        Ok(Arc::new(t) as Arc<dyn crate::peer::PeerTransport>)
    })
}

/// Encode silence once through the live audio branch's encoder settings.
fn silent_frame(cfg: &Config, aac: &str) -> Option<capture::silence::SilentFrame> {
    let tail = capture::audio_encoder_description(cfg, aac);
    match capture::silence::SilentFrame::from_encoder(&tail, capture::AUDIO_SINK) {
        Ok(f) => {
            debug!(bytes = f.bytes().len(), adts = %hex::encode(f.bytes()), "silent AAC frame");
            Some(f)
        }
        Err(e) => {
            tracing::error!(error = %e, "no silent AAC frame: the pre-event span of a recording will have no audio track");
            None
        }
    }
}

/// Build the controls backend named by the config (picked once, here).
fn controls_backend(
    cfg: &Config,
    timings: GestureTimings,
) -> Result<(Box<dyn ControlsBackend>, Option<SimButton>), controls::ControlsError> {
    match cfg.controls.backend {
        ControlsBackendKind::Simulated => {
            let sim = SimulatedControls::new(timings);
            let button = sim.button();
            Ok((Box::new(sim), Some(button)))
        }
        ControlsBackendKind::Gpio => {
            let k = &cfg.controls;
            let gpio = controls::gpio::GpioControls::new(controls::gpio::GpioPins {
                button: k.button_pin,
                red: k.red_pin,
                green: k.green_pin,
                amber: k.amber_pin,
                haptic: k.haptic_pin,
            })?;
            Ok((Box::new(gpio), None))
        }
    }
}

/// Gesture timings from the config.
pub fn gesture_timings(cfg: &Config) -> GestureTimings {
    let k = &cfg.controls;
    GestureTimings {
        debounce: Duration::from_millis(u64::from(k.debounce_ms)),
        multi_press_gap: Duration::from_millis(u64::from(k.multi_press_gap_ms)),
        hold: Duration::from_millis(u64::from(k.hold_ms)),
        max_tap: Duration::from_millis(u64::from(k.max_tap_ms)),
    }
}
