//! GStreamer capture: builds the camera → H.264 and microphone → AAC pipeline for the
//! configured source and encoder, and hands encoded frames to the daemon through
//! appsinks. The pipeline never touches flash.
//!
//! Beside this file, `capture/`: `overlay.rs` (the burned-in date/time/camera box, drawn
//! by a probe on the raw video of every source), `font.rs` (its hand-drawn 5×7 font),
//! `silence.rs` (the encoder's own silent AAC frame, for audio that must not be kept).

mod font;
pub mod overlay;
pub mod silence;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::config::{AudioSource, CameraSource, Config, EncoderChoice};
use crate::media::{Frame, StreamKind};

/// Capture errors.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// GStreamer could not be initialised.
    #[error("cannot initialise GStreamer: {0}")]
    Init(String),
    /// A GStreamer element the configuration needs is not installed.
    #[error("GStreamer element `{element}` is missing ({why}); install {package}")]
    MissingElement {
        /// Element factory name.
        element: &'static str,
        /// What needs it.
        why: &'static str,
        /// Debian package that provides it.
        package: &'static str,
    },
    /// The pipeline could not be built or started.
    #[error("cannot start the capture pipeline: {0}")]
    Start(String),
}

/// The encoder actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoder {
    /// `x264enc`.
    X264,
    /// `v4l2h264enc`.
    V4l2,
}

impl Encoder {
    /// GStreamer element name.
    pub fn element(&self) -> &'static str {
        match self {
            Encoder::X264 => "x264enc",
            Encoder::V4l2 => "v4l2h264enc",
        }
    }
}

/// Something the pipeline reports besides frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEvent {
    /// An error on the bus (sensor gone, element failure); the pipeline is dead.
    Failed {
        /// Pipeline generation that failed.
        generation: u64,
        /// Error text with the element that posted it.
        reason: String,
    },
}

/// A frame tagged with the pipeline generation that produced it.
#[derive(Debug)]
pub struct CapturedFrame {
    /// Generation of the pipeline (increments on every restart).
    pub generation: u64,
    /// The frame.
    pub frame: Frame,
}

/// Initialise GStreamer once.
pub fn init() -> Result<(), CaptureError> {
    gst::init().map_err(|e| CaptureError::Init(e.to_string()))
}

fn have(element: &str) -> bool {
    gst::ElementFactory::find(element).is_some()
}

/// Pick the encoder for `choice`: `auto` prefers the hardware encoder where present.
pub fn resolve_encoder(choice: EncoderChoice) -> Result<Encoder, CaptureError> {
    let enc = match choice {
        EncoderChoice::Auto => {
            if have("v4l2h264enc") {
                Encoder::V4l2
            } else {
                Encoder::X264
            }
        }
        EncoderChoice::X264 => Encoder::X264,
        EncoderChoice::V4l2 => Encoder::V4l2,
    };
    match enc {
        Encoder::X264 if !have("x264enc") => Err(CaptureError::MissingElement {
            element: "x264enc",
            why: "software H.264 encoder",
            package: "gstreamer1.0-plugins-ugly",
        }),
        Encoder::V4l2 if !have("v4l2h264enc") => Err(CaptureError::MissingElement {
            element: "v4l2h264enc",
            why: "camera.encoder = \"v4l2\" (Raspberry Pi hardware encoder)",
            package: "gstreamer1.0-plugins-good on a Pi with /dev/video11",
        }),
        Encoder::X264 | Encoder::V4l2 => Ok(enc),
    }
}

/// The AAC encoder element available here.
pub fn resolve_aac() -> Result<&'static str, CaptureError> {
    ["avenc_aac", "fdkaacenc", "voaacenc"]
        .into_iter()
        .find(|e| have(e))
        .ok_or(CaptureError::MissingElement {
            element: "avenc_aac",
            why: "AAC audio encoder",
            package: "gstreamer1.0-libav",
        })
}

