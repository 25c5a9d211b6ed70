//! The audit log (every entry signed, the chain unbroken), and what its signed entries
//! say must exist in the store (`cross_check`, `apply_offloads`).

use std::path::Path;

use super::chain::{ChainIndex, ChainProblem, Link, analyse_chain, out_of_order};
use super::inputs::{Key, RecordingFiles};
use super::records::{Trust, Untrusted, parse_records, trust};
use super::report::{
    AuditEntry, AuditRef, AuditReport, Check, Finding, SegmentReport, Status, utc_text,
};
use crate::evidence::events::{AuditEvent, EventError};
use crate::evidence::payload::Payload;
use crate::evidence::record;

/// A signed audit entry whose detail says what media must exist (see [`cross_check`]).
#[derive(Debug, Clone)]
pub(super) struct Claim {
    /// Audit counter.
    counter: u64,
    /// The event.
    event: AuditEvent,
}

/// What an audit event means to the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Its detail says what media must exist.
    Claim,
    /// Worth showing in the report.
    Notable,
    /// Neither.
    Quiet,
}

fn role(e: &AuditEvent) -> Role {
    match e {
        AuditEvent::Boot { .. }
        | AuditEvent::RecordingStart { .. }
        | AuditEvent::RecordingStop { .. }
        | AuditEvent::HeadIssued { .. }
        | AuditEvent::OffloadAck { .. }
        | AuditEvent::SegmentFreed { .. } => Role::Claim,
        AuditEvent::UncleanShutdown { .. }
        | AuditEvent::TornTailRemoved { .. }
        | AuditEvent::Recovery { .. }
        | AuditEvent::Clock(_)
        | AuditEvent::PipelineFault { .. }
        | AuditEvent::StorageFull { .. }
        | AuditEvent::KeyCreated { .. }
        | AuditEvent::Trigger { .. }
        | AuditEvent::Mute { .. }
        | AuditEvent::Sleep { .. }
        | AuditEvent::PowerOff { .. }
        | AuditEvent::PeerRejected { .. }
        | AuditEvent::StorageError { .. }
        | AuditEvent::StorageRecovered { .. }
        | AuditEvent::Encryption { .. }
        | AuditEvent::OfficerAssigned { .. } => Role::Notable,
        AuditEvent::Shutdown {}
        | AuditEvent::Marker { .. }
        | AuditEvent::Stealth { .. }
        | AuditEvent::StorageLow { .. }
        | AuditEvent::PipelineStart { .. }
        | AuditEvent::Docked { .. }
        | AuditEvent::Undocked { .. }
        | AuditEvent::BatteryLow { .. }
        | AuditEvent::PeerAnnounced { .. }
        | AuditEvent::PeerLink { .. }
        | AuditEvent::LocationLink { .. }
        | AuditEvent::RequestRefused { .. } => Role::Quiet,
    }
}

/// Check the audit log. `required`: the store holds media evidence, so a boot entry
/// must have been logged before it (an absent log is then MISSING).
pub(super) fn verify_audit(
    key: &Key,
    path: &Path,
    required: bool,
) -> (AuditReport, ChainIndex, Vec<Claim>) {
    let mut report = AuditReport {
        status: Status::Ok,
        present: false,
        entries: 0,
        verified: 0,
        first_counter: None,
        last_counter: None,
        findings: Vec::new(),
        torn_tail_bytes: 0,
        unknown_events: Vec::new(),
        problems: Vec::new(),
        notable: Vec::new(),
    };
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return (report, ChainIndex::default(), Vec::new());
        }
        Err(e) => {
            report.findings.push(Finding::new(
                Status::Missing,
                Check::Read,
                format!("cannot read {}: {e}", path.display()),
            ));
            report.status = Status::Missing;
            return (report, ChainIndex::default(), Vec::new());
        }
    };
    report.present = true;
    let (links, claims, torn_at) = check_entries(key, &data, &mut report);
    if let Some(pos) = torn_at {
        torn_tail(key, &data, pos, &links, &mut report);
    }
    let index = ChainIndex::of(&links);
    report.first_counter = index.first;
    report.last_counter = index.last;
    report.problems = analyse_chain(&links, true);
    report
        .problems
        .extend(out_of_order(&links, |r: &AuditRef| ((), r.entry)));
    report.status = audit_status(&report);
    (report, index, claims)
}

