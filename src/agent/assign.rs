//! Officer assignment from the dock: `dock-agent assign BAY OFFICER_ID` (or `--clear`),
//! and a bay's `assignment_file`, applied whenever a camera docks there whose
//! assignment differs. Either way the camera is checked against the enrolment list
//! first and the assignment goes over the same mutual-TLS API as the offload
//! (`POST /v1/assignment`); the camera keeps it, audits it and applies it from its next
//! recording.

use std::path::Path;

use super::AgentError;
use super::camera::{CameraClient, CameraError};
use super::config::CameraEntry;
use super::offload::{OffloadError, Shared, enrolled};
use crate::dock::wire::{AssignmentReply, DeviceInfo};
use crate::evidence::officer::OfficerId;

/// Why an assignment was not made.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// No `[[camera]]` of that name.
    #[error("no bay {0:?} in the configuration (bays: {1})")]
    NoBay(String, String),
    /// The camera could not be reached or refused.
    #[error("bay {bay}: {source}")]
    Camera {
        /// Bay.
        bay: String,
        /// Cause.
        source: CameraError,
    },
    /// The camera is not enrolled, or presents another key.
    #[error("bay {bay}: {source}")]
    Enrolment {
        /// Bay.
        bay: String,
        /// Cause.
        source: Box<OffloadError>,
    },
    /// The assignment file is unreadable or holds no valid officer id.
    #[error("assignment file {path}: {reason}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The officer named by a bay's assignment file: the first line, trimmed; `None` when
/// the file is absent or that line is empty.
pub fn read_assignment_file(path: &Path) -> Result<Option<OfficerId>, AssignError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AssignError::File {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
    };
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Ok(None);
    }
    OfficerId::parse(line)
        .map(Some)
        .map_err(|e| AssignError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Assign the camera docked in `cam`'s bay to `officer` (none: clear), after checking
/// its enrolment. `info`: what the camera said about itself, if already asked.
pub async fn assign_camera(
    shared: &Shared,
    cam: &CameraEntry,
    client: &CameraClient,
    info: &DeviceInfo,
    officer: Option<&OfficerId>,
) -> Result<AssignmentReply, AssignError> {
    enrolled(shared, info).map_err(|source| AssignError::Enrolment {
        bay: cam.name.clone(),
        source: Box::new(source),
    })?;
    client
        .assign(officer.map(OfficerId::as_str), &shared.dock)
        .await
        .map_err(|source| AssignError::Camera {
            bay: cam.name.clone(),
            source,
        })
}

/// `dock-agent assign BAY OFFICER_ID` / `assign BAY --clear`.
pub async fn assign_bay(
    shared: &Shared,
    bay: &str,
    officer: Option<&OfficerId>,
) -> Result<AssignmentReply, AgentError> {
    let Some(cam) = shared.cfg.cameras.iter().find(|c| c.name == bay) else {
        let bays: Vec<&str> = shared.cfg.cameras.iter().map(|c| c.name.as_str()).collect();
        return Err(AgentError::Usage(
            AssignError::NoBay(bay.to_string(), bays.join(", ")).to_string(),
        ));
    };
    let camera_err = |source| AssignError::Camera {
        bay: cam.name.clone(),
        source,
    };
    let client = CameraClient::new(
        shared.camera_tls().map_err(camera_err)?,
        &cam.url,
        cam.interface.as_deref(),
    )
    .map_err(camera_err)?;
    let info = client.device().await.map_err(camera_err)?;
    Ok(assign_camera(shared, cam, &client, &info, officer).await?)
}
