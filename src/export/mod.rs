//! `bodycam export --key agency.key (STORE | RECORDING) --out DIR`: the examiner's side
//! (feature `examiner`).
//!
//! It verifies first (`bodycam verify`, with no secret), then, for each recording:
//! decrypts every segment that verified to a playable MPEG-TS (or copies a plain
//! one), remuxes them into one MP4 with ffmpeg (`-c copy`: every frame of both streams,
//! timestamps as recorded), takes thumbnails from its keyframes, and writes
//! `report.json` and a self-contained `report.html`. Segments that do not verify are
//! exported only with `--include-unverified`, and then marked in every output (file
//! names, the MP4's name, both reports).
//!
//! # Layout
//! - `decrypt`: one segment to a plaintext MPEG-TS.
//! - `remux`: ffmpeg and ffprobe (MP4, thumbnails, probes).
//! - `report`: the `report.json` structure.
//! - `html`: `report.html`, rendered from it.
//!
//! ```text
//! OUT/report.json, OUT/report.html
//! OUT/<recording>/<recording>.mp4            (…​.includes-UNVERIFIED.mp4 when it does)
//! OUT/<recording>/segments/NNNNNN.ts         (NNNNNN.UNVERIFIED.ts)
//! OUT/<recording>/thumbnails/NNNN.jpg
//! OUT/<recording>/<recording>.gpx            (the location track, decrypted; when any fix)
//! ```

mod decrypt;
mod html;
pub mod remux;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::confidential::keys::{FootageKey, KeyError};
use crate::evidence::events::AuditEvent;
use crate::evidence::payload::{Payload, decode_file};
use crate::evidence::sidecar::SegmentMeta;
use crate::evidence::verify::{
    self, InputKind, KeySource, RecordingSummary, Report, SegmentReport, VerifyError, VerifyOptions,
};
use crate::layout::{self, SegmentFile};
use decrypt::{DecryptError, Sealing};
use remux::{ToolError, Tools};
use report::{
    DeviceInfo, EXPORT_FORMAT, ExportReport, FootageKeyInfo, Gap, MediaFile, RecordingReport,
    SegmentOut, Thumbnail, TimelineItem, Verification,
};

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// A store or a recording directory.
    pub path: PathBuf,
    /// The agency's private footage key file.
    pub key: PathBuf,
    /// New directory to write into.
    pub out: PathBuf,
    /// Export segments that do not verify too (marked UNVERIFIED everywhere).
    pub include_unverified: bool,
    /// Device public key, 64 hex digits (as `verify --key`).
    pub device_key: Option<String>,
    /// Device identity file (as `verify --identity`).
    pub identity: Option<PathBuf>,
    /// Accept the key found in the store itself (as `verify --trust-store-key`); without
    /// it, or a key or identity, the verification is not OK and the export incomplete.
    pub trust_store_key: bool,
    /// Seconds between thumbnails (0: none; `None`: about 60 over the recording, at
    /// least every 2 s and at most every 30 s).
    pub thumbnail_seconds: Option<f64>,
    /// Progress bar on stderr while verifying.
    pub progress: bool,
    /// ffmpeg and ffprobe.
    pub tools: Tools,
}

/// Why an export could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The footage key file cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The verification could not start (path, device key, identity).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The footage is encrypted, but not to this key.
    #[error(
        "{key} (key id {key_id}) cannot decrypt this footage: it was encrypted to key id(s) {}",
        encrypted_to.join(", ")
    )]
    WrongKey {
        /// The key file given.
        key: PathBuf,
        /// Its key id.
        key_id: String,
        /// Every key id the footage was encrypted to.
        encrypted_to: Vec<String>,
    },
    /// The output directory exists and is not empty.
    #[error("{0} exists and is not empty: give a new directory")]
    OutExists(PathBuf),
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// ffmpeg or ffprobe failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
}

