//! The tests' one reader of audit logs: typed events, or names and raw details.

use std::path::Path;

use bodycam::evidence::events::AuditEvent;
use bodycam::evidence::payload::{Payload, decode_file};

/// Every entry of the audit log at `path` as (event, detail JSON text). The log must end
/// on a whole record.
fn entries(path: &Path) -> Vec<(String, String)> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (records, torn) = decode_file(&data);
    assert!(torn.is_none(), "{} ends in a torn record", path.display());
    records
        .into_iter()
        .filter_map(|r| match r.payload {
            Payload::Audit(a) => Some((a.event, a.detail)),
            _ => None,
        })
        .collect()
}

/// The audit log as typed events; every entry must be one this firmware defines.
pub fn audit_events(path: &Path) -> Vec<AuditEvent> {
    entries(path)
        .into_iter()
        .map(|(e, d)| AuditEvent::parse(&e, &d).unwrap_or_else(|err| panic!("{err}: {d}")))
        .collect()
}

/// The audit log as typed events with the UTC (ms) each was signed at.
pub fn audit_timed(path: &Path) -> Vec<(i64, AuditEvent)> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (records, torn) = decode_file(&data);
    assert!(torn.is_none(), "{} ends in a torn record", path.display());
    records
        .into_iter()
        .filter_map(|r| match r.payload {
            Payload::Audit(a) => Some((
                r.header.utc_ms,
                AuditEvent::parse(&a.event, &a.detail).unwrap_or_else(|e| panic!("{e}")),
            )),
            _ => None,
        })
        .collect()
}

/// The event names of the audit log, in order.
pub fn audit_names(path: &Path) -> Vec<String> {
    entries(path).into_iter().map(|(e, _)| e).collect()
}

/// The audit log as (event, detail) with the detail parsed as JSON.
pub fn audit_details(path: &Path) -> Vec<(String, serde_json::Value)> {
    entries(path)
        .into_iter()
        .map(|(e, d)| {
            let v = serde_json::from_str(&d).unwrap_or_else(|err| panic!("{err}: {d}"));
            (e, v)
        })
        .collect()
}