/// Signatures, kinds and devices of the log's records, and their events: the verified
/// links, and the events whose details make claims about the store.
fn check_entries(
    key: &Key,
    data: &[u8],
    report: &mut AuditReport,
) -> (Vec<Link<AuditRef>>, Vec<Claim>, Option<u64>) {
    let parsed = parse_records(data, "audit log");
    let torn_at = parsed.torn_at;
    report.entries = parsed.total;
    report.findings.extend(parsed.findings);
    let mut untrusted = Untrusted::default();
    let mut links = Vec::new();
    let mut claims = Vec::new();
    for (index, _offset, rec) in parsed.records {
        let t = trust(key, &rec);
        if !matches!(t, Trust::Verified) {
            untrusted.add(&t, rec.header.counter);
            continue;
        }
        let Payload::Audit(a) = &rec.payload else {
            report.findings.push(Finding::new(
                Status::Tampered,
                Check::Kind,
                format!("audit log entry {index} is not an audit record"),
            ));
            continue;
        };
        if rec.header.device_id != key.device_id {
            report.findings.push(Finding::new(
                Status::Tampered,
                Check::DeviceId,
                format!("audit log entry {index} verifies but names another device"),
            ));
        }
        read_event(index, &rec, a, report, &mut claims);
        links.push(Link::of(&rec, AuditRef { entry: index }));
    }
    report
        .findings
        .extend(untrusted.findings("audit", report.entries, key));
    report.verified = links.len();
    (links, claims, torn_at)
}

/// What a verified entry says: a claim to check, a notable event, an event this
/// verifier does not know (reported, not checked), or a detail that is not what the
/// format defines (TAMPERED; the entry keeps its place in the chain).
fn read_event(
    index: usize,
    rec: &crate::evidence::payload::Record,
    a: &crate::evidence::payload::Audit,
    report: &mut AuditReport,
    claims: &mut Vec<Claim>,
) {
    let counter = rec.header.counter;
    let detail: serde_json::Value = match serde_json::from_str(&a.detail) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        Ok(_) | Err(_) => {
            report.findings.push(Finding::new(
                Status::Tampered,
                Check::AuditEvent,
                format!(
                    "audit log entry {index} (counter {counter}, {:?}): the detail is not a JSON object",
                    a.event
                ),
            ));
            return;
        }
    };
    let entry = || AuditEntry {
        counter,
        utc: utc_text(rec.header.utc_ms),
        event: a.event.clone(),
        detail: detail.clone(),
    };
    match AuditEvent::parse(&a.event, &a.detail) {
        Ok(event) => match role(&event) {
            Role::Claim => claims.push(Claim { counter, event }),
            Role::Notable => report.notable.push(entry()),
            Role::Quiet => {}
        },
        Err(EventError::Unknown(_)) => report.unknown_events.push(entry()),
        Err(e @ EventError::BadDetail { .. }) => report.findings.push(Finding::new(
            Status::Tampered,
            Check::AuditEvent,
            format!("audit log entry {index} (counter {counter}): {e}"),
        )),
    }
}

