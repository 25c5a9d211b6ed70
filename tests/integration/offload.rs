//! Offload bookkeeping on real files: an acknowledgement is accepted only with the
//! signed hash, and only acknowledged media can be freed.

use std::sync::Arc;

use bodycam::clock::TimeRef;
use bodycam::config::StorageConfig;
use bodycam::evidence::identity::Identity;
use bodycam::evidence::record::sha256;
use bodycam::evidence::sidecar::CaptureInfo;
use bodycam::evidence::{ChainHead, Signer, SystemTime, boot_id};
use bodycam::flash::RealFlash;
use bodycam::media::{Frame, StreamKind};
use bodycam::store::Store;
use bodycam::store::offload::{self, AckError};
use bodycam::store::recording::NewRecording;

/// Frame `i` of a 10 fps stream starting at `base` (monotonic ns, at or after the
/// recording's start so that segments roll over).
fn frame(base: u64, i: u64) -> Frame {
    Frame {
        kind: StreamKind::Video,
        pts_ns: base + i * 100_000_000,
        dts_ns: base + i * 100_000_000,
        duration_ns: 100_000_000,
        keyframe: i.is_multiple_of(10),
        data: vec![(i % 251) as u8; 700],
    }
}

/// A store with one recording of two closed segments and a third left open.
fn store() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let d = tempfile::tempdir().unwrap();
    let cfg = StorageConfig {
        path: d.path().join("data"),
        reserve_hours: 0.0,
        max_bytes: None,
        delete_after_ack: false,
    };
    let mut store = Store::open(&cfg, 1.0, Arc::new(RealFlash)).unwrap();
    let (id, _) = Identity::load_or_create(&d.path().join("keys"), false).unwrap();
    let mut signer = Signer::new(
        id,
        Box::new(SystemTime),
        boot_id(),
        ChainHead::default(),
        ChainHead::default(),
    );
    let time = TimeRef::now();
    let mut rec = store
        .new_recording(
            &time,
            NewRecording {
                trigger: "ctl".into(),
                pre_event: (0, false),
                segment_ns: 1_000_000_000,
                capture: CaptureInfo {
                    source: "simulated".into(),
                    encoder: "x264enc".into(),
                    width: 160,
                    height: 120,
                    framerate: 10,
                    audio: false,
                },
                officer: None,
                pre_event_silence: None,
            },
        )
        .unwrap();
    for i in 0..25 {
        rec.offer(
            store.flash(),
            &frame(time.mono_ns, i),
            u64::MAX,
            &time,
            &mut signer,
        )
        .unwrap();
    }
    let dir = rec.dir().to_path_buf();
    let id = rec.id().to_string();
    // Segments 1 and 2 are closed by rollover; segment 3 stays open.
    drop(rec);
    (d, dir, id)
}

#[test]
fn ack_needs_the_signed_hash_and_a_closed_segment() {
    let (d, dir, id) = store();
    let recordings = d.path().join("data/recordings");
    let media = std::fs::read(dir.join("000001.ts")).unwrap();
    let good = hex::encode(sha256(&media));
    let wrong = hex::encode(sha256(b"something else"));
    let utc = "2026-11-25T18:00:00.000Z";

    let e = offload::acknowledge(&RealFlash, &recordings, &id, 1, "dev/rec/1", &wrong, utc);
    assert!(matches!(e, Err(AckError::HashMismatch { .. })), "{e:?}");
    assert!(
        !offload::is_acknowledged(&dir, 1),
        "a refused ack leaves no trace"
    );
    let e = offload::acknowledge(&RealFlash, &recordings, &id, 3, "dev/rec/3", &good, utc);
    assert!(matches!(e, Err(AckError::Open { .. })), "{e:?}");
    let e = offload::acknowledge(&RealFlash, &recordings, &id, 9, "dev/rec/9", &good, utc);
    assert!(matches!(e, Err(AckError::NoSuchSegment { .. })), "{e:?}");
    let e = offload::acknowledge(&RealFlash, &recordings, &id, 1, "", &good, utc);
    assert_eq!(e, Err(AckError::BadBlob));

    let ack = offload::acknowledge(
        &RealFlash,
        &recordings,
        &id,
        1,
        "dev/rec/1",
        &good.to_uppercase(),
        utc,
    )
    .unwrap();
    assert_eq!(ack.sha256, good);
    assert!(offload::is_acknowledged(&dir, 1));
}

#[test]
fn only_acknowledged_media_is_reclaimable_and_freed() {
    let (d, dir, id) = store();
    let recordings = d.path().join("data/recordings");
    assert!(offload::reclaimable(&recordings).unwrap().is_empty());
    let media = std::fs::read(dir.join("000002.ts")).unwrap();
    offload::acknowledge(
        &RealFlash,
        &recordings,
        &id,
        2,
        "dev/rec/2",
        &hex::encode(sha256(&media)),
        "2026-11-25T18:00:00.000Z",
    )
    .unwrap();
    let r = offload::reclaimable(&recordings).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].segment, 2);
    assert_eq!(r[0].bytes, media.len() as u64);
    offload::free(&r[0]).unwrap();
    assert!(!dir.join("000002.ts").exists());
    // Journal, sidecar and acknowledgement stay: the chain remains verifiable.
    for f in [
        "000002.journal",
        "000002.json",
        "000002.ack",
        "000001.ts",
        "000003.ts",
    ] {
        assert!(dir.join(f).exists(), "{f} must stay");
    }
    assert!(offload::reclaimable(&recordings).unwrap().is_empty());

    // A forged entry for an unacknowledged segment is refused.
    let forged = offload::Reclaimable {
        media: dir.join("000001.ts"),
        recording: id,
        segment: 1,
        bytes: 1,
    };
    assert!(offload::free(&forged).is_err());
    assert!(dir.join("000001.ts").exists());
}
