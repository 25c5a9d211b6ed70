//! The dock's per-device offload ledger (`STATE/devices/<id>/ledger.json`): the last
//! media-chain record this dock offloaded and acknowledged for the device, from which
//! the next offload's chain continuity is checked. Written atomically after every
//! acknowledgement.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::flash::sync_dir;

/// Format tag.
pub const LEDGER_FORMAT: &str = "bodycam-dock-ledger/1";

/// The last record offloaded: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// Recording of the segment holding it.
    pub recording: String,
    /// Segment holding it.
    pub segment: u32,
    /// Media-chain counter.
    pub counter: u64,
    /// SHA-256 of the record, hex (the next record's `prev_hash`).
    pub hash: String,
}

/// The ledger file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// Always [`LEDGER_FORMAT`].
    pub format: String,
    /// Device.
    pub device_id: String,
    /// Last record offloaded (none before the first offload at this dock).
    pub anchor: Option<Anchor>,
    /// Segments acknowledged by this dock, all time.
    pub acknowledged: u64,
    /// When written.
    pub updated_utc: String,
}

/// Ledger problems (a corrupt ledger stops that device's offload: chain continuity
/// cannot be checked without it, and guessing would hide a gap).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Unreadable or unwritable.
    #[error("offload ledger {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a ledger.
    #[error(
        "offload ledger {path} is corrupt ({reason}); move it aside to re-anchor the device's chain"
    )]
    Corrupt {
        /// Path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The ledger's path for `device_id` below `state_dir`.
pub fn path(state_dir: &Path, device_id: &str) -> PathBuf {
    device_dir(state_dir, device_id).join("ledger.json")
}

/// Per-device folder below `state_dir`.
pub fn device_dir(state_dir: &Path, device_id: &str) -> PathBuf {
    state_dir.join("devices").join(device_id)
}

impl Ledger {
    /// Load the ledger, or a fresh one if there is none.
    pub fn load(state_dir: &Path, device_id: &str) -> Result<Ledger, LedgerError> {
        let p = path(state_dir, device_id);
        match std::fs::read(&p) {
            Ok(bytes) => {
                let l: Ledger =
                    serde_json::from_slice(&bytes).map_err(|e| LedgerError::Corrupt {
                        path: p.clone(),
                        reason: e.to_string(),
                    })?;
                if l.format != LEDGER_FORMAT || l.device_id != device_id {
                    return Err(LedgerError::Corrupt {
                        path: p,
                        reason: format!("format {:?}, device {:?}", l.format, l.device_id),
                    });
                }
                Ok(l)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger {
                format: LEDGER_FORMAT.into(),
                device_id: device_id.into(),
                anchor: None,
                acknowledged: 0,
                updated_utc: String::new(),
            }),
            Err(source) => Err(LedgerError::Io { path: p, source }),
        }
    }

    /// Write it atomically and durably (temporary file, fsync, rename, fsync folder).
    pub fn save(&mut self, state_dir: &Path) -> Result<(), LedgerError> {
        self.updated_utc = crate::clock::rfc3339(chrono::Utc::now());
        let p = path(state_dir, &self.device_id);
        let io = |source| LedgerError::Io {
            path: p.clone(),
            source,
        };
        let dir = p.parent().unwrap_or(state_dir);
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = dir.join("ledger.json.tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&text).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &p).map_err(io)?;
        sync_dir(dir).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_a_corrupt_or_foreign_ledger() {
        let d = tempfile::tempdir().unwrap();
        let mut l = Ledger::load(d.path(), "ab").unwrap();
        assert_eq!(l.anchor, None);
        l.anchor = Some(Anchor {
            recording: "20261125T175328Z".into(),
            segment: 3,
            counter: 41,
            hash: "11".repeat(32),
        });
        l.save(d.path()).unwrap();
        assert_eq!(Ledger::load(d.path(), "ab").unwrap().anchor, l.anchor);
        std::fs::copy(path(d.path(), "ab"), {
            std::fs::create_dir_all(device_dir(d.path(), "cd")).unwrap();
            path(d.path(), "cd")
        })
        .unwrap();
        assert!(matches!(
            Ledger::load(d.path(), "cd"),
            Err(LedgerError::Corrupt { .. })
        ));
        std::fs::write(path(d.path(), "ab"), "{").unwrap();
        let e = Ledger::load(d.path(), "ab").unwrap_err().to_string();
        assert!(e.contains("corrupt"), "{e}");
    }
}
