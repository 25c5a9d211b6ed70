//! `GET /v1/recordings`: every recording on the store with its segments, their sizes,
//! sidecar metadata, whether each is closed and its offload state.
//!
//! Only directory entries whose names are valid ids ([`RecordingId`],
//! [`SegmentFile::parse`]) and that are real directories or regular files (not
//! symlinks) are listed.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::wire::{ListedRecording, ListedSegment, Listing};
use super::{DockBackend, DockError};
use crate::layout::{self, RECORDING_INFO, RecordingId, SegmentFile};

/// Largest sidecar or descriptor read into the listing.
const MAX_JSON_BYTES: u64 = 1024 * 1024;

/// The listing (blocking: reads the store's directories).
pub fn list_recordings(backend: &dyn DockBackend) -> Result<Listing, DockError> {
    let root = backend.store_root();
    let dir = layout::recordings_dir(&root);
    let dirs = layout::recording_dirs(&dir)
        .map_err(|e| DockError::Internal(format!("cannot list {}: {e}", dir.display())))?;
    let recordings = dirs
        .into_iter()
        .filter_map(|(name, path)| Some((RecordingId::parse(&name)?, path)))
        .map(|(id, path)| recording(backend, &id, &path))
        .collect();
    Ok(Listing { recordings })
}

fn recording(backend: &dyn DockBackend, id: &RecordingId, dir: &Path) -> ListedRecording {
    // An unreadable directory lists as a recording without segments.
    let segments = layout::segment_files(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, f)| f.media.is_some() || f.journal.is_some() || f.meta.is_some())
        .map(|(seq, files)| ListedSegment {
            sequence: seq,
            bytes: files.media.as_deref().and_then(regular_len),
            journal_bytes: files.journal.as_deref().and_then(regular_len),
            closed: backend.segment_closed(id.as_str(), seq),
            offload: backend.offload_state(id.as_str(), seq),
            meta: files.get(SegmentFile::Meta).and_then(read_json),
        })
        .collect();
    ListedRecording {
        id: id.as_str().to_string(),
        descriptor: read_json(&dir.join(RECORDING_INFO)),
        segments,
    }
}

/// Length of `path` if it is a regular file (symlinks are not followed).
fn regular_len(path: &Path) -> Option<u64> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_file())
        .map(|m| m.len())
}

/// The JSON in `path` if it is a regular file of reasonable size that parses.
fn read_json(path: &Path) -> Option<Value> {
    if regular_len(path)? > MAX_JSON_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_JSON_BYTES).read_to_end(&mut bytes))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
