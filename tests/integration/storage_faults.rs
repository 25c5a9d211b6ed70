//! Storage faults from outside the daemon, on real filesystems this test mounts: a store
//! that cannot be written at start (the daemon waits in `storage-fault` instead of
//! exiting, and recovers on its own), and a filesystem another writer fills mid-recording
//! (the open segment closes and verifies at once, without a restart).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bodycam::evidence::events::AuditEvent;
use bodycam::store::StoreError;

use crate::common::evidence::{Builder, seg};
use crate::common::mounts::Tmpfs;
use crate::common::systemd::FakeSystemd;
use crate::common::*;

/// A directory the daemon cannot write: a read-only tmpfs as root, else mode 0555.
enum ReadOnly {
    Mount(Tmpfs),
    Mode(PathBuf),
}

impl ReadOnly {
    fn new(path: &Path) -> ReadOnly {
        match Tmpfs::mount(path, "16m", true) {
            Ok(m) => ReadOnly::Mount(m),
            Err(why) => {
                use std::os::unix::fs::PermissionsExt;
                eprintln!("{why}; using a directory of mode 0555 instead");
                std::fs::create_dir_all(path).unwrap();
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555)).unwrap();
                ReadOnly::Mode(path.to_path_buf())
            }
        }
    }

    /// The medium comes back: remounted read-write, or made writable.
    fn make_writable(&self) {
        match self {
            ReadOnly::Mount(m) => m.remount_rw(),
            ReadOnly::Mode(p) => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
    }
}

