//! The officer assignment (`POST /v1/assignment` from a dock): kept across restarts in
//! `<storage.path>/assignment.json` (written atomically), recorded in the signed audit
//! log, and given to every recording started after it. A recording in progress keeps
//! the officer it started with. An unreadable file means "unassigned": recording is
//! never blocked by the assignment.

use std::path::Path;

use tracing::{info, warn};

use super::Loop;
use crate::dock::DockError;
use crate::dock::wire::AssignmentReply;
use crate::evidence::events::AuditEvent;
use crate::evidence::officer::{ASSIGNMENT_FORMAT, Assignment, OfficerId};
use crate::layout;

/// The assignment on flash under `root`, if any. A corrupt or foreign file is logged
/// and read as no assignment.
pub(super) fn load(root: &Path) -> Option<Assignment> {
    let path = layout::assignment_path(root);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "cannot read the officer assignment; recording as unassigned");
            return None;
        }
    };
    match serde_json::from_slice::<Assignment>(&bytes) {
        Ok(a) if a.format == ASSIGNMENT_FORMAT => Some(a),
        Ok(a) => {
            warn!(path = %path.display(), format = %a.format, "unknown assignment format; recording as unassigned");
            None
        }
        Err(e) => {
            warn!(path = %path.display(), error = %e, "corrupt officer assignment; recording as unassigned");
            None
        }
    }
}

impl Loop {
    /// The officer the next recording is made for.
    pub(super) fn assigned_officer(&self) -> Option<String> {
        self.assignment
            .as_ref()
            .and_then(|a| a.officer.as_ref())
            .map(|o| o.as_str().to_string())
    }

    /// Name in the burned-in picture (`OFC <id>`, from the next frame) the officer the
    /// footage is made for: the open recording's (it keeps its officer across a
    /// reassignment, as its sidecars do), else the one assigned (the pre-event frames
    /// and the next recording are theirs).
    pub(super) fn show_officer(&self) {
        let officer = match &self.recording {
            Some(r) => r.officer().map(str::to_string),
            None => self.assigned_officer(),
        };
        self.settings.overlay_text.set_officer(officer.as_deref());
    }

    /// Assign the camera to `officer` from the next recording on: the file first (so
    /// that what is audited is what a restart reads), then the audit entry.
    pub(super) fn assign(
        &mut self,
        officer: Option<OfficerId>,
        dock: Option<String>,
    ) -> Result<AssignmentReply, DockError> {
        let previous = self.assigned_officer();
        let assigned_utc = crate::clock::rfc3339(chrono::Utc::now());
        let a = Assignment {
            format: ASSIGNMENT_FORMAT.into(),
            officer: officer.clone(),
            assigned_utc: assigned_utc.clone(),
            dock: dock.clone(),
        };
        let path = layout::assignment_path(self.store.root());
        let json = serde_json::to_vec_pretty(&a).map_err(|e| DockError::Internal(e.to_string()))?;
        self.store
            .flash()
            .write_atomic(&path, &json)
            .map_err(|e| DockError::Internal(format!("cannot write {}: {e}", path.display())))?;
        self.assignment = Some(a);
        let now = self.assigned_officer();
        self.show_officer();
        let recording_open = self.recording.as_ref().map(|r| r.id().to_string());
        info!(officer = ?now, previous = ?previous, dock = ?dock, recording_open = ?recording_open, "officer assigned");
        self.audit(AuditEvent::OfficerAssigned {
            officer: now.clone(),
            previous: previous.clone(),
            dock,
            recording_open: recording_open.clone(),
        });
        Ok(AssignmentReply {
            officer: now,
            previous,
            assigned_utc,
            recording_open,
        })
    }
}
