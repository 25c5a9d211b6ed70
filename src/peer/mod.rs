//! Peer-assisted recording: a camera that starts recording announces it on the local
//! network; cameras of the same agency that hear it start too, with trigger
//! `peer:<device id>`.
//!
//! - `wire.rs`: the announcement (`bodycam-peer/1`), signed with the device key;
//! - `trust.rs`: the enrolled peer list, the checks every announcement must pass
//!   (agency, enrolment, signature, freshness, replay, hop limit, duplicates) and the
//!   rate-bounded audit of rejections;
//! - `udp.rs`: UDP multicast on one interface, the [`PeerTransport`] used now (radio or
//!   BLE would be another implementation of the same trait).
//!
//! [`PeerLink`] runs two threads: `peer-rx` opens the transport (retrying every
//! [`REOPEN`] while the interface is missing), checks every datagram and reports what
//! the loop must know; `peer-tx` signs and sends each announcement [`COPIES`] times
//! (UDP may lose one), every copy with a new counter. The link never blocks the loop
//! and never stops a recording: without a network the camera records alone.

pub mod trust;
pub mod udp;
pub mod wire;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use crate::evidence::identity::Identity;
use crate::recorder::PeerId;
use trust::{Checker, RejectLog, RejectSummary, Verdict};
use wire::Announcement;

/// When the copies of an announcement are sent, after the start.
pub const COPIES: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(150),
    Duration::from_millis(500),
];
/// How often a missing transport is tried again.
pub const REOPEN: Duration = Duration::from_secs(5);
/// How long `peer-rx` waits for a datagram before it looks at its other duties.
const RECV_WAIT: Duration = Duration::from_millis(250);

/// How announcements travel (UDP multicast now; radio or BLE later).
pub trait PeerTransport: Send + Sync {
    /// For the log and the status.
    fn describe(&self) -> String;
    /// Send one datagram to every peer in reach.
    fn send(&self, datagram: &[u8]) -> io::Result<()>;
    /// Wait up to `timeout` for one datagram into `buf`; `None` when none came.
    fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>>;
}

/// Opens the transport (called again after a failure).
pub type Opener = Box<dyn Fn() -> io::Result<Arc<dyn PeerTransport>> + Send>;

/// An announcement to send: whose start it is and how far it has travelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The camera whose start this is (this camera, or the peer it relays).
    pub origin: PeerId,
    /// The origin's recording id.
    pub origin_recording: String,
    /// 0 for this camera's own start; the received hops + 1 for a relay.
    pub hops: u8,
}

/// What the link tells the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerInput {
    /// An announcement passed every check.
    Accepted(Announcement),
    /// Rejections to audit (at most one entry per reason a minute).
    Rejected(RejectSummary),
    /// The transport came up (true) or went down.
    Link {
        /// Up.
        up: bool,
        /// The transport, or the error.
        detail: String,
    },
}

/// What `ctl status` shows about the peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PeerStatus {
    /// `[peers] enabled`.
    pub enabled: bool,
    /// The transport is open.
    pub link: bool,
    /// The transport, or why it is not open.
    pub transport: String,
    /// Cameras on the enrolled list.
    pub enrolled: usize,
    /// Datagrams sent (every copy counts).
    pub sent: u64,
    /// Announcements accepted.
    pub accepted: u64,
    /// Valid copies of activations already acted on.
    pub duplicates: u64,
    /// Dropped announcements by reason.
    pub rejected: BTreeMap<String, u64>,
}

/// The settings of a link.
#[derive(Debug)]
pub struct LinkSettings {
    /// This camera.
    pub own: PeerId,
    /// Its agency (written into every announcement).
    pub agency: String,
    /// Decides on received datagrams.
    pub checker: Checker,
    /// Signs announcements (the device key).
    pub key: Identity,
    /// Enrolled cameras, for the status.
    pub enrolled: usize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Shared = Arc<Mutex<Option<Arc<dyn PeerTransport>>>>;

/// The running link; dropping it stops both threads.
pub struct PeerLink {
    outgoing: Option<Sender<Outgoing>>,
    status: Arc<Mutex<PeerStatus>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for PeerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink")
            .field("status", &*lock(&self.status))
            .finish_non_exhaustive()
    }
}

