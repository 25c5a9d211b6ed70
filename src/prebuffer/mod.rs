//! Pre-event buffer: the last N seconds of encoded footage kept in RAM while ready,
//! keyframe-aligned and bounded, never written to flash unless a recording starts.
//!
//! Each frame's metadata is kept in a queue and its bytes in a [`ChunkRing`]
//! (`ring.rs`): fixed-size blocks reused in place, so a full buffer costs its bytes and
//! not one heap allocation per frame.

mod ring;

use std::collections::VecDeque;

use crate::media::{Frame, StreamKind};

pub use ring::{CHUNK, ChunkRing};

/// A buffered frame without its bytes; those are the next `len` bytes of the ring.
#[derive(Debug, Clone, Copy)]
struct Meta {
    kind: StreamKind,
    pts_ns: u64,
    dts_ns: u64,
    duration_ns: u64,
    keyframe: bool,
    len: usize,
}

impl Meta {
    fn of(f: &Frame) -> Meta {
        Meta {
            kind: f.kind,
            pts_ns: f.pts_ns,
            dts_ns: f.dts_ns,
            duration_ns: f.duration_ns,
            keyframe: f.keyframe,
            len: f.data.len(),
        }
    }

    fn is_video_keyframe(&self) -> bool {
        self.kind == StreamKind::Video && self.keyframe
    }

    /// See [`Frame::sound_dropped`].
    fn sound_dropped(&self) -> bool {
        self.kind == StreamKind::Audio && self.len == 0
    }
}

/// The pre-event ring.
///
/// Invariant: when not empty, the first frame is a video keyframe, and the buffer holds
/// the shortest keyframe-aligned suffix of the stream that covers at least `window_ns`
/// before the newest video frame (so with a 0 s window it still holds the current
/// group of pictures: a recording always starts on a keyframe at most one GOP before
/// the start gesture). `ring` holds exactly the bytes of `frames`, in their order.
#[derive(Debug)]
pub struct PreEventBuffer {
    window_ns: u64,
    keep_audio: bool,
    /// Without `keep_audio`: keep each audio frame's timestamps, not its sound.
    audio_timestamps: bool,
    max_bytes: usize,
    frames: VecDeque<Meta>,
    ring: ChunkRing,
}

impl PreEventBuffer {
    /// A buffer keeping `window_ns` of video (and audio when `keep_audio`), never more
    /// than `max_bytes` (whole GOPs are dropped from the front beyond that).
    pub fn new(window_ns: u64, keep_audio: bool, max_bytes: usize) -> Self {
        PreEventBuffer {
            window_ns,
            keep_audio,
            audio_timestamps: false,
            max_bytes,
            frames: VecDeque::new(),
            ring: ChunkRing::new(),
        }
    }

    /// When audio is not kept, keep each audio frame's timestamps and duration with an
    /// empty payload ([`Frame::sound_dropped`]), in decode order where the frame was,
    /// so that a recording can put encoded silence on the encoder's own timeline. The
    /// sound itself is dropped on arrival, as without this.
    pub fn with_audio_timestamps(mut self, on: bool) -> Self {
        self.audio_timestamps = on;
        self
    }

    /// Add a frame in decode order (its bytes are copied into the ring).
    pub fn push(&mut self, frame: Frame) {
        let mut meta = Meta::of(&frame);
        match frame.kind {
            StreamKind::Audio => {
                if self.frames.is_empty() {
                    return;
                }
                if !self.keep_audio {
                    if !self.audio_timestamps {
                        return;
                    }
                    meta.len = 0;
                }
            }
            StreamKind::Video => {
                if self.frames.is_empty() && !frame.keyframe {
                    return;
                }
            }
        }
        self.ring.push(&frame.data[..meta.len]);
        self.frames.push_back(meta);
        if frame.kind == StreamKind::Video {
            self.trim(frame.pts_ns);
        }
    }

    fn trim(&mut self, newest_video_pts: u64) {
        loop {
            // The next keyframe after the front one is the only possible new start.
            let Some(next_key) = self
                .frames
                .iter()
                .skip(1)
                .position(Meta::is_video_keyframe)
                .map(|i| i + 1)
            else {
                return;
            };
            let key_pts = self.frames[next_key].pts_ns;
            let window_ok = newest_video_pts.saturating_sub(key_pts) >= self.window_ns;
            if !window_ok && self.ring.len() <= self.max_bytes {
                return;
            }
            for m in self.frames.drain(..next_key) {
                self.ring.discard(m.len);
            }
        }
    }

    /// Hand over everything buffered (in decode order) and start empty.
    pub fn take(&mut self) -> PreEvent {
        PreEvent {
            frames: std::mem::take(&mut self.frames),
            ring: std::mem::take(&mut self.ring),
        }
    }

