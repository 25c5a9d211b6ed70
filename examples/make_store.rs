//! Benchmark helper: write a signed store of synthetic footage through the real store and
//! evidence code (no camera, no encoder), e.g. to measure `bodycam verify` throughput.
//!
//! usage: cargo run --release --example make_store -- DIR MINUTES [KBIT_PER_S]
//!
//! With `MAKE_STORE_RECIPIENT=FILE` (a recipient file from `bodycam pki footage-key`) the
//! segments are encrypted to it, as a camera with `encryption = "required"` writes them.
//!
//! Prints the signing cost (CPU seconds spent in the store+evidence path per second of
//! footage) and the journal overhead in bytes.

use std::sync::Arc;
use std::time::Instant;

use bodycam::clock::TimeRef;
use bodycam::config::StorageConfig;
use bodycam::evidence::identity::Identity;
use bodycam::evidence::sidecar::{CaptureInfo, EndReason};
use bodycam::evidence::{ChainHead, Signer, SystemTime, boot_id};
use bodycam::flash::RealFlash;
use bodycam::media::{Frame, StreamKind};
use bodycam::store::Store;
use bodycam::store::recording::NewRecording;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage with a valid out-pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage(2) fills the rusage we own; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: make_store DIR MINUTES [KBIT_PER_S]");
        std::process::exit(2);
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let minutes: u64 = args[2].parse().expect("MINUTES");
    let kbps: u64 = args.get(3).map_or(4000, |s| s.parse().expect("KBIT_PER_S"));
    let cfg = StorageConfig {
        path: dir.clone(),
        reserve_hours: 0.0,
        max_bytes: None,
        delete_after_ack: false,
    };
    let mut store = Store::open(&cfg, 1.0, Arc::new(RealFlash)).expect("store");
    let (identity, _) = Identity::load_or_create(&dir.join("keys"), false).expect("key");
    let mut signer = Signer::new(
        identity,
        Box::new(SystemTime),
        boot_id(),
        ChainHead::default(),
        ChainHead::default(),
    );
    if let Some(r) = std::env::var_os("MAKE_STORE_RECIPIENT") {
        *signer.footage_mut() =
            bodycam::confidential::sealing::Footage::required(vec![r.into()]).expect("recipient");
    }
    let mut audit = bodycam::evidence::audit::AuditLog::open(store.flash(), &store.audit_path())
        .expect("audit log");
    let boot = bodycam::evidence::events::AuditEvent::Boot {
        firmware: env!("CARGO_PKG_VERSION").into(),
        config_sha256: String::new(),
        device_id: hex::encode(signer.identity().device_id()),
        media_chain_count: 0,
        clock_synchronised: false,
    };
    audit.append(&mut signer, &boot).expect("audit");
    let time = TimeRef::now();
    let mut rec = store
        .new_recording(
            &time,
            NewRecording {
                trigger: "ctl".into(),
                pre_event: (0, false),
                segment_ns: 60_000_000_000,
                capture: CaptureInfo {
                    source: "synthetic".into(),
                    encoder: "none".into(),
                    width: 1280,
                    height: 720,
                    framerate: 30,
                    audio: true,
                },
                officer: None,
                pre_event_silence: None,
            },
        )
        .expect("recording");
    let fps = 30u64;
    let frame_bytes = (kbps * 1000 / 8 / fps) as usize;
    let payload: Vec<u8> = (0..frame_bytes * 3)
        .map(|i| (i * 7919 % 251) as u8)
        .collect();
    let audio: Vec<u8> = vec![0x5a; 170];
    // Footage starts at the recording's start (earlier frames would count as pre-event).
    let start_ns = time.mono_ns;
    let frames = minutes * 60 * fps;
    let wall = Instant::now();
    let cpu0 = cpu_seconds();
    let mut audio_t = start_ns;
    for i in 0..frames {
        let t = start_ns + i * 1_000_000_000 / fps;
        while audio_t < t {
            let f = Frame {
                kind: StreamKind::Audio,
                pts_ns: audio_t,
                dts_ns: audio_t,
                duration_ns: 21_333_333,
                keyframe: false,
                data: audio.clone(),
            };
            rec.offer(store.flash(), &f, u64::MAX, &time, &mut signer)
                .expect("write");
            audio_t += 21_333_333;
        }
        let key = i % fps == 0;
        let n = if key {
            frame_bytes * 3
        } else {
            frame_bytes * 9 / 10
        };
        let f = Frame {
            kind: StreamKind::Video,
            pts_ns: t,
            dts_ns: t,
            duration_ns: 1_000_000_000 / fps,
            keyframe: key,
            data: payload[..n].to_vec(),
        };
        rec.offer(store.flash(), &f, u64::MAX, &time, &mut signer)
            .expect("write");
    }
    rec.close_segment(store.flash(), EndReason::Stopped, &time, &mut signer)
        .expect("close");
    audit
        .append(
            &mut signer,
            &bodycam::evidence::events::AuditEvent::Shutdown {},
        )
        .expect("audit");
    let cpu = cpu_seconds() - cpu0;
    let (mut media, mut journal) = (0u64, 0u64);
    for e in std::fs::read_dir(rec.dir()).expect("list") {
        let p = e.expect("entry").path();
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        match p.extension().and_then(|e| e.to_str()) {
            Some("ts") => media += len,
            Some("journal") => journal += len,
            _ => {}
        }
    }
    // The signing work alone for the same footage: two SHA-256 passes over every
    // media byte (range + whole segment) and one signed record per second.
    let chunk = vec![0x47u8; (media / (minutes * 60).max(1)) as usize];
    let sign_cpu0 = cpu_seconds();
    let body = vec![0u8; 200];
    for _ in 0..minutes * 60 {
        for _ in 0..2 {
            std::hint::black_box(bodycam::evidence::record::sha256(&chunk));
        }
        std::hint::black_box(bodycam::evidence::record::seal(
            signer.identity().key(),
            &body,
        ));
    }
    let sign_cpu = cpu_seconds() - sign_cpu0;
    println!(
        "encrypted={} footage_seconds={} media_bytes={media} journal_bytes={journal} journal_overhead_pct={:.4} store_cpu_seconds={cpu:.3} hash_sign_cpu_seconds={sign_cpu:.4} wall_seconds={:.3} public_key={}",
        signer.footage().mode().name(),
        minutes * 60,
        journal as f64 * 100.0 / media as f64,
        wall.elapsed().as_secs_f64(),
        hex::encode(signer.identity().public_key()),
    );
}
