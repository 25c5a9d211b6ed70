//! The camera's side: the encryption mode and the recipients in force, and the sealer of
//! one segment.
//!
//! [`Footage`] is owned by the signer (the daemon loop's evidence writer). At every
//! segment it reads the recipient files again, so a changed `[evidence] recipients`
//! list (or a replaced file) takes effect at the next segment; older segments stay
//! wrapped to the keys they were written with. A list that cannot be read keeps the
//! last good one (never plaintext), and says so in a [`Notice`] for the audit log.
//!
//! A segment's content key exists only inside [`Footage::seal_segment`]: it is wrapped,
//! the media key and commitment are derived, and it is wiped. The media key's ring
//! object lives until the segment closes; ring keeps its key schedule in that object
//! and does not clear it on drop, which is the one copy this code cannot overwrite.

use std::path::PathBuf;

use ring::aead::LessSafeKey;
use ring::rand::{SecureRandom, SystemRandom};

use crate::evidence::payload::{Fix, SEALED_FIX_LEN};

use super::chunk::{self, ChunkHeader, HEADER_LEN, MAX_WRITE_PLAIN};
use super::keys::{KeyError, Recipient, load_recipient};
use super::track;
use super::wrap::{self, WrapError, WrappedKey};
use super::{AEAD_CHACHA20_POLY1305, KEY_LEN, location, wipe};

/// Where random bytes come from.
#[derive(Debug)]
pub enum Entropy {
    /// The operating system (always, on a camera).
    System(SystemRandom),
    /// A fixed seed expanded by HKDF: golden vectors and tests only, never from a config.
    Fixed {
        /// The seed.
        seed: [u8; 32],
        /// Values drawn so far.
        counter: u64,
    },
}

impl Entropy {
    /// 32 random bytes.
    fn next32(&mut self) -> Result<[u8; 32], WrapError> {
        match self {
            Entropy::System(rng) => {
                let mut out = [0u8; 32];
                rng.fill(&mut out).map_err(|_| WrapError::Random)?;
                Ok(out)
            }
            Entropy::Fixed { seed, counter } => {
                *counter += 1;
                Ok(wrap::hkdf32(
                    seed,
                    &counter.to_be_bytes(),
                    b"bodycam-v2 test entropy",
                ))
            }
        }
    }

    /// Wrap `content_key` to `r` with an ephemeral key drawn from this source.
    fn wrap(
        &mut self,
        content_key: &[u8; KEY_LEN],
        r: &Recipient,
        location: &[u8],
    ) -> Result<WrappedKey, WrapError> {
        match self {
            Entropy::System(rng) => wrap::wrap(content_key, r, location, rng),
            Entropy::Fixed { .. } => {
                let mut seed = self.next32()?;
                // ring's deterministic SecureRandom for known-answer tests: only ever
                // reached from a fixed seed (golden vectors).
                #[allow(deprecated)]
                let rng = ring::test::rand::FixedSliceRandom { bytes: &seed };
                let w = wrap::wrap(content_key, r, location, &rng);
                wipe(&mut seed);
                w
            }
        }
    }
}

/// Whether footage is encrypted (`[evidence] encryption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plain MPEG-TS (the developer default).
    #[default]
    Off,
    /// Every segment encrypted to the recipients; no usable recipient is a config error.
    Required,
}

impl Mode {
    /// The config and audit-log spelling.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Required => "required",
        }
    }
}

/// Something the audit log should record about the recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The recipient files now name other keys; in force from the next segment.
    Rotated {
        /// Key ids now in force.
        key_ids: Vec<String>,
    },
    /// The recipient files could not be read again; the previous keys stay in force.
    Unreadable {
        /// Why.
        error: String,
        /// Key ids kept.
        key_ids: Vec<String>,
    },
}

/// The mode and recipients in force.
#[derive(Debug)]
pub struct Footage {
    mode: Mode,
    paths: Vec<PathBuf>,
    recipients: Vec<Recipient>,
    entropy: Entropy,
    notices: Vec<Notice>,
}

impl Footage {
    /// No encryption.
    pub fn off() -> Footage {
        Footage {
            mode: Mode::Off,
            paths: Vec::new(),
            recipients: Vec::new(),
            entropy: Entropy::System(SystemRandom::new()),
            notices: Vec::new(),
        }
    }

    /// Encryption to the recipients in `paths`, each read now.
    pub fn required(paths: Vec<PathBuf>) -> Result<Footage, KeyError> {
        let recipients = load_all(&paths)?;
        Ok(Footage {
            mode: Mode::Required,
            paths,
            recipients,
            entropy: Entropy::System(SystemRandom::new()),
            notices: Vec::new(),
        })
    }

