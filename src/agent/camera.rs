//! The dock agent's client for one camera's dock API (mutual TLS, `/v1`): device info,
//! clock, signed heads, the listing, resumable downloads and acknowledgements.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, ETAG, IF_RANGE, RANGE};
use rustls::RootCertStore;
use serde::de::DeserializeOwned;

use super::config::TlsConfig;
use super::failpoint;
use crate::dock::tls::{load_certs, load_key, provider};
use crate::dock::wire::{
    AckReply, AckRequest, AssignmentReply, AssignmentRequest, DeviceInfo, ErrorBody, HeadRequest,
    ListedRecording, Listing, TimeReply, TimeRequest,
};
use crate::evidence::head::HeadStatement;
use crate::flash::sync_dir;

/// What talking to a camera can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// Nothing answers at the address: the bay is empty or the camera is not docked.
    #[error("not reachable: {0}")]
    Unreachable(String),
    /// The TLS files of this dock are unusable.
    #[error("TLS setup: {0}")]
    Setup(String),
    /// The connection broke or the TLS handshake failed (wrong CA, revoked dock, link
    /// dropped mid-transfer).
    #[error("connection: {0}")]
    Connection(String),
    /// The camera answered with an error.
    #[error("{what}: HTTP {status}: {message}")]
    Http {
        /// Request.
        what: String,
        /// Status.
        status: u16,
        /// The camera's `error` text.
        message: String,
    },
    /// The camera answered something the protocol does not allow.
    #[error("{0}")]
    Protocol(String),
    /// A local file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl CameraError {
    fn from_reqwest(e: reqwest::Error) -> CameraError {
        let text = error_chain(&e);
        if e.is_connect() && (text.contains("refused") || text.contains("unreachable")) {
            CameraError::Unreachable(text)
        } else {
            CameraError::Connection(text)
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// One camera's API.
#[derive(Debug, Clone)]
pub struct CameraClient {
    http: reqwest::Client,
    base: String,
}

/// The rustls client configuration: the agency CA as the only root, this dock's
/// certificate for client authentication.
pub fn client_tls(tls: &TlsConfig) -> Result<rustls::ClientConfig, CameraError> {
    let setup = |e: crate::dock::DockError| CameraError::Setup(e.to_string());
    let mut roots = RootCertStore::empty();
    for ca in load_certs(&tls.ca).map_err(setup)? {
        roots.add(ca).map_err(|e| {
            CameraError::Setup(format!(
                "{}: not a usable CA certificate: {e}",
                tls.ca.display()
            ))
        })?;
    }
    let chain = load_certs(&tls.cert).map_err(setup)?;
    let key = load_key(&tls.key).map_err(setup)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CameraError::Setup(e.to_string()))?
        .with_root_certificates(Arc::new(roots))
        .with_client_auth_cert(chain, key)
        .map_err(|e| CameraError::Setup(format!("{}: {e}", tls.cert.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl CameraClient {
    /// A client for the camera at `base` (e.g. `https://10.55.0.1:8443`).
    /// `interface`: bind every connection to this network interface.
    pub fn new(
        tls: rustls::ClientConfig,
        base: &str,
        interface: Option<&str>,
    ) -> Result<CameraClient, CameraError> {
        let mut builder = reqwest::Client::builder();
        if let Some(ifname) = interface {
            builder = builder.interface(ifname);
        }
        let http = builder
            .tls_backend_preconfigured(tls)
            .http1_only()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(2)
            .no_proxy()
            .build()
            .map_err(|e| CameraError::Setup(error_chain(&e)))?;
        Ok(CameraClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Send `req` and read the answer as a `T`; an error answer becomes
    /// [`CameraError::Http`] with the camera's `error` text.
    async fn call<T: DeserializeOwned>(
        &self,
        what: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CameraError> {
        let resp = req.send().await.map_err(CameraError::from_reqwest)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(CameraError::from_reqwest)?;
        if status.is_success() {
            serde_json::from_slice(&body)
                .map_err(|e| CameraError::Protocol(format!("{what}: unexpected answer: {e}")))
        } else {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map_or_else(|_| String::from_utf8_lossy(&body).into_owned(), |e| e.error);
            Err(CameraError::Http {
                what: what.to_string(),
                status: status.as_u16(),
                message,
            })
        }
    }

    /// `GET /v1/device`.
    pub async fn device(&self) -> Result<DeviceInfo, CameraError> {
        self.call("device", self.http.get(self.url("/v1/device")))
            .await
    }

    /// `POST /v1/time`.
    pub async fn set_time(&self, utc_ms: i64) -> Result<TimeReply, CameraError> {
        let body = TimeRequest { utc_ms };
        self.call("time", self.http.post(self.url("/v1/time")).json(&body))
            .await
    }

    /// `POST /v1/assignment`: assign the camera to `officer` (none: clear) from its
    /// next recording on; `dock` names this dock in the camera's audit entry.
    pub async fn assign(
        &self,
        officer: Option<&str>,
        dock: &str,
    ) -> Result<AssignmentReply, CameraError> {
        let body = AssignmentRequest {
            officer: officer.map(str::to_string),
            dock: Some(dock.to_string()),
        };
        self.call(
            "assignment",
            self.http.post(self.url("/v1/assignment")).json(&body),
        )
        .await
    }

    /// `POST /v1/head` with `nonce`.
    pub async fn head(&self, nonce: &[u8]) -> Result<HeadStatement, CameraError> {
        let body = HeadRequest {
            nonce: hex::encode(nonce),
        };
        self.call("head", self.http.post(self.url("/v1/head")).json(&body))
            .await
    }

    /// `GET /v1/recordings`.
    pub async fn recordings(&self) -> Result<Vec<ListedRecording>, CameraError> {
        let listing: Listing = self
            .call("recordings", self.http.get(self.url("/v1/recordings")))
            .await?;
        Ok(listing.recordings)
    }

    /// `POST /v1/recordings/{rec}/segments/{seq}/ack`.
    pub async fn acknowledge(
        &self,
        recording: &str,
        segment: u32,
        blob: &str,
        sha256: &str,
    ) -> Result<AckReply, CameraError> {
        let body = AckRequest {
            blob: blob.to_string(),
            sha256: sha256.to_string(),
        };
        let url = self.url(&format!(
            "/v1/recordings/{recording}/segments/{segment}/ack"
        ));
        self.call("ack", self.http.post(url).json(&body)).await
    }

    /// Download `path` (an API path) to `dest`, resuming a `.part` file left by an
    /// interrupted run (Range + If-Range on the ETag). The file appears under `dest`
    /// only once complete and durable. `progress` gets the bytes of each chunk written.
    /// Returns the file's length.
    pub async fn download(
        &self,
        path: &str,
        dest: &Path,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, CameraError> {
        if let Ok(m) = std::fs::metadata(dest) {
            return Ok(m.len());
        }
        let part = Part::of(dest)?;
        let mut req = self.http.get(self.url(path));
        if let Some(tag) = part.resume_tag() {
            req = req
                .header(RANGE, format!("bytes={}-", part.have))
                .header(IF_RANGE, tag.trim());
        }
        let resp = req.send().await.map_err(CameraError::from_reqwest)?;
        let append = match resp.status() {
            StatusCode::PARTIAL_CONTENT if part.resuming() => {
                let start = content_range(&resp)
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if start != Some(part.have) {
                    return Err(CameraError::Protocol(format!(
                        "{path}: asked to resume at byte {}, got Content-Range {start:?}",
                        part.have
                    )));
                }
                true
            }
            StatusCode::RANGE_NOT_SATISFIABLE if part.resuming() => {
                // The part file already holds the whole file (killed before the rename).
                let total = content_range(&resp)
                    .and_then(|v| v.strip_prefix("bytes */"))
                    .and_then(|v| v.parse::<u64>().ok());
                if total != Some(part.have) {
                    let _ = std::fs::remove_file(&part.path);
                    return Err(CameraError::Protocol(format!(
                        "{path}: partial download of {} bytes does not fit the file ({total:?}); restarting next time",
                        part.have
                    )));
                }
                return part.finish(dest).map(|()| part.have);
            }
            StatusCode::OK => false,
            s => return Err(http_error(&format!("download {path}"), s, resp).await),
        };
        let written = part.receive(path, resp, append, progress).await?;
        part.finish(dest)?;
        Ok(if append { part.have + written } else { written })
    }
}

/// The `Content-Range` header's text.
fn content_range(resp: &reqwest::Response) -> Option<&str> {
    resp.headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
}

/// An error answer: the camera's `error` text with the status.
async fn http_error(what: &str, status: StatusCode, resp: reqwest::Response) -> CameraError {
    let body = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&body)
        .map(|e| e.error)
        .unwrap_or(body);
    CameraError::Http {
        what: what.to_string(),
        status: status.as_u16(),
        message,
    }
}

/// A download in progress: `DEST.part` and the ETag it was started from
/// (`DEST.part.etag`).
struct Part {
    path: PathBuf,
    etag_file: PathBuf,
    /// Bytes already in the part file.
    have: u64,
    /// The ETag of the file the part belongs to.
    etag: Option<String>,
}

fn io_err(p: &Path) -> impl FnOnce(std::io::Error) -> CameraError {
    let path = p.to_path_buf();
    move |source| CameraError::Io { path, source }
}

impl Part {
    fn of(dest: &Path) -> Result<Part, CameraError> {
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let path = with_suffix(dest, ".part");
        let etag_file = with_suffix(dest, ".part.etag");
        Ok(Part {
            have: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            etag: std::fs::read_to_string(&etag_file).ok(),
            path,
            etag_file,
        })
    }

    fn resuming(&self) -> bool {
        self.have > 0 && self.etag.is_some()
    }

    fn resume_tag(&self) -> Option<&str> {
        self.etag.as_deref().filter(|_| self.resuming())
    }

    /// Write the answer's body into the part file (after what it holds, if `append`),
    /// durably; the bytes written.
    async fn receive(
        &self,
        path: &str,
        resp: reqwest::Response,
        append: bool,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, CameraError> {
        let expected_rest = resp.content_length();
        if !append {
            let tag = resp
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            std::fs::write(&self.etag_file, tag).map_err(io_err(&self.etag_file))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&self.path)
            .map_err(io_err(&self.path))?;
        if append {
            progress(self.have);
        }
        let mut written = 0u64;
        let half = expected_rest.map(|n| n / 2);
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(CameraError::from_reqwest)?;
            file.write_all(&chunk).map_err(io_err(&self.path))?;
            written += chunk.len() as u64;
            progress(chunk.len() as u64);
            if half.is_some_and(|h| written >= h && h > 0) {
                file.flush().map_err(io_err(&self.path))?;
                failpoint::hit("mid-download");
            }
        }
        if let Some(n) = expected_rest
            && n != written
        {
            return Err(CameraError::Connection(format!(
                "{path}: transfer ended after {written} of {n} bytes"
            )));
        }
        file.sync_all().map_err(io_err(&self.path))?;
        Ok(written)
    }

    /// Make the completed part file the final file, durably.
    fn finish(&self, dest: &Path) -> Result<(), CameraError> {
        finish(&self.path, &self.etag_file, dest)
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Make the completed part file the final file, durably.
fn finish(part: &Path, etag_file: &Path, dest: &Path) -> Result<(), CameraError> {
    std::fs::rename(part, dest).map_err(|source| CameraError::Io {
        path: dest.to_path_buf(),
        source,
    })?;
    let _ = std::fs::remove_file(etag_file);
    if let Some(dir) = dest.parent() {
        sync_dir(dir).map_err(|source| CameraError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}
