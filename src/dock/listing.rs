//! `GET /v1/recordings`: every recording on the store with its segments, their sizes,
//! sidecar metadata, whether each is closed and its offload state.
//!
//! Only directory entries whose names are valid ids ([`RecordingId`],
//! [`sequence_of_file`]) and that are real directories or regular files (not symlinks)
//! are listed.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};

use super::{DockBackend, DockError};
use crate::layout::{RecordingId, SegmentPart, recording_dir, segment_path, sequence_of_file};
use crate::store::RECORDINGS_DIR;
use crate::store::recording::RECORDING_INFO;

/// Largest sidecar or descriptor read into the listing.
const MAX_JSON_BYTES: u64 = 1024 * 1024;

/// The listing (blocking: reads the store's directories).
///
/// ```json
/// {"recordings": [{"id": "20261125T175328Z", "descriptor": {…} | null,
///   "segments": [{"sequence": 1, "bytes": 123456 | null, "journal_bytes": 2310 | null,
///                 "closed": true, "offload": "pending", "meta": {…} | null}]}]}
/// ```
pub fn list_recordings(backend: &dyn DockBackend) -> Result<Value, DockError> {
    let root = backend.store_root();
    let dir = root.join(RECORDINGS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(json!({ "recordings": [] }));
        }
        Err(e) => {
            return Err(DockError::Internal(format!(
                "cannot list {}: {e}",
                dir.display()
            )));
        }
    };
    let mut ids: Vec<RecordingId> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().and_then(RecordingId::parse))
        .collect();
    ids.sort();
    let recordings: Vec<Value> = ids.iter().map(|id| recording(backend, &root, id)).collect();
    Ok(json!({ "recordings": recordings }))
}

fn recording(backend: &dyn DockBackend, root: &Path, id: &RecordingId) -> Value {
    let dir = recording_dir(root, id);
    let sequences: BTreeSet<u32> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().to_str().and_then(sequence_of_file))
                .collect()
        })
        .unwrap_or_default();
    let segments: Vec<Value> = sequences
        .into_iter()
        .map(|seq| {
            let len = |part| regular_len(&segment_path(root, id, seq, part));
            json!({
                "sequence": seq,
                "bytes": len(SegmentPart::Media),
                "journal_bytes": len(SegmentPart::Journal),
                "closed": backend.segment_closed(id.as_str(), seq),
                "offload": backend.offload_state(id.as_str(), seq),
                "meta": read_json(&segment_path(root, id, seq, SegmentPart::Meta)),
            })
        })
        .collect();
    json!({
        "id": id.as_str(),
        "descriptor": read_json(&dir.join(RECORDING_INFO)),
        "segments": segments,
    })
}

/// Length of `path` if it is a regular file (symlinks are not followed).
fn regular_len(path: &Path) -> Option<u64> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_file())
        .map(|m| m.len())
}

/// The JSON in `path` if it is a regular file of reasonable size that parses.
fn read_json(path: &Path) -> Value {
    let Some(len) = regular_len(path) else {
        return Value::Null;
    };
    if len > MAX_JSON_BYTES {
        return Value::Null;
    }
    let mut bytes = Vec::new();
    match std::fs::File::open(path).and_then(|f| f.take(MAX_JSON_BYTES).read_to_end(&mut bytes)) {
        Ok(_) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}
