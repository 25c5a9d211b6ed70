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

use std::path::Path;

use super::offload::Shared;
use crate::layout::{RecordingId, parse_sequence};

/// What was fetched.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Segment files written.
    pub segment_files: usize,
    /// Audit log snapshot used (blob name).
    pub audit: Option<String>,
    /// Head statements written, oldest first (file paths).
    pub heads: Vec<String>,
}

/// Fetch `device`'s blobs into `out` (which must not exist yet).
pub async fn fetch(shared: &Shared, device: &str, out: &Path) -> Result<Fetched, String> {
    if out.exists() {
        return Err(format!("{} exists; choose a new directory", out.display()));
    }
    let names = shared
        .blobs
        .list(&format!("{device}/"))
        .await
        .map_err(|e| e.to_string())?;
    if names.is_empty() {
        return Err(format!("no blobs for device {device}"));
    }
    let mut done = Fetched::default();
    let mut newest_audit: Option<(u64, String)> = None;
    for name in &names {
        let rest = &name[device.len() + 1..];
        let target = match rest.split('/').collect::<Vec<_>>().as_slice() {
            ["audit", file] => {
                let entries = file
                    .strip_suffix(".log")
                    .and_then(|n| n.parse::<u64>().ok());
                if let Some(n) = entries
                    && newest_audit.as_ref().is_none_or(|(m, _)| n > *m)
                {
                    newest_audit = Some((n, name.clone()));
                }
                continue;
            }
            ["heads", file] if file.ends_with(".json") && !file.contains("..") => {
                out.join("heads").join(file)
            }
            [rec, file] if RecordingId::parse(rec).is_some() => {
                let ok = file.split_once('.').is_some_and(|(seq, ext)| {
                    seq.len() == 6
                        && parse_sequence(seq).is_some()
                        && ["ts", "journal", "json"].contains(&ext)
                });
                if !ok {
                    continue;
                }
                done.segment_files += 1;
                out.join("recordings").join(rec).join(file)
            }
            _ => continue,
        };
        write_blob(shared, name, &target).await?;
        if target.parent().is_some_and(|p| p.ends_with("heads")) {
            done.heads.push(target.display().to_string());
        }
    }
    if let Some((_, name)) = newest_audit {
        write_blob(shared, &name, &out.join("evidence").join("audit.log")).await?;
        done.audit = Some(name);
    }
    done.heads.sort();
    Ok(done)
}

async fn write_blob(shared: &Shared, name: &str, target: &Path) -> Result<(), String> {
    let data = shared
        .blobs
        .get(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{name} disappeared while fetching"))?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(target, &data).map_err(|e| format!("{}: {e}", target.display()))
}
