//! One segment: its files, the journal's records (trust, kind, location), structure,
//! coverage and hashes of the media, and the close (final record, recovery or none).
//!
//! [`verify_segment`] reads as the list of steps; each step adds its findings to the
//! segment's report in the order checked, and a step that leaves nothing to check
//! further (no journal, no media) ends the segment there.

use std::collections::BTreeMap;
use std::path::Path;

use super::chain::Link;
use super::hashing::{Pass, hash_pass, hash_range, whole_matches};
use super::inputs::{Key, SegmentFiles};
use super::records::{Trust, Untrusted, parse_records, trust};
use super::render::Progress;
use super::report::{
    Check, Finding, SegmentRef, SegmentReport, Status, Tail, TrackPoint, pts_seconds, utc_text,
};
use crate::evidence::payload::{Checkpoint, Final, Payload, Record, Recovery};
use crate::evidence::record;
use crate::evidence::sidecar::{EndReason, SegmentMeta};

/// Check one segment: its journal's records, the media against what they signed, and
/// how the segment was closed. Verified media records are added to `links` for the
/// chain analysis.
pub(super) fn verify_segment(
    key: &Key,
    recording_id: &str,
    seq: u32,
    files: &SegmentFiles,
    links: &mut Vec<Link<SegmentRef>>,
    progress: &mut Progress,
) -> SegmentReport {
    let mut r = empty_report(recording_id, seq);
    let media_len = files
        .media
        .as_ref()
        .map(|p| std::fs::metadata(p).map(|m| m.len()));
    r.media_bytes = media_len.as_ref().and_then(|m| m.as_ref().ok().copied());
    let Some(journal) = read_journal(files, &mut r) else {
        return finish_segment(r);
    };
    let verified = check_records(key, &journal, links, &mut r);
    let signed = Signed::of(&verified, &mut r);
    r.track = signed.track.clone();
    let Some(media_path) = media_file(files, media_len, signed.close, &mut r) else {
        return finish_segment(r);
    };
    let Some(media) = hash_media(media_path, &signed, progress, &mut r) else {
        return finish_segment(r);
    };
    check_ranges(&media, &signed, &mut r);
    match signed.close.map(|c| (&c.payload, c.header.utc_ms)) {
        Some((Payload::Final(f), _)) => check_final(f, &media, files, &mut r),
        Some((Payload::Recovery(v), utc_ms)) => {
            check_recovery(v, utc_ms, &media, &signed, files, &mut r);
        }
        Some((
            Payload::Checkpoint(_)
            | Payload::Location(_)
            | Payload::SealedLocation(_)
            | Payload::Keys(_)
            | Payload::Audit(_)
            | Payload::Head(_),
            _,
        ))
        | None => {
            open_tail(&media, &signed, &mut r);
        }
    }
    super::sealed::check_sealed(&verified, media.path, &mut r);
    let encrypted = r.encryption.is_some();
    super::silence::check_silence(media_path, files.sidecar.as_deref(), encrypted, &mut r);
    finish_segment(r)
}

pub(super) fn empty_report(recording_id: &str, seq: u32) -> SegmentReport {
    SegmentReport {
        recording_id: recording_id.to_string(),
        segment: seq,
        status: Status::Ok,
        findings: Vec::new(),
        media_bytes: None,
        records: 0,
        verified_records: 0,
        counters: None,
        seconds: None,
        duration_seconds: None,
        end_reason: None,
        recovered_tail: None,
        unsigned_tail: None,
        signed_sha256: None,
        track: Vec::new(),
        mute_spans: Vec::new(),
        encryption: None,
        inserted_silence: Vec::new(),
        sealed_locations: 0,
        officer: None,
        sidecar_signed: false,
    }
}

/// The journal's bytes; `None` when there is none to read (the finding says why).
fn read_journal(files: &SegmentFiles, r: &mut SegmentReport) -> Option<Vec<u8>> {
    let journal_path = match (&files.journal, &files.media) {
        (Some(j), _) => j,
        (None, Some(_)) => {
            r.findings.push(Finding::new(
                Status::Unsigned,
                Check::Files,
                "media without a journal: nothing about it is signed",
            ));
            return None;
        }
        (None, None) => {
            let what = if files.sidecar.is_some() {
                "media and journal are gone (only the sidecar is left)"
            } else {
                "no files: a hole in the recording's sequence numbers"
            };
            r.findings
                .push(Finding::new(Status::Missing, Check::Files, what));
            return None;
        }
    };
    match std::fs::read(journal_path) {
        Ok(j) => Some(j),
        Err(e) => {
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Read,
                format!("cannot read {}: {e}", journal_path.display()),
            ));
            None
        }
    }
}

