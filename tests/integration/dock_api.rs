//! The dock API over real mutual TLS on 127.0.0.1:0, with a fake backend over a store
//! laid out in a temporary directory: listing, resumable downloads, client-certificate
//! enforcement, id validation against path traversal, open segments, acknowledgements,
//! body limits, malformed JSON, slow clients and shutdown. A raw HTTP/1.1 client is used
//! so that request targets reach the server byte for byte (no URL normalisation).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bodycam::dock::tls::{load_certs, load_key, provider};
use bodycam::dock::wire::{AckReply, ClockInfo, DeviceInfo, OffloadState, StorageInfo, TimeReply};
use bodycam::dock::{Ack, DockBackend, DockError, DockLimits, DockServer, serve_with, server_tls};
use bodycam::evidence::head::HeadStatement;
use bodycam::flash::RealFlash;
use bodycam::layout::RecordingId;
use bodycam::pki::{DevPki, dev_pki};
use bodycam::store::offload;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

/// How an offload state is spelled on the wire.
fn wire(state: OffloadState) -> Value {
    serde_json::to_value(state).unwrap()
}

fn device_info() -> DeviceInfo {
    DeviceInfo {
        device_id: "00112233445566778899aabbccddeeff".into(),
        public_key: String::new(),
        firmware: "test".into(),
        clock: ClockInfo {
            utc: String::new(),
            synchronised: false,
        },
        storage: StorageInfo {
            used_bytes: 0,
            available_bytes: 0,
            hours_left: None,
        },
        state: "docked".into(),
        officer: None,
    }
}

const REC_A: &str = "20261125T175328Z";
const REC_B: &str = "20261125T180000Z-2";
/// Found in every file outside the store; must never appear in an answer.
const SECRET: &str = "OUTSIDE-THE-STORE-SECRET";

// ---------------------------------------------------------------------------------
// The fake backend

/// Records every call so that tests can check what reached the backend.
struct Fake {
    root: PathBuf,
    closed: HashSet<(String, u32)>,
    hashes: HashMap<(String, u32), String>,
    acks: Mutex<Vec<Ack>>,
    heads: Mutex<Vec<Vec<u8>>>,
    times: Mutex<Vec<i64>>,
    /// How long `head` takes (a daemon loop that is busy).
    head_delay: Mutex<Duration>,
    device_calls: Mutex<u32>,
    /// Every recording id the backend was asked about.
    seen_ids: Mutex<Vec<String>>,
}

impl Fake {
    fn saw(&self, recording: &str) {
        self.seen_ids.lock().unwrap().push(recording.to_string());
    }
}

impl DockBackend for Fake {
    fn device_info(&self) -> DeviceInfo {
        *self.device_calls.lock().unwrap() += 1;
        device_info()
    }

    fn head(&self, nonce: &[u8]) -> Result<HeadStatement, DockError> {
        std::thread::sleep(*self.head_delay.lock().unwrap());
        self.heads.lock().unwrap().push(nonce.to_vec());
        Ok(HeadStatement {
            audit_count: 0,
            audit_hash: String::new(),
            device_id: String::new(),
            format: bodycam::evidence::head::HEAD_FORMAT.into(),
            media_count: 0,
            media_hash: String::new(),
            nonce: hex::encode(nonce),
            record: String::new(),
            utc: String::new(),
        })
    }

    fn acknowledge(&self, ack: &Ack) -> Result<AckReply, DockError> {
        self.saw(&ack.recording);
        let key = (ack.recording.clone(), ack.segment);
        match self.hashes.get(&key) {
            Some(h) if *h == ack.sha256 => {
                self.acks.lock().unwrap().push(ack.clone());
                Ok(AckReply {
                    acknowledged: true,
                    recording_id: ack.recording.clone(),
                    segment: ack.segment,
                    sha256: ack.sha256.clone(),
                    freed: false,
                })
            }
            Some(_) => Err(DockError::HashMismatch {
                recording: ack.recording.clone(),
                segment: ack.segment,
                sha256: ack.sha256.clone(),
            }),
            None => Err(DockError::NotFound("no such segment".into())),
        }
    }

    fn set_time(&self, utc_ms: i64) -> Result<TimeReply, DockError> {
        self.times.lock().unwrap().push(utc_ms);
        Ok(TimeReply {
            offset_ms: 1234,
            applied: false,
            error: None,
        })
    }

    fn store_root(&self) -> PathBuf {
        self.root.clone()
    }

    fn segment_closed(&self, recording: &str, segment: u32) -> bool {
        self.saw(recording);
        self.closed.contains(&(recording.to_string(), segment))
    }

    fn offload_state(&self, recording: &str, segment: u32) -> OffloadState {
        self.saw(recording);
        let acked = self
            .acks
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.recording == recording && a.segment == segment);
        if acked {
            OffloadState::Acknowledged
        } else {
            OffloadState::Pending
        }
    }
}

