//! A byte FIFO in fixed-size chunks: the pre-event buffer's payload store.
//!
//! Why not one `Vec<u8>` per frame: at 1080p the buffer holds ~30 s of frames, about
//! 900 allocations of 2–200 kB each, freed in arrival order while newer ones are made.
//! The allocator cannot give that memory back or reuse it exactly, and the resident set
//! grew 1.4× the buffered bytes (docs/PERFORMANCE.md, "Overlay and recorder"). Here the
//! bytes go into [`CHUNK`]-sized blocks, all the same size: a block emptied at the front
//! is kept as a spare and reused at the back, so a full buffer in steady state makes no
//! allocation at all and its footprint is the buffered bytes plus at most two blocks.
//!
//! Frames may span block boundaries; the ring knows only bytes. Its owner keeps each
//! frame's length ([`super::PreEventBuffer`]).

use std::collections::VecDeque;

/// Bytes per block. Large against a frame (a 1080p P-frame is ~25 kB, a keyframe
/// ~150 kB) so few frames straddle two blocks; small against the buffer (~23 MB at
/// 1080p) so the partly used blocks at either end cost little.
pub const CHUNK: usize = 256 * 1024;

/// A FIFO of bytes stored in [`CHUNK`]-sized blocks.
///
/// Invariants: every block in `blocks` has capacity `CHUNK`; only the front block has
/// consumed bytes (`head` of them), only the back block may be partly filled; `len` is
/// the bytes between the front's `head` and the back's end; an empty ring has no block.
#[derive(Debug, Default)]
pub struct ChunkRing {
    /// Blocks in order, oldest first.
    blocks: VecDeque<Vec<u8>>,
    /// Bytes already consumed from the front block.
    head: usize,
    /// Bytes held.
    len: usize,
    /// One emptied block kept for reuse (cleared, capacity `CHUNK`).
    spare: Option<Vec<u8>>,
}

impl ChunkRing {
    /// An empty ring (allocates nothing until the first push).
    pub fn new() -> Self {
        ChunkRing::default()
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory the ring holds (its blocks and its spare), what it costs in RAM.
    pub fn allocated(&self) -> usize {
        (self.blocks.len() + usize::from(self.spare.is_some())) * CHUNK
    }

    /// Append `bytes` at the back.
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        while !bytes.is_empty() {
            let room = self.blocks.back().map_or(0, |b| CHUNK - b.len());
            if room == 0 {
                let block = self
                    .spare
                    .take()
                    .unwrap_or_else(|| Vec::with_capacity(CHUNK));
                self.blocks.push_back(block);
                continue;
            }
            let n = room.min(bytes.len());
            if let Some(back) = self.blocks.back_mut() {
                back.extend_from_slice(&bytes[..n]);
            }
            bytes = &bytes[n..];
        }
    }

    /// Remove the first `n` bytes (all of them when fewer are held).
    pub fn discard(&mut self, n: usize) {
        self.consume(n, |_| {});
    }

    /// Remove the first `n` bytes and append them to `out` (fewer when fewer are held).
    pub fn pop_into(&mut self, n: usize, out: &mut Vec<u8>) {
        out.reserve(n.min(self.len));
        self.consume(n, |s| out.extend_from_slice(s));
    }

    /// Drop every byte; keeps one block as the spare.
    pub fn clear(&mut self) {
        if let Some(b) = self.blocks.pop_front() {
            self.recycle(b);
        }
        self.blocks.clear();
        self.head = 0;
        self.len = 0;
    }

    /// Give back every block, the spare too: memory is released now (the ring is then
    /// as new).
    pub fn release(&mut self) {
        *self = ChunkRing::default();
    }

