//! Range and cross-field validation of a parsed [`Config`], one function per section.
//! Sections are checked in file order (camera, audio, recording, storage, dock,
//! controls) and the first error wins.

use std::path::Path;

use super::{
    AudioConfig, AudioSource, CameraConfig, CameraSource, Config, ConfigError, ControlsBackendKind,
    ControlsConfig, DockConfig, EncryptionMode, EvidenceConfig, MAX_OVERLAY_SCALE,
    MAX_PRE_EVENT_SECONDS, MAX_RECIPIENTS, RecordingConfig, StorageConfig,
};

impl Config {
    /// Check ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.camera.validate()?;
        self.audio.validate()?;
        self.recording.validate()?;
        self.storage.validate()?;
        self.evidence.validate()?;
        self.dock.validate()?;
        self.controls.validate()
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
        for (i, (key, pin)) in pins.iter().enumerate() {
            range(key, *pin, 0, 27)?;
            if pins[..i].iter().any(|(_, p)| p == pin) {
                return Err(ConfigError::Invalid {
                    key,
                    reason: format!("BCM pin {pin} is already used by another control"),
                });
            }
        }
        Ok(())
    }
}
