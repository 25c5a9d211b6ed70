//! `bodycam verify`: checks a store, a recording or one segment against docs/EVIDENCE-FORMAT.md section 7.
//!
//! Every check adds findings to the [`Report`]; the verdict is derived from the whole
//! report once, at the end ([`Report::failures`]), so a failure anywhere can never be
//! outweighed by what follows it. Media files are hashed by streaming them once
//! (1 MiB reads), checking every checkpoint range, the whole file and the tail in the
//! same pass.
//!
//! The pipeline, one module per step:
//! - `inputs`: what the path is, which files to examine, and the key to check against.
//! - `records`: splitting a file into records and checking their signatures.
//! - `segment`: the checks of one segment (journal, media, sidecar).
//! - `hashing`: the one streaming pass over a media file, and the tail's timestamps.
//! - [`chain`]: the linking rule and the analysis of a chain (media or audit); shared with
//!   the dock agent, which checks each journal and its link to the dock's ledger with it.
//! - [`journal`]: one journal on its own as an unbroken run of linked records (the dock
//!   agent's check of each journal it offloads).
//! - `audit`: the audit log, and what its signed entries say must exist.
//! - `head`: `evidence/media.head` and a head statement (`--head`).
//! - `report`: the report types and the verdict.
//! - `render`: the text and JSON reports, and the progress bar.

mod audit;
pub mod chain;
mod deleted;
mod gpx;
mod hashing;
mod head;
mod inputs;
pub mod journal;
mod officer;
mod records;
mod render;
mod report;
mod sealed;
mod segment;
mod silence;

use std::path::{Path, PathBuf};

use crate::evidence::identity::{IdentityError, device_id_for};
use crate::layout;

use audit::{apply_offloads, cross_check, verify_audit};
use chain::{ChainIndex, Link, analyse_chain, mark_chain_findings, out_of_order};
use head::{check_head, load_head, verify_media_head};
pub use inputs::parse_key_hex;
use inputs::{Input, Key, RecordingFiles, resolve_key};
use render::Progress;
use segment::verify_segment;

pub use chain::ChainProblem;
pub use gpx::{TrackPart, write_gpx, write_tracks};
pub use head::HEAD_FORMAT;
pub use render::{render, render_json};
pub use report::{
    AuditEntry, AuditRef, AuditReport, ChainReport, Check, EncryptionReport, Finding, HeadReport,
    InputKind, KeyReport, KeySource, MediaHeadReport, OfficerValue, REPORT_FORMAT,
    RecordingSummary, Report, SegmentRef, SegmentReport, Status, Tail, TrackPoint,
};

/// A progress bar is drawn (on a terminal) from this many segments on.
const PROGRESS_MIN_SEGMENTS: usize = 20;

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
    /// `--trust-store-key` with `--key` or `--identity`.
    #[error(
        "--trust-store-key accepts the store's own key; it cannot be combined with --key or --identity"
    )]
    TrustConflict,
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
    /// Other devices' public keys (`--other-key`, 64 hex digits each): a record that
    /// fails under the key but verifies under one of these is FOREIGN, not TAMPERED.
    pub other_keys: Vec<String>,
    /// Other devices' identity files (`--other-identity`), as `other_keys`.
    pub other_identities: Vec<PathBuf>,
    /// Without `--key`/`--identity`: accept the store's own `keys/identity.json` as the
    /// key (`--trust-store-key`). Otherwise a store that verifies against its own key
    /// only is reported as not confirmed ([`Report::verifies`] true, [`Report::ok`] false).
    pub trust_store_key: bool,
    /// Draw a progress bar on stderr (the caller checks that stderr is a terminal).
    pub progress: bool,
}

// ---------------------------------------------------------------------------------------
// Entry points

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
    let (mut segments, links) = verify_segments(&key, &recordings, opts.progress);
    if segments.is_empty() && input.kind != InputKind::Store {
        errors.push("nothing verified: no segment found".into());
    }
    let must_start_at_zero = input.kind == InputKind::Store;
    let (mut chain, mut media_index) = media_chain(&links, must_start_at_zero, &mut segments);
    let deleted = match input.kind {
        InputKind::Store => deleted::account(
            &input.root,
            &hex::encode(key.device_id),
            &links,
            &mut chain.problems,
            &mut media_index,
            &mut segments,
            &mut notes,
        ),
        InputKind::Recording | InputKind::Segment => deleted::Accounted::default(),
    };
    let store = match input.kind {
        InputKind::Store => Some(verify_store_evidence(
            &key,
            &input.root,
            &recordings,
            (&media_index, &deleted),
            &mut segments,
            &mut notes,
        )),
        InputKind::Recording | InputKind::Segment => {
            notes.push(
                "audit log, evidence/media.head and the start of the media chain are only \
                 checked when verifying a whole store"
                    .into(),
            );
            None
        }
    };
    let head = match (head, &store) {
        (Some(h), Some(s)) => Some(check_head(&key, &h, &media_index, &s.audit_index)),
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
    let (audit, media_head, cross_checks) = match store {
        Some(s) => (Some(s.audit), Some(s.media_head), s.cross_checks),
        None => (None, None, Vec::new()),
    };
    let recordings = officer::summarize(&input, &recordings, &segments, &mut notes);
    let mut report = Report {
        format: REPORT_FORMAT,
        path: opts.path.display().to_string(),
        input: input.kind,
        key: key_report,
        segments,
        recordings,
        chain,
        audit,
        media_head,
        cross_checks,
        head,
        errors,
        notes,
        ok: false,
        verifies: false,
        failures: Vec::new(),
        verdict: String::new(),
    };
    report.conclude();
    Ok(report)
}

