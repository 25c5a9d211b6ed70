//! The daemon's evidence side end to end: identity on first start, the audit trail of
//! what the officer did, a head statement, and verification of the resulting store.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::common::*;

#[test]
fn identity_audit_trail_head_and_verify() {
    let mut d = Daemon::start("");
    d.wait_state("ready", Duration::from_secs(20));
    let key = d.data.join("keys/device.pk8");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "device key must be private");
    assert!(
        !d.log_text()
            .contains(&hex::encode(std::fs::read(&key).unwrap())),
        "key material in the log"
    );

    let out = std::process::Command::new(BIN)
        .args(["identity", "--json", "--config"])
        .arg(&d.config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let identity: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let public_key = identity["public_key"].as_str().unwrap().to_string();
    let identity_file = d.dir.path().join("identity.json");
    std::fs::write(&identity_file, &out.stdout).unwrap();

    d.ctl_ok(&["button", "double"]);
    d.wait_state("recording", Duration::from_secs(5));
    wait_secs(1.0);
    d.ctl_ok(&["button", "press"]);
    d.ctl_ok(&["stealth"]);
    d.ctl_ok(&["stealth"]);
    wait_secs(1.5);
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));

    let out = d.ctl(&["head", "--nonce", "00112233445566778899aabbccddeeff"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(head["nonce"], "00112233445566778899aabbccddeeff");
    assert_eq!(head["device_id"], identity["device_id"]);
    let head_file = d.dir.path().join("head.json");
    std::fs::write(&head_file, &out.stdout).unwrap();
    assert_eq!(d.ctl(&["head", "--nonce", "zz"]).status.code(), Some(1));

    let events: Vec<String> = audit_details(&d.audit_log())
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    for expected in [
        "key_created",
        "boot",
        "pipeline_start",
        "recording_start",
        "marker",
        "stealth",
        "recording_stop",
        "head_issued",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "no {expected} in {events:?}"
        );
    }
    let start = audit_details(&d.audit_log())
        .into_iter()
        .find(|(e, _)| e == "recording_start")
        .unwrap()
        .1;
    assert_eq!(start["trigger"], "gesture:double");

    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    assert_eq!(audit_details(&d.audit_log()).last().unwrap().0, "shutdown");

    // Verify with the enrolled key, the identity file, and against the head.
    for args in [
        vec!["--key".to_string(), public_key.clone()],
        vec![
            "--identity".to_string(),
            identity_file.display().to_string(),
        ],
        vec![
            "--key".to_string(),
            public_key.clone(),
            "--head".to_string(),
            head_file.display().to_string(),
        ],
    ] {
        let out = std::process::Command::new(BIN)
            .arg("verify")
            .arg(&d.data)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "verify {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A clean restart is not reported as unclean, and the identity is kept.
    d.spawn();
    d.wait_state("ready", Duration::from_secs(20));
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    let events = audit_details(&d.audit_log());
    assert!(!events.iter().any(|(e, _)| e == "unclean_shutdown"));
    assert_eq!(events.iter().filter(|(e, _)| e == "key_created").count(), 1);
}

#[test]
fn corrupt_key_refuses_to_start_and_keeps_the_key() {
    let mut d = Daemon::start("");
    d.wait_state("ready", Duration::from_secs(20));
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    let key = d.data.join("keys/device.pk8");
    std::fs::write(&key, b"not a key").unwrap();
    d.spawn();
    let mut child = d.child.take().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(70));
    assert!(d.log_text().contains("device.pk8"), "{}", d.log_text());
    assert_eq!(std::fs::read(&key).unwrap(), b"not a key");
}
