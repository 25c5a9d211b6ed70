//! Offloading one docked camera: enrolment, the bay's assignment file, clock, signed
//! head, then every closed segment: first every journal and its link to the one before
//! it, in chain order; then the segments themselves ([`super::segment`]) in upload order
//! ([`super::priority`]); then the audit log and the head statement. A segment that
//! fails verification goes to the quarantine prefix and is never acknowledged.
//!
//! Crash safety rests on four facts: downloads land under their final name only when
//! complete; blobs are created with `If-None-Match: *` and never replaced; the camera
//! is acknowledged only after the stored blob was read back and its SHA-256 compared;
//! and the camera accepts an acknowledgement only with its own signed hash. A rerun
//! after a crash at any point therefore finds either a pending segment (and redoes what
//! is missing, reusing blobs whose content matches) or an acknowledged one (and skips it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ring::rand::{SecureRandom, SystemRandom};

use super::azure::{BlobError, BlobStore};
use super::camera::{CameraClient, CameraError};
use super::chain::{ChainBreak, Span, Tip, continues};
use super::config::{AgentConfig, CameraEntry, EnrolledDevice};
use super::ledger::{Anchor, Ledger, LedgerError, device_dir};
use super::progress::Bar;
use super::records;
use super::segment::{self, Done, SegmentFiles};
pub use super::summary::{Outcome, Summary};
use crate::dock::wire::{DeviceInfo, ListedRecording, ListedSegment, OffloadState};
use crate::evidence::head::HeadStatement;
use crate::evidence::payload::{Payload, decode_hex};
use crate::evidence::record::Kind;
use crate::evidence::verify::journal::JournalError;
use crate::layout::{self, RecordingId};

/// Everything a camera's offload needs, shared by all bays.
#[derive(Debug)]
pub struct Shared {
    /// Configuration.
    pub cfg: Arc<AgentConfig>,
    /// Parsed enrolment list.
    pub enrolled: Vec<EnrolledDevice>,
    /// The cloud container.
    pub blobs: BlobStore,
    /// TLS towards the cameras (none for commands that do not talk to cameras).
    pub tls: Option<rustls::ClientConfig>,
    /// This dock's name.
    pub dock: String,
}

impl Shared {
    /// The TLS configuration towards the cameras.
    pub fn camera_tls(&self) -> Result<rustls::ClientConfig, CameraError> {
        self.tls
            .clone()
            .ok_or_else(|| CameraError::Setup("set up without the cameras' TLS files".into()))
    }
}

/// Why a camera's offload stopped (the rest of it is skipped; the reason is its
/// summary's error).
#[derive(Debug, thiserror::Error)]
pub enum OffloadError {
    /// Talking to the camera failed.
    #[error("{context}{source}")]
    Camera {
        /// What was being fetched (empty, or `"<segment>: <file>: "`).
        context: String,
        /// Cause.
        source: CameraError,
    },
    /// The camera is not on this dock's enrolment list.
    #[error("device {0:?} is not enrolled at this dock; nothing downloaded or acknowledged")]
    NotEnrolled(String),
    /// The camera presents another key than the enrolled one.
    #[error(
        "device {device} presents public key {key}, not the enrolled key; nothing downloaded or acknowledged"
    )]
    WrongKey {
        /// Device id.
        device: String,
        /// The key it presented (hex).
        key: String,
    },
    /// The head statement does not prove the camera holds the enrolled key now.
    #[error("{0}")]
    BadHead(String),
    /// No random nonce could be made.
    #[error("no randomness for the head nonce")]
    Randomness,
    /// The camera listed a recording id that is not one.
    #[error("camera listed a malformed recording id {0:?}")]
    MalformedListing(String),
    /// The device's ledger is unusable.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A segment could not be verified, stored or acknowledged.
    #[error("{segment}: {reason}")]
    Segment {
        /// `<recording>/NNNNNN`.
        segment: String,
        /// What went wrong.
        reason: segment::SegmentError,
    },
    /// The earlier blobs of a recording could not be given their spread tags, so
    /// nothing more of it is uploaded now ([`super::spread`]).
    #[error(
        "{recording}: cannot raise the spread tags of its blobs from earlier docks, so none of its segments is uploaded now: {reason}"
    )]
    Spread {
        /// The recording.
        recording: String,
        /// What went wrong.
        reason: String,
    },
    /// The audit log could not be stored.
    #[error("audit log: {0}")]
    Audit(String),
    /// The head statement could not be stored.
    #[error("head statement: {0}")]
    StoreHead(BlobError),
}

