//! Builds real evidence stores through the library (store, signer, audit log) from synthetic frames, in milliseconds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bodycam::clock::TimeRef;
#[cfg(feature = "examiner")]
use bodycam::confidential::sealing::{Entropy, Footage};
use bodycam::config::StorageConfig;
use bodycam::evidence::audit::AuditLog;
use bodycam::evidence::events::AuditEvent;
use bodycam::evidence::head::HeadStatement;
use bodycam::evidence::identity::Identity;
use bodycam::evidence::sidecar::{AudioSilence, CaptureInfo, EndReason, SilenceReason};
use bodycam::evidence::{ChainHead, FixedTime, Signer, scan};
use bodycam::flash::{Flash, RealFlash};
use bodycam::layout::IDENTITY_FILE;
use bodycam::media::{Frame, StreamKind};
use bodycam::store::Store;
use bodycam::store::recording::{NewRecording, Offer, RecordingWriter};
use chrono::{DateTime, Utc};

/// Monotonic time of the first frame (any value; fixed for golden output).
pub const BASE_MONO_NS: u64 = 1_000_000_000_000;
/// UTC of [`BASE_MONO_NS`]: 2026-01-01T00:00:00Z.
pub const BASE_UTC_MS: i64 = 1_767_225_600_000;
/// Boot id written into every record.
pub const BOOT_ID: [u8; 16] = [0x11; 16];
/// Target segment length.
pub const SEGMENT_SECONDS: u64 = 2;

/// The silent frame of [`Builder::recording_with_silence`]: avenc_aac's silent ADTS
/// frame at 48 kHz mono, as the daemon finds it at start-up.
pub const SILENT_FRAME: [u8; 11] = [
    0xff, 0xf1, 0x4e, 0x70, 0x01, 0x7f, 0xfc, 0x01, 0x18, 0x20, 0x07,
];

/// Path of the committed golden vectors.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

/// The committed public test key (PKCS#8).
pub fn golden_key() -> Identity {
    let path = golden_dir().join("test-key.pk8");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with BODYCAM_REGENERATE_GOLDEN=1 once)",
            path.display()
        )
    });
    Identity::from_pkcs8(&bytes).expect("test key")
}

/// A store being written, as the daemon would write it.
pub struct Builder {
    pub root: PathBuf,
    pub store: Store,
    pub signer: Signer,
    pub audit: AuditLog,
    /// Frames per second (one keyframe a second).
    pub fps: u64,
    /// Monotonic ns of the next frame.
    pub mono: u64,
    /// Recording ids, oldest first.
    pub recordings: Vec<String>,
    /// Hex of the public key.
    pub public_key: String,
    /// A recording left open by [`Builder::open_recording`] (dropped on restart).
    open: Option<RecordingWriter>,
    /// Add one location sample a second ([`track_sample`]) as the daemon does.
    pub track: bool,
}

/// The `n`-th location sample of a built recording's track (one a second): a 3D fix
/// moving north-east, every fourth one "no fix".
pub fn track_sample(n: u64) -> bodycam::location::Sample {
    use bodycam::location::{FixQuality, SOURCE_GPSD, Sample};
    if n % 4 == 3 {
        return Sample::no_fix(SOURCE_GPSD);
    }
    let k = i32::try_from(n).unwrap();
    Sample {
        quality: FixQuality::Fix3d,
        fix_utc_ms: BASE_UTC_MS + i64::from(k) * 1000,
        lat_e7: 515_007_123 + k * 167,
        lon_e7: -1_246_071 - k * 29,
        alt_cm: 1250 + k,
        h_acc_cm: 250 + k.cast_unsigned(),
        v_acc_cm: 400,
        source: SOURCE_GPSD,
    }
}

fn flash() -> Arc<dyn Flash> {
    Arc::new(RealFlash)
}

fn storage(root: &Path) -> StorageConfig {
    StorageConfig {
        path: root.to_path_buf(),
        reserve_hours: 0.0,
        max_bytes: None,
        delete_after_ack: false,
    }
}

