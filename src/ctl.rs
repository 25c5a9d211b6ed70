//! The control socket: a Unix socket speaking one JSON request line and one JSON
//! response line per connection, served by the daemon and used by `bodycam ctl`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::evidence::head::HeadStatement;
use crate::status::Status;

/// Longest request line accepted.
pub const MAX_REQUEST_BYTES: u64 = 16 * 1024;

/// Button actions that `ctl button` can inject into the simulated backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ButtonAction {
    /// One short press.
    Press,
    /// Two short presses (starts recording).
    Double,
    /// Three short presses (toggles stealth).
    Triple,
    /// Press and hold past the hold time (stops recording).
    Hold,
    /// One press with contact bounce on both edges.
    Bounce,
}

/// Recording actions for `ctl record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RecordAction {
    /// Start recording.
    Start,
    /// Stop recording.
    Stop,
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Current status.
    Status,
    /// Inject a button gesture (simulated controls only).
    Button {
        /// What to press.
        action: ButtonAction,
    },
    /// Start or stop recording.
    Record {
        /// Start or stop.
        action: RecordAction,
    },
    /// Add a marker.
    Marker,
    /// Toggle stealth mode.
    Stealth,
    /// Simulated dock sense: the camera was put in the dock.
    Dock,
    /// Simulated dock sense: the camera was taken out of the dock.
    Undock,
    /// A signed statement of the chain heads bound to `nonce` (hex, 1–64 bytes).
    Head {
        /// Caller's nonce, hex.
        nonce: String,
    },
}

/// A response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the daemon refused the request: why, as a name (`docked`, `storage_full`,
    /// `fault`, `storage_fault`, `not_recording`, `already_recording`, `shutting_down`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Status, for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Head statement, for `head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadStatement>,
}

impl Response {
    /// Success without payload.
    pub fn ok() -> Response {
        Response {
            ok: true,
            error: None,
            refused: None,
            status: None,
            head: None,
        }
    }

    /// Failure with a message.
    pub fn error(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(msg.into()),
            refused: None,
            status: None,
            head: None,
        }
    }

    /// The daemon refused: `reason` names why, `msg` says it in words.
    pub fn refused(reason: &str, msg: impl Into<String>) -> Response {
        Response {
            refused: Some(reason.to_string()),
            ..Response::error(msg)
        }
    }
}

/// Control socket errors.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The daemon is not running (or not at that path).
    #[error(
        "cannot reach the daemon at {path}: {source} (is `bodycam run` running with the same config?)"
    )]
    Connect {
        /// Socket path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Another daemon already serves this socket.
    #[error("another bodycam daemon is already running on {0}")]
    AlreadyRunning(PathBuf),
    /// Socket I/O failed.
    #[error("control socket {path}: {source}")]
    Io {
        /// Socket path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The daemon answered something unreadable.
    #[error("unreadable answer from the daemon: {0}")]
    Protocol(String),
}

/// Bind the control socket, replacing a stale socket file but never a live daemon's.
pub fn bind(path: &Path) -> Result<UnixListener, CtlError> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(CtlError::AlreadyRunning(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(|source| CtlError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| CtlError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let listener = UnixListener::bind(path).map_err(|source| CtlError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // Owner and group only: the socket starts and stops evidence recording.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(|source| {
        CtlError::Io {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(listener)
}

/// Answers one request (called on the connection's own thread).
pub type Handler = Arc<dyn Fn(Request) -> Response + Send + Sync>;

/// The control socket server: an acceptor thread, and one short thread per connection.
#[derive(Debug)]
pub struct CtlServer {
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    path: Option<PathBuf>,
}

impl CtlServer {
    /// Serve `listener` until [`CtlServer::stop`].
    pub fn spawn(listener: UnixListener, handler: Handler) -> Result<CtlServer, CtlError> {
        let path = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_path_buf));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ctl".into())
            .spawn(move || accept_loop(&listener, &handler, &flag))
            .map_err(|source| CtlError::Io {
                path: path.clone().unwrap_or_default(),
                source,
            })?;
        Ok(CtlServer {
            thread: Some(thread),
            stop,
            path,
        })
    }

    /// Stop accepting, wait for the acceptor, and remove the socket file. Requests
    /// already being answered finish on their own threads.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(path) = &self.path {
            // Wake the acceptor blocked in accept(2).
            let _ = UnixStream::connect(path);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn accept_loop(listener: &UnixListener, handler: &Handler, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        let handler = handler.clone();
        let _ = std::thread::Builder::new()
            .name("ctl-conn".into())
            .spawn(move || handle_connection(stream, handler.as_ref()));
    }
}

fn handle_connection(stream: UnixStream, handler: &(dyn Fn(Request) -> Response + Send + Sync)) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream.take(MAX_REQUEST_BYTES));
    let mut line = String::new();
    let response = match reader.read_line(&mut line) {
        Ok(0) => return,
        Ok(_) if !line.ends_with('\n') => Response::error(format!(
            "request longer than {MAX_REQUEST_BYTES} bytes or not terminated by a newline"
        )),
        Ok(_) => match serde_json::from_str::<Request>(&line) {
            Ok(req) => handler(req),
            Err(e) => Response::error(format!("bad request: {e}")),
        },
        Err(e) => Response::error(format!("cannot read request: {e}")),
    };
    let mut w = write_half;
    if let Ok(mut text) = serde_json::to_string(&response) {
        text.push('\n');
        let _ = w.write_all(text.as_bytes());
    }
}

/// Send one request and wait for the answer.
pub fn call(path: &Path, req: &Request, timeout: Duration) -> Result<Response, CtlError> {
    let mut stream = UnixStream::connect(path).map_err(|source| CtlError::Connect {
        path: path.to_path_buf(),
        source,
    })?;
    let io = |source| CtlError::Io {
        path: path.to_path_buf(),
        source,
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let mut text = serde_json::to_string(req).map_err(|e| CtlError::Protocol(e.to_string()))?;
    text.push('\n');
    stream.write_all(text.as_bytes()).map_err(io)?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).map_err(io)?;
    serde_json::from_str(&line).map_err(|e| CtlError::Protocol(format!("{e}: {line:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_format() {
        let r: Request = serde_json::from_str(r#"{"cmd":"button","action":"double"}"#).unwrap();
        assert_eq!(
            r,
            Request::Button {
                action: ButtonAction::Double
            }
        );
        assert!(
            serde_json::from_str::<Request>(r#"{"cmd":"button","action":"double","x":1}"#).is_err()
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"format_flash"}"#).is_err());
    }

    #[test]
    fn serve_answers_and_rejects_garbage() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("ctl.sock");
        let listener = bind(&path).unwrap();
        let handler: Handler = Arc::new(|req| match req {
            Request::Marker => Response::ok(),
            other => Response::error(format!("unexpected {other:?}")),
        });
        let server = CtlServer::spawn(listener, handler).unwrap();
        let r = call(&path, &Request::Marker, Duration::from_secs(5)).unwrap();
        assert!(r.ok);
        // garbage line
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(b"{not json}\n").unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        let r: Response = serde_json::from_str(&line).unwrap();
        assert!(!r.ok);
        assert!(r.error.unwrap().contains("bad request"));
        // a second daemon cannot take the socket over
        assert!(matches!(bind(&path), Err(CtlError::AlreadyRunning(_))));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // Stopped, the server answers no more and leaves no socket behind.
        server.stop();
        assert!(!path.exists());
        assert!(call(&path, &Request::Marker, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn stale_socket_is_replaced() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("ctl.sock");
        drop(bind(&path).unwrap());
        assert!(path.exists());
        bind(&path).unwrap();
    }
}
