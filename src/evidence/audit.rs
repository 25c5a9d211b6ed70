//! The signed, chained, append-only audit log (`<storage.path>/evidence/audit.log`).
//!
//! Blocks for the next entries are kept allocated past the log's end
//! ([`AUDIT_RESERVE`]), so that the entries that record a full filesystem (the storage
//! error, the recording it stopped) can still be written.

use std::path::{Path, PathBuf};

use crate::evidence::Signer;
use crate::evidence::events::AuditEvent;
use crate::evidence::payload::{Audit, Payload};
use crate::flash::{Flash, FlashFile};

/// Blocks kept allocated past the audit log's end (a few dozen entries).
pub const AUDIT_RESERVE: u64 = 16 * 1024;

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
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file: flash.open_append(path)?,
            failed: false,
        };
        log.top_up();
        Ok(log)
    }

    /// Open the log again after a failed write, once the medium takes writes again
    /// (the caller has cut a torn record off its end and resumed the chain from it).
    pub fn reopen(&mut self, flash: &dyn Flash) -> std::io::Result<()> {
        self.file = flash.open_append(&self.path)?;
        self.failed = false;
        self.top_up();
        Ok(())
    }

    /// Whether an earlier write failed (nothing is appended until [`AuditLog::reopen`]).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Keep [`AUDIT_RESERVE`] allocated past the end; best effort (a full filesystem
    /// still has what was reserved before).
    fn top_up(&mut self) {
        if let Err(e) = self.file.reserve(AUDIT_RESERVE) {
            tracing::debug!(error = %e, "cannot top up the audit log's reserve");
        }
    }

    /// Path of the log.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sign, append and sync one entry.
    pub fn append(&mut self, signer: &mut Signer, event: &AuditEvent) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::other(
                "an earlier audit write failed; the audit log is closed until the medium takes writes again",
            ));
        }
        let rec = signer.sign_audit(&Payload::Audit(Audit {
            event: event.name().to_string(),
            detail: event.detail_json(),
        }));
        let written = self
            .file
            .write_all(&rec)
            .and_then(|()| self.file.sync_data());
        match &written {
            Ok(()) => self.top_up(),
            Err(_) => self.failed = true,
        }
        written
    }
}