fn capture(fps: u64) -> CaptureInfo {
    CaptureInfo {
        source: "simulated".into(),
        encoder: "synthetic".into(),
        width: 160,
        height: 120,
        framerate: u32::try_from(fps).unwrap_or(0),
        audio: true,
    }
}

/// A fake H.264 access unit (Annex-B) or ADTS frame; bytes depend only on `n`.
fn payload(n: u64, kind: StreamKind, keyframe: bool) -> Vec<u8> {
    let (head, len): (&[u8], usize) = match (kind, keyframe) {
        (StreamKind::Video, true) => (
            &[
                0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65,
            ],
            120,
        ),
        (StreamKind::Video, false) => (&[0, 0, 0, 1, 0x41], 30),
        (StreamKind::Audio, _) => (&[0xFF, 0xF1, 0x50, 0x80], 16),
    };
    let mut v = head.to_vec();
    v.extend((0..len).map(|i| (n as usize * 31 + i * 7) as u8 | 1));
    v
}

impl Builder {
    /// A store at `root` signed by `identity`; `keys/identity.json` holds its public half.
    pub fn with_identity(root: &Path, identity: Identity) -> Builder {
        let keys = root.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let public = identity.public();
        std::fs::write(
            keys.join(IDENTITY_FILE),
            serde_json::to_vec_pretty(&public).unwrap(),
        )
        .unwrap();
        Builder::start(root, identity, ChainHead::default(), ChainHead::default())
    }

    /// A store with a new random key created the way the daemon creates it.
    pub fn random(root: &Path) -> Builder {
        let (identity, created) = Identity::load_or_create(&root.join("keys"), false).unwrap();
        assert!(created);
        Builder::start(root, identity, ChainHead::default(), ChainHead::default())
    }

    /// The golden store: committed test key, fixed clocks.
    pub fn golden(root: &Path) -> Builder {
        let mut b = Builder::with_identity(root, golden_key());
        b.fps = 2;
        b
    }

    fn start(root: &Path, identity: Identity, media: ChainHead, audit: ChainHead) -> Builder {
        let public_key = hex::encode(identity.public_key());
        let store = Store::open(&storage(root), 50_000.0, flash()).unwrap();
        let signer = Signer::new(
            identity,
            Box::new(FixedTime {
                utc_ms: BASE_UTC_MS,
                mono_ns: BASE_MONO_NS,
            }),
            BOOT_ID,
            media,
            audit,
        );
        let audit = AuditLog::open(store.flash(), &store.audit_path()).unwrap();
        let mut b = Builder {
            root: root.to_path_buf(),
            store,
            signer,
            audit,
            fps: 4,
            mono: BASE_MONO_NS,
            recordings: Vec::new(),
            public_key,
            open: None,
            track: false,
        };
        b.boot();
        b
    }

    /// Encrypt the segments written from now on to the recipient files `paths`, with
    /// randomness from `seed` (fixed vectors) or the system (`None`).
    #[cfg(feature = "examiner")]
    pub fn encrypt_to(&mut self, paths: &[PathBuf], seed: Option<[u8; 32]>) {
        let footage = Footage::required(paths.to_vec()).expect("recipient files");
        *self.signer.footage_mut() = match seed {
            Some(seed) => footage.with_entropy(Entropy::Fixed { seed, counter: 0 }),
            None => footage,
        };
    }

    /// Sign and append an audit entry.
    pub fn log(&mut self, event: AuditEvent) {
        self.audit.append(&mut self.signer, &event).unwrap();
    }

    fn boot(&mut self) {
        let media = self.signer.media_head().count;
        let device = hex::encode(self.signer.identity().device_id());
        self.log(AuditEvent::Boot {
            firmware: "test".into(),
            config_sha256: "00".into(),
            device_id: device,
            media_chain_count: media,
            clock_synchronised: true,
        });
    }

