//! Pre-event buffer: the last N seconds of encoded footage kept in RAM while ready,
//! keyframe-aligned and bounded, never written to flash unless a recording starts.

use std::collections::VecDeque;

use crate::media::{Frame, StreamKind};

/// The pre-event ring.
///
/// Invariant: when not empty, the first frame is a video keyframe, and the buffer holds
/// the shortest keyframe-aligned suffix of the stream that covers at least `window_ns`
/// before the newest video frame (so with a 0 s window it still holds the current
/// group of pictures: a recording always starts on a keyframe at most one GOP before
/// the start gesture).
#[derive(Debug)]
pub struct PreEventBuffer {
    window_ns: u64,
    keep_audio: bool,
    /// Without `keep_audio`: keep each audio frame's timestamps, not its sound.
    audio_timestamps: bool,
    max_bytes: usize,
    frames: VecDeque<Frame>,
    bytes: usize,
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
            bytes: 0,
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

    /// Add a frame in decode order.
    pub fn push(&mut self, mut frame: Frame) {
        match frame.kind {
            StreamKind::Audio => {
                if self.frames.is_empty() {
                    return;
                }
                if !self.keep_audio {
                    if !self.audio_timestamps {
                        return;
                    }
                    frame.data = Vec::new();
                }
            }
            StreamKind::Video => {
                if self.frames.is_empty() && !frame.keyframe {
                    return;
                }
            }
        }
        let newest_video = (frame.kind == StreamKind::Video).then_some(frame.pts_ns);
        self.bytes += frame.data.len();
        self.frames.push_back(frame);
        if let Some(newest) = newest_video {
            self.trim(newest);
        }
    }

    fn trim(&mut self, newest_video_pts: u64) {
        loop {
            // The next keyframe after the front one is the only possible new start.
            let Some(next_key) = self
                .frames
                .iter()
                .skip(1)
                .position(Frame::is_video_keyframe)
                .map(|i| i + 1)
            else {
                return;
            };
            let key_pts = self.frames[next_key].pts_ns;
            let window_ok = newest_video_pts.saturating_sub(key_pts) >= self.window_ns;
            if !window_ok && self.bytes <= self.max_bytes {
                return;
            }
            for f in self.frames.drain(..next_key) {
                self.bytes -= f.data.len();
            }
        }
    }

    /// Hand over everything buffered (in decode order) and start empty.
    pub fn take(&mut self) -> Vec<Frame> {
        self.bytes = 0;
        self.frames.drain(..).collect()
    }

    /// Drop everything (e.g. after a pipeline restart, whose frames are not contiguous).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
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

    /// Bytes held in RAM.
    pub fn bytes(&self) -> usize {
        self.bytes
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
        let frames = b.take();
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
        let frames = b.take();
        assert_eq!(frames[0].pts_ns, 20 * FRAME_NS);
        assert_eq!(frames.len(), 5);
    }

    #[test]
    fn audio_only_when_configured() {
        let mut b = PreEventBuffer::new(1_000_000_000, false, usize::MAX);
        feed(&mut b, 30, true);
        assert!(b.take().iter().all(|f| f.kind == StreamKind::Video));
        let mut b = PreEventBuffer::new(1_000_000_000, true, usize::MAX);
        feed(&mut b, 30, true);
        let frames = b.take();
        assert!(frames.iter().any(|f| f.kind == StreamKind::Audio));
        assert!(frames[0].is_video_keyframe());
    }

    #[test]
    fn audio_timestamps_without_sound() {
        let mut b =
            PreEventBuffer::new(1_000_000_000, false, usize::MAX).with_audio_timestamps(true);
        feed(&mut b, 30, true);
        let bytes = b.bytes();
        let frames = b.take();
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
        assert!(b.take()[0].keyframe);
    }

    #[test]
    fn seconds_reports_span() {
        let mut b = PreEventBuffer::new(2_000_000_000, false, usize::MAX);
        feed(&mut b, 50, false);
        // from keyframe 2.0 s (newest 4.9 s, window start 2.9 s → keyframe 2.0 s) to 5.0 s
        assert!((b.seconds() - 3.0).abs() < 1e-9, "{}", b.seconds());
    }
}
