//! Docking on the real daemon with simulated dock sense: the camera stops capturing in
//! the dock, a recording in progress is not cut, and undocking brings the camera back.

use std::time::Duration;

use bodycam::evidence::events::AuditEvent;

use crate::common::*;

#[test]
fn dock_stops_capture_keeps_a_running_recording_and_undock_restores() {
    let mut d = Daemon::start("[recording]\npre_event_seconds = 2\n");
    d.wait_for(
        "ready with a pre-event buffer",
        Duration::from_secs(20),
        |s| s["state"] == "ready" && s["pre_event_buffered_seconds"].as_f64() > Some(1.0),
    );

    // Ready → docked: pipeline stopped, nothing buffered for nobody.
    d.ctl_ok(&["dock"]);
    let s = d.wait_state("docked", Duration::from_secs(10));
    // Nothing recorded yet, so nothing to offload: offload complete (green steady).
    assert_eq!(s["leds"]["green"], "on");
    assert_eq!(s["leds"]["red"], "off");
    assert_eq!(s["pre_event_buffered_seconds"], 0.0);
    // Starting a recording in the dock is refused.
    d.ctl_ok(&["button", "double"]);
    wait_secs(0.5);
    assert_eq!(d.status().unwrap()["state"], "docked");
    assert!(d.recordings().is_empty());

    // Out of the dock: the camera works again.
    d.ctl_ok(&["undock"]);
    d.wait_state("ready", Duration::from_secs(20));

    // Docked while recording: the recording goes on until the officer stops it.
    d.ctl_ok(&["record", "start"]);
    d.wait_state("recording", Duration::from_secs(5));
    d.ctl_ok(&["dock"]);
    wait_secs(2.5);
    let s = d.status().unwrap();
    assert_eq!(s["state"], "recording", "docking must not cut a recording");
    assert!(s["seconds_recorded"].as_f64() > Some(2.0));
    d.ctl_ok(&["record", "stop"]);
    let s = d.wait_state("docked", Duration::from_secs(10));
    // Footage waiting and no dock talking to the camera: docked (green slow blink).
    assert_eq!(s["leds"]["green"], "blink_slow", "{s}");
    let recs = d.recordings();
    assert_eq!(recs.len(), 1);
    let last = segments(&recs[0]).pop().unwrap();
    assert_eq!(sidecar(&last).unwrap()["end_reason"], "stopped");

    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    let events = audit_names(&d.audit_log());
    assert_eq!(
        events.iter().filter(|e| *e == "docked").count(),
        2,
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| *e == "undocked").count(),
        1,
        "{events:?}"
    );
    // The officer's refused start in the dock is in the audit log, with why.
    let refused: Vec<_> = audit_events(&d.audit_log())
        .into_iter()
        .filter_map(|e| match e {
            AuditEvent::RequestRefused {
                request,
                reason,
                trigger,
                state,
            } => Some((request, reason, trigger, state)),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [(
            "start".to_string(),
            "docked".to_string(),
            "gesture:double".to_string(),
            "docked".to_string()
        )],
        "{events:?}"
    );
}
