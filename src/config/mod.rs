//! Daemon configuration: TOML schema with defaults, unknown keys rejected, and validation
//! errors that name the offending key.
//!
//! This file holds the schema (one struct per section, with its defaults) and loading;
//! `validate.rs` checks ranges and cross-field rules, one function per section.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod validate;

/// Default frame width of the developer configuration.
pub const DEFAULT_WIDTH: u32 = 1280;
/// Default frame height of the developer configuration.
pub const DEFAULT_HEIGHT: u32 = 720;
/// Default frame rate.
pub const DEFAULT_FRAMERATE: u32 = 30;
/// Default video bitrate in kbit/s.
pub const DEFAULT_BITRATE_KBPS: u32 = 3000;
/// Default audio bitrate in kbit/s.
pub const DEFAULT_AUDIO_BITRATE_KBPS: u32 = 64;
/// Default segment length.
pub const DEFAULT_SEGMENT_SECONDS: u32 = 60;
/// Default pre-event buffer length.
pub const DEFAULT_PRE_EVENT_SECONDS: u32 = 30;
/// Longest pre-event buffer allowed.
pub const MAX_PRE_EVENT_SECONDS: u32 = 120;
/// Hours of footage below which the daemon warns.
pub const DEFAULT_RESERVE_HOURS: f64 = 12.0;
/// Default data directory for a developer run.
pub const DEFAULT_STORAGE_PATH: &str = "./bodycam-data";
/// Largest overlay scale (pixels per font pixel).
pub const MAX_OVERLAY_SCALE: u32 = 16;

/// A configuration error; the message always names the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// Path that failed.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The TOML did not parse or did not match the schema (unknown key, wrong type).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// Path that failed.
        path: PathBuf,
        /// Parser message, which names the key and line.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config value `{key}`: {reason}")]
    Invalid {
        /// Dotted key name, e.g. `recording.pre_event_seconds`.
        key: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

/// Where video comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraSource {
    /// Moving test picture with burned-in UTC clock and frame counter.
    Simulated,
    /// Raspberry Pi camera module through libcamerasrc.
    Libcamera,
    /// A V4L2 webcam (USB) at `camera.device`.
    V4l2,
    /// Test only (soak runs): replays the pre-encoded access units in the directory
    /// `camera.device` (`video.h264`, and `audio.aac` when audio is on: it replaces the
    /// audio source too) at full speed; see [`crate::replay`].
    Replay,
}

/// Picture of the simulated camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestPattern {
    /// A moving ball: easy to watch, compresses well.
    Ball,
    /// Random noise: the encoder spends the whole bitrate (for quota tests and benchmarks).
    Snow,
}

impl TestPattern {
    /// `videotestsrc pattern=` value.
    pub fn gst_name(&self) -> &'static str {
        match self {
            TestPattern::Ball => "ball",
            TestPattern::Snow => "snow",
        }
    }
}

/// Where the burned-in date/time/camera box sits in the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverlayPosition {
    /// Top left corner.
    TopLeft,
    /// Top right corner.
    TopRight,
    /// Bottom left corner.
    BottomLeft,
    /// Bottom right corner.
    BottomRight,
}

/// Which H.264 encoder to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderChoice {
    /// `v4l2h264enc` where the element exists, otherwise `x264enc`.
    Auto,
    /// Software `x264enc`.
    X264,
    /// Hardware `v4l2h264enc` (Raspberry Pi up to 4).
    V4l2,
}

/// Where audio comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioSource {
    /// A test tone.
    Simulated,
    /// An ALSA capture device at `audio.device`.
    Alsa,
}

/// Which button/LED backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlsBackendKind {
    /// Button driven by `bodycam ctl button …`, LEDs kept in memory.
    Simulated,
    /// Raspberry Pi GPIO through rppal.
    Gpio,
}

