//! `report.json`: what was exported, from what, verified how, and where in time
//! (the HTML report is rendered from the same structure).

use serde::Serialize;

use super::remux::Probe;
use crate::evidence::verify::{OfficerValue, TrackPoint};

/// Format tag of `report.json`.
pub const EXPORT_FORMAT: &str = "bodycam-export/1";

/// The whole export.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// Always [`EXPORT_FORMAT`].
    pub format: &'static str,
    /// When the export ran (UTC).
    pub exported_utc: String,
    /// The store or recording exported.
    pub input: String,
    /// The device whose signatures were checked.
    pub device: DeviceInfo,
    /// The agency key used to decrypt.
    pub footage_key: FootageKeyInfo,
    /// `bodycam verify`'s verdict over the input.
    pub verification: Verification,
    /// Whether any footage was encrypted; when none was, the report says so.
    pub encryption: String,
    /// Whether segments that did not verify were exported (marked UNVERIFIED).
    pub include_unverified: bool,
    /// Per recording.
    pub recordings: Vec<RecordingReport>,
    /// True when everything verified and every segment was exported whole.
    pub complete: bool,
    /// Why not, one line each.
    pub incomplete: Vec<String>,
}

/// The device identity.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    /// Device id (hex).
    pub device_id: String,
    /// Ed25519 public key (hex).
    pub public_key: String,
    /// SHA-256 of the public key (hex): the identity fingerprint to compare with enrolment.
    pub fingerprint: String,
    /// Where the key came from (`key`, `identity_file`, `store`).
    pub key_source: String,
    /// False when the key was read from the evidence itself.
    pub independently_supplied: bool,
}

/// The agency key.
#[derive(Debug, Clone, Serialize)]
pub struct FootageKeyInfo {
    /// Its key id (hex).
    pub key_id: String,
    /// The file.
    pub path: String,
}

/// The verifier's result.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Whether everything verified.
    pub ok: bool,
    /// One line.
    pub verdict: String,
    /// Every failure.
    pub failures: Vec<String>,
}

/// One recording.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingReport {
    /// Recording id.
    pub recording_id: String,
    /// Who wore the camera: the officer id its signed sidecars name (null when
    /// unassigned, unknown, or when they disagree; then `officers` lists each).
    pub officer: Option<String>,
    /// True when it was recorded without an assigned officer.
    pub unassigned: bool,
    /// `sidecars` (signed), `recording.json` (not signed) or `none`.
    pub officer_source: String,
    /// True when its signed sidecars name more than one officer.
    pub officer_conflict: bool,
    /// Each distinct value of `officer` (null: unassigned) and its segments.
    pub officers: Vec<OfficerValue>,
    /// One line for people (`PC-4711`, `unassigned`, `CONFLICT: …`), as `bodycam verify`.
    pub officer_text: String,
    /// UTC of the first frame (first segment's sidecar).
    pub utc_start: Option<String>,
    /// UTC of the end of the last frame.
    pub utc_end: Option<String>,
    /// Seconds from `utc_start` to `utc_end`.
    pub span_seconds: f64,
    /// Seconds of footage in the exported segments (sidecars).
    pub exported_seconds: f64,
    /// Pre-event footage at the start (seconds, and whether with audio).
    pub pre_event_seconds: f64,
    /// Whether the pre-event footage has audio.
    pub pre_event_audio: bool,
    /// The MP4 of the exported segments.
    pub mp4: Option<MediaFile>,
    /// Per segment.
    pub segments: Vec<SegmentOut>,
    /// Holes in the recording.
    pub gaps: Vec<Gap>,
    /// Markers.
    pub markers: Vec<TimelineItem>,
    /// Audit events about this recording or during it.
    pub events: Vec<TimelineItem>,
    /// Thumbnails of the MP4.
    pub thumbnails: Vec<Thumbnail>,
    /// The location track as GPX 1.1 (path relative to the export directory), when
    /// any exported segment has a fix; encrypted segments' tracks decrypted.
    pub gpx: Option<String>,
}

/// An output file.
#[derive(Debug, Clone, Serialize)]
pub struct MediaFile {
    /// Path relative to the export directory.
    pub file: String,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 (hex).
    pub sha256: String,
    /// What ffprobe says it holds.
    pub probe: Option<Probe>,
    /// Segments in it that did not verify (the file name says so too).
    pub unverified_segments: Vec<u32>,
}

/// One segment.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentOut {
    /// Sequence number.
    pub segment: u32,
    /// The verifier's status (`OK`, `RECOVERED_TAIL`, `TAMPERED`, …).
    pub status: String,
    /// Whether that status passes.
    pub verified: bool,
    /// Whether it was encrypted on the camera.
    pub encrypted: bool,
    /// Key ids it was encrypted to.
    pub key_ids: Vec<String>,
    /// SHA-256 (hex) of the bytes on flash, as signed by the camera (ciphertext when
    /// encrypted).
    pub signed_sha256: Option<String>,
    /// The exported plaintext MPEG-TS, if it was exported.
    pub exported: Option<MediaFile>,
    /// Why it was not exported, or what of it could not be.
    pub notes: Vec<String>,
    /// The verifier's findings.
    pub findings: Vec<String>,
    /// Seconds from the recording's start to this segment's first frame.
    pub offset_seconds: Option<f64>,
    /// Seconds of video (sidecar).
    pub duration_seconds: Option<f64>,
    /// UTC of its first frame (sidecar).
    pub utc_start: Option<String>,
    /// UTC of the end of its last frame (sidecar).
    pub utc_end: Option<String>,
    /// Whether its UTC times were estimated by recovery.
    pub utc_estimated: bool,
    /// Video frames (sidecar).
    pub video_frames: Option<u64>,
    /// Audio frames (sidecar).
    pub audio_frames: Option<u64>,
    /// Why it ended (sidecar).
    pub end_reason: Option<String>,
    /// Its location track (decrypted when the segment was encrypted), when it may be
    /// exported.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track: Vec<TrackPoint>,
}

/// A hole in a recording.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    /// Seconds from the recording's start where it begins.
    pub offset_seconds: f64,
    /// Its length (0 when unknown: a segment missing altogether).
    pub seconds: f64,
    /// What it is.
    pub what: String,
}

/// A marker or an audit event on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineItem {
    /// UTC.
    pub utc: String,
    /// Seconds from the recording's start (negative: before it).
    pub offset_seconds: f64,
    /// Marker trigger or audit event name.
    pub what: String,
    /// Audit detail (JSON) or the marker's segment.
    pub detail: String,
}

/// One thumbnail.
#[derive(Debug, Clone, Serialize)]
pub struct Thumbnail {
    /// Seconds into the MP4 (from the recording's first frame).
    pub offset_seconds: f64,
    /// Path relative to the export directory.
    pub file: String,
}