impl ExportError {
    /// Whether the caller gave something unusable (exit 2) rather than the export
    /// failing while it ran (exit 70).
    pub fn is_usage(&self) -> bool {
        match self {
            ExportError::Key(_)
            | ExportError::Verify(_)
            | ExportError::WrongKey { .. }
            | ExportError::OutExists(_) => true,
            ExportError::Io { .. } | ExportError::Tool(_) => false,
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The export directory: new (or empty), owner-only.
fn make_out(out: &Path) -> Result<(), ExportError> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(io_err(out))?
            .next()
            .is_none();
        if !empty {
            return Err(ExportError::OutExists(out.to_path_buf()));
        }
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(out)
        .map_err(io_err(out))
}

/// Export `opts.path`; see the module documentation. `Err` for what stops the whole
/// export; everything else (segments not verified or not decryptable) is in the report.
pub fn export(opts: &ExportOptions) -> Result<ExportReport, ExportError> {
    let key = FootageKey::load(&opts.key)?;
    let verified = verify::verify(&VerifyOptions {
        path: opts.path.clone(),
        key_hex: opts.device_key.clone(),
        identity: opts.identity.clone(),
        head: None,
        progress: opts.progress,
        other_keys: Vec::new(),
        other_identities: Vec::new(),
        trust_store_key: opts.trust_store_key,
    })?;
    let dirs = recording_dirs(&opts.path, &verified)?;
    let sealings = sealings(&verified, &dirs);
    check_key(&key, &opts.key, &sealings)?;
    make_out(&opts.out)?;
    let audit = audit_events(&opts.path, &verified);
    let mut recordings = Vec::new();
    let mut incomplete: Vec<String> = verified.failures.clone();
    if !verified.key.accepted {
        // As `verify` (exit 3): the footage is exported, but the export is not complete
        // evidence until the device key is confirmed from outside the store.
        incomplete.push(format!(
            "the device key was taken from the store itself, not independently supplied \
             (pass --identity or --device-key from enrolment, or --trust-store-key): {}",
            verified.verdict
        ));
    }
    let mut by_recording: BTreeMap<&str, Vec<&SegmentReport>> = BTreeMap::new();
    for s in &verified.segments {
        by_recording.entry(&s.recording_id).or_default().push(s);
    }
    for (rid, segs) in by_recording {
        let Some(dir) = dirs.get(rid) else { continue };
        let job = RecordingJob {
            opts,
            key: &key,
            dir,
            recording_id: rid,
            sealings: &sealings,
            audit: &audit,
            officer: verified.recordings.iter().find(|r| r.recording_id == rid),
        };
        let r = job.run(&segs, &mut incomplete)?;
        recordings.push(r);
    }
    let any_sealed = sealings
        .values()
        .any(|s| matches!(s, Sealing::Sealed { .. }));
    let any_plain = sealings.values().any(|s| matches!(s, Sealing::Plain));
    let encryption = match (any_sealed, any_plain) {
        (true, false) => "every segment was encrypted on the camera to the agency's key(s)".to_string(),
        (true, true) => "some segments were encrypted on the camera, others were NOT encrypted (plain MPEG-TS on flash)".to_string(),
        (false, _) => "the footage was NOT encrypted on the camera (plain MPEG-TS on flash)".to_string(),
    };
    let report = ExportReport {
        format: EXPORT_FORMAT,
        exported_utc: crate::clock::rfc3339(Utc::now()),
        input: opts.path.display().to_string(),
        device: DeviceInfo {
            device_id: verified.key.device_id.clone(),
            public_key: verified.key.public_key.clone(),
            fingerprint: hex::encode(crate::evidence::record::sha256(
                &hex::decode(&verified.key.public_key).unwrap_or_default(),
            )),
            key_source: match verified.key.source {
                KeySource::Key => "key",
                KeySource::IdentityFile => "identity_file",
                KeySource::Store => "store",
            }
            .into(),
            independently_supplied: verified.key.independently_supplied,
        },
        footage_key: FootageKeyInfo {
            key_id: hex::encode(key.key_id),
            path: opts.key.display().to_string(),
        },
        verification: Verification {
            ok: verified.ok,
            verdict: verified.verdict.clone(),
            failures: verified.failures.clone(),
        },
        encryption,
        include_unverified: opts.include_unverified,
        complete: incomplete.is_empty(),
        incomplete,
        recordings,
    };
    let json = serde_json::to_vec_pretty(&report).map_err(std::io::Error::other);
    let json_path = opts.out.join("report.json");
    json.and_then(|j| std::fs::write(&json_path, j))
        .map_err(io_err(&json_path))?;
    let html_path = opts.out.join("report.html");
    std::fs::write(&html_path, html::render(&report, &opts.out)).map_err(io_err(&html_path))?;
    Ok(report)
}

/// Each recording's directory, as the verifier named them.
fn recording_dirs(path: &Path, r: &Report) -> Result<BTreeMap<String, PathBuf>, ExportError> {
    let abs = std::fs::canonicalize(path).map_err(io_err(path))?;
    let mut out = BTreeMap::new();
    for s in &r.segments {
        let dir = match r.input {
            InputKind::Store => layout::recordings_dir(&abs).join(&s.recording_id),
            InputKind::Recording => abs.clone(),
            InputKind::Segment => abs.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        out.insert(s.recording_id.clone(), dir);
    }
    Ok(out)
}

/// How each segment with a journal is sealed.
fn sealings(r: &Report, dirs: &BTreeMap<String, PathBuf>) -> BTreeMap<(String, u32), Sealing> {
    let mut out = BTreeMap::new();
    for s in &r.segments {
        let Some(dir) = dirs.get(&s.recording_id) else {
            continue;
        };
        if let Ok(sealing) = Sealing::of_journal(&SegmentFile::Journal.path(dir, s.segment)) {
            out.insert((s.recording_id.clone(), s.segment), sealing);
        }
    }
    out
}

/// A key that opens none of the encrypted segments is the wrong key.
fn check_key(
    key: &FootageKey,
    path: &Path,
    sealings: &BTreeMap<(String, u32), Sealing>,
) -> Result<(), ExportError> {
    let mine = hex::encode(key.key_id);
    let ids: BTreeSet<String> = sealings.values().flat_map(Sealing::key_ids).collect();
    if ids.is_empty() || ids.contains(&mine) {
        return Ok(());
    }
    Err(ExportError::WrongKey {
        key: path.to_path_buf(),
        key_id: mine,
        encrypted_to: ids.into_iter().collect(),
    })
}

/// Signed audit entries of the store (those whose signature verifies under the
/// device key), with their UTC.
fn audit_events(path: &Path, r: &Report) -> Vec<(DateTime<Utc>, AuditEvent)> {
    let root = match r.input {
        InputKind::Store => path.to_path_buf(),
        InputKind::Recording => path.join("../.."),
        InputKind::Segment => path.join("../../.."),
    };
    let Ok(bytes) = std::fs::read(layout::audit_path(&root)) else {
        return Vec::new();
    };
    let Ok(public) = hex::decode(&r.key.public_key) else {
        return Vec::new();
    };
    let (records, _) = decode_file(&bytes);
    records
        .into_iter()
        .filter(|rec| rec.raw.verify(&public))
        .filter_map(|rec| match rec.payload {
            Payload::Audit(a) => Some((
                DateTime::<Utc>::from_timestamp_millis(rec.header.utc_ms)?,
                AuditEvent::parse(&a.event, &a.detail).ok()?,
            )),
            Payload::Checkpoint(_)
            | Payload::Final(_)
            | Payload::Recovery(_)
            | Payload::Keys(_)
            | Payload::Location(_)
            | Payload::SealedLocation(_)
            | Payload::Head(_) => None,
        })
        .collect()
}

fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

/// The recording an audit event names, if it names one.
fn names_recording(e: &AuditEvent) -> Option<&str> {
    match e {
        AuditEvent::RecordingStart { recording_id, .. }
        | AuditEvent::RecordingStop { recording_id, .. }
        | AuditEvent::Marker { recording_id, .. }
        | AuditEvent::Recovery { recording_id, .. }
        | AuditEvent::OffloadAck { recording_id, .. }
        | AuditEvent::SegmentFreed { recording_id, .. }
        | AuditEvent::PeerAnnounced { recording_id, .. } => Some(recording_id),
        AuditEvent::Mute { recording_id, .. } => recording_id.as_deref(),
        // A reassignment while recording names the open recording (it keeps its officer).
        AuditEvent::OfficerAssigned { recording_open, .. } => recording_open.as_deref(),
        AuditEvent::Boot { .. }
        | AuditEvent::UncleanShutdown { .. }
        | AuditEvent::Shutdown {}
        | AuditEvent::KeyCreated { .. }
        | AuditEvent::TornTailRemoved { .. }
        | AuditEvent::Stealth { .. }
        | AuditEvent::Clock(_)
        | AuditEvent::StorageLow { .. }
        | AuditEvent::StorageFull { .. }
        | AuditEvent::PipelineFault { .. }
        | AuditEvent::PipelineStart { .. }
        | AuditEvent::HeadIssued { .. }
        | AuditEvent::Docked { .. }
        | AuditEvent::Undocked { .. }
        | AuditEvent::RequestRefused { .. }
        | AuditEvent::StorageError { .. }
        | AuditEvent::StorageRecovered { .. }
        | AuditEvent::Encryption { .. }
        | AuditEvent::Trigger { .. }
        | AuditEvent::Sleep { .. }
        | AuditEvent::BatteryLow { .. }
        | AuditEvent::PowerOff { .. }
        | AuditEvent::PeerRejected { .. }
        | AuditEvent::PeerLink { .. }
        | AuditEvent::LocationLink { .. } => None,
    }
}

/// One recording's export.
struct RecordingJob<'a> {
    opts: &'a ExportOptions,
    key: &'a FootageKey,
    dir: &'a Path,
    recording_id: &'a str,
    sealings: &'a BTreeMap<(String, u32), Sealing>,
    audit: &'a [(DateTime<Utc>, AuditEvent)],
    /// The verifier's officer summary of this recording.
    officer: Option<&'a RecordingSummary>,
}

/// A segment's sidecar, if it can be read.
fn sidecar(dir: &Path, seq: u32) -> Option<SegmentMeta> {
    let bytes = std::fs::read(SegmentFile::Meta.path(dir, seq)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        ctx.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(ctx.finish())))
}

fn relative(out: &Path, p: &Path) -> String {
    p.strip_prefix(out).unwrap_or(p).display().to_string()
}

impl RecordingJob<'_> {
    fn run(
        &self,
        segs: &[&SegmentReport],
        incomplete: &mut Vec<String>,
    ) -> Result<RecordingReport, ExportError> {
        let out_dir = self.opts.out.join(self.recording_id);
        let seg_dir = out_dir.join("segments");
        std::fs::create_dir_all(&seg_dir).map_err(io_err(&seg_dir))?;
        let metas: BTreeMap<u32, SegmentMeta> = segs
            .iter()
            .filter_map(|s| sidecar(self.dir, s.segment).map(|m| (s.segment, m)))
            .collect();
        let start = metas.values().filter_map(|m| parse_utc(&m.utc_start)).min();
        let end = metas.values().filter_map(|m| parse_utc(&m.utc_end)).max();
        let mut outs = Vec::new();
        let mut files = Vec::new();
        let mut unverified = Vec::new();
        for s in segs {
            let (out, file) =
                self.segment(s, metas.get(&s.segment), start, &seg_dir, incomplete)?;
            if let Some(f) = file {
                if !out.verified {
                    unverified.push(s.segment);
                }
                files.push(f);
            }
            outs.push(out);
        }
        // A recording whose streams ffmpeg cannot remux still gets its segments and its
        // report; the report says why there is no MP4.
        let mp4 = match self.mp4(&out_dir, &files, &unverified) {
            Ok(m) => m,
            Err(ExportError::Tool(e)) => {
                incomplete.push(format!("{}: no MP4: {e}", self.recording_id));
                None
            }
            Err(e) => return Err(e),
        };
        let thumbnails = match &mp4 {
            Some(m) => self.thumbnails(&out_dir, m, start, end)?,
            None => Vec::new(),
        };
        let gpx = self.gpx(&out_dir, &outs)?;
        let first = metas.get(&1);
        Ok(RecordingReport {
            recording_id: self.recording_id.to_string(),
            officer: self.officer.and_then(|o| o.officer.clone()),
            unassigned: self.officer.is_some_and(|o| o.unassigned),
            officer_source: self.officer.map_or("none", |o| o.officer_source).into(),
            officer_conflict: self.officer.is_some_and(|o| o.officer_conflict),
            officers: self.officer.map_or_else(Vec::new, |o| o.officers.clone()),
            officer_text: self
                .officer
                .map_or_else(|| "unknown".into(), RecordingSummary::officer_text),
            utc_start: start.map(crate::clock::rfc3339),
            utc_end: end.map(crate::clock::rfc3339),
            span_seconds: match (start, end) {
                (Some(a), Some(b)) => seconds_between(a, b),
                (Some(_), None) | (None, Some(_)) | (None, None) => 0.0,
            },
            exported_seconds: outs
                .iter()
                .filter(|o| o.exported.is_some())
                .filter_map(|o| o.duration_seconds)
                .sum(),
            pre_event_seconds: first.map_or(0.0, |m| m.pre_event_seconds),
            pre_event_audio: first.is_some_and(|m| m.pre_event_audio),
            gaps: gaps(&outs),
            markers: markers(&metas, start),
            events: self.events(start, end),
            segments: outs,
            mp4,
            thumbnails,
            gpx,
        })
    }

