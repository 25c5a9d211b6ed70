//! The per-segment metadata sidecar (`NNNNNN.json`), written atomically when a segment
//! closes (or when recovery closes a segment left open by a power cut).

use serde::{Deserialize, Serialize};

/// Format tag of the sidecar.
pub const SIDECAR_FORMAT: &str = "bodycam-segment-meta/1";

/// Why a segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Reached `segment_seconds`; the recording continues in the next segment.
    Rollover,
    /// The officer (or `ctl`) stopped the recording.
    Stopped,
    /// The store ran out of space.
    StorageFull,
    /// The pipeline or sensor failed; the recording resumes in the next segment.
    Fault,
    /// The daemon was shut down (SIGTERM).
    Shutdown,
    /// Closed by recovery after the daemon died with the segment open.
    Recovered,
}

/// A marker the officer added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// UTC of the press.
    pub utc: String,
    /// Seconds from the start of the segment.
    pub offset_seconds: f64,
    /// What added it (`gesture:single`, `ctl`).
    pub trigger: String,
}

/// A span of the segment during which the microphone was muted: its audio frames are
/// encoded silence, not what the microphone heard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteSpan {
    /// Seconds from the start of the segment where the silence begins.
    pub start_offset_seconds: f64,
    /// Seconds from the start of the segment where the microphone is back (the
    /// segment's end when the mute went on past it).
    pub end_offset_seconds: f64,
    /// UTC of the start.
    pub utc_start: String,
    /// UTC of the end.
    pub utc_end: String,
}

/// What was used to capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureInfo {
    /// `simulated` | `libcamera` | `v4l2`.
    pub source: String,
    /// GStreamer encoder element actually used.
    pub encoder: String,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub framerate: u32,
    /// Audio recorded in this segment's stream set.
    pub audio: bool,
}

/// The sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentMeta {
    /// Always [`SIDECAR_FORMAT`].
    pub format: String,
    /// Recording this segment belongs to.
    pub recording_id: String,
    /// 1-based position in the recording.
    pub sequence: u32,
    /// UTC of the first frame.
    pub utc_start: String,
    /// UTC of the end of the last frame.
    pub utc_end: String,
    /// The wall clock was synchronised when the segment was written.
    pub clock_synchronised: bool,
    /// UTC times were reconstructed by recovery (from the file time), not observed.
    pub utc_estimated: bool,
    /// Seconds of video (first PTS to end of the last frame).
    pub duration_seconds: f64,
    /// Video access units.
    pub video_frames: u64,
    /// AAC frames.
    pub audio_frames: u64,
    /// Keyframes (one per second).
    pub keyframes: u64,
    /// Size of the `.ts` file.
    pub bytes: u64,
    /// First video PTS in the file, 90 kHz.
    pub first_pts_90k: Option<u64>,
    /// Last video PTS in the file, 90 kHz.
    pub last_pts_90k: Option<u64>,
    /// Markers inside this segment.
    pub markers: Vec<Marker>,
    /// Seconds of pre-event footage at the start of this segment (first segment only).
    pub pre_event_seconds: f64,
    /// Whether the pre-event part holds audio.
    pub pre_event_audio: bool,
    /// Why the segment ended.
    pub end_reason: EndReason,
    /// Bytes after the last whole 188-byte packet (only after a power cut); kept, never cut.
    pub trailing_bytes: u64,
    /// Capture settings.
    pub capture: CaptureInfo,
    /// Where the microphone was muted (format v2); absent when nothing was muted, so
    /// such sidecars are as in v1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mute_spans: Vec<MuteSpan>,
    /// The officer the camera was assigned to when the recording started (null:
    /// unassigned). Absent when unassigned (and in v1 sidecars), read as null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// Spans of this segment's audio that are encoded silence standing in for sound
    /// that was not recorded (counted in `audio_frames`); absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_silence: Vec<AudioSilence>,
    /// Present when the media is encrypted (format v2; absent in plain segments, so
    /// their sidecars are as in v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<SidecarEncryption>,
}

/// How an encrypted segment's media is sealed (docs/EVIDENCE-FORMAT.md §9). Nothing in
/// it tells what the footage shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SidecarEncryption {
    /// `chacha20-poly1305`.
    pub aead: String,
    /// Key ids of the recipients the content key is wrapped to (hex).
    pub key_ids: Vec<String>,
    /// Whole chunks in the media file.
    pub chunks: u32,
}

/// Why audio frames of a segment hold encoded silence instead of captured sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceReason {
    /// Pre-event footage with `recording.pre_event_audio = false`: the sound captured
    /// before the start was never kept; its frames' timestamps were.
    PreEventAudioDisabled,
}

/// A span of audio frames that are the encoder's silent frame, put in place of sound
/// that was not recorded (docs/EVIDENCE-FORMAT.md, "Inserted silence").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSilence {
    /// Silent frames in the span (each one ADTS frame, one PES).
    pub frames: u64,
    /// PTS of the first silent frame, 90 kHz, on the segment's timeline.
    pub first_pts_90k: u64,
    /// End of the span (the last silent frame's PTS plus its duration): where captured
    /// sound resumes.
    pub end_pts_90k: u64,
    /// Length of the span in seconds.
    pub seconds: f64,
    /// Why.
    pub reason: SilenceReason,
    /// The silent frame's exact bytes (hex): every audio frame of the span is this.
    pub frame_hex: String,
}
