//! Audio/video interleaver: merges the two encoded streams into one decode-time order,
//! so a segment cut at a video keyframe puts every audio frame on the right side of it.

use std::collections::VecDeque;

use crate::media::{Frame, StreamKind};

/// Merges frames of two streams by decode time.
///
/// A frame is released once the other stream has a frame at least as late, or when the
/// other stream lags by more than `max_lag_ns` of media time (a dead or disabled
/// microphone must not stall the video).
#[derive(Debug)]
pub struct Interleaver {
    video: VecDeque<Frame>,
    audio: VecDeque<Frame>,
    with_audio: bool,
    max_lag_ns: u64,
}

impl Interleaver {
    /// `with_audio = false` passes video straight through.
    pub fn new(with_audio: bool, max_lag_ns: u64) -> Self {
        Interleaver {
            video: VecDeque::new(),
            audio: VecDeque::new(),
            with_audio,
            max_lag_ns,
        }
    }

    /// Queue a frame from the pipeline.
    pub fn push(&mut self, frame: Frame) {
        match frame.kind {
            StreamKind::Video => self.video.push_back(frame),
            StreamKind::Audio => {
                if self.with_audio {
                    self.audio.push_back(frame);
                }
            }
        }
    }

    /// The next frame in decode order, if it can be released yet.
    pub fn pop(&mut self) -> Option<Frame> {
        match (self.video.front(), self.audio.front()) {
            (Some(v), Some(a)) => {
                if a.dts_ns < v.dts_ns {
                    self.audio.pop_front()
                } else {
                    self.video.pop_front()
                }
            }
            (Some(v), None) => {
                let newest = self.video.back().map_or(v.dts_ns, |f| f.dts_ns);
                if !self.with_audio || newest.saturating_sub(v.dts_ns) > self.max_lag_ns {
                    self.video.pop_front()
                } else {
                    None
                }
            }
            (None, Some(a)) => {
                let newest = self.audio.back().map_or(a.dts_ns, |f| f.dts_ns);
                if newest.saturating_sub(a.dts_ns) > self.max_lag_ns {
                    self.audio.pop_front()
                } else {
                    None
                }
            }
            (None, None) => None,
        }
    }

    /// Everything still queued, in decode order (used when a recording is finalised).
    pub fn drain(&mut self) -> Vec<Frame> {
        let mut out = Vec::with_capacity(self.video.len() + self.audio.len());
        while let (Some(v), Some(a)) = (self.video.front(), self.audio.front()) {
            if a.dts_ns < v.dts_ns {
                out.extend(self.audio.pop_front());
            } else {
                out.extend(self.video.pop_front());
            }
        }
        out.extend(self.video.drain(..));
        out.extend(self.audio.drain(..));
        out
    }

    /// Drop everything queued (pipeline torn down).
    pub fn clear(&mut self) {
        self.video.clear();
        self.audio.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: StreamKind, ms: u64) -> Frame {
        Frame {
            kind,
            pts_ns: ms * 1_000_000,
            dts_ns: ms * 1_000_000,
            duration_ns: 0,
            keyframe: false,
            data: vec![],
        }
    }

    fn drain_ready(i: &mut Interleaver) -> Vec<(StreamKind, u64)> {
        std::iter::from_fn(|| i.pop())
            .map(|f| (f.kind, f.dts_ns / 1_000_000))
            .collect()
    }

    #[test]
    fn orders_by_decode_time_and_waits_for_the_slower_stream() {
        let mut i = Interleaver::new(true, 1_000_000_000);
        i.push(f(StreamKind::Video, 0));
        i.push(f(StreamKind::Video, 33));
        assert!(drain_ready(&mut i).is_empty(), "must wait for audio");
        i.push(f(StreamKind::Audio, 10));
        i.push(f(StreamKind::Audio, 31));
        i.push(f(StreamKind::Audio, 52));
        assert_eq!(
            drain_ready(&mut i),
            vec![
                (StreamKind::Video, 0),
                (StreamKind::Audio, 10),
                (StreamKind::Audio, 31),
                (StreamKind::Video, 33),
            ]
        );
        // audio 52 waits for the next video frame
        i.push(f(StreamKind::Video, 66));
        assert_eq!(drain_ready(&mut i), vec![(StreamKind::Audio, 52)]);
    }

    #[test]
    fn video_flows_when_audio_is_dead() {
        let mut i = Interleaver::new(true, 500_000_000);
        for ms in (0..=600).step_by(100) {
            i.push(f(StreamKind::Video, ms));
        }
        let out = drain_ready(&mut i);
        assert_eq!(out.first(), Some(&(StreamKind::Video, 0)));
        // frames older than newest - 500 ms are released
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn without_audio_video_passes_straight_through() {
        let mut i = Interleaver::new(false, 500_000_000);
        i.push(f(StreamKind::Video, 0));
        i.push(f(StreamKind::Audio, 1));
        assert_eq!(drain_ready(&mut i), vec![(StreamKind::Video, 0)]);
    }

    #[test]
    fn drain_merges_the_rest() {
        let mut i = Interleaver::new(true, 1_000_000_000);
        i.push(f(StreamKind::Video, 0));
        i.push(f(StreamKind::Video, 40));
        i.push(f(StreamKind::Audio, 20));
        let d: Vec<_> = i
            .drain()
            .into_iter()
            .map(|f| (f.kind, f.dts_ns / 1_000_000))
            .collect();
        assert_eq!(
            d,
            vec![
                (StreamKind::Video, 0),
                (StreamKind::Audio, 20),
                (StreamKind::Video, 40)
            ]
        );
    }
}
