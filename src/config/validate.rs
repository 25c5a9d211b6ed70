//! Range and cross-field validation of a parsed [`Config`].

use std::path::Path;

use super::{
    AudioSource, CameraSource, Config, ConfigError, ControlsBackendKind, MAX_PRE_EVENT_SECONDS,
};

impl Config {
    /// Check ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
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
        let c = &self.camera;
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
        for (key, value) in [
            (
                "camera.simulate_failure_after_seconds",
                c.simulate_failure_after_seconds,
            ),
            (
                "camera.simulate_stall_after_seconds",
                c.simulate_stall_after_seconds,
            ),
        ] {
            if let Some(n) = value {
                if c.source != CameraSource::Simulated {
                    return Err(ConfigError::Invalid {
                        key,
                        reason: "only the simulated camera can simulate a fault".into(),
                    });
                }
                range(key, n, 1, 86_400)?;
            }
        }
        range("audio.bitrate_kbps", self.audio.bitrate_kbps, 16, 320)?;
        if self.audio.enabled
            && self.audio.source == AudioSource::Alsa
            && self.audio.device.is_empty()
        {
            return Err(ConfigError::Invalid {
                key: "audio.device",
                reason: "source `alsa` needs a device such as `default` or `hw:1,0`".into(),
            });
        }
        let r = &self.recording;
        range("recording.segment_seconds", r.segment_seconds, 1, 3600)?;
        range(
            "recording.pre_event_seconds",
            r.pre_event_seconds,
            0,
            MAX_PRE_EVENT_SECONDS,
        )?;
        let s = &self.storage;
        if s.path.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "storage.path",
                reason: "must not be empty".into(),
            });
        }
        if !(0.0..=1000.0).contains(&s.reserve_hours) {
            return Err(ConfigError::Invalid {
                key: "storage.reserve_hours",
                reason: format!("{} is outside the allowed range 0–1000", s.reserve_hours),
            });
        }
        if let Some(m) = s.max_bytes {
            range("storage.max_bytes", m, 512 * 1024, u64::MAX)?;
        }
        let d = &self.dock;
        if d.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid {
                key: "dock.listen",
                reason: format!("`{}` is not an address:port", d.listen),
            });
        }
        let tls = [
            ("dock.ca", &d.ca),
            ("dock.cert", &d.cert),
            ("dock.key", &d.key),
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
        let k = &self.controls;
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
            let mut pins = vec![
                ("controls.button_pin", k.button_pin),
                ("controls.red_pin", k.red_pin),
                ("controls.green_pin", k.green_pin),
                ("controls.amber_pin", k.amber_pin),
            ];
            if let Some(h) = k.haptic_pin {
                pins.push(("controls.haptic_pin", h));
            }
            if let Some(d) = k.dock_pin {
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
        }
        Ok(())
    }
}
