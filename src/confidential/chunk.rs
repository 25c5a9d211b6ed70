//! The media of an encrypted segment: a sequence of AEAD chunks from byte 0, nothing
//! else.
//!
//! ```text
//! chunk   = header [40] | ciphertext [plain_len] | tag [16]
//! header  = magic "BCM2" | index u32 | plain_len u32 | video_frames u32 | audio_frames u32
//!           | keyframes u32 | pts_first u64 | pts_last u64
//! nonce   = 0x00 × 8 | index u32                          (12 bytes)
//! aad     = "bodycam-v2 chunk" | location | header       (location: device ‖ recording ‖ segment)
//! ```
//! Chunk `i` is the i-th chunk of the file (index 0 first); its ciphertext is
//! ChaCha20-Poly1305 under the segment's media key. The header is in the clear so that
//! a verifier without the key can walk the file (lengths, order, a torn last chunk)
//! and tell the length of a tail; its counts say no more than the signed checkpoints
//! already do. Integers are big-endian.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use ring::aead::{Aad, LessSafeKey, Nonce};

use super::TAG_LEN;

/// Magic at the start of every chunk.
pub const MAGIC: &[u8; 4] = b"BCM2";
/// Length of a chunk header.
pub const HEADER_LEN: usize = 40;
/// Bytes a chunk adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Largest plaintext the camera puts in one chunk (a GOP at up to ~8 Mbit/s fits; the
/// pre-event footage is split into chunks of this size).
pub const MAX_WRITE_PLAIN: usize = 1 << 20;
/// Largest plaintext a reader accepts in one chunk.
pub const MAX_PLAIN: u32 = 16 << 20;
/// Label at the start of every chunk's associated data.
pub const AAD_LABEL: &[u8] = b"bodycam-v2 chunk";

/// What a chunk holds, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ChunkHeader {
    /// Position in the file (0 first).
    pub index: u32,
    /// Plaintext bytes (the ciphertext is as long, plus the tag).
    pub plain_len: u32,
    /// Video access units in it.
    pub video_frames: u32,
    /// AAC frames in it.
    pub audio_frames: u32,
    /// Video keyframes in it.
    pub keyframes: u32,
    /// 90 kHz PTS of the first video frame (0 when none).
    pub pts_first: u64,
    /// 90 kHz PTS of the last video frame (0 when none).
    pub pts_last: u64,
}

impl ChunkHeader {
    /// The header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(MAGIC);
        h[4..8].copy_from_slice(&self.index.to_be_bytes());
        h[8..12].copy_from_slice(&self.plain_len.to_be_bytes());
        h[12..16].copy_from_slice(&self.video_frames.to_be_bytes());
        h[16..20].copy_from_slice(&self.audio_frames.to_be_bytes());
        h[20..24].copy_from_slice(&self.keyframes.to_be_bytes());
        h[24..32].copy_from_slice(&self.pts_first.to_be_bytes());
        h[32..40].copy_from_slice(&self.pts_last.to_be_bytes());
        h
    }

    /// Parse header bytes (magic and length bound checked).
    pub fn decode(h: &[u8; HEADER_LEN]) -> Result<ChunkHeader, String> {
        if &h[0..4] != MAGIC {
            return Err(format!("bad chunk magic {}", hex::encode(&h[0..4])));
        }
        let u32_at = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[i..i + 8]);
            u64::from_be_bytes(b)
        };
        let c = ChunkHeader {
            index: u32_at(4),
            plain_len: u32_at(8),
            video_frames: u32_at(12),
            audio_frames: u32_at(16),
            keyframes: u32_at(20),
            pts_first: u64_at(24),
            pts_last: u64_at(32),
        };
        if c.plain_len > MAX_PLAIN {
            return Err(format!(
                "chunk length {} is above the limit {MAX_PLAIN}",
                c.plain_len
            ));
        }
        Ok(c)
    }

    /// Bytes of the whole chunk on flash.
    pub fn sealed_len(&self) -> u64 {
        u64::from(self.plain_len) + OVERHEAD as u64
    }
}

/// The nonce of chunk `index`.
pub fn nonce(index: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

/// The associated data of a chunk with `header` at `location`.
pub fn aad(location: &[u8], header: &[u8; HEADER_LEN]) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_LABEL.len() + location.len() + HEADER_LEN);
    a.extend_from_slice(AAD_LABEL);
    a.extend_from_slice(location);
    a.extend_from_slice(header);
    a
}

