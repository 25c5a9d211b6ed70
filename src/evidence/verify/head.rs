//! Heads: `evidence/media.head` against the journals, and a head statement (`--head`)
//! against the media chain and the audit log.

use std::path::Path;

use super::VerifyError;
use super::chain::ChainIndex;
use super::inputs::Key;
use super::records::{Trust, single_record, trust};
use super::report::{Check, Finding, HeadReport, MediaHeadReport, Status, utc_text};
use crate::evidence::payload::{Payload, Record};
use crate::evidence::record::Kind;

/// Format tag of a head statement file (`bodycam ctl head`).
pub use crate::evidence::head::HEAD_FORMAT;
use crate::evidence::head::HeadStatement;

/// A head statement field as JSON, for comparing and quoting fields of either type alike.
fn json<T: serde::Serialize + ?Sized>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

pub(super) fn verify_media_head(key: &Key, path: &Path, media: &ChainIndex) -> MediaHeadReport {
    let mut r = MediaHeadReport {
        status: Status::Ok,
        present: false,
        counter: None,
        message: String::new(),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            r.status = Status::Missing;
            r.message = format!("cannot read {}: {e}", path.display());
            return r;
        }
    };
    if bytes.is_empty() {
        // Written atomically: absent until the first segment closes, and absent (or
        // empty, on some filesystems) after a power cut between a final record and its
        // copy. It can only confirm records, so its absence is not a failure.
        r.message = "absent or empty (no segment closed yet, or a power cut right after a \
                     close); the newest records cannot be cross-checked"
            .into();
        return r;
    }
    r.present = true;
    let rec = match single_record(&bytes) {
        Ok(rec) => rec,
        Err(e) => {
            r.status = Status::Tampered;
            r.message = format!("not a record: {e}");
            return r;
        }
    };
    r.counter = Some(rec.header.counter);
    match trust(key, &rec) {
        Trust::Verified => {}
        Trust::Foreign(id, from) => {
            r.status = Status::Foreign;
            r.message = format!(
                "signed by another device ({}, key from {from})",
                hex::encode(id)
            );
            return r;
        }
        Trust::Altered => {
            r.status = Status::Tampered;
            r.message =
                "altered after signing (the signature verifies under no key supplied)".into();
            return r;
        }
    }
    match rec.header.kind {
        Kind::Checkpoint
        | Kind::Final
        | Kind::Recovery
        | Kind::Keys
        | Kind::Location
        | Kind::SealedLocation => {}
        Kind::Audit | Kind::Head => {
            r.status = Status::Tampered;
            r.message = format!("holds a {:?} record, not a media record", rec.header.kind);
            return r;
        }
    }
    match media.find(rec.header.counter, &rec.raw.hash()) {
        Ok(()) => {
            r.message = format!("record {} is in the store, unchanged", rec.header.counter);
        }
        Err((status, message)) => {
            r.status = status;
            r.message = message;
        }
    }
    r
}

/// A parsed head statement file.
#[derive(Debug)]
pub(super) struct HeadFile {
    record: Record,
    statement: HeadStatement,
}

pub(super) fn load_head(path: &Path) -> Result<HeadFile, VerifyError> {
    let bad = |reason: String| VerifyError::BadHead {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| VerifyError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let statement: HeadStatement = serde_json::from_str(&text)
        .map_err(|e| bad(format!("not a head statement ({HEAD_FORMAT}): {e}")))?;
    let bytes =
        hex::decode(statement.record.trim()).map_err(|e| bad(format!("record is not hex: {e}")))?;
    let record = single_record(&bytes).map_err(|e| bad(format!("record: {e}")))?;
    match record.header.kind {
        Kind::Head => Ok(HeadFile { record, statement }),
        Kind::Checkpoint
        | Kind::Final
        | Kind::Recovery
        | Kind::Keys
        | Kind::Location
        | Kind::SealedLocation
        | Kind::Audit => Err(bad(format!(
            "holds a {:?} record, not a head record",
            record.header.kind
        ))),
    }
}

pub(super) fn check_head(
    key: &Key,
    h: &HeadFile,
    media: &ChainIndex,
    audit: &ChainIndex,
) -> HeadReport {
    let rec = &h.record;
    let (nonce, audit_count, audit_hash) = match &rec.payload {
        Payload::Head(p) => (hex::encode(&p.nonce), p.audit_count, p.audit_hash),
        Payload::Checkpoint(_)
        | Payload::Final(_)
        | Payload::Recovery(_)
        | Payload::Location(_)
        | Payload::SealedLocation(_)
        | Payload::Keys(_)
        | Payload::Audit(_) => (String::new(), 0, [0u8; 32]),
    };
    let mut r = HeadReport {
        status: Status::Ok,
        nonce,
        signed_utc: utc_text(rec.header.utc_ms),
        media_count: rec.header.counter,
        audit_count,
        findings: Vec::new(),
    };
    match trust(key, rec) {
        Trust::Verified => {}
        Trust::Foreign(id, from) => r.findings.push(Finding::new(
            Status::Foreign,
            Check::Signature,
            format!(
                "signed by another device ({}, key from {from})",
                hex::encode(id)
            ),
        )),
        Trust::Altered => r.findings.push(Finding::new(
            Status::Tampered,
            Check::Signature,
            "altered after signing (the signature verifies under no key supplied)",
        )),
    }
    if r.findings.is_empty() {
        // The unsigned JSON fields must say what the signed record says.
        let st = &h.statement;
        let expect = [
            ("format", json(&st.format), json(HEAD_FORMAT)),
            (
                "device_id",
                json(&st.device_id),
                json(&hex::encode(rec.header.device_id)),
            ),
            ("nonce", json(&st.nonce), json(&r.nonce)),
            (
                "media_count",
                json(&st.media_count),
                json(&rec.header.counter),
            ),
            (
                "media_hash",
                json(&st.media_hash),
                json(&hex::encode(rec.header.prev_hash)),
            ),
            ("audit_count", json(&st.audit_count), json(&audit_count)),
            (
                "audit_hash",
                json(&st.audit_hash),
                json(&hex::encode(audit_hash)),
            ),
        ];
        for (field, got, want) in expect {
            if got != want {
                r.findings.push(Finding::new(
                    Status::Tampered,
                    Check::Head,
                    format!("field {field} ({got}) differs from the signed record ({want})"),
                ));
            }
        }
        if rec.header.counter > 0
            && let Err((status, message)) =
                media.find(rec.header.counter - 1, &rec.header.prev_hash)
        {
            r.findings.push(Finding::new(
                status,
                Check::Head,
                format!("media chain: {message}"),
            ));
        }
        if audit_count > 0
            && let Err((status, message)) = audit.find(audit_count - 1, &audit_hash)
        {
            r.findings.push(Finding::new(
                status,
                Check::Head,
                format!("audit log: {message}"),
            ));
        }
    }
    r.status = Status::of(&r.findings);
    r
}
