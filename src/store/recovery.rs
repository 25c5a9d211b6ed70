//! Start-up recovery: close segments that a power cut or a kill left open (no final or
//! recovery record in their journal). The media bytes are never truncated or deleted:
//! the tail after the last checkpoint is hashed and covered by a recovery record,
//! signed now (after the restart), and the chain continues.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::clock::rfc3339;
use crate::confidential::chunk::{self, Walk};
use crate::evidence::Signer;
use crate::evidence::payload::{Payload, Recovery, SegmentKeys, decode_file};
use crate::evidence::record::sha256;
use crate::evidence::sidecar::{
    CaptureInfo, EndReason, SIDECAR_FORMAT, SegmentMeta, SidecarEncryption,
};
use crate::flash::Flash;
use crate::layout::{self, RECORDING_INFO, SegmentFile};
use crate::store::StoreError;
use crate::store::recording::RecordingInfo;
use crate::ts::{self, ScanSummary};

/// One segment closed by recovery.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    /// Path of the media file.
    pub path: PathBuf,
    /// The sidecar written for it.
    pub meta: SegmentMeta,
    /// Bytes after the last checkpoint that were signed only now.
    pub tail_bytes: u64,
    /// Seconds of video in that tail.
    pub tail_seconds: f64,
    /// Bytes of a torn journal record removed.
    pub journal_torn_bytes: u64,
}

/// Close every open segment under `recordings_dir`.
pub fn recover(
    flash: &dyn Flash,
    recordings_dir: &Path,
    signer: &mut Signer,
) -> Result<Vec<Recovered>, StoreError> {
    let mut out = Vec::new();
    let dirs = layout::recording_dirs(recordings_dir)
        .map_err(|e| StoreError::io("list", recordings_dir, e))?;
    for (_, dir) in dirs {
        let info = read_info(&dir);
        let segments = layout::segment_files(&dir).map_err(|e| StoreError::io("list", &dir, e))?;
        for (seq, files) in segments {
            let Some(path) = files.media else { continue };
            if let Some(r) = recover_one(flash, &dir, seq, &path, info.as_ref(), signer)? {
                out.push(r);
            }
        }
    }
    Ok(out)
}

