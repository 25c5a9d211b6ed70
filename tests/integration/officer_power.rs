//! Battery and power: the simulated gauge (`ctl battery`) and a sysfs gauge on files the
//! test writes drive the low and critical levels; critical and the power-fail input
//! finalise, audit and run the shutdown command (a test command, not a poweroff); a
//! missing or garbage gauge is unknown and never shuts the camera down.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bodycam::evidence::events::AuditEvent;

use crate::common::*;

/// `[power]` with the simulated gauge (or `gauge`), 100 minutes on a full battery (so
/// percent = minutes), read every second, and a shutdown command that leaves `marker`.
pub(crate) fn power(gauge: &str, marker: &Path, extra: &str) -> String {
    format!(
        "[power]\ngauge = \"{gauge}\"\nfull_minutes = 100\npoll_seconds = 1\n\
         shutdown_command = [\"sh\", \"-c\", \"echo powered-off > '{}'\"]\n{extra}",
        marker.display()
    )
}

fn battery(d: &Daemon, value: &str) {
    d.ctl_ok(&["battery", value]);
}

#[test]
fn low_then_critical_battery_finalises_audits_and_runs_the_shutdown_command() {
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("called");
    let mut d = Daemon::start(&power("simulated", &marker, ""));
    d.wait_state("ready", Duration::from_secs(20));
    battery(&d, "80");
    let s = d.wait_for("80 %", Duration::from_secs(5), |s| {
        s["battery"]["percent"] == 80
    });
    assert_eq!(s["battery"]["level"], "normal");
    // The lower of battery (80 min) and storage (hours on this machine).
    assert_eq!(s["minutes_left"].as_f64(), Some(80.0));
    d.ctl_ok(&["record", "start"]);
    d.wait_state("recording", Duration::from_secs(5));

    battery(&d, "15");
    let s = d.wait_for("low", Duration::from_secs(5), |s| {
        s["battery"]["level"] == "low"
    });
    assert_eq!(s["leds"]["amber"], "double_blink");
    assert_eq!(s["minutes_left"].as_f64(), Some(15.0));
    // Garbage reads as unknown, for as long as it lasts: no shutdown.
    battery(&d, "garbage");
    d.wait_for("unknown", Duration::from_secs(5), |s| {
        s["battery"]["level"] == "unknown" && s["battery"]["percent"].is_null()
    });
    wait_secs(3.0);
    assert_eq!(d.status().unwrap()["state"], "recording");
    assert!(!marker.exists());

    battery(&d, "3");
    let st = d.wait_exit(Duration::from_secs(20));
    // Its own exit status, which systemd does not restart (RestartPreventExitStatus).
    assert_eq!(
        st.code(),
        Some(bodycam::exit::POWERED_DOWN),
        "{}",
        d.log_text()
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "powered-off",
        "the shutdown command ran"
    );
    let events = audit_events(&d.audit_log());
    let names: Vec<&str> = events.iter().map(AuditEvent::name).collect();
    let at = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n}: {names:?}"))
    };
    // Finalised first, then the power-off is recorded, then the clean shutdown.
    assert!(at("battery_low") < at("recording_stop"));
    assert!(at("recording_stop") < at("power_off"));
    assert_eq!(names.last(), Some(&"shutdown"));
    assert!(events.iter().any(|e| matches!(e,
        AuditEvent::PowerOff { reason, percent: Some(3), .. } if reason == "battery_critical")));
    assert!(events.iter().any(|e| matches!(e,
        AuditEvent::RecordingStop { trigger, .. } if trigger == "battery_critical")));
    // Every segment closed properly.
    let rec = d.recordings().remove(0);
    for seg in segments(&rec) {
        assert!(
            sidecar(&seg).is_some(),
            "{} was not finalised",
            seg.display()
        );
    }
    let out = Command::new(BIN)
        .args(["verify", "--trust-store-key"])
        .arg(&d.data)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A 20 MB quota leaves minutes of storage (about 55 kB/s of footage), below the
/// simulated battery's 80: `minutes_left` is the storage's.
#[test]
fn minutes_left_is_the_storage_when_it_is_the_lower() {
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("called");
    let d = Daemon::start(&power(
        "simulated",
        &marker,
        "[storage]\nmax_bytes = 20000000\n",
    ));
    d.wait_state("ready", Duration::from_secs(20));
    battery(&d, "80");
    let s = d.wait_for("80 %", Duration::from_secs(5), |s| {
        s["battery"]["percent"] == 80
    });
    assert_eq!(s["battery"]["minutes"].as_f64(), Some(80.0), "{s}");
    let storage = s["hours_left"].as_f64().unwrap() * 60.0;
    let left = s["minutes_left"].as_f64().unwrap();
    assert!(storage > 1.0 && storage < 30.0, "{s}");
    assert!(
        (left - storage).abs() < 1e-6,
        "{left} vs storage {storage}: {s}"
    );
}

