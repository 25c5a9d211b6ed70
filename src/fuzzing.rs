//! Entry points of the fuzz targets (`fuzz/`, docs/FUZZING.md): one function per
//! target, taking arbitrary bytes. Each runs the input through the parser the way the
//! firmware, the verifier or the dock agent reads such bytes, and checks what must hold
//! whatever the input; it panics only when one of those properties fails (or the code
//! under test panics, which is the bug a fuzzer looks for).
//!
//! The fuzz targets call these functions; `tests/integration/fuzz_corpus.rs` replays
//! every saved input of `fuzz/corpus/<target>/` through the same ones in the normal test
//! suite, so the corpora are checked without a fuzzer.
//!
//! Inputs that need files are written below a scratch directory of the process
//! (`$TMPDIR/bodycam-fuzz-<pid>-<thread>/`). Signed inputs use the committed golden test
//! key (`tests/data/golden/test-key.pk8`), so the golden vectors are valid seeds. Nothing
//! here is used by the daemon, `verify` or the dock agent.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::dock::wire::{AckReply, ErrorBody, TimeReply};
use crate::evidence::events::AuditEvent;
use crate::evidence::identity::{Identity, PublicIdentity, device_id_for};
use crate::evidence::payload::{self, Payload};
use crate::evidence::record::{self, Writer};
use crate::evidence::verify::{self, Status, VerifyOptions};
use crate::evidence::{ChainHead, FixedTime, Signer, scan};
use crate::flash::RealFlash;
use crate::layout::{self, SegmentFile};

/// The recording of the golden store; the recovery target writes its segment there so
/// that golden journals are valid seeds.
pub const GOLDEN_RECORDING: &str = "20260101T000000Z";

/// The golden vectors, in the source tree.
fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

/// The golden test key (a public test key that signs nothing but test vectors).
fn golden_key() -> &'static Identity {
    static KEY: OnceLock<Identity> = OnceLock::new();
    KEY.get_or_init(|| {
        let path = golden_dir().join("test-key.pk8");
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("fuzz setup: {}: {e}", path.display()));
        Identity::from_pkcs8(&bytes).expect("fuzz setup: golden test key")
    })
}

fn golden_public() -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(golden_key().public_key());
    k
}

