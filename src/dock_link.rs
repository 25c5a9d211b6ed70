//! The daemon's side of the dock API: a [`DockBackend`] that answers read-only questions
//! from the store and the status snapshot, and passes everything that signs or changes
//! state (head statements, acknowledgements, time) to the daemon loop.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::dock::{Ack, DockBackend, DockError, OFFLOAD_ACKNOWLEDGED, OFFLOAD_PENDING};
use crate::evidence::identity::PublicIdentity;
use crate::status::Status;
use crate::store::RECORDINGS_DIR;
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
}

/// The loop's answer.
pub type DockReply = Result<serde_json::Value, DockError>;

/// Sends a request to the loop and waits for the answer.
pub type LoopCall = Arc<dyn Fn(DockRequest) -> DockReply + Send + Sync>;

/// The backend the daemon gives the dock API.
pub struct DaemonDock {
    call: LoopCall,
    status: Arc<Mutex<Status>>,
    root: PathBuf,
    identity: PublicIdentity,
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
        self.root.join(RECORDINGS_DIR).join(recording)
    }
}

impl DockBackend for DaemonDock {
    fn device_info(&self) -> serde_json::Value {
        let s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        serde_json::json!({
            "device_id": self.identity.device_id,
            "public_key": self.identity.public_key,
            "firmware": env!("CARGO_PKG_VERSION"),
            "clock": {
                "utc": crate::clock::rfc3339(chrono::Utc::now()),
                "synchronised": crate::clock::clock_synchronised(),
            },
            "storage": {
                "used_bytes": s.used_bytes,
                "available_bytes": s.available_bytes,
                "hours_left": s.hours_left,
            },
            "state": s.state,
        })
    }

    fn head(&self, nonce: &[u8]) -> Result<serde_json::Value, DockError> {
        (self.call)(DockRequest::Head(nonce.to_vec()))
    }

    fn acknowledge(&self, ack: &Ack) -> Result<serde_json::Value, DockError> {
        (self.call)(DockRequest::Ack(ack.clone()))
    }

    fn set_time(&self, utc_ms: i64) -> Result<serde_json::Value, DockError> {
        (self.call)(DockRequest::SetTime(utc_ms))
    }

    fn store_root(&self) -> PathBuf {
        self.root.clone()
    }

    fn segment_closed(&self, recording: &str, segment: u32) -> bool {
        offload::signed_hash(&self.dir(recording), segment).is_ok_and(|h| h.is_some())
    }

    fn offload_state(&self, recording: &str, segment: u32) -> String {
        if offload::is_acknowledged(&self.dir(recording), segment) {
            OFFLOAD_ACKNOWLEDGED.into()
        } else {
            OFFLOAD_PENDING.into()
        }
    }
}
