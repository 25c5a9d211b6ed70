//! The daemon status snapshot served by `bodycam ctl status`, and its human rendering.

use serde::{Deserialize, Serialize};

use crate::location::LocationStatus;
use crate::peer::PeerStatus;

/// Per-LED pattern names (`off`, `on`, `blink_slow`, `blink_fast`, `flash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LedStatus {
    /// Red LED.
    pub red: String,
    /// Green LED.
    pub green: String,
    /// Amber LED.
    pub amber: String,
}

/// Camera in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CameraStatus {
    /// `simulated` | `libcamera` | `v4l2`.
    pub source: String,
    /// GStreamer encoder element actually in use.
    pub encoder: String,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub framerate: u32,
    /// AAC encoder element, or none when audio is off.
    pub audio_encoder: Option<String>,
    /// The burned-in overlay, when `camera.overlay` is on.
    #[serde(default)]
    pub overlay: Option<OverlayStatus>,
}

/// What the burned-in overlay shows and has done since the daemon started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OverlayStatus {
    /// The camera id it shows.
    pub camera_id: String,
    /// The officer id it shows, once one is assigned.
    pub officer: Option<String>,
    /// Frames it was drawn into.
    pub frames: u64,
    /// Times its box was composed (about once a second).
    pub composed: u64,
    /// Frames that had to be copied before drawing (shared buffers).
    pub copied: u64,
    /// Frames left without it (unsupported format, unmappable buffer).
    pub skipped: u64,
}

/// Footage encryption in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EncryptionStatus {
    /// `off` or `required`.
    pub mode: String,
    /// Key ids of the recipients new segments are encrypted to.
    pub key_ids: Vec<String>,
}

/// The status snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Status {
    /// Lower-case state name: booting, ready, recording, stopping, storage-full, fault.
    pub state: String,
    /// Open recording, if any.
    pub recording_id: Option<String>,
    /// Seconds of footage in the open recording (including pre-event footage).
    pub seconds_recorded: f64,
    /// Segments closed since the daemon started.
    pub segments_written: u64,
    /// Hours of footage that still fit.
    pub hours_left: f64,
    /// Below `storage.reserve_hours`.
    pub storage_low: bool,
    /// Bytes of footage on flash.
    pub used_bytes: u64,
    /// Bytes that may still be written.
    pub available_bytes: u64,
    /// Stealth mode.
    pub stealth: bool,
    /// Each LED's current pattern.
    pub leds: LedStatus,
    /// Camera and encoder in use.
    pub camera: CameraStatus,
    /// `simulated` | `gpio`.
    pub controls: String,
    /// Seconds of footage held in the pre-event buffer.
    pub pre_event_buffered_seconds: f64,
    /// Bytes of encoded footage held in the pre-event buffer (RAM).
    #[serde(default)]
    pub pre_event_buffered_bytes: u64,
    /// Pipeline restarts since the daemon started.
    pub pipeline_restarts: u32,
    /// Last fault, if any.
    pub last_fault: Option<String>,
    /// What is wrong with the store while in `storage-fault` (it takes no writes).
    #[serde(default)]
    pub storage_fault: Option<String>,
    /// Segments closed by recovery at start-up.
    pub recovered_segments: usize,
    /// Data directory.
    pub storage_path: String,
    /// Seconds since the daemon started.
    pub uptime_seconds: f64,
    /// Firmware version.
    pub version: String,
    /// Audio muted (only while recording).
    #[serde(default)]
    pub muted: bool,
    /// The battery, when a gauge is configured.
    #[serde(default)]
    pub battery: Option<BatteryStatus>,
    /// Minutes of recording left: the lower of the battery's and the storage's.
    #[serde(default)]
    pub minutes_left: Option<f64>,
    /// Configured trigger inputs (`[[trigger]]` names).
    #[serde(default)]
    pub triggers: Vec<String>,
    /// Peer-assisted recording, when `[peers]` is enabled.
    #[serde(default)]
    pub peers: Option<PeerStatus>,
    /// The location source, when `[location]` has one.
    #[serde(default)]
    pub location: Option<LocationStatus>,
    /// The officer a dock assigned the camera to: recordings started from now on are
    /// made for them (null: unassigned; the open recording keeps its own).
    #[serde(default)]
    pub officer: Option<String>,
    /// The officer the open recording is made for, when it differs from `officer`
    /// (re-assigned while recording: the change applies from the next recording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_officer: Option<String>,
    /// Footage encryption in force.
    #[serde(default)]
    pub encryption: EncryptionStatus,
}

/// The battery as `ctl status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BatteryStatus {
    /// The gauge (`sysfs:BAT0`, `simulated`).
    pub gauge: String,
    /// State of charge; none when the gauge is missing or unreadable.
    pub percent: Option<u8>,
    /// `discharging`, `charging`, `full`, `not_charging`, `unknown`.
    pub supply: String,
    /// `unknown`, `external`, `normal`, `low`, `critical`.
    pub level: String,
    /// Minutes of recording the battery holds.
    pub minutes: Option<f64>,
}

