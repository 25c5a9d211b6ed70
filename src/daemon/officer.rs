//! What the daemon does for the officer besides recording: trigger inputs and peers
//! (`activation`), mute, sleep and reminders (`privacy`), the battery (`power`), and
//! the location samples recorded once a second of recording (here). This file holds
//! their settings and runtime state, builds them, and runs their part of the tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tracing::{info, warn};

use super::{DaemonError, Input, Loop};
use crate::clock::monotonic_ns;
use crate::config::{Config, LocationSourceKind};
use crate::controls::reminders::{ReminderPeriods, Reminders};
use crate::controls::triggers::{GpioTriggers, TriggerPin};
use crate::evidence::identity::Identity;
use crate::location::Locator;
use crate::location::gpsd::GpsdLocator;
use crate::location::sim::SimLocator;
use crate::mute::MuteSpans;
use crate::peer::trust::{Checker, Enrolled};
use crate::peer::wire::Announcement;
use crate::peer::{LinkSettings, Opener, PeerLink};
use crate::power::{Gauge, GaugeThread, PowerMonitor, Thresholds};
use crate::recorder::{InputName, PeerId, PowerReason, State, TriggerPolicy};

/// How often a location sample is recorded.
pub(super) const LOCATION_EVERY: Duration = Duration::from_secs(1);

/// `[peers]` as the loop uses it.
#[derive(Debug, Clone)]
pub(super) struct PeerSettings {
    /// What a peer's announcement does.
    pub(super) policy: TriggerPolicy,
    /// How far an activation travels.
    pub(super) hop_limit: u8,
    /// Which starts are announced (empty: all).
    pub(super) announce: Vec<String>,
}

/// What is derived once from the config for the officer's features.
#[derive(Debug, Clone)]
pub(super) struct OfficerSettings {
    /// `[[trigger]]` names and policies, in config order.
    pub(super) triggers: Vec<(InputName, TriggerPolicy)>,
    /// `[peers]`, when enabled.
    pub(super) peers: Option<PeerSettings>,
    /// This camera's device id.
    pub(super) own: PeerId,
    /// `power.shutdown_command`.
    pub(super) shutdown_command: Vec<String>,
    /// One ADTS frame of encoded silence that stands in for muted audio (none: muted
    /// audio frames are left out).
    pub(super) silence: Option<Arc<[u8]>>,
    /// The gauge's name, when there is one.
    pub(super) gauge: Option<String>,
}

/// The officer's features at run time.
pub(super) struct Officer {
    /// Mute spans of the open recording.
    pub(super) mute: MuteSpans,
    /// Recording, mute and sleep reminders.
    pub(super) reminders: Reminders,
    /// Battery readings → levels.
    pub(super) power: PowerMonitor,
    /// Set once the camera powers off: the shutdown command runs after the loop.
    pub(super) power_off: Option<PowerReason>,
    /// Reads the gauge (none without one).
    pub(super) _gauge_thread: Option<GaugeThread>,
    /// The watched GPIO trigger inputs (none with simulated controls).
    pub(super) _gpio_triggers: Option<GpioTriggers>,
    /// Where location samples come from.
    pub(super) locator: Option<Box<dyn Locator>>,
    /// When the last location sample was recorded.
    pub(super) last_location: Option<Instant>,
    /// The peer link, when `[peers]` is enabled.
    pub(super) peers: Option<PeerLink>,
    /// The newest accepted announcement of each peer (for relaying its start).
    pub(super) peer_activations: HashMap<PeerId, Announcement>,
    /// What caused the event being handled (for the audit log's `by`).
    pub(super) cause: Option<String>,
}

impl std::fmt::Debug for Officer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Officer")
            .field("power_off", &self.power_off)
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

/// The backends the officer's features run on.
pub(super) struct OfficerBackends {
    /// The battery gauge.
    pub(super) gauge: Option<Box<dyn Gauge>>,
    /// The power-fail input (pin, active low).
    pub(super) power_fail: Option<(u8, bool)>,
    /// GPIO trigger inputs.
    pub(super) trigger_pins: Vec<TriggerPin>,
    /// Opens the peer transport.
    pub(super) peer_transport: Option<Opener>,
}

/// The settings, from the config and the device identity.
pub(super) fn settings(
    cfg: &Config,
    own: PeerId,
    silence: Option<Vec<u8>>,
    gauge: Option<String>,
) -> OfficerSettings {
    OfficerSettings {
        triggers: cfg
            .triggers
            .iter()
            .filter_map(|t| InputName::new(&t.name).map(|n| (n, t.policy)))
            .collect(),
        peers: cfg.peers.enabled.then(|| PeerSettings {
            policy: cfg.peers.policy,
            hop_limit: cfg.peers.hop_limit,
            announce: cfg.peers.announce.clone(),
        }),
        own,
        shutdown_command: cfg.power.shutdown_command.clone(),
        silence: silence.map(Arc::from),
        gauge,
    }
}

