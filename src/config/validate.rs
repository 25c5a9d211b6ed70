//! Range and cross-field validation of a parsed [`Config`], one function per section.
//! Sections are checked in file order (camera, audio, recording, storage, dock,
//! controls, triggers, peers, power, location) and the first error wins.

use std::path::Path;

use super::{
    AudioConfig, AudioSource, CameraConfig, CameraSource, Config, ConfigError, ControlsBackendKind,
    ControlsConfig, DockConfig, EncryptionMode, EvidenceConfig, GaugeKind, LocationConfig,
    LocationSourceKind, MAX_OVERLAY_SCALE, MAX_PRE_EVENT_SECONDS, MAX_RECIPIENTS, PeersConfig,
    PowerConfig, RecordingConfig, StorageConfig, TriggerConfig,
};
use crate::recorder::InputName;

/// Trigger sources that `peers.announce` may name besides the `[[trigger]]` names.
pub const ANNOUNCE_SOURCES: [&str; 3] = ["gesture", "ctl", "peer"];

impl Config {
    /// Check ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.camera.validate()?;
        self.audio.validate()?;
        self.recording.validate()?;
        self.storage.validate()?;
        self.evidence.validate()?;
        self.dock.validate()?;
        self.controls.validate()?;
        validate_triggers(&self.triggers)?;
        if self.controls.backend == ControlsBackendKind::Gpio {
            self.validate_all_pins()?;
        }
        self.peers.validate(&self.triggers)?;
        self.power.validate(self.controls.backend)?;
        self.location.validate()
    }

    /// Every GPIO pin (controls, triggers, power-fail) a BCM number 0–27, none used twice.
    fn validate_all_pins(&self) -> Result<(), ConfigError> {
        let mut pins: Vec<Pin> = self
            .controls
            .pins()
            .into_iter()
            .map(|(key, pin)| (key, key.to_string(), pin))
            .collect();
        for t in &self.triggers {
            pins.push(("trigger.pin", format!("trigger `{}`", t.name), t.pin));
        }
        if let Some(p) = self.power.power_fail_pin {
            pins.push(("power.power_fail_pin", "power.power_fail_pin".into(), p));
        }
        distinct_pins(&pins)
    }
}

