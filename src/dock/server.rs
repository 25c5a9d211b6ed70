//! The accept loop: TLS handshakes with a deadline, bounded apart from the connections
//! served, HTTP/1.1 with a header deadline, stalled sockets closed, and a graceful stop
//! when the shutdown future fires. [`DockServer`] runs it on its own thread and runtime
//! for the (synchronous) daemon.
//!
//! A connection first takes a *handshake* permit ([`DockLimits::max_handshakes`]); only
//! once its client has authenticated (mutual TLS) does it wait for one of the
//! [`DockLimits::max_connections`] slots. Sockets that connect and never start TLS thus
//! hold handshake permits, never the slots the dock's downloads need; when every
//! handshake permit is taken, the oldest handshake is dropped to admit the new socket.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use super::io::StallGuard;
use super::{DockBackend, DockError, DockLimits, api};

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Time given to backend calls still running when [`DockServer`] stops.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(2);

/// Serve the dock API on `listener` with [`DockLimits::default`] until `shutdown`
/// completes, then stop accepting, let requests in flight finish (up to
/// [`DockLimits::shutdown_grace`]) and return.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    backend: Arc<dyn DockBackend>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DockError> {
    serve_with(listener, tls, backend, DockLimits::default(), shutdown).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    backend: Arc<dyn DockBackend>,
    limits: DockLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DockError> {
    let local = listener.local_addr().map_err(|source| DockError::Io {
        what: "read the listening address",
        source,
    })?;
    info!(%local, "dock API listening");
    let acceptor = TlsAcceptor::from(tls);
    let app = api::router(backend, &limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let handshakes = Arc::new(Semaphore::new(limits.max_handshakes.max(1)));
    let pending = Handshaking::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // A handshake permit first: when all are taken, the oldest handshake makes way.
        let permit = match handshakes.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if pending.evict_oldest() {
                    debug!("dock API: every handshake permit taken; dropped the oldest");
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    p = handshakes.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                }
            }
        };
        let (tcp, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "dock API: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        while conns.try_join_next().is_some() {}
        let id = pending.next_id();
        let handle = conns.spawn(connection(
            tcp,
            peer,
            acceptor.clone(),
            app.clone(),
            limits.clone(),
            stop_rx.clone(),
            Admission {
                handshake: permit,
                slots: slots.clone(),
                pending: pending.clone(),
                id,
            },
        ));
        pending.started(id, handle);
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            connections = conns.len(),
            "dock API: closing connections still busy after the grace period"
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    info!(%local, "dock API stopped");
    Ok(())
}

/// The handshakes in progress, oldest first, so that the oldest can be dropped when
/// every handshake permit is taken.
#[derive(Debug, Clone, Default)]
struct Handshaking(Arc<Mutex<HandshakeList>>);

/// The last id handed out, and the handshakes in progress (id, task), oldest first.
#[derive(Debug, Default)]
struct HandshakeList {
    last_id: u64,
    running: VecDeque<(u64, AbortHandle)>,
}

impl Handshaking {
    fn next_id(&self) -> u64 {
        match self.0.lock() {
            Ok(mut g) => {
                g.last_id += 1;
                g.last_id
            }
            Err(_) => 0,
        }
    }

    fn started(&self, id: u64, handle: AbortHandle) {
        if let Ok(mut g) = self.0.lock() {
            // A handshake that already ended (very fast, or refused) is not listed.
            if !handle.is_finished() {
                g.running.push_back((id, handle));
            }
        }
    }

    /// The handshake `id` ended (authenticated, refused or timed out).
    fn ended(&self, id: u64) {
        if let Ok(mut g) = self.0.lock() {
            g.running.retain(|(i, _)| *i != id);
        }
    }

    /// Drop the oldest handshake still in progress; whether there was one.
    fn evict_oldest(&self) -> bool {
        let oldest = self.0.lock().ok().and_then(|mut g| g.running.pop_front());
        match oldest {
            Some((_, handle)) => {
                handle.abort();
                true
            }
            None => false,
        }
    }
}

/// What lets a connection in: its handshake permit, then a slot once authenticated.
struct Admission {
    /// Held during the TLS handshake only.
    handshake: OwnedSemaphorePermit,
    /// The connection slots, taken after the handshake.
    slots: Arc<Semaphore>,
    /// Where this handshake is listed (for eviction) until it ends.
    pending: Handshaking,
    /// This connection's entry there.
    id: u64,
}

/// One client connection: the TLS handshake under a handshake permit, then the HTTP
/// connection under a slot, held until it ends.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    limits: DockLimits,
    mut stop: watch::Receiver<bool>,
    admission: Admission,
) {
    let Admission {
        handshake: handshake_permit,
        slots,
        pending,
        id,
    } = admission;
    let _ = tcp.set_nodelay(true);
    let io = StallGuard::new(tcp, limits.stall_timeout);
    let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(io));
    let tls = tokio::select! {
        r = handshake => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                info!(%peer, error = %e, "dock API: TLS handshake refused");
                pending.ended(id);
                return;
            }
            Err(_) => {
                info!(%peer, "dock API: TLS handshake timed out");
                pending.ended(id);
                return;
            }
        },
        () = stopped(&mut stop) => return,
    };
    pending.ended(id);
    drop(handshake_permit);
    if let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        let fingerprint = hex::encode(crate::evidence::record::sha256(cert));
        info!(%peer, client_sha256 = %fingerprint, "dock API: client connected");
    }
    // Authenticated: wait for a slot (a dock never opens more than it needs).
    let _slot = tokio::select! {
        s = slots.acquire_owned() => match s {
            Ok(s) => s,
            Err(_) => return,
        },
        () = stopped(&mut stop) => return,
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(64);
    let conn = http.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "dock API: connection ended with an error");
    }
}

/// Completes once the server is stopping (or the stop sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The dock API on its own thread and tokio runtime, for a synchronous caller.
/// Stops (gracefully) on [`DockServer::stop`] or when dropped.
#[derive(Debug)]
pub struct DockServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), DockError>>>,
}

impl DockServer {
    /// Bind `addr` and start serving.
    pub fn start(
        addr: SocketAddr,
        tls: Arc<ServerConfig>,
        backend: Arc<dyn DockBackend>,
        limits: DockLimits,
    ) -> Result<DockServer, DockError> {
        let io = |what| move |source| DockError::Io { what, source };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(limits.max_connections.max(1) * 2)
            .thread_name("dock-rt")
            .enable_all()
            .build()
            .map_err(io("start the dock API runtime"))?;
        let listener = rt
            .block_on(TcpListener::bind(addr))
            .map_err(io("bind the dock API address"))?;
        let local_addr = listener
            .local_addr()
            .map_err(io("read the listening address"))?;
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dock".into())
            .spawn(move || {
                let r = rt.block_on(serve_with(listener, tls, backend, limits, async {
                    let _ = rx.await;
                }));
                rt.shutdown_timeout(RUNTIME_SHUTDOWN);
                r
            })
            .map_err(io("spawn the dock API thread"))?;
        Ok(DockServer {
            local_addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting, let requests in flight finish, and wait for the thread.
    pub fn stop(mut self) -> Result<(), DockError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), DockError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| DockError::Internal("the dock API thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for DockServer {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            warn!(error = %e, "dock API did not stop cleanly");
        }
    }
}