    /// Use `entropy` instead of the system's (golden vectors, tests).
    pub fn with_entropy(mut self, entropy: Entropy) -> Footage {
        self.entropy = entropy;
        self
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Key ids (hex) of the recipients in force.
    pub fn key_ids(&self) -> Vec<String> {
        self.recipients.iter().map(Recipient::key_id_hex).collect()
    }

    /// The recipient files.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Read the recipient files again; a change is in force from now on.
    pub fn refresh(&mut self) {
        if self.mode == Mode::Off {
            return;
        }
        match load_all(&self.paths) {
            Ok(now) if now == self.recipients => {}
            Ok(now) => {
                self.recipients = now;
                self.notices.push(Notice::Rotated {
                    key_ids: self.key_ids(),
                });
            }
            Err(e) => {
                let error = e.to_string();
                let repeated = matches!(self.notices.last(), Some(Notice::Unreadable { error: last, .. }) if *last == error);
                if !repeated {
                    self.notices.push(Notice::Unreadable {
                        error,
                        key_ids: self.key_ids(),
                    });
                }
            }
        }
    }

    /// What happened to the recipients since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// For a new segment: read the recipients again, make a content key, wrap it to
    /// each, and return the sealer and what the keys record signs. `None` when off.
    pub fn seal_segment(
        &mut self,
        device_id: &[u8; 16],
        recording_id: &str,
        segment: u32,
    ) -> Result<Option<(SegmentSealer, SealedKeys)>, WrapError> {
        if self.mode == Mode::Off {
            return Ok(None);
        }
        self.refresh();
        let loc = location(device_id, recording_id, segment);
        let mut content_key = self.entropy.next32()?;
        let mut wrapped = Vec::with_capacity(self.recipients.len());
        for r in &self.recipients {
            match self.entropy.wrap(&content_key, r, &loc) {
                Ok(w) => wrapped.push(w),
                Err(e) => {
                    wipe(&mut content_key);
                    return Err(e);
                }
            }
        }
        let keys = SealedKeys {
            aead: AEAD_CHACHA20_POLY1305,
            commitment: wrap::commitment(&content_key),
            recipients: wrapped,
        };
        let key = wrap::media_key(&content_key);
        let location_key = wrap::location_key(&content_key);
        wipe(&mut content_key);
        Ok(Some((SegmentSealer::new(key, location_key, loc), keys)))
    }
}

/// Read every recipient file (at least one).
fn load_all(paths: &[PathBuf]) -> Result<Vec<Recipient>, KeyError> {
    if paths.is_empty() {
        return Err(KeyError::Bad {
            path: PathBuf::from("[evidence] recipients"),
            reason: "no recipient file listed".into(),
        });
    }
    paths.iter().map(|p| load_recipient(p)).collect()
}

/// What a segment's keys record holds besides its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKeys {
    /// AEAD code ([`AEAD_CHACHA20_POLY1305`]).
    pub aead: u8,
    /// Commitment to the content key.
    pub commitment: [u8; 32],
    /// The content key wrapped to each recipient.
    pub recipients: Vec<WrappedKey>,
}

/// Seals one segment's media into chunks as it is written.
pub struct SegmentSealer {
    key: LessSafeKey,
    /// Seals the location records (`super::track`).
    location_key: LessSafeKey,
    /// `seq` of the next sealed location record.
    next_location: u32,
    location: Vec<u8>,
    /// Header room, then the plaintext not yet sealed.
    buf: Vec<u8>,
    /// Counts of the plaintext not yet sealed (index and length filled at sealing).
    pending: ChunkHeader,
    next_index: u32,
}

impl std::fmt::Debug for SegmentSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentSealer")
            .field("next_index", &self.next_index)
            .field("pending_bytes", &self.pending_bytes())
            .finish_non_exhaustive()
    }
}

impl SegmentSealer {
    fn new(key: LessSafeKey, location_key: LessSafeKey, location: Vec<u8>) -> SegmentSealer {
        let mut buf = Vec::with_capacity(HEADER_LEN + 512 * 1024);
        buf.resize(HEADER_LEN, 0);
        SegmentSealer {
            key,
            location_key,
            next_location: 0,
            location,
            buf,
            pending: ChunkHeader::default(),
            next_index: 0,
        }
    }

    /// Take muxed plaintext: `video` is `Some((pts, keyframe))` for a video frame.
    pub fn push(&mut self, bytes: &[u8], video: Option<(u64, bool)>) {
        self.buf.extend_from_slice(bytes);
        match video {
            Some((pts, keyframe)) => {
                if self.pending.video_frames == 0 {
                    self.pending.pts_first = pts;
                }
                self.pending.pts_last = pts;
                self.pending.video_frames += 1;
                self.pending.keyframes += u32::from(keyframe);
            }
            None => self.pending.audio_frames += 1,
        }
    }

