//! One segment's media to a playable MPEG-TS file: decrypted chunk by chunk with the
//! agency's private key (each chunk authenticated at its place before a byte of it is
//! written), or copied as it is when the segment is plain.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use ring::digest::{Context, SHA256};

use crate::confidential::keys::FootageKey;
use crate::confidential::{KEY_LEN, chunk, location, track, wipe, wrap};
use crate::evidence::payload::{Location, Payload, SealedLocation, SegmentKeys, decode_file};
use crate::evidence::verify::TrackPoint;

/// How a segment is sealed, from its journal's keys record.
#[derive(Debug, Clone)]
pub(super) enum Sealing {
    /// Plain MPEG-TS.
    Plain,
    /// Encrypted: its keys record and the device id the record was signed by.
    Sealed {
        /// The keys record.
        keys: SegmentKeys,
        /// Device id (its header), bound into every chunk.
        device_id: [u8; 16],
        /// Its sealed location records, in journal order.
        locations: Vec<SealedLocation>,
    },
}

impl Sealing {
    /// Read the journal of a segment (its keys record, if any, is the first record).
    pub(super) fn of_journal(journal: &Path) -> std::io::Result<Sealing> {
        let bytes = std::fs::read(journal)?;
        let (records, _) = decode_file(&bytes);
        let mut sealing = Sealing::Plain;
        let mut found = Vec::new();
        for r in records {
            match r.payload {
                Payload::Keys(keys) if matches!(sealing, Sealing::Plain) => {
                    sealing = Sealing::Sealed {
                        keys,
                        device_id: r.header.device_id,
                        locations: Vec::new(),
                    };
                }
                Payload::SealedLocation(l) => found.push(l),
                Payload::Keys(_)
                | Payload::Checkpoint(_)
                | Payload::Final(_)
                | Payload::Recovery(_)
                | Payload::Location(_)
                | Payload::Audit(_)
                | Payload::Head(_) => {}
            }
        }
        if let Sealing::Sealed { locations, .. } = &mut sealing {
            *locations = found;
        }
        Ok(sealing)
    }

    /// Key ids the segment is encrypted to (empty when plain).
    pub(super) fn key_ids(&self) -> Vec<String> {
        match self {
            Sealing::Plain => Vec::new(),
            Sealing::Sealed { keys, .. } => keys
                .recipients
                .iter()
                .map(|w| hex::encode(w.key_id))
                .collect(),
        }
    }
}

/// What came out of one segment.
#[derive(Debug, Clone, Default)]
pub(super) struct Decrypted {
    /// Plaintext bytes written.
    pub bytes: u64,
    /// SHA-256 of them.
    pub sha256: [u8; 32],
    /// Chunks that authenticated and were written.
    pub chunks: u64,
    /// What stopped the decryption early, if anything (a chunk that does not
    /// authenticate, a torn last chunk, damage).
    pub problems: Vec<String>,
}

/// Why a segment could not be decrypted at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum DecryptError {
    /// The segment is not encrypted to this key.
    #[error("encrypted to key id(s) {}, not to this key", .0.join(", "))]
    NotForThisKey(Vec<String>),
    /// The wrapped key for this key does not open (damaged record).
    #[error("the wrapped content key does not open with this key: {0}")]
    Unwrap(String),
    /// The content key does not match the signed commitment.
    #[error("the content key does not match the commitment in the signed keys record")]
    Commitment,
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
}

/// Decrypt (or copy) `media` to `out`.
pub(super) fn export_segment(
    sealing: &Sealing,
    key: &FootageKey,
    recording_id: &str,
    segment: u32,
    media: &Path,
    out: &Path,
) -> Result<Decrypted, DecryptError> {
    let io = |e: std::io::Error| DecryptError::Io(e.to_string());
    let mut dst = File::create(out).map_err(io)?;
    let result = match sealing {
        Sealing::Plain => copy_plain(media, &mut dst),
        Sealing::Sealed {
            keys, device_id, ..
        } => {
            let loc = location(device_id, recording_id, segment);
            let mut ck = content_key(keys, key, &loc)?;
            let media_key = wrap::media_key(&ck);
            wipe(&mut ck);
            open_chunks(&media_key, &loc, media, &mut dst)
        }
    };
    dst.sync_all().map_err(io)?;
    result
}

