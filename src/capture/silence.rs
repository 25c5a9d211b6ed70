//! Encoded silence: the AAC frame the capture's own encoder produces for digital
//! silence, obtained once at start-up by encoding silence through the same encoder
//! description the live audio uses (so its ADTS header — profile, rate, channels — and
//! its bitstream are the encoder's, never hand-written bytes), and the one place that
//! puts it in place of audio whose sound must not be kept.
//!
//! Used where the audio *timeline* must go on but the *sound* must not be recorded: the
//! pre-event span when `recording.pre_event_audio = false` (each captured frame keeps
//! its timestamps, its bytes are replaced), and, as a reusable piece, a muted
//! microphone. Whoever uses it must declare the span (sidecar `audio_silence`, see
//! docs/EVIDENCE-FORMAT.md): silence is never inserted silently.
//!
//! Self-contained: needs only GStreamer and [`crate::media::Frame`].

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::media::Frame;

/// Frames encoded to find the steady silent frame (the first ones carry the encoder's
/// priming and its identification fill).
const PROBE_FRAMES: u32 = 24;
/// How long encoding silence may take before giving up.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no silent frame could be made.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    /// The encoder pipeline could not run.
    #[error("cannot encode silence: {0}")]
    Pipeline(String),
    /// The encoder's output never settled on one repeated frame.
    #[error("the AAC encoder produced no steady silent frame ({0} frames)")]
    Unsteady(usize),
}

/// One ADTS AAC frame that decodes to 1024 samples of digital silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentFrame {
    adts: Vec<u8>,
}

/// What silent frames put in place of dropped sound cover: how many, and the span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilenceSpan {
    /// Silent frames written.
    pub frames: u64,
    /// PTS of the first (monotonic ns).
    pub first_pts_ns: u64,
    /// End of the last (its PTS plus its duration, monotonic ns): where captured sound
    /// resumes.
    pub end_ns: u64,
}

impl SilentFrame {
    /// Encode silence through `encoder_tail`: a description that starts at raw audio
    /// (e.g. `audioconvert ! … ! avenc_aac … ! aacparse ! …`) and ends in
    /// `appsink name=SINK`, the same text the live branch uses after its source; take
    /// the first frame that the encoder then repeats unchanged.
    pub fn from_encoder(encoder_tail: &str, sink: &str) -> Result<SilentFrame, SilenceError> {
        let err = |e: &dyn std::fmt::Display| SilenceError::Pipeline(e.to_string());
        let description = format!(
            "audiotestsrc wave=silence num-buffers={PROBE_FRAMES} samplesperbuffer=1024 ! {encoder_tail}"
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| err(&e))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| err(&"not a pipeline"))?;
        let appsink = pipeline
            .by_name(sink)
            .and_then(|e| e.dynamic_cast::<gst_app::AppSink>().ok())
            .ok_or_else(|| err(&format!("no appsink named {sink}")))?;
        // The live branch's appsink settings (sync=false, bounded) are fine here too.
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| err(&e))?;
        let frames = collect(&appsink, &pipeline);
        let _ = pipeline.set_state(gst::State::Null);
        let frames = frames?;
        SilentFrame::steady(&frames).ok_or(SilenceError::Unsteady(frames.len()))
    }

    /// The first frame after the first one that the next frame repeats byte for byte.
    fn steady(frames: &[Vec<u8>]) -> Option<SilentFrame> {
        frames
            .windows(2)
            .skip(1)
            .find(|w| w[0] == w[1] && is_adts(&w[0]))
            .map(|w| SilentFrame { adts: w[0].clone() })
    }

    /// A silent frame from known bytes (tests, and a verifier checking a declaration).
    pub fn from_bytes(adts: Vec<u8>) -> Option<SilentFrame> {
        is_adts(&adts).then_some(SilentFrame { adts })
    }

    /// The ADTS bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.adts
    }

    /// How long the frame plays: 1024 samples per raw data block at the header's
    /// sampling rate (the appsink's buffers may carry no duration).
    pub fn duration_ns(&self) -> u64 {
        const RATES: [u64; 13] = [
            96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025,
            8_000, 7_350,
        ];
        let index = usize::from((self.adts[2] >> 2) & 0x0F);
        let blocks = u64::from(self.adts[6] & 0x03) + 1;
        RATES
            .get(index)
            .map_or(0, |rate| blocks * 1024 * 1_000_000_000 / rate)
    }

    /// Whether `live` (an ADTS frame of the captured stream) has the same profile,
    /// sampling rate and channel configuration, i.e. whether this frame may stand in
    /// for it.
    pub fn fits(&self, live: &[u8]) -> bool {
        is_adts(live) && adts_fixed_header(&self.adts) == adts_fixed_header(live)
    }
}

