//! The daemon's side of the dock API: a [`DockBackend`] that answers read-only questions
//! from the store and the status snapshot, and passes everything that signs or changes
//! state (head statements, acknowledgements, time) to the daemon loop.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::dock::wire::{
    AckReply, AssignmentReply, ClockInfo, DeviceInfo, OffloadState, StorageInfo, TimeReply,
};
use crate::dock::{Ack, DockBackend, DockError};
use crate::evidence::head::HeadStatement;
use crate::evidence::identity::PublicIdentity;
use crate::evidence::officer::OfficerId;
use crate::layout;
use crate::status::Status;
use crate::store::offload;

/// A request the daemon loop must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockRequest {
    /// Sign a head statement for this nonce.
    Head(Vec<u8>),
    /// Accept (or refuse) an acknowledgement.
    Ack(Ack),
    /// Set the clock to the dock's UTC (ms).
    SetTime(i64),
    /// Assign the camera to an officer (none: unassigned); the dock's name.
    Assign(Option<OfficerId>, Option<String>),
}

/// The loop's answer to a [`DockRequest`] of the same name.
#[derive(Debug, Clone, PartialEq)]
pub enum DockAnswer {
    /// To [`DockRequest::Head`].
    Head(HeadStatement),
    /// To [`DockRequest::Ack`].
    Ack(AckReply),
    /// To [`DockRequest::SetTime`].
    Time(TimeReply),
    /// To [`DockRequest::Assign`].
    Assignment(AssignmentReply),
}

/// The loop's answer, or why it refused.
pub type DockReply = Result<DockAnswer, DockError>;

/// The loop answered a request with another request's answer (a bug in the loop).
fn mismatched(what: &str) -> DockError {
    DockError::Internal(format!(
        "the camera answered a {what} request with something else"
    ))
}

/// Sends a request to the loop and waits for the answer.
pub type LoopCall = Arc<dyn Fn(DockRequest) -> DockReply + Send + Sync>;

/// The backend the daemon gives the dock API.
pub struct DaemonDock {
    call: LoopCall,
    status: Arc<Mutex<Status>>,
    root: PathBuf,
    identity: PublicIdentity,
}

impl std::fmt::Debug for DaemonDock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonDock")
            .field("root", &self.root)
            .field("device_id", &self.identity.device_id)
            .finish_non_exhaustive()
    }
}

impl DaemonDock {
    /// A backend over the store at `root`.
    pub fn new(
        call: LoopCall,
        status: Arc<Mutex<Status>>,
        root: PathBuf,
        identity: PublicIdentity,
    ) -> DaemonDock {
        DaemonDock {
            call,
            status,
            root,
            identity,
        }
    }

    fn dir(&self, recording: &str) -> PathBuf {
        layout::recordings_dir(&self.root).join(recording)
    }
}

impl DockBackend for DaemonDock {
    fn device_info(&self) -> DeviceInfo {
        let s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        DeviceInfo {
            device_id: self.identity.device_id.clone(),
            public_key: self.identity.public_key.clone(),
            firmware: env!("CARGO_PKG_VERSION").to_string(),
            clock: ClockInfo {
                utc: crate::clock::rfc3339(chrono::Utc::now()),
                synchronised: crate::clock::clock_synchronised(),
            },
            storage: StorageInfo {
                used_bytes: s.used_bytes,
                available_bytes: s.available_bytes,
                hours_left: s.hours_left.is_finite().then_some(s.hours_left),
            },
            state: s.state,
            officer: s.officer,
        }
    }

    fn head(&self, nonce: &[u8]) -> Result<HeadStatement, DockError> {
        match (self.call)(DockRequest::Head(nonce.to_vec()))? {
            DockAnswer::Head(h) => Ok(h),
            DockAnswer::Ack(_) | DockAnswer::Time(_) | DockAnswer::Assignment(_) => {
                Err(mismatched("head"))
            }
        }
    }

    fn acknowledge(&self, ack: &Ack) -> Result<AckReply, DockError> {
        match (self.call)(DockRequest::Ack(ack.clone()))? {
            DockAnswer::Ack(a) => Ok(a),
            DockAnswer::Head(_) | DockAnswer::Time(_) | DockAnswer::Assignment(_) => {
                Err(mismatched("ack"))
            }
        }
    }

    fn set_time(&self, utc_ms: i64) -> Result<TimeReply, DockError> {
        match (self.call)(DockRequest::SetTime(utc_ms))? {
            DockAnswer::Time(t) => Ok(t),
            DockAnswer::Head(_) | DockAnswer::Ack(_) | DockAnswer::Assignment(_) => {
                Err(mismatched("time"))
            }
        }
    }

    fn assign(
        &self,
        officer: Option<OfficerId>,
        dock: Option<String>,
    ) -> Result<AssignmentReply, DockError> {
        match (self.call)(DockRequest::Assign(officer, dock))? {
            DockAnswer::Assignment(a) => Ok(a),
            DockAnswer::Head(_) | DockAnswer::Ack(_) | DockAnswer::Time(_) => {
                Err(mismatched("assignment"))
            }
        }
    }

    fn store_root(&self) -> PathBuf {
        self.root.clone()
    }

    fn segment_closed(&self, recording: &str, segment: u32) -> bool {
        offload::signed_hash(&self.dir(recording), segment).is_ok_and(|h| h.is_some())
    }

    fn offload_state(&self, recording: &str, segment: u32) -> OffloadState {
        if offload::is_acknowledged(&self.dir(recording), segment) {
            OffloadState::Acknowledged
        } else {
            OffloadState::Pending
        }
    }
}
