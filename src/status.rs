//! The daemon status snapshot served by `bodycam ctl status`, and its human rendering.

use serde::{Deserialize, Serialize};

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
    /// Pipeline restarts since the daemon started.
    pub pipeline_restarts: u32,
    /// Last fault, if any.
    pub last_fault: Option<String>,
    /// Segments closed by recovery at start-up.
    pub recovered_segments: usize,
    /// Data directory.
    pub storage_path: String,
    /// Seconds since the daemon started.
    pub uptime_seconds: f64,
    /// Firmware version.
    pub version: String,
    /// The officer a dock assigned the camera to: recordings started from now on are
    /// made for them (null: unassigned; the open recording keeps its own).
    #[serde(default)]
    pub officer: Option<String>,
    /// The officer the open recording is made for, when it differs from `officer`
    /// (re-assigned while recording: the change applies from the next recording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_officer: Option<String>,
}

impl Status {
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
        s.push_str(&format!("controls:     {}\n", self.controls));
        s.push_str(&format!(
            "pre-event:    {:.1} s buffered\n",
            self.pre_event_buffered_seconds
        ));
        if let Some(f) = &self.last_fault {
            s.push_str(&format!(
                "last fault:   {f} ({} restarts)\n",
                self.pipeline_restarts
            ));
        }
        s.push_str(&format!("data:         {}\n", self.storage_path));
        s
    }
}