/// Signatures, kinds, locations: the journal's records that verify under the key (by
/// index), which are also added to `links`.
fn check_records(
    key: &Key,
    journal: &[u8],
    links: &mut Vec<Link<SegmentRef>>,
    r: &mut SegmentReport,
) -> Vec<(usize, Record)> {
    let parsed = parse_records(journal, "journal");
    r.records = parsed.total;
    r.findings.extend(parsed.findings);
    let mut untrusted = Untrusted::default();
    let mut named_elsewhere: BTreeMap<(String, u32), usize> = BTreeMap::new();
    let mut verified: Vec<(usize, Record)> = Vec::new();
    for (index, _offset, rec) in parsed.records {
        let t = trust(key, &rec);
        if !matches!(t, Trust::Verified) {
            untrusted.add(&t, rec.header.counter);
            continue;
        }
        if rec.header.device_id != key.device_id {
            r.findings.push(Finding::new(
                Status::Tampered,
                Check::DeviceId,
                format!(
                    "record {index} verifies but names device {}",
                    hex::encode(rec.header.device_id)
                ),
            ));
        }
        let Some(named) = named_segment(index, &rec, r) else {
            continue;
        };
        if named.0 != r.recording_id || named.1 != r.segment {
            *named_elsewhere.entry(named).or_default() += 1;
        }
        let at = SegmentRef {
            recording_id: r.recording_id.clone(),
            segment: r.segment,
            record: index,
        };
        links.push(Link::of(&rec, at));
        verified.push((index, rec));
    }
    r.findings
        .extend(untrusted.findings("journal", r.records, key));
    location_findings(named_elsewhere, r);
    r.verified_records = verified.len();
    if let (Some(first), Some(last)) = (
        verified.iter().map(|(_, v)| v.header.counter).min(),
        verified.iter().map(|(_, v)| v.header.counter).max(),
    ) {
        r.counters = Some([first, last]);
    }
    verified
}

/// The recording and segment a media record names; `None` (with the finding) for a
/// record of a kind that has no place in a journal.
fn named_segment(index: usize, rec: &Record, r: &mut SegmentReport) -> Option<(String, u32)> {
    match &rec.payload {
        Payload::Checkpoint(c) => Some((c.recording_id.clone(), c.segment)),
        Payload::Final(f) => Some((f.recording_id.clone(), f.segment)),
        Payload::Recovery(v) => Some((v.recording_id.clone(), v.segment)),
        Payload::Location(l) => Some((l.recording_id.clone(), l.segment)),
        Payload::SealedLocation(l) => Some((l.recording_id.clone(), l.segment)),
        Payload::Keys(k) => Some((k.recording_id.clone(), k.segment)),
        Payload::Audit(_) | Payload::Head(_) => {
            r.findings.push(Finding::new(
                Status::Tampered,
                Check::Kind,
                format!(
                    "record {index} is a {:?} record, which has no place in a journal",
                    rec.header.kind
                ),
            ));
            None
        }
    }
}

/// One finding per other segment that records in this journal were signed for.
fn location_findings(named_elsewhere: BTreeMap<(String, u32), usize>, r: &mut SegmentReport) {
    for ((rid, s), n) in named_elsewhere {
        let (status, what) = if rid == r.recording_id {
            (
                Status::Reordered,
                format!("segment {s:06} of this recording"),
            )
        } else {
            (Status::Spliced, format!("recording {rid} segment {s:06}"))
        };
        r.findings.push(Finding::new(
            status,
            Check::Location,
            format!("{n} record(s) in this journal were signed for {what}"),
        ));
    }
}

/// What the verified records of a journal sign.
struct Signed<'a> {
    /// Checkpoints in journal order, each with the UTC (ms) it was signed at.
    checkpoints: Vec<(&'a Checkpoint, i64)>,
    /// The final or recovery record, if any.
    close: Option<&'a Record>,
    /// PTS of the last video frame a checkpoint signed.
    last_video_pts: Option<u64>,
    /// The location samples, in journal order.
    track: Vec<TrackPoint>,
}