/// The log ends inside a record starting at `pos`. It is a TORN_TAIL, a power cut
/// during an append, when every header byte it holds is what the next entry of this
/// chain must hold (version, kind, device id, counter, previous hash); otherwise it
/// stays TRUNCATED.
fn torn_tail(key: &Key, data: &[u8], pos: u64, links: &[Link<AuditRef>], report: &mut AuditReport) {
    let Some(tail) = usize::try_from(pos).ok().and_then(|p| data.get(p..)) else {
        return;
    };
    let newest = links.iter().max_by_key(|l| l.counter);
    let (counter, prev) = match newest {
        Some(l) => (l.counter.saturating_add(1), l.hash),
        None => (0, [0u8; 32]),
    };
    let mut expected = Vec::with_capacity(8 + 58);
    expected.extend_from_slice(record::MAGIC);
    let body_len = tail.get(4..8);
    match body_len {
        Some(b) => expected.extend_from_slice(b),
        None => expected.extend_from_slice(&tail[tail.len().min(4)..]),
    }
    expected.push(record::VERSION);
    expected.push(record::Kind::Audit.code());
    expected.extend_from_slice(&key.device_id);
    expected.extend_from_slice(&counter.to_be_bytes());
    expected.extend_from_slice(&prev);
    let n = tail.len().min(expected.len());
    if tail[..n] != expected[..n] {
        for f in report.findings.iter_mut() {
            if f.status == Status::Truncated {
                f.message.push_str(
                    "; its bytes are not the start of the next entry, so this is not a torn append",
                );
            }
        }
        return;
    }
    report.findings.retain(|f| f.status != Status::Truncated);
    report.torn_tail_bytes = tail.len() as u64;
    report.findings.push(Finding::new(
        Status::TornTail,
        Check::Parse,
        format!(
            "the log ends in a torn record: {} byte(s) from byte {pos} are the start of entry {counter}, never completed (a power cut during an append); the device cuts them at its next start",
            tail.len()
        ),
    ));
}

/// The worst of the log's findings and its chain problems (a gap is MISSING entries).
fn audit_status(report: &AuditReport) -> Status {
    let chain_status = report
        .problems
        .iter()
        .map(|p| match p {
            ChainProblem::Gap { .. } => Status::Missing,
            ChainProblem::DuplicateCounter { .. } | ChainProblem::BrokenLink { .. } => {
                Status::Tampered
            }
            ChainProblem::OutOfOrder { .. } => Status::Reordered,
        })
        .max_by_key(|s| s.severity())
        .unwrap_or(Status::Ok);
    [Status::of(&report.findings), chain_status]
        .into_iter()
        .max_by_key(|s| s.severity())
        .unwrap_or(Status::Ok)
}

