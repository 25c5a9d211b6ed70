//! Crash consistency in the spirit of redb's crash test: the store writes through a
//! flash double that keeps what was *written* apart from what a completed sync made
//! *durable*. For every sync point N, the power is cut right after sync N: the durable
//! image (optionally with a torn, partly persisted tail of unsynced writes) is laid out
//! on a real directory, the daemon's start-up path (scan → recovery) runs on it, and
//! `bodycam verify` must accept it with nothing that was signed and durable lost.
//!
//! The same double fails every fsync on demand: the store must latch on the first error
//! and take writes again only once a probe write and fsync succeed.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use bodycam::clock::TimeRef;
use bodycam::config::StorageConfig;
use bodycam::evidence::audit::AuditLog;
use bodycam::evidence::events::AuditEvent;
use bodycam::evidence::identity::Identity;
use bodycam::evidence::payload::{Payload, decode_file};
use bodycam::evidence::sidecar::{CaptureInfo, EndReason};
use bodycam::evidence::{ChainHead, Signer, SystemTime, boot_id, scan};
use bodycam::flash::{Flash, FlashFile, RealFlash};
use bodycam::media::{Frame, StreamKind};
use bodycam::store::recording::{NewRecording, Offer};
use bodycam::store::{Store, StoreError};

use bodycam::confidential::sealing::Footage;

use crate::common::BIN;
#[cfg(feature = "examiner")]
use crate::common::footage::{footage_key, open_segment};

#[derive(Debug, Default, Clone)]
struct FileImage {
    written: Vec<u8>,
    durable: Vec<u8>,
    /// Bytes set aside past the end (`FlashFile::reserve`); no effect on the images.
    reserved: u64,
}

#[derive(Debug, Default)]
struct Disk {
    files: BTreeMap<PathBuf, FileImage>,
    dirs: Vec<PathBuf>,
    syncs: u64,
    /// Durability stops after this many syncs (None = never).
    freeze_after: Option<u64>,
    /// The power goes during the first sync that does not complete: nothing written
    /// after it was issued reaches the disk at all (what the writer did after a sync
    /// returned never happened). Without it, later writes may persist torn too.
    die_at_freeze: bool,
    /// Set once the power has gone (with `die_at_freeze`).
    dead: bool,
    /// Every sync fails with EIO (and makes nothing durable) while set.
    failing: bool,
    /// Temporary files set aside for atomic replacements, and their size.
    reserved_atomic: BTreeMap<PathBuf, u64>,
}

impl Disk {
    /// One sync point; returns whether it makes anything durable.
    fn sync_point(&mut self) -> bool {
        self.syncs += 1;
        let ok = self.freeze_after.is_none_or(|n| self.syncs <= n);
        if !ok && self.die_at_freeze {
            self.dead = true;
        }
        ok
    }

    /// A sync that fails while the disk is failing.
    fn checked_sync(&mut self) -> io::Result<bool> {
        if self.failing {
            self.syncs += 1;
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(self.sync_point())
    }
}

#[derive(Debug, Clone, Default)]
struct CrashFlash(Arc<Mutex<Disk>>);

#[derive(Debug)]
struct CrashFile {
    disk: Arc<Mutex<Disk>>,
    path: PathBuf,
}

impl FlashFile for CrashFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut d = self.disk.lock().unwrap();
        if d.dead {
            return Ok(());
        }
        d.files
            .get_mut(&self.path)
            .ok_or_else(|| io::Error::other("file vanished"))?
            .written
            .extend_from_slice(buf);
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        let mut d = self.disk.lock().unwrap();
        if d.checked_sync()? {
            let f = d.files.get_mut(&self.path).unwrap();
            f.durable = f.written.clone();
        }
        Ok(())
    }
    fn file_len(&self) -> io::Result<u64> {
        let d = self.disk.lock().unwrap();
        Ok(d.files
            .get(&self.path)
            .map_or(0, |f| f.written.len() as u64))
    }
    fn reserve(&mut self, bytes: u64) -> io::Result<()> {
        let mut d = self.disk.lock().unwrap();
        if d.dead {
            return Ok(());
        }
        let f = d.files.get_mut(&self.path).ok_or(io::ErrorKind::NotFound)?;
        f.reserved = f.reserved.max(bytes);
        Ok(())
    }
    fn release_reserve(&mut self) -> io::Result<()> {
        let mut d = self.disk.lock().unwrap();
        if let Some(f) = d.files.get_mut(&self.path) {
            f.reserved = 0;
        }
        Ok(())
    }
}

