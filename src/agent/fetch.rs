//! `bodycam dock-agent fetch DEVICE --out DIR`: rebuild a device's store from the
//! container (read-only), laid out as on the camera so that `bodycam verify` checks it
//! with the chain from counter 0, the audit log and a head statement: what is in the
//! cloud verifies on its own.
//!
//! ```text
//! DIR/recordings/<rec>/NNNNNN.ts|.journal|.json   from <device>/<rec>/…
//! DIR/evidence/audit.log                          the newest <device>/audit/<entries>.log
//! DIR/heads/<utc>-<nonce>.json                    every <device>/heads/… (for --head)
//! ```

use std::path::{Path, PathBuf};

use super::azure::BlobError;
use super::names::{self, CustodyLog, DeviceBlob};
use super::offload::Shared;
use crate::layout;

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The output directory exists already (nothing is ever written over).
    #[error("{0} exists; choose a new directory")]
    Exists(PathBuf),
    /// The container holds nothing for the device.
    #[error("no blobs for device {0}")]
    NoBlobs(String),
    /// A blob went away while it was being fetched.
    #[error("{0} disappeared while fetching")]
    Vanished(String),
    /// Reading from the container failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Writing the local copy failed.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// What was fetched.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Segment files written.
    pub segment_files: usize,
    /// Audit log snapshot used (blob name).
    pub audit: Option<String>,
    /// Head statements written, oldest first (file paths).
    pub heads: Vec<String>,
    /// Whether the device has a deletion log (some footage was deleted under retention).
    pub deletion_log: bool,
}

/// Fetch `device`'s blobs into `out` (which must not exist yet).
pub async fn fetch(shared: &Shared, device: &str, out: &Path) -> Result<Fetched, FetchError> {
    if out.exists() {
        return Err(FetchError::Exists(out.to_path_buf()));
    }
    let names = shared.blobs.list(&format!("{device}/")).await?;
    if names.is_empty() {
        return Err(FetchError::NoBlobs(device.to_string()));
    }
    let mut done = Fetched::default();
    let mut newest_audit: Option<(u64, String)> = None;
    for name in &names {
        let Some(rest) = name.strip_prefix(&format!("{device}/")) else {
            continue;
        };
        let target = match names::parse_device_blob(rest) {
            Some(DeviceBlob::Audit(n)) => {
                if newest_audit.as_ref().is_none_or(|(m, _)| n > *m) {
                    newest_audit = Some((n, name.clone()));
                }
                continue;
            }
            Some(DeviceBlob::Head(file)) => out.join("heads").join(file),
            Some(DeviceBlob::Custody(CustodyLog::Deletions)) => {
                done.deletion_log = true;
                layout::deletions_path(out)
            }
            Some(DeviceBlob::Custody(CustodyLog::Classifications)) => {
                out.join("custody").join("classifications.jsonl")
            }
            Some(DeviceBlob::Segment { recording, file }) => {
                done.segment_files += 1;
                layout::recordings_dir(out).join(recording).join(file)
            }
            None => continue,
        };
        write_blob(shared, name, &target).await?;
        if target.parent().is_some_and(|p| p.ends_with("heads")) {
            done.heads.push(target.display().to_string());
        }
    }
    if let Some((_, name)) = newest_audit {
        write_blob(shared, &name, &layout::audit_path(out)).await?;
        done.audit = Some(name);
    }
    done.heads.sort();
    Ok(done)
}

async fn write_blob(shared: &Shared, name: &str, target: &Path) -> Result<(), FetchError> {
    let data = shared
        .blobs
        .get(name)
        .await?
        .ok_or_else(|| FetchError::Vanished(name.to_string()))?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Io { path, source }
    };
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::write(target, &data).map_err(io(target))
}
