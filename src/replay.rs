//! Test only: a camera that replays pre-encoded access units at full speed
//! (`camera.source = "replay"`), for soak runs that need hours of footage in minutes.
//!
//! `camera.device` names a directory holding `video.h264` (an H.264 Annex-B byte stream
//! whose first access unit is a keyframe) and, when audio is on, `audio.aac` (ADTS). Both
//! are read once through GStreamer's own parsers into access units; a feeder thread then
//! pushes them, over and over, into two `appsrc`s with timestamps that run as fast as the
//! pipeline takes them (`is-live=false`): one frame duration per video access unit, 1024
//! samples at the ADTS sample rate per audio frame, in decode order. From the `appsrc`s
//! on the pipeline is the production one (`h264parse` / `aacparse`, the same caps, the
//! same appsinks and callbacks), so everything the daemon does with a frame is what it
//! does with a camera's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::capture::CaptureError;

/// The video file in the replay directory.
pub const VIDEO_FILE: &str = "video.h264";
/// The audio file in the replay directory.
pub const AUDIO_FILE: &str = "audio.aac";
/// Name of the video `appsrc` in the pipeline description.
pub const VIDEO_SRC: &str = "vreplay";
/// Name of the audio `appsrc` in the pipeline description.
pub const AUDIO_SRC: &str = "areplay";
/// How far (in stream time) each `appsrc` may run ahead of its branch. A bound in time,
/// not bytes, keeps audio and video together: small video frames in a byte-bounded queue
/// let the video run seconds ahead of the audio, whose late frames then fall before
/// their segment's start.
const QUEUE_NS: u64 = 200_000_000;

/// One access unit (video) or ADTS frame (audio).
#[derive(Debug, Clone)]
struct Unit {
    data: gst::Buffer,
    keyframe: bool,
}

/// The clip, read once and shared by every pipeline generation.
#[derive(Debug)]
pub struct Clip {
    video: Vec<Unit>,
    audio: Vec<Unit>,
    /// Audio sample rate (from the ADTS headers; 48 kHz when unknown).
    audio_rate: u32,
}

impl Clip {
    /// Read `dir`'s files (audio only if `with_audio`).
    pub fn load(dir: &Path, with_audio: bool) -> Result<Clip, CaptureError> {
        let video = units(
            &dir.join(VIDEO_FILE),
            "h264parse ! video/x-h264,stream-format=byte-stream,alignment=au",
        )?;
        if !video.first().is_some_and(|u| u.keyframe) {
            return Err(CaptureError::Start(format!(
                "{}: the first access unit is not a keyframe",
                dir.join(VIDEO_FILE).display()
            )));
        }
        let (audio, audio_rate) = if with_audio {
            let path = dir.join(AUDIO_FILE);
            let audio = units(
                &path,
                "aacparse ! audio/mpeg,mpegversion=4,stream-format=adts",
            )?;
            let rate = audio
                .first()
                .and_then(|u| adts_rate(&u.data))
                .unwrap_or(48_000);
            (audio, rate)
        } else {
            (Vec::new(), 48_000)
        };
        Ok(Clip {
            video,
            audio,
            audio_rate,
        })
    }
}

/// The sample rate of an ADTS frame's header.
fn adts_rate(buf: &gst::Buffer) -> Option<u32> {
    const RATES: [u32; 13] = [
        96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025,
        8_000, 7_350,
    ];
    let map = buf.map_readable().ok()?;
    let b = map.as_slice();
    if b.len() < 3 || b[0] != 0xFF || b[1] & 0xF0 != 0xF0 {
        return None;
    }
    RATES.get(usize::from((b[2] >> 2) & 0x0F)).copied()
}

