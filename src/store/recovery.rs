//! Start-up recovery: close segments that a power cut or a kill left without a sidecar.
//! The media bytes are never truncated or deleted; the sidecar says what was found.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::clock::rfc3339;
use crate::store::StoreError;
use crate::store::flash::Flash;
use crate::store::meta::{CaptureInfo, EndReason, SIDECAR_FORMAT, SegmentMeta};
use crate::store::recording::{RECORDING_INFO, RecordingInfo};
use crate::store::segment::meta_name;
use crate::ts;

/// One segment closed by recovery.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    /// Path of the media file.
    pub path: PathBuf,
    /// The sidecar written for it.
    pub meta: SegmentMeta,
}

/// Segment sequence number from a media file name `NNNNNN.ts`.
pub fn parse_media_name(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".ts")?;
    if stem.len() != 6 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Find every `recordings/*/NNNNNN.ts` without its `NNNNNN.json` and write one.
pub fn recover(flash: &dyn Flash, recordings_dir: &Path) -> Result<Vec<Recovered>, StoreError> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(recordings_dir).map_err(|e| StoreError::io("list", recordings_dir, e))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let info = read_info(&dir);
        let listing = std::fs::read_dir(&dir).map_err(|e| StoreError::io("list", &dir, e))?;
        let mut open: Vec<(u32, PathBuf)> = listing
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                let seq = parse_media_name(&name)?;
                (!dir.join(meta_name(seq)).exists()).then(|| (seq, e.path()))
            })
            .collect();
        open.sort();
        for (seq, path) in open {
            let meta = recover_one(flash, &dir, seq, &path, info.as_ref())?;
            out.push(Recovered { path, meta });
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
) -> Result<SegmentMeta, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io("read", path, e))?;
    let summary = ts::scan(&bytes);
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
    let duration = duration_90k as f64 / 90_000.0;
    let start = mtime - chrono::Duration::milliseconds((duration * 1000.0) as i64);
    // The pre-event length was recorded in recording.json when the recording started.
    let (pre_event, pre_event_audio) = match info {
        Some(i) if seq == 1 => (i.pre_event_seconds, i.pre_event_audio),
        Some(_) | None => (0.0, false),
    };
    let meta = SegmentMeta {
        format: SIDECAR_FORMAT.into(),
        recording_id,
        sequence: seq,
        utc_start: rfc3339(start),
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
    let meta_path = dir.join(meta_name(seq));
    json.and_then(|j| flash.write_atomic(&meta_path, &j))
        .map_err(|e| StoreError::io("write", &meta_path, e))?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_names() {
        assert_eq!(parse_media_name("000001.ts"), Some(1));
        assert_eq!(parse_media_name("123456.ts"), Some(123_456));
        assert_eq!(parse_media_name("00001.ts"), None);
        assert_eq!(parse_media_name("00000a.ts"), None);
        assert_eq!(parse_media_name("000001.json"), None);
    }
}