#[test]
fn the_power_fail_input_powers_off_at_once() {
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("called");
    // A shutdown command that fails (as `systemctl poweroff` does for an unprivileged
    // user): it runs once, and the daemon still exits with POWERED_DOWN, which the
    // unit does not restart, so the camera does not go through power-down again.
    let mut d = Daemon::start(&format!(
        "[power]\ngauge = \"simulated\"\n\
         shutdown_command = [\"sh\", \"-c\", \"echo x >> '{}'; exit 1\"]\n",
        marker.display()
    ));
    d.wait_state("ready", Duration::from_secs(20));
    d.ctl_ok(&["record", "start"]);
    d.wait_for("1 s recorded", Duration::from_secs(10), |s| {
        s["seconds_recorded"].as_f64() > Some(1.0)
    });
    d.ctl_ok(&["power-fail"]);
    assert_eq!(
        d.wait_exit(Duration::from_secs(20)).code(),
        Some(bodycam::exit::POWERED_DOWN),
        "{}",
        d.log_text()
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "x\n", "ran once");
    assert!(
        d.log_text().contains("the shutdown command failed"),
        "{}",
        d.log_text()
    );
    let events = audit_events(&d.audit_log());
    assert!(events.iter().any(|e| matches!(e,
        AuditEvent::PowerOff { reason, .. } if reason == "power_fail")));
    assert!(events.iter().any(|e| matches!(e,
        AuditEvent::RecordingStop { trigger, .. } if trigger == "power_fail")));
}

#[test]
fn a_sysfs_gauge_that_vanishes_or_talks_nonsense_never_shuts_down() {
    let sys = tempfile::tempdir().unwrap();
    let bat = sys.path().join("BAT0");
    std::fs::create_dir(&bat).unwrap();
    std::fs::write(bat.join("type"), "Battery\n").unwrap();
    std::fs::write(bat.join("status"), "Discharging\n").unwrap();
    std::fs::write(bat.join("capacity"), "64\n").unwrap();
    // Where the gauge gives its own estimate, it wins over percent × full_minutes.
    std::fs::write(bat.join("time_to_empty_now"), "1080\n").unwrap();
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("called");
    let extra = format!("supply = \"{}\"\n", bat.display());
    let d = Daemon::start(&power("sysfs", &marker, &extra));
    d.wait_state("ready", Duration::from_secs(20));
    let s = d.wait_for("18 min", Duration::from_secs(5), |s| {
        s["battery"]["minutes"].as_f64() == Some(18.0)
    });
    assert_eq!(s["battery"]["gauge"], "sysfs:BAT0");
    assert_eq!(s["battery"]["level"], "low", "18 min is below 20");
    assert!(audit_events(&d.audit_log()).iter().any(|e| matches!(
        e,
        AuditEvent::BatteryLow {
            low: true,
            percent: Some(64),
            ..
        }
    )));
    // Garbage, then no gauge at all: unknown, never critical.
    std::fs::write(bat.join("capacity"), "\u{0}\u{7}x\n").unwrap();
    std::fs::remove_file(bat.join("time_to_empty_now")).unwrap();
    d.wait_for("unknown", Duration::from_secs(5), |s| {
        s["battery"]["level"] == "unknown"
    });
    std::fs::remove_dir_all(&bat).unwrap();
    wait_secs(3.0);
    let s = d
        .status()
        .unwrap_or_else(|| panic!("no status\n{}", d.log_text()));
    assert_eq!(s["state"], "ready");
    assert_eq!(s["battery"]["level"], "unknown");
    assert!(!marker.exists());
    // On a charger: never low.
    std::fs::create_dir(&bat).unwrap();
    std::fs::write(bat.join("status"), "Charging\n").unwrap();
    std::fs::write(bat.join("capacity"), "2\n").unwrap();
    d.wait_for("charging", Duration::from_secs(5), |s| {
        s["battery"]["level"] == "external"
    });
    wait_secs(2.5);
    assert_eq!(d.status().unwrap()["state"], "ready");
}
