//! `bodycam run`: wires the capture pipeline, the store, the controls and the control
//! socket around the pure recorder state machine, in one loop thread.
//!
//! Threads: this loop (owns the state machine, the pre-event buffer, the store and the
//! open recording — nothing else touches flash); GStreamer streaming threads (appsink
//! callbacks push frames into a bounded channel); one bus watcher per pipeline; the
//! controls' gesture and indicator threads; the control-socket acceptor and one thread
//! per connection; the signal thread.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, select, unbounded};
use tracing::{debug, error, info, warn};

use crate::capture::{self, Capture, CaptureEvent, CaptureShared, CapturedFrame, Encoder};
use crate::clock::{TimeRef, monotonic_ns};
use crate::config::{Config, ControlsBackendKind};
use crate::controls::leds::{LedInputs, LedMode, LedPatterns, patterns_for};
use crate::controls::sim::{SimAction, SimButton, SimulatedControls};
use crate::controls::{self, ControlsBackend, ControlsHandle, Gesture, GestureTimings};
use crate::ctl::{self, ButtonAction, RecordAction, Request, Response};
use crate::dock::{DockError, DockLimits, DockServer};
use crate::dock_link::{DaemonDock, DockReply, DockRequest};
use crate::evidence::audit::{AuditLog, events};
use crate::evidence::identity::{Identity, IdentityError};
use crate::evidence::sidecar::{CaptureInfo, EndReason};
use crate::evidence::{Signer, SystemTime, boot_id, scan};
use crate::flash::RealFlash;
use crate::interleave::Interleaver;
use crate::media::{Frame, StreamKind};
use crate::prebuffer::PreEventBuffer;
use crate::recorder::{Action, Command, Event, Machine, State, Trigger};
use crate::status::{CameraStatus, LedStatus, Status};
use crate::store::offload;
use crate::store::recording::{NewRecording, Offer, RecordingWriter};
use crate::store::{Store, StoreError};
use crate::systemd::Notifier;

mod event_loop;
mod pipeline;
mod publish;
mod recording;
mod requests;
mod setup;
mod storage;
mod timers;

use recording::*;
use requests::*;
pub use setup::gesture_timings;
use setup::*;

/// How long the video may stop before the pipeline counts as stalled.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a (re)started pipeline may take to deliver its first keyframe.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// First retry delay after a pipeline failure; doubles up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Longest retry delay.
pub const MAX_RETRY: Duration = Duration::from_secs(30);

/// Footage is made durable at least this often.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// How long the marker flash shows.
pub const MARKER_FLASH: Duration = Duration::from_millis(700);

/// Loop tick.
const TICK: Duration = Duration::from_millis(100);

