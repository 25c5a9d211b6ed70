//! Offloading one docked camera: enrolment, clock, signed head, then for every closed
//! segment in chain order: download (resumable), verify (the evidence verifier plus
//! chain continuity from this dock's ledger), upload, read back, acknowledge. A segment
//! that fails verification goes to the quarantine prefix and is never acknowledged.
//!
//! Crash safety rests on four facts: downloads land under their final name only when
//! complete; blobs are created with `If-None-Match: *` and never replaced; the camera
//! is acknowledged only after the stored blob was read back and its SHA-256 compared;
//! and the camera accepts an acknowledgement only with its own signed hash. A rerun
//! after a crash at any point therefore finds either a pending segment (and redoes what
//! is missing, reusing blobs whose content matches) or an acknowledged one (and skips it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

use super::azure::{BlobStore, Put};
use super::camera::{CameraClient, CameraError};
use super::chain::{Span, Tip, continues, journal_span};
use super::config::{AgentConfig, CameraEntry, EnrolledDevice};
use super::failpoint;
use super::ledger::{Anchor, Ledger, device_dir};
use super::progress::Bar;
use crate::dock::wire::{DeviceInfo, ListedSegment, OffloadState};
use crate::evidence::head::HeadStatement;
use crate::evidence::payload::{Payload, decode_hex};
use crate::evidence::record::Kind;
use crate::evidence::verify::{VerifyOptions, verify, verify_audit_log};
use crate::layout::RecordingId;

/// Blob name prefix for segments that failed verification.
pub const QUARANTINE_PREFIX: &str = "quarantine";
/// Index tag naming the retention class.
pub const RETENTION_TAG: &str = "retention";
/// Retention class of footage until an examiner classifies it.
pub const RETENTION_STANDARD: &str = "standard";
/// Retention class of evidence (kept indefinitely).
pub const RETENTION_EVIDENCE: &str = "evidence";

/// Everything a camera's offload needs, shared by all bays.
pub struct Shared {
    /// Configuration.
    pub cfg: Arc<AgentConfig>,
    /// Parsed enrolment list.
    pub enrolled: Vec<EnrolledDevice>,
    /// The cloud container.
    pub blobs: BlobStore,
    /// TLS towards the cameras.
    pub tls: rustls::ClientConfig,
    /// This dock's name.
    pub dock: String,
}

/// How a camera's offload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing answered at the camera's address (empty bay).
    NotDocked,
    /// Every closed segment is stored, verified and acknowledged; nothing is open.
    Complete,
    /// Something is left: quarantined, failed, or still being recorded.
    Incomplete,
}

/// One line per camera.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Bay name.
    pub camera: String,
    /// Device id, once known.
    pub device: Option<String>,
    /// Result.
    pub outcome: Outcome,
    /// Segments stored and acknowledged in this run.
    pub offloaded: u32,
    /// Segments found already acknowledged.
    pub already: u32,
    /// Segments quarantined (never acknowledged).
    pub quarantined: Vec<String>,
    /// Segments still being recorded.
    pub open: u32,
    /// Media bytes stored in this run.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// What went wrong.
    pub errors: Vec<String>,
    /// Nothing new since the last complete pass: no line is printed.
    pub quiet: bool,
}

impl Summary {
    fn new(camera: &str) -> Summary {
        Summary {
            camera: camera.to_string(),
            device: None,
            outcome: Outcome::Incomplete,
            offloaded: 0,
            already: 0,
            quarantined: Vec::new(),
            open: 0,
            bytes: 0,
            seconds: 0.0,
            errors: Vec::new(),
            quiet: false,
        }
    }

    /// A summary for a camera whose offload could not run at all.
    pub fn failed(camera: &str, error: String) -> Summary {
        let mut s = Summary::new(camera);
        s.errors.push(error);
        s
    }

    /// The summary line.
    pub fn line(&self) -> String {
        let device = self.device.as_deref().unwrap_or("-");
        let mb = self.bytes as f64 / 1e6;
        let rate = if self.seconds > 0.0 {
            mb / self.seconds
        } else {
            0.0
        };
        let state = match self.outcome {
            Outcome::NotDocked => "NOT DOCKED",
            Outcome::Complete => "COMPLETE",
            Outcome::Incomplete => "INCOMPLETE",
        };
        let mut s = format!(
            "{} device={device} {state}: offloaded={} already={} quarantined={} open={} {mb:.1} MB in {:.1} s ({rate:.1} MB/s)",
            self.camera,
            self.offloaded,
            self.already,
            self.quarantined.len(),
            self.open,
            self.seconds,
        );
        for q in &self.quarantined {
            s.push_str(&format!("; QUARANTINED {q}"));
        }
        for e in &self.errors {
            s.push_str(&format!("; ERROR {e}"));
        }
        s
    }
}