    /// The time reference for `mono` (UTC advances with the monotonic clock).
    pub fn time_ref(&self) -> TimeRef {
        let delta_ms = ((self.mono - BASE_MONO_NS) / 1_000_000) as i64;
        TimeRef {
            mono_ns: self.mono,
            utc: DateTime::<Utc>::from_timestamp_millis(BASE_UTC_MS + delta_ms).unwrap(),
            synchronised: true,
        }
    }

    fn begin(&mut self) -> RecordingWriter {
        self.begin_with(None)
    }

    /// A new recording whose first segment declares `silence` (as the daemon declares
    /// pre-event audio it did not keep).
    fn begin_with(&mut self, silence: Option<AudioSilence>) -> RecordingWriter {
        let time = self.time_ref();
        let w = self
            .store
            .new_recording(
                &time,
                NewRecording {
                    trigger: "ctl".into(),
                    pre_event: (0, false),
                    segment_ns: SEGMENT_SECONDS * 1_000_000_000,
                    capture: capture(self.fps),
                    officer: None,
                    pre_event_silence: silence,
                },
            )
            .unwrap();
        let id = w.id().to_string();
        self.log(AuditEvent::RecordingStart {
            recording_id: id.clone(),
            trigger: "ctl".into(),
            pre_event_seconds: 0.0,
            pre_event_audio: false,
            officer: None,
        });
        self.recordings.push(id);
        w
    }

    /// Video frame `i` at the current time (a keyframe each second) and its audio frame.
    fn frames(&self, i: u64) -> [Frame; 2] {
        let period = 1_000_000_000 / self.fps;
        let t = self.mono;
        let video = Frame {
            kind: StreamKind::Video,
            pts_ns: t,
            dts_ns: t,
            duration_ns: period,
            keyframe: i.is_multiple_of(self.fps),
            data: payload(i, StreamKind::Video, i.is_multiple_of(self.fps)),
        };
        let audio = Frame {
            kind: StreamKind::Audio,
            pts_ns: t + period / 2,
            dts_ns: t + period / 2,
            duration_ns: period,
            keyframe: false,
            data: payload(i, StreamKind::Audio, false),
        };
        [video, audio]
    }

    /// Feed `seconds` of video (a keyframe each second) with one audio frame per video frame.
    fn feed(&mut self, w: &mut RecordingWriter, frames: u64) {
        let period = 1_000_000_000 / self.fps;
        for i in 0..frames {
            let time = self.time_ref();
            if self.track && i.is_multiple_of(self.fps) {
                w.add_location(self.mono, track_sample(i / self.fps));
            }
            for f in self.frames(i) {
                let r = w
                    .offer(self.store.flash(), &f, u64::MAX, &time, &mut self.signer)
                    .unwrap();
                assert!(matches!(r, Offer::Written(_)), "{r:?}");
            }
            self.mono += period;
        }
    }

    /// A recording whose first `silent` audio frames are declared inserted silence
    /// ([`SILENT_FRAME`], reason `pre_event_audio_disabled`) and written as that frame,
    /// but for frame `changed` (if any), which keeps its captured bytes. `frames` frames
    /// in all; closed, or left open for [`Builder::restart`] when `open` (a power cut).
    pub fn recording_with_silence(
        &mut self,
        frames: u64,
        silent: u64,
        changed: Option<u64>,
        open: bool,
    ) -> String {
        let period = 1_000_000_000 / self.fps;
        // The audio frame of video frame i is at mono + i·period + period/2; the
        // recording's timeline starts at its first frame (video 0, at mono).
        let base = self.mono;
        let first = base + period / 2;
        let end = first + silent * period;
        let silence = AudioSilence {
            frames: silent,
            first_pts_90k: bodycam::ts::timeline_90k(first, base),
            end_pts_90k: bodycam::ts::timeline_90k(end, base),
            seconds: (end - first) as f64 / 1e9,
            reason: SilenceReason::PreEventAudioDisabled,
            frame_hex: hex::encode(SILENT_FRAME),
        };
        let mut w = self.begin_with(Some(silence));
        for i in 0..frames {
            let time = self.time_ref();
            let mut pair = self.frames(i);
            if i < silent && changed != Some(i) {
                pair[1].data = SILENT_FRAME.to_vec();
            }
            for f in pair {
                let r = w
                    .offer(self.store.flash(), &f, u64::MAX, &time, &mut self.signer)
                    .unwrap();
                assert!(matches!(r, Offer::Written(_)), "{r:?}");
            }
            self.mono += period;
        }
        let id = w.id().to_string();
        if open {
            self.open = Some(w);
            return id;
        }
        let time = self.time_ref();
        w.close_segment(
            self.store.flash(),
            EndReason::Stopped,
            &time,
            &mut self.signer,
        )
        .unwrap();
        self.log(AuditEvent::RecordingStop {
            recording_id: id.clone(),
            trigger: "ctl".into(),
            seconds: w.seconds(),
            segments: w.closed_segments(),
            during: None,
        });
        self.mono += 5_000_000_000;
        id
    }