/// Check that every element the configuration needs is installed.
pub fn check_elements(cfg: &Config) -> Result<(), CaptureError> {
    let mut need: Vec<(&'static str, &'static str, &'static str)> = vec![
        ("h264parse", "H.264 parser", "gstreamer1.0-plugins-bad"),
        ("appsink", "frame hand-over", "gstreamer1.0-plugins-base"),
    ];
    if cfg.camera.source == CameraSource::Replay {
        need.push((
            "appsrc",
            "replayed access units",
            "gstreamer1.0-plugins-base",
        ));
        if cfg.audio.enabled {
            need.push(("aacparse", "AAC parser", "gstreamer1.0-plugins-good"));
        }
        return check(need);
    }
    match cfg.camera.source {
        CameraSource::Replay => {}
        CameraSource::Simulated => {
            need.push((
                "videotestsrc",
                "simulated camera",
                "gstreamer1.0-plugins-base",
            ));
        }
        CameraSource::Libcamera => need.push((
            "libcamerasrc",
            "camera.source = \"libcamera\"",
            "gstreamer1.0-libcamera",
        )),
        CameraSource::V4l2 => {
            need.push((
                "v4l2src",
                "camera.source = \"v4l2\"",
                "gstreamer1.0-plugins-good",
            ));
            need.push(("decodebin", "webcam formats", "gstreamer1.0-plugins-base"));
        }
    }
    if cfg.audio.enabled {
        match cfg.audio.source {
            AudioSource::Simulated => need.push((
                "audiotestsrc",
                "simulated audio",
                "gstreamer1.0-plugins-base",
            )),
            AudioSource::Alsa => {
                need.push(("alsasrc", "audio.source = \"alsa\"", "gstreamer1.0-alsa"))
            }
        }
        need.push(("aacparse", "AAC parser", "gstreamer1.0-plugins-good"));
    }
    check(need)
}

