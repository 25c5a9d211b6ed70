//! Real-process power-cut trials: SIGKILL the recording daemon at random moments,
//! restart it, and check that recovery signed at most about a second of tail and that
//! the whole store verifies.

use std::time::Duration;

use crate::common::*;
use bodycam::evidence::events::AuditEvent;

const TRIALS: usize = 20;

#[test]
fn sigkill_at_random_moments_recovers_and_verifies() {
    let mut d = Daemon::start("[recording]\nsegment_seconds = 2\n");
    let mut seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |t| t.as_nanos() as u64)
        | 1;
    eprintln!("power_cut seed {seed}");
    for trial in 0..TRIALS {
        d.wait_state("ready", Duration::from_secs(30));
        d.ctl_ok(&["record", "start"]);
        d.wait_state("recording", Duration::from_secs(10));
        // Random moment between 0.3 s and 3.3 s into the recording.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let ms = 300 + seed % 3000;
        std::thread::sleep(Duration::from_millis(ms));
        d.signal(libc::SIGKILL);
        d.spawn();
        let s = d.wait_state("ready", Duration::from_secs(30));
        assert_eq!(
            s["recovered_segments"], 1,
            "trial {trial}: the open segment must be recovered"
        );
    }
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));

    // Every recovery signed at most ~1 s of footage after the restart.
    let events = audit_events(&d.audit_log());
    let tails: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            AuditEvent::Recovery { tail_seconds, .. } => Some(*tail_seconds),
            _ => None,
        })
        .collect();
    assert_eq!(tails.len(), TRIALS, "one recovery per kill");
    for (i, t) in tails.iter().enumerate() {
        assert!(
            *t <= 1.2,
            "trial {i}: {t} s of footage were signed only after restart"
        );
    }
    let unclean = events
        .iter()
        .filter(|e| matches!(e, AuditEvent::UncleanShutdown { .. }))
        .count();
    assert_eq!(
        unclean, TRIALS,
        "each kill is logged as an unclean shutdown"
    );

    let key = std::fs::read_to_string(d.data.join("keys/identity.json")).unwrap();
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    let out = std::process::Command::new(BIN)
        .arg("verify")
        .arg(&d.data)
        .args(["--key", key["public_key"].as_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify failed after {TRIALS} power cuts:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
