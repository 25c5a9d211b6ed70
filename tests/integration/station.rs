//! At the station (issue 14): officer assignment at the dock, categories and case ids,
//! retention, the lifecycle policy, priority offload and the chain-of-custody report.
//! Real camera daemons (simulated sensor) with the mutual-TLS dock API, the real agent
//! binary, and Azurite from npm, all on 127.0.0.1. Retention ages blobs through its
//! documented test seam (`BODYCAM_RETENTION_AGE_DAYS`), never by sleeping.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::agent::*;
use crate::common::*;

const AGE: &str = "BODYCAM_RETENTION_AGE_DAYS";
const FAILPOINT: &str = "BODYCAM_AGENT_FAILPOINT";

fn blobs(a: &Agent, prefix: &str) -> Vec<String> {
    rt().block_on(a.store().list(prefix)).unwrap()
}

fn tags(a: &Agent, blob: &str) -> BTreeMap<String, String> {
    rt().block_on(a.store().get_tags(blob)).unwrap()
}

fn metadata(a: &Agent, blob: &str) -> BTreeMap<String, String> {
    rt().block_on(a.store().metadata(blob)).unwrap().unwrap()
}

/// Blob names Find Blobs by Tags returns for `expression`.
fn find(a: &Agent, expression: &str) -> BTreeSet<String> {
    let (found, _) = rt().block_on(a.store().find_by_tags(expression)).unwrap();
    found.into_iter().map(|f| f.name).collect()
}

