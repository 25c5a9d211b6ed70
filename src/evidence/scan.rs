//! Start-up scan: where the media and audit chains stand, from the journals on flash,
//! the last persisted media head, and the audit log (whose torn tail, if any, is cut).

use std::path::{Path, PathBuf};

use crate::evidence::ChainHead;
use crate::evidence::audit::{AUDIT_FILE, EVIDENCE_DIR};
use crate::evidence::payload::{Payload, decode_file};
use crate::evidence::record;
use crate::store::RECORDINGS_DIR;
use crate::store::flash::Flash;

/// File holding a copy of the newest media record (kept when segments are later freed).
pub const MEDIA_HEAD_FILE: &str = "media.head";

/// What the scan found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootScan {
    /// Media chain head.
    pub media: ChainHead,
    /// Audit chain head.
    pub audit: ChainHead,
    /// Event of the last audit entry.
    pub last_audit_event: Option<String>,
    /// Bytes of a torn audit record cut off the log's end.
    pub audit_torn_bytes: u64,
    /// Whether any signed evidence exists (journals, audit log, media head).
    pub any_evidence: bool,
    /// Device id (hex) found in existing evidence, if any.
    pub device_ids: Vec<String>,
}

/// Journal path of a segment media path.
pub fn journal_path(media: &Path) -> PathBuf {
    media.with_extension("journal")
}

/// Every journal under `recordings/`.
pub fn journals(recordings: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !recordings.exists() {
        return Ok(out);
    }
    for dir in std::fs::read_dir(recordings)? {
        let dir = dir?.path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir)? {
            let p = f?.path();
            if p.extension().is_some_and(|e| e == "journal") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn advance(head: &mut ChainHead, counter: u64, hash: [u8; 32]) {
    if counter + 1 > head.count {
        *head = ChainHead {
            count: counter + 1,
            hash,
        };
    }
}

/// Scan the store at `root`.
pub fn scan(flash: &dyn Flash, root: &Path) -> std::io::Result<BootScan> {
    let mut out = BootScan::default();
    let mut ids = std::collections::BTreeSet::new();
    for j in journals(&root.join(RECORDINGS_DIR))? {
        let data = std::fs::read(&j)?;
        let (records, _torn) = decode_file(&data);
        for r in records {
            out.any_evidence = true;
            ids.insert(hex::encode(r.header.device_id));
            advance(&mut out.media, r.header.counter, r.raw.hash());
        }
    }
    let evidence = root.join(EVIDENCE_DIR);
    if let Ok(bytes) = std::fs::read(evidence.join(MEDIA_HEAD_FILE))
        && let Ok(raw) = record::parse(&bytes)
        && let Ok(r) = crate::evidence::payload::decode(raw)
    {
        out.any_evidence = true;
        ids.insert(hex::encode(r.header.device_id));
        advance(&mut out.media, r.header.counter, r.raw.hash());
    }
    let audit_path = evidence.join(AUDIT_FILE);
    if let Ok(data) = std::fs::read(&audit_path) {
        let (records, torn) = decode_file(&data);
        if let Some((pos, _)) = torn {
            flash.truncate_torn(&audit_path, pos as u64)?;
            out.audit_torn_bytes = (data.len() - pos) as u64;
        }
        for r in records {
            out.any_evidence = true;
            ids.insert(hex::encode(r.header.device_id));
            if let Payload::Audit(a) = &r.payload {
                out.last_audit_event = Some(a.event.clone());
            }
            advance(&mut out.audit, r.header.counter, r.raw.hash());
        }
    }
    out.device_ids = ids.into_iter().collect();
    Ok(out)
}
