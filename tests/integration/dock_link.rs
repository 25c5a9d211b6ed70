//! The dock API on the real daemon: closed while undocked, mutual TLS while docked,
//! downloads and acknowledgements through the loop, freeing after an acknowledgement.
//! The dock side is played by curl with the development certificates.

use std::process::Command;
use std::time::Duration;

use crate::common::*;

struct Dock {
    pki: std::path::PathBuf,
    port: u16,
}

impl Dock {
    /// curl as the dock (client certificate from the agency CA).
    fn curl(&self, args: &[&str]) -> std::process::Output {
        Command::new("curl")
            .args(["-sS", "--fail-with-body", "--max-time", "20"])
            .arg("--cacert")
            .arg(self.pki.join("ca.pem"))
            .arg("--cert")
            .arg(self.pki.join("dock.pem"))
            .arg("--key")
            .arg(self.pki.join("dock.key"))
            .args(args)
            .output()
            .expect("curl (apt-get install curl)")
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    fn ack(&self, rec: &str, seg: u32, sha: &str) -> std::process::Output {
        let body =
            serde_json::json!({ "blob": format!("dev/{rec}/{seg}"), "sha256": sha }).to_string();
        self.curl(&[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data",
            &body,
            &self.url(&format!("/v1/recordings/{rec}/segments/{seg}/ack")),
        ])
    }
}

fn setup(extra: &str) -> (Daemon, Dock) {
    let mut d = Daemon::new(extra);
    let pki = d.dir.path().join("pki");
    let out = Command::new(BIN)
        .args(["pki", "dev"])
        .arg(&pki)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A second run must not overwrite the keys.
    let again = Command::new(BIN)
        .args(["pki", "dev"])
        .arg(&pki)
        .output()
        .unwrap();
    assert!(!again.status.success());
    let port = free_port();
    let config = format!(
        "{}\n[dock]\nlisten = \"127.0.0.1:{port}\"\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
        std::fs::read_to_string(&d.config).unwrap(),
        pki.join("ca.pem").display(),
        pki.join("camera.pem").display(),
        pki.join("camera.key").display(),
    );
    std::fs::write(&d.config, config).unwrap();
    d.spawn();
    (d, Dock { pki, port })
}

fn record_a_little(d: &Daemon) -> String {
    d.wait_state("ready", Duration::from_secs(20));
    d.ctl_ok(&["record", "start"]);
    d.wait_for("two segments", Duration::from_secs(20), |s| {
        s["segments_written"].as_u64() >= Some(1) && s["seconds_recorded"].as_f64() > Some(2.5)
    });
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    d.recordings()[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn dock_api_serves_only_while_docked_and_acknowledges_by_hash() {
    let (mut d, dock) = setup("");
    let rec = record_a_little(&d);
    assert!(
        !listening(dock.port),
        "the dock API must not listen while undocked"
    );

    d.ctl_ok(&["dock"]);
    d.wait_state("docked", Duration::from_secs(10));
    let device = dock.curl(&[&dock.url("/v1/device")]);
    assert!(
        device.status.success(),
        "{}",
        String::from_utf8_lossy(&device.stderr)
    );
    let device: serde_json::Value = serde_json::from_slice(&device.stdout).unwrap();
    let identity: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.data.join("keys/identity.json")).unwrap())
            .unwrap();
    assert_eq!(device["device_id"], identity["device_id"]);

    // Without a client certificate the TLS handshake is refused.
    let anonymous = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(dock.pki.join("ca.pem"))
        .arg(dock.url("/v1/device"))
        .output()
        .unwrap();
    assert!(
        !anonymous.status.success(),
        "served a client without a certificate"
    );

    // Download segment 1 and acknowledge it: a wrong hash is refused, the right one kept.
    let media = dock.curl(&[&dock.url(&format!("/v1/recordings/{rec}/segments/1/media"))]);
    assert!(media.status.success());
    assert_eq!(
        media.stdout,
        std::fs::read(d.data.join(format!("recordings/{rec}/000001.ts"))).unwrap()
    );
    let sha = hex::encode(bodycam::evidence::record::sha256(&media.stdout));
    let wrong = dock.ack(&rec, 1, &"0".repeat(64));
    assert!(!wrong.status.success(), "wrong hash accepted");
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("error"));
    assert!(!d.data.join(format!("recordings/{rec}/000001.ack")).exists());
    let ok = dock.ack(&rec, 1, &sha);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(d.data.join(format!("recordings/{rec}/000001.ack")).exists());
    // Not freed: space is not needed and delete_after_ack is off.
    assert!(d.data.join(format!("recordings/{rec}/000001.ts")).exists());
    // The dock is working and segments are left: green blinks fast (offloading).
    let s = d.status().unwrap();
    assert_eq!(s["leds"]["green"], "blink_fast", "{s}");
    // Acknowledge the rest: offload complete, green steady.
    let dir = d.data.join(format!("recordings/{rec}"));
    for seg in segments(&dir).iter().skip(1) {
        let n: u32 = seg.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let sha = hex::encode(bodycam::evidence::record::sha256(
            &std::fs::read(seg).unwrap(),
        ));
        assert!(dock.ack(&rec, n, &sha).status.success());
    }
    let s = d.status().unwrap();
    assert_eq!(s["leds"]["green"], "on", "{s}");