/// `[camera]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraConfig {
    /// Video source.
    pub source: CameraSource,
    /// Device: `/dev/videoN` for v4l2, camera name for libcamera (empty = first).
    pub device: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second.
    pub framerate: u32,
    /// Video bitrate in kbit/s.
    pub bitrate_kbps: u32,
    /// Encoder choice.
    pub encoder: EncoderChoice,
    /// Simulated camera only: the picture.
    pub pattern: TestPattern,
    /// Test only: the simulated sensor fails once after this many seconds of video.
    pub simulate_failure_after_seconds: Option<u32>,
    /// Test only: the simulated sensor stops delivering frames once after this many seconds.
    pub simulate_stall_after_seconds: Option<u32>,
    /// Burn the UTC date and time, the camera id, the officer id and the clock state
    /// into every frame (all sources).
    pub overlay: bool,
    /// Corner of the overlay box.
    pub overlay_position: OverlayPosition,
    /// Pixels per font pixel of the overlay's 5×7 font; 0 = from the frame height
    /// (height / 360, at least 1: 2 at 720p, 3 at 1080p).
    pub overlay_scale: u32,
    /// Also show local time with its UTC offset (a second line).
    pub overlay_local_time: bool,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            source: CameraSource::Simulated,
            device: String::new(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            framerate: DEFAULT_FRAMERATE,
            bitrate_kbps: DEFAULT_BITRATE_KBPS,
            encoder: EncoderChoice::Auto,
            pattern: TestPattern::Ball,
            simulate_failure_after_seconds: None,
            simulate_stall_after_seconds: None,
            overlay: true,
            overlay_position: OverlayPosition::TopLeft,
            overlay_scale: 0,
            overlay_local_time: false,
        }
    }
}

/// `[audio]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    /// Record audio at all.
    pub enabled: bool,
    /// Audio source.
    pub source: AudioSource,
    /// ALSA device name for `alsa`.
    pub device: String,
    /// AAC bitrate in kbit/s.
    pub bitrate_kbps: u32,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            enabled: true,
            source: AudioSource::Simulated,
            device: "default".into(),
            bitrate_kbps: DEFAULT_AUDIO_BITRATE_KBPS,
        }
    }
}

/// `[recording]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Target segment length; segments are cut at the first keyframe at or after it.
    pub segment_seconds: u32,
    /// Seconds of footage kept in RAM while ready (0–120).
    pub pre_event_seconds: u32,
    /// Whether the pre-event buffer keeps audio too.
    pub pre_event_audio: bool,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            segment_seconds: DEFAULT_SEGMENT_SECONDS,
            pre_event_seconds: DEFAULT_PRE_EVENT_SECONDS,
            pre_event_audio: false,
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Data directory on flash.
    pub path: PathBuf,
    /// Warn when fewer hours of footage fit.
    pub reserve_hours: f64,
    /// Optional quota in bytes for everything under `path`.
    pub max_bytes: Option<u64>,
    /// Free a segment's media as soon as a dock acknowledges it (otherwise only when
    /// capacity falls below `reserve_hours`).
    pub delete_after_ack: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: PathBuf::from(DEFAULT_STORAGE_PATH),
            reserve_hours: DEFAULT_RESERVE_HOURS,
            max_bytes: None,
            delete_after_ack: false,
        }
    }
}

/// `[controls]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlsConfig {
    /// Backend.
    pub backend: ControlsBackendKind,
    /// BCM pin of the record button (active-low, internal pull-up).
    pub button_pin: u8,
    /// BCM pin of the red LED.
    pub red_pin: u8,
    /// BCM pin of the green LED.
    pub green_pin: u8,
    /// BCM pin of the amber LED.
    pub amber_pin: u8,
    /// BCM pin of the haptic motor driver, if fitted.
    pub haptic_pin: Option<u8>,
    /// BCM pin sensing the dock (high = docked: USB VBUS through a divider or a dock
    /// contact to 3V3; internal pull-down). Without it, only `ctl dock` docks.
    pub dock_pin: Option<u8>,
    /// Contact debounce time.
    pub debounce_ms: u32,
    /// Longest gap between taps of a double or triple press.
    pub multi_press_gap_ms: u32,
    /// Press-and-hold time that stops a recording.
    pub hold_ms: u32,
    /// Longest press that still counts as a tap.
    pub max_tap_ms: u32,
}

