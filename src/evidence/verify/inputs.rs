//! Inputs: what the path given is (store, recording, segment), the segment files to
//! examine, and the key to verify against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::VerifyError;
use super::VerifyOptions;
use super::report::{InputKind, KeyReport, KeySource};
use crate::evidence::identity::{IdentityError, PublicIdentity, device_id_for};
use crate::evidence::record::DEVICE_ID_LEN;
use crate::layout::{self, IDENTITY_FILE, KEY_DIR, RECORDING_INFO, SegmentFile};

#[derive(Debug, Default)]
pub(super) struct SegmentFiles {
    pub(super) media: Option<PathBuf>,
    pub(super) journal: Option<PathBuf>,
    pub(super) sidecar: Option<PathBuf>,
}

#[derive(Debug)]
pub(super) struct RecordingFiles {
    pub(super) id: String,
    pub(super) segments: BTreeMap<u32, SegmentFiles>,
}

#[derive(Debug)]
pub(super) struct Input {
    pub(super) kind: InputKind,
    /// Store root (for a recording or segment: where the store would be).
    pub(super) root: PathBuf,
    /// The recording directory (recording, segment).
    pub(super) dir: PathBuf,
    /// The segment (segment).
    pub(super) segment: Option<u32>,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

impl Input {
    pub(super) fn resolve(path: &Path) -> Result<Input, VerifyError> {
        let unreadable = |source| VerifyError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        let abs = std::fs::canonicalize(path).map_err(unreadable)?;
        if meta.is_dir() {
            if layout::recordings_dir(&abs).is_dir() {
                return Ok(Input {
                    kind: InputKind::Store,
                    root: abs.clone(),
                    dir: abs,
                    segment: None,
                });
            }
            let listing = std::fs::read_dir(&abs).map_err(unreadable)?;
            let looks_like_recording = listing.filter_map(Result::ok).any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n == RECORDING_INFO
                    || matches!(
                        SegmentFile::parse(&n),
                        Some((_, SegmentFile::Media | SegmentFile::Journal))
                    )
            });
            if looks_like_recording {
                return Ok(Input {
                    kind: InputKind::Recording,
                    root: parent(&parent(&abs)),
                    dir: abs,
                    segment: None,
                });
            }
            return Err(VerifyError::NotEvidence(path.to_path_buf()));
        }
        match SegmentFile::parse(&file_name(&abs)) {
            Some((seq, SegmentFile::Media | SegmentFile::Journal)) => {
                let dir = parent(&abs);
                Ok(Input {
                    kind: InputKind::Segment,
                    root: parent(&parent(&dir)),
                    dir,
                    segment: Some(seq),
                })
            }
            Some((_, SegmentFile::Meta | SegmentFile::Ack)) | None => {
                Err(VerifyError::NotEvidence(path.to_path_buf()))
            }
        }
    }

    /// The recordings and segment files to examine; sequence gaps are filled with
    /// empty entries (they are reported MISSING).
    pub(super) fn recordings(
        &self,
        notes: &mut Vec<String>,
        errors: &mut Vec<String>,
    ) -> Vec<RecordingFiles> {
        match (self.kind, self.segment) {
            (InputKind::Segment, Some(seq)) => {
                let present = |file: SegmentFile| {
                    let p = file.path(&self.dir, seq);
                    p.exists().then_some(p)
                };
                let files = SegmentFiles {
                    media: present(SegmentFile::Media),
                    journal: present(SegmentFile::Journal),
                    sidecar: present(SegmentFile::Meta),
                };
                vec![RecordingFiles {
                    id: file_name(&self.dir),
                    segments: BTreeMap::from([(seq, files)]),
                }]
            }
            (InputKind::Segment, None) | (InputKind::Recording, _) => {
                list_recording(&self.dir, notes, errors)
                    .into_iter()
                    .collect()
            }
            (InputKind::Store, _) => {
                let dir = layout::recordings_dir(&self.root);
                let mut dirs = Vec::new();
                match std::fs::read_dir(&dir) {
                    Ok(listing) => {
                        for e in listing {
                            match e {
                                Ok(e) if e.path().is_dir() => dirs.push(e.path()),
                                Ok(e) => notes.push(format!(
                                    "ignored {} (not a recording directory)",
                                    e.path().display()
                                )),
                                Err(e) => {
                                    errors.push(format!("cannot list {}: {e}", dir.display()))
                                }
                            }
                        }
                    }
                    Err(e) => errors.push(format!("cannot list {}: {e}", dir.display())),
                }
                dirs.sort();
                dirs.iter()
                    .filter_map(|d| list_recording(d, notes, errors))
                    .collect()
            }
        }
    }
}

