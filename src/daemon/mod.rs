//! `bodycam run`: wires the capture pipeline, the store, the evidence signer, the
//! controls and the control socket around the pure recorder state machine, in one loop
//! thread.
//!
//! [`run`] takes the backends and a shutdown signal from its caller (the binary builds
//! the real ones with [`Backends::from_config`] and turns SIGTERM into the signal), so a
//! test can run a whole daemon in-process.
//!
//! # Threads
//! - the loop (`event_loop`): owns the state machine, the pre-event buffer, the store,
//!   the open recording and the signer; nothing else writes to flash;
//! - GStreamer streaming threads: appsink callbacks push frames into a bounded channel;
//! - `gst-bus-N`: one bus watcher per pipeline generation;
//! - the controls' gesture and indicator threads, and `gestures`, which forwards
//!   recognised gestures to the loop;
//! - `ctl` and one `ctl-conn` per request (`requests`);
//! - `dock-sense` (GPIO only) and the dock API's runtime while docked (`dock_link`);
//! - on the officer (`officer`): `power` (battery gauge), `power-fail` (GPIO), rppal's
//!   interrupt thread for trigger inputs (GPIO), `gpsd` (location), `peer-rx` and
//!   `peer-tx` (peer announcements).
//!
//! # Lock order
//! The only lock the loop shares is the [`Status`] snapshot; it is taken alone, never
//! while another lock is held.

mod activation;
mod assignment;
mod backends;
mod boot;
mod dock;
mod dock_link;
mod event_loop;
mod officer;
mod pipeline;
mod power;
mod privacy;
mod publish;
mod recording;
mod requests;
mod setup;
mod standby;
mod storage;
mod storage_fault;
pub mod timers;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use crate::capture::{Capture, CaptureEvent, CaptureShared, CapturedFrame};
use crate::clock::TimeRef;
use crate::controls::ControlsHandle;
use crate::controls::leds::LedPatterns;
use crate::dock::DockServer;
use crate::evidence::Signer;
use crate::evidence::audit::AuditLog;
use crate::evidence::sidecar::CaptureInfo;
use crate::interleave::Interleaver;
use crate::prebuffer::PreEventBuffer;
use crate::recorder::{Event, Machine, Refusal};
use crate::status::{CameraStatus, Status};
use crate::store::Store;
use crate::store::recording::RecordingWriter;
use crate::systemd::Notifier;

pub use backends::{Backends, CaptureSetup, gesture_timings};
pub use dock_link::{DaemonDock, DockAnswer, DockReply, DockRequest, LoopCall};
use storage_fault::StorageFault;
use timers::{Backoff, ClockWatch, PipelineWatch};

