//! The report: statuses, findings, per-item results and the verdict derived from them.

use serde::Serialize;

use super::chain::{ChainProblem, describe_problem};
use crate::evidence::payload::{Checkpoint, FixQuality, Location};
use crate::evidence::sidecar::{EndReason, MuteSpan};
use crate::ts::TIME_OFFSET_90K;

/// Format tag of the JSON report.
pub const REPORT_FORMAT: &str = "bodycam-verify/1";

/// Per-segment (and per-item) result, from best to worst as listed in the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Everything verifies.
    Ok,
    /// The media was freed on the device after a dock acknowledged it with the signed
    /// hash; the journal verifies and the signed audit log records both the
    /// acknowledgement and the deletion.
    Offloaded,
    /// Closed by recovery after a crash: the tail was signed only after the restart.
    RecoveredTail,
    /// Deleted from the cloud under retention: a deletion record (fetched copies only)
    /// names it, and its recorded chain span links to the signed records around it
    /// (docs/EVIDENCE-FORMAT.md §7.1).
    Deleted,
    /// The audit log ends inside a record that is the start of the next entry, as a
    /// power cut during an append leaves it; everything before it verifies and chains.
    /// The torn bytes were never a signed entry.
    TornTail,
    /// Neither final nor recovery record: still being written or not yet recovered.
    Open,
    /// Media without a journal.
    Unsigned,
    /// Files, records or segments that should be there are not.
    Missing,
    /// The journal ends inside a record.
    Truncated,
    /// Bytes differ from what was signed (media, journal, sidecar), or a chain is broken.
    Tampered,
    /// A record names another segment of the same recording.
    Reordered,
    /// A record names another recording.
    Spliced,
    /// A record was signed by another key.
    Foreign,
}

impl Status {
    /// Whether this status lets the verdict be OK.
    pub fn passes(self) -> bool {
        match self {
            Status::Ok
            | Status::Offloaded
            | Status::RecoveredTail
            | Status::Deleted
            | Status::TornTail => true,
            Status::Open
            | Status::Unsigned
            | Status::Missing
            | Status::Truncated
            | Status::Tampered
            | Status::Reordered
            | Status::Spliced
            | Status::Foreign => false,
        }
    }

    /// Which status names an item when it has several findings (higher wins).
    pub(super) fn severity(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Offloaded => 1,
            Status::RecoveredTail => 1,
            Status::Deleted => 1,
            Status::TornTail => 1,
            Status::Open => 2,
            Status::Unsigned => 3,
            Status::Missing => 4,
            Status::Truncated => 5,
            Status::Tampered => 6,
            Status::Reordered => 7,
            Status::Spliced => 8,
            Status::Foreign => 9,
        }
    }

    /// The name printed in reports.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Offloaded => "OFFLOADED",
            Status::RecoveredTail => "RECOVERED_TAIL",
            Status::Deleted => "DELETED",
            Status::TornTail => "TORN_TAIL",
            Status::Open => "OPEN",
            Status::Unsigned => "UNSIGNED",
            Status::Missing => "MISSING",
            Status::Truncated => "TRUNCATED",
            Status::Tampered => "TAMPERED",
            Status::Reordered => "REORDERED",
            Status::Spliced => "SPLICED",
            Status::Foreign => "FOREIGN",
        }
    }

    /// The worst status of `findings` (OK when there are none).
    pub(super) fn of(findings: &[Finding]) -> Status {
        findings
            .iter()
            .map(|f| f.status)
            .max_by_key(|s| s.severity())
            .unwrap_or(Status::Ok)
    }
}

