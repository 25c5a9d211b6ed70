//! The real GStreamer capture pipeline (simulated camera) run in-process, its frames
//! interleaved and written as a signed segment through the store. Spawns no daemon,
//! so it also runs under qemu-user for the aarch64 build.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bodycam::capture::{self, Capture, CaptureShared, Encoder};
use bodycam::clock::TimeRef;
use bodycam::config::Config;
use bodycam::evidence::identity::Identity;
use bodycam::evidence::payload::{Payload, decode_file};
use bodycam::evidence::record::sha256;
use bodycam::evidence::sidecar::{CaptureInfo, EndReason};
use bodycam::evidence::{ChainHead, Signer, SystemTime, boot_id};
use bodycam::flash::RealFlash;
use bodycam::interleave::Interleaver;
use bodycam::media::StreamKind;
use bodycam::store::Store;
use bodycam::store::recording::{NewRecording, Offer};

#[test]
fn simulated_pipeline_to_signed_segment() {
    capture::init().expect("GStreamer init");
    let mut cfg = Config::default();
    cfg.camera.width = 160;
    cfg.camera.height = 120;
    cfg.camera.framerate = 10;
    cfg.camera.bitrate_kbps = 200;
    let aac = capture::resolve_aac().expect("an AAC encoder");
    let description = capture::pipeline_description(&cfg, Encoder::X264, Some(aac));
    let shared = Arc::new(CaptureShared {
        fail_after: None,
        stall_after: None,
        failed_once: AtomicBool::new(false),
        overlay: None,
        replay: None,
    });
    let (ftx, frx) = crossbeam_channel::bounded(1024);
    let (etx, erx) = crossbeam_channel::unbounded();
    // The recording starts before the first frame, so every frame is live footage
    // (checkpointed before each keyframe), not replayed pre-event footage.
    let time = TimeRef::now();
    let cap = Capture::start(&description, 1, shared, ftx, etx).expect("pipeline starts");

    // Collect 2.5 s of frames (generous deadline for emulation).
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(f) = frx.recv_timeout(Duration::from_millis(200)) {
            frames.push(f.frame);
        }
        let video = frames
            .iter()
            .filter(|f| f.kind == StreamKind::Video)
            .count();
        if video >= 25 || Instant::now() > deadline {
            break;
        }
    }
    cap.stop();
    assert!(erx.try_recv().is_err(), "pipeline reported an error");
    let video: Vec<_> = frames
        .iter()
        .filter(|f| f.kind == StreamKind::Video)
        .cloned()
        .collect();
    assert!(video.len() >= 25, "only {} video frames", video.len());
    assert!(video[0].keyframe, "the stream starts with a keyframe");
    // Fixed GOP of one second: keyframes exactly every 10 frames.
    for (i, f) in video.iter().enumerate() {
        assert_eq!(f.keyframe, i % 10 == 0, "frame {i} keyframe flag");
    }
    // Timestamps are monotonic-clock nanoseconds, 100 ms apart.
    for w in video.windows(2) {
        let d = w[1].pts_ns - w[0].pts_ns;
        assert!((99_000_000..=101_000_000).contains(&d), "video step {d} ns");
    }
    assert!(frames.iter().any(|f| f.kind == StreamKind::Audio));
    // AAC frames carry ADTS headers (sync word 0xFFF).
    let a = frames.iter().find(|f| f.kind == StreamKind::Audio).unwrap();
    assert_eq!(a.data[0], 0xFF);
    assert_eq!(a.data[1] & 0xF0, 0xF0);

    // Write them as a signed segment.
    let dir = tempfile::tempdir().unwrap();
    cfg.storage.path = dir.path().join("data");
    let mut store = Store::open(&cfg.storage, 100_000.0, Arc::new(RealFlash)).unwrap();
    let (identity, _) = Identity::load_or_create(&dir.path().join("keys"), false).unwrap();
    let public = identity.public_key().to_vec();
    let mut signer = Signer::new(
        identity,
        Box::new(SystemTime),
        boot_id(),
        ChainHead::default(),
        ChainHead::default(),
    );
    let mut rec = store
        .new_recording(
            &time,
            NewRecording {
                trigger: "ctl".into(),
                pre_event: (0, false),
                segment_ns: 60_000_000_000,
                capture: CaptureInfo {
                    source: "simulated".into(),
                    encoder: "x264enc".into(),
                    width: 160,
                    height: 120,
                    framerate: 10,
                    audio: true,
                },
                officer: None,
                pre_event_silence: None,
            },
        )
        .unwrap();
    let mut il = Interleaver::new(true, 1_000_000_000);
    for f in frames {
        il.push(f);
    }
    let mut written = 0;
    for f in il.drain() {
        if let Offer::Written(n) = rec
            .offer(store.flash(), &f, u64::MAX, &time, &mut signer)
            .unwrap()
        {
            written += n;
        }
    }
    rec.close_segment(store.flash(), EndReason::Stopped, &time, &mut signer)
        .unwrap();
    let seg = rec.dir().join("000001.ts");
    let media = std::fs::read(&seg).unwrap();
    assert_eq!(media.len() as u64, written);
    let summary = bodycam::ts::scan(&media);
    assert_eq!(summary.video_frames, video.len() as u64);
    assert_eq!(summary.keyframes, video.len().div_ceil(10) as u64);

    // The journal: checkpoints cover the file contiguously, each verifies, and the
    // final record binds the whole file.
    let journal = std::fs::read(rec.dir().join("000001.journal")).unwrap();
    let (records, torn) = decode_file(&journal);
    assert!(torn.is_none());
    let mut covered = 0;
    for r in &records {
        assert!(r.raw.verify(&public), "signature");
        match &r.payload {
            Payload::Checkpoint(c) => {
                assert_eq!(c.byte_start, covered);
                let range = &media[c.byte_start as usize..c.byte_end as usize];
                assert_eq!(sha256(range), c.range_sha256);
                covered = c.byte_end;
            }
            Payload::Final(f) => {
                assert_eq!(f.total_len, media.len() as u64);
                assert_eq!(f.segment_sha256, sha256(&media));
            }
            Payload::Recovery(_)
            | Payload::Location(_)
            | Payload::SealedLocation(_)
            | Payload::Keys(_)
            | Payload::Audit(_)
            | Payload::Head(_) => {
                panic!("unexpected record in a journal")
            }
        }
    }
    assert_eq!(covered, media.len() as u64);
    // One checkpoint per keyframe after the first, plus the closing one.
    assert!(records.len() >= 3, "{} records", records.len());
}