/// A fresh, empty scratch directory `name` of this process and thread.
fn scratch(name: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    let dir = std::env::temp_dir().join(format!(
        "bodycam-fuzz-{}-{thread}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("fuzz setup: scratch directory");
    dir
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("fuzz setup: directory");
    }
    std::fs::write(path, bytes).expect("fuzz setup: write");
}

/// A signer with the golden key whose chains stand at `media` and `audit`.
fn signer(media: ChainHead, audit: ChainHead) -> Signer {
    let bytes = std::fs::read(golden_dir().join("test-key.pk8")).expect("fuzz setup: key");
    Signer::new(
        Identity::from_pkcs8(&bytes).expect("fuzz setup: key"),
        Box::new(FixedTime {
            utc_ms: 1_767_225_600_000,
            mono_ns: 1_000_000_000,
        }),
        [0x11; 16],
        media,
        audit,
    )
}

// ---------------------------------------------------------------------------------------
// ts_scan

/// `ts::scan` over any bytes: every byte is accounted for, counts only grow with the
/// input, and a keyframe offset lies inside the whole packets.
pub fn ts_scan(data: &[u8]) {
    use crate::ts::{TS_PACKET, scan};
    let s = scan(data);
    assert_eq!(s.whole_packets_bytes + s.trailing_bytes, data.len() as u64);
    assert_eq!(s.whole_packets_bytes % TS_PACKET as u64, 0);
    assert!(s.keyframes <= s.video_frames);
    if let Some(o) = s.last_keyframe_offset {
        assert!(o + TS_PACKET as u64 <= s.whole_packets_bytes);
    }
    assert_eq!(s.first_video_pts.is_some(), s.video_frames > 0);
    assert_eq!(s.first_audio_pts.is_some(), s.audio_frames > 0);
    // A prefix cut at a packet boundary holds no more than the whole.
    let cut = data.len() / 2 / TS_PACKET * TS_PACKET;
    let p = scan(&data[..cut]);
    assert!(p.video_frames <= s.video_frames && p.audio_frames <= s.audio_frames);
    assert!(p.keyframes <= s.keyframes);
    assert!(p.whole_packets_bytes <= s.whole_packets_bytes);
}

// ---------------------------------------------------------------------------------------
// journal

/// Records as the verifier, recovery and the dock agent split and decode them: the
/// split accounts for every byte, each decoded record re-encodes to exactly its body
/// (one encoding per record), and the dock agent's journal check agrees with a
/// signature check of every record.
pub fn journal(data: &[u8]) {
    let key = golden_public();
    let (raws, err) = record::parse_all(data);
    let whole: usize = raws.iter().map(|r| r.bytes.len()).sum();
    match &err {
        None => assert_eq!(whole, data.len()),
        Some((pos, _)) => assert_eq!(*pos, whole),
    }
    let mut all_signed = err.is_none() && !raws.is_empty();
    for raw in raws {
        assert_eq!(
            raw.bytes.len(),
            8 + raw.body().len() + record::SIG_LEN,
            "record length"
        );
        let signed = raw.verify(&key);
        match payload::decode(raw) {
            Ok(rec) => {
                let mut w = Writer::new(&rec.header);
                rec.payload.encode(&mut w);
                // The writer writes the current version; a decoded v1 record differs in
                // that byte only.
                let (encoded, body) = (w.finish(), rec.raw.body());
                assert!((record::MIN_VERSION..=record::VERSION).contains(&body[0]));
                assert_eq!(encoded[1..], body[1..], "decode/encode is not one-to-one");
                all_signed &= signed;
            }
            Err(_) => all_signed = false,
        }
    }
    let (decoded, derr) = payload::decode_file(data);
    assert!(decoded.len() <= whole / (8 + record::SIG_LEN).max(1) + 1);
    if err.is_some() {
        assert!(derr.is_some());
    }
    if let Ok(span) = verify::journal::journal_span(data, &key) {
        assert!(
            all_signed,
            "journal_span accepted a record that is not signed"
        );
        assert!(span.first_counter <= span.last_counter);
    }
    // A head statement's `record` field is hex of one record.
    let _ = payload::decode_hex(&String::from_utf8_lossy(data));
    let _ = payload::decode_hex(&hex::encode(data));
}

// ---------------------------------------------------------------------------------------
// audit_log

/// An audit log as the verifier checks it (whole-log report) and as the daemon reads its
/// own at boot (`evidence::scan`): no panic, the counts agree, a passing log has every
/// entry verified, and every event the firmware can read round-trips through its own
/// encoding.
pub fn audit_log(data: &[u8]) {
    let root = scratch("audit");
    let path = layout::audit_path(&root);
    write(&path, data);
    let report = verify::verify_audit_log(&golden_public(), &path);
    assert!(report.verified <= report.entries);
    if report.status.passes() {
        assert_eq!(report.verified, report.entries, "{report:?}");
    }
    let found = scan::scan(&RealFlash, &root).expect("scan of a readable store");
    let device = hex::encode(golden_key().device_id());
    let (_, audit) = found.heads_for(&device);
    // A signed chain that verifies is where the daemon continues it.
    if report.status == Status::Ok && report.entries > 0 {
        assert_eq!(audit.count, report.last_counter.map_or(0, |c| c + 1));
    }
    let (records, _) = payload::decode_file(data);
    for r in records {
        if let Payload::Audit(a) = &r.payload
            && let Ok(event) = AuditEvent::parse(&a.event, &a.detail)
        {
            assert_eq!(event.name(), a.event);
            assert_eq!(
                AuditEvent::parse(event.name(), &event.detail_json()),
                Ok(event),
                "audit event does not round-trip"
            );
        }
    }
    // Event and detail as separate strings (the dock agent and tests read them so).
    if let Some(split) = data.iter().position(|&b| b == 0) {
        let event = String::from_utf8_lossy(&data[..split]);
        let detail = String::from_utf8_lossy(&data[split + 1..]);
        if let Ok(e) = AuditEvent::parse(&event, &detail) {
            assert!(e.detail_json().starts_with('{'));
        }
    }
}

// ---------------------------------------------------------------------------------------
// recovery

/// Recovery at boot over an open segment, then the verifier over the result.
///
/// Input: `seq` (1 byte: segment 1 or 2 of [`GOLDEN_RECORDING`]), the journal's length
/// (2 bytes, big-endian), the journal, the media. Recovery must never change a media
/// byte, may cut only a torn record off the journal's end and append one recovery
/// record; and a segment that verified as merely OPEN (or OPEN with a torn journal
/// tail) before must verify afterwards.
pub fn recovery(data: &[u8]) {
    let (Some(&sel), Some(len)) = (data.first(), data.get(1..3)) else {
        return;
    };
    let seq = u32::from(sel % 2) + 1;
    let jlen = usize::from(u16::from_be_bytes([len[0], len[1]])).min(data.len() - 3);
    let (journal, media) = data[3..].split_at(jlen);
    let root = scratch("recovery");
    let dir = layout::recordings_dir(&root).join(GOLDEN_RECORDING);
    let media_path = SegmentFile::Media.path(&dir, seq);
    let journal_path = SegmentFile::Journal.path(&dir, seq);
    write(&media_path, media);
    write(&journal_path, journal);
    let key_hex = hex::encode(golden_public());
    let opts = VerifyOptions {
        path: media_path.clone(),
        key_hex: Some(key_hex),
        ..VerifyOptions::default()
    };
    let before = verify::verify(&opts).expect("verify a segment");
    let honest_open = !before.ok
        && before.chain.problems.is_empty()
        && before.errors.is_empty()
        && before.segments.iter().all(|s| {
            s.findings.iter().all(|f| {
                f.status == Status::Open
                    || (f.status == Status::Truncated
                        && f.check == verify::Check::Parse
                        && s.records > 0)
            })
        });

    let found = scan::scan(&RealFlash, &root).expect("scan");
    let device = hex::encode(golden_key().device_id());
    let (media_head, audit_head) = found.heads_for(&device);
    let mut signer = signer(media_head, audit_head);
    let cfg = crate::config::StorageConfig {
        path: root.clone(),
        reserve_hours: 0.0,
        max_bytes: None,
        delete_after_ack: false,
    };
    let mut store =
        crate::store::Store::open(&cfg, 50_000.0, Arc::new(RealFlash)).expect("open store");
    let recovered = store.recover(&mut signer);

    let media_after = std::fs::read(&media_path).expect("media is still there");
    assert_eq!(media_after, media, "recovery changed media bytes");
    let journal_after = std::fs::read(&journal_path).unwrap_or_default();
    match &recovered {
        Ok(r) if r.is_empty() => assert_eq!(journal_after, journal, "journal changed"),
        Ok(r) => {
            let torn = r[0].journal_torn_bytes as usize;
            assert!(torn <= journal.len());
            let kept = &journal[..journal.len() - torn];
            assert!(
                journal_after.starts_with(kept),
                "recovery rewrote the journal"
            );
            let (added, err) = record::parse_all(&journal_after[kept.len()..]);
            assert!(
                err.is_none() && added.len() == 1,
                "recovery appended {added:?}"
            );
        }
        Err(_) => {}
    }
    let after = verify::verify(&opts).expect("verify a segment");
    if honest_open {
        assert!(
            recovered.is_ok() && after.ok,
            "an honest open segment did not verify after recovery: before {:?}, after {:?}",
            before.failures,
            after.failures
        );
        assert!(
            after
                .segments
                .iter()
                .all(|s| s.status == Status::RecoveredTail),
            "{:?}",
            after.segments
        );
    }
}

// ---------------------------------------------------------------------------------------
// identity

/// Identity and key files: `keys/identity.json` / `--identity` (the public identity),
/// `keys/device.pk8` (PKCS#8), and `--key` (64 hex digits). An accepted identity's device
/// id is its key's; an accepted key pair signs what its public key verifies.
pub fn identity(data: &[u8]) {
    let dir = scratch("identity");
    let id_path = dir.join(layout::IDENTITY_FILE);
    write(&id_path, data);
    if let Ok(id) = PublicIdentity::load(&id_path) {
        let key = id.public_key_bytes().expect("accepted identity has a key");
        assert_eq!(hex::encode(device_id_for(&key)), id.device_id);
    }
    if let Ok(id) = serde_json::from_slice::<PublicIdentity>(data) {
        let _ = id.public_key_bytes();
    }
    let key_path = dir.join(layout::KEY_FILE);
    write(&key_path, data);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
            .expect("fuzz setup: chmod");
    }
    let loaded = Identity::load(&dir);
    let in_memory = Identity::from_pkcs8(data);
    assert_eq!(loaded.is_ok(), in_memory.is_ok());
    if let Ok(id) = in_memory {
        assert_eq!(id.device_id(), device_id_for(id.public_key()));
        let public = id.public();
        assert_eq!(
            public.public_key_bytes().map(|k| k.to_vec()),
            Some(id.public_key().to_vec())
        );
        let body = b"fuzz";
        let rec = record::seal(id.key(), body);
        let raw = record::parse(&rec).expect("sealed record parses");
        assert!(raw.verify(id.public_key()));
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(k) = verify::parse_key_hex(&text) {
        assert_eq!(hex::encode(k), text.trim().to_ascii_lowercase());
    }
}

// ---------------------------------------------------------------------------------------
// config

/// The camera's configuration (and, with the dock agent, the agent's): parse, validate
/// and derive without panicking.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = crate::config::Config::parse(text)
        && c.validate().is_ok()
    {
        let _ = c.digest();
        let _ = c.key_dir();
        let _ = c.socket_path();
        assert!(c.footage_bytes_per_second() >= 0.0);
    }
    #[cfg(feature = "dock-agent")]
    {
        let dir = scratch("agent-config");
        let path = dir.join("dock-agent.toml");
        write(&path, data);
        if let Ok(c) = crate::agent::config::AgentConfig::load(&path) {
            let _ = c.enrolled_devices();
            let _ = c.dock_name();
        }
    }
}