impl Flash for CrashFlash {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn FlashFile>> {
        let mut d = self.0.lock().unwrap();
        if d.files.contains_key(path) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        // The real implementation fsyncs the directory: the empty file is durable.
        d.sync_point();
        if !d.dead {
            d.files.insert(path.to_path_buf(), FileImage::default());
        }
        Ok(Box::new(CrashFile {
            disk: self.0.clone(),
            path: path.to_path_buf(),
        }))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn FlashFile>> {
        let mut d = self.0.lock().unwrap();
        if !d.files.contains_key(path) {
            d.sync_point();
            if !d.dead {
                d.files.insert(path.to_path_buf(), FileImage::default());
            }
        }
        Ok(Box::new(CrashFile {
            disk: self.0.clone(),
            path: path.to_path_buf(),
        }))
    }
    fn truncate_torn(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut d = self.0.lock().unwrap();
        let durable = d.sync_point();
        if d.dead {
            return Ok(());
        }
        let f = d.files.get_mut(path).ok_or(io::ErrorKind::NotFound)?;
        f.written.truncate(len as usize);
        if durable {
            f.durable = f.written.clone();
        }
        Ok(())
    }
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut d = self.0.lock().unwrap();
        // temp file fsync, then rename + directory fsync: durable only if both syncs land.
        let first = d.checked_sync()?;
        let second = d.checked_sync()?;
        d.reserved_atomic.remove(&bodycam::layout::tmp_path(path));
        if d.dead {
            return Ok(());
        }
        let f = d.files.entry(path.to_path_buf()).or_default();
        if first && second {
            f.written = bytes.to_vec();
            f.durable = bytes.to_vec();
        }
        // Otherwise the new content only ever existed in the temporary file, which the
        // power cut takes with it: the file keeps its old content, never a prefix of the new.
        Ok(())
    }
    fn create_dir_durable(&self, path: &Path) -> io::Result<()> {
        let mut d = self.0.lock().unwrap();
        d.sync_point();
        if !d.dead {
            d.dirs.push(path.to_path_buf());
        }
        Ok(())
    }
    fn reserve_atomic(&self, path: &Path, bytes: u64) -> io::Result<()> {
        let mut d = self.0.lock().unwrap();
        // The temporary file is created and fsynced: one sync point.
        d.checked_sync()?;
        d.reserved_atomic
            .insert(bodycam::layout::tmp_path(path), bytes);
        Ok(())
    }
    fn probe(&self, _dir: &Path) -> io::Result<()> {
        let mut d = self.0.lock().unwrap();
        d.checked_sync().map(|_| ())
    }
    fn available_bytes(&self, _path: &Path) -> io::Result<u64> {
        Ok(1 << 40)
    }
}

impl CrashFlash {
    /// From now on every sync fails (`true`), or works again (`false`).
    fn fail_syncs(&self, failing: bool) {
        self.0.lock().unwrap().failing = failing;
    }
}

fn frames(start: u64) -> Vec<Frame> {
    // 10 fps video with a keyframe every 10 frames, AAC-like audio every 21.3 ms.
    let mut out = Vec::new();
    let mut seed = 0x1234_5678u32;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut audio_t = start;
    for i in 0..45u64 {
        let t = start + i * 100_000_000;
        while audio_t < t {
            let n = 150 + (rnd() % 60) as usize;
            out.push(Frame {
                kind: StreamKind::Audio,
                pts_ns: audio_t,
                dts_ns: audio_t,
                duration_ns: 21_333_333,
                keyframe: false,
                data: (0..n).map(|_| rnd() as u8).collect(),
            });
            audio_t += 21_333_333;
        }
        let n = if i % 10 == 0 {
            3000
        } else {
            400 + (rnd() % 800) as usize
        };
        out.push(Frame {
            kind: StreamKind::Video,
            pts_ns: t,
            dts_ns: t,
            duration_ns: 100_000_000,
            keyframe: i % 10 == 0,
            data: (0..n).map(|_| rnd() as u8).collect(),
        });
    }
    out
}