/// The ADTS fixed header (ISO/IEC 14496-3 1.A.3.2.1: syncword, id, layer, protection,
/// profile, sampling frequency index, private bit, channel configuration): the first
/// 26 bits, as the bytes 0–2 and the top two bits of byte 3.
fn adts_fixed_header(f: &[u8]) -> Option<[u8; 4]> {
    let b: [u8; 4] = f.get(..4)?.try_into().ok()?;
    Some([b[0], b[1], b[2], b[3] & 0xC0])
}

/// A whole ADTS frame: the sync word, and a frame length equal to the bytes given.
fn is_adts(f: &[u8]) -> bool {
    if f.len() < 7 || f[0] != 0xFF || f[1] & 0xF0 != 0xF0 {
        return false;
    }
    let len = (usize::from(f[3] & 0x03) << 11) | (usize::from(f[4]) << 3) | usize::from(f[5] >> 5);
    len == f.len()
}

fn collect(
    appsink: &gst_app::AppSink,
    pipeline: &gst::Pipeline,
) -> Result<Vec<Vec<u8>>, SilenceError> {
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let bus = pipeline.bus();
    let mut frames = Vec::new();
    while Instant::now() < deadline {
        if let Some(msg) = bus
            .as_ref()
            .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
            && let gst::MessageView::Error(e) = msg.view()
        {
            return Err(SilenceError::Pipeline(e.error().to_string()));
        }
        match appsink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
            Some(sample) => {
                if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                    frames.push(map.as_slice().to_vec());
                }
            }
            None if appsink.is_eos() => return Ok(frames),
            None => {}
        }
    }
    Err(SilenceError::Pipeline("timed out".into()))
}

impl SilenceSpan {
    /// The span silent frames cover when they stand in for the audio frames kept
    /// without their sound, given each one's (PTS, duration) in ns (a duration of 0
    /// counts as `silent`'s own, as [`fill`] sets it). `None` when there are none.
    pub fn over(
        dropped: impl IntoIterator<Item = (u64, u64)>,
        silent: &SilentFrame,
    ) -> Option<SilenceSpan> {
        let mut span: Option<SilenceSpan> = None;
        for (pts_ns, duration_ns) in dropped {
            let duration_ns = if duration_ns == 0 {
                silent.duration_ns()
            } else {
                duration_ns
            };
            let end = pts_ns.saturating_add(duration_ns);
            let s = span.get_or_insert(SilenceSpan {
                frames: 0,
                first_pts_ns: pts_ns,
                end_ns: end,
            });
            s.frames += 1;
            s.first_pts_ns = s.first_pts_ns.min(pts_ns);
            s.end_ns = s.end_ns.max(end);
        }
        span
    }
}

