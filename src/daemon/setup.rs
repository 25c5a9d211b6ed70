//! Setting the daemon up, apart from running it: from the config and the backends
//! picked once ([`super::backends`]), everything the loop needs ([`build`]): the store
//! and evidence chains, the controls, the control socket server, the dock sense and the
//! dock API settings.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded, unbounded};
use tracing::{debug, info};

use super::backends::{Backends, CaptureSetup, gesture_timings};
use super::dock::DockSetup;
use super::officer::{self, OfficerBackends};
use super::standby::Left;
use super::storage_fault::StorageFault;
use super::timers::{Backoff, ClockWatch, PipelineWatch, clock_offset_ms};
use super::{DaemonError, Input, Loop, PipelineState, Settings, Shutdown, boot, requests};
use crate::capture::{self, CaptureShared, CapturedFrame};
use crate::clock::TimeRef;
use crate::config::{CameraSource, Config};
use crate::controls::{self, Gesture};
use crate::evidence::sidecar::CaptureInfo;
use crate::flash::Flash;
use crate::interleave::Interleaver;
use crate::prebuffer::PreEventBuffer;
use crate::recorder::{Action, Machine};
use crate::status::{CameraStatus, Status};
use crate::store::Store;
use crate::systemd::Notifier;

/// Frames queued between the appsinks and the loop (back-pressure beyond).
const FRAME_QUEUE: usize = 1024;
/// How far ahead of the other stream the interleaver lets one run.
const INTERLEAVE_LAG_NS: u64 = 1_000_000_000;
/// Smallest pre-event RAM bound.
const MIN_PRE_EVENT_BYTES: usize = 4 << 20;

fn spawn_err(what: &'static str) -> impl Fn(std::io::Error) -> DaemonError {
    move |source| DaemonError::Spawn { what, source }
}

/// The store and the evidence opened on it (identity, chain heads, audit log, boot
/// entries, recovery): what the loop needs of the medium.
pub(super) struct Medium {
    /// The store.
    pub store: Store,
    /// The signer, audit log and what recovery closed.
    pub evidence: boot::Evidence,
}

/// Why the medium could not be opened.
pub(super) enum Opening {
    /// The medium cannot be read or written (read-only, missing, full, I/O errors): the
    /// daemon waits in `storage-fault` and tries again.
    Retry(DaemonError),
    /// Something a retry cannot change (a corrupt or missing device key with evidence
    /// on flash): the daemon stops (exit 70).
    Fatal(DaemonError),
}

/// What the overlay shows for the camera before its store (and so its device id) opens.
const UNKNOWN_CAMERA_ID: &str = "--------";

/// The short camera id the overlay shows, from the medium's device identity.
fn camera_id_of(medium: &Medium) -> String {
    capture::overlay::short_camera_id(&hex::encode(medium.evidence.signer.identity().device_id()))
}

/// Open the store and its evidence at `cfg.storage.path`.
pub(super) fn open_medium(cfg: &Config, flash: &Arc<dyn Flash>) -> Result<Medium, Opening> {
    let retry = |e: DaemonError| Opening::Retry(e);
    let mut store = Store::open(&cfg.storage, cfg.footage_bytes_per_second(), flash.clone())
        .map_err(|e| retry(e.into()))?;
    match boot::open_evidence(cfg, &mut store) {
        Ok(evidence) => Ok(Medium { store, evidence }),
        Err(e) if medium_error(&e) => Err(Opening::Retry(e)),
        Err(e) => Err(Opening::Fatal(e)),
    }
}

/// Whether `e` (from opening the evidence) is the medium failing rather than what is
/// on it: the key directory, the audit log, a journal cannot be read or written.
fn medium_error(e: &DaemonError) -> bool {
    use crate::evidence::identity::IdentityError;
    match e {
        DaemonError::Store(_) | DaemonError::Evidence { .. } => true,
        DaemonError::Identity(IdentityError::Io { .. }) => true,
        DaemonError::Identity(_)
        | DaemonError::Recipients(_)
        | DaemonError::Peers(_)
        | DaemonError::Capture(_)
        | DaemonError::Controls(_)
        | DaemonError::Ctl(_)
        | DaemonError::Dock(_)
        | DaemonError::Spawn { .. } => false,
    }
}

/// What runs whether or not the store could be opened: the inputs, the controls' threads,
/// the control socket server, the dock sense watcher, systemd notifications and the
/// settings.
pub(super) struct Parts {
    /// Derived once from the config.
    pub settings: Settings,
    /// Inputs from the other threads.
    pub input_rx: crossbeam_channel::Receiver<Input>,
    /// The caller's shutdown signal.
    pub shutdown: Shutdown,
    /// The controls' threads.
    pub controls: controls::ControlsHandle,
    /// The status snapshot.
    pub status: Arc<Mutex<Status>>,
    /// The control socket server.
    pub ctl: Option<crate::ctl::CtlServer>,
    /// systemd notifications.
    pub notify: Notifier,
    /// Mute, reminders, battery, location, trigger inputs and the peer link.
    pub officer: officer::Officer,
}

