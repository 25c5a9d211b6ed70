//! Hashing: one streaming pass over a media file gives every checkpoint range, the whole
//! file and the tail (with the tail's video timestamps); `hash_range` for the rest.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use ring::digest::{Context, SHA256};

use super::render::Progress;
use crate::ts;

/// Read size when hashing media.
const CHUNK: usize = 1 << 20;
/// 33-bit MPEG-TS timestamps.
const PTS_MASK: u64 = ts::TIMESTAMP_MODULUS - 1;

/// Result of one streaming pass over a media file.
#[derive(Debug)]
pub(super) struct Pass {
    /// SHA-256 of `[b[i], b[i+1])`; `None` when the file ended before `b[i+1]`.
    pub(super) ranges: Vec<Option<[u8; 32]>>,
    /// SHA-256 of the whole file.
    pub(super) whole: [u8; 32],
    /// SHA-256 of `[last boundary, EOF)`.
    pub(super) tail: [u8; 32],
    /// Bytes read.
    pub(super) len: u64,
    /// Video timestamps in the tail.
    pub(super) tail_scan: TailScan,
}

fn finish(ctx: Context) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Hash `path` once: each range between consecutive `boundaries` (ascending, starting
/// at 0), the bytes after the last boundary, and the whole file.
pub(super) fn hash_pass(
    path: &Path,
    boundaries: &[u64],
    progress: &mut Progress,
) -> std::io::Result<Pass> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    let ranges_total = boundaries.len().saturating_sub(1);
    let mut ranges = Vec::with_capacity(ranges_total);
    let mut whole = Context::new(&SHA256);
    let mut tail = Context::new(&SHA256);
    let mut cur = Context::new(&SHA256);
    let mut tail_scan = TailScan::default();
    let mut pos = 0u64;
    // Close every range that ends where we are (also empty ones).
    let settle = |ranges: &mut Vec<Option<[u8; 32]>>, cur: &mut Context, pos: u64| {
        while ranges.len() < ranges_total && boundaries.get(ranges.len() + 1) == Some(&pos) {
            let done = std::mem::replace(cur, Context::new(&SHA256));
            ranges.push(Some(finish(done)));
        }
    };
    settle(&mut ranges, &mut cur, pos);
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut data = &buf[..n];
        whole.update(data);
        progress.add(n as u64);
        while !data.is_empty() {
            match boundaries.get(ranges.len() + 1) {
                Some(&end) if ranges.len() < ranges_total => {
                    let take = usize::try_from(end.saturating_sub(pos))
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    cur.update(&data[..take]);
                    pos += take as u64;
                    data = &data[take..];
                    settle(&mut ranges, &mut cur, pos);
                }
                Some(_) | None => {
                    tail.update(data);
                    tail_scan.feed(data);
                    pos += data.len() as u64;
                    data = &[];
                }
            }
        }
    }
    ranges.resize(ranges_total, None);
    Ok(Pass {
        ranges,
        whole: finish(whole),
        tail: finish(tail),
        len: pos,
        tail_scan,
    })
}

/// The fast path of a segment closed by a final record (docs/EVIDENCE-FORMAT.md §7
/// step 3): when the checkpoints cover `[0, total_len)` contiguously, the file is
/// `total_len` bytes long and its SHA-256 equals the final record's `segment_sha256`,
/// the media is exactly the stream the device hashed in-line, range by range, as it
/// wrote it, so every range holds what its checkpoint signed: the file is hashed once,
/// not twice. `None` (nothing decided) otherwise: then [`hash_pass`] hashes every range
/// to say which bytes differ.
pub(super) fn whole_matches(
    path: &Path,
    total_len: u64,
    segment_sha256: &[u8; 32],
    range_hashes: &[[u8; 32]],
    progress: &mut Progress,
) -> std::io::Result<Option<Pass>> {
    if std::fs::metadata(path)?.len() != total_len {
        return Ok(None);
    }
    let Some(whole) = hash_range(path, 0, total_len)? else {
        return Ok(None);
    };
    progress.add(total_len);
    if whole != *segment_sha256 {
        return Ok(None);
    }
    Ok(Some(Pass {
        ranges: range_hashes.iter().copied().map(Some).collect(),
        whole,
        tail: finish(Context::new(&SHA256)),
        len: total_len,
        tail_scan: TailScan::default(),
    }))
}