#[test]
fn a_store_that_cannot_be_written_at_start_is_a_storage_fault_that_recovers_by_itself() {
    let scratch = tempfile::tempdir().unwrap();
    let ro = ReadOnly::new(&scratch.path().join("medium"));
    let data = scratch.path().join("medium/bodycam");
    let mut d = Daemon::on(&data, "");
    d.spawn();

    // Up, not exited: the state, the LEDs and the status say what is wrong.
    let s = d.wait_state("storage-fault", Duration::from_secs(20));
    assert_eq!(s["leds"]["amber"], "on", "{s}");
    assert_eq!(s["leds"]["red"], "blink_slow", "{s}");
    assert_eq!(s["leds"]["green"], "off", "{s}");
    let why = s["storage_fault"].as_str().unwrap_or_default().to_string();
    assert!(
        why.contains("Read-only") || why.contains("ermission"),
        "the status names the error: {s}"
    );
    assert!(
        d.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the daemon must stay up"
    );
    let out = d.ctl(&["record", "start"]);
    assert_eq!(out.status.code(), Some(1), "a start is refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("storage fault"), "{stderr}");
    // An officer's refused start is audited once the log can be written.
    d.ctl_ok(&["button", "double"]);
    wait_secs(1.5);
    let human = d.ctl(&["status"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("FAULT"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );

    // The medium comes back: the daemon recovers by itself and records.
    ro.make_writable();
    d.wait_state("ready", Duration::from_secs(40));
    d.ctl_ok(&["record", "start"]);
    d.wait_state("recording", Duration::from_secs(10));
    wait_secs(2.5);
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));

    let events = audit_events(&d.audit_log());
    let names: Vec<&str> = events.iter().map(AuditEvent::name).collect();
    let at = |n: &str| names.iter().position(|e| *e == n);
    let error = at("storage_error").unwrap_or_else(|| panic!("no storage_error: {names:?}"));
    let refused = at("request_refused").expect("the refused gesture is audited");
    let recovered = at("storage_recovered").expect("storage_recovered");
    let started = at("recording_start").expect("recording_start");
    assert!(
        at("boot").unwrap() < error
            && error < refused
            && refused < recovered
            && recovered < started,
        "{names:?}"
    );
    match &events[error] {
        AuditEvent::StorageError { state, error, .. } => {
            assert_eq!(state, "start");
            assert!(!error.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match &events[refused] {
        AuditEvent::RequestRefused {
            request, reason, ..
        } => assert_eq!(
            (request.as_str(), reason.as_str()),
            ("start", "storage_fault")
        ),
        other => panic!("{other:?}"),
    }
    let (status, report) = d.verify();
    assert!(status.success(), "{report}");
}

/// What keeps a camera with a bad card out of a restart loop: in `storage-fault` the
/// daemon tells systemd it is up (READY) and keeps feeding the watchdog, so neither the
/// start timeout nor `WatchdogSec=` restarts it.
#[test]
fn in_storage_fault_systemd_sees_ready_and_a_fed_watchdog() {
    let scratch = tempfile::tempdir().unwrap();
    let _ro = ReadOnly::new(&scratch.path().join("medium"));
    let data = scratch.path().join("medium/bodycam");
    let mut d = Daemon::on(&data, "");
    let fake = FakeSystemd::new(d.dir.path());
    d.spawn_with_env(&[("NOTIFY_SOCKET", fake.path.as_os_str())]);
    d.wait_state("storage-fault", Duration::from_secs(20));
    let ready = fake.wait("READY=1", Duration::from_secs(10));
    fake.wait("WATCHDOG=1", Duration::from_secs(10));
    // Twelve seconds later (longer than WatchdogSec=10s), still in storage-fault and
    // never more than the ping interval plus slack without a ping.
    wait_secs(12.0);
    assert_eq!(d.status().unwrap()["state"], "storage-fault");
    let mut pings: Vec<_> = fake
        .watchdog_times()
        .into_iter()
        .filter(|t| *t >= ready)
        .collect();
    pings.push(std::time::Instant::now());
    assert!(pings.len() >= 4, "{} pings in 12 s", pings.len() - 1);
    let longest = pings
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap();
    assert!(
        longest < Duration::from_secs(9),
        "the watchdog went {longest:?} without a ping (WatchdogSec=10s)"
    );
    assert!(
        fake.all()
            .iter()
            .any(|(_, m)| m.contains("STATUS=storage-fault")),
        "{:?}",
        fake.all()
    );
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    fake.wait("STOPPING=1", Duration::from_secs(5));
}

#[test]
fn in_storage_fault_the_battery_is_watched_and_critical_powers_off() {
    let scratch = tempfile::tempdir().unwrap();
    let _ro = ReadOnly::new(&scratch.path().join("medium"));
    let data = scratch.path().join("medium/bodycam");
    let marker = scratch.path().join("powered-off");
    let mut d = Daemon::on(
        &data,
        &crate::officer_power::power("simulated", &marker, ""),
    );
    d.spawn();
    d.wait_state("storage-fault", Duration::from_secs(20));
    // The gauge is read and shown although no store opened; low is a level and an LED.
    d.ctl_ok(&["battery", "15"]);
    let s = d.wait_for("low", Duration::from_secs(5), |s| {
        s["battery"]["level"] == "low"
    });
    assert_eq!(s["state"], "storage-fault", "{s}");
    assert_eq!(s["battery"]["percent"], 15, "{s}");
    assert!(!marker.exists());
    // Critical: the shutdown command runs and the daemon exits powered down (systemd
    // does not restart that), instead of waiting on with a dying battery.
    d.ctl_ok(&["battery", "3"]);
    let st = d.wait_exit(Duration::from_secs(20));
    assert_eq!(
        st.code(),
        Some(bodycam::exit::POWERED_DOWN),
        "{}",
        d.log_text()
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "powered-off\n");
    assert!(
        d.log_text().contains("powering off in storage-fault"),
        "{}",
        d.log_text()
    );
}

#[test]
fn a_filesystem_filled_by_another_writer_leaves_a_closed_verifying_segment_at_once() {
    let scratch = tempfile::tempdir().unwrap();
    let fs = match Tmpfs::mount(&scratch.path().join("small"), "6m", false) {
        Ok(m) => m,
        Err(why) => {
            // The Flash fault double covers the store's side (crash_consistency).
            eprintln!("skipped: {why}");
            return;
        }
    };
    let data = fs.path().join("bodycam");
    let mut d = Daemon::on(&data, "[camera]\npattern = \"snow\"\n");
    d.spawn();
    d.wait_state("ready", Duration::from_secs(30));
    d.ctl_ok(&["record", "start"]);
    d.wait_state("recording", Duration::from_secs(10));
    wait_secs(2.5);

    // Another writer takes every free block.
    let filler = fs.fill();
    let s = d.wait_for("the recording to stop", Duration::from_secs(15), |s| {
        s["state"] == "storage-fault" || s["state"] == "storage-full"
    });
    assert!(s["recording_id"].is_null(), "{s}");
    assert!(
        d.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "no restart: the daemon is still the same process"
    );
    // At once, while the filesystem is still full: every segment is closed (sidecar and
    // final record) and the whole store verifies.
    let rec = d.recordings().pop().expect("a recording");
    let segs = segments(&rec);
    assert!(!segs.is_empty());
    for seg in &segs {
        assert!(
            sidecar(seg).is_some(),
            "{} has no sidecar\n{}",
            seg.display(),
            d.log_text()
        );
    }
    let (status, report) = d.verify();
    assert!(status.success(), "{report}");
    assert!(!report.contains("OPEN"), "{report}");

    // Space comes back: the camera takes writes again and can record.
    std::fs::remove_file(&filler).unwrap();
    d.wait_state("ready", Duration::from_secs(40));
    d.ctl_ok(&["record", "start"]);
    d.wait_state("recording", Duration::from_secs(10));
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    let names = audit_names(&d.audit_log());
    if s["state"] == "storage-fault" {
        let events = audit_events(&d.audit_log());
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AuditEvent::StorageError { no_space: true, .. })),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n == "storage_recovered"), "{names:?}");
    }
    let (status, report) = d.verify();
    assert!(status.success(), "{report}");
}

