//! `bodycam dock-agent` end to end: real camera daemons (simulated sensor) with the
//! mutual-TLS dock API, the real agent binary, and Azurite from npm as Azure Blob
//! Storage, all on 127.0.0.1.
#![cfg(feature = "dock-agent")]

#[path = "common/agent.rs"]
mod agent;
mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use agent::*;
use common::*;

fn audit_events(d: &Daemon) -> Vec<(String, serde_json::Value)> {
    let data = std::fs::read(d.data.join("evidence/audit.log")).unwrap();
    bodycam::evidence::payload::decode_file(&data)
        .0
        .into_iter()
        .filter_map(|r| match r.payload {
            bodycam::evidence::payload::Payload::Audit(a) => {
                let detail = serde_json::from_str(&a.detail).unwrap_or(serde_json::Value::Null);
                Some((a.event, detail))
            }
            _ => None,
        })
        .collect()
}

/// Every blob name under `prefix`.
fn blobs(a: &Agent, prefix: &str) -> Vec<String> {
    let store = a.store();
    rt().block_on(store.list(prefix)).unwrap()
}

/// Blob → (sha256 of its bytes, metadata).
fn stored(a: &Agent, blob: &str) -> (String, BTreeMap<String, String>) {
    let store = a.store();
    let s = rt()
        .block_on(store.read_back(blob))
        .unwrap()
        .unwrap_or_else(|| panic!("no blob {blob}"));
    (s.sha256, s.metadata)
}

fn tags(a: &Agent, blob: &str) -> BTreeMap<String, String> {
    let store = a.store();
    rt().block_on(store.get_tags(blob)).unwrap()
}

fn verify_store(d: &Daemon) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(["verify", "--json"])
        .arg(&d.data)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)))
}

