//! Start-up scan: where the media and audit chains stand, from the journals on flash,
//! the last persisted media head, and the audit log (whose torn tail, if any, is cut).

use std::path::{Path, PathBuf};

use crate::evidence::ChainHead;
use crate::evidence::payload::{Payload, decode_file};
use crate::evidence::record;
use crate::flash::Flash;
use crate::layout;

/// What the scan found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootScan {
    /// Media chain head per device id (hex): evidence of another device on this flash
    /// must not move this device's chain.
    pub media: std::collections::BTreeMap<String, ChainHead>,
    /// Audit chain head per device id (hex).
    pub audit: std::collections::BTreeMap<String, ChainHead>,
    /// The audit log holds undecodable bytes before its end (damage, not a torn write):
    /// offset and reason. It is left as it is.
    pub audit_damaged: Option<(u64, String)>,
    /// Event of the last audit entry.
    pub last_audit_event: Option<String>,
    /// Bytes of a torn audit record cut off the log's end.
    pub audit_torn_bytes: u64,
    /// Whether any signed evidence exists (journals, audit log, media head).
    pub any_evidence: bool,
    /// Device id (hex) found in existing evidence, if any.
    pub device_ids: Vec<String>,
}

impl BootScan {
    /// Media and audit chain heads of `device_id` (hex).
    pub fn heads_for(&self, device_id: &str) -> (ChainHead, ChainHead) {
        (
            self.media.get(device_id).copied().unwrap_or_default(),
            self.audit.get(device_id).copied().unwrap_or_default(),
        )
    }
}

/// Every journal under `recordings/`, oldest recording first.
pub fn journals(recordings: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (_, dir) in layout::recording_dirs(recordings)? {
        out.extend(
            layout::segment_files(&dir)?
                .into_values()
                .filter_map(|f| f.journal),
        );
    }
    Ok(out)
}

fn advance(
    heads: &mut std::collections::BTreeMap<String, ChainHead>,
    device: &[u8],
    counter: u64,
    hash: [u8; 32],
) {
    let head = heads.entry(hex::encode(device)).or_default();
    // Counters come from records whose signatures are not checked here: any value,
    // u64::MAX included, must not overflow (found by the audit_log fuzz target).
    let count = counter.saturating_add(1);
    if count > head.count {
        *head = ChainHead { count, hash };
    }
}

/// Scan the store at `root`.
pub fn scan(flash: &dyn Flash, root: &Path) -> std::io::Result<BootScan> {
    let mut out = BootScan::default();
    let mut ids = std::collections::BTreeSet::new();
    for j in journals(&layout::recordings_dir(root))? {
        let data = std::fs::read(&j)?;
        let (records, _torn) = decode_file(&data);
        for r in records {
            out.any_evidence = true;
            ids.insert(hex::encode(r.header.device_id));
            advance(
                &mut out.media,
                &r.header.device_id,
                r.header.counter,
                r.raw.hash(),
            );
        }
    }
    if let Ok(bytes) = std::fs::read(layout::media_head_path(root))
        && let Ok(raw) = record::parse(&bytes)
        && let Ok(r) = crate::evidence::payload::decode(raw)
    {
        out.any_evidence = true;
        ids.insert(hex::encode(r.header.device_id));
        advance(
            &mut out.media,
            &r.header.device_id,
            r.header.counter,
            r.raw.hash(),
        );
    }
    let audit_path = layout::audit_path(root);
    if let Ok(data) = std::fs::read(&audit_path) {
        let (records, torn) = decode_file(&data);
        match torn {
            // A write cut short at the end: unsigned bytes, cut so appends stay readable.
            Some((pos, e)) if e.is_torn_tail() => {
                flash.truncate_torn(&audit_path, pos as u64)?;
                out.audit_torn_bytes = (data.len() - pos) as u64;
            }
            Some((pos, e)) => out.audit_damaged = Some((pos as u64, e.to_string())),
            None => {}
        }
        for r in records {
            out.any_evidence = true;
            ids.insert(hex::encode(r.header.device_id));
            if let Payload::Audit(a) = &r.payload {
                out.last_audit_event = Some(a.event.clone());
            }
            advance(
                &mut out.audit,
                &r.header.device_id,
                r.header.counter,
                r.raw.hash(),
            );
        }
    }
    out.device_ids = ids.into_iter().collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::audit::AuditLog;
    use crate::evidence::events::AuditEvent;
    use crate::evidence::identity::Identity;
    use crate::evidence::{FixedTime, Signer};
    use crate::flash::RealFlash;

    fn signer(dir: &Path) -> Signer {
        let (id, _) = Identity::load_or_create(dir, false).unwrap();
        Signer::new(
            id,
            Box::new(FixedTime {
                utc_ms: 0,
                mono_ns: 0,
            }),
            [0; 16],
            ChainHead::default(),
            ChainHead::default(),
        )
    }

    fn audit_with_three(root: &Path, s: &mut Signer) -> PathBuf {
        std::fs::create_dir_all(layout::evidence_dir(root)).unwrap();
        let path = layout::audit_path(root);
        let mut log = AuditLog::open(&RealFlash, &path).unwrap();
        let marker = AuditEvent::Marker {
            recording_id: "r".into(),
            trigger: "ctl".into(),
            utc: "2026-01-01T00:00:00.000Z".into(),
        };
        for e in [
            AuditEvent::Stealth { on: true },
            marker,
            AuditEvent::Shutdown {},
        ] {
            log.append(s, &e).unwrap();
        }
        path
    }

    #[test]
    fn torn_audit_tail_is_cut_but_damage_is_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let mut s = signer(&d.path().join("keys"));
        let path = audit_with_three(d.path(), &mut s);
        let full = std::fs::read(&path).unwrap();
        let own = hex::encode(s.identity().device_id());
        let lens: Vec<usize> = decode_file(&full)
            .0
            .iter()
            .map(|r| r.raw.bytes.len())
            .collect();

        // A write cut short: the last record loses its end.
        std::fs::write(&path, &full[..full.len() - 10]).unwrap();
        let found = scan(&RealFlash, d.path()).unwrap();
        assert_eq!(found.audit_torn_bytes, lens[2] as u64 - 10);
        assert_eq!(found.heads_for(&own).1.count, 2);
        assert_eq!(found.last_audit_event.as_deref(), Some("marker"));
        assert_eq!(std::fs::read(&path).unwrap().len(), lens[0] + lens[1]);

        // Damage in the middle is not a torn write: nothing is cut.
        let mut damaged = full.clone();
        damaged[lens[0] + 1] ^= 0xff;
        std::fs::write(&path, &damaged).unwrap();
        let found = scan(&RealFlash, d.path()).unwrap();
        assert!(found.audit_damaged.is_some());
        assert_eq!(found.audit_torn_bytes, 0);
        assert_eq!(std::fs::read(&path).unwrap(), damaged);
    }

    #[test]
    fn another_devices_evidence_does_not_move_this_devices_chain() {
        let d = tempfile::tempdir().unwrap();
        let mut other = signer(&d.path().join("other-keys"));
        audit_with_three(d.path(), &mut other);
        let mine = signer(&d.path().join("keys"));
        let found = scan(&RealFlash, d.path()).unwrap();
        assert!(found.any_evidence);
        let own = hex::encode(mine.identity().device_id());
        assert_eq!(
            found.heads_for(&own),
            (ChainHead::default(), ChainHead::default())
        );
        let theirs = hex::encode(other.identity().device_id());
        assert_eq!(found.heads_for(&theirs).1.count, 3);
    }
}