/// The content key of a segment, from this key's wrapped content key, checked against
/// the signed commitment (the caller wipes it).
fn content_key(
    keys: &SegmentKeys,
    key: &FootageKey,
    loc: &[u8],
) -> Result<[u8; KEY_LEN], DecryptError> {
    let Some(w) = keys.recipients.iter().find(|w| w.key_id == key.key_id) else {
        return Err(DecryptError::NotForThisKey(
            keys.recipients
                .iter()
                .map(|w| hex::encode(w.key_id))
                .collect(),
        ));
    };
    let mut ck = wrap::unwrap(key, w, loc).map_err(|e| DecryptError::Unwrap(e.to_string()))?;
    if wrap::commitment(&ck) != keys.commitment {
        wipe(&mut ck);
        return Err(DecryptError::Commitment);
    }
    Ok(ck)
}

/// The location track of a segment: a plain segment's as verified (`plain`), an
/// encrypted one's opened from its sealed location records (§10.1.1). Records that do
/// not open are left out and named in the problems.
pub(super) fn open_track(
    sealing: &Sealing,
    key: &FootageKey,
    recording_id: &str,
    segment: u32,
    plain: &[TrackPoint],
) -> Result<(Vec<TrackPoint>, Vec<String>), DecryptError> {
    let Sealing::Sealed {
        keys,
        device_id,
        locations,
    } = sealing
    else {
        return Ok((plain.to_vec(), Vec::new()));
    };
    if locations.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let loc = location(device_id, recording_id, segment);
    let mut ck = content_key(keys, key, &loc)?;
    let location_key = wrap::location_key(&ck);
    wipe(&mut ck);
    let mut points = Vec::with_capacity(locations.len());
    let mut problems = Vec::new();
    for l in locations {
        if l.recording_id != recording_id || l.segment != segment {
            problems.push(format!(
                "sealed location {} names another segment; left out",
                l.seq
            ));
            continue;
        }
        match track::open(&location_key, &loc, l.seq, l.pts_90k, &l.sealed) {
            Ok(fix) => points.push(TrackPoint::of(&Location {
                recording_id: l.recording_id.clone(),
                segment: l.segment,
                pts_90k: l.pts_90k,
                fix,
            })),
            Err(e) => problems.push(format!("{e}; left out of the track")),
        }
    }
    Ok((points, problems))
}

fn copy_plain(media: &Path, dst: &mut File) -> Result<Decrypted, DecryptError> {
    let io = |e: std::io::Error| DecryptError::Io(e.to_string());
    let mut src = File::open(media).map_err(io)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut hash = Context::new(&SHA256);
    let mut bytes = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(io)?;
        bytes += n as u64;
    }
    Ok(Decrypted {
        bytes,
        sha256: finish(hash),
        chunks: 0,
        problems: Vec::new(),
    })
}

fn finish(ctx: Context) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Open every whole chunk in order; stop at the first that does not authenticate.
fn open_chunks(
    media_key: &ring::aead::LessSafeKey,
    loc: &[u8],
    media: &Path,
    dst: &mut File,
) -> Result<Decrypted, DecryptError> {
    let io = |e: std::io::Error| DecryptError::Io(e.to_string());
    let walk = chunk::walk(media).map_err(io)?;
    let mut src = File::open(media).map_err(io)?;
    let mut out = Decrypted::default();
    let mut hash = Context::new(&SHA256);
    let mut buf = Vec::new();
    for (i, c) in walk.chunks.iter().enumerate() {
        buf.resize(c.header.sealed_len() as usize, 0);
        src.seek(SeekFrom::Start(c.offset)).map_err(io)?;
        src.read_exact(&mut buf).map_err(io)?;
        match chunk::open_in_place(media_key, loc, i as u32, &mut buf) {
            Ok(plain) => {
                hash.update(plain);
                dst.write_all(plain).map_err(io)?;
                out.bytes += plain.len() as u64;
                out.chunks += 1;
                wipe(plain);
            }
            Err(e) => {
                out.problems.push(format!(
                    "{e}: nothing from byte {} on was exported",
                    c.offset
                ));
                out.sha256 = finish(hash);
                return Ok(out);
            }
        }
    }
    if let Some((offset, n)) = walk.torn {
        out.problems.push(format!(
            "torn last chunk ({n} bytes at byte {offset}, cut by a power loss): it cannot be authenticated and was not exported"
        ));
    }
    if let Some((offset, what)) = &walk.damaged {
        out.problems.push(format!(
            "the media is not a run of chunks from byte {offset} ({what}): nothing from there on was exported"
        ));
    }
    out.sha256 = finish(hash);
    Ok(out)
}
