//! Audio mute: while muted no microphone audio is stored, yet the audio stream stays
//! present and well formed, so that players (and `ffmpeg -c copy`) keep both tracks.
//!
//! At start the daemon encodes one frame of digital silence with the capture
//! pipeline's own AAC encoder chain ([`silent_aac_frame`]); while muted, every AAC
//! frame whose timestamp falls in a mute span is replaced by that frame, keeping its
//! timestamp, so the stream has the same frames at the same times, all silent.
//! [`MuteSpans`] holds the spans by monotonic time: a frame still in flight when the
//! mute changes is judged by when it was captured, not by when it arrives.

use std::collections::VecDeque;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::capture::{CaptureError, audio_encoder_chain};
use crate::config::Config;

/// Frames of silence encoded before one is kept (the encoder's start-up frames differ).
const SILENCE_FRAMES: u32 = 16;
/// Which of them is kept.
const SILENCE_PICK: usize = 8;
/// Ended spans remembered for frames still in flight.
const SPANS_KEPT: usize = 8;

/// One ADTS AAC frame of silence from the configured encoder (1024 samples, 48 kHz,
/// mono, the configured bitrate).
pub fn silent_aac_frame(cfg: &Config, aac: &str) -> Result<Vec<u8>, CaptureError> {
    let description = format!(
        "audiotestsrc wave=silence num-buffers={SILENCE_FRAMES} samplesperbuffer=1024 \
         ! {} ! appsink name=silence sync=false",
        audio_encoder_chain(cfg, aac)
    );
    let start = |e: String| CaptureError::Start(format!("encoding silence: {e}"));
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| start(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| start("not a pipeline".into()))?;
    let sink = pipeline
        .by_name("silence")
        .and_then(|e| e.dynamic_cast::<gst_app::AppSink>().ok())
        .ok_or_else(|| start("no appsink".into()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| start(e.to_string()))?;
    let mut frames = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
        if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
            frames.push(map.as_slice().to_vec());
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let n = frames.len();
    frames
        .into_iter()
        .nth(SILENCE_PICK.min(n.saturating_sub(1)))
        .filter(|f| f.len() > 7 && f[0] == 0xFF && f[1] & 0xF0 == 0xF0)
        .ok_or_else(|| start(format!("the encoder gave {n} frames, none ADTS")))
}

/// The mute spans of the open recording, by monotonic time.
#[derive(Debug, Clone, Default)]
pub struct MuteSpans {
    /// Muted since, while muted.
    open: Option<u64>,
    /// Recently ended spans `[start, end)`.
    ended: VecDeque<(u64, u64)>,
}

impl MuteSpans {
    /// Muted from `at` on.
    pub fn start(&mut self, at: u64) {
        if self.open.is_none() {
            self.open = Some(at);
        }
    }

    /// Not muted from `at` on.
    pub fn end(&mut self, at: u64) {
        if let Some(start) = self.open.take() {
            if self.ended.len() >= SPANS_KEPT {
                self.ended.pop_front();
            }
            self.ended.push_back((start, at.max(start)));
        }
    }

    /// Whether a frame captured at `pts_ns` is muted.
    pub fn covers(&self, pts_ns: u64) -> bool {
        self.open.is_some_and(|s| pts_ns >= s)
            || self.ended.iter().any(|&(s, e)| pts_ns >= s && pts_ns < e)
    }

    /// Whether a span is open.
    pub fn muted(&self) -> bool {
        self.open.is_some()
    }

    /// Forget spans that ended longer than `keep` before `now` (frames that old are routed).
    pub fn prune(&mut self, now: u64, keep: Duration) {
        let keep = u64::try_from(keep.as_nanos()).unwrap_or(u64::MAX);
        self.ended.retain(|&(_, e)| now.saturating_sub(e) <= keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_judged_by_their_capture_time() {
        let mut m = MuteSpans::default();
        assert!(!m.covers(5));
        m.start(100);
        assert!(m.muted());
        assert!(!m.covers(99), "captured before the mute");
        assert!(m.covers(100));
        m.end(200);
        assert!(m.covers(199), "captured while muted, routed after");
        assert!(!m.covers(200));
        m.start(300);
        m.end(250);
        assert!(!m.covers(300), "an end before the start is an empty span");
        m.prune(10_000_000_000, Duration::from_secs(1));
        assert!(!m.covers(199));
    }

    #[test]
    fn the_encoder_gives_one_adts_frame_of_silence() {
        crate::capture::init().expect("gstreamer");
        let Ok(aac) = crate::capture::resolve_aac() else {
            panic!("no AAC encoder installed (gstreamer1.0-libav)");
        };
        let cfg = Config::default();
        let f = silent_aac_frame(&cfg, aac).expect("silence");
        // ADTS: sync word, MPEG-4, AAC LC, 48 kHz (index 3), mono.
        assert_eq!((f[0], f[1] & 0xF6), (0xFF, 0xF0));
        assert_eq!((f[2] >> 6) + 1, 2, "AAC LC");
        assert_eq!((f[2] >> 2) & 0x0F, 3, "48 kHz");
        let channels = ((f[2] & 1) << 2) | (f[3] >> 6);
        assert_eq!(channels, 1);
        let len = (usize::from(f[3] & 3) << 11) | (usize::from(f[4]) << 3) | usize::from(f[5] >> 5);
        assert_eq!(len, f.len(), "one whole frame");
    }
}