fn list_recording(
    dir: &Path,
    notes: &mut Vec<String>,
    errors: &mut Vec<String>,
) -> Option<RecordingFiles> {
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            errors.push(format!("cannot list {}: {e}", dir.display()));
            return None;
        }
    };
    let mut segments: BTreeMap<u32, SegmentFiles> = BTreeMap::new();
    for e in listing {
        let e = match e {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("cannot list {}: {e}", dir.display()));
                continue;
            }
        };
        let name = e.file_name().to_string_lossy().into_owned();
        match SegmentFile::parse(&name) {
            Some((seq, file)) => {
                let f = segments.entry(seq).or_default();
                let slot = match file {
                    SegmentFile::Media => &mut f.media,
                    SegmentFile::Journal => &mut f.journal,
                    SegmentFile::Meta => &mut f.sidecar,
                    // An acknowledgement is not evidence; OFFLOADED is decided from the
                    // signed audit log.
                    SegmentFile::Ack => continue,
                };
                *slot = Some(e.path());
            }
            None if name == RECORDING_INFO => {}
            None => notes.push(format!("ignored {}", e.path().display())),
        }
    }
    // Sequence numbers start at 1 and have no holes.
    if let Some(&last) = segments.keys().next_back() {
        for seq in 1..last {
            segments.entry(seq).or_default();
        }
    }
    Some(RecordingFiles {
        id: file_name(dir),
        segments,
    })
}

/// The verifying key, and the other keys a record that fails under it is tried with
/// (FOREIGN when one of them verifies it).
#[derive(Debug, Clone)]
pub(super) struct Key {
    pub(super) public: [u8; 32],
    pub(super) device_id: [u8; DEVICE_ID_LEN],
    pub(super) others: Vec<OtherKey>,
}

/// Another device's key (`--other-key`, `--other-identity`, or the store's own
/// `keys/identity.json` when it is not the verifying key).
#[derive(Debug, Clone)]
pub(super) struct OtherKey {
    pub(super) public: [u8; 32],
    pub(super) device_id: [u8; DEVICE_ID_LEN],
    /// Where it came from, for the report.
    pub(super) from: String,
}

/// A `--key` value: 64 hex digits (either case; surrounding white space ignored), the
/// 32-byte Ed25519 public key.
pub fn parse_key_hex(text: &str) -> Result<[u8; 32], VerifyError> {
    let bad = || VerifyError::BadKey(text.to_string());
    let t = text.trim();
    if t.len() != 64 {
        return Err(bad());
    }
    hex::decode(t)
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())
}

/// An identity file's public key, checked (device id against key).
fn identity_key(path: &Path) -> Result<[u8; 32], VerifyError> {
    let id = PublicIdentity::load(path)?;
    Ok(id
        .public_key_bytes()
        .ok_or_else(|| IdentityError::BadIdentityFile {
            path: path.to_path_buf(),
            reason: "public_key is not 64 hex digits".into(),
        })?)
}

pub(super) fn resolve_key(
    opts: &VerifyOptions,
    input: &Input,
) -> Result<(Key, KeyReport), VerifyError> {
    let store_identity = input.root.join(KEY_DIR).join(IDENTITY_FILE);
    if opts.trust_store_key && (opts.key_hex.is_some() || opts.identity.is_some()) {
        return Err(VerifyError::TrustConflict);
    }
    let (public, source, path) = match (&opts.key_hex, &opts.identity) {
        (Some(_), Some(_)) => return Err(VerifyError::KeyConflict),
        (Some(hex_key), None) => (parse_key_hex(hex_key)?, KeySource::Key, None),
        (None, Some(p)) => (identity_key(p)?, KeySource::IdentityFile, Some(p.clone())),
        (None, None) => {
            if !store_identity.exists() {
                return Err(VerifyError::NoKey(store_identity));
            }
            (
                identity_key(&store_identity)?,
                KeySource::Store,
                Some(store_identity.clone()),
            )
        }
    };
    let device_id = device_id_for(&public);
    let mut notes = Vec::new();
    let mut others: Vec<OtherKey> = Vec::new();
    let mut add_other = |public_other: [u8; 32], from: String| {
        if public_other != public && !others.iter().any(|o| o.public == public_other) {
            others.push(OtherKey {
                public: public_other,
                device_id: device_id_for(&public_other),
                from,
            });
        }
    };
    for k in &opts.other_keys {
        add_other(parse_key_hex(k)?, "--other-key".into());
    }
    for p in &opts.other_identities {
        add_other(identity_key(p)?, p.display().to_string());
    }
    match source {
        KeySource::Store if opts.trust_store_key => notes.push(format!(
            "the key was taken from {} in the evidence itself and accepted with \
             --trust-store-key: whoever can alter the store can replace it",
            store_identity.display()
        )),
        KeySource::Store => notes.push(format!(
            "the key was taken from {} in the evidence itself, not independently supplied: \
             whoever can alter the store can replace it; pass --key or --identity from \
             enrolment (or --trust-store-key to accept it)",
            store_identity.display()
        )),
        KeySource::Key | KeySource::IdentityFile => {
            if let Ok(stored) = PublicIdentity::load(&store_identity)
                && let Some(stored_key) = stored.public_key_bytes()
                && stored_key != public
            {
                notes.push(format!(
                    "{} names another device ({}) than the key supplied; records signed by \
                     its key are FOREIGN",
                    store_identity.display(),
                    stored.device_id
                ));
                add_other(stored_key, store_identity.display().to_string());
            }
        }
    }
    let independently_supplied = source != KeySource::Store;
    let report = KeyReport {
        device_id: hex::encode(device_id),
        public_key: hex::encode(public),
        source,
        path: path.map(|p| p.display().to_string()),
        independently_supplied,
        accepted: independently_supplied || opts.trust_store_key,
        other_keys: others.iter().map(|o| hex::encode(o.device_id)).collect(),
        notes,
    };
    Ok((
        Key {
            public,
            device_id,
            others,
        },
        report,
    ))
}