/// Which check produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Which files of a segment exist.
    Files,
    /// A file could not be read.
    Read,
    /// Splitting a file into records.
    Parse,
    /// Ed25519 signature.
    Signature,
    /// The record's device id against the key.
    DeviceId,
    /// The record kind against the file it is in.
    Kind,
    /// The recording/segment a record names against where it is.
    Location,
    /// Checkpoints cover the media from byte 0 without holes or overlaps.
    Coverage,
    /// SHA-256 of a checkpoint's byte range.
    RangeHash,
    /// Final or recovery record: presence, position, lengths.
    Close,
    /// SHA-256 of the whole media file.
    SegmentHash,
    /// SHA-256 of the recovered tail.
    TailHash,
    /// SHA-256 of the sidecar.
    SidecarHash,
    /// Counters and links of a chain.
    Chain,
    /// Head statement or `evidence/media.head` against the store.
    Head,
    /// Signed audit entries against the footage they describe.
    AuditClaims,
    /// An encrypted segment: its keys record and the chunk structure of its media.
    Sealing,
    /// An audit entry's event and detail against their definition.
    AuditEvent,
    /// Declared inserted silence (sidecar `audio_silence`) against the audio frames.
    Silence,
}

/// One thing found about a segment (or the audit log, or a head).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What it means for the item.
    pub status: Status,
    /// Which check found it.
    pub check: Check,
    /// Human-readable explanation.
    pub message: String,
    /// Media bytes concerned, `[start, end)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_range: Option<[u64; 2]>,
    /// 90 kHz PTS of the first and last video frame concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pts_range: Option<[u64; 2]>,
    /// The same as seconds from the recording's start (PTS / 90000 − 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<[f64; 2]>,
    /// UTC at which the record concerned was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_utc: Option<String>,
}

impl Finding {
    pub(super) fn new(status: Status, check: Check, message: impl Into<String>) -> Finding {
        Finding {
            status,
            check,
            message: message.into(),
            byte_range: None,
            pts_range: None,
            seconds: None,
            signed_utc: None,
        }
    }

    pub(super) fn bytes(mut self, start: u64, end: u64) -> Finding {
        self.byte_range = Some([start, end]);
        self
    }

    pub(super) fn signed_at(mut self, utc_ms: i64) -> Finding {
        self.signed_utc = utc_text(utc_ms);
        self
    }

    pub(super) fn checkpoint_times(mut self, c: &Checkpoint) -> Finding {
        if c.video_frames > 0 {
            self.pts_range = Some([c.pts_first, c.pts_last]);
            self.seconds = Some([pts_seconds(c.pts_first), pts_seconds(c.pts_last)]);
        }
        self
    }
}

/// A tail of a segment: recovered (signed after restart) or unsigned (open segment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tail {
    /// Media bytes `[start, end)`.
    pub byte_range: [u64; 2],
    /// Length in bytes.
    pub bytes: u64,
    /// Seconds of video in the tail (after the last frame signed in-line).
    pub seconds: f64,
    /// Video frames that start in the tail.
    pub video_frames: u64,
    /// For a recovered tail: UTC at which the recovery record was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_utc: Option<String>,
}

/// The result for one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentReport {
    /// Recording id (directory name).
    pub recording_id: String,
    /// Sequence number (file name).
    pub segment: u32,
    /// The worst of `findings`, OK when there are none.
    pub status: Status,
    /// Everything found, in the order checked.
    pub findings: Vec<Finding>,
    /// Length of the media file, when there is one.
    pub media_bytes: Option<u64>,
    /// Records in the journal.
    pub records: usize,
    /// Of these, records whose signature verifies under the key.
    pub verified_records: usize,
    /// Media-chain counters of the verified records, first and last.
    pub counters: Option<[u64; 2]>,
    /// Signed footage, seconds from the recording's start (first and last video frame).
    pub seconds: Option<[f64; 2]>,
    /// Video duration signed in the final record.
    pub duration_seconds: Option<f64>,
    /// Why the segment ended (final or recovery record).
    pub end_reason: Option<EndReason>,
    /// Tail signed only after a restart (RECOVERED_TAIL).
    pub recovered_tail: Option<Tail>,
    /// Tail not signed at all (OPEN).
    pub unsigned_tail: Option<Tail>,
    /// SHA-256 (hex) signed for a segment whose media file is absent: an offload
    /// acknowledged with this hash in the audit log makes the absence OFFLOADED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_sha256: Option<String>,
    /// The location track signed in the journal (format v2), in journal order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track: Vec<TrackPoint>,
    /// Sealed location records (encrypted segments): the track is there, but only an
    /// examiner with the footage key can read it (`bodycam export`).
    #[serde(skip_serializing_if = "is_zero")]
    pub sealed_locations: u64,
    /// Where the microphone was muted, from the sidecar the closing record binds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_spans: Vec<MuteSpan>,
    /// Spans of the audio that the sidecar declares as inserted silence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inserted_silence: Vec<SilenceNote>,
    /// Present when the media is encrypted (checked without the key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionReport>,
    /// The officer named by the sidecar the closing record binds (absent: unassigned,
    /// or no signed sidecar; see [`RecordingSummary`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// Whether the sidecar was read and is bound by the closing record's signature.
    #[serde(skip)]
    pub sidecar_signed: bool,
}