/// A backend over a real signed store, built on `store::offload` the way the daemon's
/// can be: closed = the journal has a final or recovery record; acknowledgements are
/// checked against the signed hash and kept as `NNNNNN.ack`.
struct StoreBackend {
    root: PathBuf,
}

impl StoreBackend {
    fn dir(&self, recording: &str) -> PathBuf {
        self.root.join("recordings").join(recording)
    }
}

impl DockBackend for StoreBackend {
    fn device_info(&self) -> DeviceInfo {
        device_info()
    }

    fn head(&self, _nonce: &[u8]) -> Result<HeadStatement, DockError> {
        Err(DockError::Unavailable("not in this test".into()))
    }

    fn acknowledge(&self, ack: &Ack) -> Result<AckReply, DockError> {
        offload::acknowledge(
            &RealFlash,
            &self.root.join("recordings"),
            &ack.recording,
            ack.segment,
            &ack.blob,
            &ack.sha256,
            "2026-11-25T19:00:00Z",
        )
        .map(|r| AckReply {
            acknowledged: true,
            recording_id: r.recording_id,
            segment: r.segment,
            sha256: r.sha256,
            freed: false,
        })
        .map_err(|e| DockError::from_ack(ack, e))
    }

    fn set_time(&self, _utc_ms: i64) -> Result<TimeReply, DockError> {
        Err(DockError::Unavailable("not in this test".into()))
    }

    fn store_root(&self) -> PathBuf {
        self.root.clone()
    }

    fn segment_closed(&self, recording: &str, segment: u32) -> bool {
        offload::signed_hash(&self.dir(recording), segment).is_ok_and(|h| h.is_some())
    }

    fn offload_state(&self, recording: &str, segment: u32) -> OffloadState {
        if offload::is_acknowledged(&self.dir(recording), segment) {
            OffloadState::Acknowledged
        } else {
            OffloadState::Pending
        }
    }
}

// ---------------------------------------------------------------------------------
// The store

/// `n` MPEG-TS-looking packets (sync byte, then a pattern that differs per packet).
fn media_bytes(n: usize, seed: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(n * 188);
    for p in 0..n {
        v.push(0x47);
        v.extend((1..188).map(|i| (i as u8).wrapping_mul(31) ^ (p as u8) ^ seed));
    }
    v
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b).as_ref())
}

fn sidecar(rec: &str, seq: u32, bytes: usize) -> String {
    json!({
        "format": "bodycam-segment-meta/1", "recording_id": rec, "sequence": seq,
        "utc_start": "2026-11-25T17:53:28Z", "utc_end": "2026-11-25T17:53:30Z",
        "duration_seconds": 2.0, "bytes": bytes, "end_reason": "rollover",
    })
    .to_string()
}

/// Lays out, below `base`:
/// ```text
/// store/recordings/REC_A/{recording.json, 000001.*, 000002.*, 000003.ts -> ../../../000001.ts}
/// store/recordings/REC_B/{recording.json, 000001.* (closed), 000002.ts + .journal (open)}
/// store/recordings/not-an-id/000001.ts
/// store/evidence/audit.log
/// 000001.ts, secret.txt (outside the store)
/// ```
fn lay_out_store(base: &Path) -> Fake {
    let root = base.join("store");
    let mut closed = HashSet::new();
    let mut hashes = HashMap::new();
    for (rec, segs, open) in [(REC_A, 2u32, None), (REC_B, 1u32, Some(2u32))] {
        let dir = root.join("recordings").join(rec);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("recording.json"),
            json!({"id": rec, "trigger": "ctl"}).to_string(),
        )
        .unwrap();
        for seq in 1..=segs {
            let media = media_bytes(40 + seq as usize, seq as u8);
            std::fs::write(dir.join(format!("{seq:06}.ts")), &media).unwrap();
            std::fs::write(
                dir.join(format!("{seq:06}.journal")),
                [b"BCR1".as_slice(), &[seq as u8; 200]].concat(),
            )
            .unwrap();
            std::fs::write(
                dir.join(format!("{seq:06}.json")),
                sidecar(rec, seq, media.len()),
            )
            .unwrap();
            closed.insert((rec.to_string(), seq));
            hashes.insert((rec.to_string(), seq), sha256_hex(&media));
        }
        if let Some(seq) = open {
            std::fs::write(dir.join(format!("{seq:06}.ts")), media_bytes(10, 9)).unwrap();
            std::fs::write(dir.join(format!("{seq:06}.journal")), b"BCR1open").unwrap();
        }
    }
    // Bait outside the store, and a symlink inside it pointing there.
    std::fs::write(base.join("000001.ts"), SECRET).unwrap();
    std::fs::write(base.join("secret.txt"), SECRET).unwrap();
    std::fs::write(base.join("recording.json"), SECRET).unwrap();
    std::os::unix::fs::symlink(
        base.join("000001.ts"),
        root.join("recordings").join(REC_A).join("000003.ts"),
    )
    .unwrap();
    closed.insert((REC_A.to_string(), 3));
    std::fs::create_dir_all(root.join("recordings/not-an-id")).unwrap();
    std::fs::write(root.join("recordings/not-an-id/000001.ts"), SECRET).unwrap();
    std::fs::create_dir_all(root.join("evidence")).unwrap();
    std::fs::write(root.join("evidence/audit.log"), media_bytes(5, 0xa5)).unwrap();
    Fake {
        root,
        closed,
        hashes,
        acks: Mutex::default(),
        heads: Mutex::default(),
        times: Mutex::default(),
        head_delay: Mutex::default(),
        device_calls: Mutex::default(),
        seen_ids: Mutex::default(),
    }
}