impl<'a> Signed<'a> {
    /// Structure: checkpoints, then exactly one final or recovery record, then nothing.
    fn of(verified: &'a [(usize, Record)], r: &mut SegmentReport) -> Signed<'a> {
        let mut checkpoints: Vec<(&Checkpoint, i64)> = Vec::new();
        let mut close: Option<&Record> = None;
        let mut track = Vec::new();
        for (index, rec) in verified {
            match (&rec.payload, close) {
                (_, Some(_)) => r.findings.push(Finding::new(
                    Status::Tampered,
                    Check::Close,
                    format!("record {index} follows the segment's final or recovery record"),
                )),
                (Payload::Checkpoint(c), None) => checkpoints.push((c, rec.header.utc_ms)),
                (Payload::Final(_) | Payload::Recovery(_), None) => close = Some(rec),
                (Payload::Location(l), None) => track.push(TrackPoint::of(l)),
                // Counted and checked (seq, keys record) with the sealing; opened only
                // by an examiner with the footage key.
                (Payload::SealedLocation(_), None) => r.sealed_locations += 1,
                // Its place (first, before any checkpoint) is checked with the media.
                (Payload::Keys(_), None) => {}
                (Payload::Audit(_) | Payload::Head(_), None) => {}
            }
        }
        let video: Vec<&Checkpoint> = checkpoints
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| c.video_frames > 0)
            .collect();
        if let (Some(a), Some(b)) = (video.first(), video.last()) {
            r.seconds = Some([pts_seconds(a.pts_first), pts_seconds(b.pts_last)]);
        }
        Signed {
            checkpoints,
            close,
            last_video_pts: video.last().map(|c| c.pts_last),
            track,
        }
    }
}

/// The media file to hash; `None` when it is absent or unreadable (the finding says
/// so). For an absent one the hash the closing record signed is kept: an offload in
/// the audit log can account for the absence.
fn media_file<'f>(
    files: &'f SegmentFiles,
    media_len: Option<std::io::Result<u64>>,
    close: Option<&Record>,
    r: &mut SegmentReport,
) -> Option<&'f Path> {
    match (&files.media, media_len) {
        (Some(p), Some(Ok(_))) => Some(p),
        (Some(p), Some(Err(e))) => {
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Read,
                format!("cannot read {}: {e}", p.display()),
            ));
            None
        }
        (Some(_), None) | (None, _) => {
            r.signed_sha256 = close.and_then(|c| match &c.payload {
                Payload::Final(f) => Some(hex::encode(f.segment_sha256)),
                Payload::Recovery(v) => Some(hex::encode(v.segment_sha256)),
                Payload::Checkpoint(_)
                | Payload::Location(_)
                | Payload::SealedLocation(_)
                | Payload::Keys(_)
                | Payload::Audit(_)
                | Payload::Head(_) => None,
            });
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Files,
                "journal without its media file",
            ));
            None
        }
    }
}

/// The media as hashed, and how far the checkpoints cover it.
struct Media<'a> {
    path: &'a Path,
    /// The one streaming pass.
    pass: Pass,
    /// Where the last checkpoint ends.
    covered: u64,
    /// Whether the checkpoints cover `[0, covered)` without holes or overlaps; then the
    /// pass holds each checkpoint's range hash.
    contiguous: bool,
}

/// Check the coverage and hash the media once; `None` when it cannot be read (the
/// finding says so).
fn hash_media<'a>(
    path: &'a Path,
    signed: &Signed,
    progress: &mut Progress,
    r: &mut SegmentReport,
) -> Option<Media<'a>> {
    let (covered, contiguous) = check_coverage(&signed.checkpoints, r);
    if let Some(Payload::Final(f)) = signed.close.map(|c| &c.payload)
        && contiguous
        && covered == f.total_len
    {
        let ranges: Vec<[u8; 32]> = signed
            .checkpoints
            .iter()
            .map(|(c, _)| c.range_sha256)
            .collect();
        if let Ok(Some(pass)) =
            whole_matches(path, f.total_len, &f.segment_sha256, &ranges, progress)
        {
            r.media_bytes = Some(pass.len);
            return Some(Media {
                path,
                pass,
                covered,
                contiguous,
            });
        }
    }
    let boundaries: Vec<u64> = if contiguous {
        std::iter::once(0)
            .chain(signed.checkpoints.iter().map(|(c, _)| c.byte_end))
            .collect()
    } else {
        vec![0]
    };
    let pass = match hash_pass(path, &boundaries, progress) {
        Ok(p) => p,
        Err(e) => {
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Read,
                format!("cannot read {}: {e}", path.display()),
            ));
            return None;
        }
    };
    r.media_bytes = Some(pass.len);
    Some(Media {
        path,
        pass,
        covered,
        contiguous,
    })
}