/// Who wore the camera for one recording (issue 14), from its signed sidecars; from
/// `recording.json` (not signed) only when no sidecar is bound by a signature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordingSummary {
    /// Recording id.
    pub recording_id: String,
    /// The officer id; null when unassigned, unknown, or when the segments disagree.
    pub officer: Option<String>,
    /// True when the recording was made without an assigned officer.
    pub unassigned: bool,
    /// `sidecars` (signed), `recording.json` (not signed) or `none` (unknown).
    pub officer_source: &'static str,
    /// True when its signed sidecars name more than one officer (a recording keeps its
    /// officer, so they should not); `officers` lists each value.
    pub officer_conflict: bool,
    /// Each distinct value (null: unassigned) and the segments that carry it.
    pub officers: Vec<OfficerValue>,
}

/// One value of `officer` and where it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfficerValue {
    /// The officer id, null for unassigned.
    pub officer: Option<String>,
    /// Segments whose signed sidecar carries it (empty: from `recording.json`).
    pub segments: Vec<u32>,
}

impl RecordingSummary {
    /// One phrase: `PC-4711`, `unassigned`, `unknown (…)`, `CONFLICT: …`.
    pub fn officer_text(&self) -> String {
        let name = |o: &Option<String>| o.clone().unwrap_or_else(|| "unassigned".into());
        if self.officer_conflict {
            let each: Vec<String> = self
                .officers
                .iter()
                .map(|v| {
                    let segs: Vec<String> = v.segments.iter().map(|s| format!("{s:06}")).collect();
                    format!("{} (segment {})", name(&v.officer), segs.join(", "))
                })
                .collect();
            return format!(
                "CONFLICT: the signed sidecars name different officers: {}",
                each.join("; ")
            );
        }
        match self.officer_source {
            "sidecars" => name(&self.officer),
            "recording.json" => format!(
                "{} (from recording.json, not signed: no sidecar is bound by a signature)",
                name(&self.officer)
            ),
            _ => "unknown (no signed sidecar and no recording.json)".into(),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One signed location sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackPoint {
    /// Seconds from the recording's start (as `seconds`).
    pub seconds: f64,
    /// Fix quality.
    pub quality: FixQuality,
    /// UTC of the fix by the receiver, when there is one.
    pub fix_utc: Option<String>,
    /// Latitude, degrees.
    pub lat: Option<f64>,
    /// Longitude, degrees.
    pub lon: Option<f64>,
    /// Altitude above mean sea level, metres (3D fixes).
    pub alt_m: Option<f64>,
    /// Horizontal accuracy, metres.
    pub h_acc_m: Option<f64>,
    /// `gpsd` | `simulated` | `unknown`.
    pub source: &'static str,
}

impl TrackPoint {
    /// The point a verified location record signs.
    pub fn of(loc: &Location) -> TrackPoint {
        let l = &loc.fix;
        let fix = l.quality != FixQuality::NoFix;
        let m = |cm: i64| cm as f64 / 100.0;
        TrackPoint {
            seconds: pts_seconds(loc.pts_90k),
            quality: l.quality,
            fix_utc: if fix && l.fix_utc_ms != 0 {
                utc_text(l.fix_utc_ms)
            } else {
                None
            },
            lat: fix.then(|| f64::from(l.lat_e7) / 1e7),
            lon: fix.then(|| f64::from(l.lon_e7) / 1e7),
            alt_m: (l.quality == FixQuality::Fix3d).then(|| m(i64::from(l.alt_cm))),
            h_acc_m: (fix && l.h_acc_cm > 0).then(|| m(i64::from(l.h_acc_cm))),
            source: match l.source {
                crate::evidence::payload::LOCATION_SOURCE_GPSD => "gpsd",
                crate::evidence::payload::LOCATION_SOURCE_SIMULATED => "simulated",
                _ => "unknown",
            },
        }
    }
}

/// What a verifier without the key can say about an encrypted segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncryptionReport {
    /// `chacha20-poly1305`.
    pub aead: String,
    /// Key ids the content key is wrapped to (hex).
    pub key_ids: Vec<String>,
    /// Whole chunks in the media.
    pub chunks: u64,
    /// Bytes of a torn last chunk, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub torn_chunk_bytes: Option<u64>,
}

/// A span of declared inserted silence, as the examiner is told of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilenceNote {
    /// Seconds from the recording's start, `[start, end)`.
    pub seconds: [f64; 2],
    /// Silent frames declared.
    pub frames: u64,
    /// Why the sound there was not recorded.
    pub reason: crate::evidence::sidecar::SilenceReason,
    /// Every audio frame in the span is the declared silent frame, as many as declared.
    pub checked: bool,
}

/// Where a media record was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentRef {
    /// Recording directory.
    pub recording_id: String,
    /// Segment file.
    pub segment: u32,
    /// Index of the record in the journal (0-based).
    pub record: usize,
}