impl Status {
    /// The lines about mute, battery, time left, triggers, peers and location.
    fn render_officer(&self) -> String {
        let mut s = String::new();
        if self.muted {
            s.push_str("audio:        MUTED (encoded silence is stored)\n");
        }
        if let Some(b) = &self.battery {
            let pct = b.percent.map_or("?".to_string(), |p| format!("{p} %"));
            let min = b.minutes.map_or(String::new(), |m| format!(", {m:.0} min"));
            s.push_str(&format!(
                "battery:      {pct}{min}, {} ({}, {})\n",
                b.level, b.supply, b.gauge
            ));
        }
        if let Some(m) = self.minutes_left {
            s.push_str(&format!("time left:    {m:.0} min of recording\n"));
        }
        if !self.triggers.is_empty() {
            s.push_str(&format!("triggers:     {}\n", self.triggers.join(", ")));
        }
        if let Some(p) = &self.peers {
            let rejected: u64 = p.rejected.values().sum();
            s.push_str(&format!(
                "peers:        link {} ({}), {} enrolled, {} sent, {} accepted, {rejected} rejected\n",
                if p.link { "up" } else { "down" },
                p.transport,
                p.enrolled,
                p.sent,
                p.accepted
            ));
        }
        if let Some(l) = &self.location {
            let at = match (l.lat, l.lon) {
                (Some(lat), Some(lon)) => format!(" at {lat:.6}, {lon:.6}"),
                (Some(_), None) | (None, Some(_)) | (None, None) => String::new(),
            };
            s.push_str(&format!(
                "location:     {} {}{at}{}\n",
                l.source,
                l.quality,
                if l.connected { "" } else { " (not connected)" }
            ));
        }
        s
    }

    /// The encryption line of [`Status::render`]: said plainly when footage is not
    /// encrypted.
    pub fn encryption_line(&self) -> String {
        match self.encryption.mode.as_str() {
            "required" => format!(
                "required: segments encrypted to {} recipient(s) ({}); this camera cannot decrypt them",
                self.encryption.key_ids.len(),
                self.encryption.key_ids.join(", ")
            ),
            "off" => {
                "OFF: footage is stored as plain MPEG-TS, playable by anyone who holds the storage"
                    .into()
            }
            other => format!("unknown ({other:?})"),
        }
    }

    /// Multi-line text for a terminal.
    pub fn render(&self) -> String {
        let rec = match &self.recording_id {
            Some(id) => format!("{id} ({:.1} s)", self.seconds_recorded),
            None => "-".into(),
        };
        let mut s = String::new();
        s.push_str(&format!("state:        {}\n", self.state));
        s.push_str(&format!("recording:    {rec}\n"));
        let officer = self.officer.as_deref().unwrap_or("unassigned");
        match &self.recording_officer {
            Some(r) => s.push_str(&format!(
                "officer:      {officer} from the next recording (this one: {r})\n"
            )),
            None => s.push_str(&format!("officer:      {officer}\n")),
        }
        s.push_str(&format!(
            "segments:     {} written\n",
            self.segments_written
        ));
        s.push_str(&format!(
            "capacity:     {:.1} h left{} ({} MB used)\n",
            self.hours_left,
            if self.storage_low { " — LOW" } else { "" },
            self.used_bytes / 1_000_000
        ));
        s.push_str(&format!(
            "leds:         red {}, green {}, amber {}{}\n",
            self.leds.red,
            self.leds.green,
            self.leds.amber,
            if self.stealth { " (stealth)" } else { "" }
        ));
        s.push_str(&format!(
            "camera:       {} {}x{}@{} via {}, audio {}\n",
            self.camera.source,
            self.camera.width,
            self.camera.height,
            self.camera.framerate,
            self.camera.encoder,
            self.camera.audio_encoder.as_deref().unwrap_or("off")
        ));
        if let Some(o) = &self.camera.overlay {
            s.push_str(&format!(
                "overlay:      CAM {}{}, {} frames drawn, {} skipped\n",
                o.camera_id,
                o.officer
                    .as_deref()
                    .map(|id| format!(" OFC {id}"))
                    .unwrap_or_default(),
                o.frames,
                o.skipped
            ));
        }
        s.push_str(&format!("controls:     {}\n", self.controls));
        s.push_str(&self.render_officer());
        s.push_str(&format!("encryption:   {}\n", self.encryption_line()));
        s.push_str(&format!(
            "pre-event:    {:.1} s buffered ({:.1} MB)\n",
            self.pre_event_buffered_seconds,
            self.pre_event_buffered_bytes as f64 / 1e6
        ));
        if let Some(f) = &self.last_fault {
            s.push_str(&format!(
                "last fault:   {f} ({} restarts)\n",
                self.pipeline_restarts
            ));
        }
        if let Some(f) = &self.storage_fault {
            s.push_str(&format!(
                "storage:      FAULT: {f} (no recording until it takes writes)\n"
            ));
        }
        s.push_str(&format!("data:         {}\n", self.storage_path));
        s
    }
}