impl Default for ControlsConfig {
    fn default() -> Self {
        ControlsConfig {
            backend: ControlsBackendKind::Simulated,
            button_pin: 17,
            red_pin: 22,
            green_pin: 27,
            amber_pin: 23,
            haptic_pin: None,
            dock_pin: None,
            debounce_ms: 30,
            multi_press_gap_ms: 350,
            hold_ms: 3000,
            max_tap_ms: 800,
        }
    }
}

/// `[ctl]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CtlConfig {
    /// Control socket path; default `<storage.path>/ctl.sock`.
    pub socket: Option<PathBuf>,
}

/// `[dock]`: the dock API, served over mutual TLS only while docked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockConfig {
    /// Address to listen on while docked (the USB gadget link on the Pi).
    pub listen: String,
    /// Agency dock CA (PEM): the dock's client certificate must chain to it.
    pub ca: Option<PathBuf>,
    /// The camera's server certificate (PEM).
    pub cert: Option<PathBuf>,
    /// The camera's server key (PEM, 0600).
    pub key: Option<PathBuf>,
    /// Let `POST /v1/time` set the system clock (needs CAP_SYS_TIME, which the shipped
    /// unit does not grant). Off: the dock's time is only recorded as a signed offset
    /// and the clock is disciplined by systemd-timesyncd from the dock's NTP server.
    pub set_clock: bool,
}

impl Default for DockConfig {
    fn default() -> Self {
        DockConfig {
            listen: "127.0.0.1:8443".into(),
            ca: None,
            cert: None,
            key: None,
            set_clock: false,
        }
    }
}

/// `[evidence]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Directory of the device key (0700, key file 0600); default `<storage.path>/keys`.
    pub key_dir: Option<PathBuf>,
    /// Footage encryption: `off` (the developer default: plain MPEG-TS) or `required`
    /// (every segment encrypted to `recipients`; the shipped configs require it).
    pub encryption: EncryptionMode,
    /// The agency's public recipient files (`bodycam pki footage-key`), one or more
    /// (e.g. agency and escrow). Read again at every segment: a change takes effect at
    /// the next one.
    pub recipients: Vec<PathBuf>,
}

/// `[evidence] encryption`.
pub use crate::confidential::sealing::Mode as EncryptionMode;

/// Most recipients a segment is wrapped to.
pub const MAX_RECIPIENTS: usize = 16;

/// The whole daemon configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[camera]`
    pub camera: CameraConfig,
    /// `[audio]`
    pub audio: AudioConfig,
    /// `[recording]`
    pub recording: RecordingConfig,
    /// `[storage]`
    pub storage: StorageConfig,
    /// `[controls]`
    pub controls: ControlsConfig,
    /// `[ctl]`
    pub ctl: CtlConfig,
    /// `[evidence]`
    pub evidence: EvidenceConfig,
    /// `[dock]`
    pub dock: DockConfig,
}