    /// The recording's track as GPX, when any segment's track has a fix.
    fn gpx(&self, out_dir: &Path, outs: &[SegmentOut]) -> Result<Option<String>, ExportError> {
        if !outs.iter().flat_map(|o| &o.track).any(|p| p.lat.is_some()) {
            return Ok(None);
        }
        let parts: Vec<verify::TrackPart<'_>> = outs
            .iter()
            .map(|o| verify::TrackPart {
                recording_id: self.recording_id,
                segment: o.segment,
                status: &o.status,
                track: &o.track,
            })
            .collect();
        let path = out_dir.join(format!("{}.gpx", self.recording_id));
        let mut text = Vec::new();
        let desc = format!("bodycam export of recording {}", self.recording_id);
        verify::write_tracks("bodycam export", &desc, &parts, &mut text)
            .and_then(|()| std::fs::write(&path, &text))
            .map_err(io_err(&path))?;
        Ok(Some(relative(&self.opts.out, &path)))
    }

    /// Export one segment (if it may be); returns its report and the file written.
    fn segment(
        &self,
        s: &SegmentReport,
        meta: Option<&SegmentMeta>,
        start: Option<DateTime<Utc>>,
        seg_dir: &Path,
        incomplete: &mut Vec<String>,
    ) -> Result<(SegmentOut, Option<PathBuf>), ExportError> {
        let key = (self.recording_id.to_string(), s.segment);
        let sealing = self.sealings.get(&key);
        let verified = s.status.passes();
        let signed = crate::store::offload::signed_hash(self.dir, s.segment)
            .ok()
            .flatten()
            .map(hex::encode);
        let mut out = SegmentOut {
            segment: s.segment,
            status: s.status.label().to_string(),
            verified,
            encrypted: matches!(sealing, Some(Sealing::Sealed { .. })),
            key_ids: sealing.map(Sealing::key_ids).unwrap_or_default(),
            signed_sha256: signed.or_else(|| s.signed_sha256.clone()),
            exported: None,
            notes: Vec::new(),
            findings: s
                .findings
                .iter()
                .map(|f| format!("{}: {}", f.status.label(), f.message))
                .collect(),
            offset_seconds: meta
                .and_then(|m| parse_utc(&m.utc_start))
                .zip(start)
                .map(|(t, a)| seconds_between(a, t)),
            duration_seconds: meta.map(|m| m.duration_seconds),
            utc_start: meta.map(|m| m.utc_start.clone()),
            utc_end: meta.map(|m| m.utc_end.clone()),
            utc_estimated: meta.is_some_and(|m| m.utc_estimated),
            video_frames: meta.map(|m| m.video_frames),
            audio_frames: meta.map(|m| m.audio_frames),
            end_reason: meta.map(|m| format!("{:?}", m.end_reason).to_lowercase()),
            track: Vec::new(),
        };
        let name = format!("{}/{:06}", s.recording_id, s.segment);
        if let Some(sealing) = sealing.filter(|_| verified || self.opts.include_unverified) {
            match decrypt::open_track(sealing, self.key, self.recording_id, s.segment, &s.track) {
                Ok((track, problems)) => {
                    for p in &problems {
                        incomplete.push(format!("{name}: {p}"));
                    }
                    out.notes.extend(problems);
                    out.track = track;
                }
                Err(e) => {
                    out.notes.push(format!("track not decrypted: {e}"));
                    incomplete.push(format!("{name}: track not decrypted: {e}"));
                }
            }
        }
        let media = SegmentFile::Media.path(self.dir, s.segment);
        let Some(sealing) = sealing.filter(|_| media.exists()) else {
            out.notes.push("no media to export".into());
            incomplete.push(format!("{name}: no media to export ({})", out.status));
            return Ok((out, None));
        };
        if !verified && !self.opts.include_unverified {
            out.notes.push(format!(
                "not exported: it did not verify ({}); --include-unverified exports it marked as such",
                out.status
            ));
            incomplete.push(format!(
                "{name}: not exported, it did not verify ({})",
                out.status
            ));
            return Ok((out, None));
        }
        let file_name = if verified {
            format!("{:06}.ts", s.segment)
        } else {
            format!("{:06}.UNVERIFIED.ts", s.segment)
        };
        let file = seg_dir.join(file_name);
        match decrypt::export_segment(
            sealing,
            self.key,
            self.recording_id,
            s.segment,
            &media,
            &file,
        ) {
            Ok(d) if d.bytes == 0 => {
                // Nothing authenticated: no file, rather than an empty one.
                let _ = std::fs::remove_file(&file);
                for p in &d.problems {
                    incomplete.push(format!("{name}: {p}"));
                }
                out.notes.extend(d.problems);
                out.notes
                    .push("not exported: no part of it could be decrypted".into());
                Ok((out, None))
            }
            Ok(d) => {
                for p in &d.problems {
                    incomplete.push(format!("{name}: {p}"));
                }
                out.notes.extend(d.problems.clone());
                let probe = std::fs::read(&file).ok().map(|b| ts_probe(&b));
                out.exported = Some(MediaFile {
                    file: relative(&self.opts.out, &file),
                    bytes: d.bytes,
                    sha256: hex::encode(d.sha256),
                    probe,
                    unverified_segments: if verified {
                        Vec::new()
                    } else {
                        vec![s.segment]
                    },
                });
                if !verified {
                    out.notes
                        .push("exported although it did not verify: UNVERIFIED".into());
                }
                Ok((out, (d.bytes > 0).then_some(file)))
            }
            Err(DecryptError::Io(e)) => Err(ExportError::Io {
                path: file,
                source: std::io::Error::other(e),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&file);
                out.notes.push(format!("not exported: {e}"));
                incomplete.push(format!("{name}: not exported: {e}"));
                Ok((out, None))
            }
        }
    }