    /// A closed recording of `segments` segments (each [`SEGMENT_SECONDS`] long).
    pub fn recording(&mut self, segments: u64) -> String {
        let mut w = self.begin();
        self.feed(&mut w, segments * SEGMENT_SECONDS * self.fps);
        let time = self.time_ref();
        w.close_segment(
            self.store.flash(),
            EndReason::Stopped,
            &time,
            &mut self.signer,
        )
        .unwrap();
        let id = w.id().to_string();
        self.log(AuditEvent::RecordingStop {
            recording_id: id.clone(),
            trigger: "ctl".into(),
            seconds: w.seconds(),
            segments: w.closed_segments(),
            during: None,
        });
        self.mono += 5_000_000_000;
        id
    }

    /// A recording fed through the store as the daemon feeds it, with `fault` run once
    /// after its first second (e.g. another writer filling the filesystem): frames go
    /// on until the store refuses one; then the open segment is closed through the
    /// latched store, as the daemon closes it. Returns the id and the store's error.
    pub fn recording_into_fault(
        &mut self,
        fault: impl FnOnce(),
    ) -> (String, bodycam::store::StoreError) {
        let mut w = self.begin();
        let period = 1_000_000_000 / self.fps;
        let mut fault = Some(fault);
        let mut error = None;
        for i in 0..100_000 {
            if i == self.fps
                && let Some(f) = fault.take()
            {
                f();
            }
            let time = self.time_ref();
            for f in self.frames(i) {
                if let Err(e) = self.store.offer(&mut w, &f, &time, &mut self.signer) {
                    error = Some(e);
                    break;
                }
            }
            self.mono += period;
            if error.is_some() {
                break;
            }
        }
        let error = error.expect("the store never refused a frame");
        let time = self.time_ref();
        self.store
            .close_segment(&mut w, EndReason::StorageFull, &time, &mut self.signer)
            .expect("the open segment closes into its reserves");
        let id = w.id().to_string();
        self.log(AuditEvent::RecordingStop {
            recording_id: id.clone(),
            trigger: "storage_fault".into(),
            seconds: w.seconds(),
            segments: w.closed_segments(),
            during: None,
        });
        (id, error)
    }

    /// A recording with `closed` closed segments and a last one left open after
    /// `extra_frames` more frames (as when the daemon is killed): the writer is kept
    /// unclosed until [`Builder::restart`] drops it.
    pub fn open_recording(&mut self, closed: u64, extra_frames: u64) -> String {
        let mut w = self.begin();
        self.feed(&mut w, closed * SEGMENT_SECONDS * self.fps + extra_frames);
        let id = w.id().to_string();
        self.open = Some(w);
        id
    }