#[test]
fn docked_camera_is_offloaded_verified_acknowledged_and_freed() {
    let az = Azurite::start();
    let bay = Bay::new("[storage]\ndelete_after_ack = true");
    let rec1 = bay.record(5.0);
    let rec2 = bay.record(3.0);
    let on_camera = bay.segment_files();
    assert!(on_camera.len() >= 4, "{on_camera:?}");
    // Hashes before anything is freed.
    let hashes: Vec<(String, u32, String, String, String)> = on_camera
        .iter()
        .map(|(r, s, ts)| {
            (
                r.clone(),
                *s,
                sha256_file(ts),
                sha256_file(&ts.with_extension("journal")),
                sha256_file(&ts.with_extension("json")),
            )
        })
        .collect();
    bay.dock();
    let dev = bay.device_id();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    let out = agent.once();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "bay1 device={dev} COMPLETE: offloaded={}",
            on_camera.len()
        )),
        "{stdout}"
    );

    // Every segment: media, journal and sidecar, byte-exact, with metadata and tag.
    for (rec, seq, media_sha, journal_sha, meta_sha) in &hashes {
        let base = format!("{dev}/{rec}/{seq:06}");
        for (ext, sha) in [
            ("ts", media_sha),
            ("journal", journal_sha),
            ("json", meta_sha),
        ] {
            let (got, meta) = stored(&agent, &format!("{base}.{ext}"));
            assert_eq!(&got, sha, "{base}.{ext}");
            assert_eq!(meta.get("sha256"), Some(sha), "{base}.{ext}: {meta:?}");
            assert_eq!(meta.get("device"), Some(&dev));
            assert_eq!(meta.get("recording"), Some(rec));
            assert_eq!(meta.get("segment"), Some(&seq.to_string()));
            assert_eq!(
                meta.get("retention_class").map(String::as_str),
                Some("standard")
            );
            assert_eq!(meta.get("verify_status").map(String::as_str), Some("OK"));
            assert!(
                meta.get("utc_start").is_some_and(|u| u.starts_with("20")),
                "{meta:?}"
            );
            assert!(
                meta.get("utc_end").is_some_and(|u| u > &meta["utc_start"]),
                "{meta:?}"
            );
            assert!(
                meta.get("retain_until")
                    .is_some_and(|u| u.as_str() > "2026")
            );
            assert_eq!(
                tags(&agent, &format!("{base}.{ext}"))
                    .get("retention")
                    .map(String::as_str),
                Some("standard")
            );
        }
        // Acknowledged and, with delete_after_ack, freed; journal and sidecar stay.
        assert!(bay.acked(rec, *seq), "{rec}/{seq}");
        let ts = bay
            .daemon
            .data
            .join(format!("recordings/{rec}/{seq:06}.ts"));
        assert!(!ts.exists(), "{} not freed", ts.display());
        assert!(ts.with_extension("journal").exists());
    }
    let segment_blobs = blobs(&agent, &format!("{dev}/{rec1}/")).len()
        + blobs(&agent, &format!("{dev}/{rec2}/")).len();
    assert_eq!(segment_blobs, 3 * hashes.len());
    assert!(blobs(&agent, "quarantine/").is_empty());
    let audit = blobs(&agent, &format!("{dev}/audit/"));
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(blobs(&agent, &format!("{dev}/heads/")).len(), 1);

    // The camera's audit log records each acknowledgement and deletion, and the store
    // still verifies (freed segments as OFFLOADED).
    let events = audit_events(&bay.daemon);
    let acks = events.iter().filter(|(e, _)| e == "offload_ack").count();
    let freed = events.iter().filter(|(e, _)| e == "segment_freed").count();
    assert_eq!((acks, freed), (hashes.len(), hashes.len()), "{events:?}");
    let ack = events.iter().find(|(e, _)| e == "offload_ack").unwrap();
    assert!(
        ack.1["blob"]
            .as_str()
            .unwrap()
            .starts_with(&format!("bodycam/{dev}/")),
        "{ack:?}"
    );
    let report = verify_store(&bay.daemon);
    assert_eq!(report["ok"], true, "{report}");
    assert!(
        report["segments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "OFFLOADED"),
        "{report}"
    );

    // A second pass finds nothing to do and writes no further segment blobs.
    let again = agent.once();
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("offloaded=0"),
        "{}",
        text(&again)
    );
    let after = blobs(&agent, &format!("{dev}/{rec1}/")).len()
        + blobs(&agent, &format!("{dev}/{rec2}/")).len();
    assert_eq!(after, segment_blobs);

    // Classify one recording as evidence.
    let c = agent.run(&["classify", "--evidence", &format!("{dev}/{rec1}")], &[]);
    assert!(c.status.success(), "{}", text(&c));
    for b in blobs(&agent, &format!("{dev}/{rec1}/")) {
        assert_eq!(
            tags(&agent, &b).get("retention").map(String::as_str),
            Some("evidence"),
            "{b}"
        );
        let (_, meta) = stored(&agent, &b);
        assert_eq!(
            meta.get("retention_class").map(String::as_str),
            Some("evidence"),
            "{b}"
        );
        assert_eq!(
            meta.get("retain_until").map(String::as_str),
            Some("indefinite")
        );
        assert!(
            meta.contains_key("sha256"),
            "classification must keep the other metadata"
        );
    }
    for b in blobs(&agent, &format!("{dev}/{rec2}/")) {
        assert_eq!(
            tags(&agent, &b).get("retention").map(String::as_str),
            Some("standard"),
            "{b}"
        );
    }
    let none = agent.run(
        &["classify", "--evidence", &format!("{dev}/20200101T000000Z")],
        &[],
    );
    assert_eq!(none.status.code(), Some(1), "{}", text(&none));
    let bad = agent.run(&["classify", "--evidence", "../etc"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    // Undock: the API closes and recording works again.
    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    assert!(!listening(bay.port));
    let rec3 = bay.record(2.5);
    assert_ne!(rec3, rec2);
    let new_segments = bay
        .segment_files()
        .iter()
        .filter(|(r, _, _)| *r == rec3)
        .count();
    assert!(new_segments >= 1, "recording after undock wrote nothing");
}