/// Coverage: contiguous from byte 0. Where the checkpoints end, and whether they are
/// contiguous.
fn check_coverage(checkpoints: &[(&Checkpoint, i64)], r: &mut SegmentReport) -> (u64, bool) {
    let mut end = 0u64;
    let mut contiguous = true;
    for (i, (c, _)) in checkpoints.iter().enumerate() {
        if c.byte_start != end || c.byte_end < c.byte_start {
            contiguous = false;
            r.findings.push(Finding::new(
                Status::Tampered,
                Check::Coverage,
                format!(
                    "checkpoint {i} covers [{}, {}) but the previous one ended at {end}",
                    c.byte_start, c.byte_end
                ),
            ));
        }
        end = c.byte_end;
    }
    (end, contiguous)
}

/// Each checkpoint's range against the media.
fn check_ranges(media: &Media, signed: &Signed, r: &mut SegmentReport) {
    let len = media.pass.len;
    for (i, (c, utc_ms)) in signed.checkpoints.iter().enumerate() {
        let got = if media.contiguous {
            media.pass.ranges.get(i).copied().flatten()
        } else {
            match hash_range(media.path, c.byte_start, c.byte_end) {
                Ok(h) => h,
                Err(e) => {
                    r.findings.push(Finding::new(
                        Status::Missing,
                        Check::Read,
                        format!("cannot read {}: {e}", media.path.display()),
                    ));
                    None
                }
            }
        };
        match got {
            Some(h) if h == c.range_sha256 => {}
            Some(_) => r.findings.push(
                Finding::new(
                    Status::Tampered,
                    Check::RangeHash,
                    format!(
                        "media bytes [{}, {}) differ from what checkpoint {i} signed",
                        c.byte_start, c.byte_end
                    ),
                )
                .bytes(c.byte_start, c.byte_end)
                .checkpoint_times(c)
                .signed_at(*utc_ms),
            ),
            None => r.findings.push(
                Finding::new(
                    Status::Tampered,
                    Check::RangeHash,
                    format!(
                        "media ends at byte {len}, inside the range [{}, {}) checkpoint {i} signed",
                        c.byte_start, c.byte_end
                    ),
                )
                .bytes(len.max(c.byte_start), c.byte_end)
                .checkpoint_times(c)
                .signed_at(*utc_ms),
            ),
        }
    }
}

/// Closed by a final record: length, whole-file hash, coverage up to the end, sidecar.
fn check_final(f: &Final, media: &Media, files: &SegmentFiles, r: &mut SegmentReport) {
    let (len, covered) = (media.pass.len, media.covered);
    r.end_reason = Some(f.end_reason);
    r.duration_seconds = Some(f.duration_90k as f64 / 90_000.0);
    check_length(r, f.total_len, len, "final");
    if media.pass.whole != f.segment_sha256 {
        r.findings.push(Finding::new(
            Status::Tampered,
            Check::SegmentHash,
            "the media file differs from what the final record signed",
        ));
    }
    if covered != f.total_len {
        r.findings.push(
            Finding::new(
                Status::Tampered,
                Check::Close,
                format!(
                    "checkpoints end at byte {covered} but the final record signed {} bytes",
                    f.total_len
                ),
            )
            .bytes(covered.min(f.total_len), covered.max(f.total_len)),
        );
    }
    check_sidecar(r, files.sidecar.as_deref(), &f.sidecar_sha256);
}

