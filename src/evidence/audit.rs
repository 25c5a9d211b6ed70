//! The signed, chained, append-only audit log (`<storage.path>/evidence/audit.log`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::evidence::Signer;
use crate::evidence::payload::{Audit, Payload};
use crate::flash::{Flash, FlashFile};

/// Directory for device-wide evidence files below `storage.path`.
pub const EVIDENCE_DIR: &str = "evidence";
/// Audit log file name in [`EVIDENCE_DIR`].
pub const AUDIT_FILE: &str = "audit.log";

/// Audit events (the `event` field); details are listed in docs/EVIDENCE-FORMAT.md.
pub mod events {
    /// Daemon started (firmware version, config hash, device id).
    pub const BOOT: &str = "boot";
    /// Previous run ended without a clean shutdown.
    pub const UNCLEAN_SHUTDOWN: &str = "unclean_shutdown";
    /// Clean shutdown.
    pub const SHUTDOWN: &str = "shutdown";
    /// Device key created.
    pub const KEY_CREATED: &str = "key_created";
    /// A segment left open was closed by recovery.
    pub const RECOVERY: &str = "recovery";
    /// A torn record was cut off the end of a journal or of this log.
    pub const TORN_TAIL_REMOVED: &str = "torn_tail_removed";
    /// Recording started.
    pub const RECORDING_START: &str = "recording_start";
    /// Recording stopped.
    pub const RECORDING_STOP: &str = "recording_stop";
    /// Marker added.
    pub const MARKER: &str = "marker";
    /// Stealth mode on/off.
    pub const STEALTH: &str = "stealth";
    /// Wall clock synchronisation changed, or the wall clock jumped against the monotonic clock.
    pub const CLOCK: &str = "clock";
    /// Capacity fell below or rose above the reserve.
    pub const STORAGE_LOW: &str = "storage_low";
    /// Store full.
    pub const STORAGE_FULL: &str = "storage_full";
    /// Capture pipeline failed.
    pub const PIPELINE_FAULT: &str = "pipeline_fault";
    /// Capture pipeline (re)started.
    pub const PIPELINE_START: &str = "pipeline_start";
    /// A head statement was issued.
    pub const HEAD_ISSUED: &str = "head_issued";
    /// A dock acknowledged a stored segment (with the signed hash).
    pub const OFFLOAD_ACK: &str = "offload_ack";
    /// The media of an acknowledged segment was deleted to free space.
    pub const SEGMENT_FREED: &str = "segment_freed";
    /// Put in the dock (dock sense).
    pub const DOCKED: &str = "docked";
    /// Taken out of the dock (dock sense).
    pub const UNDOCKED: &str = "undocked";
}

/// The audit log, open for appending.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Box<dyn FlashFile>,
    /// An earlier write failed: the log's end is unknown, so nothing more is appended
    /// (a later entry after a lost one would hide the gap).
    failed: bool,
}

impl AuditLog {
    /// Open (creating) the log at `path`.
    pub fn open(flash: &dyn Flash, path: &Path) -> std::io::Result<AuditLog> {
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: flash.open_append(path)?,
            failed: false,
        })
    }

    /// Path of the log.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sign, append and sync one entry.
    pub fn append(
        &mut self,
        signer: &mut Signer,
        event: &str,
        detail: Value,
    ) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::other(
                "an earlier audit write failed; the audit log is closed until restart",
            ));
        }
        let rec = signer.sign_audit(&Payload::Audit(Audit {
            event: event.to_string(),
            detail: detail.to_string(),
        }));
        let written = self
            .file
            .write_all(&rec)
            .and_then(|()| self.file.sync_data());
        if written.is_err() {
            self.failed = true;
        }
        written
    }
}