    /// The MP4 of the exported segments.
    fn mp4(
        &self,
        out_dir: &Path,
        files: &[PathBuf],
        unverified: &[u32],
    ) -> Result<Option<MediaFile>, ExportError> {
        if files.is_empty() {
            return Ok(None);
        }
        let name = if unverified.is_empty() {
            format!("{}.mp4", self.recording_id)
        } else {
            format!("{}.includes-UNVERIFIED.mp4", self.recording_id)
        };
        let path = out_dir.join(name);
        remux::to_mp4(&self.opts.tools, files, &path)?;
        let (bytes, sha256) = sha256_file(&path).map_err(io_err(&path))?;
        Ok(Some(MediaFile {
            file: relative(&self.opts.out, &path),
            bytes,
            sha256,
            probe: remux::probe(&self.opts.tools, &path).ok(),
            unverified_segments: unverified.to_vec(),
        }))
    }

    fn thumbnails(
        &self,
        out_dir: &Path,
        mp4: &MediaFile,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Vec<Thumbnail>, ExportError> {
        let length = mp4
            .probe
            .as_ref()
            .and_then(|p| p.duration_seconds)
            .or_else(|| start.zip(end).map(|(a, b)| seconds_between(a, b)))
            .unwrap_or(0.0);
        let every = match self.opts.thumbnail_seconds {
            Some(s) if s <= 0.0 => return Ok(Vec::new()),
            Some(s) => s,
            None => (length / 60.0).clamp(2.0, 30.0).round(),
        };
        let files = remux::thumbnails(
            &self.opts.tools,
            &self.opts.out.join(&mp4.file),
            every,
            &out_dir.join("thumbnails"),
        )?;
        Ok(files
            .iter()
            .enumerate()
            .map(|(i, f)| Thumbnail {
                offset_seconds: i as f64 * every,
                file: relative(&self.opts.out, f),
            })
            .collect())
    }

    /// Audit events naming this recording, or signed while it ran (others).
    fn events(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Vec<TimelineItem> {
        let Some(start) = start else {
            return Vec::new();
        };
        let end = end.unwrap_or(start);
        let margin = chrono::Duration::seconds(5);
        self.audit
            .iter()
            .filter(|(utc, e)| match names_recording(e) {
                Some(id) => id == self.recording_id,
                None => *utc >= start - margin && *utc <= end + margin,
            })
            .map(|(utc, e)| TimelineItem {
                utc: crate::clock::rfc3339(*utc),
                offset_seconds: seconds_between(start, *utc),
                what: e.name().to_string(),
                detail: e.detail_json(),
            })
            .collect()
    }
}

/// What an exported segment holds, from our own TS scanner (no process per segment;
/// the MP4 is probed with ffprobe).
fn ts_probe(bytes: &[u8]) -> remux::Probe {
    let s = crate::ts::scan(bytes);
    let duration = match (s.first_video_pts, s.last_video_pts) {
        (Some(a), Some(b)) if s.video_frames > 1 => {
            let span = b.saturating_sub(a) as f64;
            Some(span * s.video_frames as f64 / (s.video_frames - 1) as f64 / 90_000.0)
        }
        (Some(_), Some(_)) | (Some(_), None) | (None, _) => None,
    };
    remux::Probe {
        duration_seconds: duration,
        video_frames: Some(s.video_frames),
        audio_frames: Some(s.audio_frames),
        video_codec: (s.video_frames > 0).then(|| "h264".into()),
        audio_codec: (s.audio_frames > 0).then(|| "aac".into()),
    }
}

/// Segments missing altogether, and time between one segment's end and the next's start.
fn gaps(segs: &[SegmentOut]) -> Vec<Gap> {
    let mut out = Vec::new();
    let mut prev_end: Option<f64> = None;
    for s in segs {
        match (s.offset_seconds, s.duration_seconds) {
            (Some(at), Some(d)) => {
                if let Some(pe) = prev_end
                    && at - pe > 0.5
                {
                    out.push(Gap {
                        offset_seconds: pe,
                        seconds: at - pe,
                        what: format!(
                            "{:.1} s without footage before segment {:06}",
                            at - pe,
                            s.segment
                        ),
                    });
                }
                if s.exported.is_none() {
                    out.push(Gap {
                        offset_seconds: at,
                        seconds: d,
                        what: format!(
                            "{d:.1} s of segment {:06} ({}) are not in the export",
                            s.segment, s.status
                        ),
                    });
                }
                prev_end = Some(at + d);
            }
            (Some(_), None) | (None, _) => out.push(Gap {
                offset_seconds: prev_end.unwrap_or(0.0),
                seconds: 0.0,
                what: format!(
                    "segment {:06} {}: no footage of it here",
                    s.segment, s.status
                ),
            }),
        }
    }
    out
}

/// Markers from the sidecars, on the recording's timeline.
fn markers(metas: &BTreeMap<u32, SegmentMeta>, start: Option<DateTime<Utc>>) -> Vec<TimelineItem> {
    let Some(start) = start else {
        return Vec::new();
    };
    metas
        .iter()
        .flat_map(|(seq, m)| {
            m.markers.iter().map(move |mk| TimelineItem {
                utc: mk.utc.clone(),
                offset_seconds: parse_utc(&mk.utc).map_or(0.0, |t| seconds_between(start, t)),
                what: mk.trigger.clone(),
                detail: format!("segment {seq:06}, {:.1} s into it", mk.offset_seconds),
            })
        })
        .collect()
}