/// What the signed audit log says must exist, against the store: every recording
/// started has its directory (the device never deletes one), a stopped recording has
/// at least the segments it closed, and the media chain reaches the count a `boot` or
/// `head_issued` entry saw. Catches removal of the newest footage unless the newest
/// audit entries were removed too (which only a head statement catches).
/// `deleted`: segments a fetched store's deletion records account for (DELETED), by
/// recording: they count as present.
pub(super) fn cross_check(
    claims: &[Claim],
    recordings: &[RecordingFiles],
    media: &ChainIndex,
    deleted: &std::collections::BTreeMap<String, std::collections::BTreeSet<u32>>,
) -> Vec<Finding> {
    let found = media.last.map_or(0, |l| l + 1);
    let recording = |id: &str| recordings.iter().find(|r| r.id == id);
    let deleted_max = |id: &str| {
        deleted
            .get(id)
            .and_then(|s| s.iter().next_back().copied())
            .map_or(0, u64::from)
    };
    let missing = |message: String| Finding::new(Status::Missing, Check::AuditClaims, message);
    let saw = |counter: u64, event: &str, n: u64| {
        (n > found).then(|| {
            missing(format!(
                "audit record {counter} ({event}) saw {n} media records, but the store holds {found}: the newest are missing"
            ))
        })
    };
    let mut out = Vec::new();
    for c in claims {
        let finding = match &c.event {
            AuditEvent::RecordingStart { recording_id, .. } => (recording(recording_id)
                .is_none()
                && !deleted.contains_key(recording_id))
            .then(|| {
                    missing(format!(
                        "audit record {} says recording {recording_id} started, but its directory is gone",
                        c.counter
                    ))
                }),
            AuditEvent::RecordingStop {
                recording_id,
                segments: closed,
                ..
            } => {
                let present = recording(recording_id).map_or(0, |r| {
                    r.segments
                        .iter()
                        .filter(|(_, f)| f.media.is_some() || f.journal.is_some())
                        .map(|(&seq, _)| u64::from(seq))
                        .max()
                        .unwrap_or(0)
                });
                let present = present.max(deleted_max(recording_id));
                (present < *closed).then(|| {
                    missing(format!(
                        "audit record {} says recording {recording_id} closed {closed} segment(s), but only {present} are there",
                        c.counter
                    ))
                })
            }
            AuditEvent::Boot {
                media_chain_count, ..
            } => saw(c.counter, "boot", *media_chain_count),
            AuditEvent::HeadIssued { media_count, .. } => {
                saw(c.counter, "head_issued", *media_count)
            }
            // Checked against each segment by `apply_offloads`.
            AuditEvent::OffloadAck { .. } | AuditEvent::SegmentFreed { .. } => None,
            AuditEvent::UncleanShutdown { .. }
            | AuditEvent::Shutdown {}
            | AuditEvent::KeyCreated { .. }
            | AuditEvent::Recovery { .. }
            | AuditEvent::TornTailRemoved { .. }
            | AuditEvent::Marker { .. }
            | AuditEvent::Stealth { .. }
            | AuditEvent::Clock(_)
            | AuditEvent::StorageLow { .. }
            | AuditEvent::StorageFull { .. }
            | AuditEvent::PipelineFault { .. }
            | AuditEvent::PipelineStart { .. }
            | AuditEvent::RequestRefused { .. }
            | AuditEvent::StorageError { .. }
            | AuditEvent::StorageRecovered { .. }
            | AuditEvent::Docked { .. }
            | AuditEvent::Undocked { .. }
            | AuditEvent::Trigger { .. }
            | AuditEvent::Mute { .. }
            | AuditEvent::Sleep { .. }
            | AuditEvent::BatteryLow { .. }
            | AuditEvent::PowerOff { .. }
            | AuditEvent::PeerAnnounced { .. }
            | AuditEvent::PeerRejected { .. }
            | AuditEvent::PeerLink { .. }
            | AuditEvent::LocationLink { .. }
            | AuditEvent::Encryption { .. }
            | AuditEvent::OfficerAssigned { .. } => None,
        };
        out.extend(finding);
    }
    out
}

/// A segment whose media is absent is OFFLOADED, not MISSING, when the signed audit log
/// holds both a dock's acknowledgement with the segment's signed hash and the deletion.
pub(super) fn apply_offloads(claims: &[Claim], segments: &mut [SegmentReport]) {
    for r in segments.iter_mut() {
        let Some(signed) = r.signed_sha256.clone() else {
            continue;
        };
        let this = |rec: &str, seg: u32| rec == r.recording_id && seg == r.segment;
        // The first acknowledgement with the signed hash, and a deletion logged after it.
        let acked = claims
            .iter()
            .filter(|c| match &c.event {
                AuditEvent::OffloadAck {
                    recording_id,
                    segment,
                    sha256,
                    ..
                } => this(recording_id, *segment) && sha256.eq_ignore_ascii_case(&signed),
                _ => false,
            })
            .map(|c| c.counter)
            .min();
        let freed = claims.iter().any(|c| match &c.event {
            AuditEvent::SegmentFreed {
                recording_id,
                segment,
                ..
            } => this(recording_id, *segment) && acked.is_some_and(|a| c.counter > a),
            _ => false,
        });
        if !freed {
            continue;
        }
        for f in r.findings.iter_mut() {
            if f.status == Status::Missing && f.check == Check::Files {
                *f = Finding::new(
                    Status::Offloaded,
                    Check::Files,
                    "media freed on the device after a dock acknowledged it with the signed hash (audit log)",
                );
            }
        }
        r.status = Status::of(&r.findings);
    }
}
