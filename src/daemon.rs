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
use crate::evidence::{Signer, SystemTime, boot_id, scan};
use crate::interleave::Interleaver;
use crate::media::{Frame, StreamKind};
use crate::prebuffer::PreEventBuffer;
use crate::recorder::{Action, Command, Event, Machine, State, Trigger};
use crate::status::{CameraStatus, LedStatus, Status};
use crate::store::flash::RealFlash;
use crate::store::meta::{CaptureInfo, EndReason};
use crate::store::offload;
use crate::store::recording::{NewRecording, Offer, RecordingWriter};
use crate::store::{Store, StoreError};
use crate::systemd::Notifier;

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

/// Build the controls backend named by the config (picked once, here).
fn controls_backend(
    cfg: &Config,
    timings: GestureTimings,
) -> Result<(Box<dyn ControlsBackend>, Option<SimButton>), controls::ControlsError> {
    match cfg.controls.backend {
        ControlsBackendKind::Simulated => {
            let sim = SimulatedControls::new(timings);
            let button = sim.button();
            Ok((Box::new(sim), Some(button)))
        }
        ControlsBackendKind::Gpio => {
            let k = &cfg.controls;
            let gpio = controls::gpio::GpioControls::new(controls::gpio::GpioPins {
                button: k.button_pin,
                red: k.red_pin,
                green: k.green_pin,
                amber: k.amber_pin,
                haptic: k.haptic_pin,
            })?;
            Ok((Box::new(gpio), None))
        }
    }
}

/// Gesture timings from the config.
pub fn gesture_timings(cfg: &Config) -> GestureTimings {
    let k = &cfg.controls;
    GestureTimings {
        debounce: Duration::from_millis(u64::from(k.debounce_ms)),
        multi_press_gap: Duration::from_millis(u64::from(k.multi_press_gap_ms)),
        hold: Duration::from_millis(u64::from(k.hold_ms)),
        max_tap: Duration::from_millis(u64::from(k.max_tap_ms)),
    }
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

/// Milliseconds between the wall clock and the monotonic clock (changes when the wall
/// clock is set or jumps).
fn clock_offset_ms() -> i64 {
    chrono::Utc::now().timestamp_millis() - (crate::clock::monotonic_ns() / 1_000_000) as i64
}

/// Load the identity, find the chain heads, open the audit log, record the boot, and
/// recover segments left open.
fn open_evidence(
    cfg: &Config,
    store: &mut Store,
) -> Result<(Signer, AuditLog, Vec<crate::store::recovery::Recovered>), DaemonError> {
    let found =
        scan::scan(store.flash(), store.root()).map_err(|source| DaemonError::Evidence {
            path: store.root().to_path_buf(),
            source,
        })?;
    let (identity, created) = Identity::load_or_create(&cfg.key_dir(), found.any_evidence)?;
    let own = hex::encode(identity.device_id());
    for other in found.device_ids.iter().filter(|d| **d != own) {
        warn!(device = %other, "evidence on flash was signed by another device id");
    }
    if let Some((offset, reason)) = &found.audit_damaged {
        error!(offset, %reason, "the audit log is damaged before its end; left as it is");
    }
    let (media_head, audit_head) = found.heads_for(&own);
    let mut signer = Signer::new(
        identity,
        Box::new(SystemTime),
        boot_id(),
        media_head,
        audit_head,
    );
    let audit_path = store.audit_path();
    let mut audit =
        AuditLog::open(store.flash(), &audit_path).map_err(|source| DaemonError::Evidence {
            path: audit_path.clone(),
            source,
        })?;
    let mut log = |signer: &mut Signer, event: &str, detail: serde_json::Value| {
        audit
            .append(signer, event, detail)
            .map_err(|source| DaemonError::Evidence {
                path: audit_path.clone(),
                source,
            })
    };
    if created {
        info!(device = %own, "device key created");
        log(
            &mut signer,
            events::KEY_CREATED,
            serde_json::json!({ "device_id": own }),
        )?;
    }
    if found.audit_torn_bytes > 0 {
        log(
            &mut signer,
            events::TORN_TAIL_REMOVED,
            serde_json::json!({ "file": "audit.log", "bytes": found.audit_torn_bytes }),
        )?;
    }
    if found
        .last_audit_event
        .as_deref()
        .is_some_and(|e| e != events::SHUTDOWN)
    {
        warn!("the previous run ended without a clean shutdown");
        log(
            &mut signer,
            events::UNCLEAN_SHUTDOWN,
            serde_json::json!({ "last_event": found.last_audit_event }),
        )?;
    }
    log(
        &mut signer,
        events::BOOT,
        serde_json::json!({
            "firmware": env!("CARGO_PKG_VERSION"),
            "config_sha256": cfg.digest(),
            "device_id": own,
            "media_chain_count": media_head.count,
            "clock_synchronised": crate::clock::clock_synchronised(),
        }),
    )?;
    let recovered = store.recover(&mut signer)?;
    for r in &recovered {
        warn!(
            path = %r.path.display(),
            tail_seconds = r.tail_seconds,
            tail_bytes = r.tail_bytes,
            "recovered a segment left open by an unclean shutdown"
        );
        log(
            &mut signer,
            events::RECOVERY,
            serde_json::json!({
                "recording_id": r.meta.recording_id,
                "segment": r.meta.sequence,
                "tail_bytes": r.tail_bytes,
                "tail_seconds": r.tail_seconds,
                "journal_torn_bytes": r.journal_torn_bytes,
            }),
        )?;
    }
    Ok((signer, audit, recovered))
}

fn spawn_signal_thread(tx: Sender<Input>) -> Result<(), DaemonError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).map_err(DaemonError::Signals)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = tx.send(Input::Shutdown);
            }
        })
        .map_err(DaemonError::Signals)?;
    Ok(())
}

