//! The whole daemon in this test's own process, through `daemon::run(cfg, backends,
//! shutdown)`: the real simulated GStreamer pipeline, the real store and control socket,
//! and the test's own shutdown signal instead of SIGTERM.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::audit_events;
use bodycam::capture::{self, Encoder};
use bodycam::config::Config;
use bodycam::ctl::{self, RecordAction, Request, Response};
use bodycam::daemon::{self, Backends, DaemonError, ShutdownHandle};
use bodycam::evidence::events::AuditEvent;
use bodycam::status::Status;

/// A daemon running on a thread of this process.
struct InProcess {
    socket: std::path::PathBuf,
    data: std::path::PathBuf,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<Result<daemon::Stopped, DaemonError>>>,
    _dir: tempfile::TempDir,
}

impl InProcess {
    /// `camera_extra`: more `[camera]` keys.
    fn start(camera_extra: &str) -> InProcess {
        capture::init().expect("GStreamer");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let socket = dir.path().join("ctl.sock");
        let cfg = Config::parse(&format!(
            r#"
[camera]
width = 160
height = 120
framerate = 15
bitrate_kbps = 300
encoder = "x264"
{camera_extra}
[recording]
segment_seconds = 2
pre_event_seconds = 0
[storage]
path = "{}"
[ctl]
socket = "{}"
"#,
            data.display(),
            socket.display()
        ))
        .expect("config");
        let backends = Backends::from_config(&cfg, Encoder::X264).expect("backends");
        let (shutdown, signal) = daemon::shutdown_channel();
        let thread = std::thread::spawn(move || daemon::run(cfg, backends, signal));
        InProcess {
            socket,
            data,
            shutdown,
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn call(&self, req: &Request) -> Response {
        ctl::call(&self.socket, req, Duration::from_secs(10)).expect("ctl call")
    }

    fn status(&self) -> Status {
        self.call(&Request::Status).status.expect("status")
    }

    fn wait(&self, what: &str, timeout: Duration, ok: impl Fn(&Status) -> bool) -> Status {
        let start = Instant::now();
        loop {
            if let Ok(r) = ctl::call(&self.socket, &Request::Status, Duration::from_secs(5))
                && let Some(s) = r.status
                && ok(&s)
            {
                return s;
            }
            assert!(start.elapsed() < timeout, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_state(&self, state: &str) -> Status {
        self.wait(state, Duration::from_secs(30), |s| s.state == state)
    }

    /// Signal shutdown and wait for `run` to return.
    fn stop(&mut self) -> Result<daemon::Stopped, DaemonError> {
        self.shutdown.shutdown();
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("daemon thread")
    }
}

#[test]
fn control_socket_drives_a_recording_and_the_shutdown_signal_stops_the_daemon() {
    let mut d = InProcess::start("");
    d.wait_state("ready");
    assert!(
        d.call(&Request::Record {
            action: RecordAction::Start
        })
        .ok
    );
    let s = d.wait_state("recording");
    let id = s.recording_id.expect("recording id");
    assert!(d.call(&Request::Marker).ok);
    let head = d.call(&Request::Head {
        nonce: "00ff".into(),
    });
    assert_eq!(head.head.expect("head statement").nonce, "00ff");
    let bad = d.call(&Request::Head {
        nonce: "not hex".into(),
    });
    assert!(!bad.ok && bad.error.unwrap().contains("hex"));
    d.wait("a segment closed", Duration::from_secs(30), |s| {
        s.segments_written >= 1
    });
    let data = d.data.clone();
    let socket = d.socket.clone();
    // Shutdown while recording: the open segment is finalised and `run` returns.
    assert_eq!(d.stop().expect("clean stop"), daemon::Stopped::Clean);
    assert!(!socket.exists(), "the control socket is removed");
    assert!(ctl::call(&socket, &Request::Status, Duration::from_secs(1)).is_err());

    let events = audit_events(&data.join("evidence/audit.log"));
    assert!(matches!(
        events.first(),
        Some(AuditEvent::KeyCreated { .. })
    ));
    assert!(matches!(events.last(), Some(AuditEvent::Shutdown {})));
    let stop = events
        .iter()
        .find_map(|e| match e {
            AuditEvent::RecordingStop {
                recording_id,
                trigger,
                ..
            } if *recording_id == id => Some(trigger.clone()),
            _ => None,
        })
        .expect("recording_stop");
    assert_eq!(stop, "shutdown");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AuditEvent::Marker { recording_id, .. } if *recording_id == id))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AuditEvent::HeadIssued { nonce, .. } if nonce == "00ff"))
    );
    let last_segment = std::fs::read_dir(data.join("recordings").join(&id))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && n != "recording.json")
        .max()
        .expect("sidecars");
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("recordings").join(&id).join(last_segment)).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["end_reason"], "shutdown");
}

#[test]
fn a_stalled_sensor_is_detected_and_the_pipeline_restarts_in_process() {
    let mut d = InProcess::start("simulate_stall_after_seconds = 2");
    d.wait_state("ready");
    // No video for 3 s: fault, then a restart after the back-off, then ready again.
    let s = d.wait("a pipeline restart", Duration::from_secs(40), |s| {
        s.pipeline_restarts >= 1 && s.state == "ready"
    });
    assert!(
        s.last_fault.as_deref().unwrap_or("").contains("stalled"),
        "{:?}",
        s.last_fault
    );
    let data = d.data.clone();
    assert_eq!(d.status().state, "ready");
    assert_eq!(d.stop().expect("clean stop"), daemon::Stopped::Clean);
    let events = audit_events(&data.join("evidence/audit.log"));
    let faults: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            AuditEvent::PipelineFault { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(
        faults.iter().any(|r| r.contains("no video for 3 s")),
        "{faults:?}"
    );
    let starts = events
        .iter()
        .filter(|e| matches!(e, AuditEvent::PipelineStart { .. }))
        .count();
    assert!(starts >= 2, "started, then restarted: {starts}");
}
