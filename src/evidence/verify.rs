//! `bodycam verify`: checks a store, a recording or one segment against docs/EVIDENCE-FORMAT.md section 7.
//!
//! Every check adds findings to the [`Report`]; the verdict is derived from the whole
//! report once, at the end ([`Report::failures`]), so a failure anywhere can never be
//! outweighed by what follows it. Media files are hashed by streaming them once
//! (1 MiB reads), checking every checkpoint range, the whole file and the tail in the
//! same pass.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ring::digest::{Context, SHA256};
use serde::Serialize;

use crate::evidence::audit::{AUDIT_FILE, EVIDENCE_DIR};
use crate::evidence::identity::{IDENTITY_FILE, IdentityError, PublicIdentity, device_id_for};
use crate::evidence::payload::{self, Checkpoint, Payload, Record};
use crate::evidence::record::{self, DEVICE_ID_LEN, DecodeError, Kind, RawRecord};
use crate::evidence::scan::MEDIA_HEAD_FILE;
use crate::evidence::sidecar::EndReason;
use crate::store::RECORDINGS_DIR;
use crate::store::recording::RECORDING_INFO;
use crate::store::segment::TS_TIME_OFFSET_90K;
use crate::ts;

/// Format tag of the JSON report.
pub const REPORT_FORMAT: &str = "bodycam-verify/1";
/// Format tag of a head statement file (`bodycam ctl head`).
pub const HEAD_FORMAT: &str = "bodycam-head/1";
/// Read size when hashing media.
const CHUNK: usize = 1 << 20;
/// A progress bar is drawn (on a terminal) from this many segments on.
const PROGRESS_MIN_SEGMENTS: usize = 20;
/// 33-bit MPEG-TS timestamps.
const PTS_MASK: u64 = ts::TIMESTAMP_MODULUS - 1;
/// Audit events whose signed details say what media must exist (see [`cross_check`]).
const CLAIM_EVENTS: &[&str] = &[
    "boot",
    "recording_start",
    "recording_stop",
    "head_issued",
    "offload_ack",
    "segment_freed",
];
/// Audit events worth showing in the report.
const NOTABLE_EVENTS: &[&str] = &[
    "unclean_shutdown",
    "torn_tail_removed",
    "recovery",
    "clock",
    "pipeline_fault",
    "storage_full",
    "key_created",
];

/// Usage problems: the verification could not be started (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The path (or a file named on the command line) cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The path is neither a store, a recording directory nor a segment.
    #[error("{0} is not a store (no recordings/), a recording directory or a segment (NNNNNN.ts)")]
    NotEvidence(PathBuf),
    /// `--key` is not a 32-byte key in hex.
    #[error("--key must be 64 hex digits (a 32-byte Ed25519 public key), got {0:?}")]
    BadKey(String),
    /// Both `--key` and `--identity` were given.
    #[error("give --key or --identity, not both")]
    KeyConflict,
    /// The identity file is unreadable or inconsistent.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// No key was given and the store has no identity file.
    #[error("no key given and no {0}: pass --key or --identity")]
    NoKey(PathBuf),
    /// The head statement file is not a head statement.
    #[error("head statement {path}: {reason}")]
    BadHead {
        /// Path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `--head` was given for less than a whole store.
    #[error("--head needs a whole store (with evidence/audit.log), not {0}")]
    HeadNeedsStore(PathBuf),
}