impl Parts {
    /// Stop the threads (when the daemon stops before its loop ran).
    pub(super) fn stop(mut self) {
        if let Some(ctl) = self.ctl.take() {
            ctl.stop();
        }
        self.controls.shutdown();
    }
}

/// Everything the loop needs, started, and the state machine's first actions: store and
/// evidence opened (with recovery), the controls' threads, the control socket server and
/// the dock sense watcher. When the store cannot be opened the daemon waits in
/// `storage-fault` ([`super::standby`]) until it can; `Ok(Err(how))` when it stopped
/// meanwhile (shut down, or powered down).
pub(super) fn build(
    cfg: Config,
    backends: Backends,
    shutdown: Shutdown,
) -> Result<Result<(Loop, Vec<Action>), super::Stopped>, DaemonError> {
    let started = Instant::now();
    let Backends {
        capture: capture_setup,
        controls: controls_backend,
        sim_button,
        dock_pin,
        ctl: listener,
        flash,
        gauge,
        sim_gauge,
        power_fail,
        trigger_pins,
        peer_transport,
    } = backends;
    debug!(pipeline = %capture_setup.description, "capture pipeline");

    let first = match open_medium(&cfg, &flash) {
        Err(Opening::Fatal(e)) => return Err(e),
        other => other,
    };

    let (input_tx, input_rx) = unbounded::<Input>();
    let timings = gesture_timings(&cfg);
    let controls_name = controls_backend.name();
    let gesture_tx = forward_gestures(input_tx.clone())?;
    let controls = controls::start(controls_backend, timings, gesture_tx)?;

    let status = Arc::new(Mutex::new(Status::default()));
    let ctl = requests::serve(
        listener,
        status.clone(),
        input_tx.clone(),
        sim_button,
        sim_gauge,
    )?;
    if let Some(pin) = dock_pin {
        let tx = input_tx.clone();
        controls::gpio::watch_dock(pin, move |docked| {
            let _ = tx.send(Input::Dock(docked));
        })?;
    }
    let gauge_name = gauge.as_ref().map(|g| g.name());
    let officer = officer::start(
        &cfg,
        OfficerBackends {
            gauge,
            power_fail,
            trigger_pins,
            peer_transport,
        },
        &input_tx,
    )?;
    let dock = DockSetup::from_config(&cfg, input_tx)?;

    // The device id is in the store: unknown until it opens (storage-fault at start).
    let camera_id = match &first {
        Ok(medium) => camera_id_of(medium),
        Err(_) => UNKNOWN_CAMERA_ID.to_string(),
    };
    let mut settings = settings(
        &cfg,
        &capture_setup,
        controls_name,
        dock,
        started,
        &camera_id,
    );
    // The own peer id is the device id: set once the store opens.
    settings.officer = officer::settings(
        &cfg,
        crate::recorder::PeerId([0; 16]),
        capture_setup.audio_silence.clone(),
        gauge_name,
    );
    info!(
        camera = %settings.capture_info.source,
        encoder = %settings.capture_info.encoder,
        controls = controls_name,
        data = %cfg.storage.path.display(),
        "bodycam daemon starting"
    );
    let mut parts = Parts {
        settings,
        input_rx,
        shutdown,
        controls,
        status,
        ctl: Some(ctl),
        notify: Notifier::new(),
        officer,
    };
    let options = crate::recorder::Options {
        mute_enabled: cfg.controls.mute_enabled,
    };
    let (machine, boot_actions, medium, fault) = match first {
        Ok(medium) => {
            let (machine, actions) = Machine::boot_with(options);
            (machine, actions, medium, StorageFault::default())
        }
        Err(Opening::Retry(e)) | Err(Opening::Fatal(e)) => {
            match super::standby::wait(&cfg, &flash, &mut parts, options, e) {
                Ok(Left::Opened(opened)) => {
                    let (machine, medium, fault) = *opened;
                    (machine, Vec::new(), medium, fault)
                }
                Ok(Left::Stopped(stopped)) => {
                    parts.stop();
                    return Ok(Err(stopped));
                }
                Err(e) => {
                    parts.stop();
                    return Err(e);
                }
            }
        }
    };
    let camera_id = camera_id_of(&medium);
    parts.settings.overlay_text.set_camera(&camera_id);
    parts.settings.camera_id = camera_id;
    parts.settings.officer.own =
        crate::recorder::PeerId(medium.evidence.signer.identity().device_id());
    Ok(Ok((
        new_loop(&cfg, parts, medium, machine, fault),
        boot_actions,
    )))
}