    /// Simulate a restart after a kill: drop whatever was open, scan the chains from
    /// flash, log like the daemon does and run recovery.
    pub fn restart(self) -> Builder {
        let Builder {
            root,
            signer,
            fps,
            mono,
            recordings,
            public_key,
            open,
            store,
            audit,
            track,
        } = self;
        drop(open);
        drop(audit);
        drop(store);
        let found = scan::scan(&RealFlash, &root).unwrap();
        let identity = signer_identity(&root, signer);
        let (media, audit) = found.heads_for(&hex::encode(identity.device_id()));
        let mut b = Builder::start_without_boot(&root, identity, media, audit);
        b.fps = fps;
        b.track = track;
        b.mono = mono + 60_000_000_000;
        b.recordings = recordings;
        b.public_key = public_key;
        if found.last_audit_event.as_deref() != Some(AuditEvent::Shutdown {}.name()) {
            b.log(AuditEvent::UncleanShutdown {
                last_event: found.last_audit_event.clone(),
            });
        }
        b.boot();
        let recovered = b.store.recover(&mut b.signer).unwrap();
        for r in recovered {
            b.log(AuditEvent::Recovery {
                recording_id: r.meta.recording_id.clone(),
                segment: r.meta.sequence,
                tail_bytes: r.tail_bytes,
                tail_seconds: r.tail_seconds,
                journal_torn_bytes: r.journal_torn_bytes,
            });
        }
        b
    }

    fn start_without_boot(
        root: &Path,
        identity: Identity,
        media: ChainHead,
        audit: ChainHead,
    ) -> Builder {
        let public_key = hex::encode(identity.public_key());
        let store = Store::open(&storage(root), 50_000.0, flash()).unwrap();
        let signer = Signer::new(
            identity,
            Box::new(FixedTime {
                utc_ms: BASE_UTC_MS + 3_600_000,
                mono_ns: BASE_MONO_NS,
            }),
            BOOT_ID,
            media,
            audit,
        );
        let audit = AuditLog::open(store.flash(), &store.audit_path()).unwrap();
        Builder {
            root: root.to_path_buf(),
            store,
            signer,
            audit,
            fps: 4,
            mono: BASE_MONO_NS,
            recordings: Vec::new(),
            public_key,
            open: None,
            track: false,
        }
    }

    /// A head statement as `bodycam ctl head` prints it (and the `head_issued` entry the
    /// daemon logs after signing it).
    pub fn head_statement(&mut self, nonce: &[u8]) -> HeadStatement {
        let utc = DateTime::<Utc>::from_timestamp_millis(BASE_UTC_MS).unwrap();
        let head = HeadStatement::sign(&self.signer, nonce, utc);
        self.log(AuditEvent::HeadIssued {
            nonce: head.nonce.clone(),
            media_count: head.media_count,
            audit_count: head.audit_count,
        });
        head
    }

    /// Clean shutdown (the last audit entry).
    pub fn shutdown(mut self) -> PathBuf {
        self.log(AuditEvent::Shutdown {});
        self.root.clone()
    }
}

/// The signer's identity, reloaded: from the store's key file for random stores, or the
/// golden key.
fn signer_identity(root: &Path, signer: Signer) -> Identity {
    let id = signer.identity().device_id();
    drop(signer);
    if root.join("keys").join("device.pk8").exists() {
        let identity = Identity::load(&root.join("keys")).unwrap();
        assert_eq!(identity.device_id(), id);
        identity
    } else {
        let identity = golden_key();
        assert_eq!(identity.device_id(), id);
        identity
    }
}

/// Path of a segment file: `ext` is `ts`, `journal` or `json`.
pub fn seg(root: &Path, recording: &str, seq: u32, ext: &str) -> PathBuf {
    root.join("recordings")
        .join(recording)
        .join(format!("{seq:06}.{ext}"))
}

/// Every regular file below `dir`, relative, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The records of record kind `kind` in a journal's bytes: (offset, whole length).
pub fn records_of_kind(journal: &[u8], kind: u8) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 10 <= journal.len() && &journal[pos..pos + 4] == b"BCR1" {
        let mut len = [0u8; 4];
        len.copy_from_slice(&journal[pos + 4..pos + 8]);
        let total = 8 + u32::from_be_bytes(len) as usize + 64;
        if journal[pos + 9] == kind {
            out.push((pos, total));
        }
        pos += total;
    }
    out
}
