//! `bodycam dock-agent` end to end: real camera daemons (simulated sensor) with the
//! mutual-TLS dock API, the real agent binary, and Azurite from npm as Azure Blob
//! Storage, all on 127.0.0.1.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::common::agent::*;
use crate::common::*;

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
    d.verify_json().1
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

    // The camera shows "offload complete" (green steady) while still docked.
    let s = bay.daemon.status().unwrap();
    assert_eq!(s["leds"]["green"], "on", "{s}");

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
            let t = tags(&agent, &format!("{base}.{ext}"));
            assert_eq!(t.get("category").map(String::as_str), Some("standard"));
            assert_eq!(t.get("officer").map(String::as_str), Some("unassigned"));
            // When the 31 days end, as text that sorts in time order.
            assert!(
                t.get("retention")
                    .is_some_and(|r| r.len() == 20 && r.ends_with('Z') && r.as_str() > "2026"),
                "{t:?}"
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
    let events = audit_details(&bay.daemon.audit_log());
    let acks = events.iter().filter(|(e, _)| e == "offload_ack").count();
    let freed = events.iter().filter(|(e, _)| e == "segment_freed").count();
    assert_eq!((acks, freed), (hashes.len(), hashes.len()), "{events:?}");
    // The dock's time is recorded as a signed offset; the daemon does not set the clock.
    let clock = events
        .iter()
        .find(|(e, d)| e == "clock" && d["change"] == "dock")
        .unwrap_or_else(|| panic!("no dock clock entry: {events:?}"));
    assert_eq!(clock.1["applied"], false, "{clock:?}");
    assert!(
        clock.1["offset_ms"].as_i64().unwrap().abs() < 10_000,
        "{clock:?}"
    );
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

    // What is in the container verifies on its own: rebuilt as a store, checked from
    // counter 0 with the audit log and the head statement, against the enrolled key.
    let fetched = agent.dir.path().join("fetched");
    let f = agent.run(&["fetch", &dev, "--out", fetched.to_str().unwrap()], &[]);
    assert!(f.status.success(), "{}", text(&f));
    let head = std::fs::read_dir(fetched.join("heads"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let key = bay.identity()["public_key"].as_str().unwrap().to_string();
    let v = Command::new(BIN)
        .args(["verify", "--json", "--key", &key, "--head"])
        .arg(&head)
        .arg(&fetched)
        .output()
        .unwrap();
    let cloud: serde_json::Value =
        serde_json::from_slice(&v.stdout).unwrap_or_else(|_| panic!("{}", text(&v)));
    assert_eq!(cloud["ok"], true, "{cloud}");
    assert_eq!(
        cloud["segments"].as_array().unwrap().len(),
        hashes.len(),
        "{cloud}"
    );
    assert_eq!(cloud["head"]["status"], "OK", "{cloud}");

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
        let t = tags(&agent, &b);
        assert_eq!(
            t.get("category").map(String::as_str),
            Some("evidence"),
            "{b}"
        );
        assert_eq!(
            t.get("retention").map(String::as_str),
            Some("indefinite"),
            "{b}"
        );
        assert_eq!(
            t.get("officer").map(String::as_str),
            Some("unassigned"),
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
            tags(&agent, &b).get("category").map(String::as_str),
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

/// Blobs of segments (`<dev>/<rec>/...`) for every recording on the camera.
fn segment_blobs(a: &Agent, bay: &Bay) -> Vec<String> {
    let dev = bay.device_id();
    let mut out = Vec::new();
    for rec in bay.daemon.recordings() {
        let rec = rec.file_name().unwrap().to_string_lossy().into_owned();
        out.extend(blobs(a, &format!("{dev}/{rec}/")));
    }
    out
}

#[test]
fn interrupted_offloads_finish_on_rerun_without_duplicates_or_early_acks() {
    let az = Azurite::start();
    let mut bay = Bay::new("");
    bay.record(7.0);
    let on_camera = bay.segment_files();
    let n = on_camera.len();
    assert!(n >= 4, "{on_camera:?}");
    bay.dock();
    let dev = bay.device_id();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);

    // Crash points, in order; each run dies there (SIGABRT, as a power cut would stop it).
    let acked = |bay: &Bay| {
        on_camera
            .iter()
            .filter(|(r, s, _)| bay.acked(r, *s))
            .count()
    };
    let mut acks_before = 0;
    for point in [
        "mid-download",
        "after-download",
        "after-upload:2",
        "before-ack",
        "after-ack",
    ] {
        let out = agent.run(&["--once"], &[("BODYCAM_AGENT_FAILPOINT", point)]);
        assert!(
            !out.status.success() && out.status.code().is_none(),
            "{point}: the agent should have crashed\n{}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("failpoint"),
            "{}",
            text(&out)
        );
        // Nothing is acknowledged that is not stored with the right bytes.
        for (rec, seq, ts) in &on_camera {
            if bay.acked(rec, *seq) {
                let (sha, _) = stored(&agent, &format!("{dev}/{rec}/{seq:06}.ts"));
                assert_eq!(
                    sha,
                    sha256_file(ts),
                    "{point}: {rec}/{seq} acknowledged but stored differently"
                );
            }
        }
        if point == "mid-download" {
            let parts: Vec<_> = walk(&agent.dir.path().join("state"))
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "part"))
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
                .collect();
            assert_eq!(parts.len(), 1, "a partial download to resume: {parts:?}");
        }
        let now = acked(&bay);
        match point {
            // Killed before its first acknowledgement of this run.
            "mid-download" | "after-download" | "after-upload:2" | "before-ack" => {
                assert_eq!(now, acks_before, "{point}")
            }
            // Killed right after one acknowledgement.
            _ => assert_eq!(now, acks_before + 1, "{point}"),
        }
        acks_before = now;
    }
    // A partial download was left behind by the mid-download crash and resumed later.
    // The link drops too: the camera is killed and restarted, then docked again.
    assert_eq!(bay.daemon.signal(libc::SIGKILL).code(), None);
    bay.daemon.spawn();
    bay.daemon.wait_state("ready", Duration::from_secs(30));
    bay.dock();

    let out = agent.once();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(acked(&bay), n, "every segment acknowledged after the rerun");
    let names = segment_blobs(&agent, &bay);
    assert_eq!(
        names.len(),
        3 * n,
        "exactly three blobs per segment: {names:?}"
    );
    for (rec, seq, ts) in &on_camera {
        let (sha, meta) = stored(&agent, &format!("{dev}/{rec}/{seq:06}.ts"));
        assert_eq!(sha, sha256_file(ts));
        assert_eq!(meta.get("sha256"), Some(&sha));
    }
    assert!(blobs(&agent, "quarantine/").is_empty());
    // No stray partial downloads remain in the agent's state.
    let leftovers: Vec<_> = walk(&agent.dir.path().join("state"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "part" || e == "ts"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The store verifies after all of it.
    let report = verify_store(&bay.daemon);
    assert_eq!(report["ok"], true, "{report}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_tampered_segment_is_quarantined_never_acknowledged_and_stays_on_the_camera() {
    let az = Azurite::start();
    let bay = Bay::new("[storage]\ndelete_after_ack = true");
    let rec = bay.record(5.0);
    let on_camera = bay.segment_files();
    assert!(on_camera.len() >= 3);
    // Flip one byte in the middle of segment 2's media, on the camera's flash.
    let (_, victim_seq, victim) = on_camera[1].clone();
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&victim, &bytes).unwrap();

    bay.dock();
    let dev = bay.device_id();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    let out = agent.once();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("INCOMPLETE") && stdout.contains("quarantined=1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("QUARANTINED {rec}/{victim_seq:06}")),
        "{stdout}"
    );
    assert!(stdout.contains("TAMPERED"), "{stdout}");

    // Quarantined copy with a report; no regular blob; not acknowledged; still on flash.
    let q = blobs(&agent, &format!("quarantine/{dev}/{rec}/"));
    assert!(
        q.iter()
            .any(|b| b.ends_with(&format!("{victim_seq:06}.ts"))),
        "{q:?}"
    );
    assert!(
        q.iter()
            .any(|b| b.contains(&format!("{victim_seq:06}.report-"))),
        "{q:?}"
    );
    assert!(
        blobs(&agent, &format!("{dev}/{rec}/"))
            .iter()
            .all(|b| !b.contains(&format!("/{victim_seq:06}.")))
    );
    assert!(!bay.acked(&rec, victim_seq));
    assert!(victim.exists(), "a quarantined segment must never be freed");
    assert_eq!(std::fs::read(&victim).unwrap(), bytes);
    // The others were offloaded and freed.
    for (r, s, ts) in &on_camera {
        if *s != victim_seq {
            assert!(bay.acked(r, *s), "{r}/{s}");
            assert!(!ts.exists());
        }
    }
    // A rerun quarantines it again (same report, no new blobs) and still fails.
    let before = blobs(&agent, "quarantine/").len();
    let again = agent.once();
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert_eq!(blobs(&agent, "quarantine/").len(), before);
    assert!(!bay.acked(&rec, victim_seq));
}

#[test]
fn unenrolled_cameras_and_foreign_certificates_get_nothing_and_the_recorder_carries_on() {
    let az = Azurite::start();
    let bay = Bay::new("[storage]\ndelete_after_ack = true");
    bay.record(3.0);
    let on_camera = bay.segment_files();
    bay.dock();

    // 1. The device is not enrolled (the dock knows another camera).
    let stranger = {
        let rng = ring::rand::SystemRandom::new();
        let pk8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let id = bodycam::evidence::identity::Identity::from_pkcs8(pk8.as_ref()).unwrap();
        serde_json::to_value(id.public()).unwrap()
    };
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[stranger]);
    let out = agent.once();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not enrolled"),
        "{}",
        text(&out)
    );

    // 2. The dock's certificate comes from another CA: refused in the TLS handshake.
    let other = tempfile::tempdir().unwrap();
    pki_dev(other.path());
    let mixed = other.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::copy(bay.pki.join("ca.pem"), mixed.join("ca.pem")).unwrap();
    for f in ["dock.pem", "dock.key"] {
        std::fs::copy(other.path().join(f), mixed.join(f)).unwrap();
    }
    let agent2 = Agent::new(&az, &mixed, &[("bay1", bay.url())], &[bay.identity()]);
    let out = agent2.once();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ERROR"),
        "{}",
        text(&out)
    );

    // 3. The camera's certificate is not from the dock's CA: the agent refuses it.
    let agent3 = Agent::new(&az, other.path(), &[("bay1", bay.url())], &[bay.identity()]);
    let out = agent3.once();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // Nothing stored, nothing acknowledged, nothing freed; the recorder still records.
    assert!(segment_blobs(&agent, &bay).is_empty());
    for (r, s, ts) in &on_camera {
        assert!(!bay.acked(r, *s));
        assert!(ts.exists());
    }
    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    assert!(
        !listening(bay.port),
        "the dock API must not listen while undocked"
    );
    let out = agent3.once();
    assert_eq!(
        out.status.code(),
        Some(0),
        "an empty bay is not a failure: {}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NOT DOCKED"),
        "{}",
        text(&out)
    );
    let before = bay.segment_files().len();
    bay.record(2.5);
    assert!(bay.segment_files().len() > before);
}