impl From<CameraError> for OffloadError {
    fn from(source: CameraError) -> OffloadError {
        OffloadError::Camera {
            context: String::new(),
            source,
        }
    }
}

/// Offload one camera. `skip_if_unchanged`: the last pass found it complete; if it
/// still has nothing closed and pending and nothing open, return at once (no head
/// statement, no audit upload).
pub async fn sync_camera(
    shared: Arc<Shared>,
    cam: CameraEntry,
    bar: Bar,
    skip_if_unchanged: bool,
) -> Summary {
    let started = Instant::now();
    let mut summary = Summary::new(&cam.name);
    if let Err(e) = run(&shared, &cam, &bar, &mut summary, skip_if_unchanged).await {
        summary.errors.push(e.to_string());
    }
    if summary.outcome != Outcome::NotDocked {
        summary.outcome =
            if summary.errors.is_empty() && summary.quarantined.is_empty() && summary.open == 0 {
                Outcome::Complete
            } else {
                Outcome::Incomplete
            };
    }
    summary.seconds = started.elapsed().as_secs_f64();
    bar.finish(&summary.line());
    summary
}

/// What the camera said about itself, checked against the enrolment list.
pub(crate) struct Device {
    /// Device id (hex).
    pub(crate) id: String,
    /// The enrolled Ed25519 public key.
    pub(crate) key: [u8; 32],
}