// ---------------------------------------------------------------------------------------
// dock_api

/// A dock backend over a copy of the golden store, built on `store::offload` the way
/// the daemon's is; heads are signed with the golden key.
struct FuzzDock {
    root: PathBuf,
    signer: Mutex<Signer>,
}

impl crate::dock::DockBackend for FuzzDock {
    fn device_info(&self) -> crate::dock::wire::DeviceInfo {
        use crate::dock::wire::{ClockInfo, DeviceInfo, StorageInfo};
        let id = golden_key().public();
        DeviceInfo {
            device_id: id.device_id,
            public_key: id.public_key,
            firmware: env!("CARGO_PKG_VERSION").into(),
            clock: ClockInfo {
                utc: "2026-01-01T00:00:00.000Z".into(),
                synchronised: true,
            },
            storage: StorageInfo {
                used_bytes: 1,
                available_bytes: 1,
                hours_left: None,
            },
            state: "docked".into(),
            officer: None,
        }
    }

    fn head(
        &self,
        nonce: &[u8],
    ) -> Result<crate::evidence::head::HeadStatement, crate::dock::DockError> {
        let s = self.signer.lock().unwrap_or_else(|e| e.into_inner());
        let utc = chrono::DateTime::from_timestamp_millis(1_767_225_600_000).unwrap_or_default();
        Ok(crate::evidence::head::HeadStatement::sign(&s, nonce, utc))
    }

