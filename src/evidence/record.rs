//! Signed evidence records: the byte layout shared by segment journals, the audit log
//! and head statements, with encoding, decoding and signature checks.
//!
//! ```text
//! record   = magic "BCR1" | body_len u32 | body | signature [64]
//! signed   = "bodycam-evidence-v1" 0x00 | body        (Ed25519)
//! hash     = SHA-256(record)                            (the whole record, magic to signature)
//! body     = version u8 (2; 1 is still read) | kind u8 | device_id [16] | counter u64 | prev_hash [32]
//!            | utc_ms i64 | clock u8 | mono_ns u64 | boot_id [16] | payload
//! ```
//! Integers are big-endian; `str` is a u16 byte length followed by UTF-8. See
//! docs/EVIDENCE-FORMAT.md for every payload.

use ring::digest::{SHA256, digest};
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};

/// Magic at the start of every record.
pub const MAGIC: &[u8; 4] = b"BCR1";
/// Domain-separation prefix of the signed message.
pub const SIGN_CONTEXT: &[u8] = b"bodycam-evidence-v1\0";
/// Format version written in every body (docs/EVIDENCE-FORMAT.md §8).
pub const VERSION: u8 = 2;
/// Oldest format version still read (v1 stores keep verifying).
pub const MIN_VERSION: u8 = 1;
/// Ed25519 signature length.
pub const SIG_LEN: usize = 64;
/// Largest body accepted when decoding (a journal record is far smaller).
pub const MAX_BODY: usize = 64 * 1024;
/// Length of a device id.
pub const DEVICE_ID_LEN: usize = 16;

/// Record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Covers a byte range of a segment (media chain).
    Checkpoint,
    /// Closes a segment (media chain).
    Final,
    /// Closes a segment left open by a crash, signed after restart (media chain).
    Recovery,
    /// A segment's content key wrapped to its recipients: the first record of an
    /// encrypted segment (media chain; format v2).
    Keys,
    /// One location sample (a fix or "no fix") of a segment's second (media chain;
    /// format v2).
    Location,
    /// A location sample of an encrypted segment, its fix sealed under the segment's
    /// content key (media chain; format v2).
    SealedLocation,
    /// An audit-log entry (audit chain).
    Audit,
    /// A statement of both chain heads bound to a caller's nonce (no chain).
    Head,
}

impl Kind {
    /// Wire value.
    pub fn code(self) -> u8 {
        match self {
            Kind::Checkpoint => 1,
            Kind::Final => 2,
            Kind::Recovery => 3,
            Kind::Keys => 4,
            Kind::Location => 5,
            Kind::SealedLocation => 6,
            Kind::Audit => 16,
            Kind::Head => 32,
        }
    }

    /// From the wire value.
    pub fn from_code(c: u8) -> Option<Kind> {
        match c {
            1 => Some(Kind::Checkpoint),
            2 => Some(Kind::Final),
            3 => Some(Kind::Recovery),
            4 => Some(Kind::Keys),
            5 => Some(Kind::Location),
            6 => Some(Kind::SealedLocation),
            16 => Some(Kind::Audit),
            32 => Some(Kind::Head),
            _ => None,
        }
    }
}

/// How the device's wall clock stood when a record was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Not synchronised (free-running RTC or never set).
    Unsynchronised,
    /// Synchronised by NTP (kernel `STA_UNSYNC` clear).
    Ntp,
    /// Set by a dock's trusted time.
    Dock,
}

impl ClockState {
    /// Wire value.
    pub fn code(self) -> u8 {
        match self {
            ClockState::Unsynchronised => 0,
            ClockState::Ntp => 1,
            ClockState::Dock => 2,
        }
    }

    /// From the wire value.
    pub fn from_code(c: u8) -> Option<ClockState> {
        match c {
            0 => Some(ClockState::Unsynchronised),
            1 => Some(ClockState::Ntp),
            2 => Some(ClockState::Dock),
            _ => None,
        }
    }
}

/// The fields every record body starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Record kind.
    pub kind: Kind,
    /// Device id (first 16 bytes of SHA-256 of the public key).
    pub device_id: [u8; DEVICE_ID_LEN],
    /// Position in its chain (media or audit); for heads, the media head counter.
    pub counter: u64,
    /// Hash of the previous record of the same chain (zeros for the first).
    pub prev_hash: [u8; 32],
    /// UTC in milliseconds since the Unix epoch when signed.
    pub utc_ms: i64,
    /// Clock state at signing.
    pub clock: ClockState,
    /// Monotonic clock (ns since boot) when signed.
    pub mono_ns: u64,
    /// Linux boot id (monotonic time is only comparable within one boot).
    pub boot_id: [u8; 16],
}