/// Every unit `parser` makes of the file at `path`.
fn units(path: &Path, parser: &str) -> Result<Vec<Unit>, CaptureError> {
    let fail = |e: String| CaptureError::Start(format!("replay {}: {e}", path.display()));
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    let location = path
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let description =
        format!("filesrc location=\"{location}\" ! {parser} ! appsink name=out sync=false");
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| fail(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| fail("not a pipeline".into()))?;
    let sink = pipeline
        .by_name("out")
        .and_then(|e| e.dynamic_cast::<gst_app::AppSink>().ok())
        .ok_or_else(|| fail("no appsink".into()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        if let Some(b) = sample.buffer_owned() {
            let keyframe = !b.flags().contains(gst::BufferFlags::DELTA_UNIT);
            out.push(Unit { data: b, keyframe });
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    if out.is_empty() {
        return Err(fail("nothing in it".into()));
    }
    Ok(out)
}

/// The pipeline for the replayed camera, from the `appsrc`s on as in production.
pub fn pipeline_description(width: u32, height: u32, fps: u32, audio: bool) -> String {
    let video = format!(
        "appsrc name={VIDEO_SRC} is-live=false format=time block=true max-bytes=0 max-buffers=0 max-time={QUEUE_NS} \
         caps=\"video/x-h264,stream-format=byte-stream,alignment=au,width={width},height={height},framerate={fps}/1\" \
         ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au \
         ! appsink name=vsink sync=false max-buffers=120 drop=false"
    );
    if !audio {
        return video;
    }
    format!(
        "{video}  appsrc name={AUDIO_SRC} is-live=false format=time block=true max-bytes=0 max-buffers=0 max-time={QUEUE_NS} \
         caps=\"audio/mpeg,mpegversion=4,stream-format=adts\" \
         ! aacparse ! audio/mpeg,mpegversion=4,stream-format=adts \
         ! appsink name=asink sync=false max-buffers=200 drop=false"
    )
}

/// Where the clip is, and the clip once read.
#[derive(Debug)]
pub struct ReplaySource {
    dir: PathBuf,
    fps: u32,
    clip: std::sync::OnceLock<Arc<Clip>>,
}

impl ReplaySource {
    /// A replay of the clip in `dir` at `fps` frames per second.
    pub fn new(dir: PathBuf, fps: u32) -> ReplaySource {
        ReplaySource {
            dir,
            fps: fps.max(1),
            clip: std::sync::OnceLock::new(),
        }
    }

    fn clip(&self, with_audio: bool) -> Result<Arc<Clip>, CaptureError> {
        if let Some(c) = self.clip.get() {
            return Ok(c.clone());
        }
        let c = Arc::new(Clip::load(&self.dir, with_audio)?);
        Ok(self.clip.get_or_init(|| c).clone())
    }

    /// Start feeding `pipeline`'s replay `appsrc`s on a thread of its own; it ends when
    /// `stopping` is set or the pipeline stops taking buffers.
    pub fn start(
        &self,
        pipeline: &gst::Pipeline,
        stopping: Arc<AtomicBool>,
    ) -> Result<std::thread::JoinHandle<()>, CaptureError> {
        let appsrc = |name: &str| {
            pipeline
                .by_name(name)
                .and_then(|e| e.dynamic_cast::<gst_app::AppSrc>().ok())
        };
        let video = appsrc(VIDEO_SRC)
            .ok_or_else(|| CaptureError::Start(format!("no appsrc named {VIDEO_SRC}")))?;
        let audio = appsrc(AUDIO_SRC);
        let clip = self.clip(audio.is_some())?;
        let frame_ns = 1_000_000_000 / u64::from(self.fps);
        std::thread::Builder::new()
            .name("replay".into())
            .spawn(move || feed(&clip, &video, audio.as_ref(), frame_ns, &stopping))
            .map_err(|e| CaptureError::Start(format!("cannot spawn the replay thread: {e}")))
    }
}

/// Push the clip's units in decode order, looping, until stopped.
fn feed(
    clip: &Clip,
    video: &gst_app::AppSrc,
    audio: Option<&gst_app::AppSrc>,
    frame_ns: u64,
    stopping: &AtomicBool,
) {
    let audio_ns = 1024 * 1_000_000_000 / u64::from(clip.audio_rate.max(1));
    let (mut v, mut a) = (0u64, 0u64);
    while !stopping.load(Ordering::SeqCst) {
        let vt = v * frame_ns;
        let at = a * audio_ns;
        let pushed = match audio {
            Some(src) if !clip.audio.is_empty() && at < vt => {
                let u = &clip.audio[(a % clip.audio.len() as u64) as usize];
                a += 1;
                push(src, u, at, audio_ns)
            }
            Some(_) | None => {
                let u = &clip.video[(v % clip.video.len() as u64) as usize];
                v += 1;
                push(video, u, vt, frame_ns)
            }
        };
        if !pushed {
            return;
        }
    }
}

/// Push one unit stamped `t` lasting `duration`; false once the pipeline stops taking.
fn push(src: &gst_app::AppSrc, unit: &Unit, t: u64, duration: u64) -> bool {
    let mut b = unit.data.copy();
    {
        let Some(b) = b.get_mut() else {
            return false;
        };
        b.set_pts(gst::ClockTime::from_nseconds(t));
        b.set_dts(gst::ClockTime::from_nseconds(t));
        b.set_duration(gst::ClockTime::from_nseconds(duration));
        if unit.keyframe {
            b.unset_flags(gst::BufferFlags::DELTA_UNIT);
        } else {
            b.set_flags(gst::BufferFlags::DELTA_UNIT);
        }
    }
    src.push_buffer(b).is_ok()
}