/// `Err` naming the first element of `need` that is not installed.
fn check(need: Vec<(&'static str, &'static str, &'static str)>) -> Result<(), CaptureError> {
    for (element, why, package) in need {
        if !have(element) {
            return Err(CaptureError::MissingElement {
                element,
                why,
                package,
            });
        }
    }
    Ok(())
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The queue in front of the video encoder: the overlay is drawn on its sink pad, on the
/// raw frames of every source.
pub const RAW_VIDEO_QUEUE: &str = "vq";

/// The video branch, ending in `appsink name=vsink`.
pub fn video_description(cfg: &Config, encoder: Encoder) -> String {
    let c = &cfg.camera;
    let (w, h, fps) = (c.width, c.height, c.framerate);
    let source = match c.source {
        // No camera and no encoder: the pre-encoded units go straight to h264parse.
        CameraSource::Replay => return crate::replay::pipeline_description(w, h, fps, false),
        CameraSource::Simulated => format!(
            "videotestsrc is-live=true pattern={} ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1",
            c.pattern.gst_name(),
        ),
        CameraSource::Libcamera => {
            let name = if c.device.is_empty() {
                String::new()
            } else {
                format!(" camera-name={}", quote(&c.device))
            };
            format!(
                "libcamerasrc{name} ! video/x-raw,format=NV12,width={w},height={h},framerate={fps}/1"
            )
        }
        CameraSource::V4l2 => format!(
            "v4l2src device={} ! decodebin ! videoconvert ! videoscale ! videorate \
             ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1",
            quote(&c.device)
        ),
    };
    let encode = match encoder {
        Encoder::X264 => format!(
            "x264enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate={} \
             ! video/x-h264,profile=constrained-baseline",
            c.bitrate_kbps
        ),
        Encoder::V4l2 => {
            // The Pi encoder takes profile/level from downstream caps and defaults to
            // level 1.0 (128×96) without them.
            let level = if w * h > 1280 * 720 { "4.1" } else { "4" };
            format!(
                "v4l2h264enc name=enc extra-controls=\"controls,repeat_sequence_header=1,h264_i_frame_period={fps},video_bitrate={}\" \
                 ! video/x-h264,level=(string){level}",
                u64::from(c.bitrate_kbps) * 1000
            )
        }
    };
    format!(
        "{source} ! queue name={RAW_VIDEO_QUEUE} max-size-buffers=4 leaky=no ! {encode} ! h264parse config-interval=-1 \
         ! video/x-h264,stream-format=byte-stream,alignment=au \
         ! appsink name=vsink sync=false max-buffers=120 drop=false"
    )
}

/// The audio branch, ending in `appsink name=asink`.
pub fn audio_description(cfg: &Config, aac: &str) -> String {
    let a = &cfg.audio;
    let source = match a.source {
        AudioSource::Simulated => {
            "audiotestsrc is-live=true wave=sine freq=440 volume=0.2 samplesperbuffer=1024"
                .to_string()
        }
        AudioSource::Alsa => format!("alsasrc device={}", quote(&a.device)),
    };
    format!("{source} ! {}", audio_encoder_description(cfg, aac))
}

/// The audio branch after its source: conversion, the AAC encoder and its settings, the
/// parser, ending in `appsink name=asink`. Shared by the live branch and by
/// [`silence::SilentFrame::from_encoder`], so the silent frame comes from the very
/// encoder settings the recording uses.
pub fn audio_encoder_description(cfg: &Config, aac: &str) -> String {
    format!(
        "audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 \
         ! {aac} bitrate={} ! aacparse ! audio/mpeg,mpegversion=4,stream-format=adts \
         ! appsink name={AUDIO_SINK} sync=false max-buffers=200 drop=false",
        u64::from(cfg.audio.bitrate_kbps) * 1000
    )
}

/// The audio branch's appsink.
pub const AUDIO_SINK: &str = "asink";

/// The whole pipeline description (also what the benchmark runs with gst-launch-1.0).
pub fn pipeline_description(cfg: &Config, encoder: Encoder, aac: Option<&str>) -> String {
    let c = &cfg.camera;
    if c.source == CameraSource::Replay {
        return crate::replay::pipeline_description(
            c.width,
            c.height,
            c.framerate,
            cfg.audio.enabled,
        );
    }
    let video = video_description(cfg, encoder);
    match aac {
        Some(aac) if cfg.audio.enabled => format!("{video}  {}", audio_description(cfg, aac)),
        Some(_) | None => video,
    }
}

/// Settings that survive pipeline restarts.
#[derive(Debug)]
pub struct CaptureShared {
    /// Test only: fail the simulated sensor once after this many seconds.
    pub fail_after: Option<Duration>,
    /// Test only: stall the simulated sensor once after this many seconds.
    pub stall_after: Option<Duration>,
    /// Whether the simulated failure or stall has happened already.
    pub failed_once: AtomicBool,
    /// The burned-in overlay (`camera.overlay`), drawn by every generation.
    pub overlay: Option<overlay::Overlay>,
    /// Test only: the replayed camera (`camera.source = "replay"`).
    pub replay: Option<crate::replay::ReplaySource>,
}

/// A running capture pipeline.
#[derive(Debug)]
pub struct Capture {
    pipeline: gst::Pipeline,
    generation: u64,
    stopping: Arc<AtomicBool>,
    bus_thread: Option<std::thread::JoinHandle<()>>,
    /// The replay feeder, for the replayed camera.
    replay_thread: Option<std::thread::JoinHandle<()>>,
}

impl Capture {
    /// Build and start a pipeline.
    pub fn start(
        description: &str,
        generation: u64,
        shared: Arc<CaptureShared>,
        frames: Sender<CapturedFrame>,
        events: Sender<CaptureEvent>,
    ) -> Result<Capture, CaptureError> {
        let pipeline = gst::parse::launch(description)
            .map_err(|e| CaptureError::Start(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| CaptureError::Start("description is not a pipeline".into()))?;
        let stopping = Arc::new(AtomicBool::new(false));
        if let Some(ov) = shared.overlay.clone() {
            let pad = pipeline
                .by_name(RAW_VIDEO_QUEUE)
                .and_then(|q| q.static_pad("sink"))
                .ok_or_else(|| CaptureError::Start("no raw video queue for the overlay".into()))?;
            overlay::install(&pad, ov);
        }
        let vsink = appsink(&pipeline, "vsink")?;
        attach(
            &vsink,
            StreamKind::Video,
            generation,
            shared.clone(),
            frames.clone(),
            stopping.clone(),
        );
        if let Some(asink) = pipeline.by_name("asink") {
            let asink = asink
                .dynamic_cast::<gst_app::AppSink>()
                .map_err(|_| CaptureError::Start("asink is not an appsink".into()))?;
            attach(
                &asink,
                StreamKind::Audio,
                generation,
                shared.clone(),
                frames,
                stopping.clone(),
            );
        }
        let bus = pipeline
            .bus()
            .ok_or_else(|| CaptureError::Start("pipeline has no bus".into()))?;
        let replay_thread = match &shared.replay {
            Some(r) if pipeline.by_name(crate::replay::VIDEO_SRC).is_some() => {
                Some(r.start(&pipeline, stopping.clone())?)
            }
            Some(_) | None => None,
        };
        let stop_bus = stopping.clone();
        let bus_thread = std::thread::Builder::new()
            .name(format!("gst-bus-{generation}"))
            .spawn(move || watch_bus(bus, generation, events, stop_bus))
            .map_err(|e| CaptureError::Start(format!("cannot spawn bus thread: {e}")))?;
        let capture = Capture {
            pipeline,
            generation,
            stopping,
            bus_thread: Some(bus_thread),
            replay_thread,
        };
        capture
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| CaptureError::Start(format!("cannot set PLAYING: {e}")))?;
        Ok(capture)
    }

    /// Generation of this pipeline.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Stop the pipeline and wait for its threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(t) = self.bus_thread.take() {
            let _ = t.join();
        }
        if let Some(t) = self.replay_thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if self.bus_thread.is_some() {
            self.shutdown();
        }
    }
}

