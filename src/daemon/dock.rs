//! The loop's side of the dock: opening and closing the dock API as the camera docks
//! and undocks, and answering what the API passes to the loop (head statements,
//! acknowledgements with their freeing, the dock's time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tracing::{error, info, warn};

use super::dock_link::{DaemonDock, DockAnswer, DockReply, DockRequest, LoopCall};
use super::timers;
use super::{DaemonError, Input, Loop};
use crate::config::Config;
use crate::dock::wire::{AckReply, TimeReply};
use crate::dock::{Ack, DockError, DockLimits, DockServer};
use crate::evidence::events::{AuditEvent, ClockChange};
use crate::evidence::head::HeadStatement;
use crate::store::offload;

/// How long the API waits for the loop to answer.
const LOOP_ANSWER: Duration = Duration::from_secs(10);

/// What the dock API needs, prepared at start.
pub(super) struct DockSetup {
    /// The server's TLS configuration (camera certificate, agency CA for clients).
    tls: Arc<rustls::ServerConfig>,
    /// Passes requests to the loop.
    call: LoopCall,
    /// Where to listen (`dock.listen`).
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for DockSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockSetup")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl DockSetup {
    /// The dock API settings, when `[dock]` names a certificate, key and CA.
    pub(super) fn from_config(
        cfg: &Config,
        input: Sender<Input>,
    ) -> Result<Option<DockSetup>, DaemonError> {
        let (Some(cert), Some(key), Some(ca)) = (&cfg.dock.cert, &cfg.dock.key, &cfg.dock.ca)
        else {
            return Ok(None);
        };
        let tls = crate::dock::server_tls(cert, key, ca)?;
        let call: LoopCall = Arc::new(move |req| {
            let (reply_tx, reply_rx) = crossbeam_channel::bounded(1);
            input
                .send(Input::DockCall(req, reply_tx))
                .map_err(|_| DockError::Unavailable("the camera is shutting down".into()))?;
            reply_rx
                .recv_timeout(LOOP_ANSWER)
                .map_err(|_| DockError::Unavailable("the camera did not answer".into()))?
        });
        let addr = cfg.dock.listen.parse().map_err(|_| {
            DaemonError::Dock(DockError::Tls(format!(
                "bad dock.listen {}",
                cfg.dock.listen
            )))
        })?;
        Ok(Some(DockSetup { tls, call, addr }))
    }
}

impl Loop {
    /// Start the dock API (if configured) now that the camera is docked.
    pub(super) fn open_dock(&mut self) {
        if self.dock_server.is_some() {
            return;
        }
        self.count_pending();
        let Some(setup) = &self.settings.dock else {
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

    pub(super) fn close_dock(&mut self) {
        if let Some(server) = self.dock_server.take() {
            if let Err(e) = server.stop() {
                warn!(error = %e, "dock API did not stop cleanly");
            }
            info!("dock API closed");
        }
    }

    pub(super) fn count_pending(&mut self) {
        self.offload_pending = match offload::pending(self.store.recordings_dir()) {
            Ok(n) => Some(n),
            Err(e) => {
                warn!(error = %e, "cannot count segments waiting for offload");
                None
            }
        };
    }

    /// Answer a dock API request that signs or changes state.
    pub(super) fn dock_call(&mut self, req: DockRequest) -> DockReply {
        self.dock_activity = Some(Instant::now());
        let answer = match req {
            DockRequest::Head(nonce) => Ok(DockAnswer::Head(self.head_statement(&nonce))),
            DockRequest::Ack(ack) => self.acknowledge(&ack).map(DockAnswer::Ack),
            DockRequest::SetTime(utc_ms) => Ok(DockAnswer::Time(self.set_time(utc_ms))),
            DockRequest::Assign(officer, dock) => {
                self.assign(officer, dock).map(DockAnswer::Assignment)
            }
        };
        self.update_leds();
        self.publish();
        answer
    }

    /// Accept an acknowledgement only with the segment's signed hash; free its media at
    /// once with `storage.delete_after_ack`.
    fn acknowledge(&mut self, ack: &Ack) -> Result<AckReply, DockError> {
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
        .map_err(|e| DockError::from_ack(ack, e))?;
        if !already {
            info!(recording = %ack.recording, segment = ack.segment, blob = %ack.blob, "offload acknowledged");
            self.audit(AuditEvent::OffloadAck {
                recording_id: ack.recording.clone(),
                segment: ack.segment,
                blob: ack.blob.clone(),
                sha256: record.sha256.clone(),
            });
        }
        self.count_pending();
        let freed = self.settings.delete_after_ack
            && self.free_acknowledged(Some((&ack.recording, ack.segment)));
        Ok(AckReply {
            acknowledged: true,
            recording_id: ack.recording.clone(),
            segment: ack.segment,
            sha256: record.sha256,
            freed,
        })
    }

    /// The dock's trusted time: the offset of our clock from it is always audited; the
    /// clock is set only with `dock.set_clock = true` (and CAP_SYS_TIME).
    fn set_time(&mut self, utc_ms: i64) -> TimeReply {
        let before = chrono::Utc::now().timestamp_millis();
        let offset = utc_ms - before;
        let (applied, error) = if self.settings.set_clock {
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
            self.clock.rebase(timers::clock_offset_ms());
        }
        info!(offset_ms = offset, applied, "clock set by the dock");
        self.audit(AuditEvent::Clock(ClockChange::Dock {
            offset_ms: offset,
            applied,
            error: error.clone(),
        }));
        TimeReply {
            offset_ms: offset,
            applied,
            error,
        }
    }

    /// A signed head statement for `nonce` (`ctl head` and the dock API), audited.
    pub(super) fn head_statement(&mut self, nonce: &[u8]) -> HeadStatement {
        let head = HeadStatement::sign(&self.signer, nonce, chrono::Utc::now());
        self.audit(AuditEvent::HeadIssued {
            nonce: head.nonce.clone(),
            media_count: head.media_count,
            audit_count: head.audit_count,
        });
        head
    }
}