/// The loop, from what runs anyway, the opened medium and the machine.
fn new_loop(
    cfg: &Config,
    parts: Parts,
    medium: Medium,
    machine: Machine,
    storage_fault: StorageFault,
) -> Loop {
    let Parts {
        settings,
        input_rx,
        shutdown,
        controls,
        status,
        ctl,
        notify,
        officer,
    } = parts;
    let Medium { store, evidence } = medium;
    let pre_event_ns = u64::from(cfg.recording.pre_event_seconds) * 1_000_000_000;
    // Bound the pre-event RAM at twice the configured bitrate's worth, plus a GOP.
    let pre_event_cap = ((cfg.footage_bytes_per_second() * 2.0)
        * f64::from(cfg.recording.pre_event_seconds + 1)) as usize;
    let (frames_tx, frames_rx) = bounded::<CapturedFrame>(FRAME_QUEUE);
    let (events_tx, events_rx) = unbounded();

    let now = Instant::now();
    let assignment = super::assignment::load(store.root());
    // The burned-in picture names the officer from the start (`OFC <id>`).
    settings.overlay_text.set_officer(
        assignment
            .as_ref()
            .and_then(|a| a.officer.as_ref())
            .map(|o| o.as_str()),
    );
    Loop {
        machine,
        queue: Default::default(),
        exit: false,
        store,
        recording: None,
        prebuffer: PreEventBuffer::new(
            pre_event_ns,
            cfg.recording.pre_event_audio && cfg.audio.enabled,
            pre_event_cap.max(MIN_PRE_EVENT_BYTES),
        )
        .with_audio_timestamps(settings.silence.is_some()),
        interleaver: Interleaver::new(cfg.audio.enabled, INTERLEAVE_LAG_NS),
        pipeline: PipelineState {
            capture: None,
            generation: 0,
            watch: PipelineWatch::started(now),
            backoff: Backoff::default(),
            retry_at: None,
            restarts: 0,
            frames_tx,
            frames_rx,
            events_tx,
            events_rx,
        },
        signer: evidence.signer,
        audit: evidence.audit,
        time: TimeRef::now(),
        clock: ClockWatch::new(clock_offset_ms(), crate::clock::clock_synchronised()),
        last_sync: now,
        last_refresh: now,
        storage_low: false,
        input_rx,
        shutdown,
        controls,
        leds: None,
        marker_flash_until: None,
        status,
        notify,
        ctl,
        dock_server: None,
        dock_activity: None,
        offload_pending: None,
        segments_written: 0,
        recovered: evidence.recovered,
        last_fault: None,
        officer,
        assignment,
        refused: None,
        gesture: None,
        storage_fault,
        settings,
    }
}

/// A thread that forwards the controls' gestures to the loop.
fn forward_gestures(
    input_tx: Sender<Input>,
) -> Result<std::sync::mpsc::Sender<Gesture>, DaemonError> {
    let (gesture_tx, gesture_rx) = std::sync::mpsc::channel::<Gesture>();
    std::thread::Builder::new()
        .name("gestures".into())
        .spawn(move || {
            while let Ok(g) = gesture_rx.recv() {
                if input_tx.send(Input::Gesture(g)).is_err() {
                    return;
                }
            }
        })
        .map_err(spawn_err("gesture thread"))?;
    Ok(gesture_tx)
}

fn settings(
    cfg: &Config,
    capture: &CaptureSetup,
    controls_name: &'static str,
    dock: Option<DockSetup>,
    started: Instant,
    camera_id: &str,
) -> Settings {
    let overlay_text = capture::overlay::OverlayText::new(camera_id);
    let overlay = capture::overlay::OverlaySpec::from_config(&cfg.camera)
        .map(|spec| capture::overlay::Overlay::new(spec, overlay_text.clone()));
    let capture_info = CaptureInfo {
        source: format!("{:?}", cfg.camera.source).to_lowercase(),
        encoder: capture.encoder.to_string(),
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
        audio_encoder: capture.audio_encoder.map(str::to_string),
        overlay: None,
    };
    let secs = |s: Option<u32>| s.map(|s| Duration::from_secs(u64::from(s)));
    Settings {
        segment_ns: u64::from(cfg.recording.segment_seconds) * 1_000_000_000,
        description: capture.description.clone(),
        capture_info,
        camera_status,
        controls_name,
        capture_shared: Arc::new(CaptureShared {
            fail_after: secs(cfg.camera.simulate_failure_after_seconds),
            stall_after: secs(cfg.camera.simulate_stall_after_seconds),
            failed_once: AtomicBool::new(false),
            overlay,
            replay: (cfg.camera.source == CameraSource::Replay).then(|| {
                crate::replay::ReplaySource::new(
                    cfg.camera.device.clone().into(),
                    cfg.camera.framerate,
                )
            }),
        }),
        overlay_text,
        camera_id: camera_id.to_string(),
        silence: capture.silence.clone(),
        delete_after_ack: cfg.storage.delete_after_ack,
        set_clock: cfg.dock.set_clock,
        reserve_hours: cfg.storage.reserve_hours,
        storage_path: cfg.storage.path.display().to_string(),
        dock,
        started,
        officer: officer::settings(cfg, crate::recorder::PeerId([0; 16]), None, None),
    }
}
