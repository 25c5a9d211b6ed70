//! Segments deleted from the cloud under retention (docs/EVIDENCE-FORMAT.md §7.1): in
//! a store fetched from the container, `evidence/deletions.jsonl` holds the deletion
//! records ([`crate::evidence::deletion`]). A segment they name that is not in the
//! store is DELETED, not MISSING, when its journal's recorded span fills a gap of the
//! media chain exactly and links to the signed records on both sides: the record
//! before the gap hashes to the first span's `first_prev_hash`, consecutive spans
//! link, and the record after the gap carries the last span's `last_hash` as its
//! `prev_hash` (or the spans reach the end of the chain). A span that does not link is
//! MISSING: a deletion record cannot make a gap acceptable by itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::chain::{ChainIndex, ChainProblem, Link};
use super::report::{Check, Finding, SegmentRef, SegmentReport, Status};
use crate::evidence::deletion::{ChainSpan, DeletionRecord, parse_log};
use crate::layout;

/// One deleted segment from a deletion record.
#[derive(Debug, Clone)]
struct Deleted {
    recording_id: String,
    segment: u32,
    span: ChainSpan,
    media_sha256: Option<String>,
    /// `deleted <utc> under retention (category, days)`.
    why: String,
}

/// The deleted segments the store accounts for, by recording (for the audit log's
/// claims: a recording whose segments were all deleted under retention has no
/// directory).
#[derive(Debug, Default)]
pub(super) struct Accounted {
    /// Recording id → deleted segment numbers accepted as DELETED.
    pub(super) segments: BTreeMap<String, BTreeSet<u32>>,
}

/// Read `root/evidence/deletions.jsonl` (absent: nothing deleted) for the device.
fn load(root: &Path, device_id: &str, notes: &mut Vec<String>) -> Vec<Deleted> {
    let path = layout::deletions_path(root);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in parse_log(&text) {
        match r {
            Ok(rec) if rec.device_id == device_id => out.extend(segments_of(&rec)),
            Ok(rec) => notes.push(format!(
                "{}: a deletion record for another device ({}) ignored",
                path.display(),
                rec.device_id
            )),
            Err((line, e)) => notes.push(format!(
                "{}: line {line} is not a deletion record ({e}); ignored",
                path.display()
            )),
        }
    }
    out
}

fn segments_of(rec: &DeletionRecord) -> Vec<Deleted> {
    rec.segments
        .iter()
        .filter_map(|s| {
            Some(Deleted {
                recording_id: rec.recording_id.clone(),
                segment: s.segment,
                span: s.span?,
                media_sha256: s.media_sha256.clone(),
                why: format!(
                    "deleted {} under retention (category {}, {} days + {} h; deletion record by {} on {}, not signed by the device)",
                    rec.utc, rec.rule.category, rec.rule.days, rec.rule.margin_hours, rec.operator, rec.host
                ),
            })
        })
        .collect()
}

/// Account for deleted segments: gaps they fill are removed from `problems`, their
/// last records join `index`, and each gets a report (DELETED, or MISSING when its span
/// does not link). Segments still in the store are left to their own checks, except
/// that a journal whose media is gone, with the hash the record names, is DELETED.
pub(super) fn account(
    root: &Path,
    device_id: &str,
    links: &[Link<SegmentRef>],
    problems: &mut Vec<ChainProblem<SegmentRef>>,
    index: &mut ChainIndex,
    segments: &mut Vec<SegmentReport>,
    notes: &mut Vec<String>,
) -> Accounted {
    let mut accounted = Accounted::default();
    let all = load(root, device_id, notes);
    if all.is_empty() {
        return accounted;
    }
    let mut seen = BTreeSet::new();
    let mut absent = Vec::new();
    for d in all {
        // A run finished after an interruption adds a second record for the rest of a
        // segment's blobs: the segment is one.
        if !seen.insert((d.recording_id.clone(), d.segment)) {
            continue;
        }
        match segments
            .iter_mut()
            .find(|s| s.recording_id == d.recording_id && s.segment == d.segment)
        {
            Some(s) => media_deleted(s, &d, &mut accounted),
            None => absent.push(d),
        }
    }
    absent.sort_by_key(|d| d.span.first_counter);
    let mut linked = vec![false; absent.len()];
    let by_counter: BTreeMap<u64, &Link<SegmentRef>> =
        links.iter().map(|l| (l.counter, l)).collect();
    problems.retain(|p| match p {
        ChainProblem::Gap { from, to, .. } => !fills(&absent, &mut linked, *from, *to, &by_counter),
        ChainProblem::DuplicateCounter { .. }
        | ChainProblem::BrokenLink { .. }
        | ChainProblem::OutOfOrder { .. } => true,
    });
    // Deleted spans after the newest record in the store (or a store with none).
    let last = by_counter.values().next_back().map(|l| (l.counter, l.hash));
    let start = last.map_or(0, |(c, _)| c + 1);
    let end = absent
        .iter()
        .map(|d| d.span.last_counter)
        .max()
        .unwrap_or(0);
    if end >= start {
        fills(&absent, &mut linked, start, end, &by_counter);
    }
    for (d, ok) in absent.iter().zip(linked) {
        let mut r = report(d);
        if ok {
            index
                .hashes
                .entry(d.span.last_counter)
                .or_default()
                .push(d.span.last_hash);
            accounted
                .segments
                .entry(d.recording_id.clone())
                .or_default()
                .insert(d.segment);
            r.findings
                .push(Finding::new(Status::Deleted, Check::Files, d.why.clone()));
        } else {
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Chain,
                format!(
                    "{}, but its recorded span (records {}..={}) does not link to the signed chain around it",
                    d.why, d.span.first_counter, d.span.last_counter
                ),
            ));
        }
        r.status = Status::of(&r.findings);
        segments.push(r);
    }
    index.first = index.hashes.keys().next().copied();
    index.last = index.hashes.keys().next_back().copied();
    segments.sort_by(|a, b| (&a.recording_id, a.segment).cmp(&(&b.recording_id, b.segment)));
    accounted
}