/// Seal a chunk in place. `buf` holds `HEADER_LEN` bytes of room followed by the
/// plaintext; on return it holds the whole chunk (header, ciphertext, tag).
pub fn seal_in_place(key: &LessSafeKey, location: &[u8], header: ChunkHeader, buf: &mut Vec<u8>) {
    let h = header.encode();
    buf[..HEADER_LEN].copy_from_slice(&h);
    let aad = aad(location, &h);
    // ChaCha20-Poly1305 seals up to 256 GiB per nonce; a chunk is at most 16 MiB.
    match key.seal_in_place_separate_tag(
        nonce(header.index),
        Aad::from(&aad),
        &mut buf[HEADER_LEN..],
    ) {
        Ok(tag) => buf.extend_from_slice(tag.as_ref()),
        Err(_) => unreachable!("a chunk is far below ChaCha20-Poly1305's length limit"),
    }
}

/// Open one whole chunk (`bytes` = header ‖ ciphertext ‖ tag) in place; returns the
/// plaintext. `Err` when it does not authenticate at `location` under `key` as the
/// chunk with index `expected_index`.
pub fn open_in_place<'a>(
    key: &LessSafeKey,
    location: &[u8],
    expected_index: u32,
    bytes: &'a mut [u8],
) -> Result<&'a mut [u8], String> {
    if bytes.len() < OVERHEAD {
        return Err("shorter than a chunk header and tag".into());
    }
    let mut h = [0u8; HEADER_LEN];
    h.copy_from_slice(&bytes[..HEADER_LEN]);
    let header = ChunkHeader::decode(&h)?;
    if header.sealed_len() != bytes.len() as u64 {
        return Err("length does not match its header".into());
    }
    let aad = aad(location, &h);
    // The nonce comes from the position the reader expects, not from the header: a
    // chunk moved within the file fails here even before the header's index is read.
    key.open_in_place(nonce(expected_index), Aad::from(&aad), &mut bytes[HEADER_LEN..])
        .map_err(|_| {
            format!(
                "chunk {expected_index} does not authenticate (moved, swapped, from another segment, or altered)"
            )
        })
}

/// One chunk found by [`walk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ChunkAt {
    /// Offset of its header in the file.
    pub offset: u64,
    /// Its header.
    pub header: ChunkHeader,
}

impl ChunkAt {
    /// One past its last byte.
    pub fn end(&self) -> u64 {
        self.offset + self.header.sealed_len()
    }
}

/// The chunk structure of an encrypted media file, read without the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walk {
    /// Whole chunks, in file order.
    pub chunks: Vec<ChunkAt>,
    /// A last chunk cut short (offset, bytes present): what a power cut leaves.
    pub torn: Option<(u64, u64)>,
    /// Bytes that are not a chunk where one should start (offset, what is wrong); the
    /// walk stops there.
    pub damaged: Option<(u64, String)>,
    /// File length.
    pub len: u64,
}

impl Walk {
    /// Whether `offset` is where a chunk starts or the last whole chunk ends.
    pub fn is_boundary(&self, offset: u64) -> bool {
        offset == 0
            || self
                .chunks
                .iter()
                .any(|c| c.offset == offset || c.end() == offset)
    }

    /// Frame counts of the whole chunks starting at or after `from`.
    pub fn totals_from(&self, from: u64) -> ChunkHeader {
        let mut t = ChunkHeader::default();
        for c in self.chunks.iter().filter(|c| c.offset >= from) {
            let h = c.header;
            t.plain_len = t.plain_len.saturating_add(h.plain_len);
            t.audio_frames += h.audio_frames;
            t.keyframes += h.keyframes;
            if h.video_frames > 0 {
                if t.video_frames == 0 {
                    t.pts_first = h.pts_first;
                }
                t.pts_last = h.pts_last;
                t.video_frames += h.video_frames;
            }
        }
        t
    }
}

/// Check a chunk header at `offset` against the expected index.
fn check_header(h: &[u8; HEADER_LEN], want: u32) -> Result<ChunkHeader, String> {
    let header = ChunkHeader::decode(h)?;
    if header.index != want {
        return Err(format!(
            "chunk {} found where chunk {want} belongs",
            header.index
        ));
    }
    Ok(header)
}

/// Walk the chunks of the bytes in memory (recovery has the file read already).
pub fn walk_bytes(bytes: &[u8]) -> Walk {
    let mut w = Walk {
        len: bytes.len() as u64,
        ..Walk::default()
    };
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < HEADER_LEN {
            torn_or_damaged(&mut w, pos as u64, rest, rest.len() as u64);
            return w;
        }
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&rest[..HEADER_LEN]);
        let header = match check_header(&h, w.chunks.len() as u32) {
            Ok(hd) => hd,
            Err(e) => {
                w.damaged = Some((pos as u64, e));
                return w;
            }
        };
        let len = header.sealed_len();
        if (rest.len() as u64) < len {
            w.torn = Some((pos as u64, rest.len() as u64));
            return w;
        }
        w.chunks.push(ChunkAt {
            offset: pos as u64,
            header,
        });
        pos += len as usize;
    }
    w
}