/// Where an audit record was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRef {
    /// Index of the record in `evidence/audit.log` (0-based).
    pub entry: usize,
}

/// The media chain over everything examined.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainReport {
    /// Verified media records examined.
    pub records: usize,
    /// Lowest counter found.
    pub first_counter: Option<u64>,
    /// Highest counter found.
    pub last_counter: Option<u64>,
    /// Whether counters had to start at 0 (a whole store).
    pub must_start_at_zero: bool,
    /// Everything wrong; empty when the chain is intact.
    pub problems: Vec<ChainProblem<SegmentRef>>,
}

/// A notable audit entry, shown for context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Audit counter.
    pub counter: u64,
    /// UTC when signed.
    pub utc: Option<String>,
    /// Event name.
    pub event: String,
    /// Event details (JSON).
    pub detail: serde_json::Value,
}

/// The audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    /// The worst of `findings` and `problems`.
    pub status: Status,
    /// Whether the file exists (it may be absent only in a store without media evidence).
    pub present: bool,
    /// Records in the file.
    pub entries: usize,
    /// Records whose signature verifies.
    pub verified: usize,
    /// Lowest counter found.
    pub first_counter: Option<u64>,
    /// Highest counter found.
    pub last_counter: Option<u64>,
    /// Per-record findings (parse, signature, kind, detail).
    pub findings: Vec<Finding>,
    /// Bytes of a torn last record (TORN_TAIL): not an entry, never signed.
    pub torn_tail_bytes: u64,
    /// Signed entries whose event this verifier does not know (a later firmware's): they
    /// hold their place in the chain; what they say is not checked.
    pub unknown_events: Vec<AuditEntry>,
    /// Chain problems (gaps = deleted entries, broken links, duplicates).
    pub problems: Vec<ChainProblem<AuditRef>>,
    /// Unclean shutdowns, recoveries, clock changes, faults.
    pub notable: Vec<AuditEntry>,
}

/// `evidence/media.head` against the journals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaHeadReport {
    /// OK, or MISSING (newest records absent), TAMPERED, FOREIGN.
    pub status: Status,
    /// Whether the file exists.
    pub present: bool,
    /// Counter of the record it holds.
    pub counter: Option<u64>,
    /// Explanation.
    pub message: String,
}