fn capture() -> CaptureInfo {
    CaptureInfo {
        source: "simulated".into(),
        encoder: "x264enc".into(),
        width: 160,
        height: 120,
        framerate: 10,
        audio: true,
    }
}

fn plan() -> NewRecording {
    NewRecording {
        trigger: "ctl".into(),
        pre_event: (0, false),
        segment_ns: 1_500_000_000,
        capture: capture(),
        officer: None,
        pre_event_silence: None,
    }
}

/// Record one recording of three segments through `flash` (encrypted to `recipient`
/// when given).
fn workload(root: &Path, flash: Arc<dyn Flash>, key_dir: &Path, recipient: Option<&Path>) {
    let cfg = StorageConfig {
        path: root.to_path_buf(),
        reserve_hours: 0.0,
        max_bytes: None,
        delete_after_ack: false,
    };
    let mut store = Store::open(&cfg, 100_000.0, flash.clone()).unwrap();
    let identity = Identity::load(key_dir).unwrap();
    let mut signer = Signer::new(
        identity,
        Box::new(SystemTime),
        boot_id(),
        ChainHead::default(),
        ChainHead::default(),
    );
    if let Some(r) = recipient {
        *signer.footage_mut() = Footage::required(vec![r.to_path_buf()]).unwrap();
    }
    let mut audit = AuditLog::open(flash.as_ref(), &store.audit_path()).unwrap();
    let boot = AuditEvent::Boot {
        firmware: "test".into(),
        config_sha256: "00".into(),
        device_id: hex::encode(signer.identity().device_id()),
        media_chain_count: 0,
        clock_synchronised: false,
    };
    audit.append(&mut signer, &boot).unwrap();
    let time = TimeRef::now();
    let mut rec = store.new_recording(&time, plan()).unwrap();
    let start = AuditEvent::RecordingStart {
        recording_id: rec.id().to_string(),
        trigger: "ctl".into(),
        pre_event_seconds: 0.0,
        pre_event_audio: false,
        officer: None,
    };
    audit.append(&mut signer, &start).unwrap();
    for f in frames(time.mono_ns) {
        rec.offer(flash.as_ref(), &f, u64::MAX, &time, &mut signer)
            .unwrap();
    }
    rec.close_segment(flash.as_ref(), EndReason::Stopped, &time, &mut signer)
        .unwrap();
    audit.append(&mut signer, &AuditEvent::Shutdown {}).unwrap();
}

