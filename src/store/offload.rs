//! Offload bookkeeping: a dock's acknowledgement that it stored a segment (accepted only
//! when its SHA-256 equals the hash the camera signed), and freeing the media of
//! acknowledged segments. An unacknowledged segment is never deleted.
//!
//! An acknowledgement is kept as `NNNNNN.ack` beside the segment. Freeing deletes only
//! the media file `NNNNNN.ts`; the journal, sidecar and acknowledgement stay, so the
//! device's evidence chain remains complete and verifiable after offload.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::evidence::payload::{Payload, decode_file};
use crate::flash::Flash;
use crate::layout::{self, SegmentFile};

/// Format tag of [`AckRecord`].
pub const ACK_FORMAT: &str = "bodycam-ack/1";

/// A stored acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRecord {
    /// Always [`ACK_FORMAT`].
    pub format: String,
    /// Recording id.
    pub recording_id: String,
    /// Segment sequence number.
    pub segment: u32,
    /// Blob name the dock stored it under.
    pub blob: String,
    /// SHA-256 (hex) the dock stored, equal to the signed hash.
    pub sha256: String,
    /// UTC when the camera accepted it.
    pub utc: String,
}

/// Why an acknowledgement was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AckError {
    /// No such segment.
    #[error("no segment {segment} in recording {recording}")]
    NoSuchSegment {
        /// Recording id.
        recording: String,
        /// Segment number.
        segment: u32,
    },
    /// The segment is still being written (no final or recovery record).
    #[error("segment {segment} of {recording} is still open")]
    Open {
        /// Recording id.
        recording: String,
        /// Segment number.
        segment: u32,
    },
    /// The hash the dock stored is not the hash the camera signed.
    #[error("the stored SHA-256 {got} is not the segment's signed SHA-256 {expected}")]
    HashMismatch {
        /// What the camera signed.
        expected: String,
        /// What the dock sent.
        got: String,
    },
    /// The blob name is empty or too long.
    #[error("blob name must be 1–1024 bytes")]
    BadBlob,
    /// Flash I/O failed.
    #[error("cannot {what} {path}: {reason}")]
    Io {
        /// Operation.
        what: &'static str,
        /// Path.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
}

/// The SHA-256 the camera signed for a closed segment (final or recovery record).
pub fn signed_hash(dir: &Path, segment: u32) -> Result<Option<[u8; 32]>, std::io::Error> {
    let journal = std::fs::read(SegmentFile::Journal.path(dir, segment))?;
    let (records, _) = decode_file(&journal);
    Ok(records.iter().rev().find_map(|r| match &r.payload {
        Payload::Final(f) => Some(f.segment_sha256),
        Payload::Recovery(r) => Some(r.segment_sha256),
        Payload::Checkpoint(_)
        | Payload::Location(_)
        | Payload::SealedLocation(_)
        | Payload::Keys(_)
        | Payload::Audit(_)
        | Payload::Head(_) => None,
    }))
}

/// Whether segment `segment` of the recording at `dir` was acknowledged.
pub fn is_acknowledged(dir: &Path, segment: u32) -> bool {
    SegmentFile::Ack.path(dir, segment).exists()
}

/// Accept an acknowledgement if `sha256_hex` is the signed hash; store it durably.
pub fn acknowledge(
    flash: &dyn Flash,
    recordings: &Path,
    recording: &str,
    segment: u32,
    blob: &str,
    sha256_hex: &str,
    utc: &str,
) -> Result<AckRecord, AckError> {
    if blob.is_empty() || blob.len() > 1024 {
        return Err(AckError::BadBlob);
    }
    let dir = recordings.join(recording);
    let no_such = || AckError::NoSuchSegment {
        recording: recording.to_string(),
        segment,
    };
    if !SegmentFile::Journal.path(&dir, segment).exists() {
        return Err(no_such());
    }
    let expected = signed_hash(&dir, segment)
        .map_err(|_| no_such())?
        .ok_or_else(|| AckError::Open {
            recording: recording.to_string(),
            segment,
        })?;
    let expected = hex::encode(expected);
    let got = sha256_hex.trim().to_ascii_lowercase();
    if got != expected {
        return Err(AckError::HashMismatch { expected, got });
    }
    let ack = AckRecord {
        format: ACK_FORMAT.into(),
        recording_id: recording.to_string(),
        segment,
        blob: blob.to_string(),
        sha256: expected,
        utc: utc.to_string(),
    };
    let path = SegmentFile::Ack.path(&dir, segment);
    let io = |what, e: std::io::Error| AckError::Io {
        what,
        path: path.clone(),
        reason: e.to_string(),
    };
    let json =
        serde_json::to_vec_pretty(&ack).map_err(|e| io("encode", std::io::Error::other(e)))?;
    flash
        .write_atomic(&path, &json)
        .map_err(|e| io("write", e))?;
    Ok(ack)
}

/// An acknowledged segment whose media is still on flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaimable {
    /// Media path.
    pub media: PathBuf,
    /// Recording id.
    pub recording: String,
    /// Segment number.
    pub segment: u32,
    /// Media bytes.
    pub bytes: u64,
}

/// Every acknowledged segment whose media is still on flash, oldest recording first.
pub fn reclaimable(recordings: &Path) -> std::io::Result<Vec<Reclaimable>> {
    let mut out = Vec::new();
    for (recording, dir) in layout::recording_dirs(recordings)? {
        for (segment, files) in layout::segment_files(&dir)? {
            let (Some(_), Some(media)) = (files.ack, files.media) else {
                continue;
            };
            if let Ok(meta) = std::fs::metadata(&media) {
                out.push(Reclaimable {
                    media,
                    recording: recording.clone(),
                    segment,
                    bytes: meta.len(),
                });
            }
        }
    }
    Ok(out)
}

/// Delete the media of one acknowledged segment. Refuses anything without an ack.
pub fn free(r: &Reclaimable) -> std::io::Result<()> {
    let dir = r
        .media
        .parent()
        .ok_or_else(|| std::io::Error::other("media path has no directory"))?;
    if !is_acknowledged(dir, r.segment) {
        return Err(std::io::Error::other(format!(
            "refusing to delete {}: not acknowledged",
            r.media.display()
        )));
    }
    std::fs::remove_file(&r.media)?;
    crate::flash::sync_dir(dir)
}

/// Closed segments (final or recovery record) that no dock has acknowledged yet.
pub fn pending(recordings: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for (_, dir) in layout::recording_dirs(recordings)? {
        for (seq, files) in layout::segment_files(&dir)? {
            if files.journal.is_some()
                && files.ack.is_none()
                && matches!(signed_hash(&dir, seq), Ok(Some(_)))
            {
                n += 1;
            }
        }
    }
    Ok(n)
}