    /// Plaintext bytes not yet sealed.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len() - HEADER_LEN
    }

    /// Whether the pending plaintext should be sealed before more is added.
    pub fn full(&self) -> bool {
        self.pending_bytes() >= MAX_WRITE_PLAIN
    }

    /// Chunks sealed so far.
    pub fn chunks(&self) -> u32 {
        self.next_index
    }

    /// Seal a location sample as the segment's next sealed location record: its `seq`
    /// and the fix's ciphertext and tag.
    pub fn seal_location(&mut self, pts_90k: u64, fix: &Fix) -> (u32, [u8; SEALED_FIX_LEN]) {
        let seq = self.next_location;
        self.next_location += 1;
        (
            seq,
            track::seal(&self.location_key, &self.location, seq, pts_90k, fix),
        )
    }

    /// Seal the pending plaintext into the next chunk; `None` when there is none.
    pub fn seal(&mut self) -> Option<Vec<u8>> {
        if self.pending_bytes() == 0 {
            return None;
        }
        let mut header = std::mem::take(&mut self.pending);
        header.index = self.next_index;
        header.plain_len = self.pending_bytes() as u32;
        self.next_index += 1;
        let mut next = Vec::with_capacity(self.buf.capacity());
        next.resize(HEADER_LEN, 0);
        let mut sealed = std::mem::replace(&mut self.buf, next);
        chunk::seal_in_place(&self.key, &self.location, header, &mut sealed);
        Some(sealed)
    }
}

impl Drop for SegmentSealer {
    fn drop(&mut self) {
        // Plaintext that was never sealed (a segment abandoned after a write error).
        wipe(&mut self.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confidential::keys::recipient_file;

    fn recipient(dir: &std::path::Path, name: &str, public: [u8; 32]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_string(&recipient_file(&public)).unwrap()).unwrap();
        p
    }

    #[test]
    fn recipients_are_read_again_at_each_segment_and_a_bad_file_keeps_the_last_good() {
        let d = tempfile::tempdir().unwrap();
        let p = recipient(d.path(), "a.pub", [9; 32]);
        let mut f = Footage::required(vec![p.clone()])
            .unwrap()
            .with_entropy(Entropy::Fixed {
                seed: [1; 32],
                counter: 0,
            });
        let first = f.key_ids();
        let (_, k1) = f.seal_segment(&[0; 16], "r", 1).unwrap().unwrap();
        assert_eq!(k1.recipients.len(), 1);
        assert!(f.take_notices().is_empty());
        recipient(d.path(), "a.pub", [10; 32]);
        let (_, k2) = f.seal_segment(&[0; 16], "r", 2).unwrap().unwrap();
        assert_ne!(k2.recipients[0].key_id, k1.recipients[0].key_id);
        assert!(
            matches!(&f.take_notices()[..], [Notice::Rotated { key_ids }] if *key_ids != first)
        );
        std::fs::write(&p, "garbage").unwrap();
        let (_, k3) = f.seal_segment(&[0; 16], "r", 3).unwrap().unwrap();
        assert_eq!(k3.recipients[0].key_id, k2.recipients[0].key_id);
        let _ = f.seal_segment(&[0; 16], "r", 4).unwrap().unwrap();
        assert!(matches!(&f.take_notices()[..], [Notice::Unreadable { .. }]));
        // Content keys differ per segment: so do commitments.
        assert_ne!(k2.commitment, k3.commitment);
    }

    #[test]
    fn the_sealer_cuts_chunks_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = recipient(d.path(), "a.pub", [9; 32]);
        let mut f = Footage::required(vec![p]).unwrap();
        let (mut s, _) = f.seal_segment(&[0; 16], "r", 1).unwrap().unwrap();
        assert!(s.seal().is_none());
        s.push(&[0x47; 376], Some((180_000, true)));
        s.push(&[0x47; 188], None);
        let c0 = s.seal().unwrap();
        s.push(&[0x47; 188], Some((183_000, false)));
        let c1 = s.seal().unwrap();
        let mut file = c0.clone();
        file.extend_from_slice(&c1);
        let w = chunk::walk_bytes(&file);
        assert_eq!(w.chunks.len(), 2);
        let h = w.chunks[0].header;
        assert_eq!(
            (
                h.index,
                h.plain_len,
                h.video_frames,
                h.audio_frames,
                h.keyframes
            ),
            (0, 564, 1, 1, 1)
        );
        assert_eq!(w.chunks[1].header.pts_first, 183_000);
        // No TS sync byte pattern survives sealing.
        assert!(!c0[HEADER_LEN..HEADER_LEN + 376].iter().all(|b| *b == 0x47));
    }
}