/// Lay the durable image (plus `torn` bytes of each file's unsynced tail) on disk.
fn materialise(disk: &Disk, torn: usize) {
    for d in &disk.dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    for (path, f) in &disk.files {
        let mut bytes = f.durable.clone();
        if f.written.starts_with(&f.durable) {
            let extra = &f.written[f.durable.len()..];
            bytes.extend_from_slice(&extra[..extra.len().min(torn)]);
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// Every checkpoint record durable in `disk`, as (journal path, record bytes).
fn durable_checkpoints(disk: &Disk) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for (path, f) in &disk.files {
        if path.extension().is_some_and(|e| e == "journal") {
            for r in decode_file(&f.durable).0 {
                if matches!(r.payload, Payload::Checkpoint(_)) {
                    out.push((path.clone(), r.raw.bytes.clone()));
                }
            }
        }
    }
    out
}

/// The agency key pair of an encrypted run: (private key file, recipient file).
type Footage2 = Option<(PathBuf, PathBuf)>;

fn run_point(freeze: Option<u64>, torn: usize, base: &Path, key_dir: &Path, key_hex: &str) -> u64 {
    run_point_with(freeze, torn, base, key_dir, key_hex, &None)
}

fn run_point_with(
    freeze: Option<u64>,
    torn: usize,
    base: &Path,
    key_dir: &Path,
    key_hex: &str,
    footage: &Footage2,
) -> u64 {
    let root = base.join(format!(
        "n{}-t{torn}{}",
        freeze.map_or(-1, |n| n as i64),
        if footage.is_some() { "-sealed" } else { "" }
    ));
    // The store measures existing footage on the real filesystem: start from an empty
    // directory there; everything else goes through the double.
    std::fs::create_dir_all(&root).unwrap();
    let flash = CrashFlash::default();
    flash.0.lock().unwrap().freeze_after = freeze;
    // Encrypted media depends on its keys record being durable first, which holds only
    // if what follows a sync that never returned never happens.
    flash.0.lock().unwrap().die_at_freeze = footage.is_some();
    workload(
        &root,
        Arc::new(flash.clone()),
        key_dir,
        footage.as_ref().map(|(_, p)| p.as_path()),
    );
    let disk = flash.0.lock().unwrap();
    materialise(&disk, torn);
    let signed = durable_checkpoints(&disk);

    // Start-up path of the daemon, on the real filesystem.
    let found = scan::scan(&RealFlash, &root).unwrap();
    let identity = Identity::load(key_dir).unwrap();
    let (media, audit) = found.heads_for(&hex::encode(identity.device_id()));
    let mut signer = Signer::new(identity, Box::new(SystemTime), boot_id(), media, audit);
    let cfg = StorageConfig {
        path: root.clone(),
        reserve_hours: 0.0,
        max_bytes: None,
        delete_after_ack: false,
    };
    let mut store = Store::open(&cfg, 100_000.0, Arc::new(RealFlash)).unwrap();
    store.recover(&mut signer).unwrap();

    // Nothing signed and durable was lost: every such checkpoint is still in its journal.
    for (journal, bytes) in signed {
        let now = std::fs::read(&journal).unwrap();
        assert!(
            now.windows(bytes.len()).any(|w| w == bytes.as_slice()),
            "crash after sync {freeze:?} (torn {torn}): a durable checkpoint vanished from {}",
            journal.display()
        );
    }
    let out = Command::new(BIN)
        .arg("verify")
        .arg(&root)
        .args(["--key", key_hex])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "crash after sync {freeze:?} (torn {torn}): verify failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(feature = "examiner")]
    if let Some((key, _)) = footage {
        check_sealed_point(
            &root,
            key,
            freeze,
            torn,
            &String::from_utf8_lossy(&out.stdout),
        );
    }
    disk.syncs
}

#[cfg(feature = "examiner")]
/// Power cuts that left a torn chunk (the encrypted test must meet some).
static TORN_CHUNKS_SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[cfg(feature = "examiner")]
/// An encrypted run after the power cut: every whole chunk on flash decrypts (so all
/// that was durable can be watched), and a torn last chunk is reported by verify.
fn check_sealed_point(root: &Path, key: &Path, freeze: Option<u64>, torn: usize, report: &str) {
    let at = format!("crash after sync {freeze:?} (torn {torn})");
    for rec in std::fs::read_dir(root.join("recordings")).unwrap() {
        let rec = rec.unwrap().path();
        for seq in 1..=3u32 {
            let Ok(media) = std::fs::metadata(rec.join(format!("{seq:06}.ts"))) else {
                continue;
            };
            let o = match open_segment(&rec, seq, key) {
                Ok(o) => o,
                // The keys record is durable before any media is written: without it
                // the media file must still be empty.
                Err(e) if media.len() == 0 => {
                    assert!(e.contains("no keys record"), "{at}: {seq}: {e}");
                    continue;
                }
                Err(e) => panic!("{at}: segment {seq} ({} bytes): {e}", media.len()),
            };
            assert_eq!(o.failed_chunk, None, "{at}: segment {seq}");
            assert_eq!(o.chunks, o.walk.chunks.len(), "{at}: segment {seq}");
            assert!(
                o.walk.damaged.is_none(),
                "{at}: segment {seq}: {:?}",
                o.walk.damaged
            );
            if o.walk.torn.is_some() {
                assert!(
                    report.contains("torn last chunk"),
                    "{at}: segment {seq}:\n{report}"
                );
                TORN_CHUNKS_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

#[test]
fn every_sync_point_recovers_and_verifies() {
    let base = tempfile::tempdir().unwrap();
    let key_dir = base.path().join("keys");
    let (identity, _) = Identity::load_or_create(&key_dir, false).unwrap();
    let key_hex = hex::encode(identity.public_key());
    // The uninterrupted run tells how many sync points there are.
    let total = run_point(None, 0, base.path(), &key_dir, &key_hex);
    assert!(total > 20, "only {total} sync points");
    let rec = std::fs::read_dir(base.path().join("n-1-t0/recordings"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let segments = std::fs::read_dir(&rec)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "ts")
        })
        .count();
    assert_eq!(segments, 3, "the workload spans segment boundaries");
    for n in 0..total {
        // Power cut right after sync n: unsynced writes lost entirely …
        run_point(Some(n), 0, base.path(), &key_dir, &key_hex);
        // … or partly persisted (a torn tail in every file).
        run_point(Some(n), 77, base.path(), &key_dir, &key_hex);
    }
}

#[cfg(feature = "examiner")]
#[test]
fn every_sync_point_of_an_encrypted_recording_recovers_verifies_and_decrypts() {
    let base = tempfile::tempdir().unwrap();
    let key_dir = base.path().join("keys");
    let (identity, _) = Identity::load_or_create(&key_dir, false).unwrap();
    let key_hex = hex::encode(identity.public_key());
    let footage = Some(footage_key(base.path(), "agency"));
    let total = run_point_with(None, 0, base.path(), &key_dir, &key_hex, &footage);
    assert!(total > 20, "only {total} sync points");
    for n in 0..total {
        run_point_with(Some(n), 0, base.path(), &key_dir, &key_hex, &footage);
        // A torn tail: 77 bytes of an unsynced chunk (inside its header or its body)
        // or of a journal record; and 3000, deep inside a chunk.
        run_point_with(Some(n), 77, base.path(), &key_dir, &key_hex, &footage);
        run_point_with(Some(n), 3000, base.path(), &key_dir, &key_hex, &footage);
    }
    assert!(
        TORN_CHUNKS_SEEN.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "no power cut tore a chunk: the test does not test that"
    );
}

#[test]
fn an_fsync_error_latches_the_store_until_a_probe_succeeds() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("store");
    std::fs::create_dir_all(&root).unwrap();
    let (identity, _) = Identity::load_or_create(&base.path().join("keys"), false).unwrap();
    let mut signer = Signer::new(
        identity,
        Box::new(SystemTime),
        boot_id(),
        ChainHead::default(),
        ChainHead::default(),
    );
    let flash = CrashFlash::default();
    let cfg = StorageConfig {
        path: root.clone(),
        reserve_hours: 0.0,
        max_bytes: None,
        delete_after_ack: false,
    };
    let mut store = Store::open(&cfg, 100_000.0, Arc::new(flash.clone())).unwrap();
    let time = TimeRef::now();
    let mut rec = store.new_recording(&time, plan()).unwrap();
    // Recording ids are unique against the real directory (the double keeps its own).
    std::fs::create_dir_all(rec.dir()).unwrap();
    let frames = frames(time.mono_ns);
    let mut offered = frames.iter();
    // The first second goes to flash; then every fsync fails.
    for f in offered.by_ref().take(30) {
        store.offer(&mut rec, f, &time, &mut signer).unwrap();
    }
    flash.fail_syncs(true);
    let before = signer.media_head();
    let err = offered
        .by_ref()
        .find_map(|f| store.offer(&mut rec, f, &time, &mut signer).err())
        .expect("the checkpoint before the next keyframe fsyncs and fails");
    assert!(
        matches!(err, StoreError::Io { .. }),
        "the first error is the I/O error itself: {err}"
    );
    assert_eq!(
        signer.media_head(),
        before,
        "nothing was signed over bytes that are not durable"
    );
    let latch = store.latched().expect("the store latched").clone();
    assert!(!latch.no_space);
    // Latched: no footage, no new recording, no checkpoint …
    let next = offered.next().unwrap();
    assert!(matches!(
        store.offer(&mut rec, next, &time, &mut signer),
        Err(StoreError::Latched(_))
    ));
    assert!(matches!(
        store.new_recording(&time, plan()),
        Err(StoreError::Latched(_))
    ));
    assert!(matches!(
        store.checkpoint(&mut rec, &mut signer),
        Err(StoreError::Latched(_))
    ));
    // … and a probe that fails keeps it latched.
    assert!(store.probe().is_err());
    assert_eq!(store.latched(), Some(&latch));

    // The medium works again: one probe write and fsync release the latch.
    flash.fail_syncs(false);
    store.probe().unwrap();
    assert!(store.latched().is_none());
    let mut again = store.new_recording(&time, plan()).unwrap();
    let written = frames
        .iter()
        .map(|f| store.offer(&mut again, f, &time, &mut signer).unwrap())
        .filter(|o| matches!(o, Offer::Written(_)))
        .count();
    assert!(written > 40, "{written} frames written after the probe");
    store
        .close_segment(&mut again, EndReason::Stopped, &time, &mut signer)
        .unwrap()
        .expect("closed");
}