fn get_text(a: &Agent, blob: &str) -> Option<String> {
    rt().block_on(a.store().get(blob))
        .unwrap()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn sidecar(bay: &Bay, rec: &str, seq: u32) -> Value {
    let p = bay
        .daemon
        .data
        .join(format!("recordings/{rec}/{seq:06}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

fn descriptor(bay: &Bay, rec: &str) -> Value {
    let p = bay
        .daemon
        .data
        .join(format!("recordings/{rec}/recording.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// Segment numbers of recording `rec` on the camera.
fn segments_of(bay: &Bay, rec: &str) -> Vec<u32> {
    bay.segment_files()
        .into_iter()
        .filter(|(r, _, _)| r == rec)
        .map(|(_, s, _)| s)
        .collect()
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn custody(agent: &Agent, target: &str) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    ok(&agent.run(&["custody", target, "--out", out.to_str().unwrap()], &[]));
    let json = serde_json::from_slice(&std::fs::read(out.join("custody.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(out.join("custody.html")).unwrap();
    // To look at a report: BODYCAM_TEST_KEEP_REPORTS=DIR keeps a copy of each.
    if let Some(keep) = std::env::var_os("BODYCAM_TEST_KEEP_REPORTS") {
        let name = target.replace('/', "_");
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(
            out.join("custody.html"),
            Path::new(&keep).join(format!("{name}.html")),
        )
        .unwrap();
        std::fs::copy(
            out.join("custody.json"),
            Path::new(&keep).join(format!("{name}.json")),
        )
        .unwrap();
    }
    (json, html)
}

/// An HTML page that loads nothing from elsewhere.
fn assert_self_contained(html: &str) {
    for external in ["src=", "href=", "@import", "url(", "<script", "<link"] {
        assert!(!html.contains(external), "the report refers to {external}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
}

#[test]
fn officer_assignment_reaches_audit_log_sidecars_tags_and_the_custody_report() {
    let az = Azurite::start();
    let mut bay = Bay::new("");
    let dev = bay.device_id();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    let r0 = bay.record(2.5);
    assert_eq!(bay.daemon.status().unwrap()["officer"], Value::Null);

    bay.dock();
    // Bad officer ids are refused with a message naming the rule, before any request.
    for (bad, says) in [
        ("pc 4711", "not allowed"),
        ("../x", "not allowed"),
        (&"x".repeat(33) as &str, "at most 32"),
        ("unassigned", "reserved"),
    ] {
        let o = agent.run(&["assign", "bay1", bad], &[]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{bad}: {}",
            text(&o)
        );
    }
    // The camera refuses them too, whoever sends them (the agent's own check bypassed).
    let tls = bodycam::agent::camera::client_tls(&bodycam::agent::config::TlsConfig {
        ca: bay.pki.join("ca.pem"),
        cert: bay.pki.join("dock.pem"),
        key: bay.pki.join("dock.key"),
    })
    .unwrap();
    let client = bodycam::agent::camera::CameraClient::new(tls, &bay.url(), None).unwrap();
    let refused = rt()
        .block_on(client.assign(Some("a/b"), "test-dock"))
        .unwrap_err();
    assert!(
        matches!(&refused, bodycam::agent::camera::CameraError::Http { status: 400, message, .. } if message.contains("not allowed")),
        "{refused}"
    );
    assert_eq!(bay.daemon.status().unwrap()["officer"], Value::Null);
    let o = agent.run(&["assign", "bay9", "PC-4711"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = ok(&agent.run(&["assign", "bay1", "PC-4711"], &[]));
    assert!(
        out.contains("bay1: assigned to PC-4711 (was unassigned)"),
        "{out}"
    );
    assert_eq!(bay.daemon.status().unwrap()["officer"], "PC-4711");

    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    let r1 = bay.record(2.5);

    // Re-assigned while recording (docked mid-recording): the open recording keeps its
    // officer, the next one gets the new one.
    bay.daemon.ctl_ok(&["record", "start"]);
    bay.daemon
        .wait_for("recording", Duration::from_secs(30), |s| {
            s["state"] == "recording"
        });
    bay.daemon.ctl_ok(&["dock"]);
    let start = std::time::Instant::now();
    while !listening(bay.port) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "dock API not listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = ok(&agent.run(&["assign", "bay1", "PC-0815"], &[]));
    assert!(out.contains("keeps its officer"), "{out}");
    let s = bay.daemon.status().unwrap();
    assert_eq!(s["state"], "recording", "{s}");
    assert_eq!(s["officer"], "PC-0815", "{s}");
    assert_eq!(s["recording_officer"], "PC-4711", "{s}");
    // The picture keeps naming the open recording's officer, as its sidecars do.
    assert_eq!(s["camera"]["overlay"]["officer"], "PC-4711", "{s}");
    let r2 = s["recording_id"].as_str().unwrap().to_string();
    bay.daemon
        .wait_for("footage", Duration::from_secs(60), |s| {
            s["seconds_recorded"].as_f64() > Some(2.5)
        });
    bay.daemon.ctl_ok(&["record", "stop"]);
    let s = bay.daemon.wait_state("docked", Duration::from_secs(20));
    assert_eq!(s["camera"]["overlay"]["officer"], "PC-0815", "{s}");
    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));

    // The assignment survives a restart of the daemon.
    assert!(bay.daemon.signal(libc::SIGTERM).success());
    bay.daemon.spawn();
    bay.daemon.wait_state("ready", Duration::from_secs(30));
    assert_eq!(bay.daemon.status().unwrap()["officer"], "PC-0815");
    let r3 = bay.record(2.5);

    // recording.json and every sidecar carry the officer of their recording.
    for (rec, officer) in [
        (&r0, Value::Null),
        (&r1, "PC-4711".into()),
        (&r2, "PC-4711".into()),
        (&r3, "PC-0815".into()),
    ] {
        assert_eq!(descriptor(&bay, rec)["officer"], officer, "{rec}");
        for seq in segments_of(&bay, rec) {
            assert_eq!(sidecar(&bay, rec, seq)["officer"], officer, "{rec}/{seq}");
        }
    }
    // The signed audit log records both assignments and each start's officer.
    let events = audit_details(&bay.daemon.audit_log());
    let assigned: Vec<&Value> = events
        .iter()
        .filter(|(e, _)| e == "officer_assigned")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(assigned.len(), 2, "{events:?}");
    assert_eq!(assigned[0]["officer"], "PC-4711");
    assert_eq!(assigned[0]["previous"], Value::Null);
    assert_eq!(assigned[0]["dock"], "test-dock");
    assert_eq!(assigned[1]["officer"], "PC-0815");
    assert_eq!(assigned[1]["previous"], "PC-4711");
    assert_eq!(assigned[1]["recording_open"], r2.as_str());
    let start_officer = |rec: &str| {
        events
            .iter()
            .find(|(e, d)| e == "recording_start" && d["recording_id"] == rec)
            .map(|(_, d)| d["officer"].clone())
            .unwrap()
    };
    assert_eq!(start_officer(&r0), Value::Null);
    assert_eq!(start_officer(&r2), "PC-4711");
    assert_eq!(start_officer(&r3), "PC-0815");

    // An assignment file for the bay is applied when the camera docks.
    let file = agent.dir.path().join("bay1.officer");
    std::fs::write(&file, "PC-9999\n").unwrap();
    agent.set_bay_key(
        &bay.url(),
        &format!("assignment_file = \"{}\"", file.display()),
    );
    bay.dock();
    let out = ok(&agent.once());
    let unassigned = segments_of(&bay, &r0).len();
    assert!(out.contains("assigned to PC-9999"), "{out}");
    // Footage recorded without an officer is flagged on upload.
    assert!(
        out.contains(&format!(
            "UNASSIGNED {unassigned} segment(s) recorded without an officer"
        )),
        "{out}"
    );
    assert_eq!(bay.daemon.status().unwrap()["officer"], "PC-9999");

    // Tags and metadata in the container.
    for (rec, officer) in [
        (&r0, "unassigned"),
        (&r1, "PC-4711"),
        (&r2, "PC-4711"),
        (&r3, "PC-0815"),
    ] {
        for b in blobs(&agent, &format!("{dev}/{rec}/")) {
            assert_eq!(tags(&agent, &b)["officer"], officer, "{b}");
            assert_eq!(metadata(&agent, &b)["officer"], officer, "{b}");
        }
    }
    assert_eq!(
        find(&agent, "\"officer\" = 'PC-4711'").len(),
        blobs(&agent, &format!("{dev}/{r1}/")).len() + blobs(&agent, &format!("{dev}/{r2}/")).len()
    );

    // The chain-of-custody report names the officer, the upload and what the camera signed.
    let (report, html) = custody(&agent, &format!("{dev}/{r1}"));
    assert_eq!(report["format"], "bodycam-custody/1");
    assert_eq!(report["recording"]["officer"], "PC-4711", "{report}");
    assert_eq!(report["recording"]["unassigned"], false);
    assert_eq!(report["device"]["enrolled"], true);
    let upload = &report["uploads"][0];
    assert_eq!(upload["dock"], "test-dock", "{report}");
    assert_eq!(
        upload["verification"],
        serde_json::json!(["OK"]),
        "{report}"
    );
    assert_eq!(upload["segments"], segments_of(&bay, &r1).len());
    let camera: Vec<&str> = report["camera_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(camera.first(), Some(&"officer_assigned"), "{camera:?}");
    assert!(
        camera.contains(&"recording_start") && camera.contains(&"recording_stop"),
        "{camera:?}"
    );
    assert!(camera.contains(&"offload_ack"), "{camera:?}");
    assert!(
        report["camera_events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["verified"] == true),
        "{report}"
    );
    assert!(html.contains("PC-4711") && html.contains("test-dock"));
    assert_self_contained(&html);
    let (report0, html0) = custody(&agent, &format!("{dev}/{r0}"));
    assert_eq!(report0["recording"]["unassigned"], true, "{report0}");
    assert!(html0.contains("UNASSIGNED"));
}

/// A dock's client for `bay` (mutual TLS with the development PKI), for what the agent
/// does not send on its own.
fn camera_client(bay: &Bay) -> bodycam::agent::camera::CameraClient {
    let tls = bodycam::agent::camera::client_tls(&bodycam::agent::config::TlsConfig {
        ca: bay.pki.join("ca.pem"),
        cert: bay.pki.join("dock.pem"),
        key: bay.pki.join("dock.key"),
    })
    .unwrap();
    bodycam::agent::camera::CameraClient::new(tls, &bay.url(), None).unwrap()
}

#[test]
fn the_burned_in_picture_names_the_assigned_officer() {
    const W: usize = 320;
    const H: usize = 240;
    const FPS: usize = 15;
    let mut bay = Bay::new(&format!(
        "[camera]\nwidth = {W}\nheight = {H}\nframerate = {FPS}\nbitrate_kbps = 3000\npattern = \"snow\"\noverlay_scale = 1\n"
    ));
    let overlay = |bay: &Bay| bay.daemon.status().unwrap()["camera"]["overlay"].clone();
    assert_eq!(overlay(&bay)["officer"], Value::Null);
    let camera = overlay(&bay)["camera_id"].as_str().unwrap().to_string();

    bay.dock();
    let client = camera_client(&bay);
    rt().block_on(client.assign(Some("PC-4711"), "test-dock"))
        .unwrap();
    assert_eq!(overlay(&bay)["officer"], "PC-4711");
    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    let rec = bay.record(2.5);

    // The frames show `OFC PC-4711`: the box composed with that officer fits them pixel
    // for pixel (but for a few the encoder blurred), one with another officer does not.
    let seg = &segments(&bay.daemon.data.join("recordings").join(&rec))[0];
    let start: chrono::DateTime<chrono::Utc> = sidecar(&bay, &rec, 1)["utc_start"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let synchronised = bodycam::clock::clock_synchronised();
    let luma = luma_frame(seg, 0, W, H);
    let fit = |officer| overlay_fit(&luma, (W, H), start, &camera, officer, synchronised);
    let (_, right, _) = fit(Some("PC-4711"));
    let (_, wrong, _) = fit(Some("PC-0815"));
    assert!(
        right < 0.03 && wrong > right + 0.005,
        "mismatch with PC-4711 {right:.4}, with PC-0815 {wrong:.4}"
    );

    // After a restart the camera reads its officer from assignment.json.
    assert!(bay.daemon.signal(libc::SIGTERM).success());
    bay.daemon.spawn();
    bay.daemon.wait_state("ready", Duration::from_secs(30));
    assert_eq!(overlay(&bay)["officer"], "PC-4711");

    // Cleared: the picture names no officer.
    bay.dock();
    rt().block_on(camera_client(&bay).assign(None, "test-dock"))
        .unwrap();
    assert_eq!(overlay(&bay)["officer"], Value::Null);
}

#[test]
fn classification_is_set_and_searched_by_tag_and_unknown_categories_are_refused() {
    let az = Azurite::start();
    let bay = Bay::new("");
    let dev = bay.device_id();
    let r1 = bay.record(2.5);
    let r2 = bay.record(2.5);
    let r3 = bay.record(2.5);
    bay.dock();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    agent.append_config("[[category]]\nname = \"traffic\"\ndays = 90\n");
    ok(&agent.once());
    let of = |rec: &str| blobs(&agent, &format!("{dev}/{rec}/"));
    let before: BTreeMap<String, BTreeMap<String, String>> = of(&r1)
        .into_iter()
        .map(|b| (b.clone(), tags(&agent, &b)))
        .collect();

    // Refused before anything changes: a category not in the table, a case id with path
    // characters, nothing to change, no target.
    let target = format!("{dev}/{r1}");
    for (args, says) in [
        (
            vec!["classify", "--category", "parking", &target],
            "unknown category \"parking\"",
        ),
        (
            vec![
                "classify",
                "--category",
                "traffic",
                "--case",
                "../etc",
                &target,
            ],
            "path characters",
        ),
        (
            vec!["classify", "--case", "a/b", &target],
            "path characters",
        ),
        (vec!["classify", &target], "--category"),
    ] {
        let o = agent.run(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{args:?}: {}",
            text(&o)
        );
    }
    let o = agent.run(&["classify", "--category", "traffic"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let after: BTreeMap<String, BTreeMap<String, String>> = of(&r1)
        .into_iter()
        .map(|b| (b.clone(), tags(&agent, &b)))
        .collect();
    assert_eq!(before, after, "a refused classification changed tags");
    assert!(get_text(&agent, &format!("{dev}/custody/classifications.log")).is_none());

    // Two recordings at once: category and case, searched by tag.
    let out = ok(&agent.run(
        &[
            "classify",
            "--category",
            "traffic",
            "--case",
            "2026-0042",
            "--by",
            "sgt.miller",
            &format!("{dev}/{r1}"),
            &format!("{dev}/{r2}"),
        ],
        &[],
    ));
    assert!(
        out.contains(&format!("of {dev}/{r1}")) && out.contains(&format!("of {dev}/{r2}")),
        "{out}"
    );
    let both: BTreeSet<String> = of(&r1).into_iter().chain(of(&r2)).collect();
    assert_eq!(find(&agent, "\"case\" = '2026-0042'"), both);
    assert_eq!(find(&agent, "\"category\" = 'traffic'"), both);
    assert_eq!(
        find(&agent, "\"category\" = 'standard'"),
        of(&r3).into_iter().collect::<BTreeSet<_>>()
    );
    for b in &both {
        let t = tags(&agent, b);
        let m = metadata(&agent, b);
        assert_eq!(t["category"], "traffic");
        assert_eq!(m["retention_class"], "traffic");
        // The period runs 90 days from the blob's creation at the service.
        let until = chrono::DateTime::parse_from_rfc3339(&t["retention"]).unwrap();
        let days =
            (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours() as f64 / 24.0;
        assert!((89.9..=90.0).contains(&days), "{t:?}");
        assert_eq!(t["legal_hold"], "no");
    }
    // Evidence, with a hold, then released.
    ok(&agent.run(
        &[
            "classify",
            "--evidence",
            &format!("{dev}/{r1}"),
            "--by",
            "det.jones",
        ],
        &[],
    ));
    ok(&agent.run(&["classify", "--hold", &format!("{dev}/{r1}")], &[]));
    assert_eq!(
        find(&agent, "\"legal_hold\" = 'yes'"),
        of(&r1).into_iter().collect()
    );
    ok(&agent.run(&["classify", "--release-hold", &format!("{dev}/{r1}")], &[]));
    assert!(find(&agent, "\"legal_hold\" = 'yes'").is_empty());
    for b in of(&r1) {
        let t = tags(&agent, &b);
        assert_eq!(
            (t["category"].as_str(), t["retention"].as_str()),
            ("evidence", "indefinite")
        );
        assert_eq!(t["case"], "2026-0042", "classification keeps the case");
    }

    // The append-only classification log says who did what, when.
    let log = get_text(&agent, &format!("{dev}/custody/classifications.log")).unwrap();
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 5, "{log}");
    assert_eq!(entries[0]["operator"], "sgt.miller");
    assert_eq!(entries[0]["recording_id"], r1.as_str());
    assert_eq!(entries[1]["recording_id"], r2.as_str());
    assert_eq!(entries[0]["before"]["category"], "standard");
    assert_eq!(entries[0]["after"]["category"], "traffic");
    assert_eq!(entries[0]["after"]["case"], "2026-0042");
    assert_eq!(entries[2]["operator"], "det.jones");
    assert_eq!(entries[2]["after"]["category"], "evidence");
    assert_eq!(entries[3]["after"]["legal_hold"], true);
    assert_eq!(entries[4]["after"]["legal_hold"], false);
    // And the custody report lists the changes.
    let (report, html) = custody(&agent, &format!("{dev}/{r1}"));
    assert_eq!(
        report["classification"]["changes"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(report["classification"]["current"]["category"], "evidence");
    assert!(html.contains("sgt.miller") && html.contains("det.jones"));
}

/// The deletion log's records.
fn deletion_records(agent: &Agent, dev: &str) -> Vec<Value> {
    get_text(agent, &format!("{dev}/custody/deletions.log"))
        .map(|t| {
            t.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn retention(agent: &Agent, apply: bool, env: &[(&str, &str)]) -> std::process::Output {
    let mut args = vec!["retention"];
    if apply {
        args.push("--apply");
    }
    agent.run(&args, env)
}

#[test]
fn retention_deletes_only_what_is_due_records_first_and_converges_after_crashes() {
    let az = Azurite::start();
    let bay = Bay::new("");
    let dev = bay.device_id();
    // Oldest first: two standard recordings that will be due, then one kept 90 days,
    // one evidence, one held, and a standard one that stays on the camera side too.
    let a1 = bay.record(2.5);
    let a2 = bay.record(2.5);
    let traffic = bay.record(2.5);
    let evidence = bay.record(2.5);
    let held = bay.record(2.5);
    let camera_hashes: BTreeMap<(String, u32), String> = bay
        .segment_files()
        .into_iter()
        .map(|(r, s, ts)| ((r, s), sha256_file(&ts)))
        .collect();
    bay.dock();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    agent.append_config("[[category]]\nname = \"traffic\"\ndays = 90\n");
    ok(&agent.once());
    ok(&agent.run(
        &[
            "classify",
            "--category",
            "traffic",
            &format!("{dev}/{traffic}"),
        ],
        &[],
    ));
    ok(&agent.run(
        &["classify", "--evidence", &format!("{dev}/{evidence}")],
        &[],
    ));
    ok(&agent.run(&["classify", "--hold", &format!("{dev}/{held}")], &[]));
    let of = |rec: &str| blobs(&agent, &format!("{dev}/{rec}/"));
    let all_before: BTreeSet<String> = [&a1, &a2, &traffic, &evidence, &held]
        .iter()
        .flat_map(|r| of(r))
        .collect();
    let size = |rec: &str| -> u64 {
        rt().block_on(agent.store().list_detailed(&format!("{dev}/{rec}/")))
            .unwrap()
            .iter()
            .map(|b| b.len)
            .sum()
    };

    // Today nothing is due: everything is inside its period.
    let out = ok(&retention(&agent, false, &[]));
    assert!(out.contains("would delete 0 recording(s)"), "{out}");
    // 40 days on (the seam), a dry run names the two standard recordings and their
    // bytes, keeps the rest, and deletes nothing.
    let aged = [(AGE, "40")];
    let out = ok(&retention(&agent, false, &aged));
    for rec in [&a1, &a2] {
        let line = format!(
            "would delete {dev}/{rec}: {} blob(s), {} bytes",
            of(rec).len(),
            size(rec)
        );
        assert!(out.contains(&line), "{line}\n{out}");
    }
    assert!(
        out.contains(&format!("keep {dev}/{held}: under a legal hold")),
        "{out}"
    );
    assert!(
        !out.contains(&format!("{dev}/{evidence}")),
        "evidence is never even found: {out}"
    );
    assert!(
        !out.contains(&format!("{dev}/{traffic}")),
        "traffic is not due at 40 days: {out}"
    );
    assert!(out.contains("would delete 2 recording(s)"), "{out}");
    let all_now: BTreeSet<String> = [&a1, &a2, &traffic, &evidence, &held]
        .iter()
        .flat_map(|r| of(r))
        .collect();
    assert_eq!(all_now, all_before, "a dry run deleted something");
    assert!(deletion_records(&agent, &dev).is_empty());

    // Crash after the deletion record, before any delete: recorded, nothing deleted.
    let crashed = retention(
        &agent,
        true,
        &[aged[0], (FAILPOINT, "retention-after-record")],
    );
    assert_eq!(crashed.status.code(), None, "{}", text(&crashed));
    let records = deletion_records(&agent, &dev);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["recording_id"], a1.as_str());
    assert_eq!(
        of(&a1).len(),
        3 * segments_of(&bay, &a1).len(),
        "deleted before the record?"
    );
    // Crash between deletes: the record is not written twice, some of a1 is gone.
    let crashed = retention(
        &agent,
        true,
        &[aged[0], (FAILPOINT, "retention-between-deletes")],
    );
    assert_eq!(crashed.status.code(), None, "{}", text(&crashed));
    assert_eq!(deletion_records(&agent, &dev).len(), 1);
    let left = of(&a1).len();
    assert!(
        left > 0 && left < 3 * segments_of(&bay, &a1).len(),
        "{left}"
    );
    // Crash after a1's last delete, before its stored versions are removed: a1 is gone
    // from the tag query, and only its marker (found by its own tag) says the removal
    // is unfinished.
    let markers = || find(&agent, "\"retention_pending\" = 'versions'");
    let crashed = retention(
        &agent,
        true,
        &[aged[0], (FAILPOINT, "retention-before-versions")],
    );
    assert_eq!(crashed.status.code(), None, "{}", text(&crashed));
    assert!(of(&a1).is_empty());
    assert_eq!(
        markers(),
        BTreeSet::from([format!("{dev}/custody/versions-pending/{a1}")])
    );
    // The next run converges: a1's removal finished first, a2 recorded and deleted,
    // and no marker is left.
    let out = ok(&retention(&agent, true, &aged));
    assert!(
        out.contains(&format!(
            "finished removing the stored versions of {dev}/{a1}"
        )),
        "{out}"
    );
    assert!(out.contains("deleted 1 recording(s)"), "{out}");
    assert!(of(&a1).is_empty() && of(&a2).is_empty());
    assert!(markers().is_empty(), "{:?}", markers());
    for rec in [&traffic, &evidence, &held] {
        assert_eq!(
            of(rec).len(),
            3 * segments_of(&bay, rec).len(),
            "{rec} was touched"
        );
    }
    let records = deletion_records(&agent, &dev);
    assert_eq!(records.len(), 2, "{records:?}");
    // And a repeated run finds nothing more to do.
    let out = ok(&retention(&agent, true, &aged));
    assert!(out.contains("deleted 0 recording(s)"), "{out}");
    assert_eq!(deletion_records(&agent, &dev).len(), 2);

    // Each record: the rule, and per segment the signed media hash and the chain span.
    for (r, rec) in records.iter().zip([&a1, &a2]) {
        assert_eq!(r["format"], "bodycam-deletion/1");
        assert_eq!(r["recording_id"], rec.as_str());
        assert_eq!(r["rule"]["category"], "standard");
        assert_eq!(r["rule"]["days"], 31);
        assert_eq!(r["rule"]["margin_hours"], 24);
        assert_eq!(r["rule"]["test_age_days"], 40);
        let segs = r["segments"].as_array().unwrap();
        assert_eq!(segs.len(), segments_of(&bay, rec).len());
        for s in segs {
            let seq = s["segment"].as_u64().unwrap() as u32;
            assert_eq!(
                s["media_sha256"],
                camera_hashes[&(rec.to_string(), seq)].as_str()
            );
            assert_eq!(s["journal_verified"], true);
            assert_eq!(s["blobs"].as_array().unwrap().len(), 3);
            assert!(s["span"]["last_counter"].as_u64() >= s["span"]["first_counter"].as_u64());
        }
    }
    assert_eq!(records[0]["segments"][0]["span"]["first_counter"], 0);
    assert_eq!(
        records[0]["segments"][0]["span"]["first_prev_hash"],
        "0".repeat(64).as_str()
    );

    // A fetched copy verifies: the deleted segments are DELETED, not MISSING, and the
    // surviving chain links across the gap.
    let fetched = agent.dir.path().join("fetched");
    ok(&agent.run(&["fetch", &dev, "--out", fetched.to_str().unwrap()], &[]));
    let head = newest_head(&fetched);
    let key = bay.identity()["public_key"].as_str().unwrap().to_string();
    let v = Command::new(BIN)
        .args(["verify", "--json", "--key", &key, "--head"])
        .arg(&head)
        .arg(&fetched)
        .output()
        .unwrap();
    let report: Value =
        serde_json::from_slice(&v.stdout).unwrap_or_else(|_| panic!("{}", text(&v)));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(v.status.code(), Some(0));
    let status: BTreeMap<(String, u64), String> = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                (
                    s["recording_id"].as_str().unwrap().to_string(),
                    s["segment"].as_u64().unwrap(),
                ),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for ((rec, _), st) in &status {
        let want = if *rec == a1 || *rec == a2 {
            "DELETED"
        } else {
            "OK"
        };
        assert_eq!(st, want, "{rec}: {report}");
    }
    assert_eq!(status.len(), camera_hashes.len());
    assert!(
        report["verdict"]
            .as_str()
            .unwrap()
            .contains("deleted under retention"),
        "{report}"
    );
    // Tampering with the record so that a span no longer links is caught: MISSING.
    let deletions = fetched.join("evidence/deletions.jsonl");
    let text_log = std::fs::read_to_string(&deletions).unwrap();
    let mut first: Value = serde_json::from_str(text_log.lines().next().unwrap()).unwrap();
    first["segments"][0]["span"]["first_prev_hash"] = "11".repeat(32).into();
    std::fs::write(
        &deletions,
        format!("{first}\n{}\n", text_log.lines().nth(1).unwrap()),
    )
    .unwrap();
    let v = Command::new(BIN)
        .args(["verify", "--json", "--key", &key])
        .arg(&fetched)
        .output()
        .unwrap();
    let bad: Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(bad["ok"], false, "{bad}");
    assert_eq!(v.status.code(), Some(1));

    // The custody report of a deleted recording still tells its story.
    let (c, html) = custody(&agent, &format!("{dev}/{a1}"));
    assert_eq!(c["deletions"].as_array().unwrap().len(), 1, "{c}");
    assert_eq!(c["recording"]["segments_stored"], 0);
    assert_eq!(
        c["recording"]["segments_deleted"],
        segments_of(&bay, &a1).len()
    );
    assert!(html.contains("deleted under retention"));
    assert_self_contained(&html);
}

fn newest_head(store: &Path) -> std::path::PathBuf {
    let mut heads: Vec<_> = std::fs::read_dir(store.join("heads"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    heads.sort();
    heads.pop().unwrap()
}

/// Azure's lifecycle-management policy schema (Microsoft.Storage managementPolicies,
/// as documented): allowed keys, required fields, types and limits. Panics on the
/// first violation.
fn check_lifecycle_schema(policy: &Value, container: &str) {
    let keys = |v: &Value, allowed: &[&str], what: &str| {
        let o = v
            .as_object()
            .unwrap_or_else(|| panic!("{what} is not an object: {v}"));
        for k in o.keys() {
            assert!(allowed.contains(&k.as_str()), "{what}: unknown key {k:?}");
        }
        o.clone()
    };
    let top = keys(policy, &["rules"], "policy");
    let rules = top["rules"].as_array().expect("rules is an array");
    assert!((1..=100).contains(&rules.len()), "1 to 100 rules");
    let mut names = BTreeSet::new();
    for r in rules {
        let rule = keys(r, &["enabled", "name", "type", "definition"], "rule");
        let name = rule["name"].as_str().expect("name is a string");
        assert!(
            (1..=256).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "rule name {name:?}: up to 256 alphanumeric characters"
        );
        assert!(names.insert(name.to_string()), "rule names are unique");
        assert_eq!(rule["type"], "Lifecycle");
        if let Some(e) = rule.get("enabled") {
            assert!(e.is_boolean());
        }
        let def = keys(&rule["definition"], &["filters", "actions"], "definition");
        if let Some(f) = def.get("filters") {
            let f = keys(
                f,
                &["blobTypes", "prefixMatch", "blobIndexMatch"],
                "filters",
            );
            let types = f["blobTypes"].as_array().expect("blobTypes is required");
            assert!(!types.is_empty());
            assert!(types.iter().all(|t| t == "blockBlob" || t == "appendBlob"));
            if let Some(p) = f.get("prefixMatch") {
                let p = p.as_array().unwrap();
                assert!(p.len() <= 10);
                assert!(
                    p.iter()
                        .all(|x| x.as_str().unwrap().starts_with(&format!("{container}/")))
                );
            }
            if let Some(m) = f.get("blobIndexMatch") {
                let m = m.as_array().unwrap();
                assert!((1..=10).contains(&m.len()));
                for c in m {
                    let c = keys(c, &["name", "op", "value"], "blobIndexMatch");
                    let name = c["name"].as_str().expect("name");
                    let value = c["value"].as_str().expect("value");
                    assert_eq!(c["op"], "==");
                    let tag_chars = |s: &str| {
                        s.chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || " +-./:=_".contains(ch))
                    };
                    assert!((1..=128).contains(&name.len()) && tag_chars(name));
                    assert!(value.len() <= 256 && tag_chars(value));
                }
            }
        }
        let actions = keys(
            &def["actions"],
            &["baseBlob", "snapshot", "version"],
            "actions",
        );
        assert!(!actions.is_empty(), "at least one action");
        let days = |cond: &Value, allowed: &[&str], what: &str| {
            let c = keys(cond, allowed, what);
            assert_eq!(
                c.len(),
                1,
                "{what}: exactly one (mutually exclusive) condition"
            );
            let n = c.values().next().unwrap().as_u64().expect("an integer");
            assert!(n <= 99_999);
        };
        if let Some(b) = actions.get("baseBlob") {
            let b = keys(
                b,
                &[
                    "delete",
                    "tierToCool",
                    "tierToCold",
                    "tierToArchive",
                    "tierToHot",
                    "enableAutoTierToHotFromCool",
                ],
                "baseBlob",
            );
            for (k, v) in &b {
                if k != "enableAutoTierToHotFromCool" {
                    days(
                        v,
                        &[
                            "daysAfterModificationGreaterThan",
                            "daysAfterLastAccessTimeGreaterThan",
                            "daysAfterCreationGreaterThan",
                            "daysAfterLastTierChangeGreaterThan",
                        ],
                        k,
                    );
                }
            }
        }
        for which in ["snapshot", "version"] {
            if let Some(v) = actions.get(which) {
                let v = keys(
                    v,
                    &[
                        "delete",
                        "tierToCool",
                        "tierToCold",
                        "tierToArchive",
                        "tierToHot",
                    ],
                    which,
                );
                for (k, c) in &v {
                    days(
                        c,
                        &[
                            "daysAfterCreationGreaterThan",
                            "daysAfterLastTierChangeGreaterThan",
                        ],
                        k,
                    );
                    assert!(
                        c.get("daysAfterCreationGreaterThan").is_some(),
                        "{which}.{k}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_lifecycle_policy_is_of_azures_schema_and_matches_the_category_table() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"state\"\n[tls]\nca = \"ca.pem\"\ncert = \"dock.pem\"\nkey = \"dock.key\"\n\
             [azure]\naccount = \"{ACCOUNT}\"\naccess_key = \"{ACCOUNT_KEY}\"\ncontainer = \"evidence-store\"\n\
             [[category]]\nname = \"traffic\"\ndays = 90\n\
             [[category]]\nname = \"homicide\"\n\
             [[category]]\nname = \"stop-and-search\"\ndays = 365\n\
             [retention]\nmargin_hours = 36\n"
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["dock-agent", "--config"])
        .arg(&cfg)
        .arg("lifecycle-policy")
        .output()
        .unwrap();
    let policy: Value = serde_json::from_str(&ok(&out)).unwrap();
    check_lifecycle_schema(&policy, "evidence-store");
    // One rule per category with days and spread bucket, by tag, never for indefinite
    // ones or held footage, and never earlier than the job: days + the margin rounded
    // up + one day (an offload pass) + the bucket.
    let mut by_category: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    for r in policy["rules"].as_array().unwrap() {
        let m = r["definition"]["filters"]["blobIndexMatch"]
            .as_array()
            .unwrap();
        let tag = |name: &str| {
            m.iter()
                .find(|c| c["name"] == name)
                .map(|c| c["value"].clone())
        };
        assert_eq!(tag("legal_hold"), Some("no".into()), "{r}");
        let days =
            &r["definition"]["actions"]["baseBlob"]["delete"]["daysAfterCreationGreaterThan"];
        assert_eq!(
            days,
            &r["definition"]["actions"]["version"]["delete"]["daysAfterCreationGreaterThan"]
        );
        let bucket: u64 = tag("spread").unwrap().as_str().unwrap().parse().unwrap();
        let before = by_category
            .entry(tag("category").unwrap().as_str().unwrap().to_string())
            .or_default()
            .insert(bucket, days.as_u64().unwrap());
        assert_eq!(before, None, "two rules for one category and bucket: {r}");
    }
    let buckets = [0u64, 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536];
    let want: BTreeMap<String, BTreeMap<u64, u64>> =
        [("standard", 31), ("traffic", 90), ("stop-and-search", 365)]
            .into_iter()
            .map(|(k, d)| {
                let rules = buckets.iter().map(|b| (*b, d + 2 + 1 + b)).collect();
                (k.to_string(), rules)
            })
            .collect();
    assert_eq!(by_category, want);
    // A table that does not validate gives no policy (exit 78, naming the key).
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("days = 90", "days = 0"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["dock-agent", "--config"])
        .arg(&cfg)
        .arg("lifecycle-policy")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("category[0].days"));
    // More categories with days than 100 rules can hold (10 buckets each): refused, and
    // the job named instead.
    let mut many = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("days = 0", "days = 90");
    for i in 0..8 {
        many.push_str(&format!(
            "[[category]]\nname = \"extra{i}\"\ndays = {}\n",
            10 + i
        ));
    }
    let many = many.replace("[retention]\nmargin_hours = 36\n", "");
    std::fs::write(&cfg, format!("{many}[retention]\nmargin_hours = 36\n")).unwrap();
    let out = Command::new(BIN)
        .args(["dock-agent", "--config"])
        .arg(&cfg)
        .arg("lifecycle-policy")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("110 lifecycle rules") && err.contains("retention job"),
        "{err}"
    );
}

#[test]
fn priority_footage_is_offloaded_first_newest_first_then_routine_in_order() {
    let az = Azurite::start();
    let bay = Bay::new("");
    let routine1 = bay.record(2.5);
    let marked1 = bay.record_with(2.5, &["record", "start"], &["record", "stop"], 1);
    let routine2 = bay.record_with(2.5, &["button", "double"], &["record", "stop"], 0);
    let marked2 = bay.record_with(2.5, &["record", "start"], &["record", "stop"], 1);
    assert_eq!(descriptor(&bay, &routine2)["trigger"], "gesture:double");
    bay.dock();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    ok(&agent.once());
    // The order of the acknowledgements in the camera's signed audit log.
    let mut order: Vec<String> = Vec::new();
    for (e, d) in audit_details(&bay.daemon.audit_log()) {
        if e == "offload_ack" {
            let rec = d["recording_id"].as_str().unwrap().to_string();
            if order.last() != Some(&rec) {
                order.push(rec);
            }
        }
    }
    assert_eq!(
        order,
        [
            marked2.clone(),
            marked1.clone(),
            routine1.clone(),
            routine2.clone()
        ],
        "{order:?}"
    );
    // Every segment of each recording, in order within it.
    let mut seqs: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (e, d) in audit_details(&bay.daemon.audit_log()) {
        if e == "offload_ack" {
            seqs.entry(d["recording_id"].as_str().unwrap().into())
                .or_default()
                .push(d["segment"].as_u64().unwrap());
        }
    }
    for (rec, s) in seqs {
        let want: Vec<u64> = segments_of(&bay, &rec).into_iter().map(u64::from).collect();
        assert_eq!(s, want, "{rec}");
    }
    // The ledger still ends at the newest segment in chain order: a second pass has
    // nothing to do.
    let out = ok(&agent.once());
    assert!(out.contains("offloaded=0"), "{out}");
}

/// The camera's acknowledgements, in the order of its signed audit log.
fn acknowledged(bay: &Bay) -> Vec<(String, u64)> {
    audit_details(&bay.daemon.audit_log())
        .into_iter()
        .filter(|(e, _)| e == "offload_ack")
        .map(|(_, d)| {
            (
                d["recording_id"].as_str().unwrap().to_string(),
                d["segment"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn undocked_after_the_priority_footage_the_next_dock_resumes_with_the_routine_footage() {
    let az = Azurite::start();
    let bay = Bay::new("");
    let dev = bay.device_id();
    let routine = bay.record(2.5);
    let marked = bay.record_with(2.5, &["record", "start"], &["record", "stop"], 1);
    let of = |rec: &str| -> Vec<(String, u64)> {
        segments_of(&bay, rec)
            .into_iter()
            .map(|s| (rec.to_string(), u64::from(s)))
            .collect()
    };
    let (priority, rest) = (of(&marked), of(&routine));
    assert!(
        priority.len() >= 2 && rest.len() >= 2,
        "{priority:?} {rest:?}"
    );
    bay.dock();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    // The dock loses the camera right after the last priority segment was acknowledged
    // (the agent dies there, as it would with the camera pulled out mid-offload).
    let point = format!("after-ack:{}", priority.len());
    let out = agent.run(&["--once"], &[(FAILPOINT, &point)]);
    assert!(
        !out.status.success() && out.status.code().is_none(),
        "the agent should have crashed\n{}",
        text(&out)
    );
    // What went first is safe: the marked recording whole, acknowledged in order and in
    // the container; nothing of the routine one yet.
    assert_eq!(acknowledged(&bay), priority);
    assert!(!blobs(&agent, &format!("{dev}/{marked}/")).is_empty());
    assert!(blobs(&agent, &format!("{dev}/{routine}/")).is_empty());

    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    bay.dock();
    let out = ok(&agent.once());
    // The next dock offloads only the routine footage: every segment acknowledged once,
    // the priority ones not again.
    let mut want = priority.clone();
    want.extend(rest.iter().cloned());
    assert_eq!(acknowledged(&bay), want, "{out}");
    for (rec, seq) in &want {
        let prefix = format!("{dev}/{rec}/");
        assert!(
            blobs(&agent, &prefix)
                .iter()
                .any(|b| b.ends_with(&format!("{seq:06}.ts"))),
            "{rec}/{seq} not stored"
        );
    }
    // And the ledger ends at the newest segment: a further pass has nothing to do.
    let out = ok(&agent.once());
    assert!(out.contains("offloaded=0"), "{out}");
}

/// The `spread` tag of each blob under `prefix`.
fn spreads(agent: &Agent, prefix: &str) -> BTreeMap<String, String> {
    blobs(agent, prefix)
        .into_iter()
        .map(|b| {
            let s = tags(agent, &b).get("spread").cloned().unwrap_or_default();
            (b, s)
        })
        .collect()
}

#[test]
fn a_recording_offloaded_over_two_docks_keeps_the_lifecycle_policy_behind_the_job() {
    let az = Azurite::start();
    let bay = Bay::new("");
    let dev = bay.device_id();
    let rec = bay.record(2.5);
    assert!(segments_of(&bay, &rec).len() >= 2, "need two segments");
    let prefix = format!("{dev}/{rec}/");
    bay.dock();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    // First dock: the camera is pulled out right after its first segment is stored.
    let out = agent.run(&["--once"], &[(FAILPOINT, "after-ack:1")]);
    assert!(
        out.status.code().is_none(),
        "should have crashed\n{}",
        text(&out)
    );
    let first = spreads(&agent, &prefix);
    assert_eq!(first.len(), 3, "{first:?}");
    assert!(first.values().all(|s| s == "0"), "{first:?}");

    // The next dock is ten days later for those blobs (the retention test seam ages
    // every blob at the service by N days). It is cut right after its first blob is
    // written: by then the earlier blobs must already cover their age (ten days and a
    // moment, rounded up to the bucket 16), so a lifecycle rule cannot take them
    // before the rest of the recording has had its period.
    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    bay.dock();
    let out = agent.run(&["--once"], &[(AGE, "10"), (FAILPOINT, "after-upload:1")]);
    assert!(
        out.status.code().is_none(),
        "should have crashed\n{}",
        text(&out)
    );
    let second = spreads(&agent, &prefix);
    assert_eq!(second.len(), 4, "{second:?}");
    for (b, s) in &second {
        let want = if first.contains_key(b) { "16" } else { "0" };
        assert_eq!(s, want, "{b}: {second:?}");
    }

    // Finished at a third dock, without the seam: nothing is lowered (16 stays), the
    // blob of the cut pass, seconds old, gets 1 (its age rounded up to a day: more of
    // the recording follows), the new blobs carry 0, and every segment is stored.
    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    bay.dock();
    ok(&agent.once());
    let last = spreads(&agent, &prefix);
    assert_eq!(last.len(), 3 * segments_of(&bay, &rec).len(), "{last:?}");
    for (b, s) in &last {
        let want = if first.contains_key(b) {
            "16"
        } else if second.contains_key(b) {
            "1"
        } else {
            "0"
        };
        assert_eq!(s, want, "{b}: {last:?}");
    }

    // For each blob, the policy's rule that selects it (category, legal_hold and spread
    // tags) deletes it no earlier than the job would delete the recording, taking the
    // earlier blobs as ten days older than the newest: days + margin + 10 days.
    let policy: Value = serde_json::from_str(&ok(&agent.run(&["lifecycle-policy"], &[]))).unwrap();
    for (b, s) in &last {
        let t = tags(&agent, b);
        let rule = policy["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["definition"]["filters"]["blobIndexMatch"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| {
                        t.get(c["name"].as_str().unwrap()).map(String::as_str)
                            == c["value"].as_str()
                    })
            })
            .unwrap_or_else(|| panic!("no rule selects {b} with tags {t:?}"));
        let rule_days =
            rule["definition"]["actions"]["baseBlob"]["delete"]["daysAfterCreationGreaterThan"]
                .as_u64()
                .unwrap();
        // standard: 31 days, margin 24 h.
        let older_by = if first.contains_key(b) { 10 } else { 0 };
        assert!(
            rule_days > 31 + 1 + older_by,
            "{b} (spread {s}): rule deletes after {rule_days} days"
        );
    }
    // And classify, which sees the whole recording (its blobs seconds apart in fact),
    // never lowers a bucket.
    ok(&agent.run(
        &[
            "classify",
            "--category",
            "standard",
            &format!("{dev}/{rec}"),
        ],
        &[],
    ));
    assert_eq!(spreads(&agent, &prefix), last);
}

/// One unassigned recording, then one assigned to PC-4711 through the dock API; the
/// daemon is stopped. Returns (unassigned, assigned) recording ids.
fn unassigned_then_assigned(bay: &mut Bay) -> (String, String) {
    let r0 = bay.record(2.5);
    bay.dock();
    rt().block_on(camera_client(bay).assign(Some("PC-4711"), "test-dock"))
        .unwrap();
    bay.daemon.ctl_ok(&["undock"]);
    bay.daemon.wait_state("ready", Duration::from_secs(20));
    let r1 = bay.record(2.5);
    assert!(bay.daemon.signal(libc::SIGTERM).success());
    (r0, r1)
}

#[test]
fn the_examiners_export_report_names_the_officer_of_each_recording() {
    let mut bay = Bay::new("");
    let (r0, r1) = unassigned_then_assigned(&mut bay);
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = crate::common::footage::footage_key(keys.path(), "agency");
    let out = keys.path().join("export");
    let o = Command::new(BIN)
        .arg("export")
        .arg("--key")
        .arg(&key)
        .arg(&bay.daemon.data)
        .arg("--out")
        .arg(&out)
        .arg("--trust-store-key")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let rec = |id: &str| {
        report["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["recording_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {report:#}"))
            .clone()
    };
    let assigned = rec(&r1);
    assert_eq!(assigned["officer"], "PC-4711", "{assigned:#}");
    assert_eq!(assigned["unassigned"], false);
    assert_eq!(assigned["officer_source"], "sidecars");
    assert_eq!(assigned["officer_conflict"], false);
    let segs: Vec<Value> = segments_of(&bay, &r1)
        .into_iter()
        .map(Value::from)
        .collect();
    assert_eq!(
        assigned["officers"],
        serde_json::json!([{ "officer": "PC-4711", "segments": segs }])
    );
    let unassigned = rec(&r0);
    assert_eq!(unassigned["officer"], Value::Null, "{unassigned:#}");
    assert_eq!(unassigned["unassigned"], true);
    assert_eq!(unassigned["officer_text"], "unassigned");
    assert_eq!(unassigned["officer_source"], "sidecars");
    // The HTML names each in the recording's header (the meta block under its title).
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let header = |id: &str| {
        let at = html.find(&format!("<h2>Recording {id}</h2>")).unwrap();
        let rest = &html[at..];
        rest[..rest.find("<h3>").unwrap()].to_string()
    };
    assert!(
        header(&r1).contains("<div>officer</div><div><strong>PC-4711</strong>"),
        "{}",
        header(&r1)
    );
    assert!(
        header(&r0).contains(">unassigned</span>"),
        "{}",
        header(&r0)
    );
    assert!(!header(&r0).contains("PC-4711"));
}

#[test]
fn bodycam_verify_prints_and_reports_the_officer_of_each_recording() {
    let mut bay = Bay::new("");
    let (r0, r1) = unassigned_then_assigned(&mut bay);
    let o = Command::new(BIN)
        .args(["verify", "--trust-store-key"])
        .arg(&bay.daemon.data)
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(
        out.lines()
            .any(|l| l == format!("recording {r1} officer PC-4711")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l == format!("recording {r0} officer unassigned")),
        "{out}"
    );
    let o = Command::new(BIN)
        .args(["verify", "--json", "--trust-store-key"])
        .arg(&bay.daemon.data)
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    let recs = report["recordings"].as_array().unwrap();
    assert_eq!(recs.len(), 2, "{report:#}");
    let rec = |id: &str| recs.iter().find(|r| r["recording_id"] == id).unwrap();
    assert_eq!(rec(&r1)["officer"], "PC-4711");
    assert_eq!(rec(&r1)["unassigned"], false);
    assert_eq!(rec(&r1)["officer_source"], "sidecars");
    assert_eq!(rec(&r0)["officer"], Value::Null);
    assert_eq!(rec(&r0)["unassigned"], true);
    // Each signed segment names it too; an unassigned one carries no officer.
    for s in report["segments"].as_array().unwrap() {
        let want = if s["recording_id"] == r1.as_str() {
            Value::from("PC-4711")
        } else {
            Value::Null
        };
        assert_eq!(s["officer"], want, "{s:#}");
    }
    // One recording on its own: the same line.
    let o = Command::new(BIN)
        .args(["verify", "--trust-store-key"])
        .arg(bay.daemon.data.join(format!("recordings/{r1}")))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("recording {r1} officer PC-4711")),
        "{}",
        text(&o)
    );
}