/// A head statement (`--head`) against the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadReport {
    /// The worst of `findings`.
    pub status: Status,
    /// The nonce the statement is bound to (compare with the one you sent).
    pub nonce: String,
    /// UTC at which the device signed it.
    pub signed_utc: Option<String>,
    /// Media-chain records at that time.
    pub media_count: u64,
    /// Audit records at that time.
    pub audit_count: u64,
    /// What did not match.
    pub findings: Vec<Finding>,
}

/// Where the public key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// `--key`.
    Key,
    /// `--identity FILE`.
    IdentityFile,
    /// The store's own `keys/identity.json` (not independently supplied).
    Store,
}

/// The key used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// Device id derived from the key (hex).
    pub device_id: String,
    /// The key (hex).
    pub public_key: String,
    /// Where it came from.
    pub source: KeySource,
    /// The file it was read from, if any.
    pub path: Option<String>,
    /// False when the key was taken from the store being verified.
    pub independently_supplied: bool,
    /// Whether the key may confirm the evidence: independently supplied, or the store's
    /// own accepted with `--trust-store-key`. When false the report is not OK however
    /// well the evidence verifies (exit code 3).
    pub accepted: bool,
    /// Device ids of the other keys a record failing under the key was tried with
    /// (`--other-key`, `--other-identity`, a store identity naming another key).
    pub other_keys: Vec<String>,
    /// Remarks (store identity differing from the supplied key, …).
    pub notes: Vec<String>,
}

/// What the path given was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A store (has `recordings/`).
    Store,
    /// One recording directory.
    Recording,
    /// One segment.
    Segment,
}

/// The whole verification result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always [`REPORT_FORMAT`].
    pub format: &'static str,
    /// Path examined.
    pub path: String,
    /// What it was.
    pub input: InputKind,
    /// The key.
    pub key: KeyReport,
    /// Per segment, by recording then sequence number.
    pub segments: Vec<SegmentReport>,
    /// Per recording: the officer (issue 14).
    pub recordings: Vec<RecordingSummary>,
    /// The media chain.
    pub chain: ChainReport,
    /// The audit log (stores only).
    pub audit: Option<AuditReport>,
    /// `evidence/media.head` (stores only).
    pub media_head: Option<MediaHeadReport>,
    /// What signed audit entries say must exist, against what does (stores only).
    pub cross_checks: Vec<Finding>,
    /// The head statement, when given.
    pub head: Option<HeadReport>,
    /// Problems outside any segment (unlistable directories, nothing to verify).
    pub errors: Vec<String>,
    /// Remarks that do not affect the verdict (ignored files, caveats).
    pub notes: Vec<String>,
    /// True only when nothing failed and the key was accepted ([`KeyReport::accepted`]).
    pub ok: bool,
    /// True when nothing failed under the key used, whether or not it was accepted.
    pub verifies: bool,
    /// Every failure, one line each (empty when `ok`).
    pub failures: Vec<String>,
    /// One line.
    pub verdict: String,
}