fn handle_request(
    req: Request,
    status: &Mutex<Status>,
    input: &Sender<Input>,
    sim: Option<&SimButton>,
) -> Response {
    let send = |c: Command| match input.send(Input::Command(c)) {
        Ok(()) => Response::ok(),
        Err(_) => Response::error("the daemon is shutting down"),
    };
    match req {
        Request::Status => match status.lock() {
            Ok(s) => Response {
                ok: true,
                error: None,
                status: Some(s.clone()),
                head: None,
            },
            Err(_) => Response::error("status unavailable"),
        },
        Request::Button { action } => {
            let Some(button) = sim else {
                return Response::error(
                    "button injection needs controls.backend = \"simulated\"; this daemon uses GPIO",
                );
            };
            let action = match action {
                ButtonAction::Press => SimAction::Press,
                ButtonAction::Double => SimAction::Double,
                ButtonAction::Triple => SimAction::Triple,
                ButtonAction::Hold => SimAction::Hold,
                ButtonAction::Bounce => SimAction::Bounce,
            };
            match button.perform(action) {
                Ok(()) => Response::ok(),
                Err(e) => Response::error(e.to_string()),
            }
        }
        Request::Record { action } => send(match action {
            RecordAction::Start => Command::Start,
            RecordAction::Stop => Command::Stop,
        }),
        Request::Marker => send(Command::Marker),
        Request::Stealth => send(Command::ToggleStealth),
        Request::Dock | Request::Undock => {
            if sim.is_none() {
                return Response::error(
                    "ctl dock/undock needs controls.backend = \"simulated\"; this daemon senses the dock on GPIO",
                );
            }
            match input.send(Input::Dock(req == Request::Dock)) {
                Ok(()) => Response::ok(),
                Err(_) => Response::error("the daemon is shutting down"),
            }
        }
        Request::Head { nonce } => {
            let nonce = match hex::decode(nonce.trim()) {
                Ok(n) if (1..=64).contains(&n.len()) => n,
                Ok(_) | Err(_) => return Response::error("nonce must be 1–64 bytes of hex"),
            };
            let (tx, rx) = crossbeam_channel::bounded(1);
            if input.send(Input::Head(nonce, tx)).is_err() {
                return Response::error("the daemon is shutting down");
            }
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(head) => Response {
                    ok: true,
                    error: None,
                    status: None,
                    head: Some(head),
                },
                Err(_) => Response::error("the daemon did not answer"),
            }
        }
    }
}

fn trigger_name(t: Trigger) -> String {
    match t {
        Trigger::Gesture(g) => format!("gesture:{}", gesture_name(g)),
        Trigger::Ctl => "ctl".into(),
        Trigger::StorageFull => "storage_full".into(),
        Trigger::Shutdown => "shutdown".into(),
    }
}

fn gesture_name(g: Gesture) -> &'static str {
    match g {
        Gesture::Single => "single",
        Gesture::Double => "double",
        Gesture::Triple => "triple",
        Gesture::Hold => "hold",
    }
}

fn end_reason(t: Trigger) -> EndReason {
    match t {
        Trigger::Gesture(_) | Trigger::Ctl => EndReason::Stopped,
        Trigger::StorageFull => EndReason::StorageFull,
        Trigger::Shutdown => EndReason::Shutdown,
    }
}