#[test]
fn bad_agent_configs_exit_78_naming_the_problem() {
    let az = Azurite::start();
    let d = tempfile::tempdir().unwrap();
    let pki = d.path().join("pki");
    pki_dev(&pki);
    let agent = Agent::new(&az, &pki, &[("bay1", "https://127.0.0.1:9".into())], &[]);
    let good = std::fs::read_to_string(&agent.config).unwrap();
    let cases = [
        (
            good.replace("concurrency = 4", "concurrency = 4\nbogus = 1"),
            "bogus",
        ),
        (
            good.replace("https://127.0.0.1:9", "ftp://x"),
            "camera[0].url",
        ),
        (
            good.replace("container = \"bodycam\"", "container = \"Bad!\""),
            "azure.container",
        ),
        (
            good.replace("allow_http = true", "allow_http = false"),
            "azure.endpoint",
        ),
        (
            good.replace(
                &pki.join("dock.key").display().to_string(),
                "/nonexistent/dock.key",
            ),
            "/nonexistent/dock.key",
        ),
    ];
    for (text_, key) in cases {
        std::fs::write(&agent.config, &text_).unwrap();
        let out = agent.once();
        assert_eq!(out.status.code(), Some(78), "{key}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(key),
            "{key}: {}",
            text(&out)
        );
    }
    // A dock key readable by others is refused.
    std::fs::write(&agent.config, &good).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(pki.join("dock.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = agent.once();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out)
    );
}

#[test]
fn segments_removed_from_the_camera_break_the_chain_from_the_last_offload() {
    let az = Azurite::start();
    let bay = Bay::new("");
    bay.record(3.0);
    bay.dock();
    let dev = bay.device_id();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    // Bind the bay to its interface (here loopback; on a dock, the bay's USB link). A
    // wrong interface must not reach the camera at all.
    let cfg = std::fs::read_to_string(&agent.config).unwrap();
    let url_line = format!("url = \"{}\"\n", bay.url());
    assert!(cfg.contains(&url_line));
    std::fs::write(
        &agent.config,
        cfg.replace(&url_line, &format!("{url_line}interface = \"nosuchif0\"\n")),
    )
    .unwrap();
    let wrong = agent.once();
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(!bay.acked(&bay.segment_files()[0].0, 1));
    std::fs::write(
        &agent.config,
        cfg.replace(&url_line, &format!("{url_line}interface = \"lo\"\n")),
    )
    .unwrap();
    let first = agent.once();
    assert!(first.status.success(), "{}", text(&first));
    let ledger: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            agent
                .dir
                .path()
                .join(format!("state/devices/{dev}/ledger.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(ledger["anchor"]["counter"].as_u64().is_some(), "{ledger}");

    // Next shift: a new recording, whose first segment disappears from the flash
    // before the dock sees it (all three files).
    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    let rec2 = bay.record(5.0);
    let dir = bay.daemon.data.join(format!("recordings/{rec2}"));
    for ext in ["ts", "journal", "json"] {
        std::fs::remove_file(dir.join(format!("000001.{ext}"))).unwrap();
    }
    bay.dock();
    let out = agent.once();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("QUARANTINED {rec2}/000002")) && stdout.contains("MISSING"),
        "{stdout}"
    );
    assert!(!bay.acked(&rec2, 2));
    // The segments after the break link to it and are offloaded.
    assert!(bay.acked(&rec2, 3));
}

#[test]
fn an_existing_blob_with_other_bytes_is_never_overwritten_or_acknowledged() {
    let az = Azurite::start();
    let bay = Bay::new("");
    let rec = bay.record(3.0);
    bay.dock();
    let dev = bay.device_id();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    let store = agent.store();
    let blob = format!("{dev}/{rec}/000001.ts");
    rt().block_on(async {
        store.ensure_container().await.unwrap();
        store
            .put_new(
                &blob,
                bytes::Bytes::from_static(b"not the footage"),
                "video/mp2t",
                &[],
                &[],
            )
            .await
            .unwrap();
    });
    let out = agent.once();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("never overwritten"),
        "{}",
        text(&out)
    );
    assert!(!bay.acked(&rec, 1));
    let (sha, _) = stored(&agent, &blob);
    assert_eq!(
        sha,
        hex::encode(bodycam::evidence::record::sha256(b"not the footage"))
    );
}