impl Report {
    /// Every failure in the report, derived from all of its findings. The verdict is OK
    /// only when this is empty.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.errors.iter().cloned());
        for s in &self.segments {
            if !s.status.passes() {
                let first = s
                    .findings
                    .iter()
                    .find(|f| f.status == s.status)
                    .map_or("", |f| f.message.as_str());
                out.push(format!(
                    "{}/{:06}: {}: {first}",
                    s.recording_id,
                    s.segment,
                    s.status.label()
                ));
            }
        }
        out.extend(self.chain.problems.iter().map(|p| {
            format!(
                "media chain: {}",
                describe_problem(p, &|r: &SegmentRef| {
                    format!("{}/{:06}", r.recording_id, r.segment)
                })
            )
        }));
        if let Some(a) = &self.audit {
            if !a.status.passes() {
                out.push(format!("audit log: {}", a.status.label()));
            }
            out.extend(
                a.findings
                    .iter()
                    .filter(|f| !f.status.passes())
                    .map(|f| format!("audit log: {}", f.message)),
            );
            out.extend(a.problems.iter().map(|p| {
                format!(
                    "audit log: {}",
                    describe_problem(p, &|r: &AuditRef| format!("entry {}", r.entry))
                )
            }));
        }
        out.extend(
            self.cross_checks
                .iter()
                .filter(|f| !f.status.passes())
                .map(|f| format!("audit log vs footage: {}", f.message)),
        );
        if let Some(m) = &self.media_head
            && !m.status.passes()
        {
            out.push(format!(
                "evidence/media.head: {}: {}",
                m.status.label(),
                m.message
            ));
        }
        if let Some(h) = &self.head {
            if !h.status.passes() {
                out.push(format!("head statement: {}", h.status.label()));
            }
            out.extend(
                h.findings
                    .iter()
                    .map(|f| format!("head statement: {}", f.message)),
            );
        }
        out
    }

    pub(super) fn conclude(&mut self) {
        self.failures = self.failures();
        self.verifies = self.failures.is_empty();
        self.ok = self.verifies && self.key.accepted;
        let segments = self.segments.len();
        let recovered = self
            .segments
            .iter()
            .filter(|s| s.status == Status::RecoveredTail)
            .count();
        let torn = self
            .audit
            .as_ref()
            .is_some_and(|a| a.status == Status::TornTail);
        self.verdict = if self.verifies {
            let mut v = if self.ok {
                format!("OK: {segments} segment(s) verified")
            } else {
                format!(
                    "NOT CONFIRMED: {segments} segment(s) verify, but only against the \
                     store's own key ({}), which was not independently supplied: pass \
                     --identity or --key from enrolment (or --trust-store-key to accept it)",
                    self.key.path.as_deref().unwrap_or("keys/identity.json")
                )
            };
            if recovered > 0 {
                v.push_str(&format!(", {recovered} with a tail signed after a restart"));
            }
            let deleted = self
                .segments
                .iter()
                .filter(|s| s.status == Status::Deleted)
                .count();
            if deleted > 0 {
                v.push_str(&format!(
                    ", {deleted} deleted under retention (per the container's deletion record; the chain links across them)"
                ));
            }
            if torn {
                v.push_str(", the audit log ends in a torn record (a power cut during an append)");
            }
            if self.ok && !self.key.independently_supplied {
                v.push_str(
                    ", against the store's own key (not independently supplied; accepted with --trust-store-key)",
                );
            }
            if self.input == InputKind::Store && self.head.is_none() {
                v.push_str("; without --head, removal of the newest footage cannot be ruled out");
            }
            v
        } else {
            format!(
                "FAILED: {} problem(s); first: {}",
                self.failures.len(),
                self.failures.first().map_or("", String::as_str)
            )
        };
    }
}

/// Seconds from the recording's start of a 90 kHz PTS as written in the TS.
pub(super) fn pts_seconds(pts: u64) -> f64 {
    (pts as f64 - TIME_OFFSET_90K as f64) / 90_000.0
}

pub(super) fn utc_text(utc_ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(utc_ms).map(crate::clock::rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_order_and_verdict_class() {
        let all = [
            Status::Ok,
            Status::RecoveredTail,
            Status::Open,
            Status::Unsigned,
            Status::Missing,
            Status::Truncated,
            Status::Tampered,
            Status::Reordered,
            Status::Spliced,
            Status::Foreign,
        ];
        for w in all.windows(2) {
            assert!(w[0].severity() < w[1].severity());
        }
        let passing: Vec<_> = all.iter().filter(|s| s.passes()).collect();
        assert_eq!(passing, [&Status::Ok, &Status::RecoveredTail]);
        let f = |s| Finding::new(s, Check::Files, "");
        assert_eq!(Status::of(&[]), Status::Ok);
        assert_eq!(
            Status::of(&[f(Status::Open), f(Status::Foreign), f(Status::Tampered)]),
            Status::Foreign
        );
        assert_eq!(
            serde_json::to_string(&Status::RecoveredTail).unwrap(),
            "\"RECOVERED_TAIL\""
        );
    }
}