/// Body encoder.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Start a body with `h`.
    pub fn new(h: &Header) -> Writer {
        let mut w = Writer {
            buf: Vec::with_capacity(256),
        };
        w.u8(VERSION);
        w.u8(h.kind.code());
        w.bytes(&h.device_id);
        w.u64(h.counter);
        w.bytes(&h.prev_hash);
        w.i64(h.utc_ms);
        w.u8(h.clock.code());
        w.u64(h.mono_ns);
        w.bytes(&h.boot_id);
        w
    }
    /// Append a byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Append a big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Append a big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Append a big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Append a big-endian i64.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Append raw bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// Append a string (u16 length, UTF-8), cut at 65535 bytes on a char boundary.
    pub fn str(&mut self, s: &str) {
        let mut end = s.len().min(u16::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.u16(end as u16);
        self.bytes(&s.as_bytes()[..end]);
    }
    /// The body.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Decoding errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the record needs (a torn or truncated record).
    #[error("record truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the record needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// Not a record.
    #[error("bad magic")]
    BadMagic,
    /// Body larger than any record.
    #[error("body length {0} too large")]
    TooLarge(usize),
    /// Unknown version.
    #[error("unsupported format version {0}")]
    Version(u8),
    /// Unknown kind.
    #[error("unknown record kind {0}")]
    Kind(u8),
    /// Unknown clock state.
    #[error("unknown clock state {0}")]
    Clock(u8),
    /// A field ran past the body.
    #[error("body too short for its fields")]
    ShortBody,
    /// A string is not UTF-8.
    #[error("string field is not UTF-8")]
    Utf8,
    /// Bytes left after the last field.
    #[error("{0} unexpected bytes after the last field")]
    Trailing(usize),
    /// A field holds a value the format does not define.
    #[error("field {field} has undefined value {value}")]
    Value {
        /// Field name.
        field: &'static str,
        /// Value found.
        value: u8,
    },
}

impl DecodeError {
    /// Whether this is what a write cut short by a power loss leaves: the last record
    /// of a file ends early. Only such a tail may be cut off; anything else is damage.
    pub fn is_torn_tail(&self) -> bool {
        match self {
            DecodeError::Truncated { .. } => true,
            DecodeError::BadMagic
            | DecodeError::TooLarge(_)
            | DecodeError::Version(_)
            | DecodeError::Kind(_)
            | DecodeError::Clock(_)
            | DecodeError::ShortBody
            | DecodeError::Utf8
            | DecodeError::Trailing(_)
            | DecodeError::Value { .. } => false,
        }
    }
}

/// Body decoder.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Read a body's header; the reader then stands at the payload.
    pub fn new(body: &'a [u8]) -> Result<(Header, Reader<'a>), DecodeError> {
        let mut r = Reader { buf: body, pos: 0 };
        let version = r.u8()?;
        if !(MIN_VERSION..=VERSION).contains(&version) {
            return Err(DecodeError::Version(version));
        }
        let kind_code = r.u8()?;
        let kind = match Kind::from_code(kind_code) {
            // Keys records exist from format v2 on.
            Some(Kind::Keys | Kind::SealedLocation) if version < 2 => None,
            k => k,
        }
        .ok_or(DecodeError::Kind(kind_code))?;
        let device_id = r.array::<DEVICE_ID_LEN>()?;
        let counter = r.u64()?;
        let prev_hash = r.array::<32>()?;
        let utc_ms = r.i64()?;
        let clock_code = r.u8()?;
        let clock = ClockState::from_code(clock_code).ok_or(DecodeError::Clock(clock_code))?;
        let mono_ns = r.u64()?;
        let boot_id = r.array::<16>()?;
        Ok((
            Header {
                kind,
                device_id,
                counter,
                prev_hash,
                utc_ms,
                clock,
                mono_ns,
                boot_id,
            },
            r,
        ))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::ShortBody)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::ShortBody)?;
        self.pos = end;
        Ok(s)
    }
    /// Read `N` raw bytes.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    /// Read a byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    /// Read a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// Read a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    /// Read a big-endian u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// Read a big-endian i64.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    /// Read a string.
    pub fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.u16()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Utf8)
    }
    /// Fail if bytes are left.
    pub fn end(&self) -> Result<(), DecodeError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

/// A record as found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// The whole record bytes (magic to signature).
    pub bytes: Vec<u8>,
    /// Offset of the body within `bytes`.
    body_start: usize,
    /// Length of the body.
    body_len: usize,
}

