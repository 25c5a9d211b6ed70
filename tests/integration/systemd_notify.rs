//! The daemon under a fake systemd: a datagram socket at NOTIFY_SOCKET records what the
//! daemon announces, and when.

use std::time::Duration;

use crate::common::systemd::FakeSystemd;
use crate::common::*;

#[test]
fn ready_after_pipeline_runs_watchdog_only_while_frames_flow_stopping_on_sigterm() {
    let mut d = Daemon::new("[camera]\nsimulate_stall_after_seconds = 4\n");
    let fake = FakeSystemd::new(d.dir.path());
    d.spawn_with_env(&[("NOTIFY_SOCKET", fake.path.as_os_str())]);

    let ready = fake.wait("READY=1", Duration::from_secs(20));
    // READY only once the pipeline runs: by then the daemon reports `ready`.
    let s = d.status().expect("status after READY");
    assert_ne!(s["state"], "booting", "READY before the pipeline ran: {s}");
    assert!(
        d.log_text().contains("capture pipeline running"),
        "READY before the first frame"
    );
    let early: Vec<_> = fake
        .watchdog_times()
        .into_iter()
        .filter(|t| *t < ready)
        .collect();
    assert!(early.is_empty(), "WATCHDOG before READY");
    assert!(
        fake.all()
            .iter()
            .any(|(_, m)| m.starts_with("STATUS=ready")),
        "no STATUS line: {:?}",
        fake.all()
    );

    // The simulated sensor hangs 4 s after start: pings stop, the stall is detected,
    // the pipeline restarts, and pings resume.
    d.wait_for("fault after the stall", Duration::from_secs(20), |s| {
        s["state"] == "fault"
    });
    d.wait_for("pipeline restarted", Duration::from_secs(20), |s| {
        s["state"] == "ready" && s["pipeline_restarts"] == 1
    });
    std::thread::sleep(Duration::from_millis(2500));
    let pings = fake.watchdog_times();
    let longest_gap = pings
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default();
    assert!(
        longest_gap >= Duration::from_secs(3),
        "watchdog kept pinging through the stall (longest gap {longest_gap:?})"
    );
    let after_restart = pings.last().copied().unwrap();
    assert!(
        after_restart.elapsed() < Duration::from_secs(2),
        "pings did not resume after the restart"
    );
    assert!(
        fake.all()
            .iter()
            .any(|(_, m)| m.starts_with("STATUS=fault")),
        "fault not reported in STATUS"
    );

    let code = d.signal(libc::SIGTERM);
    assert_eq!(code.code(), Some(0));
    fake.wait("STOPPING=1", Duration::from_secs(2));
}