fn media_of(fake: &Fake, rec: &str, seq: u32) -> Vec<u8> {
    std::fs::read(fake.root.join(format!("recordings/{rec}/{seq:06}.ts"))).unwrap()
}

// ---------------------------------------------------------------------------------
// The server under test

struct Server {
    addr: SocketAddr,
    pki: DevPki,
    /// A second, unrelated development PKI.
    other: DevPki,
    fake: Arc<Fake>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), DockError>>,
    _dir: tempfile::TempDir,
}

fn names() -> Vec<String> {
    vec!["127.0.0.1".into(), "localhost".into()]
}

fn test_limits() -> DockLimits {
    DockLimits {
        shutdown_grace: Duration::from_secs(1),
        ..DockLimits::default()
    }
}

async fn start(limits: DockLimits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(lay_out_store(dir.path()));
    start_with(dir, fake.clone(), fake, limits).await
}

/// Serve `backend` with a new development PKI below `dir`.
async fn start_with(
    dir: tempfile::TempDir,
    fake: Arc<Fake>,
    backend: Arc<dyn DockBackend>,
    limits: DockLimits,
) -> Server {
    let pki = dev_pki(&dir.path().join("pki"), &names()).unwrap();
    let other = dev_pki(&dir.path().join("other-pki"), &names()).unwrap();
    let tls = server_tls(&pki.camera_cert, &pki.camera_key, &pki.ca_cert).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(listener, tls, backend, limits, async {
        let _ = rx.await;
    }));
    Server {
        addr,
        pki,
        other,
        fake,
        stop: Some(tx),
        task,
        _dir: dir,
    }
}

impl Server {
    /// A client presenting the development dock certificate.
    fn dock(&self) -> Arc<ClientConfig> {
        client(
            &self.pki.ca_cert,
            Some((&self.pki.dock_cert, &self.pki.dock_key)),
        )
    }

    async fn get(&self, target: &str) -> Resp {
        self.send(&get(target, "")).await
    }

    async fn send(&self, raw: &[u8]) -> Resp {
        exchange(self.addr, self.dock(), raw)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(raw)))
    }

    async fn shutdown(mut self) -> Duration {
        let t = Instant::now();
        if let Some(tx) = self.stop.take() {
            tx.send(()).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("serve returns after the shutdown future")
            .unwrap()
            .unwrap();
        t.elapsed()
    }
}

// ---------------------------------------------------------------------------------
// A raw HTTPS client

fn client(ca: &Path, identity: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(ca).unwrap() {
        roots.add(c).unwrap();
    }
    let b = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match identity {
        Some((cert, key)) => b
            .with_client_auth_cert(load_certs(cert).unwrap(), load_key(key).unwrap())
            .unwrap(),
        None => b.with_no_client_auth(),
    })
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn get(target: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: camera\r\nConnection: close\r\n{extra_headers}\r\n")
        .into_bytes()
}