/// What to verify and against which key.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// A store, a recording directory, or a segment (`NNNNNN.ts`, journal alongside).
    pub path: PathBuf,
    /// Device public key, 64 hex digits (`--key`).
    pub key_hex: Option<String>,
    /// Device identity file (`--identity`).
    pub identity: Option<PathBuf>,
    /// Head statement from `bodycam ctl head` (`--head`); needs a whole store.
    pub head: Option<PathBuf>,
    /// Draw a progress bar on stderr (the caller checks that stderr is a terminal).
    pub progress: bool,
}

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
            Status::Ok | Status::Offloaded | Status::RecoveredTail => true,
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
    fn severity(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Offloaded => 1,
            Status::RecoveredTail => 1,
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
    fn of(findings: &[Finding]) -> Status {
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
    fn new(status: Status, check: Check, message: impl Into<String>) -> Finding {
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

    fn bytes(mut self, start: u64, end: u64) -> Finding {
        self.byte_range = Some([start, end]);
        self
    }

    fn signed_at(mut self, utc_ms: i64) -> Finding {
        self.signed_utc = utc_text(utc_ms);
        self
    }

    fn checkpoint_times(mut self, c: &Checkpoint) -> Finding {
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

/// Something wrong with a chain's counters or links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainProblem<L> {
    /// Counters `from..=to` are absent (MISSING), between the neighbouring records found.
    Gap {
        /// First absent counter.
        from: u64,
        /// Last absent counter.
        to: u64,
        /// The record before the gap, if any.
        after: Option<L>,
        /// The record after the gap, if any (none: the newest records are absent).
        before: Option<L>,
    },
    /// Several records carry one counter: a replayed copy (`identical`) or a fork (TAMPERED).
    DuplicateCounter {
        /// The counter.
        counter: u64,
        /// Whether all copies are byte-for-byte the same record.
        identical: bool,
        /// Where they are.
        at: Vec<L>,
    },
    /// `prev_hash` is not the hash of the previous record (TAMPERED).
    BrokenLink {
        /// Counter of the record whose link is wrong.
        counter: u64,
        /// Where it is.
        at: L,
    },
    /// A record sits before one it was signed after (REORDERED).
    OutOfOrder {
        /// Counter of the misplaced record.
        counter: u64,
        /// Where it is.
        at: L,
        /// A record with a lower counter found after it.
        after: L,
    },
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

/// A notable audit event, shown for context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
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
    /// Per-record findings (parse, signature, kind).
    pub findings: Vec<Finding>,
    /// Chain problems (gaps = deleted entries, broken links, duplicates).
    pub problems: Vec<ChainProblem<AuditRef>>,
    /// Unclean shutdowns, recoveries, clock changes, faults.
    pub notable: Vec<AuditEvent>,
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
    /// True only when nothing failed.
    pub ok: bool,
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

    fn conclude(&mut self) {
        self.failures = self.failures();
        self.ok = self.failures.is_empty();
        let segments = self.segments.len();
        let recovered = self
            .segments
            .iter()
            .filter(|s| s.status == Status::RecoveredTail)
            .count();
        self.verdict = if self.ok {
            let mut v = format!("OK: {segments} segment(s) verified");
            if recovered > 0 {
                v.push_str(&format!(", {recovered} with a tail signed after a restart"));
            }
            if !self.key.independently_supplied {
                v.push_str(", but against the store's own key (not independently supplied)");
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

fn describe_problem<L>(p: &ChainProblem<L>, name: &dyn Fn(&L) -> String) -> String {
    match p {
        ChainProblem::Gap {
            from,
            to,
            after,
            before,
        } => {
            let after = after.as_ref().map_or("the start".to_string(), name);
            let before = before
                .as_ref()
                .map_or("the end (newest records absent)".to_string(), name);
            format!("MISSING records {from}..={to} between {after} and {before}")
        }
        ChainProblem::DuplicateCounter {
            counter,
            identical,
            at,
        } => {
            let places: Vec<String> = at.iter().map(name).collect();
            let what = if *identical {
                "a replayed copy"
            } else {
                "different records (fork)"
            };
            format!(
                "TAMPERED: counter {counter} appears {} times ({what}) at {}",
                at.len(),
                places.join(", ")
            )
        }
        ChainProblem::BrokenLink { counter, at } => format!(
            "TAMPERED: record {counter} at {} does not link to record {}",
            name(at),
            counter.saturating_sub(1)
        ),
        ChainProblem::OutOfOrder { counter, at, after } => format!(
            "REORDERED: record {counter} at {} comes after {} in the store but was signed before it",
            name(at),
            name(after)
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Entry points

/// Entry point of `bodycam verify`; returns the exit code (0 ok, 1 problems, 2 usage).
pub fn main(
    path: &Path,
    key: Option<&str>,
    identity: Option<&Path>,
    head: Option<&Path>,
    json: bool,
) -> i32 {
    let opts = VerifyOptions {
        path: path.to_path_buf(),
        key_hex: key.map(str::to_owned),
        identity: identity.map(Path::to_path_buf),
        head: head.map(Path::to_path_buf),
        progress: std::io::stderr().is_terminal(),
    };
    let report = match verify(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bodycam verify: {e}");
            return crate::exit::USAGE;
        }
    };
    let mut out = std::io::stdout().lock();
    let written = if json {
        serde_json::to_string_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|s| writeln!(out, "{s}"))
    } else {
        render(&report, &mut out)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("bodycam verify: cannot write the report: {e}");
        return crate::exit::FAILURE;
    }
    if report.ok {
        crate::exit::OK
    } else {
        crate::exit::FAILURE
    }
}

/// Verify `opts.path` (docs/EVIDENCE-FORMAT.md section 7). `Err` only for usage
/// problems; everything found in the evidence is in the [`Report`].
pub fn verify(opts: &VerifyOptions) -> Result<Report, VerifyError> {
    let input = Input::resolve(&opts.path)?;
    let (key, key_report) = resolve_key(opts, &input)?;
    let head = match &opts.head {
        Some(p) if input.kind != InputKind::Store => {
            return Err(VerifyError::HeadNeedsStore(p.clone()));
        }
        Some(p) => Some(load_head(p)?),
        None => None,
    };
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let recordings = input.recordings(&mut notes, &mut errors);
    let total_segments: usize = recordings.iter().map(|r| r.segments.len()).sum();
    let total_bytes: u64 = recordings
        .iter()
        .flat_map(|r| r.segments.values())
        .filter_map(|f| f.media.as_ref())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let mut progress = Progress::new(
        opts.progress && total_segments >= PROGRESS_MIN_SEGMENTS,
        total_segments,
        total_bytes,
    );
    let mut segments = Vec::with_capacity(total_segments);
    let mut links = Vec::new();
    for rec in &recordings {
        for (&seq, files) in &rec.segments {
            segments.push(verify_segment(
                &key,
                &rec.id,
                seq,
                files,
                &mut links,
                &mut progress,
            ));
            progress.segment_done();
        }
    }
    progress.finish();
    if segments.is_empty() && input.kind != InputKind::Store {
        errors.push("nothing verified: no segment found".into());
    }
    let media_index = ChainIndex::of(&links);
    let must_start_at_zero = input.kind == InputKind::Store;
    let mut problems = analyse_chain(&links, must_start_at_zero);
    problems.extend(out_of_order(&links, |r: &SegmentRef| {
        (r.recording_id.clone(), (r.segment, r.record))
    }));
    mark_chain_findings(&problems, &mut segments);
    let chain = ChainReport {
        records: links.len(),
        first_counter: media_index.first,
        last_counter: media_index.last,
        must_start_at_zero,
        problems,
    };
    let mut cross_checks = Vec::new();
    let (audit, audit_index, media_head) = match input.kind {
        InputKind::Store => {
            let evidence = input.root.join(EVIDENCE_DIR);
            let media_head = verify_media_head(&key, &evidence.join(MEDIA_HEAD_FILE), &media_index);
            let required = !segments.is_empty() || media_head.present;
            let (audit, audit_index, claims) =
                verify_audit(&key, &evidence.join(AUDIT_FILE), required);
            if !audit.present && !required {
                notes.push("empty store: no audit log and no footage yet".into());
            }
            cross_checks = cross_check(&claims, &recordings, &media_index);
            apply_offloads(&claims, &mut segments);
            (Some(audit), Some(audit_index), Some(media_head))
        }
        InputKind::Recording | InputKind::Segment => {
            notes.push(
                "audit log, evidence/media.head and the start of the media chain are only \
                 checked when verifying a whole store"
                    .into(),
            );
            (None, None, None)
        }
    };
    let head = match (head, &audit_index) {
        (Some(h), Some(ai)) => Some(check_head(&key, &h, &media_index, ai)),
        (Some(_), None) | (None, _) => None,
    };
    if input.kind == InputKind::Store && head.is_none() {
        notes.push(
            "no head statement given (--head): the store is checked against itself, so \
             removal of the newest segments together with evidence/media.head and the \
             newest audit entries cannot be ruled out"
                .into(),
        );
    }
    let mut report = Report {
        format: REPORT_FORMAT,
        path: opts.path.display().to_string(),
        input: input.kind,
        key: key_report,
        segments,
        chain,
        audit,
        media_head,
        cross_checks,
        head,
        errors,
        notes,
        ok: false,
        failures: Vec::new(),
        verdict: String::new(),
    };
    report.conclude();
    Ok(report)
}

/// Verify an audit log on its own against `public_key` (every record signed, the chain
/// unbroken, no torn or foreign records). The dock agent checks each audit log it
/// uploads with this; `bodycam verify` checks it as part of a store.
pub fn verify_audit_log(public_key: &[u8; 32], path: &Path) -> AuditReport {
    let key = Key {
        public: *public_key,
        device_id: device_id_for(public_key),
    };
    verify_audit(&key, path, true).0
}

// ---------------------------------------------------------------------------------------
// Input and key

#[derive(Debug, Default)]
struct SegmentFiles {
    media: Option<PathBuf>,
    journal: Option<PathBuf>,
    sidecar: Option<PathBuf>,
}

#[derive(Debug)]
struct RecordingFiles {
    id: String,
    segments: BTreeMap<u32, SegmentFiles>,
}

#[derive(Debug)]
struct Input {
    kind: InputKind,
    /// Store root (for a recording or segment: where the store would be).
    root: PathBuf,
    /// The recording directory (recording, segment).
    dir: PathBuf,
    /// The segment (segment).
    segment: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Media,
    Journal,
    Sidecar,
}

/// `NNNNNN.ts` / `.journal` / `.json` → sequence number and role.
fn segment_file(name: &str) -> Option<(u32, Role)> {
    let (stem, ext) = name.split_once('.')?;
    let role = match ext {
        "ts" => Role::Media,
        "journal" => Role::Journal,
        "json" => Role::Sidecar,
        _ => return None,
    };
    if stem.len() != 6 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, role))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

impl Input {
    fn resolve(path: &Path) -> Result<Input, VerifyError> {
        let unreadable = |source| VerifyError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        let abs = std::fs::canonicalize(path).map_err(unreadable)?;
        if meta.is_dir() {
            if abs.join(RECORDINGS_DIR).is_dir() {
                return Ok(Input {
                    kind: InputKind::Store,
                    root: abs.clone(),
                    dir: abs,
                    segment: None,
                });
            }
            let listing = std::fs::read_dir(&abs).map_err(unreadable)?;
            let looks_like_recording = listing.filter_map(Result::ok).any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n == RECORDING_INFO || segment_file(&n).is_some_and(|(_, r)| r != Role::Sidecar)
            });
            if looks_like_recording {
                return Ok(Input {
                    kind: InputKind::Recording,
                    root: parent(&parent(&abs)),
                    dir: abs,
                    segment: None,
                });
            }
            return Err(VerifyError::NotEvidence(path.to_path_buf()));
        }
        match segment_file(&file_name(&abs)) {
            Some((seq, Role::Media | Role::Journal)) => {
                let dir = parent(&abs);
                Ok(Input {
                    kind: InputKind::Segment,
                    root: parent(&parent(&dir)),
                    dir,
                    segment: Some(seq),
                })
            }
            Some((_, Role::Sidecar)) | None => Err(VerifyError::NotEvidence(path.to_path_buf())),
        }
    }

    /// The recordings and segment files to examine; sequence gaps are filled with
    /// empty entries (they are reported MISSING).
    fn recordings(&self, notes: &mut Vec<String>, errors: &mut Vec<String>) -> Vec<RecordingFiles> {
        match (self.kind, self.segment) {
            (InputKind::Segment, Some(seq)) => {
                let present = |role_name: String| {
                    let p = self.dir.join(role_name);
                    p.exists().then_some(p)
                };
                let files = SegmentFiles {
                    media: present(format!("{seq:06}.ts")),
                    journal: present(format!("{seq:06}.journal")),
                    sidecar: present(format!("{seq:06}.json")),
                };
                vec![RecordingFiles {
                    id: file_name(&self.dir),
                    segments: BTreeMap::from([(seq, files)]),
                }]
            }
            (InputKind::Segment, None) | (InputKind::Recording, _) => {
                list_recording(&self.dir, notes, errors)
                    .into_iter()
                    .collect()
            }
            (InputKind::Store, _) => {
                let dir = self.root.join(RECORDINGS_DIR);
                let mut dirs = Vec::new();
                match std::fs::read_dir(&dir) {
                    Ok(listing) => {
                        for e in listing {
                            match e {
                                Ok(e) if e.path().is_dir() => dirs.push(e.path()),
                                Ok(e) => notes.push(format!(
                                    "ignored {} (not a recording directory)",
                                    e.path().display()
                                )),
                                Err(e) => {
                                    errors.push(format!("cannot list {}: {e}", dir.display()))
                                }
                            }
                        }
                    }
                    Err(e) => errors.push(format!("cannot list {}: {e}", dir.display())),
                }
                dirs.sort();
                dirs.iter()
                    .filter_map(|d| list_recording(d, notes, errors))
                    .collect()
            }
        }
    }
}

fn list_recording(
    dir: &Path,
    notes: &mut Vec<String>,
    errors: &mut Vec<String>,
) -> Option<RecordingFiles> {
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            errors.push(format!("cannot list {}: {e}", dir.display()));
            return None;
        }
    };
    let mut segments: BTreeMap<u32, SegmentFiles> = BTreeMap::new();
    for e in listing {
        let e = match e {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("cannot list {}: {e}", dir.display()));
                continue;
            }
        };
        let name = e.file_name().to_string_lossy().into_owned();
        match segment_file(&name) {
            Some((seq, role)) => {
                let f = segments.entry(seq).or_default();
                let slot = match role {
                    Role::Media => &mut f.media,
                    Role::Journal => &mut f.journal,
                    Role::Sidecar => &mut f.sidecar,
                };
                *slot = Some(e.path());
            }
            None if name == RECORDING_INFO => {}
            None => notes.push(format!("ignored {}", e.path().display())),
        }
    }
    // Sequence numbers start at 1 and have no holes.
    if let Some(&last) = segments.keys().next_back() {
        for seq in 1..last {
            segments.entry(seq).or_default();
        }
    }
    Some(RecordingFiles {
        id: file_name(dir),
        segments,
    })
}

/// The verifying key.
#[derive(Debug, Clone)]
struct Key {
    public: [u8; 32],
    device_id: [u8; DEVICE_ID_LEN],
}

fn resolve_key(opts: &VerifyOptions, input: &Input) -> Result<(Key, KeyReport), VerifyError> {
    let store_identity = input.root.join("keys").join(IDENTITY_FILE);
    let (public, source, path) = match (&opts.key_hex, &opts.identity) {
        (Some(_), Some(_)) => return Err(VerifyError::KeyConflict),
        (Some(hex_key), None) => {
            let bytes =
                hex::decode(hex_key.trim()).map_err(|_| VerifyError::BadKey(hex_key.clone()))?;
            let public: [u8; 32] = bytes
                .try_into()
                .map_err(|_| VerifyError::BadKey(hex_key.clone()))?;
            (public, KeySource::Key, None)
        }
        (None, Some(p)) => {
            let id = PublicIdentity::load(p)?;
            let public = id
                .public_key_bytes()
                .ok_or_else(|| IdentityError::BadIdentityFile {
                    path: p.clone(),
                    reason: "public_key is not 64 hex digits".into(),
                })?;
            (public, KeySource::IdentityFile, Some(p.clone()))
        }
        (None, None) => {
            if !store_identity.exists() {
                return Err(VerifyError::NoKey(store_identity));
            }
            let id = PublicIdentity::load(&store_identity)?;
            let public = id
                .public_key_bytes()
                .ok_or_else(|| IdentityError::BadIdentityFile {
                    path: store_identity.clone(),
                    reason: "public_key is not 64 hex digits".into(),
                })?;
            (public, KeySource::Store, Some(store_identity.clone()))
        }
    };
    let device_id = device_id_for(&public);
    let mut notes = Vec::new();
    match source {
        KeySource::Store => notes.push(format!(
            "the key was taken from {} in the evidence itself, not independently supplied: \
             whoever can alter the store can replace it; pass --key or --identity from enrolment",
            store_identity.display()
        )),
        KeySource::Key | KeySource::IdentityFile => {
            if let Ok(stored) = PublicIdentity::load(&store_identity)
                && stored.public_key_bytes() != Some(public)
            {
                notes.push(format!(
                    "{} names another device ({}) than the key supplied",
                    store_identity.display(),
                    stored.device_id
                ));
            }
        }
    }
    let report = KeyReport {
        device_id: hex::encode(device_id),
        public_key: hex::encode(public),
        source,
        path: path.map(|p| p.display().to_string()),
        independently_supplied: source != KeySource::Store,
        notes,
    };
    Ok((Key { public, device_id }, report))
}

// ---------------------------------------------------------------------------------------
// Records

/// What a signature check says about a record.
enum Trust {
    /// Signed by the key.
    Verified,
    /// Not signed by the key; the record names another device.
    Foreign([u8; DEVICE_ID_LEN]),
    /// Not signed by the key although it names the key's device: altered.
    Altered,
}

fn trust(key: &Key, rec: &Record) -> Trust {
    if rec.raw.verify(&key.public) {
        Trust::Verified
    } else if rec.header.device_id != key.device_id {
        Trust::Foreign(rec.header.device_id)
    } else {
        Trust::Altered
    }
}

/// A parsed file of records: the decodable ones (with their index and offset) and
/// findings for the rest.
struct Parsed {
    records: Vec<(usize, u64, Record)>,
    total: usize,
    findings: Vec<Finding>,
}

fn parse_records(data: &[u8], what: &str) -> Parsed {
    let (raws, err) = record::parse_all(data);
    let mut out = Parsed {
        records: Vec::with_capacity(raws.len()),
        total: raws.len(),
        findings: Vec::new(),
    };
    let mut offset = 0u64;
    for (i, raw) in raws.into_iter().enumerate() {
        let len = raw.bytes.len() as u64;
        match payload::decode(raw) {
            Ok(r) => out.records.push((i, offset, r)),
            Err(e) => out.findings.push(Finding::new(
                Status::Tampered,
                Check::Parse,
                format!("{what} record {i} at byte {offset} cannot be decoded: {e}"),
            )),
        }
        offset += len;
    }
    if let Some((pos, e)) = err {
        let pos = pos as u64;
        let rest = data.len() as u64 - pos;
        out.findings.push(match e {
            DecodeError::Truncated { .. } => Finding::new(
                Status::Truncated,
                Check::Parse,
                format!("{what} ends inside a record: {rest} byte(s) from byte {pos} are a torn or cut record"),
            ),
            DecodeError::BadMagic
            | DecodeError::TooLarge(_)
            | DecodeError::Version(_)
            | DecodeError::Kind(_)
            | DecodeError::Clock(_)
            | DecodeError::ShortBody
            | DecodeError::Utf8
            | DecodeError::Trailing(_)
            | DecodeError::Value { .. } => Finding::new(
                Status::Tampered,
                Check::Parse,
                format!("{what}: {rest} byte(s) from byte {pos} are not a record ({e})"),
            ),
        });
    }
    out
}

/// Sort records failing the signature check into one finding per kind of failure.
#[derive(Default)]
struct Untrusted {
    foreign: Vec<u64>,
    foreign_ids: Vec<String>,
    altered: Vec<u64>,
}

impl Untrusted {
    fn add(&mut self, t: &Trust, counter: u64) {
        match t {
            Trust::Verified => {}
            Trust::Foreign(id) => {
                self.foreign.push(counter);
                let id = hex::encode(id);
                if !self.foreign_ids.contains(&id) {
                    self.foreign_ids.push(id);
                }
            }
            Trust::Altered => self.altered.push(counter),
        }
    }

    fn findings(self, what: &str, total: usize, key: &Key) -> Vec<Finding> {
        let mut out = Vec::new();
        if !self.foreign.is_empty() {
            out.push(Finding::new(
                Status::Foreign,
                Check::Signature,
                format!(
                    "{} of {total} {what} record(s) were not signed by this key (device {}; key's device {}); counters {}",
                    self.foreign.len(),
                    self.foreign_ids.join(", "),
                    hex::encode(key.device_id),
                    counters_text(&self.foreign)
                ),
            ));
        }
        if !self.altered.is_empty() {
            out.push(Finding::new(
                Status::Tampered,
                Check::Signature,
                format!(
                    "{} of {total} {what} record(s) were altered after signing (signature does not verify); claimed counters {}",
                    self.altered.len(),
                    counters_text(&self.altered)
                ),
            ));
        }
        out
    }
}

fn counters_text(c: &[u64]) -> String {
    const SHOWN: usize = 8;
    let mut s: Vec<String> = c.iter().take(SHOWN).map(u64::to_string).collect();
    if c.len() > SHOWN {
        s.push(format!("… ({} more)", c.len() - SHOWN));
    }
    s.join(", ")
}

// ---------------------------------------------------------------------------------------
// Segments

/// One verified media record and where it is.
#[derive(Debug, Clone)]
struct Link<L> {
    counter: u64,
    prev: [u8; 32],
    hash: [u8; 32],
    at: L,
}

fn verify_segment(
    key: &Key,
    recording_id: &str,
    seq: u32,
    files: &SegmentFiles,
    links: &mut Vec<Link<SegmentRef>>,
    progress: &mut Progress,
) -> SegmentReport {
    let mut r = SegmentReport {
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
    };
    let media_len = files
        .media
        .as_ref()
        .map(|p| std::fs::metadata(p).map(|m| m.len()));
    r.media_bytes = media_len.as_ref().and_then(|m| m.as_ref().ok().copied());
    let journal_path = match (&files.journal, &files.media) {
        (Some(j), _) => j,
        (None, Some(_)) => {
            r.findings.push(Finding::new(
                Status::Unsigned,
                Check::Files,
                "media without a journal: nothing about it is signed",
            ));
            return finish_segment(r);
        }
        (None, None) => {
            let what = if files.sidecar.is_some() {
                "media and journal are gone (only the sidecar is left)"
            } else {
                "no files: a hole in the recording's sequence numbers"
            };
            r.findings
                .push(Finding::new(Status::Missing, Check::Files, what));
            return finish_segment(r);
        }
    };
    let journal = match std::fs::read(journal_path) {
        Ok(j) => j,
        Err(e) => {
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Read,
                format!("cannot read {}: {e}", journal_path.display()),
            ));
            return finish_segment(r);
        }
    };
    let parsed = parse_records(&journal, "journal");
    r.records = parsed.total;
    r.findings.extend(parsed.findings);

    // Signatures, kinds, locations.
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
        let named = match &rec.payload {
            Payload::Checkpoint(c) => (c.recording_id.clone(), c.segment),
            Payload::Final(f) => (f.recording_id.clone(), f.segment),
            Payload::Recovery(v) => (v.recording_id.clone(), v.segment),
            Payload::Audit(_) | Payload::Head(_) => {
                r.findings.push(Finding::new(
                    Status::Tampered,
                    Check::Kind,
                    format!(
                        "record {index} is a {:?} record, which has no place in a journal",
                        rec.header.kind
                    ),
                ));
                continue;
            }
        };
        if named.0 != recording_id || named.1 != seq {
            *named_elsewhere.entry(named).or_default() += 1;
        }
        links.push(Link {
            counter: rec.header.counter,
            prev: rec.header.prev_hash,
            hash: rec.raw.hash(),
            at: SegmentRef {
                recording_id: recording_id.to_string(),
                segment: seq,
                record: index,
            },
        });
        verified.push((index, rec));
    }
    r.findings
        .extend(untrusted.findings("journal", r.records, key));
    for ((rid, s), n) in named_elsewhere {
        let (status, what) = if rid == recording_id {
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
    r.verified_records = verified.len();
    if let (Some(first), Some(last)) = (
        verified.iter().map(|(_, v)| v.header.counter).min(),
        verified.iter().map(|(_, v)| v.header.counter).max(),
    ) {
        r.counters = Some([first, last]);
    }

    // Structure: checkpoints, then exactly one final or recovery record, then nothing.
    let mut checkpoints: Vec<(&Checkpoint, i64)> = Vec::new();
    let mut close: Option<&Record> = None;
    for (index, rec) in &verified {
        match (&rec.payload, close) {
            (_, Some(_)) => r.findings.push(Finding::new(
                Status::Tampered,
                Check::Close,
                format!("record {index} follows the segment's final or recovery record"),
            )),
            (Payload::Checkpoint(c), None) => checkpoints.push((c, rec.header.utc_ms)),
            (Payload::Final(_) | Payload::Recovery(_), None) => close = Some(rec),
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

    // Media.
    let media_path = match (&files.media, media_len) {
        (Some(p), Some(Ok(_))) => p,
        (Some(p), Some(Err(e))) => {
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Read,
                format!("cannot read {}: {e}", p.display()),
            ));
            return finish_segment(r);
        }
        (Some(_), None) | (None, _) => {
            r.signed_sha256 = close.and_then(|c| match &c.payload {
                Payload::Final(f) => Some(hex::encode(f.segment_sha256)),
                Payload::Recovery(v) => Some(hex::encode(v.segment_sha256)),
                Payload::Checkpoint(_) | Payload::Audit(_) | Payload::Head(_) => None,
            });
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Files,
                "journal without its media file",
            ));
            return finish_segment(r);
        }
    };

    // Coverage: contiguous from byte 0.
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
    let covered = end;
    let boundaries: Vec<u64> = if contiguous {
        std::iter::once(0)
            .chain(checkpoints.iter().map(|(c, _)| c.byte_end))
            .collect()
    } else {
        vec![0]
    };
    let pass = match hash_pass(media_path, &boundaries, progress) {
        Ok(p) => p,
        Err(e) => {
            r.findings.push(Finding::new(
                Status::Missing,
                Check::Read,
                format!("cannot read {}: {e}", media_path.display()),
            ));
            return finish_segment(r);
        }
    };
    let len = pass.len;
    r.media_bytes = Some(len);
    for (i, (c, utc_ms)) in checkpoints.iter().enumerate() {
        let got = if contiguous {
            pass.ranges.get(i).copied().flatten()
        } else {
            match hash_range(media_path, c.byte_start, c.byte_end) {
                Ok(h) => h,
                Err(e) => {
                    r.findings.push(Finding::new(
                        Status::Missing,
                        Check::Read,
                        format!("cannot read {}: {e}", media_path.display()),
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
    let last_video_pts = video.last().map(|c| c.pts_last);

    // Close.
    match close.map(|c| (&c.payload, c.header.utc_ms)) {
        Some((Payload::Final(f), _)) => {
            r.end_reason = Some(f.end_reason);
            r.duration_seconds = Some(f.duration_90k as f64 / 90_000.0);
            check_length(&mut r, f.total_len, len, "final");
            if pass.whole != f.segment_sha256 {
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
            check_sidecar(&mut r, files.sidecar.as_deref(), &f.sidecar_sha256);
        }
        Some((Payload::Recovery(v), utc_ms)) => {
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
            check_length(&mut r, v.byte_end, len, "recovery");
            let tail_ok = if contiguous && v.byte_start == covered && v.byte_end == len {
                pass.tail == v.tail_sha256
            } else {
                matches!(hash_range(media_path, v.byte_start, v.byte_end), Ok(Some(h)) if h == v.tail_sha256)
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
            check_sidecar(&mut r, files.sidecar.as_deref(), &v.sidecar_sha256);
            let tail = Tail {
                byte_range: [v.byte_start, v.byte_end],
                bytes: v.byte_end.saturating_sub(v.byte_start),
                seconds: pass.tail_scan.seconds_after(last_video_pts),
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
        Some((Payload::Checkpoint(_) | Payload::Audit(_) | Payload::Head(_), _)) | None => {
            let tail = Tail {
                byte_range: [covered.min(len), len],
                bytes: len.saturating_sub(covered),
                seconds: pass.tail_scan.seconds_after(last_video_pts),
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
    }
    finish_segment(r)
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
        Ok(bytes) if record::sha256(&bytes) == *signed => {}
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

// ---------------------------------------------------------------------------------------
// Hashing

/// Result of one streaming pass over a media file.
#[derive(Debug)]
struct Pass {
    /// SHA-256 of `[b[i], b[i+1])`; `None` when the file ended before `b[i+1]`.
    ranges: Vec<Option<[u8; 32]>>,
    /// SHA-256 of the whole file.
    whole: [u8; 32],
    /// SHA-256 of `[last boundary, EOF)`.
    tail: [u8; 32],
    /// Bytes read.
    len: u64,
    /// Video timestamps in the tail.
    tail_scan: TailScan,
}

fn finish(ctx: Context) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Hash `path` once: each range between consecutive `boundaries` (ascending, starting
/// at 0), the bytes after the last boundary, and the whole file.
fn hash_pass(path: &Path, boundaries: &[u64], progress: &mut Progress) -> std::io::Result<Pass> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    let ranges_total = boundaries.len().saturating_sub(1);
    let mut ranges = Vec::with_capacity(ranges_total);
    let mut whole = Context::new(&SHA256);
    let mut tail = Context::new(&SHA256);
    let mut cur = Context::new(&SHA256);
    let mut tail_scan = TailScan::default();
    let mut pos = 0u64;
    // Close every range that ends where we are (also empty ones).
    let settle = |ranges: &mut Vec<Option<[u8; 32]>>, cur: &mut Context, pos: u64| {
        while ranges.len() < ranges_total && boundaries.get(ranges.len() + 1) == Some(&pos) {
            let done = std::mem::replace(cur, Context::new(&SHA256));
            ranges.push(Some(finish(done)));
        }
    };
    settle(&mut ranges, &mut cur, pos);
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut data = &buf[..n];
        whole.update(data);
        progress.add(n as u64);
        while !data.is_empty() {
            match boundaries.get(ranges.len() + 1) {
                Some(&end) if ranges.len() < ranges_total => {
                    let take = usize::try_from(end.saturating_sub(pos))
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    cur.update(&data[..take]);
                    pos += take as u64;
                    data = &data[take..];
                    settle(&mut ranges, &mut cur, pos);
                }
                Some(_) | None => {
                    tail.update(data);
                    tail_scan.feed(data);
                    pos += data.len() as u64;
                    data = &[];
                }
            }
        }
    }
    ranges.resize(ranges_total, None);
    Ok(Pass {
        ranges,
        whole: finish(whole),
        tail: finish(tail),
        len: pos,
        tail_scan,
    })
}

/// SHA-256 of `[start, end)` of `path`; `None` when the file is shorter.
fn hash_range(path: &Path, start: u64, end: u64) -> std::io::Result<Option<[u8; 32]>> {
    if end < start {
        return Ok(None);
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut left = end - start;
    let mut buf = vec![0u8; CHUNK];
    let mut ctx = Context::new(&SHA256);
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        ctx.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Some(finish(ctx)))
}

/// Video timestamps in an unsigned or recovered tail, scanned packet by packet.
#[derive(Debug, Default)]
struct TailScan {
    carry: Vec<u8>,
    stopped: bool,
    first_video_pts: Option<u64>,
    last_video_pts: Option<u64>,
    video_frames: u64,
}

impl TailScan {
    fn feed(&mut self, mut data: &[u8]) {
        if self.stopped {
            return;
        }
        if !self.carry.is_empty() {
            let need = (ts::TS_PACKET - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..need]);
            data = &data[need..];
            if self.carry.len() < ts::TS_PACKET {
                return;
            }
            let packet = std::mem::take(&mut self.carry);
            self.scan(&packet);
        }
        let whole = data.len() - data.len() % ts::TS_PACKET;
        self.scan(&data[..whole]);
        if !self.stopped {
            self.carry.extend_from_slice(&data[whole..]);
        }
    }

    fn scan(&mut self, packets: &[u8]) {
        if self.stopped || packets.is_empty() {
            return;
        }
        let s = ts::scan(packets);
        if self.first_video_pts.is_none() {
            self.first_video_pts = s.first_video_pts;
        }
        if s.last_video_pts.is_some() {
            self.last_video_pts = s.last_video_pts;
        }
        self.video_frames += s.video_frames;
        if s.whole_packets_bytes < packets.len() as u64 {
            self.stopped = true;
        }
    }

    /// Seconds of video in the tail: from the last frame signed in-line (`signed_last`,
    /// a 90 kHz PTS) to the last frame of the tail; when nothing before the tail was
    /// signed, the tail's own span plus one frame period estimated from it.
    fn seconds_after(&self, signed_last: Option<u64>) -> f64 {
        let ticks = match (signed_last, self.first_video_pts, self.last_video_pts) {
            (Some(prev), _, Some(last)) => (last.wrapping_sub(prev) & PTS_MASK) as f64,
            (None, Some(first), Some(last)) if self.video_frames > 1 => {
                let span = (last.wrapping_sub(first) & PTS_MASK) as f64;
                span * self.video_frames as f64 / (self.video_frames - 1) as f64
            }
            (None, _, _) | (Some(_), _, None) => 0.0,
        };
        ticks / 90_000.0
    }
}

// ---------------------------------------------------------------------------------------
// Chains

/// Counter → record hashes, for head checks.
#[derive(Debug, Default)]
struct ChainIndex {
    hashes: BTreeMap<u64, Vec<[u8; 32]>>,
    first: Option<u64>,
    last: Option<u64>,
}

impl ChainIndex {
    fn of<L>(links: &[Link<L>]) -> ChainIndex {
        let mut hashes: BTreeMap<u64, Vec<[u8; 32]>> = BTreeMap::new();
        for l in links {
            hashes.entry(l.counter).or_default().push(l.hash);
        }
        ChainIndex {
            first: hashes.keys().next().copied(),
            last: hashes.keys().next_back().copied(),
            hashes,
        }
    }

    /// Whether the record `counter` with hash `hash` is present, and if not, why.
    fn find(&self, counter: u64, hash: &[u8; 32]) -> Result<(), (Status, String)> {
        match self.hashes.get(&counter) {
            Some(h) if h.contains(hash) => Ok(()),
            Some(_) => Err((
                Status::Tampered,
                format!("record {counter} in the store is not the one signed into the head"),
            )),
            None => match self.last {
                Some(last) if counter > last => Err((
                    Status::Missing,
                    format!(
                        "the store ends at record {last} but records up to {counter} existed: the newest are missing"
                    ),
                )),
                Some(_) => Err((
                    Status::Missing,
                    format!("record {counter} is not in the store"),
                )),
                None => Err((
                    Status::Missing,
                    format!("the store holds no record but records up to {counter} existed"),
                )),
            },
        }
    }
}

/// Duplicates, gaps and broken links of a chain.
fn analyse_chain<L: Clone>(links: &[Link<L>], must_start_at_zero: bool) -> Vec<ChainProblem<L>> {
    let mut by_counter: BTreeMap<u64, Vec<&Link<L>>> = BTreeMap::new();
    for l in links {
        by_counter.entry(l.counter).or_default().push(l);
    }
    let mut out = Vec::new();
    let mut prev: Option<(u64, &Vec<&Link<L>>)> = None;
    for (&counter, group) in &by_counter {
        let Some(first) = group.first() else {
            continue;
        };
        if group.len() > 1 {
            out.push(ChainProblem::DuplicateCounter {
                counter,
                identical: group.iter().all(|l| l.hash == first.hash),
                at: group.iter().map(|l| l.at.clone()).collect(),
            });
        }
        match prev {
            None if counter > 0 && must_start_at_zero => out.push(ChainProblem::Gap {
                from: 0,
                to: counter - 1,
                after: None,
                before: Some(first.at.clone()),
            }),
            Some((p, pg)) if counter > p + 1 => out.push(ChainProblem::Gap {
                from: p + 1,
                to: counter - 1,
                after: pg.last().map(|l| l.at.clone()),
                before: Some(first.at.clone()),
            }),
            Some((_, pg)) => {
                for l in group {
                    if !pg.iter().any(|q| q.hash == l.prev) {
                        out.push(ChainProblem::BrokenLink {
                            counter,
                            at: l.at.clone(),
                        });
                    }
                }
            }
            None => {
                if counter == 0 {
                    for l in group {
                        if l.prev != [0u8; 32] {
                            out.push(ChainProblem::BrokenLink {
                                counter,
                                at: l.at.clone(),
                            });
                        }
                    }
                }
            }
        }
        prev = Some((counter, group));
    }
    out
}

/// Records must sit in signing order: within a group (a recording; the audit log),
/// positions must grow with the counter. Counters held by several records are left
/// to the duplicate check.
fn out_of_order<L: Clone, G: Ord + Clone, P: Ord + Copy>(
    links: &[Link<L>],
    position: impl Fn(&L) -> (G, P),
) -> Vec<ChainProblem<L>> {
    let mut count: BTreeMap<u64, usize> = BTreeMap::new();
    for l in links {
        *count.entry(l.counter).or_default() += 1;
    }
    let mut sorted: Vec<&Link<L>> = links
        .iter()
        .filter(|l| count.get(&l.counter) == Some(&1))
        .collect();
    sorted.sort_by_key(|l| l.counter);
    let mut furthest: BTreeMap<G, (P, &Link<L>)> = BTreeMap::new();
    let mut out = Vec::new();
    let mut reported: Vec<G> = Vec::new();
    for l in sorted {
        let (group, pos) = position(&l.at);
        match furthest.get(&group) {
            Some((best, by)) if pos < *best => {
                if !reported.contains(&group) {
                    reported.push(group.clone());
                    out.push(ChainProblem::OutOfOrder {
                        counter: l.counter,
                        at: l.at.clone(),
                        after: by.at.clone(),
                    });
                }
            }
            Some(_) | None => {
                furthest.insert(group, (pos, l));
            }
        }
    }
    out
}

/// Put chain problems that concern one segment into that segment's findings.
fn mark_chain_findings(problems: &[ChainProblem<SegmentRef>], segments: &mut [SegmentReport]) {
    let mut add = |at: &SegmentRef, f: Finding| {
        if let Some(s) = segments
            .iter_mut()
            .find(|s| s.recording_id == at.recording_id && s.segment == at.segment)
        {
            s.findings.push(f);
            s.status = Status::of(&s.findings);
        }
    };
    for p in problems {
        match p {
            ChainProblem::BrokenLink { counter, at } => add(
                at,
                Finding::new(
                    Status::Tampered,
                    Check::Chain,
                    format!("record {counter} does not link to the record signed before it"),
                ),
            ),
            ChainProblem::OutOfOrder { counter, at, after } => add(
                at,
                Finding::new(
                    Status::Reordered,
                    Check::Chain,
                    format!(
                        "record {counter} was signed before {}/{:06} but sits after it",
                        after.recording_id, after.segment
                    ),
                ),
            ),
            ChainProblem::Gap { .. } | ChainProblem::DuplicateCounter { .. } => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// Audit log, media.head, head statement

/// Check the audit log. `required`: the store holds media evidence, so a boot entry
/// must have been logged before it (an absent log is then MISSING).
fn verify_audit(
    key: &Key,
    path: &Path,
    required: bool,
) -> (AuditReport, ChainIndex, Vec<AuditEvent>) {
    let mut report = AuditReport {
        status: Status::Ok,
        present: false,
        entries: 0,
        verified: 0,
        first_counter: None,
        last_counter: None,
        findings: Vec::new(),
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
    let parsed = parse_records(&data, "audit log");
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
        let event = AuditEvent {
            counter: rec.header.counter,
            utc: utc_text(rec.header.utc_ms),
            event: a.event.clone(),
            detail: serde_json::from_str(&a.detail)
                .unwrap_or_else(|_| serde_json::Value::String(a.detail.clone())),
        };
        if NOTABLE_EVENTS.contains(&a.event.as_str()) {
            report.notable.push(event.clone());
        }
        if CLAIM_EVENTS.contains(&a.event.as_str()) {
            claims.push(event);
        }
        links.push(Link {
            counter: rec.header.counter,
            prev: rec.header.prev_hash,
            hash: rec.raw.hash(),
            at: AuditRef { entry: index },
        });
    }
    report
        .findings
        .extend(untrusted.findings("audit", report.entries, key));
    report.verified = links.len();
    let index = ChainIndex::of(&links);
    report.first_counter = index.first;
    report.last_counter = index.last;
    report.problems = analyse_chain(&links, true);
    report
        .problems
        .extend(out_of_order(&links, |r: &AuditRef| ((), r.entry)));
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
    report.status = [Status::of(&report.findings), chain_status]
        .into_iter()
        .max_by_key(|s| s.severity())
        .unwrap_or(Status::Ok);
    (report, index, claims)
}

/// Read one record that must fill `bytes` exactly.
fn single_record(bytes: &[u8]) -> Result<Record, DecodeError> {
    let raw: RawRecord = record::parse(bytes)?;
    if raw.bytes.len() != bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - raw.bytes.len()));
    }
    payload::decode(raw)
}

fn verify_media_head(key: &Key, path: &Path, media: &ChainIndex) -> MediaHeadReport {
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
        Trust::Foreign(id) => {
            r.status = Status::Foreign;
            r.message = format!("signed by another device ({})", hex::encode(id));
            return r;
        }
        Trust::Altered => {
            r.status = Status::Tampered;
            r.message = "altered after signing (signature does not verify)".into();
            return r;
        }
    }
    match rec.header.kind {
        Kind::Checkpoint | Kind::Final | Kind::Recovery => {}
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

/// What the signed audit log says must exist, against the store: every recording
/// started has its directory (the device never deletes one), a stopped recording has
/// at least the segments it closed, and the media chain reaches the count a `boot` or
/// `head_issued` entry saw. Catches removal of the newest footage unless the newest
/// audit entries were removed too (which only a head statement catches).
fn cross_check(
    claims: &[AuditEvent],
    recordings: &[RecordingFiles],
    media: &ChainIndex,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let found = media.last.map_or(0, |l| l + 1);
    let recording = |id: &str| recordings.iter().find(|r| r.id == id);
    let missing = |message: String| Finding::new(Status::Missing, Check::AuditClaims, message);
    for c in claims {
        let detail = &c.detail;
        let id = detail
            .get("recording_id")
            .and_then(serde_json::Value::as_str);
        let count = |field: &str| detail.get(field).and_then(serde_json::Value::as_u64);
        match (c.event.as_str(), id) {
            ("recording_start", Some(id)) if recording(id).is_none() => {
                out.push(missing(format!(
                    "audit record {} says recording {id} started, but its directory is gone",
                    c.counter
                )));
            }
            ("recording_stop", Some(id)) => {
                let closed = count("segments").unwrap_or(0);
                let present = recording(id).map_or(0, |r| {
                    r.segments
                        .iter()
                        .filter(|(_, f)| f.media.is_some() || f.journal.is_some())
                        .map(|(&seq, _)| u64::from(seq))
                        .max()
                        .unwrap_or(0)
                });
                if present < closed {
                    out.push(missing(format!(
                        "audit record {} says recording {id} closed {closed} segment(s), but only {present} are there",
                        c.counter
                    )));
                }
            }
            (event @ ("boot" | "head_issued"), _) => {
                let field = if event == "boot" {
                    "media_chain_count"
                } else {
                    "media_count"
                };
                if let Some(n) = count(field)
                    && n > found
                {
                    out.push(missing(format!(
                        "audit record {} ({event}) saw {n} media records, but the store holds {found}: the newest are missing",
                        c.counter
                    )));
                }
            }
            _ => {}
        }
    }
    out
}

/// A segment whose media is absent is OFFLOADED, not MISSING, when the signed audit log
/// holds both a dock's acknowledgement with the segment's signed hash and the deletion.
fn apply_offloads(claims: &[AuditEvent], segments: &mut [SegmentReport]) {
    let names = |c: &AuditEvent, event: &str, rec: &str, seg: u32| {
        c.event == event
            && c.detail
                .get("recording_id")
                .and_then(serde_json::Value::as_str)
                == Some(rec)
            && c.detail.get("segment").and_then(serde_json::Value::as_u64) == Some(u64::from(seg))
    };
    for r in segments.iter_mut() {
        let Some(signed) = r.signed_sha256.clone() else {
            continue;
        };
        let acked = claims.iter().any(|c| {
            names(c, "offload_ack", &r.recording_id, r.segment)
                && c.detail.get("sha256").and_then(serde_json::Value::as_str) == Some(&signed)
        });
        let freed = claims
            .iter()
            .any(|c| names(c, "segment_freed", &r.recording_id, r.segment));
        if !(acked && freed) {
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

/// A parsed head statement file.
#[derive(Debug)]
struct HeadFile {
    record: Record,
    json: serde_json::Value,
}

fn load_head(path: &Path) -> Result<HeadFile, VerifyError> {
    let bad = |reason: String| VerifyError::BadHead {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| VerifyError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let hex_record = json
        .get("record")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| bad("no \"record\" field".into()))?;
    let bytes =
        hex::decode(hex_record.trim()).map_err(|e| bad(format!("record is not hex: {e}")))?;
    let record = single_record(&bytes).map_err(|e| bad(format!("record: {e}")))?;
    match record.header.kind {
        Kind::Head => Ok(HeadFile { record, json }),
        Kind::Checkpoint | Kind::Final | Kind::Recovery | Kind::Audit => Err(bad(format!(
            "holds a {:?} record, not a head record",
            record.header.kind
        ))),
    }
}

fn check_head(key: &Key, h: &HeadFile, media: &ChainIndex, audit: &ChainIndex) -> HeadReport {
    let rec = &h.record;
    let (nonce, audit_count, audit_hash) = match &rec.payload {
        Payload::Head(p) => (hex::encode(&p.nonce), p.audit_count, p.audit_hash),
        Payload::Checkpoint(_) | Payload::Final(_) | Payload::Recovery(_) | Payload::Audit(_) => {
            (String::new(), 0, [0u8; 32])
        }
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
        Trust::Foreign(id) => r.findings.push(Finding::new(
            Status::Foreign,
            Check::Signature,
            format!("signed by another device ({})", hex::encode(id)),
        )),
        Trust::Altered => r.findings.push(Finding::new(
            Status::Tampered,
            Check::Signature,
            "altered after signing (signature does not verify)",
        )),
    }
    if r.findings.is_empty() {
        // The unsigned JSON fields must say what the signed record says.
        let expect = [
            ("format", serde_json::json!(HEAD_FORMAT)),
            (
                "device_id",
                serde_json::json!(hex::encode(rec.header.device_id)),
            ),
            ("nonce", serde_json::json!(r.nonce)),
            ("media_count", serde_json::json!(rec.header.counter)),
            (
                "media_hash",
                serde_json::json!(hex::encode(rec.header.prev_hash)),
            ),
            ("audit_count", serde_json::json!(audit_count)),
            ("audit_hash", serde_json::json!(hex::encode(audit_hash))),
        ];
        for (field, want) in expect {
            if let Some(got) = h.json.get(field)
                && *got != want
            {
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

// ---------------------------------------------------------------------------------------
// Output helpers

/// Seconds from the recording's start of a 90 kHz PTS as written in the TS.
fn pts_seconds(pts: u64) -> f64 {
    (pts as f64 - TS_TIME_OFFSET_90K as f64) / 90_000.0
}

fn utc_text(utc_ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(utc_ms).map(crate::clock::rfc3339)
}

/// Progress on stderr: segments and bytes done.
#[derive(Debug)]
struct Progress {
    enabled: bool,
    segments: usize,
    segments_done: usize,
    bytes: u64,
    bytes_done: u64,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    fn new(enabled: bool, segments: usize, bytes: u64) -> Progress {
        Progress {
            enabled,
            segments,
            segments_done: 0,
            bytes,
            bytes_done: 0,
            started: Instant::now(),
            drawn: None,
        }
    }

    fn add(&mut self, n: u64) {
        self.bytes_done += n;
        self.draw(false);
    }

    fn segment_done(&mut self) {
        self.segments_done += 1;
        self.draw(false);
    }

    fn draw(&mut self, force: bool) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if !force
            && self
                .drawn
                .is_some_and(|t| now.duration_since(t).as_millis() < 100)
        {
            return;
        }
        self.drawn = Some(now);
        const WIDTH: usize = 30;
        let frac = if self.bytes > 0 {
            (self.bytes_done as f64 / self.bytes as f64).min(1.0)
        } else {
            self.segments_done as f64 / self.segments.max(1) as f64
        };
        let filled = (frac * WIDTH as f64) as usize;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let _ = write!(
            std::io::stderr(),
            "\r[{}{}] {:3.0}%  {}/{} segments  {:.0}/{:.0} MiB  {:.0} MiB/s ",
            "=".repeat(filled),
            " ".repeat(WIDTH - filled),
            frac * 100.0,
            self.segments_done,
            self.segments,
            mib(self.bytes_done),
            mib(self.bytes),
            mib(self.bytes_done) / secs
        );
    }

    fn finish(&mut self) {
        if self.enabled {
            self.draw(true);
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

fn range_text(s: Option<[f64; 2]>) -> String {
    s.map_or(String::new(), |[a, b]| format!("{a:.2}–{b:.2} s"))
}

/// The human-readable report.
pub fn render(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let input = match r.input {
        InputKind::Store => "store",
        InputKind::Recording => "recording",
        InputKind::Segment => "segment",
    };
    writeln!(out, "bodycam verify {} ({input})", r.path)?;
    let source = match r.key.source {
        KeySource::Key => "--key".to_string(),
        KeySource::IdentityFile => format!("--identity {}", r.key.path.as_deref().unwrap_or("")),
        KeySource::Store => format!(
            "{} (NOT independently supplied)",
            r.key.path.as_deref().unwrap_or("the store")
        ),
    };
    writeln!(out, "key      device {} from {source}", r.key.device_id)?;
    for n in &r.key.notes {
        writeln!(out, "         ! {n}")?;
    }
    let mut current = None;
    for s in &r.segments {
        if current != Some(&s.recording_id) {
            writeln!(out, "recording {}", s.recording_id)?;
            current = Some(&s.recording_id);
        }
        let counters = s
            .counters
            .map_or(String::new(), |[a, b]| format!("records {a}–{b}"));
        writeln!(
            out,
            "  {:06}  {:<15} {:<18} {}",
            s.segment,
            s.status.label(),
            range_text(s.seconds),
            counters
        )?;
        for f in &s.findings {
            let mut extra = String::new();
            if let Some(sec) = f.seconds {
                extra.push_str(&format!(" at {}", range_text(Some(sec))));
            }
            if let Some(u) = &f.signed_utc {
                extra.push_str(&format!(" signed {u}"));
            }
            writeln!(out, "          {} {}{extra}", f.status.label(), f.message)?;
        }
    }
    let counters = match (r.chain.first_counter, r.chain.last_counter) {
        (Some(a), Some(b)) => format!("counters {a}–{b}"),
        (Some(_), None) | (None, Some(_)) | (None, None) => "no records".into(),
    };
    let name = |x: &SegmentRef| format!("{}/{:06}", x.recording_id, x.segment);
    if r.chain.problems.is_empty() {
        writeln!(
            out,
            "media chain  {} records, {counters}: intact",
            r.chain.records
        )?;
    } else {
        writeln!(out, "media chain  {} records, {counters}:", r.chain.records)?;
        for p in &r.chain.problems {
            writeln!(out, "             {}", describe_problem(p, &name))?;
        }
    }
    if let Some(m) = &r.media_head {
        writeln!(out, "media.head   {}: {}", m.status.label(), m.message)?;
    }
    if let Some(a) = &r.audit {
        if a.present {
            writeln!(
                out,
                "audit log    {}: {} entries ({} verified)",
                a.status.label(),
                a.entries,
                a.verified
            )?;
        } else {
            writeln!(out, "audit log    {}: absent", a.status.label())?;
        }
        for f in &a.findings {
            writeln!(out, "             {} {}", f.status.label(), f.message)?;
        }
        for p in &a.problems {
            writeln!(
                out,
                "             {}",
                describe_problem(p, &|x: &AuditRef| format!("entry {}", x.entry))
            )?;
        }
        for e in &a.notable {
            writeln!(
                out,
                "             event {} {} {}",
                e.utc.as_deref().unwrap_or("?"),
                e.event,
                e.detail
            )?;
        }
    }
    for f in &r.cross_checks {
        writeln!(out, "audit/media  {} {}", f.status.label(), f.message)?;
    }
    match &r.head {
        Some(h) => {
            writeln!(
                out,
                "head         {}: nonce {} signed {} ({} media, {} audit records)",
                h.status.label(),
                h.nonce,
                h.signed_utc.as_deref().unwrap_or("?"),
                h.media_count,
                h.audit_count
            )?;
            for f in &h.findings {
                writeln!(out, "             {} {}", f.status.label(), f.message)?;
            }
        }
        None => {
            if r.input == InputKind::Store {
                writeln!(out, "head         not given (--head)")?;
            }
        }
    }
    for e in &r.errors {
        writeln!(out, "error        {e}")?;
    }
    for n in &r.notes {
        writeln!(out, "note         {n}")?;
    }
    writeln!(out, "VERDICT: {}", r.verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(counter: u64, prev: [u8; 32], hash: u8, at: usize) -> Link<usize> {
        Link {
            counter,
            prev,
            hash: [hash; 32],
            at,
        }
    }

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

    #[test]
    fn chain_analysis_finds_gaps_duplicates_and_broken_links() {
        let z = [0u8; 32];
        let good = vec![
            link(0, z, 1, 0),
            link(1, [1; 32], 2, 1),
            link(2, [2; 32], 3, 2),
        ];
        assert!(analyse_chain(&good, true).is_empty());
        // Not starting at 0 only matters for a whole store.
        assert!(analyse_chain(&good[1..], false).is_empty());
        assert_eq!(
            analyse_chain(&good[1..], true),
            vec![ChainProblem::Gap {
                from: 0,
                to: 0,
                after: None,
                before: Some(1)
            }]
        );
        let gap = vec![good[0].clone(), good[2].clone()];
        assert_eq!(
            analyse_chain(&gap, true),
            vec![ChainProblem::Gap {
                from: 1,
                to: 1,
                after: Some(0),
                before: Some(2)
            }]
        );
        let mut dup = good.clone();
        dup.push(link(1, [1; 32], 2, 9));
        assert_eq!(
            analyse_chain(&dup, true),
            vec![ChainProblem::DuplicateCounter {
                counter: 1,
                identical: true,
                at: vec![1, 9]
            }]
        );
        let mut broken = good.clone();
        broken[2].prev = [7; 32];
        assert_eq!(
            analyse_chain(&broken, true),
            vec![ChainProblem::BrokenLink { counter: 2, at: 2 }]
        );
        let mut swapped = good;
        swapped[0].at = 5;
        let p = out_of_order(&swapped, |a: &usize| ((), *a));
        assert_eq!(
            p,
            vec![ChainProblem::OutOfOrder {
                counter: 1,
                at: 1,
                after: 5
            }]
        );
    }

    #[test]
    fn one_pass_hashes_every_range_the_tail_and_the_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.ts");
        let data: Vec<u8> = (0..(CHUNK * 2 + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        std::fs::write(&p, &data).unwrap();
        let bounds = [0u64, 0, 100, CHUNK as u64 + 3, CHUNK as u64 * 2 + 10];
        let mut progress = Progress::new(false, 1, data.len() as u64);
        let pass = hash_pass(&p, &bounds, &mut progress).unwrap();
        assert_eq!(pass.len, data.len() as u64);
        for (i, w) in bounds.windows(2).enumerate() {
            let want = record::sha256(&data[w[0] as usize..w[1] as usize]);
            assert_eq!(pass.ranges[i], Some(want), "range {i}");
            assert_eq!(hash_range(&p, w[0], w[1]).unwrap(), Some(want));
        }
        assert_eq!(pass.whole, record::sha256(&data));
        assert_eq!(pass.tail, record::sha256(&data[CHUNK * 2 + 10..]));
        // A range past the end is reported as not covered, not as a hash.
        let beyond = [0u64, data.len() as u64 + 1];
        let pass = hash_pass(&p, &beyond, &mut progress).unwrap();
        assert_eq!(pass.ranges, vec![None]);
        assert_eq!(hash_range(&p, 10, data.len() as u64 + 1).unwrap(), None);
    }

    #[test]
    fn segment_file_names() {
        assert_eq!(segment_file("000001.ts"), Some((1, Role::Media)));
        assert_eq!(segment_file("000012.journal"), Some((12, Role::Journal)));
        assert_eq!(segment_file("000012.json"), Some((12, Role::Sidecar)));
        assert_eq!(segment_file("recording.json"), None);
        assert_eq!(segment_file(".000001.json.tmp"), None);
        assert_eq!(segment_file("00001.ts"), None);
    }
}