impl RawRecord {
    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.body_start..self.body_start + self.body_len]
    }
    /// The signature.
    pub fn signature(&self) -> &[u8] {
        &self.bytes[self.body_start + self.body_len..]
    }
    /// SHA-256 of the whole record: what the next record's `prev_hash` holds.
    pub fn hash(&self) -> [u8; 32] {
        sha256(&self.bytes)
    }
    /// Whether the signature verifies under `public_key` (32-byte Ed25519).
    pub fn verify(&self, public_key: &[u8]) -> bool {
        let mut msg = Vec::with_capacity(SIGN_CONTEXT.len() + self.body_len);
        msg.extend_from_slice(SIGN_CONTEXT);
        msg.extend_from_slice(self.body());
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(&msg, self.signature())
            .is_ok()
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Sign `body` into a complete record.
pub fn seal(key: &Ed25519KeyPair, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGN_CONTEXT.len() + body.len());
    msg.extend_from_slice(SIGN_CONTEXT);
    msg.extend_from_slice(body);
    let sig = key.sign(&msg);
    let mut out = Vec::with_capacity(8 + body.len() + SIG_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(sig.as_ref());
    out
}

/// Parse the record at the start of `data`; returns it and its length.
pub fn parse(data: &[u8]) -> Result<RawRecord, DecodeError> {
    if data.len() < 8 {
        if !data.is_empty() && !MAGIC.starts_with(&data[..data.len().min(4)]) {
            return Err(DecodeError::BadMagic);
        }
        return Err(DecodeError::Truncated {
            needed: 8,
            available: data.len(),
        });
    }
    if &data[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let body_len = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
    if body_len > MAX_BODY {
        return Err(DecodeError::TooLarge(body_len));
    }
    let total = 8 + body_len + SIG_LEN;
    if data.len() < total {
        return Err(DecodeError::Truncated {
            needed: total,
            available: data.len(),
        });
    }
    Ok(RawRecord {
        bytes: data[..total].to_vec(),
        body_start: 8,
        body_len,
    })
}

/// Split a file into records. Returns the records and, if the file does not end on a
/// record boundary, the error and offset where parsing stopped.
pub fn parse_all(data: &[u8]) -> (Vec<RawRecord>, Option<(usize, DecodeError)>) {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        match parse(&data[pos..]) {
            Ok(r) => {
                pos += r.bytes.len();
                out.push(r);
            }
            Err(e) => return (out, Some((pos, e))),
        }
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn header() -> Header {
        Header {
            kind: Kind::Checkpoint,
            device_id: [7; 16],
            counter: 42,
            prev_hash: [9; 32],
            utc_ms: 1_764_000_000_000,
            clock: ClockState::Ntp,
            mono_ns: 123_456_789,
            boot_id: [1; 16],
        }
    }

    #[test]
    fn round_trip_and_signature() {
        use ring::signature::KeyPair;
        let k = key();
        let mut w = Writer::new(&header());
        w.str("20261125T175328Z");
        w.u32(3);
        let record = seal(&k, &w.finish());
        let raw = parse(&record).unwrap();
        assert_eq!(raw.bytes.len(), record.len());
        assert!(raw.verify(k.public_key().as_ref()));
        let (h, mut r) = Reader::new(raw.body()).unwrap();
        assert_eq!(h, header());
        assert_eq!(r.str().unwrap(), "20261125T175328Z");
        assert_eq!(r.u32().unwrap(), 3);
        r.end().unwrap();
        // Any flipped bit breaks the signature.
        for i in 0..record.len() {
            let mut bad = record.clone();
            bad[i] ^= 0x01;
            let ok = parse(&bad).map(|r| r.verify(k.public_key().as_ref()));
            assert_ne!(ok, Ok(true), "flip at byte {i} went unnoticed");
        }
        // Another key does not verify it.
        assert!(!raw.verify(key().public_key().as_ref()));
    }

    #[test]
    fn torn_records_are_reported_not_misread() {
        let k = key();
        let rec = seal(&k, &Writer::new(&header()).finish());
        let mut file = rec.clone();
        file.extend_from_slice(&rec);
        for cut in 0..rec.len() {
            let (records, err) = parse_all(&file[..rec.len() + cut]);
            assert_eq!(records.len(), 1);
            if cut == 0 {
                assert!(err.is_none());
            } else {
                let (pos, e) = err.unwrap();
                assert_eq!(pos, rec.len());
                assert!(matches!(e, DecodeError::Truncated { .. }), "{e:?}");
            }
        }
        assert_eq!(parse(b"XXXXYYYY"), Err(DecodeError::BadMagic));
    }
}