/// SHA-256 of `[start, end)` of `path`; `None` when the file is shorter.
pub(super) fn hash_range(path: &Path, start: u64, end: u64) -> std::io::Result<Option<[u8; 32]>> {
    if end < start {
        return Ok(None);
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut left = end - start;
    let mut buf = vec![0u8; CHUNK];
    let mut ctx = Context::new(&SHA256);
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        ctx.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Some(finish(ctx)))
}

/// Video timestamps in an unsigned or recovered tail, scanned packet by packet.
#[derive(Debug, Default)]
pub(super) struct TailScan {
    carry: Vec<u8>,
    stopped: bool,
    first_video_pts: Option<u64>,
    last_video_pts: Option<u64>,
    pub(super) video_frames: u64,
}

impl TailScan {
    fn feed(&mut self, mut data: &[u8]) {
        if self.stopped {
            return;
        }
        if !self.carry.is_empty() {
            let need = (ts::TS_PACKET - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..need]);
            data = &data[need..];
            if self.carry.len() < ts::TS_PACKET {
                return;
            }
            let packet = std::mem::take(&mut self.carry);
            self.scan(&packet);
        }
        let whole = data.len() - data.len() % ts::TS_PACKET;
        self.scan(&data[..whole]);
        if !self.stopped {
            self.carry.extend_from_slice(&data[whole..]);
        }
    }

    fn scan(&mut self, packets: &[u8]) {
        if self.stopped || packets.is_empty() {
            return;
        }
        let s = ts::scan(packets);
        if self.first_video_pts.is_none() {
            self.first_video_pts = s.first_video_pts;
        }
        if s.last_video_pts.is_some() {
            self.last_video_pts = s.last_video_pts;
        }
        self.video_frames += s.video_frames;
        if s.whole_packets_bytes < packets.len() as u64 {
            self.stopped = true;
        }
    }

    /// Seconds of video in the tail: from the last frame signed in-line (`signed_last`,
    /// a 90 kHz PTS) to the last frame of the tail; when nothing before the tail was
    /// signed, the tail's own span plus one frame period estimated from it.
    pub(super) fn seconds_after(&self, signed_last: Option<u64>) -> f64 {
        let ticks = match (signed_last, self.first_video_pts, self.last_video_pts) {
            (Some(prev), _, Some(last)) => (last.wrapping_sub(prev) & PTS_MASK) as f64,
            (None, Some(first), Some(last)) if self.video_frames > 1 => {
                let span = (last.wrapping_sub(first) & PTS_MASK) as f64;
                span * self.video_frames as f64 / (self.video_frames - 1) as f64
            }
            (None, _, _) | (Some(_), _, None) => 0.0,
        };
        ticks / 90_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::record;

    #[test]
    fn one_pass_hashes_every_range_the_tail_and_the_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.ts");
        let data: Vec<u8> = (0..(CHUNK * 2 + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        std::fs::write(&p, &data).unwrap();
        let bounds = [0u64, 0, 100, CHUNK as u64 + 3, CHUNK as u64 * 2 + 10];
        let mut progress = Progress::new(false, 1, data.len() as u64);
        let pass = hash_pass(&p, &bounds, &mut progress).unwrap();
        assert_eq!(pass.len, data.len() as u64);
        for (i, w) in bounds.windows(2).enumerate() {
            let want = record::sha256(&data[w[0] as usize..w[1] as usize]);
            assert_eq!(pass.ranges[i], Some(want), "range {i}");
            assert_eq!(hash_range(&p, w[0], w[1]).unwrap(), Some(want));
        }
        assert_eq!(pass.whole, record::sha256(&data));
        assert_eq!(pass.tail, record::sha256(&data[CHUNK * 2 + 10..]));
        // A range past the end is reported as not covered, not as a hash.
        let beyond = [0u64, data.len() as u64 + 1];
        let pass = hash_pass(&p, &beyond, &mut progress).unwrap();
        assert_eq!(pass.ranges, vec![None]);
        assert_eq!(hash_range(&p, 10, data.len() as u64 + 1).unwrap(), None);
    }
}