fn appsink(pipeline: &gst::Pipeline, name: &str) -> Result<gst_app::AppSink, CaptureError> {
    pipeline
        .by_name(name)
        .ok_or_else(|| CaptureError::Start(format!("no element named {name}")))?
        .dynamic_cast::<gst_app::AppSink>()
        .map_err(|_| CaptureError::Start(format!("{name} is not an appsink")))
}

fn attach(
    sink: &gst_app::AppSink,
    kind: StreamKind,
    generation: u64,
    shared: Arc<CaptureShared>,
    frames: Sender<CapturedFrame>,
    stopping: Arc<AtomicBool>,
) {
    let callbacks = gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| on_sample(sink, kind, generation, &shared, &frames, &stopping))
        .build();
    sink.set_callbacks(callbacks);
}

/// Appsink callback: never panics; failures go out as element errors.
fn on_sample(
    sink: &gst_app::AppSink,
    kind: StreamKind,
    generation: u64,
    shared: &CaptureShared,
    frames: &Sender<CapturedFrame>,
    stopping: &AtomicBool,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
    let Some(buffer) = sample.buffer() else {
        gst::element_error!(sink, gst::StreamError::Failed, ("sample without buffer"));
        return Err(gst::FlowError::Error);
    };
    let segment = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>());
    let to_clock = |t: Option<gst::ClockTime>| -> Option<u64> {
        let t = t?;
        let rt = segment.and_then(|s| s.to_running_time(t)).unwrap_or(t);
        Some((sink.base_time()? + rt).nseconds())
    };
    let Some(pts_ns) = to_clock(buffer.pts()) else {
        gst::element_error!(sink, gst::StreamError::Failed, ("buffer without timestamp"));
        return Err(gst::FlowError::Error);
    };
    let dts_ns = to_clock(buffer.dts()).unwrap_or(pts_ns);
    let keyframe =
        kind == StreamKind::Video && !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
    if kind == StreamKind::Video {
        let rt = segment
            .and_then(|s| s.to_running_time(buffer.pts()))
            .unwrap_or(gst::ClockTime::ZERO)
            .nseconds();
        let due = |after: Option<Duration>| after.is_some_and(|a| rt >= a.as_nanos() as u64);
        if due(shared.fail_after) && !shared.failed_once.swap(true, Ordering::SeqCst) {
            gst::element_error!(
                sink,
                gst::ResourceError::Read,
                ("simulated sensor failure after {} s", rt / 1_000_000_000)
            );
            return Err(gst::FlowError::Error);
        }
        if due(shared.stall_after) && !shared.failed_once.swap(true, Ordering::SeqCst) {
            // A hung sensor: no error, just no more frames until the pipeline is torn down.
            while !stopping.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            return Err(gst::FlowError::Flushing);
        }
    }
    let map = buffer.map_readable().map_err(|_| {
        gst::element_error!(sink, gst::StreamError::Failed, ("cannot map buffer"));
        gst::FlowError::Error
    })?;
    let mut msg = CapturedFrame {
        generation,
        frame: Frame {
            kind,
            pts_ns,
            dts_ns,
            duration_ns: buffer.duration().map_or(0, |d| d.nseconds()),
            keyframe,
            data: map.as_slice().to_vec(),
        },
    };
    loop {
        match frames.send_timeout(msg, Duration::from_millis(50)) {
            Ok(()) => return Ok(gst::FlowSuccess::Ok),
            Err(SendTimeoutError::Timeout(m)) => {
                if stopping.load(Ordering::SeqCst) {
                    return Err(gst::FlowError::Flushing);
                }
                msg = m;
            }
            Err(SendTimeoutError::Disconnected(_)) => return Err(gst::FlowError::Flushing),
        }
    }
}