/// How long after the dock's last request the LEDs keep showing "offloading".
const OFFLOAD_ACTIVITY: Duration = Duration::from_secs(30);

fn led_mode(s: State, offload: Offload) -> LedMode {
    match s {
        State::Docked if offload == Offload::Complete => LedMode::OffloadComplete,
        State::Docked if offload == Offload::Active => LedMode::Offloading,
        State::Booting => LedMode::Booting,
        State::Ready => LedMode::Ready,
        State::Recording => LedMode::Recording,
        State::Stopping | State::ShuttingDown => LedMode::Stopping,
        State::StorageFull => LedMode::StorageFull,
        State::Fault { .. } => LedMode::Fault,
        State::Docked => LedMode::Docked,
    }
}

/// Offload progress as the LEDs show it while docked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offload {
    /// The dock has not talked to the camera lately.
    Idle,
    /// The dock is working: it asked for a head, an acknowledgement or the time recently.
    Active,
    /// Every closed segment is acknowledged.
    Complete,
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

impl Loop {
    /// Append an audit entry; a failure is logged, never fatal to recording.
    fn audit_event(&mut self, event: &str, detail: serde_json::Value) {
        if let Err(e) = self.audit.append(&mut self.signer, event, detail) {
            error!(error = %e, event, "cannot append to the audit log");
        }
    }

    /// Audit the end of recording `r`; `during` is the state it ended in.
    fn audit_stop(&mut self, r: &RecordingWriter, t: Trigger, during: &str) {
        self.audit_event(
            events::RECORDING_STOP,
            serde_json::json!({
                "recording_id": r.id(),
                "trigger": trigger_name(t),
                "seconds": r.seconds(),
                "segments": r.closed().len(),
                "during": during,
            }),
        );
    }

    fn run(&mut self, input: &Receiver<Input>, events: &Receiver<CaptureEvent>) {
        let frames = self.frames_rx.clone();
        let mut next_tick = Instant::now() + TICK;
        while !self.exit {
            let timeout = next_tick.saturating_duration_since(Instant::now());
            select! {
                recv(frames) -> msg => {
                    if let Ok(f) = msg {
                        self.on_frame(f);
                    }
                }
                recv(input) -> msg => {
                    match msg {
                        Ok(Input::Gesture(g)) => {
                            info!(gesture = gesture_name(g), "button gesture");
                            self.dispatch(Event::Gesture(g));
                        }
                        Ok(Input::Command(c)) => {
                            info!(command = ?c, "control command");
                            self.dispatch(Event::Command(c));
                        }
                        Ok(Input::Dock(docked)) => {
                            info!(docked, "dock sense");
                            if self.machine.docked() != docked {
                                let event = if docked { events::DOCKED } else { events::UNDOCKED };
                                let state = self.machine.state().name();
                                self.audit_event(event, serde_json::json!({ "state": state }));
                            }
                            self.dispatch(if docked { Event::Docked } else { Event::Undocked });
                        }
                        Ok(Input::DockCall(req, reply)) => {
                            let answer = self.dock_call(req);
                            let _ = reply.send(answer);
                        }
                        Ok(Input::Head(nonce, reply)) => {
                            let head = self.head_statement(&nonce);
                            let _ = reply.send(head);
                        }
                        Ok(Input::Shutdown) | Err(_) => {
                            info!("shutdown requested");
                            self.notify.stopping();
                            self.dispatch(Event::Shutdown);
                        }
                    }
                }
                recv(events) -> msg => {
                    if let Ok(CaptureEvent::Failed { generation, reason }) = msg
                        && generation == self.generation
                        && self.capture.is_some()
                    {
                        self.pipeline_failed(reason);
                    }
                }
                default(timeout) => {}
            }
            if Instant::now() >= next_tick {
                self.tick();
                next_tick = Instant::now() + TICK;
            }
        }
    }

    /// Start the dock API (if configured) now that the camera is docked.
    fn open_dock(&mut self) {
        if self.dock_server.is_some() {
            return;
        }
        self.count_pending();
        let Some(setup) = &self.dock else {
            warn!("docked, but no [dock] cert/key/ca configured: the dock API stays closed");
            return;
        };
        let backend = Arc::new(DaemonDock::new(
            setup.call.clone(),
            self.status.clone(),
            self.store.root().to_path_buf(),
            self.signer.identity().public(),
        ));
        match DockServer::start(
            setup.addr,
            setup.tls.clone(),
            backend,
            DockLimits::default(),
        ) {
            Ok(server) => {
                info!(addr = %server.local_addr(), "dock API open (mutual TLS)");
                self.dock_server = Some(server);
            }
            Err(e) => {
                error!(error = %e, "cannot open the dock API");
                self.last_fault = Some(e.to_string());
            }
        }
    }

