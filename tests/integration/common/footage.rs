//! Confidential footage: agency key pairs made by the real `bodycam pki footage-key`,
//! decryption of a segment through the library's public pieces (the examiner's
//! primitives, independent of `bodycam export`), and scans for plaintext.

use std::path::{Path, PathBuf};
use std::process::Command;

use bodycam::confidential::chunk::{self, Walk};
use bodycam::confidential::keys::FootageKey;
use bodycam::confidential::{location, wrap};
use bodycam::evidence::payload::{Payload, decode_file};

use crate::common::BIN;

/// A footage key pair written by `bodycam pki footage-key DIR --name NAME`:
/// (private key file, recipient file).
pub fn footage_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let out = Command::new(BIN)
        .args(["pki", "footage-key"])
        .arg(dir)
        .args(["--name", name])
        .output()
        .expect("run bodycam pki footage-key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    )
}

/// A segment opened with the library's primitives.
#[derive(Debug)]
pub struct Opened {
    /// The plaintext of every chunk that authenticated, in order.
    pub plaintext: Vec<u8>,
    /// Chunks that authenticated.
    pub chunks: usize,
    /// The chunk walk of the media (torn end, damage).
    pub walk: Walk,
    /// The first chunk that did not authenticate, if any.
    pub failed_chunk: Option<usize>,
}

/// Decrypt segment `seq` of the recording directory `dir` with the private key file `key`;
/// `Err` when the segment is not encrypted to it.
pub fn open_segment(dir: &Path, seq: u32, key: &Path) -> Result<Opened, String> {
    let key = FootageKey::load(key).map_err(|e| e.to_string())?;
    let journal =
        std::fs::read(dir.join(format!("{seq:06}.journal"))).map_err(|e| e.to_string())?;
    let (records, _) = decode_file(&journal);
    let (keys, device) = records
        .iter()
        .find_map(|r| match &r.payload {
            Payload::Keys(k) => Some((k.clone(), r.header.device_id)),
            _ => None,
        })
        .ok_or("no keys record: not encrypted")?;
    let recording = dir.file_name().unwrap().to_string_lossy().into_owned();
    let loc = location(&device, &recording, seq);
    let w = keys
        .recipients
        .iter()
        .find(|w| w.key_id == key.key_id)
        .ok_or("not encrypted to this key")?;
    let ck = wrap::unwrap(&key, w, &loc).map_err(|e| e.to_string())?;
    assert_eq!(wrap::commitment(&ck), keys.commitment, "commitment");
    let media_key = wrap::media_key(&ck);
    let media = std::fs::read(dir.join(format!("{seq:06}.ts"))).map_err(|e| e.to_string())?;
    let walk = chunk::walk_bytes(&media);
    let mut out = Opened {
        plaintext: Vec::new(),
        chunks: 0,
        walk: walk.clone(),
        failed_chunk: None,
    };
    for (i, c) in walk.chunks.iter().enumerate() {
        let mut bytes = media[c.offset as usize..c.end() as usize].to_vec();
        match chunk::open_in_place(&media_key, &loc, i as u32, &mut bytes) {
            Ok(p) => {
                out.plaintext.extend_from_slice(p);
                out.chunks += 1;
            }
            Err(_) => {
                out.failed_chunk = Some(i);
                break;
            }
        }
    }
    Ok(out)
}

/// Offsets where MPEG-TS packet structure starts: a sync byte (0x47) at 8 packets in a
/// row, 188 bytes apart.
pub fn ts_structure_at(bytes: &[u8]) -> Option<usize> {
    const RUN: usize = 8;
    (0..bytes.len().saturating_sub(188 * RUN))
        .find(|&i| (0..RUN).all(|k| bytes[i + 188 * k] == 0x47))
}

/// Whether `haystack` contains any of `needles`.
pub fn contains_any(haystack: &[u8], needles: &[Vec<u8>]) -> Option<usize> {
    needles
        .iter()
        .position(|n| !n.is_empty() && haystack.windows(n.len()).any(|w| w == n.as_slice()))
}

/// `count` windows of `len` bytes spread over `plain` (samples of known plaintext).
pub fn windows_of(plain: &[u8], count: usize, len: usize) -> Vec<Vec<u8>> {
    if plain.len() < len {
        return Vec::new();
    }
    let step = ((plain.len() - len) / count.max(1)).max(1);
    (0..count)
        .map(|i| (i * step).min(plain.len() - len))
        .map(|o| plain[o..o + len].to_vec())
        .collect()
}

/// Every regular file below `dir`, recursively.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}
