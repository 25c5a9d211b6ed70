//! Trigger inputs on the simulated backend (`ctl trigger NAME` stands in for the GPIO
//! line): they start and/or mark as their policy says, never stop, and every firing is
//! in the audit log with what it did.

use std::time::Duration;

use bodycam::evidence::events::AuditEvent;
use serde_json::Value;

use crate::common::*;

const TRIGGERS: &str = r#"
[recording]
segment_seconds = 60
[[trigger]]
name = "holster"
pin = 6
[[trigger]]
name = "lightbar"
pin = 13
policy = "mark"
[[trigger]]
name = "radio"
pin = 19
policy = "start_and_mark"
"#;

fn trigger(d: &Daemon, name: &str) -> String {
    let out = d.ctl(&["trigger", name]);
    assert!(
        out.status.success(),
        "ctl trigger {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn outcomes(d: &Daemon) -> Vec<(String, String, String)> {
    audit_events(&d.audit_log())
        .into_iter()
        .filter_map(|e| match e {
            AuditEvent::Trigger {
                trigger,
                state,
                outcome,
            } => Some((trigger, state, outcome)),
            _ => None,
        })
        .collect()
}

#[test]
fn triggers_start_and_mark_by_policy_and_never_stop() {
    let mut d = Daemon::start(TRIGGERS);
    d.wait_state("ready", Duration::from_secs(20));
    let s = d.status().unwrap();
    assert_eq!(
        s["triggers"],
        serde_json::json!(["holster", "lightbar", "radio"])
    );
    // A mark-only trigger does nothing while ready.
    assert_eq!(trigger(&d, "lightbar"), "ready");
    // The answer comes once the loop acted on it: already recording.
    assert_eq!(trigger(&d, "holster"), "recording");
    wait_secs(1.0);
    // Again: nothing (triggers only start), then marks from the mark policies.
    assert_eq!(trigger(&d, "holster"), "recording");
    assert_eq!(trigger(&d, "radio"), "recording");
    wait_secs(0.5);
    assert_eq!(trigger(&d, "lightbar"), "recording");
    wait_secs(0.5);
    // An unknown name is refused, naming the configured ones.
    let out = d.ctl(&["trigger", "taser"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("taser") && err.contains("holster, lightbar, radio"),
        "{err}"
    );
    assert_eq!(d.status().unwrap()["state"], "recording");
    d.ctl_ok(&["button", "hold"]);
    d.wait_state("ready", Duration::from_secs(10));
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));

    let rec = d.recordings().remove(0);
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("recording.json")).unwrap())
            .unwrap();
    assert_eq!(info["trigger"], "input:holster");
    let meta = sidecar(&segments(&rec)[0]).unwrap();
    let marks: Vec<&str> = meta["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(marks, ["input:radio", "input:lightbar"]);
    let t = |n: &str, s: &str, o: &str| (format!("input:{n}"), s.to_string(), o.to_string());
    assert_eq!(
        outcomes(&d),
        vec![
            t("lightbar", "ready", "none"),
            t("holster", "ready", "start"),
            t("holster", "recording", "none"),
            t("radio", "recording", "mark"),
            t("lightbar", "recording", "mark"),
        ]
    );
    let events = audit_events(&d.audit_log());
    assert!(events.iter().any(|e| matches!(e,
        AuditEvent::RecordingStart { trigger, .. } if trigger == "input:holster")));
    assert!(events.iter().any(|e| matches!(e,
        AuditEvent::RecordingStop { trigger, .. } if trigger == "gesture:hold")));
}

#[test]
fn a_trigger_refused_in_the_dock_is_audited_as_refused() {
    let d = Daemon::start(TRIGGERS);
    d.wait_state("ready", Duration::from_secs(20));
    d.ctl_ok(&["dock"]);
    d.wait_state("docked", Duration::from_secs(10));
    assert_eq!(trigger(&d, "holster"), "docked");
    assert!(d.recordings().is_empty());
    assert!(outcomes(&d).contains(&(
        "input:holster".to_string(),
        "docked".to_string(),
        "refused".to_string()
    )));
}