#[test]
fn enospc_from_another_writer_mid_segment_latches_and_the_segment_closes_into_its_reserves() {
    let scratch = tempfile::tempdir().unwrap();
    let fs = match Tmpfs::mount(&scratch.path().join("small"), "2m", false) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let root = fs.path().join("store");
    let mut b = Builder::random(&root);
    let mut filler = None;
    let (id, error) = b.recording_into_fault(|| filler = Some(fs.fill()));
    assert!(error.no_space(), "{error}");
    assert!(
        matches!(error, StoreError::Io { .. }),
        "the media write itself failed: {error}"
    );
    let latch = b.store.latched().expect("latched").clone();
    assert!(latch.no_space, "{latch:?}");
    // The close gave back what its reserves did not use: a probe may write again, but
    // the store counts as full, so no new recording starts.
    if b.store.probe().is_ok() {
        assert!(b.store.latched().is_none());
    }
    b.store.refresh().unwrap();
    assert!(b.store.is_full(), "{:?}", b.store.capacity());
    // The segment closed over every byte in the file, and everything verifies.
    let ts = seg(&root, &id, 1, "ts");
    let meta = sidecar(&ts).expect("sidecar written into its reserve");
    assert_eq!(meta["end_reason"], "storage_full");
    assert_eq!(meta["bytes"], std::fs::metadata(&ts).unwrap().len());
    let key = b.public_key.clone();
    let root = b.shutdown();
    let out = std::process::Command::new(BIN)
        .arg("verify")
        .arg(&root)
        .args(["--key", &key])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(filler);
}

/// `chattr` on `path` (`+i` / `-i`); false when it cannot be used here.
fn chattr(flag: &str, path: &Path) -> bool {
    std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_write_error_while_recording_latches_audits_and_recovers_without_a_restart() {
    // The recording's directory made immutable: the next segment cannot be created
    // (EPERM), as when a card's filesystem turns against the daemon mid-recording.
    let mut d = Daemon::start("[camera]\npattern = \"snow\"\n");
    d.wait_state("ready", Duration::from_secs(30));
    d.ctl_ok(&["record", "start"]);
    d.wait_state("recording", Duration::from_secs(10));
    let rec = d.recordings().pop().expect("recording directory");
    if !chattr("+i", &rec) {
        eprintln!("skipped: chattr +i is not available here");
        return;
    }
    let fault = d.wait_for("storage-fault", Duration::from_secs(15), |s| {
        s["state"] == "storage-fault"
    });
    assert!(chattr("-i", &rec));
    assert_eq!(fault["leds"]["amber"], "on", "{fault}");
    assert!(
        fault["storage_fault"]
            .as_str()
            .is_some_and(|e| e.contains("ermitted")),
        "{fault}"
    );
    // The probe writes below the store's root, which works: back to ready by itself.
    d.wait_state("ready", Duration::from_secs(20));
    assert!(
        d.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "no restart"
    );
    d.ctl_ok(&["record", "start"]);
    d.wait_state("recording", Duration::from_secs(10));
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));

    let events = audit_events(&d.audit_log());
    let error = events
        .iter()
        .position(|e| matches!(e, AuditEvent::StorageError { state, no_space: false, .. } if state == "recording"))
        .unwrap_or_else(|| panic!("no storage_error while recording: {events:?}"));
    let stop = events
        .iter()
        .position(|e| matches!(e, AuditEvent::RecordingStop { trigger, .. } if trigger == "storage_fault"))
        .expect("the recording stopped by the fault");
    let recovered = events
        .iter()
        .position(|e| matches!(e, AuditEvent::StorageRecovered { .. }))
        .expect("storage_recovered");
    assert!(error < stop && stop < recovered, "{events:?}");
    // What the immutable directory kept from closing (its sidecar cannot be renamed in)
    // was closed by recovery as soon as the probe succeeded, without a restart.
    let closed_by_recovery = segments(&rec)
        .iter()
        .filter(|seg| sidecar(seg).expect("every segment closed")["end_reason"] == "recovered")
        .count() as u64;
    match &events[recovered] {
        AuditEvent::StorageRecovered {
            recovered_segments, ..
        } => assert_eq!(*recovered_segments, closed_by_recovery),
        other => panic!("{other:?}"),
    }
    let boots = events
        .iter()
        .filter(|e| matches!(e, AuditEvent::Boot { .. }))
        .count();
    assert_eq!(boots, 1, "one boot: no restart");
    let (status, report) = d.verify();
    assert!(status.success(), "{report}");
}