    fn count_pending(&mut self) {
        self.offload_pending = match offload::pending(self.store.recordings_dir()) {
            Ok(n) => Some(n),
            Err(e) => {
                warn!(error = %e, "cannot count segments waiting for offload");
                None
            }
        };
    }

    fn offload_state(&self) -> Offload {
        if self.offload_pending == Some(0) {
            Offload::Complete
        } else if self
            .dock_activity
            .is_some_and(|t| t.elapsed() < OFFLOAD_ACTIVITY)
        {
            Offload::Active
        } else {
            Offload::Idle
        }
    }

    /// Answer a dock API request that signs or changes state.
    fn dock_call(&mut self, req: DockRequest) -> DockReply {
        self.dock_activity = Some(Instant::now());
        let answer = self.dock_request(req);
        self.update_leds();
        self.publish();
        answer
    }

    fn dock_request(&mut self, req: DockRequest) -> DockReply {
        match req {
            DockRequest::Head(nonce) => Ok(self.head_statement(&nonce)),
            DockRequest::Ack(ack) => {
                let dir = self.store.recordings_dir().join(&ack.recording);
                let already = offload::is_acknowledged(&dir, ack.segment);
                let utc = crate::clock::rfc3339(chrono::Utc::now());
                let record = offload::acknowledge(
                    self.store.flash(),
                    self.store.recordings_dir(),
                    &ack.recording,
                    ack.segment,
                    &ack.blob,
                    &ack.sha256,
                    &utc,
                )
                .map_err(|e| DockError::from_ack(&ack, e))?;
                if !already {
                    info!(recording = %ack.recording, segment = ack.segment, blob = %ack.blob, "offload acknowledged");
                    self.audit_event(
                        events::OFFLOAD_ACK,
                        serde_json::json!({
                            "recording_id": ack.recording,
                            "segment": ack.segment,
                            "blob": ack.blob,
                            "sha256": record.sha256,
                        }),
                    );
                }
                self.count_pending();
                let mut freed = false;
                if self.cfg.storage.delete_after_ack {
                    freed = self.free_acknowledged(Some((&ack.recording, ack.segment)));
                }
                Ok(serde_json::json!({
                    "acknowledged": true,
                    "recording_id": ack.recording,
                    "segment": ack.segment,
                    "sha256": record.sha256,
                    "freed": freed,
                }))
            }
            DockRequest::SetTime(utc_ms) => Ok(self.set_time(utc_ms)),
        }
    }

