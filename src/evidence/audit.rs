//! The signed, chained, append-only audit log (`<storage.path>/evidence/audit.log`).

use std::path::{Path, PathBuf};

use crate::evidence::Signer;
use crate::evidence::events::AuditEvent;
use crate::evidence::payload::{Audit, Payload};
use crate::flash::{Flash, FlashFile};

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
    pub fn append(&mut self, signer: &mut Signer, event: &AuditEvent) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::other(
                "an earlier audit write failed; the audit log is closed until restart",
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
        if written.is_err() {
            self.failed = true;
        }
        written
    }
}
