//! Evidence integrity: the device identity, signed records (checkpoints, finals,
//! recoveries, audit entries, head statements), the device-wide chains, and `verify`.
//!
//! Two chains run device-wide: the **media chain** (every checkpoint, final and
//! recovery record of every segment, in the order they were signed) and the **audit
//! chain** (the audit log). Each record carries its position (`counter`) and the SHA-256
//! of the previous record of its chain.

pub mod audit;
pub mod deletion;
pub mod events;
pub mod head;
pub mod identity;
pub mod officer;
pub mod payload;
pub mod record;
pub mod scan;
pub mod sidecar;
pub mod verify;

use ring::signature::Ed25519KeyPair;

use crate::clock;
use crate::confidential::sealing::Footage;
use identity::Identity;
use payload::Payload;
use record::{ClockState, Header, Kind, Writer};

/// Where a chain stands: how many records it has and the hash of the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ChainHead {
    /// Number of records so far (the next record's counter).
    pub count: u64,
    /// SHA-256 of the last record (zeros when there is none).
    pub hash: [u8; 32],
}

/// What a record's header says about time.
pub trait TimeSource: Send + std::fmt::Debug {
    /// UTC, milliseconds since the Unix epoch.
    fn utc_ms(&self) -> i64;
    /// Monotonic nanoseconds since boot.
    fn mono_ns(&self) -> u64;
    /// Clock synchronisation state.
    fn clock(&self) -> ClockState;
}

/// The system clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemTime;

impl TimeSource for SystemTime {
    fn utc_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
    fn mono_ns(&self) -> u64 {
        clock::monotonic_ns()
    }
    fn clock(&self) -> ClockState {
        if clock::clock_synchronised() {
            ClockState::Ntp
        } else {
            ClockState::Unsynchronised
        }
    }
}

/// A fixed clock (golden vectors, tests): every record gets the same times.
#[derive(Debug, Clone, Copy)]
pub struct FixedTime {
    /// UTC ms.
    pub utc_ms: i64,
    /// Monotonic ns.
    pub mono_ns: u64,
}

impl TimeSource for FixedTime {
    fn utc_ms(&self) -> i64 {
        self.utc_ms
    }
    fn mono_ns(&self) -> u64 {
        self.mono_ns
    }
    fn clock(&self) -> ClockState {
        ClockState::Ntp
    }
}

/// The Linux boot id (`/proc/sys/kernel/random/boot_id`), zeros if unreadable.
pub fn boot_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    if let Ok(text) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        && let Ok(bytes) = hex::decode(text.trim().replace('-', ""))
        && bytes.len() == 16
    {
        id.copy_from_slice(&bytes);
    }
    id
}

/// Signs records and advances the device-wide chains. Owned by the daemon loop.
#[derive(Debug)]
pub struct Signer {
    identity: Identity,
    time: Box<dyn TimeSource>,
    boot_id: [u8; 16],
    media: ChainHead,
    audit: ChainHead,
    clock_override: Option<ClockState>,
    /// Whether (and to whom) new segments are encrypted.
    footage: Footage,
}

impl Signer {
    /// A signer continuing the given chain heads.
    pub fn new(
        identity: Identity,
        time: Box<dyn TimeSource>,
        boot_id: [u8; 16],
        media: ChainHead,
        audit: ChainHead,
    ) -> Signer {
        Signer {
            identity,
            time,
            boot_id,
            media,
            audit,
            clock_override: None,
            footage: Footage::off(),
        }
    }

    /// Encrypt new segments as `footage` says (the default is [`Footage::off`]).
    pub fn with_footage(mut self, footage: Footage) -> Signer {
        self.footage = footage;
        self
    }

    /// The encryption mode and recipients in force.
    pub fn footage(&self) -> &Footage {
        &self.footage
    }

    /// The same, to seal a new segment or read its notices.
    pub fn footage_mut(&mut self) -> &mut Footage {
        &mut self.footage
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Media chain head.
    pub fn media_head(&self) -> ChainHead {
        self.media
    }

    /// Audit chain head.
    pub fn audit_head(&self) -> ChainHead {
        self.audit
    }

    /// Continue both chains from the heads found on flash: after a write that failed,
    /// a record signed but never stored must not leave a gap before the next one.
    pub fn resume_chains(&mut self, media: ChainHead, audit: ChainHead) {
        self.media = media;
        self.audit = audit;
    }

    /// Record that the clock was set by a trusted source (dock); until the next boot.
    pub fn set_clock_state(&mut self, state: ClockState) {
        self.clock_override = Some(state);
    }

    fn header(&self, kind: Kind, counter: u64, prev_hash: [u8; 32]) -> Header {
        Header {
            kind,
            device_id: self.identity.device_id(),
            counter,
            prev_hash,
            utc_ms: self.time.utc_ms(),
            clock: self.clock_override.unwrap_or_else(|| self.time.clock()),
            mono_ns: self.time.mono_ns(),
            boot_id: self.boot_id,
        }
    }

    fn key(&self) -> &Ed25519KeyPair {
        self.identity.key()
    }

    /// Sign a media-chain record (checkpoint, final, recovery) and advance the chain.
    pub fn sign_media(&mut self, payload: &Payload) -> Vec<u8> {
        let h = self.header(payload.kind(), self.media.count, self.media.hash);
        let mut w = Writer::new(&h);
        payload.encode(&mut w);
        let rec = record::seal(self.key(), &w.finish());
        self.media = ChainHead {
            count: self.media.count.saturating_add(1),
            hash: record::sha256(&rec),
        };
        rec
    }

    /// Sign an audit entry and advance the audit chain.
    pub fn sign_audit(&mut self, payload: &Payload) -> Vec<u8> {
        let h = self.header(Kind::Audit, self.audit.count, self.audit.hash);
        let mut w = Writer::new(&h);
        payload.encode(&mut w);
        let rec = record::seal(self.key(), &w.finish());
        self.audit = ChainHead {
            count: self.audit.count.saturating_add(1),
            hash: record::sha256(&rec),
        };
        rec
    }

    /// Sign a statement of both heads bound to `nonce` (advances nothing).
    pub fn sign_head(&self, nonce: &[u8]) -> Vec<u8> {
        let h = self.header(Kind::Head, self.media.count, self.media.hash);
        let mut w = Writer::new(&h);
        Payload::Head(payload::Head {
            nonce: nonce.to_vec(),
            audit_count: self.audit.count,
            audit_hash: self.audit.hash,
        })
        .encode(&mut w);
        record::seal(self.key(), &w.finish())
    }
}