/// Whether the spans tile counters `from..=to` exactly, each linking to the one before
/// (the store's record `from − 1`, or the zero hash at 0) and the store's record
/// `to + 1` (if any) linking to the last. Marks the spans used.
fn fills(
    spans: &[Deleted],
    linked: &mut [bool],
    from: u64,
    to: u64,
    store: &BTreeMap<u64, &Link<SegmentRef>>,
) -> bool {
    let mut prev_hash = if from == 0 {
        Some([0u8; 32])
    } else {
        store.get(&(from - 1)).map(|l| l.hash)
    };
    let mut next = from;
    let mut used = Vec::new();
    while next <= to {
        let Some(i) = spans.iter().position(|d| {
            d.span.first_counter == next && Some(d.span.first_prev_hash) == prev_hash
        }) else {
            return false;
        };
        used.push(i);
        prev_hash = Some(spans[i].span.last_hash);
        next = spans[i].span.last_counter + 1;
    }
    if next != to + 1 {
        return false;
    }
    if let Some(after) = store.get(&(to + 1))
        && Some(after.prev) != prev_hash
    {
        return false;
    }
    for i in used {
        linked[i] = true;
    }
    true
}

/// A segment whose journal is in the store but whose media was deleted (a retention
/// run interrupted between its deletes): DELETED when the record names its signed hash.
fn media_deleted(s: &mut SegmentReport, d: &Deleted, accounted: &mut Accounted) {
    let same_hash = s.signed_sha256.is_some() && s.signed_sha256 == d.media_sha256;
    let mut changed = false;
    for f in s.findings.iter_mut() {
        if same_hash && f.status == Status::Missing && f.check == Check::Files {
            *f = Finding::new(Status::Deleted, Check::Files, d.why.clone());
            changed = true;
        }
    }
    if changed {
        accounted
            .segments
            .entry(d.recording_id.clone())
            .or_default()
            .insert(d.segment);
        s.status = Status::of(&s.findings);
    }
}

fn report(d: &Deleted) -> SegmentReport {
    SegmentReport {
        recording_id: d.recording_id.clone(),
        segment: d.segment,
        status: Status::Ok,
        findings: Vec::new(),
        media_bytes: None,
        records: 0,
        verified_records: 0,
        counters: Some([d.span.first_counter, d.span.last_counter]),
        seconds: None,
        duration_seconds: None,
        end_reason: None,
        recovered_tail: None,
        unsigned_tail: None,
        signed_sha256: d.media_sha256.clone(),
        inserted_silence: Vec::new(),
        encryption: None,
        track: Vec::new(),
        sealed_locations: 0,
        officer: None,
        sidecar_signed: false,
        mute_spans: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(first: u64, prev: u8, last: u64, hash: u8) -> Deleted {
        Deleted {
            recording_id: "r".into(),
            segment: first as u32,
            span: ChainSpan {
                first_counter: first,
                first_prev_hash: [prev; 32],
                last_counter: last,
                last_hash: [hash; 32],
            },
            media_sha256: None,
            why: String::new(),
        }
    }

    fn link(counter: u64, prev: u8, hash: u8) -> Link<SegmentRef> {
        Link {
            counter,
            prev: [prev; 32],
            hash: [hash; 32],
            at: SegmentRef {
                recording_id: "r".into(),
                segment: 9,
                record: 0,
            },
        }
    }

    #[test]
    fn spans_fill_a_gap_only_when_they_tile_it_and_link_on_both_sides() {
        // Records 0..=1 deleted in two spans, record 2 in the store links to the last.
        let spans = vec![span(0, 0, 0, 10), span(1, 10, 1, 11)];
        let l2 = link(2, 11, 12);
        let store = BTreeMap::from([(2, &l2)]);
        let mut used = vec![false; 2];
        assert!(fills(&spans, &mut used, 0, 1, &store));
        assert_eq!(used, [true, true]);
        // The record after the gap names another hash: not accounted for.
        let l2x = link(2, 99, 12);
        let store = BTreeMap::from([(2, &l2x)]);
        let mut used = vec![false; 2];
        assert!(!fills(&spans, &mut used, 0, 1, &store));
        assert_eq!(used, [false, false]);
        // A span missing in the middle: not accounted for.
        let holes = vec![span(0, 0, 0, 10), span(2, 11, 2, 12)];
        let l3 = link(3, 12, 13);
        let store = BTreeMap::from([(3, &l3)]);
        assert!(!fills(&holes, &mut [false; 2], 0, 2, &store));
        // A first span that does not start from the zero hash at counter 0.
        let bad_origin = vec![span(0, 5, 1, 11)];
        let store = BTreeMap::from([(2, &l2)]);
        assert!(!fills(&bad_origin, &mut [false], 0, 1, &store));
        // Spans past the newest record in the store link to it.
        let l0 = link(0, 0, 10);
        let store = BTreeMap::from([(0, &l0)]);
        let tail = vec![span(1, 10, 4, 14)];
        assert!(fills(&tail, &mut [false], 1, 4, &store));
    }
}