#[test]
fn the_service_offloads_several_bays_at_once_and_stops_on_sigterm() {
    let az = Azurite::start();
    let bay1 = Bay::new("");
    // One agency CA for every camera and the dock, as in production.
    let bay2 = Bay::with_pki("", Some(&bay1.pki));
    bay1.record(3.0);
    bay2.record(3.0);
    bay1.dock();
    bay2.dock();
    let agent = Agent::new(
        &az,
        &bay1.pki,
        &[
            ("bay1", bay1.url()),
            ("bay2", bay2.url()),
            ("bay3", format!("https://127.0.0.1:{}", free_port())),
        ],
        &[bay1.identity(), bay2.identity()],
    );
    let cfg = std::fs::read_to_string(&agent.config).unwrap();
    std::fs::write(
        &agent.config,
        cfg.replace("concurrency = 4", "concurrency = 4\npoll_seconds = 1"),
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["dock-agent", "--config"])
        .arg(&agent.config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let all_acked = |bay: &Bay| bay.segment_files().iter().all(|(r, s, _)| bay.acked(r, *s));
    let start = std::time::Instant::now();
    while !(all_acked(&bay1) && all_acked(&bay2)) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "bays not offloaded in time"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A new recording on bay1 after undock and re-dock is picked up by a later pass.
    bay1.daemon.ctl_ok(&["undock"]);
    bay1.daemon.wait_state("ready", Duration::from_secs(20));
    bay1.record(2.5);
    bay1.dock();
    let start = std::time::Instant::now();
    while !all_acked(&bay1) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "new footage not offloaded"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("bay1 device={}", bay1.device_id())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("bay2 device={}", bay2.device_id())),
        "{stdout}"
    );
    assert!(stdout.contains("bay3 device=- NOT DOCKED"), "{stdout}");
    // The empty bay is reported once, not on every pass.
    assert_eq!(
        stdout.matches("bay3 device=- NOT DOCKED").count(),
        1,
        "{stdout}"
    );
    for bay in [&bay1, &bay2] {
        assert_eq!(
            segment_blobs(&agent, bay).len(),
            3 * bay.segment_files().len()
        );
    }
}

