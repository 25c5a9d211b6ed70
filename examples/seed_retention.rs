//! Benchmark helper for benches/retention.sh: fill an agent config's container with
//! segment blobs as the dock agent stores them (journal, sidecar, media; the agent's
//! names, content types, metadata and upload tags, `category=standard`,
//! `legal_hold=no`, `officer=unassigned`, `spread=0`, except that the `retention` tag
//! is either past or far in the future), or time a full listing of it.
//!
//! usage:
//!   seed_retention CONFIG seed --recordings N --due|--kept [--segments S] [--devices D] [--first I]
//!                              [--device-base HEX]
//!   seed_retention CONFIG list
//!
//! Each journal is one final record signed by a fresh key (the blobs' device is not
//! enrolled, so the retention job reads the span without checking signatures); media
//! is 4 KiB, so that 100,000 blobs fit in Azurite's memory. Every blob is one Put Blob
//! request (its tags go in the same request, `x-ms-tags`), 32 at a time. Prints
//! blobs, seconds and requests, and the rate every 10,000 blobs on stderr.

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;

use bodycam::agent::azure::BlobStore;
use bodycam::agent::config::AgentConfig;
use bodycam::agent::{names, tags};
use bodycam::evidence::identity::Identity;
use bodycam::evidence::payload::{Final, Payload};
use bodycam::evidence::sidecar::EndReason;
use bodycam::evidence::{ChainHead, Signer, SystemTime, boot_id};
use bodycam::layout::{RecordingId, SegmentFile};

/// How often (in blobs) the seeding reports its rate.
const PROGRESS_EVERY: usize = 10_000;

fn arg(args: &[String], name: &str) -> Option<u64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} {v}")))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: seed_retention CONFIG (seed ... | list)");
        std::process::exit(2);
    }
    bodycam::agent::install_crypto_provider();
    let cfg = AgentConfig::load(std::path::Path::new(&args[1])).expect("config");
    let store = BlobStore::new(&cfg).expect("store");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match args[2].as_str() {
        "list" => rt.block_on(list(&store)),
        "seed" => rt.block_on(seed(&store, &cfg, &args)),
        other => panic!("unknown command {other}"),
    }
}

/// A full listing with tags, as a job that lists the container would have to make.
async fn list(store: &BlobStore) {
    let t = Instant::now();
    let before = store.requests();
    let all = store.list_detailed("").await.expect("list");
    println!(
        "listed {} blobs in {:.3} s with {} request(s)",
        all.len(),
        t.elapsed().as_secs_f64(),
        store.requests() - before
    );
}

async fn seed(store: &BlobStore, cfg: &AgentConfig, args: &[String]) {
    store.ensure_container().await.expect("container");
    let recordings = arg(args, "--recordings").expect("--recordings");
    let segments = arg(args, "--segments").unwrap_or(1) as u32;
    let devices = arg(args, "--devices").unwrap_or(20);
    let device_base = args
        .iter()
        .position(|a| a == "--device-base")
        .and_then(|i| args.get(i + 1))
        .map_or(0xb0d7_0000, |h| {
            u64::from_str_radix(h, 16).expect("--device-base HEX")
        });
    let first = arg(args, "--first").unwrap_or(0);
    let due = args.iter().any(|a| a == "--due");
    let retention = if due {
        "2020-01-01T00:00:00Z"
    } else {
        "2100-01-01T00:00:00Z"
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (identity, _) = Identity::load_or_create(dir.path(), false).expect("key");
    let mut signer = Signer::new(
        identity,
        Box::new(SystemTime),
        boot_id(),
        ChainHead::default(),
        ChainHead::default(),
    );
    let journal = Bytes::from(signer.sign_media(&Payload::Final(Final {
        recording_id: "20260101T000000Z".into(),
        segment: 1,
        total_len: 4096,
        segment_sha256: [0; 32],
        video_frames: 1,
        audio_frames: 0,
        keyframes: 1,
        duration_90k: 90_000,
        end_reason: EndReason::Stopped,
        markers: Vec::new(),
        sidecar_sha256: [0; 32],
    })));
    let media = Bytes::from(vec![0x47u8; 4096]);
    let sidecar = Bytes::from_static(b"{\"format\":\"bodycam-segment-meta/1\"}");
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    // The agent's upload tags and metadata (src/agent/tags.rs, src/agent/segment.rs),
    // with the `retention` tag replaced.
    let now = chrono::Utc::now();
    let days = cfg.azure.retention_days;
    let mut tag_map = tags::upload_tags(now, days, None);
    tag_map.insert(tags::RETENTION, retention.to_string());
    let tag_list: Vec<(&str, &str)> = tag_map.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dock = cfg.dock_name();
    let retain_until = bodycam::clock::rfc3339(now + chrono::Duration::days(i64::from(days)));
    let mut jobs = Vec::new();
    for i in first..first + recordings {
        let device = format!("{:032x}", device_base + i % devices);
        let rec = (base + chrono::Duration::seconds(i as i64))
            .format("%Y%m%dT%H%M%SZ")
            .to_string();
        let rec = RecordingId::parse(&rec).expect("recording id");
        for seq in 1..=segments {
            for (file, data) in [
                (SegmentFile::Journal, journal.clone()),
                (SegmentFile::Meta, sidecar.clone()),
                (SegmentFile::Media, media.clone()),
            ] {
                let sha = hex::encode(bodycam::evidence::record::sha256(&data));
                let metadata = vec![
                    ("device", device.clone()),
                    ("recording", rec.as_str().to_string()),
                    ("segment", seq.to_string()),
                    ("utc_start", "2026-01-01T00:00:00.000Z".to_string()),
                    ("utc_end", "2026-01-01T00:00:01.000Z".to_string()),
                    ("verify_status", "OK".to_string()),
                    ("dock", dock.clone()),
                    ("officer", "unassigned".to_string()),
                    ("retention_class", "standard".to_string()),
                    ("retain_until", retain_until.clone()),
                    ("sha256", sha),
                ];
                jobs.push((
                    names::segment_blob(&device, &rec, seq, file),
                    file.content_type(),
                    metadata,
                    data,
                ));
            }
        }
    }
    let n = jobs.len();
    let t = Instant::now();
    let before = store.requests();
    let tag_list = &tag_list;
    let mut uploads = futures::stream::iter(jobs.into_iter().map(
        |(name, content_type, metadata, data)| {
            let store = store.clone();
            async move {
                store
                    .put_new(&name, data, content_type, &metadata, tag_list)
                    .await
                    .map_err(|e| format!("{name}: {e}"))
            }
        },
    ))
    .buffer_unordered(32);
    let (mut done, mut failed, mut first_error) = (0usize, 0usize, None);
    let mut lap = Instant::now();
    while let Some(result) = uploads.next().await {
        done += 1;
        if let Err(e) = result {
            failed += 1;
            first_error.get_or_insert(e);
        }
        if done % PROGRESS_EVERY == 0 && done < n {
            eprintln!(
                "  {done}/{n} blobs, {:.0} blobs/s over the last {PROGRESS_EVERY}",
                PROGRESS_EVERY as f64 / lap.elapsed().as_secs_f64()
            );
            lap = Instant::now();
        }
    }
    assert_eq!(failed, 0, "{failed} uploads failed: {first_error:?}");
    let seconds = t.elapsed().as_secs_f64();
    println!(
        "seeded {n} blobs ({recordings} recording(s) x {segments} segment(s), {}) in {seconds:.1} s ({:.0} blobs/s) with {} request(s)",
        if due { "due" } else { "kept" },
        n as f64 / seconds,
        store.requests() - before
    );
}