/// Start what runs beside the loop: the gauge, the power-fail and trigger inputs, the
/// location source and the peer link, all reporting through `input`.
pub(super) fn start(
    cfg: &Config,
    backends: OfficerBackends,
    input: &Sender<Input>,
) -> Result<Officer, DaemonError> {
    let spawn = |what: &'static str| move |source| DaemonError::Spawn { what, source };
    let gauge_thread = match backends.gauge {
        Some(g) => {
            let tx = input.clone();
            let every = Duration::from_secs(u64::from(cfg.power.poll_seconds));
            Some(
                GaugeThread::start(g, every, move |r| {
                    let _ = tx.send(Input::Battery(r));
                })
                .map_err(spawn("battery gauge thread"))?,
            )
        }
        None => None,
    };
    if let Some((pin, active_low)) = backends.power_fail {
        let tx = input.clone();
        crate::power::fail::watch(pin, active_low, move || {
            let _ = tx.send(Input::PowerFail);
        })?;
    }
    let gpio_triggers = if backends.trigger_pins.is_empty() {
        None
    } else {
        let tx = input.clone();
        let names: Arc<[String]> = backends
            .trigger_pins
            .iter()
            .map(|t| t.name.clone())
            .collect();
        Some(GpioTriggers::watch(&backends.trigger_pins, move |i| {
            if let Some(name) = names.get(i) {
                let _ = tx.send(Input::Trigger(name.clone(), None));
            }
        })?)
    };
    let locator = locator(cfg, input).map_err(spawn("gpsd client thread"))?;
    let peers = match backends.peer_transport {
        Some(opener) => Some(peer_link(cfg, opener, input)?),
        None => None,
    };
    let p = &cfg.power;
    let minutes = |m: u32| Duration::from_secs(u64::from(m) * 60);
    let k = &cfg.controls;
    Ok(Officer {
        mute: MuteSpans::default(),
        reminders: Reminders::new(ReminderPeriods {
            recording: minutes(k.reminder_minutes),
            muted: minutes(k.mute_reminder_minutes),
            asleep: minutes(k.sleep_reminder_minutes),
        }),
        power: PowerMonitor::new(Thresholds {
            low_minutes: f64::from(p.low_minutes),
            critical_minutes: f64::from(p.critical_minutes),
            full_minutes: f64::from(p.full_minutes),
        }),
        power_off: None,
        _gauge_thread: gauge_thread,
        _gpio_triggers: gpio_triggers,
        locator,
        last_location: None,
        peers,
        peer_activations: HashMap::new(),
        cause: None,
    })
}

fn locator(cfg: &Config, input: &Sender<Input>) -> std::io::Result<Option<Box<dyn Locator>>> {
    Ok(match cfg.location.source {
        LocationSourceKind::None => None,
        LocationSourceKind::Simulated => Some(Box::new(SimLocator::new(
            cfg.location.simulated_origin,
            Instant::now(),
        ))),
        LocationSourceKind::Gpsd => {
            let tx = input.clone();
            Some(Box::new(GpsdLocator::start(
                &cfg.location.gpsd,
                move |up, err| {
                    let _ = tx.send(Input::LocationLink(up, err));
                },
            )?))
        }
    })
}

fn peer_link(cfg: &Config, opener: Opener, input: &Sender<Input>) -> Result<PeerLink, DaemonError> {
    let p = &cfg.peers;
    let path = p.enrolled.clone().unwrap_or_default();
    let enrolled = Enrolled::load(&path, &p.agency)?;
    let key = Identity::load(&cfg.key_dir())?;
    let own = PeerId(key.device_id());
    let count = enrolled.len();
    let checker = Checker::new(
        own,
        enrolled,
        Duration::from_secs(u64::from(p.max_age_seconds)),
        p.hop_limit,
    );
    let tx = input.clone();
    let link = PeerLink::start(
        opener,
        LinkSettings {
            own,
            agency: p.agency.clone(),
            checker,
            key,
            enrolled: count,
        },
        move |m| {
            let _ = tx.send(Input::Peer(m));
        },
    )
    .map_err(|source| DaemonError::Spawn {
        what: "peer link threads",
        source,
    })?;
    info!(agency = %p.agency, enrolled = count, "peer-assisted recording on");
    Ok(link)
}

impl Loop {
    /// The officer's part of the 100 ms tick: reminders, and a location sample once a
    /// second of recording.
    pub(super) fn officer_tick(&mut self, now: Instant) {
        self.remind(now);
        if self.machine.state() != State::Recording {
            self.officer.last_location = None;
            return;
        }
        let due = self
            .officer
            .last_location
            .is_none_or(|t| now.saturating_duration_since(t) >= LOCATION_EVERY);
        if !due {
            return;
        }
        let (Some(locator), Some(rec)) = (self.officer.locator.as_mut(), self.recording.as_mut())
        else {
            return;
        };
        let sample = locator.sample(now, self.time.utc_of(monotonic_ns()).timestamp_millis());
        rec.add_location(monotonic_ns(), sample);
        self.officer.last_location = Some(now);
    }

    /// The location receiver became reachable or not.
    pub(super) fn on_location_link(&mut self, connected: bool, error: Option<String>) {
        self.audit(location_link_entry(connected, error));
    }
}

/// The audit entry of the location source connecting or going away (logged here).
pub(super) fn location_link_entry(
    connected: bool,
    error: Option<String>,
) -> crate::evidence::events::AuditEvent {
    if connected {
        info!("location source connected");
    } else {
        warn!(error = ?error, "location source lost: recording \"no fix\"");
    }
    crate::evidence::events::AuditEvent::LocationLink { connected, error }
}