async fn run(
    shared: &Shared,
    cam: &CameraEntry,
    bar: &Bar,
    summary: &mut Summary,
    skip_if_unchanged: bool,
) -> Result<(), OffloadError> {
    let client = CameraClient::new(shared.camera_tls()?, &cam.url, cam.interface.as_deref())?;
    bar.message("connecting");
    let info = match client.device().await {
        Ok(v) => v,
        Err(CameraError::Unreachable(_)) => {
            summary.outcome = Outcome::NotDocked;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let device = enrolled(shared, &info)?;
    summary.device = Some(device.id.clone());
    tracing::info!(camera = %cam.name, device = %device.id, "camera docked and enrolled");

    apply_assignment_file(shared, cam, &client, &info, summary).await;
    if skip_if_unchanged && unchanged(&client).await? {
        summary.quiet = summary.assigned.is_none();
        return Ok(());
    }
    if shared.cfg.set_camera_clock {
        set_clock(&client, cam).await;
    }
    let (head, nonce) = fresh_head(&client, &device).await?;
    let (segments, priority) = listed_segments(&client).await?;
    let mut pass = Pass::start(shared, &device, &segments)?;
    bar.start(pending_bytes(&segments));
    pass.chain(&client, bar, &segments, summary).await?;
    // The bridged run from the anchor needs no upload: move over it now.
    pass.advance();
    pass.offload(&client, bar, &priority, summary).await?;
    pass.advance();
    pass.ledger.save(&shared.cfg.state_dir)?;

    bar.message("audit log");
    records::upload_audit(shared, &client, &device, &pass.mirror, summary).await?;
    records::upload_head(shared, &device, &head, &nonce).await
}

/// The bay's `assignment_file`, if it names an officer the camera is not assigned to
/// yet: assign it (a problem is the summary's error; the offload goes on).
async fn apply_assignment_file(
    shared: &Shared,
    cam: &CameraEntry,
    client: &CameraClient,
    info: &DeviceInfo,
    summary: &mut Summary,
) {
    let Some(path) = &cam.assignment_file else {
        return;
    };
    let wanted = match super::assign::read_assignment_file(path) {
        Ok(Some(o)) => o,
        Ok(None) => return,
        Err(e) => {
            summary.errors.push(e.to_string());
            return;
        }
    };
    if info.officer.as_deref() == Some(wanted.as_str()) {
        return;
    }
    match super::assign::assign_camera(shared, cam, client, info, Some(&wanted)).await {
        Ok(r) => {
            tracing::info!(camera = %cam.name, officer = ?r.officer, previous = ?r.previous, "officer assigned from the bay's assignment file");
            summary.assigned = r.officer;
        }
        Err(e) => summary.errors.push(format!("assignment: {e}")),
    }
}

/// Whether every segment on the camera is closed and acknowledged already.
async fn unchanged(client: &CameraClient) -> Result<bool, OffloadError> {
    let listing = client.recordings().await?;
    Ok(listing
        .iter()
        .flat_map(|r| &r.segments)
        .all(|s| s.closed && s.offload == OffloadState::Acknowledged))
}

/// Send the dock's time (the camera audits the offset; it sets its clock only when
/// configured to).
async fn set_clock(client: &CameraClient, cam: &CameraEntry) {
    let now = chrono::Utc::now().timestamp_millis();
    match client.set_time(now).await {
        Ok(t) => {
            tracing::info!(camera = %cam.name, offset_ms = t.offset_ms, applied = t.applied, "camera clock set")
        }
        Err(e) => tracing::warn!(camera = %cam.name, error = %e, "cannot set the camera clock"),
    }
}

/// A head statement for a fresh nonce, checked: the camera holds the enrolled key now.
async fn fresh_head(
    client: &CameraClient,
    device: &Device,
) -> Result<(HeadStatement, [u8; 16]), OffloadError> {
    let mut nonce = [0u8; 16];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| OffloadError::Randomness)?;
    let head = client.head(&nonce).await?;
    check_head(&head, &nonce, device)?;
    Ok((head, nonce))
}

/// Every listed segment with its validated recording id, in chain order, and the
/// recordings that go first ([`super::priority`]).
async fn listed_segments(
    client: &CameraClient,
) -> Result<(Vec<(RecordingId, ListedSegment)>, BTreeSet<String>), OffloadError> {
    let listing = client.recordings().await?;
    let priority = super::priority::priority_recordings(&listing);
    Ok((ordered_segments(listing)?, priority))
}

/// The listed segments with their validated recording ids, in chain order (recording
/// id, then sequence number).
pub(crate) fn ordered_segments(
    recordings: Vec<ListedRecording>,
) -> Result<Vec<(RecordingId, ListedSegment)>, OffloadError> {
    let mut segments = Vec::new();
    for r in recordings {
        let Some(id) = RecordingId::parse(&r.id) else {
            return Err(OffloadError::MalformedListing(r.id));
        };
        for s in r.segments {
            segments.push((id.clone(), s));
        }
    }
    segments.sort_by(|a, b| (&a.0, a.1.sequence).cmp(&(&b.0, b.1.sequence)));
    Ok(segments)
}

/// Media bytes of the closed segments still to offload (the progress bar's length). The
/// sizes are the camera's word: saturating, since a listing may claim any (a `sum`
/// overflowed on two huge sizes, found through the agent_answers fuzz target).
pub(crate) fn pending_bytes(segments: &[(RecordingId, ListedSegment)]) -> u64 {
    segments
        .iter()
        .filter(|(_, s)| s.closed && s.offload == OffloadState::Pending)
        .filter_map(|(_, s)| s.bytes)
        .fold(0, u64::saturating_add)
}

/// Where a listed segment stands in a pass, in chain order.
enum Step {
    /// Acknowledged before the ledger's anchor: offloaded in an earlier pass.
    Before,
    /// Still being recorded: the anchor cannot move past it.
    Open,
    /// Acknowledged after the anchor (another dock, or this one before a crash): only
    /// its journal bridges the chain.
    Bridged(Option<Span>),
    /// To offload; `tip` is where the chain stands before it.
    Pending {
        /// Its journal's records.
        span: Result<Span, JournalError>,
        /// The last record before it.
        tip: Option<Tip>,
        /// How its offload ended (`None`: not done, or failed).
        done: Option<Ended>,
    },
}

/// How a pending segment's offload ended.
#[derive(Clone, Copy)]
enum Ended {
    /// Acknowledged.
    Acknowledged(Span),
    /// Quarantined.
    Quarantined,
}

/// One pass over a camera's segments: the chain checked in chain order from the
/// ledger's anchor (journals first), then the pending segments offloaded in upload
/// order ([`super::priority`]); the anchor moves over the unbroken run of acknowledged
/// segments from the start, in chain order.
struct Pass<'a> {
    shared: &'a Shared,
    device: &'a Device,
    /// The device's ledger (its anchor moves as segments are acknowledged).
    ledger: Ledger,
    /// The anchor the pass started from: segments up to it were offloaded before.
    start: Option<(String, u32)>,
    /// Local copies of segments in flight.
    mirror: PathBuf,
    /// The listed segments in chain order, with what the pass knows of each.
    steps: Vec<(RecordingId, u32, Step)>,
}