/// Errors that stop the daemon before or while it starts.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Capture could not be set up.
    #[error(transparent)]
    Capture(#[from] crate::capture::CaptureError),
    /// The store could not be opened or recovered.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The controls backend failed.
    #[error(transparent)]
    Controls(#[from] crate::controls::ControlsError),
    /// The control socket could not be set up.
    #[error(transparent)]
    Ctl(#[from] crate::ctl::CtlError),
    /// The device identity could not be loaded or created.
    #[error(transparent)]
    Identity(#[from] crate::evidence::identity::IdentityError),
    /// The evidence files could not be read or written.
    #[error("evidence files in {path}: {source}")]
    Evidence {
        /// Path.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A recipient file named by `[evidence] recipients` cannot be used (a
    /// configuration error, exit 78).
    #[error("invalid config value `evidence.recipients`: {0}")]
    Recipients(#[from] crate::confidential::keys::KeyError),
    /// The dock API could not be set up (certificates, key, address).
    #[error(transparent)]
    Dock(#[from] crate::dock::DockError),
    /// The enrolled peer list could not be read (it was checked with the config).
    #[error("peers: {0}")]
    Peers(#[from] crate::peer::trust::PeersFileError),
    /// A thread could not be spawned, or signal handling installed.
    #[error("cannot start the {what}: {source}")]
    Spawn {
        /// What.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
}

/// Tells a running daemon to stop: SIGTERM/SIGINT in the binary
/// ([`shutdown_on_signals`]), a test's own call otherwise.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Sender<()>);

impl ShutdownHandle {
    /// Ask the daemon to finalise what is open and stop.
    pub fn shutdown(&self) {
        let _ = self.0.send(());
    }
}

/// The receiving side of a [`ShutdownHandle`], given to [`run`].
#[derive(Debug)]
pub struct Shutdown(Receiver<()>);

/// A new shutdown signal.
pub fn shutdown_channel() -> (ShutdownHandle, Shutdown) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    (ShutdownHandle(tx), Shutdown(rx))
}

/// Turn SIGTERM and SIGINT into `handle.shutdown()`.
pub fn shutdown_on_signals(handle: ShutdownHandle) -> Result<(), DaemonError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let spawn = |source| DaemonError::Spawn {
        what: "signal handler",
        source,
    };
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).map_err(spawn)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                handle.shutdown();
            }
        })
        .map_err(spawn)?;
    Ok(())
}

/// How the daemon stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Asked to (a signal, or the shutdown handle).
    Clean,
    /// It powered the camera down (battery critical or power-fail) and ran the
    /// shutdown command: `bodycam run` exits with `exit::POWERED_DOWN`.
    PoweredDown,
}

/// Run the daemon on `backends` until `shutdown` fires: open the store and the
/// evidence chains, recover what a crash left open, then loop. Returns once the open
/// segment is finalised and every thread it started has stopped.
pub fn run(
    cfg: crate::config::Config,
    backends: Backends,
    shutdown: Shutdown,
) -> Result<Stopped, DaemonError> {
    let (mut d, boot_actions) = match setup::build(cfg, backends, shutdown)? {
        Ok(built) => built,
        Err(stopped) => return Ok(stopped),
    };
    d.start(boot_actions);
    d.run();
    Ok(d.finish())
}

/// Messages from the other threads to the loop (besides frames and capture events).
#[derive(Debug)]
enum Input {
    /// A recognised button gesture.
    Gesture(crate::controls::Gesture),
    /// A `ctl` command (record, marker, stealth); the loop answers what the machine did.
    Command(crate::recorder::Command, Sender<CommandReply>),
    /// Sign a head statement for this nonce and answer on the channel (`ctl head`), or
    /// say why not.
    Head(
        Vec<u8>,
        Sender<Result<crate::evidence::head::HeadStatement, String>>,
    ),
    /// Dock sense changed (true = in the dock).
    Dock(bool),
    /// A dock API request that signs or changes state; answer on the channel.
    DockCall(DockRequest, Sender<DockReply>),
    /// A trigger input fired (GPIO, or `ctl trigger` with a channel for the state it
    /// led to, or why the name is unknown).
    Trigger(String, Option<Sender<Result<String, String>>>),
    /// A battery reading from the `power` thread.
    Battery(crate::power::Reading),
    /// The power-fail input fired (GPIO, or `ctl power-fail`).
    PowerFail,
    /// What the peer link tells.
    Peer(crate::peer::PeerInput),
    /// The location receiver became reachable (true) or not, and why not.
    LocationLink(bool, Option<String>),
}

/// The loop's answer to a `ctl` command: carried out (or kept for later, like a start
/// while booting), or refused, with the reason and a sentence for the operator.
type CommandReply = Result<(), (Refusal, String)>;

/// What is derived once from the configuration and the backends, and never changes
/// while the daemon runs.
#[derive(Debug)]
struct Settings {
    /// Target segment length (`recording.segment_seconds`).
    segment_ns: u64,
    /// The GStreamer pipeline description every generation is built from.
    description: String,
    /// Capture settings recorded in `recording.json` and sidecars.
    capture_info: CaptureInfo,
    /// Camera settings shown in the status.
    camera_status: CameraStatus,
    /// Name of the controls backend.
    controls_name: &'static str,
    /// Test-only sensor faults, shared with every pipeline generation.
    capture_shared: Arc<CaptureShared>,
    /// Free acknowledged media at once (`storage.delete_after_ack`).
    delete_after_ack: bool,
    /// Let the dock set the wall clock (`dock.set_clock`).
    set_clock: bool,
    /// `storage.reserve_hours`, for the log.
    reserve_hours: f64,
    /// `storage.path`, for the status.
    storage_path: String,
    /// What the dock API needs, when `[dock]` has a certificate, key and CA.
    dock: Option<dock::DockSetup>,
    /// When the daemon started (uptime in the status).
    started: Instant,
    /// Triggers, peers, power and location settings.
    officer: officer::OfficerSettings,
    /// What the burned-in overlay says besides the clock (camera id; the officer, once
    /// assigned: HOOK for issue 14, call `set_officer` on it).
    overlay_text: Arc<crate::capture::overlay::OverlayText>,
    /// The short camera id the overlay shows.
    camera_id: String,
    /// The encoder's silent frame for pre-event audio whose sound is not kept.
    silence: Option<crate::capture::silence::SilentFrame>,
}

/// The running capture pipeline and what the loop knows about it.
#[derive(Debug)]
struct PipelineState {
    /// The running pipeline, if any (none while docked, faulted or shutting down).
    capture: Option<Capture>,
    /// Generation of the newest pipeline (1 for the first); frames of older
    /// generations are dropped.
    generation: u64,
    /// Start, first keyframe and latest video of the current generation.
    watch: PipelineWatch,
    /// Delay before the next restart.
    backoff: Backoff,
    /// When the scheduled restart is due.
    retry_at: Option<Instant>,
    /// Restarts since boot (status).
    restarts: u32,
    /// Where the appsinks send frames (cloned into each generation).
    frames_tx: Sender<CapturedFrame>,
    /// Frames from the appsinks.
    frames_rx: Receiver<CapturedFrame>,
    /// Where each generation's bus watcher reports failures.
    events_tx: Sender<CaptureEvent>,
    /// Failures reported by the bus watchers.
    events_rx: Receiver<CaptureEvent>,
}

/// The daemon loop's state; only the loop thread touches it.
struct Loop {
    /// Derived once from the config.
    settings: Settings,
    /// The recorder state machine.
    machine: Machine,
    /// Events the machine has yet to see (actions may raise new ones).
    queue: VecDeque<Event>,
    /// Set by [`crate::recorder::Action::Exit`]: the loop ends.
    exit: bool,
    /// The footage store.
    store: Store,
    /// The open recording, if any.
    recording: Option<RecordingWriter>,
    /// Footage kept in RAM while ready, written at the start of a recording.
    prebuffer: PreEventBuffer,
    /// Puts audio and video in decode order.
    interleaver: Interleaver,
    /// The capture pipeline.
    pipeline: PipelineState,
    /// Signs records and advances both chains.
    signer: Signer,
    /// The signed audit log.
    audit: AuditLog,
    /// Time reference of the current tick (UTC against the monotonic clock).
    time: TimeRef,
    /// Wall-clock jumps and synchronisation changes.
    clock: ClockWatch,
    /// When the open segment last checkpointed.
    last_sync: Instant,
    /// When free space was last re-read.
    last_refresh: Instant,
    /// Whether the last capacity reading was below the reserve (audited on change).
    storage_low: bool,
    /// Inputs from the other threads.
    input_rx: Receiver<Input>,
    /// The caller's shutdown signal.
    shutdown: Shutdown,
    /// The controls' threads (LEDs, haptics).
    controls: ControlsHandle,
    /// LED patterns last sent to the controls.
    leds: Option<LedPatterns>,
    /// Until when the marker flash shows.
    marker_flash_until: Option<Instant>,
    /// The snapshot `ctl status` and the dock API read.
    status: Arc<Mutex<Status>>,
    /// systemd notifications.
    notify: Notifier,
    /// The control-socket server.
    ctl: Option<crate::ctl::CtlServer>,
    /// The dock API while docked.
    dock_server: Option<DockServer>,
    /// When the dock last made a request that goes through the loop.
    dock_activity: Option<Instant>,
    /// Closed segments not yet acknowledged (counted when docking and after each ack).
    offload_pending: Option<usize>,
    /// Segments closed since boot (status).
    segments_written: u64,
    /// Segments recovery closed at boot (status).
    recovered: usize,
    /// The last fault, for the status.
    last_fault: Option<String>,
    /// Mute, reminders, battery, location, trigger inputs and the peer link.
    officer: officer::Officer,
    /// The officer a dock assigned (`assignment.json`); given to each new recording.
    assignment: Option<crate::evidence::officer::Assignment>,
    /// The refusal the last dispatched event led to, if any (answers `ctl`).
    refused: Option<Refusal>,
    /// The gesture being dispatched, if any (its refusals are audited).
    gesture: Option<crate::controls::Gesture>,
    /// The storage fault being handled: since when, why, and the probe back-off.
    storage_fault: StorageFault,
}