/// A GPIO pin: its key, what uses it (for the message), its BCM number.
type Pin = (&'static str, String, u8);

/// No BCM pin in `pins` twice (the later one is named), each 0–27.
fn distinct_pins(pins: &[Pin]) -> Result<(), ConfigError> {
    for (i, (key, what, pin)) in pins.iter().enumerate() {
        if *pin > 27 {
            return Err(ConfigError::Invalid {
                key,
                reason: format!("{what}: BCM pin {pin} is outside the allowed range 0–27"),
            });
        }
        if let Some((_, other, _)) = pins[..i].iter().find(|(_, _, p)| p == pin) {
            return Err(ConfigError::Invalid {
                key,
                reason: format!("{what}: BCM pin {pin} is already used by {other}"),
            });
        }
    }
    Ok(())
}

/// `[[trigger]]`: valid, distinct names; a debounce time in range.
fn validate_triggers(triggers: &[TriggerConfig]) -> Result<(), ConfigError> {
    for (i, t) in triggers.iter().enumerate() {
        if InputName::new(&t.name).is_none() {
            return Err(ConfigError::Invalid {
                key: "trigger.name",
                reason: format!(
                    "`{}` is not a trigger name (1–32 of a-z, 0-9, `_`, `-`)",
                    t.name
                ),
            });
        }
        if ANNOUNCE_SOURCES.contains(&t.name.as_str()) {
            return Err(ConfigError::Invalid {
                key: "trigger.name",
                reason: format!("`{}` is a built-in trigger source", t.name),
            });
        }
        if triggers[..i].iter().any(|o| o.name == t.name) {
            return Err(ConfigError::Invalid {
                key: "trigger.name",
                reason: format!("trigger `{}` is defined twice", t.name),
            });
        }
        range("trigger.debounce_ms", t.debounce_ms, 1, 1000)?;
    }
    Ok(())
}

impl PeersConfig {
    /// `[peers]`: when enabled, an agency, an interface, a multicast group, an enrolled
    /// list that exists, a hop limit and a freshness window; `announce` names known
    /// trigger sources.
    fn validate(&self, triggers: &[TriggerConfig]) -> Result<(), ConfigError> {
        for name in &self.announce {
            let known = ANNOUNCE_SOURCES.contains(&name.as_str())
                || triggers.iter().any(|t| &t.name == name);
            if !known {
                return Err(ConfigError::Invalid {
                    key: "peers.announce",
                    reason: format!(
                        "unknown trigger `{name}` (known: {}{})",
                        ANNOUNCE_SOURCES.join(", "),
                        triggers
                            .iter()
                            .map(|t| format!(", {}", t.name))
                            .collect::<String>()
                    ),
                });
            }
        }
        range("peers.hop_limit", self.hop_limit, 1, 4)?;
        range("peers.max_age_seconds", self.max_age_seconds, 1, 3600)?;
        if !self.enabled {
            return Ok(());
        }
        if self.agency.trim().is_empty() || self.agency.len() > 64 {
            return Err(ConfigError::Invalid {
                key: "peers.agency",
                reason: "peers need the agency's name (1–64 bytes)".into(),
            });
        }
        if self.interface.is_empty() {
            return Err(ConfigError::Invalid {
                key: "peers.interface",
                reason: "peers need a network interface such as wlan0".into(),
            });
        }
        match self.group.parse::<std::net::SocketAddrV4>() {
            Ok(a) if a.ip().is_multicast() && a.port() != 0 => {}
            Ok(_) | Err(_) => {
                return Err(ConfigError::Invalid {
                    key: "peers.group",
                    reason: format!("`{}` is not a multicast address:port", self.group),
                });
            }
        }
        match &self.enrolled {
            None => Err(ConfigError::Invalid {
                key: "peers.enrolled",
                reason: "peers need the enrolled peer list".into(),
            }),
            Some(p) if !p.exists() => Err(ConfigError::Invalid {
                key: "peers.enrolled",
                reason: format!("{} does not exist", p.display()),
            }),
            Some(p) => crate::peer::trust::Enrolled::load(p, &self.agency)
                .map(|_| ())
                .map_err(|e| ConfigError::Invalid {
                    key: "peers.enrolled",
                    reason: e.to_string(),
                }),
        }
    }
}

impl PowerConfig {
    /// `[power]`: thresholds (critical below low), a poll interval, a shutdown command,
    /// and the power-fail pin only with the GPIO backend (or the simulated gauge).
    fn validate(&self, backend: ControlsBackendKind) -> Result<(), ConfigError> {
        range("power.full_minutes", self.full_minutes, 10, 100_000)?;
        range("power.critical_minutes", self.critical_minutes, 1, 120)?;
        range("power.low_minutes", self.low_minutes, 2, 600)?;
        if self.low_minutes <= self.critical_minutes {
            return Err(ConfigError::Invalid {
                key: "power.low_minutes",
                reason: "must be more than power.critical_minutes".into(),
            });
        }
        range("power.poll_seconds", self.poll_seconds, 1, 300)?;
        if self.shutdown_command.first().is_none_or(|c| c.is_empty()) {
            return Err(ConfigError::Invalid {
                key: "power.shutdown_command",
                reason: "needs a program to run, e.g. [\"systemctl\", \"poweroff\"]".into(),
            });
        }
        if self.power_fail_pin.is_some() && backend != ControlsBackendKind::Gpio {
            return Err(ConfigError::Invalid {
                key: "power.power_fail_pin",
                reason: "a power-fail pin needs controls.backend = \"gpio\"".into(),
            });
        }
        // `power.supply` is not required to exist: a gauge whose driver loads late, or
        // that vanishes, reads as unknown (never low, never a shutdown).
        if self.supply.is_some() && self.gauge != GaugeKind::Sysfs {
            return Err(ConfigError::Invalid {
                key: "power.supply",
                reason: "a supply directory needs power.gauge = \"sysfs\"".into(),
            });
        }
        Ok(())
    }
}

impl LocationConfig {
    /// `[location]`: a gpsd address, an origin on Earth.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.source == LocationSourceKind::Gpsd && self.gpsd.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "location.gpsd",
                reason: "needs gpsd's host:port, e.g. 127.0.0.1:2947".into(),
            });
        }
        let [lat, lon] = self.simulated_origin;
        if !(-89.0..=89.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(ConfigError::Invalid {
                key: "location.simulated_origin",
                reason: "latitude within ±89°, longitude within ±180°".into(),
            });
        }
        Ok(())
    }
}