/// Errors that stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Capture could not be set up.
    #[error(transparent)]
    Capture(#[from] capture::CaptureError),
    /// The store could not be opened or recovered.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The controls backend failed.
    #[error(transparent)]
    Controls(#[from] controls::ControlsError),
    /// The control socket could not be set up.
    #[error(transparent)]
    Ctl(#[from] ctl::CtlError),
    /// The device identity could not be loaded or created.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The evidence files could not be read or written.
    #[error("evidence files in {path}: {source}")]
    Evidence {
        /// Path.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The dock API could not be set up (certificates, key, address).
    #[error(transparent)]
    Dock(#[from] DockError),
    /// Signal handling could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Messages from the other threads to the loop (besides frames).
#[derive(Debug)]
enum Input {
    Gesture(Gesture),
    Command(Command),
    /// Sign a head statement for this nonce and answer on the channel.
    Head(Vec<u8>, Sender<serde_json::Value>),
    /// Dock sense changed (true = in the dock).
    Dock(bool),
    /// A dock API request that signs or changes state; answer on the channel.
    DockCall(DockRequest, Sender<DockReply>),
    Shutdown,
}

/// Run the daemon until SIGTERM/SIGINT. `encoder` must come from
/// [`capture::resolve_encoder`] (so a bad encoder choice is reported as a config error
/// before anything starts).
pub fn run(cfg: Config, encoder: Encoder) -> Result<(), DaemonError> {
    let started = Instant::now();
    capture::check_elements(&cfg)?;
    let aac = if cfg.audio.enabled {
        Some(capture::resolve_aac()?)
    } else {
        None
    };
    let description = capture::pipeline_description(&cfg, encoder, aac);
    debug!(pipeline = %description, "capture pipeline");

    let mut store = Store::open(
        &cfg.storage,
        cfg.footage_bytes_per_second(),
        Arc::new(RealFlash),
    )?;
    let (signer, audit, recovered) = open_evidence(&cfg, &mut store)?;

    let (input_tx, input_rx) = unbounded::<Input>();
    let (gesture_tx, gesture_rx) = std::sync::mpsc::channel::<Gesture>();
    {
        let input_tx = input_tx.clone();
        std::thread::Builder::new()
            .name("gestures".into())
            .spawn(move || {
                while let Ok(g) = gesture_rx.recv() {
                    if input_tx.send(Input::Gesture(g)).is_err() {
                        return;
                    }
                }
            })
            .map_err(DaemonError::Signals)?;
    }
    let timings = gesture_timings(&cfg);
    let (backend, sim_button) = controls_backend(&cfg, timings)?;
    let controls_name = backend.name();
    let controls = controls::start(backend, timings, gesture_tx)?;

    let status = Arc::new(Mutex::new(Status::default()));
    let socket_path = cfg.socket_path();
    let listener = ctl::bind(&socket_path)?;
    {
        let status = status.clone();
        let input_tx = input_tx.clone();
        let handler: Arc<dyn Fn(Request) -> Response + Send + Sync> =
            Arc::new(move |req| handle_request(req, &status, &input_tx, sim_button.as_ref()));
        std::thread::Builder::new()
            .name("ctl".into())
            .spawn(move || ctl::serve(listener, handler))
            .map_err(DaemonError::Signals)?;
    }
    spawn_signal_thread(input_tx.clone())?;
    if cfg.controls.backend == ControlsBackendKind::Gpio
        && let Some(pin) = cfg.controls.dock_pin
    {
        let tx = input_tx.clone();
        controls::gpio::watch_dock(pin, move |docked| {
            let _ = tx.send(Input::Dock(docked));
        })?;
    }

    let dock = match (&cfg.dock.cert, &cfg.dock.key, &cfg.dock.ca) {
        (Some(cert), Some(key), Some(ca)) => {
            let tls = crate::dock::server_tls(cert, key, ca)?;
            let tx = input_tx.clone();
            let call: crate::dock_link::LoopCall = Arc::new(move |req| {
                let (reply_tx, reply_rx) = crossbeam_channel::bounded(1);
                tx.send(Input::DockCall(req, reply_tx))
                    .map_err(|_| DockError::Unavailable("the camera is shutting down".into()))?;
                reply_rx
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|_| DockError::Unavailable("the camera did not answer".into()))?
            });
            let addr = cfg.dock.listen.parse().map_err(|_| {
                DaemonError::Dock(DockError::Tls(format!(
                    "bad dock.listen {}",
                    cfg.dock.listen
                )))
            })?;
            Some(DockSetup { tls, call, addr })
        }
        (Some(_) | None, Some(_) | None, Some(_) | None) => None,
    };

    let (frames_tx, frames_rx) = bounded::<CapturedFrame>(1024);
    let (events_tx, events_rx) = unbounded::<CaptureEvent>();
    let shared = Arc::new(CaptureShared {
        fail_after: cfg
            .camera
            .simulate_failure_after_seconds
            .map(|s| Duration::from_secs(u64::from(s))),
        stall_after: cfg
            .camera
            .simulate_stall_after_seconds
            .map(|s| Duration::from_secs(u64::from(s))),
        failed_once: AtomicBool::new(false),
    });
    let capture_info = CaptureInfo {
        source: format!("{:?}", cfg.camera.source).to_lowercase(),
        encoder: encoder.element().to_string(),
        width: cfg.camera.width,
        height: cfg.camera.height,
        framerate: cfg.camera.framerate,
        audio: cfg.audio.enabled,
    };
    let camera_status = CameraStatus {
        source: capture_info.source.clone(),
        encoder: capture_info.encoder.clone(),
        width: cfg.camera.width,
        height: cfg.camera.height,
        framerate: cfg.camera.framerate,
        audio_encoder: aac.map(str::to_string),
    };
    info!(
        camera = %capture_info.source,
        encoder = %capture_info.encoder,
        controls = controls_name,
        socket = %socket_path.display(),
        data = %cfg.storage.path.display(),
        "bodycam daemon starting"
    );

    let (machine, boot_actions) = Machine::boot();
    let pre_event_ns = u64::from(cfg.recording.pre_event_seconds) * 1_000_000_000;
    // Bound the pre-event RAM at twice the configured bitrate's worth, plus a GOP.
    let pre_event_cap = ((cfg.footage_bytes_per_second() * 2.0)
        * f64::from(cfg.recording.pre_event_seconds + 1)) as usize;
    let mut d = Loop {
        prebuffer: PreEventBuffer::new(
            pre_event_ns,
            cfg.recording.pre_event_audio && cfg.audio.enabled,
            pre_event_cap.max(4 << 20),
        ),
        interleaver: Interleaver::new(cfg.audio.enabled, 1_000_000_000),
        segment_ns: u64::from(cfg.recording.segment_seconds) * 1_000_000_000,
        cfg,
        machine,
        store,
        recording: None,
        capture: None,
        generation: 0,
        description,
        shared,
        frames_tx,
        frames_rx,
        events_tx,
        controls,
        status,
        capture_info,
        camera_status,
        controls_name,
        retry_at: None,
        backoff: FIRST_RETRY,
        pipeline_started: Instant::now(),
        last_video: Instant::now(),
        running_seen: false,
        last_sync: Instant::now(),
        last_refresh: Instant::now(),
        marker_flash_until: None,
        segments_written: 0,
        restarts: 0,
        last_fault: None,
        recovered: recovered.len(),
        time: TimeRef::now(),
        queue: Default::default(),
        exit: false,
        leds: None,
        storage_low: false,
        daemon_started: started,
        notify: Notifier::new(),
        dock,
        dock_server: None,
        dock_activity: None,
        offload_pending: None,
        signer,
        audit,
        clock_offset_ms: clock_offset_ms(),
        clock_synced: crate::clock::clock_synchronised(),
    };
    for a in boot_actions {
        d.execute(a);
    }
    d.drain_queue();
    d.refresh_storage();
    d.publish();
    d.run(&input_rx, &events_rx);
    if let Some(server) = d.dock_server.take() {
        let _ = server.stop();
    }
    d.audit_event(events::SHUTDOWN, serde_json::json!({}));
    d.controls.shutdown();
    let _ = std::fs::remove_file(&socket_path);
    info!("bodycam daemon stopped");
    Ok(())
}

/// What the dock API needs, prepared at start.
struct DockSetup {
    tls: Arc<rustls::ServerConfig>,
    call: crate::dock_link::LoopCall,
    addr: std::net::SocketAddr,
}

/// The loop's state. Lock order: only `status` is shared, and it is never held while
/// another lock is taken.
struct Loop {
    cfg: Config,
    machine: Machine,
    store: Store,
    recording: Option<RecordingWriter>,
    prebuffer: PreEventBuffer,
    interleaver: Interleaver,
    segment_ns: u64,
    capture: Option<Capture>,
    generation: u64,
    description: String,
    shared: Arc<CaptureShared>,
    frames_tx: Sender<CapturedFrame>,
    frames_rx: Receiver<CapturedFrame>,
    events_tx: Sender<CaptureEvent>,
    controls: ControlsHandle,
    status: Arc<Mutex<Status>>,
    capture_info: CaptureInfo,
    camera_status: CameraStatus,
    controls_name: &'static str,
    retry_at: Option<Instant>,
    backoff: Duration,
    pipeline_started: Instant,
    last_video: Instant,
    running_seen: bool,
    last_sync: Instant,
    last_refresh: Instant,
    marker_flash_until: Option<Instant>,
    segments_written: u64,
    restarts: u32,
    last_fault: Option<String>,
    recovered: usize,
    time: TimeRef,
    queue: std::collections::VecDeque<Event>,
    exit: bool,
    leds: Option<LedPatterns>,
    storage_low: bool,
    daemon_started: Instant,
    notify: Notifier,
    dock: Option<DockSetup>,
    dock_server: Option<DockServer>,
    /// When the dock last made a request that goes through the loop.
    dock_activity: Option<Instant>,
    /// Closed segments not yet acknowledged (counted when docking and after each ack).
    offload_pending: Option<usize>,
    signer: Signer,
    audit: AuditLog,
    clock_offset_ms: i64,
    clock_synced: bool,
}