impl<'a> Pass<'a> {
    fn start(
        shared: &'a Shared,
        device: &'a Device,
        segments: &[(RecordingId, ListedSegment)],
    ) -> Result<Pass<'a>, OffloadError> {
        let state_dir = &shared.cfg.state_dir;
        let ledger = Ledger::load(state_dir, &device.id)?;
        let mirror = device_dir(state_dir, &device.id).join("store");
        // Local copies of segments the camera has already acknowledged are not needed.
        for (rec, s) in segments {
            if s.offload == OffloadState::Acknowledged {
                SegmentFiles::new(&mirror, rec, s.sequence).remove();
            }
        }
        let start = ledger
            .anchor
            .as_ref()
            .map(|a| (a.recording.clone(), a.segment));
        Ok(Pass {
            shared,
            device,
            ledger,
            start,
            mirror,
            steps: Vec::new(),
        })
    }

    /// The ledger's anchor as a chain position.
    fn anchor_tip(&self) -> Option<Tip> {
        self.ledger.anchor.as_ref().and_then(|a| {
            let hash: [u8; 32] = hex::decode(&a.hash).ok()?.try_into().ok()?;
            Some(Tip {
                counter: a.counter,
                hash,
            })
        })
    }

    /// Whether segment `(rec, seq)` lies after the anchor the pass started from.
    fn after_anchor(&self, rec: &RecordingId, seq: u32) -> bool {
        match &self.start {
            None => true,
            Some((r, s)) => (rec.as_str(), seq) > (r.as_str(), *s),
        }
    }

    /// First, in chain order: every segment's journal, its link to the one before, and
    /// for pending ones the tip their check starts from.
    async fn chain(
        &mut self,
        client: &CameraClient,
        bar: &Bar,
        segments: &[(RecordingId, ListedSegment)],
        summary: &mut Summary,
    ) -> Result<(), OffloadError> {
        let mut tip = self.anchor_tip();
        for (rec, seg) in segments {
            let seq = seg.sequence;
            let acknowledged = seg.offload == OffloadState::Acknowledged;
            let step = if !seg.closed {
                summary.open += 1;
                Step::Open
            } else if acknowledged && !self.after_anchor(rec, seq) {
                summary.already += 1;
                Step::Before
            } else {
                if acknowledged {
                    summary.already += 1;
                }
                let name = format!("{rec}/{seq:06}");
                let files = SegmentFiles::new(&self.mirror, rec, seq);
                let span = self.journal(client, bar, rec, seq, &files, &name).await?;
                if acknowledged {
                    let sp = bridge(&name, tip, span, summary);
                    files.remove();
                    if let Some(sp) = sp {
                        tip = Some(sp.tip());
                    }
                    Step::Bridged(sp)
                } else {
                    let before = tip;
                    if let Ok(sp) = &span {
                        tip = Some(sp.tip());
                    }
                    Step::Pending {
                        span,
                        tip: before,
                        done: None,
                    }
                }
            };
            self.steps.push((rec.clone(), seq, step));
        }
        Ok(())
    }

    /// Download a segment's journal and read it (once more from scratch if it does not
    /// read: a local copy can be damaged).
    async fn journal(
        &self,
        client: &CameraClient,
        bar: &Bar,
        rec: &RecordingId,
        seq: u32,
        files: &SegmentFiles,
        name: &str,
    ) -> Result<Result<Span, JournalError>, OffloadError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            bar.message(&format!("{name}: download"));
            segment::download(
                client,
                rec,
                seq,
                layout::SegmentFile::Journal,
                &files.journal,
                &|_| {},
            )
            .await
            .map_err(|source| OffloadError::Camera {
                context: format!("{name}: journal: "),
                source,
            })?;
            let span = files.span(&self.device.key);
            if span.is_ok() || attempt == 2 {
                return Ok(span);
            }
            remove_with_parts(&files.journal);
        }
    }

    /// Then the pending segments, in upload order.
    async fn offload(
        &mut self,
        client: &CameraClient,
        bar: &Bar,
        priority: &BTreeSet<String>,
        summary: &mut Summary,
    ) -> Result<(), OffloadError> {
        let pending: Vec<(usize, (String, u32))> = self
            .steps
            .iter()
            .enumerate()
            .filter(|(_, (_, _, st))| matches!(st, Step::Pending { .. }))
            .map(|(i, (r, s, _))| (i, (r.as_str().to_string(), *s)))
            .collect();
        let keys: Vec<(String, u32)> = pending.iter().map(|(_, k)| k.clone()).collect();
        let mut spread_checked: BTreeSet<RecordingId> = BTreeSet::new();
        for k in super::priority::upload_order(&keys, priority) {
            let i = pending[k].0;
            // Before anything of a recording is uploaded in this pass, its blobs from
            // earlier docks (if any) get a spread tag covering their age
            // ([`super::spread`]): a lifecycle rule can then never delete them before
            // the newest blob of the recording is past its period.
            let rec = self.steps[i].0.clone();
            if !spread_checked.contains(&rec) {
                super::spread::before_upload(self.shared, &self.device.id, &rec)
                    .await
                    .map_err(|e| OffloadError::Spread {
                        recording: rec.to_string(),
                        reason: e.to_string(),
                    })?;
                spread_checked.insert(rec);
            }
            self.one(client, bar, i, summary).await?;
        }
        Ok(())
    }

    /// Offload the pending segment at `steps[i]`.
    async fn one(
        &mut self,
        client: &CameraClient,
        bar: &Bar,
        i: usize,
        summary: &mut Summary,
    ) -> Result<(), OffloadError> {
        let (rec, seq) = (self.steps[i].0.clone(), self.steps[i].1);
        let Step::Pending { span, tip, .. } = &self.steps[i].2 else {
            return Ok(());
        };
        let (span, tip) = (span.clone(), *tip);
        let name = format!("{rec}/{seq:06}");
        let files = SegmentFiles::new(&self.mirror, &rec, seq);
        let job = segment::Job {
            shared: self.shared,
            client,
            device: self.device,
            bar,
            rec: &rec,
            seq,
            files: &files,
            tip,
        };
        let ended = match job
            .offload(span)
            .await
            .map_err(|reason| OffloadError::Segment {
                segment: name.clone(),
                reason,
            })? {
            Done::Acknowledged {
                span,
                bytes,
                unassigned,
            } => {
                summary.offloaded += 1;
                summary.bytes += bytes;
                summary.unassigned += u32::from(unassigned);
                Ended::Acknowledged(span)
            }
            Done::Quarantined { reason, .. } => {
                tracing::error!(segment = %name, reason = %reason, "QUARANTINED: segment failed verification; not acknowledged");
                summary.quarantined.push(format!("{name}: {reason}"));
                Ended::Quarantined
            }
        };
        if let Step::Pending { done, .. } = &mut self.steps[i].2 {
            *done = Some(ended);
        }
        if matches!(ended, Ended::Acknowledged(_)) && self.advance() {
            self.ledger.save(&self.shared.cfg.state_dir)?;
        }
        Ok(())
    }

    /// Move the anchor over the unbroken run, in chain order, of segments acknowledged
    /// (before, or in this pass); whether it moved.
    fn advance(&mut self) -> bool {
        let mut moved = false;
        let mut past_anchor = self.ledger.anchor.clone();
        for (rec, seq, step) in &self.steps {
            let (span, by_us) = match step {
                Step::Before => continue,
                Step::Bridged(Some(sp)) => (*sp, false),
                Step::Bridged(None) => continue,
                Step::Pending {
                    done: Some(Ended::Acknowledged(sp)),
                    ..
                } => (*sp, true),
                Step::Open | Step::Pending { .. } => break,
            };
            let at = (rec.as_str().to_string(), *seq);
            let already = past_anchor
                .as_ref()
                .is_some_and(|a| (a.recording.as_str(), a.segment) >= (at.0.as_str(), at.1));
            if already {
                continue;
            }
            let anchor = Anchor {
                recording: at.0,
                segment: at.1,
                counter: span.last_counter,
                hash: hex::encode(span.last_hash),
            };
            past_anchor = Some(anchor.clone());
            self.ledger.anchor = Some(anchor);
            if by_us {
                self.ledger.acknowledged += 1;
            }
            moved = true;
        }
        moved
    }
}