/// `lo ≤ v ≤ hi`, or an error naming `key` and the allowed range.
fn range<T: PartialOrd + std::fmt::Display + Copy>(
    key: &'static str,
    v: T,
    lo: T,
    hi: T,
) -> Result<(), ConfigError> {
    if v < lo || v > hi {
        return Err(ConfigError::Invalid {
            key,
            reason: format!("{v} is outside the allowed range {lo}–{hi}"),
        });
    }
    Ok(())
}

impl CameraConfig {
    /// `[camera]`: picture size and rate, the v4l2 device, the simulated faults.
    fn validate(&self) -> Result<(), ConfigError> {
        let c = self;
        range("camera.width", c.width, 64, 3840)?;
        range("camera.height", c.height, 64, 2160)?;
        if !c.width.is_multiple_of(2) || !c.height.is_multiple_of(2) {
            return Err(ConfigError::Invalid {
                key: if !c.width.is_multiple_of(2) {
                    "camera.width"
                } else {
                    "camera.height"
                },
                reason: "must be even for 4:2:0 video".into(),
            });
        }
        range("camera.framerate", c.framerate, 1, 120)?;
        range("camera.bitrate_kbps", c.bitrate_kbps, 100, 50_000)?;
        if c.source == CameraSource::Replay
            && !Path::new(&c.device)
                .join(crate::replay::VIDEO_FILE)
                .is_file()
        {
            return Err(ConfigError::Invalid {
                key: "camera.device",
                reason: format!(
                    "source `replay` needs a directory holding {} (and {} with audio)",
                    crate::replay::VIDEO_FILE,
                    crate::replay::AUDIO_FILE
                ),
            });
        }
        if c.source == CameraSource::V4l2 {
            if c.device.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "camera.device",
                    reason: "source `v4l2` needs a device such as /dev/video0".into(),
                });
            }
            if !Path::new(&c.device).exists() {
                return Err(ConfigError::Invalid {
                    key: "camera.device",
                    reason: format!("device {} does not exist", c.device),
                });
            }
        }
        range(
            "camera.overlay_scale",
            c.overlay_scale,
            0,
            MAX_OVERLAY_SCALE,
        )?;
        self.validate_simulated_faults()
    }

    /// The test-only fault injection works with the simulated camera only.
    fn validate_simulated_faults(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            (
                "camera.simulate_failure_after_seconds",
                self.simulate_failure_after_seconds,
            ),
            (
                "camera.simulate_stall_after_seconds",
                self.simulate_stall_after_seconds,
            ),
        ] {
            if let Some(n) = value {
                if self.source != CameraSource::Simulated {
                    return Err(ConfigError::Invalid {
                        key,
                        reason: "only the simulated camera can simulate a fault".into(),
                    });
                }
                range(key, n, 1, 86_400)?;
            }
        }
        Ok(())
    }
}

impl AudioConfig {
    /// `[audio]`: bitrate, and an ALSA device when recording from ALSA.
    fn validate(&self) -> Result<(), ConfigError> {
        range("audio.bitrate_kbps", self.bitrate_kbps, 16, 320)?;
        if self.enabled && self.source == AudioSource::Alsa && self.device.is_empty() {
            return Err(ConfigError::Invalid {
                key: "audio.device",
                reason: "source `alsa` needs a device such as `default` or `hw:1,0`".into(),
            });
        }
        Ok(())
    }
}

impl RecordingConfig {
    /// `[recording]`: segment and pre-event lengths.
    fn validate(&self) -> Result<(), ConfigError> {
        range("recording.segment_seconds", self.segment_seconds, 1, 3600)?;
        range(
            "recording.pre_event_seconds",
            self.pre_event_seconds,
            0,
            MAX_PRE_EVENT_SECONDS,
        )
    }
}

impl StorageConfig {
    /// `[storage]`: a data directory, the reserve and the quota.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.path.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "storage.path",
                reason: "must not be empty".into(),
            });
        }
        if !(0.0..=1000.0).contains(&self.reserve_hours) {
            return Err(ConfigError::Invalid {
                key: "storage.reserve_hours",
                reason: format!("{} is outside the allowed range 0–1000", self.reserve_hours),
            });
        }
        if let Some(m) = self.max_bytes {
            range("storage.max_bytes", m, 512 * 1024, u64::MAX)?;
        }
        Ok(())
    }
}