    /// The dock's trusted time: the offset of our clock from it is always audited; the
    /// clock is set only with `dock.set_clock = true` (and CAP_SYS_TIME).
    fn set_time(&mut self, utc_ms: i64) -> serde_json::Value {
        let before = chrono::Utc::now().timestamp_millis();
        let offset = utc_ms - before;
        let (applied, error) = if self.cfg.dock.set_clock {
            let ts = libc::timespec {
                tv_sec: utc_ms.div_euclid(1000),
                tv_nsec: utc_ms.rem_euclid(1000) * 1_000_000,
            };
            // SAFETY: a valid timespec; the kernel checks the caller's privilege.
            let applied = unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) } == 0;
            (
                applied,
                (!applied).then(|| std::io::Error::last_os_error().to_string()),
            )
        } else {
            (
                false,
                Some("not set: dock.set_clock is off (offset recorded only)".to_string()),
            )
        };
        if applied {
            self.signer
                .set_clock_state(crate::evidence::record::ClockState::Dock);
            // Not a jump of our own making.
            self.clock_offset_ms = clock_offset_ms();
        }
        info!(offset_ms = offset, applied, "clock set by the dock");
        self.audit_event(
            events::CLOCK,
            serde_json::json!({ "change": "dock", "offset_ms": offset, "applied": applied, "error": error }),
        );
        serde_json::json!({ "offset_ms": offset, "applied": applied, "error": error })
    }

    /// Free the media of acknowledged segments: just `only` (delete_after_ack), or the
    /// oldest until capacity is back above the reserve. Each deletion is audited.
    /// Returns whether anything was freed.
    fn free_acknowledged(&mut self, only: Option<(&str, u32)>) -> bool {
        let list = match offload::reclaimable(self.store.recordings_dir()) {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "cannot list acknowledged segments");
                return false;
            }
        };
        let mut freed = false;
        for r in list {
            if let Some((rec, seg)) = only
                && (r.recording != rec || r.segment != seg)
            {
                continue;
            }
            if only.is_none() && !self.store.capacity().low {
                break;
            }
            match offload::free(&r) {
                Ok(()) => {
                    freed = true;
                    self.store.release(r.bytes);
                    info!(recording = %r.recording, segment = r.segment, bytes = r.bytes, "freed acknowledged segment");
                    self.audit_event(
                        events::SEGMENT_FREED,
                        serde_json::json!({ "recording_id": r.recording, "segment": r.segment, "bytes": r.bytes }),
                    );
                }
                Err(e) => warn!(error = %e, "cannot free an acknowledged segment"),
            }
        }
        if freed && let Err(e) = self.store.refresh() {
            warn!(error = %e, "cannot read free space");
        }
        freed
    }

    /// A signed head statement for `nonce`, as `ctl head` prints it.
    fn head_statement(&mut self, nonce: &[u8]) -> serde_json::Value {
        let record = self.signer.sign_head(nonce);
        let media = self.signer.media_head();
        let audit = self.signer.audit_head();
        self.audit_event(
            events::HEAD_ISSUED,
            serde_json::json!({
                "nonce": hex::encode(nonce),
                "media_count": media.count,
                "audit_count": audit.count,
            }),
        );
        serde_json::json!({
            "format": "bodycam-head/1",
            "device_id": hex::encode(self.signer.identity().device_id()),
            "nonce": hex::encode(nonce),
            "media_count": media.count,
            "media_hash": hex::encode(media.hash),
            "audit_count": audit.count,
            "audit_hash": hex::encode(audit.hash),
            "utc": crate::clock::rfc3339(chrono::Utc::now()),
            "record": hex::encode(record),
        })
    }

    fn pipeline_failed(&mut self, reason: String) {
        error!(%reason, "capture pipeline failed");
        self.audit_event(
            events::PIPELINE_FAULT,
            serde_json::json!({ "generation": self.generation, "reason": reason }),
        );
        self.last_fault = Some(reason);
        self.dispatch(Event::PipelineFailed);
    }

    fn dispatch(&mut self, event: Event) {
        self.queue.push_back(event);
        self.drain_queue();
    }

    fn drain_queue(&mut self) {
        while let Some(event) = self.queue.pop_front() {
            let before = self.machine.state();
            let actions = self.machine.step(event);
            let after = self.machine.state();
            if before != after {
                info!(
                    from = before.name(),
                    to = after.name(),
                    ?event,
                    "state change"
                );
                if after == State::Docked {
                    // Segments closed since docking are waiting for offload too.
                    self.count_pending();
                }
                if after == State::StorageFull {
                    let cap = self.store.capacity();
                    self.audit_event(
                        events::STORAGE_FULL,
                        serde_json::json!({
                            "available_bytes": cap.available_bytes,
                            "used_bytes": cap.used_bytes,
                        }),
                    );
                }
            }
            for a in actions {
                self.execute(a);
            }
        }
        self.update_leds();
        self.publish();
    }

    fn execute(&mut self, action: Action) {
        debug!(?action, "action");
        match action {
            Action::StartPipeline => self.start_pipeline(),
            Action::StopPipeline => self.stop_pipeline(),
            Action::ScheduleRetry => {
                self.retry_at = Some(Instant::now() + self.backoff);
                info!(
                    seconds = self.backoff.as_secs(),
                    "pipeline restart scheduled"
                );
                self.backoff = (self.backoff * 2).min(MAX_RETRY);
            }
            Action::OpenRecording(t) => self.open_recording(t),
            Action::FinalizeRecording(t) => {
                self.flush_pending();
                self.close_segment(end_reason(t));
                if let Some(r) = self.recording.take() {
                    info!(recording = r.id(), seconds = r.seconds(), trigger = %trigger_name(t), "recording stopped");
                    self.audit_stop(&r, t, "recording");
                }
                self.queue.push_back(Event::RecordingFinalized);
            }
            Action::SuspendRecording => {
                self.flush_pending();
                self.close_segment(EndReason::Fault);
            }
            Action::ResumeRecording => {
                if let Some(r) = &self.recording {
                    info!(recording = r.id(), "recording resumes in a new segment");
                }
            }
            Action::EndSuspendedRecording(t) => {
                if let Some(r) = self.recording.take() {
                    info!(recording = r.id(), trigger = %trigger_name(t), "suspended recording ended");
                    self.audit_stop(&r, t, "fault");
                }
            }
            Action::AddMarker(t) => {
                let now = monotonic_ns();
                let time = TimeRef::now();
                if let Some(r) = self.recording.as_mut() {
                    r.add_marker(now, trigger_name(t), &time);
                    info!(recording = r.id(), "marker added");
                    let id = r.id().to_string();
                    self.audit_event(
                        events::MARKER,
                        serde_json::json!({
                            "recording_id": id,
                            "trigger": trigger_name(t),
                            "utc": crate::clock::rfc3339(time.utc),
                        }),
                    );
                }
            }
            Action::MarkerFlash => self.marker_flash_until = Some(Instant::now() + MARKER_FLASH),
            Action::Haptic(cue) => {
                if !self.machine.stealth() {
                    self.controls.haptic(cue);
                }
            }
            Action::StealthChanged(on) => {
                info!(stealth = on, "stealth mode");
                self.audit_event(events::STEALTH, serde_json::json!({ "on": on }));
            }
            Action::Refused(r) => warn!(reason = ?r, "start refused"),
            Action::OpenDock => self.open_dock(),
            Action::CloseDock => {
                if let Some(server) = self.dock_server.take() {
                    if let Err(e) = server.stop() {
                        warn!(error = %e, "dock API did not stop cleanly");
                    }
                    info!("dock API closed");
                }
            }
            Action::Exit => self.exit = true,
        }
    }

    fn start_pipeline(&mut self) {
        self.stop_pipeline();
        self.generation += 1;
        if self.generation > 1 {
            self.restarts += 1;
        }
        self.running_seen = false;
        self.pipeline_started = Instant::now();
        self.retry_at = None;
        match Capture::start(
            &self.description,
            self.generation,
            self.shared.clone(),
            self.frames_tx.clone(),
            self.events_tx.clone(),
        ) {
            Ok(c) => {
                info!(generation = self.generation, "capture pipeline started");
                self.audit_event(
                    events::PIPELINE_START,
                    serde_json::json!({ "generation": self.generation }),
                );
                self.capture = Some(c);
            }
            Err(e) => {
                // The machine treats it like any pipeline failure and schedules a retry.
                error!(error = %e, "capture pipeline did not start");
                self.last_fault = Some(e.to_string());
                self.queue.push_back(Event::PipelineFailed);
            }
        }
    }

    fn stop_pipeline(&mut self) {
        if let Some(c) = self.capture.take() {
            info!(generation = c.generation(), "capture pipeline stopping");
            c.stop();
        }
        // Frames of the old pipeline that were never routed are not contiguous with the
        // next pipeline's; a recording already took what it needed in flush_pending().
        while self.frames_rx.try_recv().is_ok() {}
        self.interleaver.clear();
        self.prebuffer.clear();
    }

    /// Route every frame of the current pipeline that is still queued.
    fn flush_pending(&mut self) {
        while let Ok(f) = self.frames_rx.try_recv() {
            if f.generation == self.generation {
                self.interleaver.push(f.frame);
            }
        }
        for f in self.interleaver.drain() {
            self.route(f);
        }
    }

    fn on_frame(&mut self, f: CapturedFrame) {
        if f.generation != self.generation || self.capture.is_none() {
            return;
        }
        let frame = f.frame;
        if frame.kind == StreamKind::Video {
            self.last_video = Instant::now();
            if !self.running_seen {
                if !frame.keyframe {
                    return;
                }
                self.running_seen = true;
                self.backoff = FIRST_RETRY;
                info!(generation = self.generation, "capture pipeline running");
                self.dispatch(Event::PipelineRunning);
                // Store recovered (before the loop started) and pipeline running.
                self.notify.ready();
            }
        } else if !self.running_seen {
            return;
        }
        self.interleaver.push(frame);
        while let Some(f) = self.interleaver.pop() {
            self.route(f);
        }
    }

    fn route(&mut self, f: Frame) {
        match self.machine.state() {
            State::Recording => self.write(f),
            State::Booting | State::Ready | State::Stopping | State::StorageFull => {
                self.prebuffer.push(f)
            }
            State::Fault { resume } => {
                // Frames still queued from a failed pipeline belong to the suspended recording.
                if resume && self.recording.is_some() {
                    self.write(f);
                }
            }
            State::Docked | State::ShuttingDown => {}
        }
    }

    fn write(&mut self, f: Frame) {
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        if f.is_video_keyframe() {
            // The segment checkpoints (sync + signed record) before each keyframe.
            self.last_sync = Instant::now();
        }
        let before = rec.closed().len();
        match rec.offer(
            self.store.flash(),
            &f,
            self.store.budget(),
            &self.time,
            &mut self.signer,
        ) {
            Ok(Offer::Written(n)) => self.store.account(n),
            Ok(Offer::Skipped) => {}
            Ok(Offer::NoRoom) => {
                warn!("storage full: finalising the recording");
                self.queue.push_back(Event::StorageFull);
            }
            Err(e) => self.storage_failed(e),
        }
        if let Some(rec) = self.recording.as_ref() {
            let closed = rec.closed().len() - before;
            if closed > 0 {
                self.segments_written += closed as u64;
                if let Some(m) = rec.closed().last() {
                    info!(recording = %m.recording_id, sequence = m.sequence, seconds = m.duration_seconds, bytes = m.bytes, "segment closed");
                }
            }
        }
    }

    fn storage_failed(&mut self, e: StoreError) {
        error!(error = %e, "flash write failed: treating the store as full");
        self.last_fault = Some(e.to_string());
        self.queue.push_back(Event::StorageFull);
    }

    fn close_segment(&mut self, reason: EndReason) {
        let time = TimeRef::now();
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        match rec.close_segment(self.store.flash(), reason, &time, &mut self.signer) {
            Ok(Some((m, _))) => {
                self.segments_written += 1;
                info!(recording = %m.recording_id, sequence = m.sequence, seconds = m.duration_seconds, bytes = m.bytes, reason = ?reason, "segment closed");
            }
            Ok(None) => {}
            Err(e) => {
                error!(error = %e, "cannot finalise segment (its media stays on flash; recovery will close it at next start)")
            }
        }
        self.last_sync = Instant::now();
    }

    fn open_recording(&mut self, t: Trigger) {
        let pre = self.prebuffer.take();
        let now = monotonic_ns();
        let pre_ns = pre.first().map_or(0, |f| now.saturating_sub(f.pts_ns));
        let pre_audio = pre.iter().any(|f| f.kind == StreamKind::Audio);
        self.time = TimeRef::now();
        let plan = NewRecording {
            trigger: trigger_name(t),
            pre_event: (pre_ns, pre_audio),
            segment_ns: self.segment_ns,
            capture: self.capture_info.clone(),
        };
        match self.store.new_recording(&self.time, plan) {
            Ok(r) => {
                info!(recording = r.id(), trigger = %trigger_name(t), pre_event_seconds = pre_ns as f64 / 1e9, "recording started");
                let id = r.id().to_string();
                self.audit_event(
                    events::RECORDING_START,
                    serde_json::json!({
                        "recording_id": id,
                        "trigger": trigger_name(t),
                        "pre_event_seconds": pre_ns as f64 / 1e9,
                        "pre_event_audio": pre_audio,
                    }),
                );
                self.recording = Some(r);
                for f in pre {
                    self.write(f);
                }
                // The pre-event footage came from RAM in one go: one sync and one
                // checkpoint cover all of it (not one per GOP).
                if let Some(rec) = self.recording.as_mut() {
                    match rec.checkpoint(&mut self.signer) {
                        Ok(()) => {
                            info!(recording = rec.id(), "pre-event footage durable and signed")
                        }
                        Err(e) => self.storage_failed(e),
                    }
                }
                self.last_sync = Instant::now();
            }
            Err(e) => self.storage_failed(e),
        }
    }

    fn tick(&mut self) {
        self.time = TimeRef::now();
        self.watch_clock();
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            self.dispatch(Event::RetryDue);
        }
        if self.capture.is_some() {
            if self.running_seen && now.duration_since(self.last_video) > STALL_TIMEOUT {
                self.pipeline_failed(format!(
                    "no video for {} s: pipeline stalled",
                    STALL_TIMEOUT.as_secs()
                ));
            } else if !self.running_seen
                && now.duration_since(self.pipeline_started) > START_TIMEOUT
            {
                self.pipeline_failed(format!(
                    "no keyframe within {} s of start",
                    START_TIMEOUT.as_secs()
                ));
            }
        }
        let flowing = self.capture.is_some()
            && self.running_seen
            && now.duration_since(self.last_video) < Duration::from_secs(1);
        // Docked, the camera is stopped on purpose: the loop itself is what is watched.
        if flowing || self.machine.state() == State::Docked {
            self.notify.watchdog(now);
        }
        if let Some(rec) = self.recording.as_mut()
            && rec.unsynced_bytes() > 0
            && now.duration_since(self.last_sync) >= SYNC_INTERVAL
        {
            if let Err(e) = rec.checkpoint(&mut self.signer) {
                self.storage_failed(e);
            }
            self.last_sync = now;
        }
        if self.marker_flash_until.is_some_and(|t| now >= t) {
            self.marker_flash_until = None;
        }
        if now.duration_since(self.last_refresh) >= Duration::from_secs(1) {
            self.last_refresh = now;
            self.refresh_storage();
        }
        self.drain_queue();
    }

    /// Audit wall-clock jumps (> 1 s against the monotonic clock) and sync changes.
    fn watch_clock(&mut self) {
        let offset = clock_offset_ms();
        let jump = offset - self.clock_offset_ms;
        if jump.abs() > 1000 {
            warn!(jump_ms = jump, "wall clock jumped");
            self.audit_event(
                events::CLOCK,
                serde_json::json!({ "change": "jump", "jump_ms": jump, "utc": crate::clock::rfc3339(self.time.utc) }),
            );
        }
        self.clock_offset_ms = offset;
        if self.time.synchronised != self.clock_synced {
            self.clock_synced = self.time.synchronised;
            info!(
                synchronised = self.clock_synced,
                "wall clock synchronisation changed"
            );
            self.audit_event(
                events::CLOCK,
                serde_json::json!({ "change": "sync", "synchronised": self.clock_synced }),
            );
        }
    }

    fn refresh_storage(&mut self) {
        if let Err(e) = self.store.refresh() {
            warn!(error = %e, "cannot read free space");
        }
        if self.store.capacity().low {
            self.free_acknowledged(None);
        }
        let cap = self.store.capacity();
        if cap.low != self.storage_low {
            self.storage_low = cap.low;
            if cap.low {
                warn!(
                    hours_left = cap.hours_left,
                    reserve = self.cfg.storage.reserve_hours,
                    "storage low"
                );
            } else {
                info!(hours_left = cap.hours_left, "storage no longer low");
            }
            self.audit_event(
                events::STORAGE_LOW,
                serde_json::json!({ "low": cap.low, "hours_left": cap.hours_left }),
            );
            self.queue.push_back(Event::StorageLow(cap.low));
        }
        let full = self.store.is_full();
        match self.machine.state() {
            State::Ready | State::Recording | State::Booting if full => {
                warn!(available_bytes = cap.available_bytes, "storage full");
                self.queue.push_back(Event::StorageFull);
            }
            State::StorageFull if !full => self.queue.push_back(Event::StorageAvailable),
            State::Booting
            | State::Ready
            | State::Recording
            | State::Stopping
            | State::StorageFull
            | State::Fault { .. }
            | State::Docked
            | State::ShuttingDown => {}
        }
    }

    fn update_leds(&mut self) {
        let inputs = LedInputs {
            mode: led_mode(self.machine.state(), self.offload_state()),
            storage_low: self.machine.storage_low(),
            marker_flash: self.marker_flash_until.is_some(),
            stealth: self.machine.stealth(),
        };
        let p = patterns_for(&inputs);
        if self.leds != Some(p) {
            self.leds = Some(p);
            self.controls.set_patterns(p);
        }
    }

    fn publish(&mut self) {
        let cap = self.store.capacity();
        let leds = self.leds.map(|p| LedStatus {
            red: pattern_name(p.red),
            green: pattern_name(p.green),
            amber: pattern_name(p.amber),
        });
        let s = Status {
            state: self.machine.state().name().to_string(),
            recording_id: self.recording.as_ref().map(|r| r.id().to_string()),
            seconds_recorded: self
                .recording
                .as_ref()
                .map_or(0.0, RecordingWriter::seconds),
            segments_written: self.segments_written,
            hours_left: cap.hours_left,
            storage_low: cap.low,
            used_bytes: cap.used_bytes,
            available_bytes: cap.available_bytes,
            stealth: self.machine.stealth(),
            leds: leds.unwrap_or_default(),
            camera: self.camera_status.clone(),
            controls: self.controls_name.to_string(),
            pre_event_buffered_seconds: self.prebuffer.seconds(),
            pipeline_restarts: self.restarts,
            last_fault: self.last_fault.clone(),
            recovered_segments: self.recovered,
            storage_path: self.cfg.storage.path.display().to_string(),
            uptime_seconds: self.daemon_started.elapsed().as_secs_f64(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let line = match &s.recording_id {
            Some(id) => format!("{} {id}, {:.0} h left", s.state, s.hours_left),
            None => format!("{}, {:.0} h left", s.state, s.hours_left),
        };
        self.notify.status(&line);
        if let Ok(mut g) = self.status.lock() {
            *g = s;
        }
    }
}

fn pattern_name(p: crate::controls::leds::LedPattern) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