#[test]
fn on_a_terminal_each_bay_gets_a_progress_bar() {
    let az = Azurite::start();
    let bay = Bay::new("");
    bay.record(3.0);
    bay.dock();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    // script(1) gives the agent a pseudo-terminal; its output is the terminal's.
    let cmd = format!(
        "{BIN} dock-agent --config {} --once",
        agent.config.display()
    );
    let out = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "160")
        .output()
        .expect("script (bsdutils)");
    assert!(out.status.success(), "{}", text(&out));
    let screen = String::from_utf8_lossy(&out.stdout);
    // The bar template: bay name, a [=> ] bar, bytes done/total; then the summary line.
    assert!(screen.contains("bay1 ["), "{screen}");
    assert!(screen.contains("="), "{screen}");
    assert!(screen.contains("COMPLETE"), "{screen}");
    // Without a terminal there is no bar, only the summary line.
    let plain = agent.once();
    let stdout = String::from_utf8_lossy(&plain.stdout);
    assert!(!stdout.contains("bay1 ["), "{stdout}");
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("bay1 ["));
}

/// A TCP front for Azurite that closes its first connection as soon as a request's
/// headers have arrived, without an answer (as a service does with a pooled connection
/// it is just closing), and relays every later connection. Returns its port and how
/// many connections it accepted.
fn dropping_front(backend: u16) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                let (mut seen, mut buf) = (Vec::new(), [0u8; 1024]);
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                drop(conn);
                continue;
            }
            let up = TcpStream::connect(("127.0.0.1", backend)).unwrap();
            for (mut from, mut to) in [
                (conn.try_clone().unwrap(), up.try_clone().unwrap()),
                (up, conn),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        }
    });
    (port, accepted)
}