impl Config {
    /// Load and validate a config file, or the developer defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let config = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                Config::parse(&text).map_err(|e| match e {
                    ConfigError::Parse { message, .. } => ConfigError::Parse {
                        path: p.to_path_buf(),
                        message,
                    },
                    other => other,
                })?
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// Parse TOML text (without validation of ranges).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// The key directory in effect.
    pub fn key_dir(&self) -> PathBuf {
        self.evidence
            .key_dir
            .clone()
            .unwrap_or_else(|| self.storage.path.join(crate::layout::KEY_DIR))
    }

    /// SHA-256 (hex) of the effective configuration, as recorded in the audit log.
    pub fn digest(&self) -> String {
        let text = toml::to_string(self).unwrap_or_default();
        hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
    }

    /// The control socket path in effect.
    pub fn socket_path(&self) -> PathBuf {
        self.ctl
            .socket
            .clone()
            .unwrap_or_else(|| self.storage.path.join(crate::layout::CTL_SOCKET))
    }

    /// Bytes per second that footage takes on flash at the configured bitrates,
    /// including the MPEG-TS overhead: 4 % for video (about 3.5 % measured), and twice
    /// the audio bitrate, because every small AAC frame gets its own PES packet and
    /// padded TS packets.
    pub fn footage_bytes_per_second(&self) -> f64 {
        let video = f64::from(self.camera.bitrate_kbps) * 1000.0 / 8.0 * 1.04;
        let audio = if self.audio.enabled {
            f64::from(self.audio.bitrate_kbps) * 1000.0 / 8.0 * 2.0
        } else {
            0.0
        };
        video + audio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_key(text: &str) -> String {
        let c = Config::parse(text).expect("parses");
        match c.validate() {
            Err(ConfigError::Invalid { key, .. }) => key.to_string(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn empty_file_gives_developer_defaults() {
        let c = Config::parse("").unwrap();
        c.validate().unwrap();
        assert_eq!(c.camera.source, CameraSource::Simulated);
        assert_eq!(c.controls.backend, ControlsBackendKind::Simulated);
        assert_eq!(c.recording.segment_seconds, 60);
        assert_eq!(c.recording.pre_event_seconds, 30);
        assert!(!c.recording.pre_event_audio);
        assert_eq!(c.storage.path, PathBuf::from("./bodycam-data"));
        assert_eq!(c.socket_path(), PathBuf::from("./bodycam-data/ctl.sock"));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::parse("[camera]\nwidht = 640\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("widht"), "{e}");
        let e = Config::parse("[camra]\n").unwrap_err().to_string();
        assert!(e.contains("camra"), "{e}");
    }

    #[test]
    fn wrong_enum_value_is_named() {
        let e = Config::parse("[camera]\nsource = \"webcam\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("webcam") || e.contains("source"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        assert_eq!(
            invalid_key("[recording]\npre_event_seconds = 121\n"),
            "recording.pre_event_seconds"
        );
        assert_eq!(
            invalid_key("[recording]\nsegment_seconds = 0\n"),
            "recording.segment_seconds"
        );
        assert_eq!(invalid_key("[camera]\nwidth = 641\n"), "camera.width");
        assert_eq!(invalid_key("[camera]\nframerate = 0\n"), "camera.framerate");
        assert_eq!(
            invalid_key("[controls]\nhold_ms = 500\nmax_tap_ms = 800\n"),
            "controls.hold_ms"
        );
        assert_eq!(
            invalid_key("[controls]\nbackend = \"gpio\"\nred_pin = 17\n"),
            "controls.red_pin"
        );
        assert_eq!(
            invalid_key("[storage]\nmax_bytes = 5\n"),
            "storage.max_bytes"
        );
    }

    #[test]
    fn missing_v4l2_device_is_named() {
        assert_eq!(
            invalid_key("[camera]\nsource = \"v4l2\"\n"),
            "camera.device"
        );
        assert_eq!(
            invalid_key("[camera]\nsource = \"v4l2\"\ndevice = \"/dev/video-none-here\"\n"),
            "camera.device"
        );
    }

    #[test]
    fn full_contract_keys_parse() {
        let text = r#"
[camera]
source = "simulated"
device = ""
width = 320
height = 240
framerate = 15
bitrate_kbps = 500
encoder = "x264"
[audio]
enabled = false
[recording]
segment_seconds = 2
pre_event_seconds = 0
pre_event_audio = true
[storage]
path = "/tmp/x"
reserve_hours = 1.5
max_bytes = 10000000
[controls]
backend = "simulated"
button_pin = 5
"#;
        let c = Config::parse(text).unwrap();
        c.validate().unwrap();
        assert_eq!(c.camera.encoder, EncoderChoice::X264);
        assert_eq!(c.storage.max_bytes, Some(10_000_000));
        assert!(c.recording.pre_event_audio);
    }
}