/// Put `silent` into `frame` when its sound was not kept ([`Frame::sound_dropped`]):
/// same timestamps, the silent frame's bytes (and its duration when the frame had
/// none). Returns whether it did; any other frame is left as it is.
pub fn fill(frame: &mut Frame, silent: &SilentFrame) -> bool {
    if !frame.sound_dropped() {
        return false;
    }
    frame.data = silent.adts.clone();
    if frame.duration_ns == 0 {
        frame.duration_ns = silent.duration_ns();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::StreamKind;

    fn adts(len: usize, fill: u8) -> Vec<u8> {
        let mut f = vec![fill; len];
        f[..7].copy_from_slice(&[0xFF, 0xF1, 0x4C, 0x40, 0, 0x1F, 0xFC]);
        f[3] |= ((len >> 11) & 0x03) as u8;
        f[4] = ((len >> 3) & 0xFF) as u8;
        f[5] = (((len & 0x07) << 5) as u8) | 0x1F;
        f
    }

    #[test]
    fn steady_skips_the_priming_frame() {
        let prime = adts(28, 1);
        let quiet = adts(11, 0);
        let frames = vec![prime.clone(), prime.clone(), quiet.clone(), quiet.clone()];
        // The first frame is never taken, even when the second repeats it.
        assert_eq!(SilentFrame::steady(&frames[..2]), None);
        assert_eq!(SilentFrame::steady(&frames).unwrap().bytes(), quiet);
        assert_eq!(SilentFrame::steady(&[quiet.clone(), adts(12, 0)]), None);
    }

    #[test]
    fn adts_length_and_header_checks() {
        let f = adts(11, 0);
        assert!(is_adts(&f));
        assert!(!is_adts(&f[..10]));
        let s = SilentFrame::from_bytes(f.clone()).unwrap();
        assert!(s.fits(&adts(300, 7)));
        // 48 kHz (index 3 in the test header), one raw data block.
        assert_eq!(s.duration_ns(), 21_333_333);
        let mut stereo = adts(300, 7);
        stereo[2] |= 0x01; // channel configuration's high bit
        assert!(!s.fits(&stereo));
        assert!(SilentFrame::from_bytes(vec![0; 11]).is_none());
    }

    #[test]
    fn fill_keeps_timestamps_and_spans_the_dropped_frames() {
        let silent = SilentFrame::from_bytes(adts(11, 0)).unwrap();
        let frame = |kind, pts_ns, data: Vec<u8>| Frame {
            kind,
            pts_ns,
            dts_ns: pts_ns,
            duration_ns: 21_333_333,
            keyframe: false,
            data,
        };
        let mut frames = [
            frame(StreamKind::Video, 0, vec![1; 100]),
            frame(StreamKind::Audio, 5, vec![]),
            frame(StreamKind::Audio, 21_333_338, vec![]),
            frame(StreamKind::Audio, 42_666_671, vec![9; 20]),
        ];
        let dropped: Vec<_> = frames
            .iter()
            .filter(|f| f.sound_dropped())
            .map(|f| (f.pts_ns, f.duration_ns))
            .collect();
        let span = SilenceSpan::over(dropped, &silent).unwrap();
        assert_eq!(span.frames, 2);
        assert_eq!(span.first_pts_ns, 5);
        assert_eq!(span.end_ns, 21_333_338 + 21_333_333);
        let filled: Vec<bool> = frames.iter_mut().map(|f| fill(f, &silent)).collect();
        assert_eq!(filled, [false, true, true, false]);
        assert_eq!(frames[1].data, silent.bytes());
        assert_eq!(frames[2].pts_ns, 21_333_338);
        assert_eq!(frames[3].data, vec![9; 20]);
        assert_eq!(frames[0].data, vec![1; 100]);
        // Filled frames are no longer dropped sound; nothing is left to span.
        assert!(!frames.iter_mut().any(|f| fill(f, &silent)));
        assert_eq!(SilenceSpan::over([], &silent), None);
        // A frame without a duration takes the silent frame's.
        let span = SilenceSpan::over([(100, 0)], &silent).unwrap();
        assert_eq!(span.end_ns, 100 + silent.duration_ns());
        let mut f = frame(StreamKind::Audio, 100, vec![]);
        f.duration_ns = 0;
        assert!(fill(&mut f, &silent));
        assert_eq!(f.duration_ns, silent.duration_ns());
    }
}