/// A segment offloaded earlier (by this dock before a crash, or by another dock): only
/// its journal bridges the chain. Its span, if it reads.
fn bridge(
    name: &str,
    tip: Option<Tip>,
    span: Result<Span, JournalError>,
    summary: &mut Summary,
) -> Option<Span> {
    match span {
        Ok(sp) => {
            if let Err(e) = continues(tip, &sp) {
                summary
                    .errors
                    .push(format!("{name} (acknowledged earlier): chain: {e}"));
            }
            Some(sp)
        }
        Err(e) => {
            summary
                .errors
                .push(format!("{name} (acknowledged earlier): journal: {e}"));
            None
        }
    }
}

/// Check the camera's id and key against the enrolment list.
pub(super) fn enrolled(shared: &Shared, info: &DeviceInfo) -> Result<Device, OffloadError> {
    let id = info.device_id.to_ascii_lowercase();
    let key_hex = info.public_key.to_ascii_lowercase();
    let Some(e) = shared.enrolled.iter().find(|e| e.device_id == id) else {
        return Err(OffloadError::NotEnrolled(id));
    };
    if hex::encode(e.public_key) != key_hex {
        return Err(OffloadError::WrongKey {
            device: id,
            key: key_hex,
        });
    }
    Ok(Device {
        id,
        key: e.public_key,
    })
}

