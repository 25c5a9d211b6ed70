//! Start-up recovery: close segments that a power cut or a kill left open (no final or
//! recovery record in their journal). The media bytes are never truncated or deleted:
//! the tail after the last checkpoint is hashed and covered by a recovery record,
//! signed now (after the restart), and the chain continues.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::clock::rfc3339;
use crate::evidence::Signer;
use crate::evidence::payload::{Payload, Recovery, decode_file};
use crate::evidence::record::sha256;
use crate::evidence::sidecar::{CaptureInfo, EndReason, SIDECAR_FORMAT, SegmentMeta};
use crate::flash::Flash;
use crate::layout::{self, RECORDING_INFO, SegmentFile};
use crate::store::StoreError;
use crate::store::recording::RecordingInfo;
use crate::ts;

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

fn recover_one(
    flash: &dyn Flash,
    dir: &Path,
    seq: u32,
    path: &Path,
    info: Option<&RecordingInfo>,
    signer: &mut Signer,
) -> Result<Option<Recovered>, StoreError> {
    let journal_path = SegmentFile::Journal.path(dir, seq);
    let journal = match std::fs::read(&journal_path) {
        Ok(j) => j,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StoreError::io("read", &journal_path, e)),
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
            Payload::Final(_) | Payload::Recovery(_) | Payload::Audit(_) | Payload::Head(_) => None,
        })
        .max()
        .unwrap_or(0);
    let journal_torn_bytes = match torn {
        // Only a record cut short at the very end is a torn write; other damage stays
        // for the verifier to report.
        Some((pos, e)) if e.is_torn_tail() => {
            flash
                .truncate_torn(&journal_path, pos as u64)
                .map_err(|e| StoreError::io("cut the torn record of", &journal_path, e))?;
            (journal.len() - pos) as u64
        }
        Some(_) | None => 0,
    };
    let bytes = std::fs::read(path).map_err(|e| StoreError::io("read", path, e))?;
    let start = usize::try_from(covered)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let summary = ts::scan(&bytes);
    let before = ts::scan(&bytes[..start]);
    let mtime: DateTime<Utc> = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now());
    let (capture, recording_id) = match info {
        Some(i) => (i.capture.clone(), i.recording_id.clone()),
        None => (
            CaptureInfo {
                source: "unknown".into(),
                encoder: "unknown".into(),
                width: 0,
                height: 0,
                framerate: 0,
                audio: summary.audio_frames > 0,
            },
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    let frame_90k = if capture.framerate > 0 {
        90_000 / u64::from(capture.framerate)
    } else {
        0
    };
    let duration_90k = match (summary.first_video_pts, summary.last_video_pts) {
        (Some(a), Some(b)) => b.saturating_sub(a) + frame_90k,
        (Some(_), None) | (None, Some(_)) | (None, None) => 0,
    };
    let tail_90k = match (
        summary.last_video_pts,
        before.last_video_pts,
        summary.first_video_pts,
    ) {
        (Some(last), Some(prev), _) => last.saturating_sub(prev),
        (Some(last), None, Some(first)) => last.saturating_sub(first) + frame_90k,
        (Some(_), None, None) | (None, _, _) => 0,
    };
    let duration = duration_90k as f64 / 90_000.0;
    let start_utc = mtime - chrono::Duration::milliseconds((duration * 1000.0) as i64);
    // The pre-event length was recorded in recording.json when the recording started.
    let (pre_event, pre_event_audio) = match info {
        Some(i) if seq == 1 => (i.pre_event_seconds, i.pre_event_audio),
        Some(_) | None => (0.0, false),
    };
    let meta = SegmentMeta {
        format: SIDECAR_FORMAT.into(),
        recording_id: recording_id.clone(),
        sequence: seq,
        utc_start: rfc3339(start_utc),
        utc_end: rfc3339(mtime),
        clock_synchronised: false,
        utc_estimated: true,
        duration_seconds: duration,
        video_frames: summary.video_frames,
        audio_frames: summary.audio_frames,
        keyframes: summary.keyframes,
        bytes: bytes.len() as u64,
        first_pts_90k: summary.first_video_pts,
        last_pts_90k: summary.last_video_pts,
        markers: Vec::new(),
        pre_event_seconds: pre_event,
        pre_event_audio,
        end_reason: EndReason::Recovered,
        trailing_bytes: summary.trailing_bytes,
        capture,
    };
    let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other);
    let meta_path = SegmentFile::Meta.path(dir, seq);
    let json = json
        .and_then(|j| flash.write_atomic(&meta_path, &j).map(|()| j))
        .map_err(|e| StoreError::io("write", &meta_path, e))?;
    let rec = signer.sign_media(&Payload::Recovery(Recovery {
        recording_id,
        segment: seq,
        byte_start: start as u64,
        byte_end: bytes.len() as u64,
        tail_sha256: sha256(&bytes[start..]),
        segment_sha256: sha256(&bytes),
        journal_torn_bytes,
        sidecar_sha256: sha256(&json),
    }));
    let mut j = flash
        .open_append(&journal_path)
        .map_err(|e| StoreError::io("open", &journal_path, e))?;
    j.write_all(&rec)
        .and_then(|()| j.sync_data())
        .map_err(|e| StoreError::io("append to", &journal_path, e))?;
    Ok(Some(Recovered {
        path: path.to_path_buf(),
        meta,
        tail_bytes: (bytes.len() - start) as u64,
        tail_seconds: tail_90k as f64 / 90_000.0,
        journal_torn_bytes,
    }))
}