fn post(target: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {target} HTTP/1.1\r\nHost: camera\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn tls_connect(
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(cfg)
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

/// Send `raw` on a new connection and read the whole answer (`Connection: close`).
async fn exchange(addr: SocketAddr, cfg: Arc<ClientConfig>, raw: &[u8]) -> Result<Resp, String> {
    let fut = async {
        let mut s = tls_connect(addr, cfg).await.map_err(|e| e.to_string())?;
        s.write_all(raw).await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                // A peer closing without close_notify after a full answer.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {
                    break;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        parse(&buf)
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| "no answer within 10 s".to_string())?
}

/// Read exactly one response (with a Content-Length) from a keep-alive connection.
async fn read_one_response(s: &mut tokio_rustls::client::TlsStream<TcpStream>) -> Resp {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(r) = parse(&buf)
            && let Some(len) = r.header("content-length")
            && r.body.len() >= len.parse::<usize>().unwrap()
        {
            return r;
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the whole response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse(buf: &[u8]) -> Result<Resp, String> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response in {} bytes", buf.len()))?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = body.as_slice();
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or("bad chunk")?;
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap_or("x"), 16)
                .map_err(|_| "bad chunk size")?;
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        body = out;
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn lists_recordings_with_segments_state_and_metadata() {
    let s = start(test_limits()).await;
    let r = s.get("/v1/recordings").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let recs = v["recordings"].as_array().unwrap();
    let ids: Vec<&str> = recs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [REC_A, REC_B], "not-an-id is not listed");
    assert_eq!(recs[0]["descriptor"]["trigger"], "ctl");
    let a = recs[0]["segments"].as_array().unwrap();
    assert_eq!(a.len(), 2, "the symlinked 000003.ts is no segment: {a:?}");
    assert_eq!(a[0]["sequence"], 1);
    assert_eq!(a[0]["bytes"], media_of(&s.fake, REC_A, 1).len());
    assert_eq!(a[0]["journal_bytes"], 204);
    assert_eq!(a[0]["closed"], true);
    assert_eq!(a[0]["offload"], wire(OffloadState::Pending));
    assert_eq!(a[0]["meta"]["format"], "bodycam-segment-meta/1");
    assert_eq!(a[1]["meta"]["sequence"], 2);
    let b = recs[1]["segments"].as_array().unwrap();
    assert_eq!(b[1]["sequence"], 2);
    assert_eq!(b[1]["closed"], false);
    assert_eq!(b[1]["meta"], Value::Null);
    assert!(!r.text().contains(SECRET));

    let d = s.get("/v1/device").await;
    assert_eq!(d.status, 200);
    assert_eq!(d.json()["state"], "docked");
    s.shutdown().await;
}

#[tokio::test]
async fn downloads_are_exact_ranged_and_resumable_with_if_range() {
    let s = start(test_limits()).await;
    let media = media_of(&s.fake, REC_A, 1);
    let target = format!("/v1/recordings/{REC_A}/segments/1/media");

    let full = s.get(&target).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.body, media);
    assert_eq!(full.header("content-type"), Some("video/mp2t"));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let etag = full.header("etag").expect("ETag").to_string();
    let last_modified = full
        .header("last-modified")
        .expect("Last-Modified")
        .to_string();
    // Leading zeros in the sequence name the same segment.
    assert_eq!(
        s.get(&format!("/v1/recordings/{REC_A}/segments/000001/media"))
            .await
            .body,
        media
    );

    let part = s.send(&get(&target, "Range: bytes=100-199\r\n")).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, media[100..200]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{}", media.len()).as_str())
    );

    // Resume with the validator from the first answer: the rest of the same file.
    let resumed = s
        .send(&get(
            &target,
            &format!("Range: bytes=200-\r\nIf-Range: {etag}\r\n"),
        ))
        .await;
    assert_eq!(resumed.status, 206);
    assert_eq!(resumed.body, media[200..]);
    let by_date = s
        .send(&get(
            &target,
            &format!("Range: bytes=200-\r\nIf-Range: {last_modified}\r\n"),
        ))
        .await;
    assert_eq!(by_date.status, 206);
    assert_eq!(by_date.body, media[200..]);

    // A stale validator: the whole file, never a range of something else.
    for stale in [
        "\"0.0-0\"".to_string(),
        format!("W/{etag}"),
        "Thu, 01 Jan 2026 00:00:00 GMT".to_string(),
    ] {
        let r = s
            .send(&get(
                &target,
                &format!("Range: bytes=200-\r\nIf-Range: {stale}\r\n"),
            ))
            .await;
        assert_eq!(r.status, 200, "If-Range {stale}");
        assert_eq!(r.body, media, "If-Range {stale}");
    }

    // Validators: If-None-Match with the current tag is 304.
    let nm = s
        .send(&get(&target, &format!("If-None-Match: {etag}\r\n")))
        .await;
    assert_eq!(nm.status, 304);

    // Journal, sidecar, audit log.
    let journal = s
        .get(&format!("/v1/recordings/{REC_A}/segments/2/journal"))
        .await;
    assert_eq!(journal.status, 200);
    assert_eq!(
        journal.body,
        std::fs::read(
            s.fake
                .root
                .join(format!("recordings/{REC_A}/000002.journal"))
        )
        .unwrap()
    );
    let meta = s
        .get(&format!("/v1/recordings/{REC_B}/segments/1/meta"))
        .await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.header("content-type"), Some("application/json"));
    assert_eq!(meta.json()["recording_id"], REC_B);
    let audit = std::fs::read(s.fake.root.join("evidence/audit.log")).unwrap();
    let a = s.send(&get("/v1/audit", "Range: bytes=10-19\r\n")).await;
    assert_eq!(a.status, 206);
    assert_eq!(a.body, audit[10..20]);
    s.shutdown().await;
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_in_the_handshake() {
    let s = start(test_limits()).await;
    let anonymous = client(&s.pki.ca_cert, None);
    let r = exchange(s.addr, anonymous, &get("/v1/device", "")).await;
    assert!(r.is_err(), "an anonymous client got an answer: {r:?}");
    assert_eq!(*s.fake.device_calls.lock().unwrap(), 0);
    // The same request with the dock certificate works.
    assert_eq!(s.get("/v1/device").await.status, 200);
    s.shutdown().await;
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let s = start(test_limits()).await;
    let foreign = client(
        &s.pki.ca_cert,
        Some((&s.other.dock_cert, &s.other.dock_key)),
    );
    let r = exchange(s.addr, foreign, &get("/v1/recordings", "")).await;
    assert!(r.is_err(), "a foreign dock got an answer: {r:?}");
    // The camera's own server certificate is no client certificate (no clientAuth).
    let camera_as_client = client(
        &s.pki.ca_cert,
        Some((&s.pki.camera_cert, &s.pki.camera_key)),
    );
    let r = exchange(s.addr, camera_as_client, &get("/v1/recordings", "")).await;
    assert!(
        r.is_err(),
        "a serverAuth-only certificate got an answer: {r:?}"
    );
    assert!(s.fake.seen_ids.lock().unwrap().is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn traversal_and_bad_ids_are_400_and_never_reach_the_filesystem() {
    let s = start(test_limits()).await;
    let bad_recordings = [
        "..",
        "..%2F..",
        "..%2F..%2F",
        "%2E%2E%2F%2E%2E",
        "..%5C..",
        "%2Fetc%2Fpasswd",
        "%2F",
        "20261125T175328Z%2F..%2F..%2F..",
        "20261125T175328Z%00",
        "20261125T175328Z%0A",
        "..%252F..",
        "%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96%EF%BC%91%EF%BC%91%EF%BC%92%EF%BC%95T175328Z",
        "20261125T175328Z-%EF%BC%92",
        "20261125T175328Z-",
        "20261125T175328",
        "%FF%FE",
        "not-an-id",
        "recording.json",
    ];
    let bad_sequences = [
        "0",
        "1000000",
        "0000001",
        "-1",
        "+1",
        "1.0",
        "0x1",
        "1%00",
        "%EF%BC%91",
        "..%2F..%2F..%2Fsecret.txt",
        "..",
        "%2E%2E",
    ];
    let mut targets = Vec::new();
    for rec in bad_recordings {
        for part in ["media", "journal", "meta"] {
            targets.push(format!("/v1/recordings/{rec}/segments/1/{part}"));
        }
    }
    for seq in bad_sequences {
        targets.push(format!("/v1/recordings/{REC_A}/segments/{seq}/media"));
    }
    for t in &targets {
        let r = s.get(t).await;
        assert_eq!(r.status, 400, "{t}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{t}");
        assert!(!r.text().contains(SECRET), "{t}");
    }
    for rec in bad_recordings {
        let t = format!("/v1/recordings/{rec}/segments/1/ack");
        let body = json!({"blob": "x", "sha256": "0".repeat(64)}).to_string();
        let r = s.send(&post(&t, &body)).await;
        assert_eq!(r.status, 400, "{t}: {}", r.text());
    }
    // Unnormalised dot segments and absolute targets match no route at all.
    for t in [
        "/v1/recordings/../../secret.txt",
        "/v1/recordings/20261125T175328Z/segments/1/media/../../../../../../secret.txt",
        "/v1/../../secret.txt",
        "//secret.txt",
        "/v1/audit/../../secret.txt",
    ] {
        let r = s.get(t).await;
        assert!(matches!(r.status, 400 | 404), "{t}: {}", r.status);
        assert!(!r.text().contains(SECRET), "{t}");
    }
    // A symlink inside the store is not served, even for a closed segment.
    let r = s
        .get(&format!("/v1/recordings/{REC_A}/segments/3/media"))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(!r.text().contains(SECRET));
    // The backend was only ever asked about valid ids.
    let seen = s.fake.seen_ids.lock().unwrap().clone();
    assert!(
        seen.iter().all(|id| RecordingId::parse(id).is_some()),
        "{seen:?}"
    );
    assert!(s.fake.acks.lock().unwrap().is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn the_open_segment_is_409_and_a_missing_one_404() {
    let s = start(test_limits()).await;
    for part in ["media", "journal", "meta"] {
        let r = s
            .get(&format!("/v1/recordings/{REC_B}/segments/2/{part}"))
            .await;
        assert_eq!(r.status, 409, "{part}: {}", r.text());
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .contains("still being written")
        );
    }
    let open = media_of(&s.fake, REC_B, 2);
    let r = s
        .send(&post(
            &format!("/v1/recordings/{REC_B}/segments/2/ack"),
            &json!({"blob": "b", "sha256": sha256_hex(&open)}).to_string(),
        ))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(s.fake.acks.lock().unwrap().is_empty());

    for t in [
        format!("/v1/recordings/{REC_A}/segments/9/media"),
        "/v1/recordings/20991231T235959Z/segments/1/media".to_string(),
    ] {
        assert_eq!(s.get(&t).await.status, 404, "{t}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn an_ack_with_the_wrong_hash_is_refused_and_nothing_is_recorded() {
    let s = start(test_limits()).await;
    let target = format!("/v1/recordings/{REC_A}/segments/1/ack");
    let right = sha256_hex(&media_of(&s.fake, REC_A, 1));
    let wrong = sha256_hex(b"something else");
    let offload = |v: &Value| v["recordings"][0]["segments"][0]["offload"].clone();

    let r = s
        .send(&post(
            &target,
            &json!({"blob": "dock/a/1.ts", "sha256": wrong}).to_string(),
        ))
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("not acknowledged")
    );
    assert!(s.fake.acks.lock().unwrap().is_empty());
    assert_eq!(
        offload(&s.get("/v1/recordings").await.json()),
        wire(OffloadState::Pending)
    );

    // Malformed acknowledgements never reach the backend.
    for body in [
        json!({"blob": "x", "sha256": "abc"}),
        json!({"blob": "x", "sha256": "g".repeat(64)}),
        json!({"blob": "", "sha256": right}),
        json!({"blob": "a\nb", "sha256": right}),
        json!({"blob": "x".repeat(1025), "sha256": right}),
        json!({"sha256": right}),
        json!({"blob": "x", "sha256": right, "extra": 1}),
    ] {
        let r = s.send(&post(&target, &body.to_string())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
    }
    assert!(s.fake.acks.lock().unwrap().is_empty());

    let r = s
        .send(&post(
            &target,
            &json!({"blob": "dock/a/1.ts", "sha256": right.to_uppercase()}).to_string(),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["acknowledged"], true);
    let acks = s.fake.acks.lock().unwrap().clone();
    assert_eq!(
        acks,
        [Ack {
            recording: REC_A.into(),
            segment: 1,
            blob: "dock/a/1.ts".into(),
            sha256: right,
        }]
    );
    assert_eq!(
        offload(&s.get("/v1/recordings").await.json()),
        wire(OffloadState::Acknowledged)
    );
    s.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_413_before_the_backend() {
    let s = start(test_limits()).await;
    let big = json!({"nonce": "ab".repeat(10_000)}).to_string();
    assert!(big.len() > bodycam::dock::MAX_BODY_BYTES);
    let r = s.send(&post("/v1/head", &big)).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"].is_string());
    // The same without a Content-Length (chunked).
    let chunked = format!(
        "POST /v1/time HTTP/1.1\r\nHost: camera\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let r = s.send(chunked.as_bytes()).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(s.fake.heads.lock().unwrap().is_empty());
    assert!(s.fake.times.lock().unwrap().is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn malformed_json_and_bad_values_are_400_before_the_backend() {
    let s = start(test_limits()).await;
    for (target, body) in [
        ("/v1/head", "{\"nonce\": "),
        ("/v1/head", "not json"),
        ("/v1/head", "{\"nonce\": 12}"),
        ("/v1/head", "{\"nonce\": \"ab\", \"x\": 1}"),
        ("/v1/head", "{\"nonce\": \"xyz\"}"),
        ("/v1/head", "{\"nonce\": \"\"}"),
        ("/v1/time", "{\"utc_ms\": \"soon\"}"),
        ("/v1/time", "{\"utc_ms\": 0}"),
        ("/v1/time", "{\"utc_ms\": 99999999999999999}"),
        ("/v1/time", "[]"),
    ] {
        let r = s.send(&post(target, body)).await;
        assert_eq!(r.status, 400, "{target} {body}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    let long_nonce = json!({"nonce": "ab".repeat(65)}).to_string();
    assert_eq!(s.send(&post("/v1/head", &long_nonce)).await.status, 400);
    // JSON only as application/json.
    let no_type = "POST /v1/head HTTP/1.1\r\nHost: camera\r\nConnection: close\r\nContent-Length: 15\r\n\r\n{\"nonce\":\"ab\"}";
    assert_eq!(s.send(no_type.as_bytes()).await.status, 415);
    assert!(s.fake.heads.lock().unwrap().is_empty());
    assert!(s.fake.times.lock().unwrap().is_empty());

    // Well-formed requests reach the backend.
    let r = s.send(&post("/v1/head", "{\"nonce\": \"00ff\"}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["nonce"], "00ff");
    assert_eq!(*s.fake.heads.lock().unwrap(), [vec![0x00, 0xff]]);
    let r = s
        .send(&post("/v1/time", "{\"utc_ms\": 1795630408000}"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["offset_ms"], 1234);
    assert_eq!(*s.fake.times.lock().unwrap(), [1_795_630_408_000]);
    s.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let s = start(test_limits()).await;
    for t in ["/", "/v1", "/v2/device", "/v1/devices", "/v1/recordings/x"] {
        let r = s.get(t).await;
        assert_eq!(r.status, 404, "{t}");
        assert!(r.json()["error"].is_string(), "{t}");
    }
    let r = s.send(&post("/v1/device", "{}")).await;
    assert_eq!(r.status, 405);
    let r = s
        .get(&format!("/v1/recordings/{REC_A}/segments/1/ack"))
        .await;
    assert_eq!(r.status, 405);
    assert!(s.fake.acks.lock().unwrap().is_empty());
    s.shutdown().await;
}

#[tokio::test]
async fn silent_connections_are_dropped_so_the_dock_still_gets_in() {
    let s = start(DockLimits {
        max_connections: 2,
        handshake_timeout: Duration::from_millis(300),
        ..test_limits()
    })
    .await;
    // Two clients that connect and never start TLS take every slot ...
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(s.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // ... until the handshake deadline frees them.
    let t = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        exchange(s.addr, s.dock(), &get("/v1/device", "")),
    )
    .await
    .expect("the dock is served once the silent clients time out")
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    for mut c in silent {
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut b))
            .await
            .expect("the server closed the silent connection");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn authenticated_connections_are_bounded() {
    let s = start(DockLimits {
        max_connections: 1,
        ..test_limits()
    })
    .await;
    // One dock connection kept alive holds the only slot ...
    let mut first = tls_connect(s.addr, s.dock()).await.unwrap();
    first
        .write_all(b"GET /v1/device HTTP/1.1\r\nHost: camera\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_one_response(&mut first).await.status, 200);
    let (addr, dock) = (s.addr, s.dock());
    let mut waiting =
        tokio::spawn(async move { exchange(addr, dock, &get("/v1/device", "")).await });
    // ... so the next one, authenticated, waits for it ...
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut waiting)
            .await
            .is_err(),
        "a second connection was served beyond max_connections"
    );
    assert_eq!(*s.fake.device_calls.lock().unwrap(), 1);
    // ... until the slot is free again.
    drop(first);
    let r = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the slot is free")
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200);
    s.shutdown().await;
}

#[tokio::test]
async fn sockets_that_never_authenticate_do_not_starve_the_dock() {
    // The handshake deadline is far away: whatever is served below was not waiting for
    // the silent sockets to time out.
    let s = start(DockLimits {
        max_handshakes: 16,
        handshake_timeout: Duration::from_secs(60),
        ..test_limits()
    })
    .await;
    // 50 sockets that connect and never start TLS: more than the handshake permits.
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(s.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Every connection slot still goes to the dock: 8 downloads at once.
    let mut downloads = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (addr, dock) = (s.addr, s.dock());
        downloads.spawn(async move {
            exchange(
                addr,
                dock,
                &get(&format!("/v1/recordings/{REC_A}/segments/1/media"), ""),
            )
            .await
        });
    }
    while let Some(r) = downloads.join_next().await {
        let r = r.unwrap().expect("served while 50 silent sockets are open");
        assert_eq!(r.status, 200);
    }
    // The oldest silent sockets made way for newer ones (16 handshake permits for 58
    // sockets): they were closed long before their 60 s deadline.
    let mut closed = 0;
    for c in &mut silent {
        let mut b = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(20), c.read(&mut b)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 50 - 16,
        "only {closed} of 50 silent sockets were dropped"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let s = start(DockLimits {
        header_timeout: Duration::from_millis(300),
        ..test_limits()
    })
    .await;
    let mut c = tls_connect(s.addr, s.dock()).await.unwrap();
    c.write_all(b"GET /v1/device HTTP/1.1\r\nHost: camera\r\n")
        .await
        .unwrap();
    c.flush().await.unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "the connection stayed open");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(*s.fake.device_calls.lock().unwrap(), 0);
    s.shutdown().await;
}

#[tokio::test]
async fn the_shutdown_future_stops_the_server_cleanly() {
    let grace = Duration::from_secs(3);
    let s = start(DockLimits {
        shutdown_grace: grace,
        ..test_limits()
    })
    .await;
    // An idle keep-alive connection after one request ...
    let mut keep = tls_connect(s.addr, s.dock()).await.unwrap();
    keep.write_all(b"GET /v1/device HTTP/1.1\r\nHost: camera\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_one_response(&mut keep).await.status, 200);
    // ... and a request in flight when the shutdown comes.
    *s.fake.head_delay.lock().unwrap() = Duration::from_millis(500);
    let (addr, dock) = (s.addr, s.dock());
    let in_flight = tokio::spawn(async move {
        exchange(addr, dock, &post("/v1/head", "{\"nonce\": \"01\"}")).await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;

    let took = s.shutdown().await;
    // Not cut off: the request in flight was answered ...
    let r = in_flight
        .await
        .unwrap()
        .expect("answer to the request in flight");
    assert_eq!(r.status, 200);
    // ... and the idle connection was closed at once, not after the grace period.
    assert!(took < grace / 2, "{took:?}");
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_millis(200), keep.read(&mut buf))
        .await
        .expect("idle connection closed");
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_dock_offloads_a_signed_store_and_acks_by_the_signed_hash() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let mut b = crate::common::evidence::Builder::random(&root);
    let done = b.recording(2);
    let open = b.open_recording(1, 3);
    // The harness keeps a fake for its own checks; this server does not use it.
    let fake = Arc::new(lay_out_store(&dir.path().join("unused")));
    let backend = Arc::new(StoreBackend { root: root.clone() });
    let s = start_with(dir, fake, backend, test_limits()).await;

    let list = s.get("/v1/recordings").await.json();
    let recs = list["recordings"].as_array().unwrap();
    assert_eq!(recs.len(), 2, "{list}");
    let closed: Vec<(String, u64)> = recs
        .iter()
        .flat_map(|r| {
            r["segments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["closed"] == true)
                .map(|g| {
                    (
                        r["id"].as_str().unwrap().to_string(),
                        g["sequence"].as_u64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(closed.len() >= 3, "{closed:?}");
    assert!(closed.contains(&(open.clone(), 1)));
    let open_last = recs[1]["segments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(open_last["closed"], false, "{list}");
    let open_seq = open_last["sequence"].as_u64().unwrap();
    assert_eq!(
        s.get(&format!("/v1/recordings/{open}/segments/{open_seq}/media"))
            .await
            .status,
        409
    );

    // Download every closed segment, hash it, acknowledge it; a wrong hash first.
    for (rec, seq) in &closed {
        let media = s
            .get(&format!("/v1/recordings/{rec}/segments/{seq}/media"))
            .await;
        assert_eq!(media.status, 200);
        assert_eq!(
            media.body,
            std::fs::read(crate::common::evidence::seg(&root, rec, *seq as u32, "ts")).unwrap()
        );
        let target = format!("/v1/recordings/{rec}/segments/{seq}/ack");
        let ack_file = root.join(format!("recordings/{rec}/{seq:06}.ack"));
        let wrong = json!({"blob": format!("{rec}/{seq}"), "sha256": sha256_hex(b"not it")});
        let r = s.send(&post(&target, &wrong.to_string())).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(
            !ack_file.exists(),
            "a refused acknowledgement left {ack_file:?}"
        );
        let right = json!({"blob": format!("{rec}/{seq}"), "sha256": sha256_hex(&media.body)});
        let r = s.send(&post(&target, &right.to_string())).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(ack_file.exists());
    }
    let list = s.get("/v1/recordings").await.json();
    for r in list["recordings"].as_array().unwrap() {
        for g in r["segments"].as_array().unwrap() {
            let want = if g["closed"] == true {
                wire(OffloadState::Acknowledged)
            } else {
                wire(OffloadState::Pending)
            };
            assert_eq!(g["offload"], want, "{g}");
        }
    }

    // Once the camera frees acknowledged media, the segment stays listed (journal and
    // sidecar remain) and its media is gone.
    let freed = offload::reclaimable(&root.join("recordings")).unwrap();
    assert_eq!(freed.len(), closed.len());
    offload::free(&freed[0]).unwrap();
    let (rec, seq) = (&freed[0].recording, freed[0].segment);
    assert_eq!(rec, &done);
    assert_eq!(
        s.get(&format!("/v1/recordings/{rec}/segments/{seq}/media"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.get(&format!("/v1/recordings/{rec}/segments/{seq}/journal"))
            .await
            .status,
        200
    );
    let list = s.get("/v1/recordings").await.json();
    let g = &list["recordings"][0]["segments"][0];
    assert_eq!(g["bytes"], Value::Null, "{g}");
    assert_eq!(g["offload"], wire(OffloadState::Acknowledged));
    s.shutdown().await;
    drop(b);
}

#[test]
fn dock_server_runs_on_its_own_thread_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dev_pki(&dir.path().join("pki"), &names()).unwrap();
    let fake = Arc::new(lay_out_store(dir.path()));
    let tls = server_tls(&pki.camera_cert, &pki.camera_key, &pki.ca_cert).unwrap();
    let server = DockServer::start(
        "127.0.0.1:0".parse().unwrap(),
        tls,
        fake.clone(),
        test_limits(),
    )
    .unwrap();
    let addr = server.local_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = client(&pki.ca_cert, Some((&pki.dock_cert, &pki.dock_key)));
    let r = rt
        .block_on(exchange(addr, cfg, &get("/v1/device", "")))
        .unwrap();
    assert_eq!(r.status, 200);
    server.stop().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}