fn read_info(dir: &Path) -> Option<RecordingInfo> {
    let bytes = std::fs::read(dir.join(RECORDING_INFO)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Close one segment, unless its journal says it is closed already. In order: read the
/// journal, cut a torn record off its end, scan the media, write the sidecar, sign a
/// recovery record over the tail and the sidecar, and append it to the journal.
fn recover_one(
    flash: &dyn Flash,
    dir: &Path,
    seq: u32,
    path: &Path,
    info: Option<&RecordingInfo>,
    signer: &mut Signer,
) -> Result<Option<Recovered>, StoreError> {
    let journal_path = SegmentFile::Journal.path(dir, seq);
    let Some(journal) = OpenJournal::read(&journal_path)? else {
        return Ok(None);
    };
    let journal_torn_bytes = journal.cut_torn_record(flash, &journal_path)?;
    let bytes = std::fs::read(path).map_err(|e| StoreError::io("read", path, e))?;
    let scan = MediaScan::new(&bytes, journal.covered, journal.keys.is_some());
    let mut meta = sidecar(dir, seq, path, info, bytes.len() as u64, &scan);
    meta.encryption = match (&journal.keys, &scan.chunks) {
        (Some(k), Some(w)) => Some(SidecarEncryption {
            aead: crate::confidential::AEAD_NAME.into(),
            key_ids: k.recipients.iter().map(|r| hex::encode(r.key_id)).collect(),
            chunks: w.chunks.len() as u32,
        }),
        (Some(_), None) | (None, _) => None,
    };
    let sidecar_json = write_sidecar(flash, &SegmentFile::Meta.path(dir, seq), &meta)?;
    let record = signer.sign_media(&Payload::Recovery(Recovery {
        recording_id: meta.recording_id.clone(),
        segment: seq,
        byte_start: scan.start as u64,
        byte_end: bytes.len() as u64,
        tail_sha256: sha256(&bytes[scan.start..]),
        segment_sha256: sha256(&bytes),
        journal_torn_bytes,
        sidecar_sha256: sha256(&sidecar_json),
    }));
    append_synced(flash, &journal_path, &record)?;
    let tail_90k = scan.tail_90k(frame_90k(&meta.capture));
    Ok(Some(Recovered {
        path: path.to_path_buf(),
        meta,
        tail_bytes: (bytes.len() - scan.start) as u64,
        tail_seconds: tail_90k as f64 / 90_000.0,
        journal_torn_bytes,
    }))
}

/// The journal of a segment that is still open (no final or recovery record).
struct OpenJournal {
    /// Length of the journal as read.
    len: usize,
    /// End of the media bytes covered by the last checkpoint (0 without one).
    covered: u64,
    /// Where a record cut short at the very end (a torn write) starts, if there is one.
    torn_at: Option<usize>,
    /// The keys record of an encrypted segment.
    keys: Option<SegmentKeys>,
}

impl OpenJournal {
    /// Read and decode the journal at `path` (missing = empty); `None` when the segment
    /// is closed already.
    fn read(path: &Path) -> Result<Option<OpenJournal>, StoreError> {
        let journal = match std::fs::read(path) {
            Ok(j) => j,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::io("read", path, e)),
        };
        let (records, torn) = decode_file(&journal);
        let closed = records
            .iter()
            .any(|r| matches!(r.payload, Payload::Final(_) | Payload::Recovery(_)));
        if closed {
            return Ok(None);
        }
        let covered = records
            .iter()
            .filter_map(|r| match &r.payload {
                Payload::Checkpoint(c) => Some(c.byte_end),
                Payload::Final(_)
                | Payload::Recovery(_)
                | Payload::Location(_)
                | Payload::SealedLocation(_)
                | Payload::Keys(_)
                | Payload::Audit(_)
                | Payload::Head(_) => None,
            })
            .max()
            .unwrap_or(0);
        let torn_at = match torn {
            // Only a record cut short at the very end is a torn write; other damage stays
            // for the verifier to report.
            Some((pos, e)) if e.is_torn_tail() => Some(pos),
            Some(_) | None => None,
        };
        let keys = records.iter().find_map(|r| match &r.payload {
            Payload::Keys(k) => Some(k.clone()),
            Payload::Checkpoint(_)
            | Payload::Final(_)
            | Payload::Recovery(_)
            | Payload::Location(_)
            | Payload::SealedLocation(_)
            | Payload::Audit(_)
            | Payload::Head(_) => None,
        });
        Ok(Some(OpenJournal {
            len: journal.len(),
            covered,
            torn_at,
            keys,
        }))
    }

    /// Cut the torn record, if any, off the journal at `path`; returns the bytes removed.
    fn cut_torn_record(&self, flash: &dyn Flash, path: &Path) -> Result<u64, StoreError> {
        let Some(pos) = self.torn_at else {
            return Ok(0);
        };
        flash
            .truncate_torn(path, pos as u64)
            .map_err(|e| StoreError::io("cut the torn record of", path, e))?;
        Ok((self.len - pos) as u64)
    }
}

/// The media file scanned whole, and up to the end of the last checkpoint.
struct MediaScan {
    /// First byte that no checkpoint covered (the start of the tail).
    start: usize,
    /// The whole file.
    all: ScanSummary,
    /// The bytes before `start`.
    covered: ScanSummary,
    /// An encrypted segment's chunks (its counts come from the chunk headers: the camera
    /// cannot read its own ciphertext).
    chunks: Option<Walk>,
}

impl MediaScan {
    fn new(bytes: &[u8], covered: u64, sealed: bool) -> MediaScan {
        let start = usize::try_from(covered)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        if sealed {
            let walk = chunk::walk_bytes(bytes);
            return MediaScan {
                start,
                all: chunk_summary(&walk, u64::MAX),
                covered: chunk_summary(&walk, start as u64),
                chunks: Some(walk),
            };
        }
        MediaScan {
            start,
            all: ts::scan(bytes),
            covered: ts::scan(&bytes[..start]),
            chunks: None,
        }
    }

    /// Video in the whole file, in 90 kHz ticks, the last frame lasting `frame_90k`.
    fn duration_90k(&self, frame_90k: u64) -> u64 {
        match (self.all.first_video_pts, self.all.last_video_pts) {
            (Some(a), Some(b)) => b.saturating_sub(a) + frame_90k,
            (Some(_), None) | (None, Some(_)) | (None, None) => 0,
        }
    }

    /// Video in the tail after the last checkpoint, in 90 kHz ticks.
    fn tail_90k(&self, frame_90k: u64) -> u64 {
        match (
            self.all.last_video_pts,
            self.covered.last_video_pts,
            self.all.first_video_pts,
        ) {
            (Some(last), Some(prev), _) => last.saturating_sub(prev),
            (Some(last), None, Some(first)) => last.saturating_sub(first) + frame_90k,
            (Some(_), None, None) | (None, _, _) => 0,
        }
    }
}

/// What the whole chunks ending at or before `end` hold, as a scan would say it; bytes
/// after the last whole chunk (a torn chunk) are the trailing bytes.
fn chunk_summary(walk: &Walk, end: u64) -> ScanSummary {
    let mut s = ScanSummary::default();
    let whole: Vec<_> = walk.chunks.iter().filter(|c| c.end() <= end).collect();
    for c in &whole {
        let h = c.header;
        s.audio_frames += u64::from(h.audio_frames);
        s.keyframes += u64::from(h.keyframes);
        if h.video_frames > 0 {
            s.first_video_pts.get_or_insert(h.pts_first);
            s.last_video_pts = Some(h.pts_last);
            s.video_frames += u64::from(h.video_frames);
        }
    }
    s.whole_packets_bytes = whole.last().map_or(0, |c| c.end());
    s.trailing_bytes = walk.len.min(end).saturating_sub(s.whole_packets_bytes);
    s
}

/// One frame in 90 kHz ticks at the capture's frame rate (0 when unknown).
fn frame_90k(capture: &CaptureInfo) -> u64 {
    if capture.framerate > 0 {
        90_000 / u64::from(capture.framerate)
    } else {
        0
    }
}

/// The capture settings and recording id from `recording.json`, or, without it, what
/// the media and the directory name tell.
fn capture_and_id(
    dir: &Path,
    info: Option<&RecordingInfo>,
    all: &ScanSummary,
) -> (CaptureInfo, String) {
    match info {
        Some(i) => (i.capture.clone(), i.recording_id.clone()),
        None => (
            CaptureInfo {
                source: "unknown".into(),
                encoder: "unknown".into(),
                width: 0,
                height: 0,
                framerate: 0,
                audio: all.audio_frames > 0,
            },
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    }
}

/// The sidecar of a recovered segment: counts from the scan, UTC estimated backwards
/// from the media file's modification time.
fn sidecar(
    dir: &Path,
    seq: u32,
    path: &Path,
    info: Option<&RecordingInfo>,
    bytes: u64,
    scan: &MediaScan,
) -> SegmentMeta {
    let summary = &scan.all;
    let (capture, recording_id) = capture_and_id(dir, info, summary);
    let duration = scan.duration_90k(frame_90k(&capture)) as f64 / 90_000.0;
    let mtime: DateTime<Utc> = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now());
    let start_utc = mtime - chrono::Duration::milliseconds((duration * 1000.0) as i64);
    // The pre-event length was recorded in recording.json when the recording started.
    let (pre_event, pre_event_audio) = match info {
        Some(i) if seq == 1 => (i.pre_event_seconds, i.pre_event_audio),
        Some(_) | None => (0.0, false),
    };
    SegmentMeta {
        format: SIDECAR_FORMAT.into(),
        recording_id,
        sequence: seq,
        utc_start: rfc3339(start_utc),
        utc_end: rfc3339(mtime),
        clock_synchronised: false,
        utc_estimated: true,
        duration_seconds: duration,
        video_frames: summary.video_frames,
        audio_frames: summary.audio_frames,
        keyframes: summary.keyframes,
        bytes,
        first_pts_90k: summary.first_video_pts,
        last_pts_90k: summary.last_video_pts,
        markers: Vec::new(),
        pre_event_seconds: pre_event,
        pre_event_audio,
        end_reason: EndReason::Recovered,
        trailing_bytes: summary.trailing_bytes,
        capture,
        // Recovery cannot know of a mute the crash interrupted; the audit log's mute
        // entries tell, and the stored frames are silent either way.
        mute_spans: Vec::new(),
        officer: info.and_then(|i| i.officer.clone()),
        encryption: None,
        // Declared in recording.json before the first frame was written. A segment cut
        // inside the span by the power loss holds fewer of the declared frames.
        audio_silence: match info {
            Some(i) if seq == 1 => i.pre_event_silence.iter().cloned().collect(),
            Some(_) | None => Vec::new(),
        },
    }
}

/// Write the sidecar atomically; returns the bytes written (the recovery record signs them).
fn write_sidecar(
    flash: &dyn Flash,
    path: &Path,
    meta: &SegmentMeta,
) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec_pretty(meta)
        .map_err(std::io::Error::other)
        .and_then(|j| flash.write_atomic(path, &j).map(|()| j))
        .map_err(|e| StoreError::io("write", path, e))
}

/// Append `record` to the journal at `path` and make it durable.
fn append_synced(flash: &dyn Flash, path: &Path, record: &[u8]) -> Result<(), StoreError> {
    let mut j = flash
        .open_append(path)
        .map_err(|e| StoreError::io("open", path, e))?;
    j.write_all(record)
        .and_then(|()| j.sync_data())
        .map_err(|e| StoreError::io("append to", path, e))?;
    // Blocks the open segment had set aside past the journal's end are not needed now.
    if let Err(e) = j.release_reserve() {
        tracing::debug!(error = %e, path = %path.display(), "cannot give back a journal reserve");
    }
    Ok(())
}