#[test]
fn a_request_the_service_drops_unanswered_is_sent_again_but_an_append_is_not() {
    use bodycam::agent::azure::BlobStore;
    use bodycam::agent::config::AgentConfig;
    use std::sync::atomic::Ordering;
    let az = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let store_via = |port: u16| {
        let path = dir.path().join(format!("agent-{port}.toml"));
        std::fs::write(
            &path,
            format!(
                "state_dir = \"{}\"\n[tls]\nca = \"ca.pem\"\ncert = \"dock.pem\"\nkey = \"dock.key\"\n\
                 [azure]\naccount = \"{ACCOUNT}\"\naccess_key = \"{ACCOUNT_KEY}\"\ncontainer = \"bodycam\"\n\
                 endpoint = \"http://127.0.0.1:{port}/{ACCOUNT}\"\nallow_http = true\n",
                dir.path().join("state").display()
            ),
        )
        .unwrap();
        bodycam::agent::install_crypto_provider();
        BlobStore::new(&AgentConfig::load(&path).unwrap()).unwrap()
    };
    let rt = rt();
    // Creating the container: the first connection is dropped, the request goes again
    // on a second one and is answered; both sends are counted.
    let (port, accepted) = dropping_front(az.port);
    let store = store_via(port);
    rt.block_on(store.ensure_container()).unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(store.requests(), 2);
    // Through the second connection the store works as usual.
    let (found, _) = rt
        .block_on(store.find_by_tags("\"category\" = 'standard'"))
        .unwrap();
    assert!(found.is_empty());
    // An append is never sent twice (a second copy would be a second line in a log):
    // the dropped one is an error for the caller, on one connection only.
    let (port, accepted) = dropping_front(az.port);
    let store = store_via(port);
    let err = rt
        .block_on(store.append("d/custody/x.log", b"line\n", true))
        .unwrap_err();
    assert!(err.to_string().contains("append"), "{err}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(store.requests(), 1);
}