impl PeerLink {
    /// Start `peer-rx` and `peer-tx`; `report` gets what the loop must know.
    pub fn start(
        opener: Opener,
        settings: LinkSettings,
        report: impl Fn(PeerInput) + Send + 'static,
    ) -> io::Result<PeerLink> {
        let LinkSettings {
            own,
            agency,
            checker,
            key,
            enrolled,
        } = settings;
        let status = Arc::new(Mutex::new(PeerStatus {
            enabled: true,
            transport: "not open yet".into(),
            enrolled,
            ..PeerStatus::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let shared: Shared = Arc::new(Mutex::new(None));
        let mut session = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut session)
            .map_err(|_| io::Error::other("no randomness for the peer session"))?;
        let rx = Receiving {
            opener,
            checker,
            shared: shared.clone(),
            status: status.clone(),
            stop: stop.clone(),
            report: Box::new(report),
            log: RejectLog::default(),
        };
        let (out_tx, out_rx) = mpsc::channel::<Outgoing>();
        let tx = Sending {
            own,
            agency,
            key,
            session,
            counter: 0,
            shared,
            status: status.clone(),
            stop: stop.clone(),
        };
        let rx_thread = std::thread::Builder::new()
            .name("peer-rx".into())
            .spawn(move || rx.run())?;
        let mut link = PeerLink {
            outgoing: Some(out_tx),
            status,
            stop,
            threads: vec![rx_thread],
        };
        let tx_thread = std::thread::Builder::new()
            .name("peer-tx".into())
            .spawn(move || tx.run(&out_rx))?;
        link.threads.push(tx_thread);
        Ok(link)
    }

    /// Queue an announcement (never blocks).
    pub fn announce(&self, o: Outgoing) {
        if let Some(tx) = &self.outgoing {
            let _ = tx.send(o);
        }
    }

    /// For `ctl status`.
    pub fn status(&self) -> PeerStatus {
        lock(&self.status).clone()
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.outgoing.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The `peer-rx` thread.
struct Receiving {
    opener: Opener,
    checker: Checker,
    shared: Shared,
    status: Arc<Mutex<PeerStatus>>,
    stop: Arc<AtomicBool>,
    report: Box<dyn Fn(PeerInput) + Send>,
    log: RejectLog,
}

impl Receiving {
    fn run(mut self) {
        let mut buf = vec![0u8; 2048];
        let mut next_open = Instant::now();
        let mut last_error: Option<String> = None;
        while !self.stop.load(Ordering::SeqCst) {
            let transport = lock(&self.shared).clone();
            let Some(t) = transport else {
                if Instant::now() >= next_open {
                    self.open(&mut last_error);
                    next_open = Instant::now() + REOPEN;
                } else {
                    std::thread::sleep(RECV_WAIT);
                }
                continue;
            };
            match t.recv(&mut buf, RECV_WAIT) {
                Ok(Some(n)) => self.on_datagram(&buf[..n]),
                Ok(None) => {}
                Err(e) => {
                    let detail = format!("{}: {e}", t.describe());
                    tracing::warn!(error = %detail, "peer transport failed; reopening");
                    lock(&self.shared).take();
                    self.set_link(false, &detail);
                    last_error = Some(detail.clone());
                    (self.report)(PeerInput::Link { up: false, detail });
                    next_open = Instant::now() + REOPEN;
                }
            }
            for s in self.log.flush(Instant::now()) {
                (self.report)(PeerInput::Rejected(s));
            }
        }
    }

    fn set_link(&self, up: bool, detail: &str) {
        let mut s = lock(&self.status);
        s.link = up;
        s.transport = detail.to_string();
    }

    fn open(&mut self, last_error: &mut Option<String>) {
        match (self.opener)() {
            Ok(t) => {
                let detail = t.describe();
                tracing::info!(transport = %detail, "peer link up");
                self.set_link(true, &detail);
                *lock(&self.shared) = Some(t);
                *last_error = None;
                (self.report)(PeerInput::Link { up: true, detail });
            }
            Err(e) => {
                let detail = e.to_string();
                self.set_link(false, &detail);
                // Report a failure once, not every few seconds.
                if last_error.as_deref() != Some(detail.as_str()) {
                    tracing::warn!(error = %detail, "peer link cannot open; retrying");
                    *last_error = Some(detail.clone());
                    (self.report)(PeerInput::Link { up: false, detail });
                }
            }
        }
    }

    fn on_datagram(&mut self, datagram: &[u8]) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        match self.checker.check(datagram, now_ms) {
            Verdict::Accept(a) => {
                lock(&self.status).accepted += 1;
                tracing::info!(peer = %a.device, origin = %a.origin, hops = a.hops, "peer announcement accepted");
                (self.report)(PeerInput::Accepted(a));
            }
            Verdict::Duplicate => lock(&self.status).duplicates += 1,
            Verdict::Own => {}
            Verdict::Reject { reason, sender } => {
                *lock(&self.status)
                    .rejected
                    .entry(reason.name().to_string())
                    .or_default() += 1;
                tracing::debug!(reason = reason.name(), "peer announcement rejected");
                if let Some(s) = self.log.record(reason, sender, Instant::now()) {
                    (self.report)(PeerInput::Rejected(s));
                }
            }
        }
    }
}

/// The `peer-tx` thread.
struct Sending {
    own: PeerId,
    agency: String,
    key: Identity,
    session: [u8; 16],
    counter: u64,
    shared: Shared,
    status: Arc<Mutex<PeerStatus>>,
    stop: Arc<AtomicBool>,
}

impl Sending {
    fn run(mut self, outgoing: &Receiver<Outgoing>) {
        // Copies still to send: (when, what).
        let mut due: Vec<(Instant, Outgoing)> = Vec::new();
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            let wait = due
                .iter()
                .map(|(t, _)| t.saturating_duration_since(now))
                .min()
                .unwrap_or(RECV_WAIT)
                .min(RECV_WAIT);
            match outgoing.recv_timeout(wait) {
                Ok(o) => {
                    let start = Instant::now();
                    due.extend(COPIES.iter().map(|d| (start + *d, o.clone())));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            let (ready, later): (Vec<_>, Vec<_>) = due.drain(..).partition(|(t, _)| *t <= now);
            due = later;
            for (_, o) in ready {
                self.send(&o);
            }
        }
    }

    fn send(&mut self, o: &Outgoing) {
        let Some(t) = lock(&self.shared).clone() else {
            tracing::warn!("peer link down: announcement not sent");
            return;
        };
        self.counter += 1;
        let a = Announcement {
            device: self.own,
            session: self.session,
            counter: self.counter,
            utc_ms: chrono::Utc::now().timestamp_millis(),
            hops: o.hops,
            origin: o.origin,
            origin_recording: o.origin_recording.clone(),
            agency: self.agency.clone(),
        };
        match t.send(&wire::sign(&a, self.key.key())) {
            Ok(()) => lock(&self.status).sent += 1,
            Err(e) => tracing::warn!(error = %e, "cannot send a peer announcement"),
        }
    }
}
