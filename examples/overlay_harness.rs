//! Benchmark harness for `benches/overlay.sh`: runs a `gst-launch-1.0`-style pipeline
//! description to its end, optionally with the daemon's own overlay probe
//! (`bodycam::capture::overlay`) on the sink pad of the element named `ovl` (an
//! `identity`), and prints how many frames passed and the probe's thread CPU time per
//! frame.
//!
//! Usage: `overlay_harness MODE DESCRIPTION`
//!   MODE `none`: no probe (checks that the harness costs what gst-launch costs);
//!   MODE `rust`: the daemon's overlay (scale from the frame height, top left, the
//!   camera id and an officer id, as the daemon draws it).
//! Output (stdout, one line): `frames=N probe_us_per_frame=X`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bodycam::capture::overlay::{Overlay, OverlaySpec, OverlayText, install};
use bodycam::config::OverlayPosition;
use gstreamer as gst;
use gstreamer::prelude::*;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux has.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(desc)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: overlay_harness none|rust DESCRIPTION");
        std::process::exit(2);
    };
    gst::init().expect("GStreamer");
    let pipeline = gst::parse::launch(desc)
        .expect("description parses")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let frames = Arc::new(AtomicU64::new(0));
    let spent = Arc::new(AtomicU64::new(0));
    if mode == "rust" {
        let ovl = pipeline.by_name("ovl").expect("an element named ovl");
        let sink = ovl.static_pad("sink").expect("ovl has a sink pad");
        let src = ovl.static_pad("src").expect("ovl has a src pad");
        // Probes run in the order they were added: stamp the thread's CPU time before
        // the overlay's probe, and take the difference when the buffer leaves `ovl`.
        let start = Arc::new(AtomicU64::new(0));
        let s = start.clone();
        sink.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            s.store(thread_cpu_ns(), Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
        let spec = OverlaySpec {
            position: OverlayPosition::TopLeft,
            scale: 0,
            local_time: false,
            frame_counter: false,
        };
        let text = OverlayText::new("7F3A91C2");
        text.set_officer(Some("4711"));
        install(&sink, Overlay::new(spec, text));
        let (f, sp) = (frames.clone(), spent.clone());
        src.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let d = thread_cpu_ns().saturating_sub(start.load(Ordering::Relaxed));
            sp.fetch_add(d, Ordering::Relaxed);
            f.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    pipeline
        .set_state(gst::State::Playing)
        .expect("pipeline plays");
    let bus = pipeline.bus().expect("bus");
    let mut failed = false;
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                eprintln!("error: {}", e.error());
                failed = true;
                break;
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let n = frames.load(Ordering::Relaxed);
    let us = if n > 0 {
        spent.load(Ordering::Relaxed) as f64 / n as f64 / 1000.0
    } else {
        0.0
    };
    println!("frames={n} probe_us_per_frame={us:.1}");
    if failed {
        std::process::exit(1);
    }
}