    /// Drop everything (e.g. after a pipeline restart, whose frames are not contiguous).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.ring.clear();
    }

    /// Seconds of video currently held (first keyframe to newest video frame).
    pub fn seconds(&self) -> f64 {
        let first = self.frames.front().map(|f| f.pts_ns);
        let last = self
            .frames
            .iter()
            .rev()
            .find(|f| f.kind == StreamKind::Video)
            .map(|f| f.pts_ns + f.duration_ns);
        match (first, last) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9,
            (Some(_), None) | (None, Some(_)) | (None, None) => 0.0,
        }
    }

    /// Bytes of footage held.
    pub fn bytes(&self) -> usize {
        self.ring.len()
    }

    /// Bytes of RAM the buffer's blocks take (at most two blocks more than
    /// [`Self::bytes`] once full).
    pub fn allocated(&self) -> usize {
        self.ring.allocated()
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// What a recording takes from the buffer at the start gesture: the buffered frames,
/// handed out one at a time in decode order (each copied out of the ring as it is
/// taken, and the ring's blocks freed as they empty, so taking them costs one frame of
/// memory, not a second copy of the buffer).
#[derive(Debug)]
pub struct PreEvent {
    frames: VecDeque<Meta>,
    ring: ChunkRing,
}

impl PreEvent {
    /// PTS of the first frame (a video keyframe), if any.
    pub fn first_pts_ns(&self) -> Option<u64> {
        self.frames.front().map(|m| m.pts_ns)
    }

    /// Whether any audio frame still carries its sound.
    pub fn has_sound(&self) -> bool {
        self.frames
            .iter()
            .any(|m| m.kind == StreamKind::Audio && !m.sound_dropped())
    }

    /// (PTS, duration) of each audio frame kept without its sound, in decode order.
    pub fn dropped_audio(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.frames
            .iter()
            .filter(|m| m.sound_dropped())
            .map(|m| (m.pts_ns, m.duration_ns))
    }

    /// Frames left.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frame left.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl Iterator for PreEvent {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        let m = self.frames.pop_front()?;
        let mut data = Vec::with_capacity(m.len);
        self.ring.pop_into(m.len, &mut data);
        if self.frames.is_empty() {
            self.ring.release();
        }
        Some(Frame {
            kind: m.kind,
            pts_ns: m.pts_ns,
            dts_ns: m.dts_ns,
            duration_ns: m.duration_ns,
            keyframe: m.keyframe,
            data,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.frames.len(), Some(self.frames.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME_NS: u64 = 100_000_000; // 10 fps
    const GOP: u64 = 10; // one keyframe a second

    fn video(i: u64) -> Frame {
        Frame {
            kind: StreamKind::Video,
            pts_ns: i * FRAME_NS,
            dts_ns: i * FRAME_NS,
            duration_ns: FRAME_NS,
            keyframe: i.is_multiple_of(GOP),
            data: vec![0; 1000],
        }
    }

    fn audio(i: u64) -> Frame {
        Frame {
            kind: StreamKind::Audio,
            pts_ns: i * FRAME_NS + 1,
            dts_ns: i * FRAME_NS + 1,
            duration_ns: FRAME_NS,
            keyframe: false,
            data: vec![0; 100],
        }
    }

    fn feed(b: &mut PreEventBuffer, frames: u64, with_audio: bool) {
        for i in 0..frames {
            b.push(video(i));
            if with_audio {
                b.push(audio(i));
            }
        }
    }

    #[test]
    fn keeps_window_keyframe_aligned() {
        let mut b = PreEventBuffer::new(3_000_000_000, false, usize::MAX);
        feed(&mut b, 100, false); // 10 s
        let frames: Vec<Frame> = b.take().collect();
        assert!(frames[0].keyframe);
        // newest = frame 99 (9.9 s); latest keyframe at or before 6.9 s is 6.0 s
        assert_eq!(frames[0].pts_ns, 6 * 1_000_000_000);
        assert_eq!(frames.len(), 40);
        assert!(b.is_empty());
    }

    #[test]
    fn zero_window_keeps_current_gop() {
        let mut b = PreEventBuffer::new(0, false, usize::MAX);
        feed(&mut b, 25, false);
        let frames: Vec<Frame> = b.take().collect();
        assert_eq!(frames[0].pts_ns, 20 * FRAME_NS);
        assert_eq!(frames.len(), 5);
    }

    #[test]
    fn audio_only_when_configured() {
        let mut b = PreEventBuffer::new(1_000_000_000, false, usize::MAX);
        feed(&mut b, 30, true);
        assert!(b.take().all(|f| f.kind == StreamKind::Video));
        let mut b = PreEventBuffer::new(1_000_000_000, true, usize::MAX);
        feed(&mut b, 30, true);
        let frames: Vec<Frame> = b.take().collect();
        assert!(frames.iter().any(|f| f.kind == StreamKind::Audio));
        assert!(frames[0].is_video_keyframe());
    }

    #[test]
    fn audio_timestamps_without_sound() {
        let mut b =
            PreEventBuffer::new(1_000_000_000, false, usize::MAX).with_audio_timestamps(true);
        feed(&mut b, 30, true);
        let bytes = b.bytes();
        let frames: Vec<Frame> = b.take().collect();
        let audio: Vec<_> = frames
            .iter()
            .filter(|f| f.kind == StreamKind::Audio)
            .collect();
        assert!(!audio.is_empty());
        assert!(
            audio
                .iter()
                .all(|f| f.sound_dropped() && f.duration_ns == FRAME_NS)
        );
        // Decode order kept: each audio frame right after its video frame.
        assert!(frames.windows(2).all(|w| w[0].dts_ns <= w[1].dts_ns));
        assert_eq!(
            bytes,
            1000 * frames
                .iter()
                .filter(|f| f.kind == StreamKind::Video)
                .count()
        );
    }

    #[test]
    fn starts_only_on_a_keyframe() {
        let mut b = PreEventBuffer::new(1_000_000_000, true, usize::MAX);
        for i in 5..9 {
            b.push(video(i));
            b.push(audio(i));
        }
        assert!(b.is_empty());
        b.push(video(10));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn bounded_by_bytes() {
        // 30 s window but only room for ~2.5 GOPs of 10 kB
        let mut b = PreEventBuffer::new(30_000_000_000, false, 25_000);
        feed(&mut b, 100, false);
        assert!(b.bytes() <= 25_000 + 10 * 1000);
        assert!(b.take().next().unwrap().keyframe);
    }

    #[test]
    fn seconds_reports_span() {
        let mut b = PreEventBuffer::new(2_000_000_000, false, usize::MAX);
        feed(&mut b, 50, false);
        // from keyframe 2.0 s (newest 4.9 s, window start 2.9 s → keyframe 2.0 s) to 5.0 s
        assert!((b.seconds() - 3.0).abs() < 1e-9, "{}", b.seconds());
    }

    #[test]
    fn each_frame_comes_back_with_its_own_bytes() {
        // Frames of different sizes and contents, many straddling block boundaries.
        let mut b = PreEventBuffer::new(u64::MAX, true, usize::MAX);
        let bytes_of = |i: u64, kind: u8| -> Vec<u8> {
            let n = if i.is_multiple_of(GOP) {
                150_000
            } else {
                20_000 + (i as usize * 37) % 9_000
            };
            (0..n)
                .map(|j| (j as u64 * 31 + i * 7 + u64::from(kind)) as u8)
                .collect()
        };
        for i in 0..60 {
            b.push(Frame {
                data: bytes_of(i, 0),
                ..video(i)
            });
            b.push(Frame {
                data: bytes_of(i, 1),
                ..audio(i)
            });
        }
        let total: usize = (0..60)
            .map(|i| bytes_of(i, 0).len() + bytes_of(i, 1).len())
            .sum();
        assert_eq!(b.bytes(), total);
        let pre = b.take();
        assert_eq!(pre.len(), 120);
        assert!(b.is_empty() && b.bytes() == 0);
        for (n, f) in pre.enumerate() {
            let i = n as u64 / 2;
            let kind = match f.kind {
                StreamKind::Video => 0,
                StreamKind::Audio => 1,
            };
            assert_eq!(kind, n % 2, "decode order kept");
            assert_eq!(f.data, bytes_of(i, kind as u8), "frame {n}");
        }
    }

    #[test]
    fn a_full_buffer_holds_its_bytes_plus_at_most_three_blocks() {
        // ~1080p at 6 Mbit/s: 150 kB keyframes, 20 kB P-frames, 30 fps; a 3 s window
        // refilled for a minute of frames.
        let mut b = PreEventBuffer::new(3_000_000_000, false, usize::MAX);
        for i in 0..600 {
            let len = if i % GOP == 0 {
                150_000
            } else {
                20_000 + (i as usize * 131) % 6_000
            };
            b.push(Frame {
                data: vec![7; len],
                ..video(i)
            });
            assert!(
                b.allocated() <= b.bytes() + 3 * CHUNK,
                "frame {i}: {} allocated for {} bytes",
                b.allocated(),
                b.bytes()
            );
        }
        assert!(b.bytes() > 3 * CHUNK);
        b.clear();
        assert_eq!(b.bytes(), 0);
        assert!(b.allocated() <= CHUNK);
    }

    #[test]
    fn taken_frames_report_first_pts_sound_and_dropped_audio() {
        let mut b =
            PreEventBuffer::new(1_000_000_000, false, usize::MAX).with_audio_timestamps(true);
        feed(&mut b, 25, true);
        let pre = b.take();
        assert_eq!(pre.first_pts_ns(), Some(10 * FRAME_NS));
        assert!(!pre.has_sound());
        let dropped: Vec<_> = pre.dropped_audio().collect();
        assert_eq!(dropped.len(), 15);
        assert_eq!(dropped[0], (10 * FRAME_NS + 1, FRAME_NS));
        let mut b = PreEventBuffer::new(1_000_000_000, true, usize::MAX);
        feed(&mut b, 25, true);
        let pre = b.take();
        assert!(pre.has_sound());
        assert_eq!(pre.dropped_audio().count(), 0);
    }
}
