//! The dock API: a versioned HTTPS API (mutual TLS, the dock must present a client
//! certificate from the agency CA) through which a dock pulls every closed segment,
//! journal, sidecar and the audit log, asks for signed head statements, sets the clock,
//! and acknowledges each stored segment by its SHA-256.
//!
//! The server only reads files below [`DockBackend::store_root`] and never touches the
//! recorder's state: everything else goes through the small [`DockBackend`] trait, which
//! the daemon implements. Ids from the URL are validated ([`crate::layout`]) before any path is
//! built. Authenticated connections are bounded ([`DockLimits::max_connections`]) apart
//! from handshakes in progress ([`DockLimits::max_handshakes`]), so sockets that never
//! authenticate cannot starve a dock; TLS handshakes, request headers, request handling
//! and stalled sockets all time out.
//!
//! Endpoints (all JSON errors are `{"error": "..."}`):
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v1/device` | [`DockBackend::device_info`] |
//! | `POST /v1/head` `{"nonce": hex}` | [`DockBackend::head`] (1–64 bytes of nonce) |
//! | `GET /v1/recordings` | every recording with its segments ([`listing`]) |
//! | `GET /v1/recordings/{id}/segments/{seq}/media\|journal\|meta` | the file (Range, ETag, Last-Modified, If-Range); 409 while the segment is open |
//! | `GET /v1/audit` | `evidence/audit.log` (Range, ETag, If-Range) |
//! | `POST /v1/recordings/{id}/segments/{seq}/ack` `{"blob", "sha256"}` | [`DockBackend::acknowledge`] |
//! | `POST /v1/time` `{"utc_ms"}` | [`DockBackend::set_time`] |
//! | `POST /v1/assignment` `{"officer", "dock"}` | [`DockBackend::assign`] (next recording on) |

mod api;
mod files;
mod io;
pub mod listing;
mod server;
pub mod tls;
pub mod wire;

use std::path::PathBuf;
use std::time::Duration;

use axum::http::StatusCode;
use serde::Serialize;

use crate::evidence::head::HeadStatement;
use crate::evidence::officer::OfficerId;
use crate::store::offload::AckError;
use wire::{AckReply, AssignmentReply, DeviceInfo, OffloadState, TimeReply};

pub use api::router;
pub use server::{DockServer, serve, serve_with};
pub use tls::server_tls;

/// Largest request body accepted (JSON requests are a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the daemon provides to the dock API. Every method may block briefly (the server
/// calls them on tokio's blocking pool); none may panic.
pub trait DockBackend: Send + Sync + 'static {
    /// Device id, public key, firmware, clock, storage, state.
    fn device_info(&self) -> DeviceInfo;
    /// Signed head statement for the nonce (the same as `bodycam ctl head`).
    fn head(&self, nonce: &[u8]) -> Result<HeadStatement, DockError>;
    /// Record the acknowledgement if `ack.sha256` equals the segment's own hash (from its
    /// final or recovery record); otherwise [`DockError::HashMismatch`] and nothing is
    /// recorded. Must be idempotent: a dock retries an acknowledgement whose answer it
    /// did not receive.
    fn acknowledge(&self, ack: &Ack) -> Result<AckReply, DockError>;
    /// The dock's trusted time: the offset is recorded, the clock set if allowed.
    fn set_time(&self, utc_ms: i64) -> Result<TimeReply, DockError>;
    /// Assign the camera to `officer` (none: unassigned) from its next recording on,
    /// durably and audited; a recording in progress keeps its officer. `dock`: the
    /// dock's name for the audit entry. The default refuses (a backend without an
    /// assignment store).
    fn assign(
        &self,
        officer: Option<OfficerId>,
        dock: Option<String>,
    ) -> Result<AssignmentReply, DockError> {
        let _ = (officer, dock);
        Err(DockError::NotFound(
            "this camera does not take assignments".into(),
        ))
    }
    /// The data directory (`storage.path`) the server serves read-only files from.
    fn store_root(&self) -> PathBuf;
    /// Whether a segment is closed (has a final or recovery record) and so may be served.
    fn segment_closed(&self, recording: &str, segment: u32) -> bool;
    /// Offload state of a segment.
    fn offload_state(&self, recording: &str, segment: u32) -> OffloadState;
}

/// A dock's acknowledgement that it stored a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// Recording id (validated, see [`crate::layout::RecordingId`]).
    pub recording: String,
    /// Segment sequence number (1..=999999).
    pub segment: u32,
    /// Where the dock stored it (its blob name), 1–1024 bytes, no control characters.
    pub blob: String,
    /// SHA-256 of the media file as the dock stored it, 64 lower-case hex digits.
    pub sha256: String,
}

/// Limits that keep a slow or malicious client from tying up the camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockLimits {
    /// Authenticated connections served at once (after the TLS handshake, with a
    /// client certificate from the agency CA); more wait for a slot.
    pub max_connections: usize,
    /// TLS handshakes in progress at once. Sockets that have not authenticated never
    /// hold a connection slot; when this many are handshaking, the oldest is dropped
    /// to let a new one in (an idle socket is older than a dock's handshake).
    pub max_handshakes: usize,
    /// Time for a client to complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time for a client to send a request's headers (also the keep-alive idle time).
    pub header_timeout: Duration,
    /// Time for reading a request body and producing the response head (408 after).
    pub request_timeout: Duration,
    /// A connection on which neither reading nor writing progresses for this long is
    /// closed (a dock unplugged mid-download, a client that stops reading).
    pub stall_timeout: Duration,
    /// After the shutdown future fires, time given to requests in flight.
    pub shutdown_grace: Duration,
    /// Largest request body (413 above).
    pub max_body_bytes: usize,
}

impl Default for DockLimits {
    fn default() -> Self {
        DockLimits {
            max_connections: 8,
            max_handshakes: 64,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

/// Dock API errors: setting the server up, and the answers a request can get.
#[derive(Debug, thiserror::Error)]
pub enum DockError {
    /// A certificate or key file cannot be read or holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The server's private key is readable by group or others.
    #[error(
        "private key {path} has mode {mode:o}; it must not be readable by group or others (chmod 600)"
    )]
    KeyPermissions {
        /// The file.
        path: PathBuf,
        /// Mode found.
        mode: u32,
    },
    /// The certificates and key do not make a valid TLS configuration.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// A socket or runtime operation failed.
    #[error("dock API: cannot {what}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such recording, segment or file (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the segment's state, e.g. it is still open (409).
    #[error("{0}")]
    Conflict(String),
    /// The acknowledged hash is not the segment's hash; nothing was recorded (422).
    #[error(
        "sha256 {sha256} is not the hash of segment {recording}/{segment:06}; not acknowledged"
    )]
    HashMismatch {
        /// Recording id.
        recording: String,
        /// Segment.
        segment: u32,
        /// The hash the dock sent.
        sha256: String,
    },
    /// The camera cannot answer now, e.g. it is shutting down (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

impl DockError {
    /// The HTTP status a request failing with this error gets.
    pub fn status(&self) -> StatusCode {
        match self {
            DockError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DockError::NotFound(_) => StatusCode::NOT_FOUND,
            DockError::Conflict(_) => StatusCode::CONFLICT,
            DockError::HashMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            DockError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            DockError::Pem { .. }
            | DockError::KeyPermissions { .. }
            | DockError::Tls(_)
            | DockError::Io { .. }
            | DockError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer for an acknowledgement that [`crate::store::offload::acknowledge`]
    /// refused (for a [`DockBackend::acknowledge`] built on it).
    pub fn from_ack(ack: &Ack, e: AckError) -> DockError {
        match e {
            AckError::NoSuchSegment { .. } => DockError::NotFound(e.to_string()),
            AckError::Open { .. } => DockError::Conflict(e.to_string()),
            AckError::HashMismatch { .. } => DockError::HashMismatch {
                recording: ack.recording.clone(),
                segment: ack.segment,
                sha256: ack.sha256.clone(),
            },
            AckError::BadBlob => DockError::BadRequest(e.to_string()),
            AckError::Io { .. } => DockError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_ack_refusals_map_to_statuses() {
        let ack = Ack {
            recording: "20261125T175328Z".into(),
            segment: 2,
            blob: "b".into(),
            sha256: "00".repeat(32),
        };
        let (rec, seg) = (ack.recording.clone(), 2);
        let cases = [
            (
                AckError::NoSuchSegment {
                    recording: rec.clone(),
                    segment: seg,
                },
                StatusCode::NOT_FOUND,
            ),
            (
                AckError::Open {
                    recording: rec.clone(),
                    segment: seg,
                },
                StatusCode::CONFLICT,
            ),
            (
                AckError::HashMismatch {
                    expected: "11".repeat(32),
                    got: "00".repeat(32),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (AckError::BadBlob, StatusCode::BAD_REQUEST),
            (
                AckError::Io {
                    what: "write",
                    path: "/x".into(),
                    reason: "EIO".into(),
                },
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, status) in cases {
            let d = DockError::from_ack(&ack, e);
            assert_eq!(d.status(), status, "{d}");
        }
        let d = DockError::from_ack(
            &ack,
            AckError::HashMismatch {
                expected: String::new(),
                got: String::new(),
            },
        );
        assert_eq!(
            d.to_string(),
            format!(
                "sha256 {} is not the hash of segment 20261125T175328Z/000002; not acknowledged",
                "00".repeat(32)
            )
        );
    }
}