    /// Hand the first `n` bytes, slice by slice, to `sink`, and remove them. Blocks
    /// emptied on the way are recycled (one as the spare, the rest freed).
    fn consume(&mut self, n: usize, mut sink: impl FnMut(&[u8])) {
        let mut left = n.min(self.len);
        self.len -= left;
        while left > 0 {
            let Some(front) = self.blocks.front() else {
                break;
            };
            let available = front.len() - self.head;
            let take = available.min(left);
            sink(&front[self.head..self.head + take]);
            self.head += take;
            left -= take;
            // A front block is finished when every byte it can ever hold has been read:
            // it is full and read to its end (a partly filled back block stays, as
            // later pushes go on filling it).
            if self.head == front.len() && (front.len() == CHUNK || self.len == 0) {
                if let Some(b) = self.blocks.pop_front() {
                    self.recycle(b);
                }
                self.head = 0;
            }
        }
    }

    fn recycle(&mut self, mut block: Vec<u8>) {
        if self.spare.is_none() {
            block.clear();
            self.spare = Some(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes 0, 1, 2, … (mod 251, a prime, so block boundaries never line up with it).
    fn pattern(from: usize, n: usize) -> Vec<u8> {
        (from..from + n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn bytes_come_out_in_order_across_blocks() {
        let mut r = ChunkRing::new();
        let sizes = [10, CHUNK - 3, 7, 2 * CHUNK + 11, 1, 150_000];
        let mut pushed = 0;
        for s in sizes {
            r.push(&pattern(pushed, s));
            pushed += s;
        }
        assert_eq!(r.len(), pushed);
        let mut popped = 0;
        for s in sizes {
            let mut out = Vec::new();
            r.pop_into(s, &mut out);
            assert_eq!(out, pattern(popped, s), "frame of {s} bytes at {popped}");
            popped += s;
        }
        assert!(r.is_empty());
        // Emptied: the blocks are gone, one kept as the spare.
        assert_eq!(r.allocated(), CHUNK);
    }

    #[test]
    fn discard_then_pop_reads_what_follows() {
        let mut r = ChunkRing::new();
        r.push(&pattern(0, CHUNK + 500));
        r.discard(CHUNK - 1);
        let mut out = Vec::new();
        r.pop_into(10, &mut out);
        assert_eq!(out, pattern(CHUNK - 1, 10));
        assert_eq!(r.len(), 491);
        // Asking for more than is held gives what is held.
        let mut rest = Vec::new();
        r.pop_into(10_000, &mut rest);
        assert_eq!(rest, pattern(CHUNK + 9, 491));
        assert!(r.is_empty());
        r.discard(5);
        assert!(r.is_empty());
    }

    #[test]
    fn a_full_fifo_in_steady_state_stays_within_three_blocks_of_its_bytes() {
        // Frames of varying size pushed at the back, the oldest discarded at the front
        // to hold ~5 blocks: the memory held stays the bytes plus three blocks (the
        // partly read front, the partly filled back, and the spare).
        let mut r = ChunkRing::new();
        let mut sizes = VecDeque::new();
        let mut most = 0;
        for i in 0..20_000usize {
            let s = 2_000 + (i * 7919) % 150_000;
            r.push(&vec![1; s]);
            sizes.push_back(s);
            while r.len() > 5 * CHUNK {
                let s = sizes.pop_front().unwrap();
                r.discard(s);
            }
            most = most.max(r.allocated());
            assert!(
                r.allocated() <= r.len() + 3 * CHUNK,
                "{} held for {} bytes",
                r.allocated(),
                r.len()
            );
        }
        assert!(most <= 8 * CHUNK + CHUNK, "{most}");
    }

    #[test]
    fn partly_filled_back_block_keeps_filling_after_it_is_read() {
        let mut r = ChunkRing::new();
        r.push(&pattern(0, 100));
        let mut out = Vec::new();
        r.pop_into(100, &mut out);
        assert!(r.is_empty());
        r.push(&pattern(100, 50));
        let mut out = Vec::new();
        r.pop_into(50, &mut out);
        assert_eq!(out, pattern(100, 50));
    }

    #[test]
    fn clear_and_release() {
        let mut r = ChunkRing::new();
        r.push(&pattern(0, 3 * CHUNK));
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.allocated(), CHUNK);
        r.push(&pattern(0, 10));
        let mut out = Vec::new();
        r.pop_into(10, &mut out);
        assert_eq!(out, pattern(0, 10));
        r.release();
        assert_eq!(r.allocated(), 0);
    }
}