/// Every segment of `recordings` in order (with a progress bar when `progress` and
/// there are enough of them), and the verified media records for the chain analysis.
fn verify_segments(
    key: &Key,
    recordings: &[RecordingFiles],
    progress: bool,
) -> (Vec<SegmentReport>, Vec<Link<SegmentRef>>) {
    let total_segments: usize = recordings.iter().map(|r| r.segments.len()).sum();
    let total_bytes: u64 = recordings
        .iter()
        .flat_map(|r| r.segments.values())
        .filter_map(|f| f.media.as_ref())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = std::sync::Mutex::new(Progress::new(
        progress && total_segments >= PROGRESS_MIN_SEGMENTS,
        total_segments,
        total_bytes,
    ));
    let work: Vec<(&str, u32, &inputs::SegmentFiles)> = recordings
        .iter()
        .flat_map(|rec| {
            rec.segments
                .iter()
                .map(move |(&seq, files)| (rec.id.as_str(), seq, files))
        })
        .collect();
    // Segments are independent until the chain analysis: hash them on every core, in
    // any order, and put the results back in order.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(work.len())
        .max(1);
    let mut done: Vec<(usize, SegmentReport, Vec<Link<SegmentRef>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    let mut quiet = Progress::new(false, 0, 0);
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(id, seq, files)) = work.get(i) else {
                            return out;
                        };
                        let mut links = Vec::new();
                        let report = verify_segment(key, id, seq, files, &mut links, &mut quiet);
                        if let Ok(mut p) = progress.lock() {
                            p.add(report.media_bytes.unwrap_or(0));
                            p.segment_done();
                        }
                        out.push((i, report, links));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                // A panic in a worker is a panic of the verifier: never a shorter report.
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    });
    done.sort_by_key(|(i, _, _)| *i);
    if let Ok(mut p) = progress.lock() {
        p.finish();
    }
    let mut segments = Vec::with_capacity(total_segments);
    let mut links = Vec::new();
    for (_, report, l) in done {
        segments.push(report);
        links.extend(l);
    }
    (segments, links)
}

/// The media chain over every verified record; problems that concern one segment are
/// added to its findings too.
fn media_chain(
    links: &[Link<SegmentRef>],
    must_start_at_zero: bool,
    segments: &mut [SegmentReport],
) -> (ChainReport, ChainIndex) {
    let media_index = ChainIndex::of(links);
    let mut problems = analyse_chain(links, must_start_at_zero);
    problems.extend(out_of_order(links, |r: &SegmentRef| {
        (r.recording_id.clone(), (r.segment, r.record))
    }));
    mark_chain_findings(&problems, segments);
    let chain = ChainReport {
        records: links.len(),
        first_counter: media_index.first,
        last_counter: media_index.last,
        must_start_at_zero,
        problems,
    };
    (chain, media_index)
}

/// What only a whole store holds: the audit log, `evidence/media.head`, and the audit
/// log's claims against the footage.
struct StoreEvidence {
    audit: AuditReport,
    /// The audit chain, for the head statement.
    audit_index: ChainIndex,
    media_head: MediaHeadReport,
    cross_checks: Vec<Finding>,
}

/// Check the store's `evidence/`; segments whose absent media the audit log accounts
/// for become OFFLOADED.
fn verify_store_evidence(
    key: &Key,
    root: &Path,
    recordings: &[RecordingFiles],
    (media_index, deleted): (&ChainIndex, &deleted::Accounted),
    segments: &mut [SegmentReport],
    notes: &mut Vec<String>,
) -> StoreEvidence {
    let media_head = verify_media_head(key, &layout::media_head_path(root), media_index);
    let required = !segments.is_empty() || media_head.present;
    let (audit, audit_index, claims) = verify_audit(key, &layout::audit_path(root), required);
    if !audit.present && !required {
        notes.push("empty store: no audit log and no footage yet".into());
    }
    let cross_checks = cross_check(&claims, recordings, media_index, &deleted.segments);
    apply_offloads(&claims, segments);
    StoreEvidence {
        audit,
        audit_index,
        media_head,
        cross_checks,
    }
}

/// Verify an audit log on its own against `public_key` (every record signed, the chain
/// unbroken, no torn or foreign records). The dock agent checks each audit log it
/// uploads with this; `bodycam verify` checks it as part of a store.
pub fn verify_audit_log(public_key: &[u8; 32], path: &Path) -> AuditReport {
    let key = Key {
        public: *public_key,
        device_id: device_id_for(public_key),
        others: Vec::new(),
    };
    verify_audit(&key, path, true).0
}