/// Closed by recovery after a restart: the tail starts where the checkpoints end, its
/// hash, the whole-file hash and the sidecar; the tail is reported (RECOVERED_TAIL).
fn check_recovery(
    v: &Recovery,
    utc_ms: i64,
    media: &Media,
    signed: &Signed,
    files: &SegmentFiles,
    r: &mut SegmentReport,
) {
    let (pass, len, covered) = (&media.pass, media.pass.len, media.covered);
    r.end_reason = Some(EndReason::Recovered);
    if v.byte_start != covered {
        r.findings.push(Finding::new(
            Status::Tampered,
            Check::Close,
            format!(
                "recovery record starts its tail at byte {} but the checkpoints end at {covered}",
                v.byte_start
            ),
        ));
    }
    check_length(r, v.byte_end, len, "recovery");
    let tail_ok = if media.contiguous && v.byte_start == covered && v.byte_end == len {
        pass.tail == v.tail_sha256
    } else {
        matches!(hash_range(media.path, v.byte_start, v.byte_end), Ok(Some(h)) if h == v.tail_sha256)
    };
    if !tail_ok {
        r.findings.push(
            Finding::new(
                Status::Tampered,
                Check::TailHash,
                format!(
                    "media bytes [{}, {}) differ from the tail the recovery record signed",
                    v.byte_start, v.byte_end
                ),
            )
            .bytes(v.byte_start, v.byte_end)
            .signed_at(utc_ms),
        );
    }
    if pass.whole != v.segment_sha256 {
        r.findings.push(Finding::new(
            Status::Tampered,
            Check::SegmentHash,
            "the media file differs from what the recovery record signed",
        ));
    }
    check_sidecar(r, files.sidecar.as_deref(), &v.sidecar_sha256);
    let tail = Tail {
        byte_range: [v.byte_start, v.byte_end],
        bytes: v.byte_end.saturating_sub(v.byte_start),
        seconds: pass.tail_scan.seconds_after(signed.last_video_pts),
        video_frames: pass.tail_scan.video_frames,
        signed_utc: utc_text(utc_ms),
    };
    r.findings.push(
        Finding::new(
            Status::RecoveredTail,
            Check::Close,
            format!(
                "closed by recovery after a restart: the last {} byte(s) ({} video frame(s), {:.2} s) were signed only then",
                tail.bytes, tail.video_frames, tail.seconds
            ),
        )
        .bytes(v.byte_start, v.byte_end)
        .signed_at(utc_ms),
    );
    r.recovered_tail = Some(tail);
}

/// Neither final nor recovery record: the bytes after the last checkpoint are unsigned
/// (OPEN).
fn open_tail(media: &Media, signed: &Signed, r: &mut SegmentReport) {
    let (pass, len, covered) = (&media.pass, media.pass.len, media.covered);
    let tail = Tail {
        byte_range: [covered.min(len), len],
        bytes: len.saturating_sub(covered),
        seconds: pass.tail_scan.seconds_after(signed.last_video_pts),
        video_frames: pass.tail_scan.video_frames,
        signed_utc: None,
    };
    r.findings.push(
        Finding::new(
            Status::Open,
            Check::Close,
            format!(
                "no final or recovery record: still being written or a crash not yet recovered; {} byte(s) ({} video frame(s), {:.2} s) after byte {covered} are unsigned and not evidence",
                tail.bytes, tail.video_frames, tail.seconds
            ),
        )
        .bytes(covered.min(len), len),
    );
    r.unsigned_tail = Some(tail);
}

fn finish_segment(mut r: SegmentReport) -> SegmentReport {
    r.status = Status::of(&r.findings);
    r
}

fn check_length(r: &mut SegmentReport, signed: u64, len: u64, what: &str) {
    if len > signed {
        r.findings.push(
            Finding::new(
                Status::Tampered,
                Check::Close,
                format!(
                    "{} byte(s) appended after the end the {what} record signed ({signed})",
                    len - signed
                ),
            )
            .bytes(signed, len),
        );
    } else if len < signed {
        r.findings.push(
            Finding::new(
                Status::Tampered,
                Check::Close,
                format!("media is {len} bytes but the {what} record signed {signed}"),
            )
            .bytes(len, signed),
        );
    }
}

fn check_sidecar(r: &mut SegmentReport, sidecar: Option<&Path>, signed: &[u8; 32]) {
    let Some(path) = sidecar else {
        r.findings.push(Finding::new(
            Status::Tampered,
            Check::SidecarHash,
            "the sidecar bound by the closing record is gone",
        ));
        return;
    };
    match std::fs::read(path) {
        Ok(bytes) if record::sha256(&bytes) == *signed => {
            // Bound by the signature: what it says about mutes can be shown.
            if let Ok(meta) = serde_json::from_slice::<SegmentMeta>(&bytes) {
                r.mute_spans = meta.mute_spans;
                r.officer = meta.officer;
                r.sidecar_signed = true;
            }
        }
        Ok(_) => r.findings.push(Finding::new(
            Status::Tampered,
            Check::SidecarHash,
            format!("{} was edited after it was signed", path.display()),
        )),
        Err(e) => r.findings.push(Finding::new(
            Status::Tampered,
            Check::SidecarHash,
            format!("cannot read the sidecar {}: {e}", path.display()),
        )),
    }
}
