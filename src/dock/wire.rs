//! The dock API's messages: the one definition of every request body and answer, used
//! by the camera's server (`dock::api`) and the dock agent's client alike. Requests
//! refuse unknown fields; answers are read leniently (a newer camera may add fields).
//! Head statements are [`crate::evidence::head::HeadStatement`].

use serde::{Deserialize, Serialize};

/// `GET /v1/device`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Device id (32 hex digits).
    pub device_id: String,
    /// Ed25519 public key (64 hex digits).
    pub public_key: String,
    /// Firmware version.
    pub firmware: String,
    /// The camera's clock.
    pub clock: ClockInfo,
    /// The camera's storage.
    pub storage: StorageInfo,
    /// Recorder state (`docked`, …).
    pub state: String,
    /// The officer assigned for the next recording (null: unassigned; absent from
    /// cameras older than `POST /v1/assignment`).
    #[serde(default)]
    pub officer: Option<String>,
}

/// The camera's clock, in [`DeviceInfo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockInfo {
    /// UTC now (RFC 3339).
    pub utc: String,
    /// Whether the wall clock is synchronised.
    pub synchronised: bool,
}

/// The camera's storage, in [`DeviceInfo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageInfo {
    /// Bytes of footage on the store.
    pub used_bytes: u64,
    /// Bytes that may still be written.
    pub available_bytes: u64,
    /// Hours of footage that still fit (null when unbounded).
    pub hours_left: Option<f64>,
}

/// `POST /v1/head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadRequest {
    /// 1–64 bytes, hex.
    pub nonce: String,
}

/// `GET /v1/recordings`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Listing {
    /// Every recording, oldest first.
    pub recordings: Vec<ListedRecording>,
}

/// A recording in the [`Listing`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedRecording {
    /// Recording id.
    pub id: String,
    /// Its `recording.json`, if readable.
    #[serde(default)]
    pub descriptor: Option<serde_json::Value>,
    /// Its segments, by sequence number.
    pub segments: Vec<ListedSegment>,
}

/// A segment in the [`Listing`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedSegment {
    /// Sequence number.
    pub sequence: u32,
    /// Media size (absent once freed).
    pub bytes: Option<u64>,
    /// Journal size.
    pub journal_bytes: Option<u64>,
    /// Closed: its final or recovery record is written, so it may be downloaded.
    pub closed: bool,
    /// Whether a dock acknowledged it.
    pub offload: OffloadState,
    /// Its sidecar, if readable.
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
}

/// A segment's offload state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffloadState {
    /// No dock has acknowledged it.
    Pending,
    /// A dock acknowledged it with the right hash.
    Acknowledged,
}

/// `POST /v1/recordings/{id}/segments/{seq}/ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Where the dock stored the media (its blob name), 1–1024 bytes.
    pub blob: String,
    /// SHA-256 of the media as stored, 64 hex digits.
    pub sha256: String,
}

/// The answer to an accepted [`AckRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckReply {
    /// Always true (a refusal is an error answer).
    pub acknowledged: bool,
    /// Recording id.
    pub recording_id: String,
    /// Segment sequence number.
    pub segment: u32,
    /// The signed hash the acknowledgement matched.
    pub sha256: String,
    /// Whether the media was freed at once (`storage.delete_after_ack`).
    pub freed: bool,
}

/// `POST /v1/time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRequest {
    /// The dock's UTC, milliseconds since the Unix epoch.
    pub utc_ms: i64,
}

/// The answer to a [`TimeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeReply {
    /// The dock's time minus the camera's.
    pub offset_ms: i64,
    /// Whether the camera's clock was set to it.
    pub applied: bool,
    /// Why not, when it was not.
    pub error: Option<String>,
}

/// `POST /v1/assignment`: assign the camera to an officer from its next recording on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRequest {
    /// The officer id ([`crate::evidence::officer::OfficerId`]), or null to clear the
    /// assignment.
    pub officer: Option<String>,
    /// The dock's name, recorded in the audit entry (1–64 printable ASCII characters).
    #[serde(default)]
    pub dock: Option<String>,
}

/// The answer to an [`AssignmentRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentReply {
    /// The officer now assigned.
    pub officer: Option<String>,
    /// The officer assigned before.
    pub previous: Option<String>,
    /// When the camera recorded it (its clock).
    pub assigned_utc: String,
    /// The recording in progress, if any: it keeps its officer; the assignment applies
    /// from the next recording.
    pub recording_open: Option<String>,
}

/// Every error answer: `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}