fn watch_bus(
    bus: gst::Bus,
    generation: u64,
    events: Sender<CaptureEvent>,
    stopping: Arc<AtomicBool>,
) {
    while !stopping.load(Ordering::SeqCst) {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        let reason = match msg.view() {
            gst::MessageView::Error(e) => {
                let src = msg
                    .src()
                    .map(|s| s.path_string().to_string())
                    .unwrap_or_default();
                Some(format!("{src}: {}", e.error()))
            }
            gst::MessageView::Eos(_) => Some("end of stream from the camera".to_string()),
            _ => None,
        };
        if let Some(reason) = reason {
            let _ = events.send(CaptureEvent::Failed { generation, reason });
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x264_description_pins_420_gop_and_annexb() {
        let mut cfg = Config::default();
        cfg.camera.width = 320;
        cfg.camera.height = 240;
        cfg.camera.framerate = 15;
        let d = pipeline_description(&cfg, Encoder::X264, Some("avenc_aac"));
        assert!(d.contains("format=I420"), "{d}");
        assert!(d.contains("key-int-max=15"), "{d}");
        assert!(d.contains("config-interval=-1"), "{d}");
        assert!(d.contains("stream-format=byte-stream,alignment=au"), "{d}");
        assert!(d.contains("appsink name=asink"), "{d}");
        cfg.audio.enabled = false;
        assert!(!pipeline_description(&cfg, Encoder::X264, Some("avenc_aac")).contains("asink"));
    }

    #[test]
    fn v4l2_description_sets_level_and_gop() {
        let mut cfg = Config::default();
        cfg.camera.source = CameraSource::Libcamera;
        cfg.camera.width = 1920;
        cfg.camera.height = 1080;
        let d = video_description(&cfg, Encoder::V4l2);
        assert!(d.contains("libcamerasrc"), "{d}");
        assert!(d.contains("format=NV12"), "{d}");
        assert!(d.contains("level=(string)4.1"), "{d}");
        assert!(d.contains("h264_i_frame_period=30"), "{d}");
        assert!(d.contains("video_bitrate=3000000"), "{d}");
        assert!(
            !d.contains("video_bitrate_mode"),
            "CBR breaks STREAMON: {d}"
        );
    }

    #[test]
    fn every_source_draws_the_overlay_and_parses_where_its_element_exists() {
        init().unwrap();
        for source in [
            CameraSource::Simulated,
            CameraSource::Libcamera,
            CameraSource::V4l2,
        ] {
            let mut cfg = Config::default();
            cfg.camera.source = source;
            cfg.camera.device = "/dev/video0".into();
            for enc in [Encoder::X264, Encoder::V4l2] {
                let d = video_description(&cfg, enc);
                assert!(
                    d.contains(&format!("! queue name={RAW_VIDEO_QUEUE} ")),
                    "{d}"
                );
            }
            let d = video_description(&cfg, Encoder::X264);
            let element = d.split_whitespace().next().unwrap();
            if !have(element) {
                eprintln!("{element} is not installed here: {source:?} description not parsed");
                continue;
            }
            let p = gst::parse::launch(&d)
                .unwrap()
                .downcast::<gst::Pipeline>()
                .unwrap();
            let pad = p
                .by_name(RAW_VIDEO_QUEUE)
                .and_then(|q| q.static_pad("sink"))
                .expect("the overlay's pad");
            let spec =
                overlay::OverlaySpec::from_config(&cfg.camera).expect("overlay on by default");
            assert_eq!(spec.frame_counter, source == CameraSource::Simulated);
            overlay::install(
                &pad,
                overlay::Overlay::new(spec, overlay::OverlayText::new("X")),
            );
        }
    }

    #[test]
    fn device_names_are_quoted() {
        let mut cfg = Config::default();
        cfg.camera.source = CameraSource::V4l2;
        cfg.camera.device = "/dev/video0 ! fakesink".into();
        let d = video_description(&cfg, Encoder::X264);
        assert!(d.contains("device=\"/dev/video0 ! fakesink\""), "{d}");
    }
}