    d.ctl_ok(&["undock"]);
    d.wait_state("ready", Duration::from_secs(20));
    assert!(!listening(dock.port), "the dock API must close on undock");
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    let events = audit_names(&d.audit_log());
    // One entry per segment acknowledged (the refused wrong-hash ack left none).
    let acked = segments(&d.data.join(format!("recordings/{rec}"))).len();
    assert_eq!(
        events.iter().filter(|e| *e == "offload_ack").count(),
        acked,
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e == "segment_freed"));
}

#[test]
fn delete_after_ack_frees_only_the_acknowledged_media() {
    let (mut d, dock) = setup("[storage]\ndelete_after_ack = true\n");
    let rec = record_a_little(&d);
    d.ctl_ok(&["dock"]);
    d.wait_state("docked", Duration::from_secs(10));
    let media_path = d.data.join(format!("recordings/{rec}/000001.ts"));
    let sha = hex::encode(bodycam::evidence::record::sha256(
        &std::fs::read(&media_path).unwrap(),
    ));
    let ok = dock.ack(&rec, 1, &sha);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let answer: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(answer["freed"], true);
    assert!(!media_path.exists(), "acknowledged media must be freed");
    for kept in ["000001.journal", "000001.json", "000001.ack", "000002.ts"] {
        assert!(
            d.data.join(format!("recordings/{rec}/{kept}")).exists(),
            "{kept}"
        );
    }
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    assert!(
        audit_names(&d.audit_log())
            .iter()
            .any(|e| e == "segment_freed")
    );

    // The device's own store still verifies: the freed segment is OFFLOADED, backed by
    // the signed acknowledgement and deletion in the audit log.
    let verify = |dir: &std::path::Path| {
        Command::new(BIN)
            .arg("verify")
            .arg(dir)
            .args(["--json", "--trust-store-key"])
            .output()
            .unwrap()
    };
    let out = verify(&d.data);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{report:#}");
    let statuses: Vec<&str> = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses[0], "OFFLOADED", "{statuses:?}");
    // Without the acknowledgement in the audit log, a missing media file is MISSING.
    let copy = d.dir.path().join("copy");
    std::fs::create_dir_all(copy.join("evidence")).unwrap();
    Command::new("cp")
        .arg("-a")
        .arg(d.data.join("recordings"))
        .arg(&copy)
        .status()
        .unwrap();
    Command::new("cp")
        .arg("-a")
        .arg(d.data.join("keys"))
        .arg(&copy)
        .status()
        .unwrap();
    let audit = std::fs::read(d.data.join("evidence/audit.log")).unwrap();
    let (records, _) = bodycam::evidence::payload::decode_file(&audit);
    // Keep the audit log only up to (not including) the offload acknowledgement.
    let cut: usize = records
        .iter()
        .take_while(|r| !matches!(&r.payload, bodycam::evidence::payload::Payload::Audit(a) if a.event == "offload_ack"))
        .map(|r| r.raw.bytes.len())
        .sum();
    std::fs::write(copy.join("evidence/audit.log"), &audit[..cut]).unwrap();
    let out = verify(&copy);
    assert!(
        !out.status.success(),
        "freed media without a signed acknowledgement passed"
    );
}