/// A stop for this camera (the rest of its offload is skipped).
#[derive(Debug)]
struct Stop(String);

impl From<CameraError> for Stop {
    fn from(e: CameraError) -> Stop {
        Stop(e.to_string())
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
    let result = run(&shared, &cam, &bar, &mut summary, skip_if_unchanged).await;
    match result {
        Ok(()) => {}
        Err(Stop(e)) => summary.errors.push(e),
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
struct Device {
    id: String,
    key: [u8; 32],
}

async fn run(
    shared: &Shared,
    cam: &CameraEntry,
    bar: &Bar,
    summary: &mut Summary,
    skip_if_unchanged: bool,
) -> Result<(), Stop> {
    let client = CameraClient::new(shared.tls.clone(), &cam.url, cam.interface.as_deref())?;
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

    if skip_if_unchanged {
        let listing = client.recordings().await?;
        let unchanged = listing
            .iter()
            .flat_map(|r| &r.segments)
            .all(|s| s.closed && s.offload == OffloadState::Acknowledged);
        if unchanged {
            summary.quiet = true;
            return Ok(());
        }
    }

    if shared.cfg.set_camera_clock {
        let now = chrono::Utc::now().timestamp_millis();
        match client.set_time(now).await {
            Ok(t) => {
                tracing::info!(camera = %cam.name, offset_ms = t.offset_ms, applied = t.applied, "camera clock set")
            }
            Err(e) => tracing::warn!(camera = %cam.name, error = %e, "cannot set the camera clock"),
        }
    }

    let mut nonce = [0u8; 16];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| Stop("no randomness for the head nonce".into()))?;
    let head = client.head(&nonce).await?;
    check_head(&head, &nonce, &device)?;

    let state_dir = &shared.cfg.state_dir;
    let mut ledger = Ledger::load(state_dir, &device.id).map_err(|e| Stop(e.to_string()))?;
    let mirror = device_dir(state_dir, &device.id).join("store");

    let listing = client.recordings().await?;
    let mut segments: Vec<(RecordingId, ListedSegment)> = Vec::new();
    for r in listing {
        let Some(id) = RecordingId::parse(&r.id) else {
            return Err(Stop(format!(
                "camera listed a malformed recording id {:?}",
                r.id
            )));
        };
        for s in r.segments {
            segments.push((id.clone(), s));
        }
    }
    segments.sort_by(|a, b| (&a.0, a.1.sequence).cmp(&(&b.0, b.1.sequence)));
    let start = ledger
        .anchor
        .as_ref()
        .map(|a| (a.recording.clone(), a.segment));
    let after_anchor = |rec: &RecordingId, seq: u32| match &start {
        None => true,
        Some((r, s)) => (rec.as_str(), seq) > (r.as_str(), *s),
    };

    // Local copies of segments the camera has already acknowledged are not needed.
    for (rec, s) in &segments {
        if s.offload == OffloadState::Acknowledged {
            remove_local(&mirror, rec, s.sequence);
        }
    }
    let pending: Vec<&(RecordingId, ListedSegment)> = segments
        .iter()
        .filter(|(_, s)| s.closed && s.offload == OffloadState::Pending)
        .collect();
    let total: u64 = pending.iter().filter_map(|(_, s)| s.bytes).sum();
    bar.start(total);

    let mut tip: Option<Tip> = ledger.anchor.as_ref().and_then(|a| {
        let hash: [u8; 32] = hex::decode(&a.hash).ok()?.try_into().ok()?;
        Some(Tip {
            counter: a.counter,
            hash,
        })
    });
    // The ledger's anchor only moves over an unbroken run of acknowledged segments, so
    // a quarantined segment is looked at again on every run.
    let mut contiguous = true;
    for (rec, seg) in &segments {
        let seq = seg.sequence;
        let acknowledged = seg.offload == OffloadState::Acknowledged;
        if !seg.closed {
            summary.open += 1;
            contiguous = false;
            continue;
        }
        if acknowledged && !after_anchor(rec, seq) {
            summary.already += 1;
            continue;
        }
        if acknowledged {
            summary.already += 1;
        }
        let name = format!("{rec}/{seq:06}");
        let files = SegmentFiles::new(&mirror, rec, seq);
        bar.message(&format!("{name}: download"));
        let journal_api = format!("/v1/recordings/{rec}/segments/{seq}/journal");
        if let Err(e) = client.download(&journal_api, &files.journal, &|_| {}).await {
            return Err(Stop(format!("{name}: journal: {e}")));
        }
        let span = read_span(&files.journal, &device.key);
        if acknowledged {
            // Offloaded earlier (by this dock before a crash, or by another dock): only
            // its journal bridges the chain.
            match &span {
                Ok(sp) => {
                    if let Err(e) = continues(tip, sp) {
                        summary
                            .errors
                            .push(format!("{name} (acknowledged earlier): chain: {e}"));
                    }
                    tip = Some(sp.tip());
                    if contiguous {
                        advance(&mut ledger, rec, seq, sp, false);
                    }
                }
                Err(e) => summary
                    .errors
                    .push(format!("{name} (acknowledged earlier): {e}")),
            }
            remove_local(&mirror, rec, seq);
            continue;
        }
        let outcome =
            offload_segment(shared, &client, &device, bar, rec, seq, &files, tip, span).await?;
        match outcome {
            Done::Acknowledged { span, bytes } => {
                summary.offloaded += 1;
                summary.bytes += bytes;
                tip = Some(span.tip());
                if contiguous {
                    advance(&mut ledger, rec, seq, &span, true);
                    ledger.save(state_dir).map_err(|e| Stop(e.to_string()))?;
                }
            }
            Done::Quarantined { span, reason } => {
                tracing::error!(camera = %cam.name, segment = %name, reason = %reason, "QUARANTINED: segment failed verification; not acknowledged");
                summary.quarantined.push(format!("{name}: {reason}"));
                contiguous = false;
                if let Some(sp) = span {
                    tip = Some(sp.tip());
                }
            }
        }
    }
    ledger.save(state_dir).map_err(|e| Stop(e.to_string()))?;

    bar.message("audit log");
    upload_audit(shared, &client, &device, &mirror, summary).await?;
    upload_head(shared, &device, &head, &nonce).await?;
    Ok(())
}

fn advance(ledger: &mut Ledger, rec: &RecordingId, seq: u32, span: &Span, by_us: bool) {
    ledger.anchor = Some(Anchor {
        recording: rec.as_str().to_string(),
        segment: seq,
        counter: span.last_counter,
        hash: hex::encode(span.last_hash),
    });
    if by_us {
        ledger.acknowledged += 1;
    }
}

/// Check the camera's id and key against the enrolment list.
fn enrolled(shared: &Shared, info: &DeviceInfo) -> Result<Device, Stop> {
    let id = info.device_id.to_ascii_lowercase();
    let key_hex = info.public_key.to_ascii_lowercase();
    let Some(e) = shared.enrolled.iter().find(|e| e.device_id == id) else {
        return Err(Stop(format!(
            "device {id:?} is not enrolled at this dock; nothing downloaded or acknowledged"
        )));
    };
    if hex::encode(e.public_key) != key_hex {
        return Err(Stop(format!(
            "device {id} presents public key {key_hex}, not the enrolled key; nothing downloaded or acknowledged"
        )));
    }
    Ok(Device {
        id,
        key: e.public_key,
    })
}

/// The head statement must be a head record signed by the enrolled key for our nonce:
/// proof that the camera holds the enrolled private key now.
fn check_head(head: &HeadStatement, nonce: &[u8], device: &Device) -> Result<(), Stop> {
    let rec = decode_hex(&head.record).map_err(|e| Stop(format!("head statement: {e}")))?;
    if rec.header.kind != Kind::Head || !rec.raw.verify(&device.key) {
        return Err(Stop(
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
        | Payload::Audit(_) => Err(Stop(
            "head statement is not bound to this dock's nonce (replayed?)".into(),
        )),
    }
}

/// The mirror paths of one segment.
struct SegmentFiles {
    media: PathBuf,
    journal: PathBuf,
    meta: PathBuf,
}

impl SegmentFiles {
    fn new(mirror: &Path, rec: &RecordingId, seq: u32) -> SegmentFiles {
        let dir = mirror.join("recordings").join(rec.as_str());
        SegmentFiles {
            media: dir.join(format!("{seq:06}.ts")),
            journal: dir.join(format!("{seq:06}.journal")),
            meta: dir.join(format!("{seq:06}.json")),
        }
    }

    fn all(&self) -> [&PathBuf; 3] {
        [&self.media, &self.journal, &self.meta]
    }
}

fn remove_local(mirror: &Path, rec: &RecordingId, seq: u32) {
    let f = SegmentFiles::new(mirror, rec, seq);
    for p in f.all() {
        for suffix in ["", ".part", ".part.etag"] {
            let mut s = p.as_os_str().to_os_string();
            s.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(s));
        }
    }
}

fn read_span(journal: &Path, key: &[u8; 32]) -> Result<Span, String> {
    let data = std::fs::read(journal).map_err(|e| format!("journal: {e}"))?;
    journal_span(&data, key)
}

enum Done {
    Acknowledged { span: Span, bytes: u64 },
    Quarantined { span: Option<Span>, reason: String },
}

#[allow(clippy::too_many_arguments)]
async fn offload_segment(
    shared: &Shared,
    client: &CameraClient,
    device: &Device,
    bar: &Bar,
    rec: &RecordingId,
    seq: u32,
    files: &SegmentFiles,
    tip: Option<Tip>,
    span: Result<Span, String>,
) -> Result<Done, Stop> {
    let name = format!("{rec}/{seq:06}");
    let mut span = span;
    let mut attempt = 0;
    let (report, problems) = loop {
        attempt += 1;
        for (part, path) in [("meta", &files.meta), ("media", &files.media)] {
            bar.message(&format!("{name}: download {part}"));
            let api = format!("/v1/recordings/{rec}/segments/{seq}/{part}");
            let counted = part == "media";
            client
                .download(&api, path, &|n| {
                    if counted {
                        bar.inc(n);
                    }
                })
                .await
                .map_err(|e| Stop(format!("{name}: {part}: {e}")))?;
        }
        failpoint::hit("after-download");
        bar.message(&format!("{name}: verify"));
        let opts = VerifyOptions {
            path: files.media.clone(),
            key_hex: Some(hex::encode(device.key)),
            identity: None,
            head: None,
            progress: false,
        };
        let media = files.media.clone();
        let report = tokio::task::spawn_blocking(move || verify(&opts))
            .await
            .map_err(|e| Stop(format!("{name}: verifier: {e}")))?
            .map_err(|e| Stop(format!("{name}: verifier: {} ({})", e, media.display())))?;
        let mut problems: Vec<String> = report.failures.clone();
        match &span {
            Ok(sp) => {
                if let Err(e) = continues(tip, sp) {
                    problems.push(format!("chain continuity: {e}"));
                }
            }
            Err(e) => problems.push(format!("journal: {e}")),
        }
        if problems.is_empty() || attempt == 2 {
            break (report, problems);
        }
        // A local copy can be damaged (disk, an earlier run): fetch everything again once.
        tracing::warn!(segment = %name, problems = ?problems, "verification failed; downloading the segment again");
        for p in files.all() {
            let _ = std::fs::remove_file(p);
        }
        let journal_api = format!("/v1/recordings/{rec}/segments/{seq}/journal");
        client
            .download(&journal_api, &files.journal, &|_| {})
            .await
            .map_err(|e| Stop(format!("{name}: journal: {e}")))?;
        span = read_span(&files.journal, &device.key);
    };
    let seg_report = report.segments.first();
    let status = seg_report.map_or("MISSING", |s| s.status.label());
    let utc = read_utc_range(&files.meta);
    let mut meta: Vec<(&str, String)> = vec![
        ("device", device.id.clone()),
        ("recording", rec.as_str().to_string()),
        ("segment", seq.to_string()),
        ("utc_start", utc.0),
        ("utc_end", utc.1),
        ("verify_status", status.to_string()),
        ("dock", shared.dock.clone()),
    ];

    if !problems.is_empty() {
        bar.message(&format!("{name}: QUARANTINE"));
        let reason = problems.join("; ");
        let prefix = format!("{QUARANTINE_PREFIX}/{}/{rec}/{seq:06}", device.id);
        meta.push(("quarantine_reason", ascii_header(&reason)));
        for (path, ext, ctype) in [
            (&files.journal, "journal", "application/octet-stream"),
            (&files.meta, "json", "application/json"),
            (&files.media, "ts", "video/mp2t"),
        ] {
            let Ok(data) = std::fs::read(path) else {
                continue;
            };
            let mut m = meta.clone();
            m.push(("sha256", sha256_hex(&data)));
            shared
                .blobs
                .put_new(
                    &format!("{prefix}.{ext}"),
                    Bytes::from(data),
                    ctype,
                    &m,
                    &[],
                )
                .await
                .map_err(|e| Stop(format!("{name}: quarantine upload: {e}")))?;
        }
        let report_json = json!({
            "format": "bodycam-quarantine/1",
            "device_id": device.id,
            "recording_id": rec.as_str(),
            "segment": seq,
            "dock": shared.dock,
            "utc": crate::clock::rfc3339(chrono::Utc::now()),
            "problems": problems,
            "verifier": report,
        });
        let body = serde_json::to_vec_pretty(&report_json).unwrap_or_default();
        // One report per distinct finding set; an identical rerun adds nothing.
        let report_name = format!(
            "{prefix}.report-{}.json",
            &sha256_hex(reason.as_bytes())[..12]
        );
        shared
            .blobs
            .put_new(
                &report_name,
                Bytes::from(body),
                "application/json",
                &meta,
                &[],
            )
            .await
            .map_err(|e| Stop(format!("{name}: quarantine report: {e}")))?;
        for p in files.all() {
            let _ = std::fs::remove_file(p);
        }
        return Ok(Done::Quarantined {
            span: span.ok(),
            reason,
        });
    }
    let span = span.map_err(Stop)?;

    // Upload journal and sidecar first, media last; each is read back and compared.
    let retain_until = crate::clock::rfc3339(
        chrono::Utc::now() + chrono::Duration::days(i64::from(shared.cfg.azure.retention_days)),
    );
    meta.push(("retention_class", RETENTION_STANDARD.to_string()));
    meta.push(("retain_until", retain_until));
    let prefix = format!("{}/{rec}/{seq:06}", device.id);
    let mut media_sha = String::new();
    let mut media_len = 0u64;
    for (path, ext, ctype) in [
        (&files.journal, "journal", "application/octet-stream"),
        (&files.meta, "json", "application/json"),
        (&files.media, "ts", "video/mp2t"),
    ] {
        bar.message(&format!("{name}: upload {ext}"));
        let data = std::fs::read(path).map_err(|e| Stop(format!("{}: {e}", path.display())))?;
        let sha = sha256_hex(&data);
        let len = data.len() as u64;
        let blob = format!("{prefix}.{ext}");
        let mut m = meta.clone();
        m.push(("sha256", sha.clone()));
        let put = shared
            .blobs
            .put_new(
                &blob,
                Bytes::from(data),
                ctype,
                &m,
                &[(RETENTION_TAG, RETENTION_STANDARD)],
            )
            .await
            .map_err(|e| Stop(format!("{name}: {e}")))?;
        if put == Put::AlreadyExists {
            tracing::info!(blob = %blob, "blob exists already (earlier run); comparing");
        }
        failpoint::hit("after-upload");
        let stored = shared
            .blobs
            .read_back(&blob)
            .await
            .map_err(|e| Stop(format!("{name}: {e}")))?
            .ok_or_else(|| Stop(format!("{name}: blob {blob} is not there after upload")))?;
        if stored.sha256 != sha || stored.len != len {
            return Err(Stop(format!(
                "{name}: blob {blob} holds sha256 {} ({} bytes), not the verified {sha} ({len} bytes); it is never overwritten: not acknowledged, examine it",
                stored.sha256, stored.len
            )));
        }
        if ext == "ts" {
            media_sha = stored.sha256;
            media_len = stored.len;
        }
    }
    failpoint::hit("before-ack");
    bar.message(&format!("{name}: acknowledge"));
    let qualified = shared.blobs.qualified(&format!("{prefix}.ts"));
    client
        .acknowledge(rec.as_str(), seq, &qualified, &media_sha)
        .await
        .map_err(|e| Stop(format!("{name}: acknowledgement refused: {e}")))?;
    failpoint::hit("after-ack");
    tracing::info!(segment = %name, blob = %qualified, sha256 = %media_sha, "stored, verified and acknowledged");
    for p in files.all() {
        let _ = std::fs::remove_file(p);
    }
    Ok(Done::Acknowledged {
        span,
        bytes: media_len,
    })
}

/// `utc_start`, `utc_end` from a sidecar (empty if unreadable).
fn read_utc_range(meta: &Path) -> (String, String) {
    let v: Value = std::fs::read(meta)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let get = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(ascii_header)
            .unwrap_or_default()
    };
    (get("utc_start"), get("utc_end"))
}

/// A value safe for an HTTP header (metadata): printable ASCII, at most 1024 bytes.
fn ascii_header(s: &str) -> String {
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

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(crate::evidence::record::sha256(data))
}

/// Download the audit log, verify it, and store it as `<device>/audit/<entries>.log`
/// (quarantine when it does not verify).
async fn upload_audit(
    shared: &Shared,
    client: &CameraClient,
    device: &Device,
    mirror: &Path,
    summary: &mut Summary,
) -> Result<(), Stop> {
    let path = mirror.join("evidence").join("audit.log");
    let mut attempt = 0;
    let (report, data) = loop {
        attempt += 1;
        let _ = std::fs::remove_file(&path);
        for suffix in [".part", ".part.etag"] {
            let mut s = path.as_os_str().to_os_string();
            s.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(s));
        }
        client
            .download("/v1/audit", &path, &|_| {})
            .await
            .map_err(|e| Stop(format!("audit log: {e}")))?;
        let key = device.key;
        let p = path.clone();
        let report = tokio::task::spawn_blocking(move || verify_audit_log(&key, &p))
            .await
            .map_err(|e| Stop(format!("audit log: verifier: {e}")))?;
        if report.status.passes() || attempt == 2 {
            let data = std::fs::read(&path).map_err(|e| Stop(format!("audit log: {e}")))?;
            break (report, data);
        }
    };
    let sha = sha256_hex(&data);
    let mut meta = vec![
        ("device", device.id.clone()),
        ("entries", report.entries.to_string()),
        ("sha256", sha.clone()),
        ("verify_status", report.status.label().to_string()),
        ("dock", shared.dock.clone()),
    ];
    let ok = report.status.passes();
    let blob = if ok {
        format!("{}/audit/{:012}.log", device.id, report.entries)
    } else {
        let problems: Vec<String> = report.findings.iter().map(|f| f.message.clone()).collect();
        let reason = problems.join("; ");
        meta.push(("quarantine_reason", ascii_header(&reason)));
        summary
            .quarantined
            .push(format!("audit log: {}: {reason}", report.status.label()));
        format!(
            "{QUARANTINE_PREFIX}/{}/audit/{:012}-{}.log",
            device.id,
            report.entries,
            &sha[..12]
        )
    };
    shared
        .blobs
        .put_new(
            &blob,
            Bytes::from(data),
            "application/octet-stream",
            &meta,
            &[(RETENTION_TAG, RETENTION_STANDARD)],
        )
        .await
        .map_err(|e| Stop(format!("audit log: {e}")))?;
    let stored = shared
        .blobs
        .read_back(&blob)
        .await
        .map_err(|e| Stop(format!("audit log: {e}")))?;
    if stored.as_ref().map(|s| s.sha256.as_str()) != Some(sha.as_str()) {
        // Same number of entries, different bytes: two different histories.
        summary.errors.push(format!(
            "audit log: blob {blob} holds different bytes than the camera's log with the same number of entries (forked history?)"
        ));
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Keep the signed head statement this offload was made against.
async fn upload_head(
    shared: &Shared,
    device: &Device,
    head: &HeadStatement,
    nonce: &[u8],
) -> Result<(), Stop> {
    let blob = format!(
        "{}/heads/{}-{}.json",
        device.id,
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        hex::encode(nonce)
    );
    let body = serde_json::to_vec_pretty(head).unwrap_or_default();
    let meta = vec![
        ("device", device.id.clone()),
        ("sha256", sha256_hex(&body)),
        ("dock", shared.dock.clone()),
    ];
    shared
        .blobs
        .put_new(
            &blob,
            Bytes::from(body),
            "application/json",
            &meta,
            &[(RETENTION_TAG, RETENTION_STANDARD)],
        )
        .await
        .map_err(|e| Stop(format!("head statement: {e}")))?;
    Ok(())
}