/// The head statement must be a head record signed by the enrolled key for our nonce:
/// proof that the camera holds the enrolled private key now.
pub(crate) fn check_head(
    head: &HeadStatement,
    nonce: &[u8],
    device: &Device,
) -> Result<(), OffloadError> {
    let rec = decode_hex(&head.record)
        .map_err(|e| OffloadError::BadHead(format!("head statement: {e}")))?;
    if rec.header.kind != Kind::Head || !rec.raw.verify(&device.key) {
        return Err(OffloadError::BadHead(
            "head statement is not signed by the enrolled key; nothing downloaded or acknowledged"
                .into(),
        ));
    }
    match &rec.payload {
        Payload::Head(h) if h.nonce == nonce => Ok(()),
        Payload::Head(_)
        | Payload::Checkpoint(_)
        | Payload::Final(_)
        | Payload::Recovery(_)
        | Payload::Location(_)
        | Payload::SealedLocation(_)
        | Payload::Keys(_)
        | Payload::Audit(_) => Err(OffloadError::BadHead(
            "head statement is not bound to this dock's nonce (replayed?)".into(),
        )),
    }
}

/// A value safe for an HTTP header (metadata): printable ASCII, at most 1024 bytes.
pub(super) fn ascii_header(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(1024)
        .collect()
}

/// SHA-256 of `data`, hex.
pub(super) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(crate::evidence::record::sha256(data))
}

/// Remove `path` and any interrupted download of it.
pub(super) fn remove_with_parts(path: &Path) {
    for suffix in ["", ".part", ".part.etag"] {
        let mut s = path.as_os_str().to_os_string();
        s.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(s));
    }
}

/// A chain break, as the summary and quarantine reports word it.
pub(super) fn chain_problem(e: &ChainBreak) -> String {
    format!("chain continuity: {e}")
}