    fn acknowledge(&self, ack: &crate::dock::Ack) -> Result<AckReply, crate::dock::DockError> {
        crate::store::offload::acknowledge(
            &RealFlash,
            &layout::recordings_dir(&self.root),
            &ack.recording,
            ack.segment,
            &ack.blob,
            &ack.sha256,
            "2026-01-01T00:00:00Z",
        )
        .map(|r| AckReply {
            acknowledged: true,
            recording_id: r.recording_id,
            segment: r.segment,
            sha256: r.sha256,
            freed: false,
        })
        .map_err(|e| crate::dock::DockError::from_ack(ack, e))
    }

    fn set_time(&self, utc_ms: i64) -> Result<TimeReply, crate::dock::DockError> {
        Ok(TimeReply {
            offset_ms: utc_ms.saturating_sub(1_767_225_600_000),
            applied: false,
            error: Some("not in the fuzz backend".into()),
        })
    }

    fn store_root(&self) -> PathBuf {
        self.root.clone()
    }

    fn segment_closed(&self, recording: &str, segment: u32) -> bool {
        let dir = layout::recordings_dir(&self.root).join(recording);
        crate::store::offload::signed_hash(&dir, segment).is_ok_and(|h| h.is_some())
    }

    fn offload_state(&self, recording: &str, segment: u32) -> crate::dock::wire::OffloadState {
        let dir = layout::recordings_dir(&self.root).join(recording);
        if crate::store::offload::is_acknowledged(&dir, segment) {
            crate::dock::wire::OffloadState::Acknowledged
        } else {
            crate::dock::wire::OffloadState::Pending
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("fuzz setup: copy");
    for e in std::fs::read_dir(from).expect("fuzz setup: copy").flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("fuzz setup: copy");
        }
    }
}

struct DockHarness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn dock_harness() -> &'static DockHarness {
    static H: OnceLock<DockHarness> = OnceLock::new();
    H.get_or_init(|| {
        let root = scratch("dock");
        copy_tree(&golden_dir().join("store"), &root);
        let backend = FuzzDock {
            root,
            signer: Mutex::new(signer(ChainHead::default(), ChainHead::default())),
        };
        let limits = crate::dock::DockLimits::default();
        DockHarness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fuzz setup: runtime"),
            router: crate::dock::router(Arc::new(backend), &limits),
        }
    })
}