impl EvidenceConfig {
    /// `[evidence]`: `required` needs at least one usable recipient file, each read
    /// now (the error names the file); recipients with `off` are a mistake.
    fn validate(&self) -> Result<(), ConfigError> {
        match self.encryption {
            EncryptionMode::Off if !self.recipients.is_empty() => Err(ConfigError::Invalid {
                key: "evidence.encryption",
                reason: "recipients are listed but encryption is \"off\": set encryption = \"required\" or remove them".into(),
            }),
            EncryptionMode::Off => Ok(()),
            EncryptionMode::Required if self.recipients.is_empty() => Err(ConfigError::Invalid {
                key: "evidence.recipients",
                reason: "encryption = \"required\" needs at least one recipient file (bodycam pki footage-key)".into(),
            }),
            EncryptionMode::Required => {
                if self.recipients.len() > MAX_RECIPIENTS {
                    return Err(ConfigError::Invalid {
                        key: "evidence.recipients",
                        reason: format!("{} files: at most {MAX_RECIPIENTS}", self.recipients.len()),
                    });
                }
                for p in &self.recipients {
                    crate::confidential::keys::load_recipient(p).map_err(|e| {
                        ConfigError::Invalid {
                            key: "evidence.recipients",
                            reason: e.to_string(),
                        }
                    })?;
                }
                Ok(())
            }
        }
    }
}

impl DockConfig {
    /// `[dock]`: the listen address, and the TLS files all or none, each existing.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid {
                key: "dock.listen",
                reason: format!("`{}` is not an address:port", self.listen),
            });
        }
        let tls = [
            ("dock.ca", &self.ca),
            ("dock.cert", &self.cert),
            ("dock.key", &self.key),
        ];
        let given = tls.iter().filter(|(_, v)| v.is_some()).count();
        if given != 0 && given != tls.len() {
            let (key, _) = tls.iter().find(|(_, v)| v.is_none()).unwrap_or(&tls[0]);
            return Err(ConfigError::Invalid {
                key,
                reason: "dock.ca, dock.cert and dock.key go together".into(),
            });
        }
        for (key, value) in tls {
            if let Some(path) = value
                && !path.exists()
            {
                return Err(ConfigError::Invalid {
                    key,
                    reason: format!("{} does not exist", path.display()),
                });
            }
        }
        Ok(())
    }
}

impl ControlsConfig {
    /// `[controls]`: gesture timings, and distinct GPIO pins for the GPIO backend.
    fn validate(&self) -> Result<(), ConfigError> {
        let k = self;
        range("controls.debounce_ms", k.debounce_ms, 1, 200)?;
        range(
            "controls.multi_press_gap_ms",
            k.multi_press_gap_ms,
            100,
            2000,
        )?;
        range("controls.max_tap_ms", k.max_tap_ms, 100, 2000)?;
        range("controls.hold_ms", k.hold_ms, 1000, 10_000)?;
        range("controls.reminder_minutes", k.reminder_minutes, 1, 60)?;
        range(
            "controls.mute_reminder_minutes",
            k.mute_reminder_minutes,
            1,
            60,
        )?;
        range(
            "controls.sleep_reminder_minutes",
            k.sleep_reminder_minutes,
            1,
            120,
        )?;
        if k.hold_ms <= k.max_tap_ms {
            return Err(ConfigError::Invalid {
                key: "controls.hold_ms",
                reason: "must be longer than controls.max_tap_ms".into(),
            });
        }
        if k.backend == ControlsBackendKind::Gpio {
            k.validate_pins()?;
        }
        Ok(())
    }

    /// Every pin a BCM number 0–27, no pin used twice.
    fn validate_pins(&self) -> Result<(), ConfigError> {
        let pins: Vec<Pin> = self
            .pins()
            .into_iter()
            .map(|(key, pin)| (key, key.to_string(), pin))
            .collect();
        distinct_pins(&pins)
    }

    /// The controls' pins, by key.
    fn pins(&self) -> Vec<(&'static str, u8)> {
        let mut pins = vec![
            ("controls.button_pin", self.button_pin),
            ("controls.red_pin", self.red_pin),
            ("controls.green_pin", self.green_pin),
            ("controls.amber_pin", self.amber_pin),
        ];
        if let Some(h) = self.haptic_pin {
            pins.push(("controls.haptic_pin", h));
        }
        if let Some(d) = self.dock_pin {
            pins.push(("controls.dock_pin", d));
        }
        pins
    }
}
