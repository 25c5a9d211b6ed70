//! Bad configuration fails fast, names the key, and exits with the config exit code.

use std::process::Command;

use crate::common::BIN;

fn run_with(config: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bodycam.toml");
    let full = format!(
        "{config}\n[storage]\npath = \"{}\"\n",
        dir.path().join("data").display()
    );
    std::fs::write(&path, full).unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !dir.path().join("data/recordings").exists(),
        "nothing may be created for a bad config"
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configs_exit_78_naming_the_key() {
    let cases = [
        ("[camera]\nwidht = 640", "widht"),
        (
            "[recording]\npre_event_seconds = 500",
            "recording.pre_event_seconds",
        ),
        (
            "[camera]\nsource = \"v4l2\"\ndevice = \"/dev/video-missing\"",
            "camera.device",
        ),
        ("[camera]\nsource = \"v4l2\"", "camera.device"),
        ("[camera]\nsource = \"usb\"", "usb"),
        ("[camera]\nencoder = \"v4l2\"", "camera.encoder"),
        ("[controls]\nhold_ms = 100", "controls.hold_ms"),
        ("[recording]\nsegment_seconds = \"long\"", "segment_seconds"),
    ];
    for (config, key) in cases {
        let (code, stderr) = run_with(config);
        assert_eq!(code, Some(78), "{config:?}: {stderr}");
        assert!(
            stderr.contains(key),
            "{config:?}: message does not name {key}: {stderr}"
        );
    }
}

#[test]
fn officer_configs_exit_78_naming_the_key() {
    let cases = [
        // A trigger pin that clashes with another pin.
        (
            "[controls]\nbackend = \"gpio\"\n[[trigger]]\nname = \"holster\"\npin = 22",
            "trigger.pin",
        ),
        // An unknown trigger name.
        (
            "[peers]\nannounce = [\"gesture\", \"holster\"]",
            "peers.announce",
        ),
        (
            "[[trigger]]\nname = \"Holster Left\"\npin = 6",
            "trigger.name",
        ),
        // A reminder of 0.
        (
            "[controls]\nreminder_minutes = 0",
            "controls.reminder_minutes",
        ),
        (
            "[[trigger]]\nname = \"holster\"\npin = 6\nedge = \"sideways\"",
            "sideways",
        ),
        (
            "[power]\nlow_minutes = 3\ncritical_minutes = 5",
            "power.low_minutes",
        ),
        (
            "[peers]\nenabled = true\nagency = \"metro\"\nenrolled = \"/no/such/peers.json\"",
            "peers.enrolled",
        ),
    ];
    for (config, key) in cases {
        let (code, stderr) = run_with(config);
        assert_eq!(code, Some(78), "{config:?}: {stderr}");
        assert!(
            stderr.contains(key),
            "{config:?}: message does not name {key}: {stderr}"
        );
    }
}

#[test]
fn missing_config_file_is_a_config_error() {
    let out = Command::new(BIN)
        .args(["run", "--config", "/nonexistent/bodycam.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/bodycam.toml"));
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(BIN)
        .args(["ctl", "button", "smash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