/// A short remainder: a torn header if it is the start of one, else damage.
fn torn_or_damaged(w: &mut Walk, offset: u64, rest: &[u8], present: u64) {
    if MAGIC.starts_with(&rest[..rest.len().min(4)]) {
        w.torn = Some((offset, present));
    } else {
        w.damaged = Some((offset, "bytes after the last chunk are not a chunk".into()));
    }
}

/// Walk the chunks of a file, reading only the headers.
pub fn walk(path: &Path) -> std::io::Result<Walk> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut w = Walk {
        len,
        ..Walk::default()
    };
    let mut pos = 0u64;
    while pos < len {
        let left = len - pos;
        f.seek(SeekFrom::Start(pos))?;
        if left < HEADER_LEN as u64 {
            let mut rest = vec![0u8; left as usize];
            f.read_exact(&mut rest)?;
            torn_or_damaged(&mut w, pos, &rest, left);
            return Ok(w);
        }
        let mut h = [0u8; HEADER_LEN];
        f.read_exact(&mut h)?;
        let header = match check_header(&h, w.chunks.len() as u32) {
            Ok(hd) => hd,
            Err(e) => {
                w.damaged = Some((pos, e));
                return Ok(w);
            }
        };
        if left < header.sealed_len() {
            w.torn = Some((pos, left));
            return Ok(w);
        }
        w.chunks.push(ChunkAt {
            offset: pos,
            header,
        });
        pos += header.sealed_len();
    }
    Ok(w)
}

/// Whether the file starts like an encrypted segment (the first chunk's magic).
pub fn looks_sealed(first_bytes: &[u8]) -> bool {
    first_bytes.len() >= 4 && &first_bytes[..4] == MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confidential::wrap::aead_key;

    fn chunk(key: &LessSafeKey, loc: &[u8], index: u32, plain: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; HEADER_LEN];
        buf.extend_from_slice(plain);
        let h = ChunkHeader {
            index,
            plain_len: plain.len() as u32,
            video_frames: 1,
            audio_frames: 2,
            keyframes: 1,
            pts_first: 180_000,
            pts_last: 180_000,
        };
        seal_in_place(key, loc, h, &mut buf);
        buf
    }

    #[test]
    fn chunks_open_only_in_place_and_the_walk_finds_a_torn_end() {
        let key = aead_key(&[7u8; 32]);
        let loc = crate::confidential::location(&[1; 16], "r", 1);
        let a = chunk(&key, &loc, 0, b"first plaintext");
        let b = chunk(&key, &loc, 1, b"second");
        assert_eq!(a.len(), 15 + OVERHEAD);
        let mut file = a.clone();
        file.extend_from_slice(&b);
        let w = walk_bytes(&file);
        assert_eq!(w.chunks.len(), 2);
        assert!(w.torn.is_none() && w.damaged.is_none());
        assert!(w.is_boundary(a.len() as u64) && !w.is_boundary(3));

        let mut x = a.clone();
        assert_eq!(
            open_in_place(&key, &loc, 0, &mut x).unwrap(),
            b"first plaintext"
        );
        // Another position, segment or key: no plaintext.
        let mut x = a.clone();
        assert!(open_in_place(&key, &loc, 1, &mut x).is_err());
        let other = crate::confidential::location(&[1; 16], "r", 2);
        let mut x = a.clone();
        assert!(open_in_place(&key, &other, 0, &mut x).is_err());
        let mut x = a.clone();
        x[HEADER_LEN + 2] ^= 0x80;
        assert!(open_in_place(&key, &loc, 0, &mut x).is_err());
        // A header edit (say, the frame count) is caught by the AEAD too.
        let mut x = a.clone();
        x[15] ^= 1;
        assert!(open_in_place(&key, &loc, 0, &mut x).is_err());

        // Every cut inside the second chunk is a torn last chunk, never damage.
        for cut in 1..b.len() {
            let w = walk_bytes(&file[..a.len() + cut]);
            assert_eq!(w.chunks.len(), 1, "cut {cut}");
            assert_eq!(w.torn, Some((a.len() as u64, cut as u64)), "cut {cut}");
        }
        // Swapped chunks: the walk sees the order is wrong.
        let mut swapped = b.clone();
        swapped.extend_from_slice(&a);
        assert!(walk_bytes(&swapped).damaged.is_some());
        // The file walk reads the same as the in-memory one.
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m");
        std::fs::write(&p, &file[..file.len() - 3]).unwrap();
        assert_eq!(walk(&p).unwrap(), walk_bytes(&file[..file.len() - 3]));
    }
}