/// Percent-encode every byte that is not unreserved, so that any bytes reach the
/// router's path extractor as they are.
fn percent(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// One request to the dock API router (through `tower::ServiceExt::oneshot`, without
/// TLS or sockets).
///
/// Input: a route selector, a flags byte (JSON content type, a Range header), then the
/// recording id, the sequence and the body separated by `\n` (ids percent-encoded into
/// the path, so any bytes reach the extractor). Every answer is a JSON error body or a
/// success; nothing is a 500, and files are served only for valid ids of the store.
pub fn dock_api(data: &[u8]) {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;
    let (Some(&route), Some(&flags)) = (data.first(), data.get(1)) else {
        return;
    };
    let rest = &data[2..];
    let mut parts = rest.splitn(3, |&b| b == b'\n');
    let rec = parts.next().unwrap_or_default();
    let seq = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default().to_vec();
    let seg = |what: &str| {
        format!(
            "/v1/recordings/{}/segments/{}/{what}",
            percent(rec),
            percent(seq)
        )
    };
    let (method, path) = match route % 10 {
        0 => ("GET", "/v1/device".to_string()),
        1 => ("POST", "/v1/head".to_string()),
        2 => ("GET", "/v1/recordings".to_string()),
        3 => ("GET", seg("media")),
        4 => ("GET", seg("journal")),
        5 => ("GET", seg("meta")),
        6 => ("POST", seg("ack")),
        7 => ("GET", "/v1/audit".to_string()),
        8 => ("POST", "/v1/time".to_string()),
        _ => (
            if flags & 4 != 0 { "POST" } else { "GET" },
            format!("/{}", percent(rec)),
        ),
    };
    let mut req = Request::builder().method(method).uri(&path);
    if flags & 1 != 0 {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    if flags & 2 != 0 {
        req = req.header(header::RANGE, String::from_utf8_lossy(seq).into_owned());
    }
    let Ok(req) = req.body(Body::from(body)) else {
        return;
    };
    let h = dock_harness();
    let (status, bytes) = h.runtime.block_on(async {
        let resp = h
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap_or_default();
        (status, bytes)
    });
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {path}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if status.is_client_error() && status != StatusCode::RANGE_NOT_SATISFIABLE {
        assert!(
            serde_json::from_slice::<ErrorBody>(&bytes).is_ok(),
            "{method} {path}: {status} without a JSON error: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    if status.is_success() && (3..=5).contains(&(route % 10)) {
        let rec = String::from_utf8_lossy(rec);
        assert!(
            layout::RecordingId::parse(&rec).is_some()
                && layout::parse_sequence(&String::from_utf8_lossy(seq)).is_some(),
            "served a file for {path}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// agent_answers

/// The dock agent's reading of a camera's answers: each `dock::wire` answer type, the
/// listing put in chain order with its ids validated, and a head statement checked
/// against the enrolled (golden) key and a fixed nonce.
///
/// Input: a selector byte, then the answer body.
#[cfg(feature = "dock-agent")]
pub fn agent_answers(data: &[u8]) {
    use crate::dock::wire::{DeviceInfo, Listing};
    use crate::evidence::head::HeadStatement;
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    match sel % 6 {
        0 => {
            let _ = serde_json::from_slice::<DeviceInfo>(body);
        }
        1 => {
            if let Ok(l) = serde_json::from_slice::<Listing>(body) {
                let total: usize = l.recordings.iter().map(|r| r.segments.len()).sum();
                if let Ok(segments) = crate::agent::offload::ordered_segments(l.recordings) {
                    assert_eq!(segments.len(), total);
                    assert!(
                        segments
                            .windows(2)
                            .all(|w| (&w[0].0, w[0].1.sequence) <= (&w[1].0, w[1].1.sequence))
                    );
                    let _ = crate::agent::offload::pending_bytes(&segments);
                }
            }
        }
        2 => {
            if let Ok(h) = serde_json::from_slice::<HeadStatement>(body) {
                let device = crate::agent::offload::Device {
                    id: hex::encode(golden_key().device_id()),
                    key: golden_public(),
                };
                let nonce = [0x42u8; 16];
                if crate::agent::offload::check_head(&h, &nonce, &device).is_ok() {
                    let rec = payload::decode_hex(&h.record).expect("accepted head decodes");
                    assert!(rec.raw.verify(&device.key));
                }
            }
        }
        3 => {
            let _ = serde_json::from_slice::<AckReply>(body);
        }
        4 => {
            let _ = serde_json::from_slice::<TimeReply>(body);
        }
        _ => {
            let _ = serde_json::from_slice::<ErrorBody>(body);
        }
    }
}
