//! The announcement a camera multicasts when it starts recording (`bodycam-peer/1`).
//!
//! ```text
//! offset size  field
//! 0      4     magic "BCPA"
//! 4      1     version = 1
//! 5      1     kind = 1 (recording started)
//! 6      16    device_id        the sender (SHA-256(public key)[0..16])
//! 22     16    session          random, new at every daemon start
//! 38     8     counter          u64, from 1, +1 for every datagram of the session
//! 46     8     utc_ms           i64, the sender's clock when it signed
//! 54     1     hops             0 from the camera that started; +1 at each relay
//! 55     16    origin           the camera whose start this is
//! 71     1+n   origin_recording u8 length + UTF-8 (≤ 64): the origin's recording id
//! ..     1+n   agency           u8 length + UTF-8 (1–64)
//! ..     64    signature        Ed25519 over "bodycam-peer-v1" 0x00 ‖ every byte before it
//! ```
//! Integers are big-endian. Nothing may follow the signature. At most [`MAX_DATAGRAM`]
//! bytes.

use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};

use crate::recorder::PeerId;

/// Magic at the start of every announcement.
pub const MAGIC: &[u8; 4] = b"BCPA";
/// Format version.
pub const VERSION: u8 = 1;
/// The only kind so far: a recording started.
pub const KIND_RECORDING_STARTED: u8 = 1;
/// Domain separation of the signature (apart from evidence records).
pub const SIGN_CONTEXT: &[u8] = b"bodycam-peer-v1\0";
/// Longest announcement sent or accepted.
pub const MAX_DATAGRAM: usize = 512;
/// Longest agency name and recording id.
pub const MAX_TEXT: usize = 64;
/// Ed25519 signature length.
pub const SIG_LEN: usize = 64;

/// An announcement's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The sender.
    pub device: PeerId,
    /// The sender's session (new at each daemon start).
    pub session: [u8; 16],
    /// Position in the session.
    pub counter: u64,
    /// The sender's clock, UTC ms.
    pub utc_ms: i64,
    /// Relays so far.
    pub hops: u8,
    /// The camera whose start this is.
    pub origin: PeerId,
    /// The origin's recording id.
    pub origin_recording: String,
    /// The sender's agency.
    pub agency: String,
}

/// Why a datagram is not an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Longer than [`MAX_DATAGRAM`].
    #[error("longer than {MAX_DATAGRAM} bytes")]
    Oversized,
    /// Not this format (magic, version, kind, lengths, UTF-8, trailing bytes).
    #[error("not a bodycam-peer/1 announcement")]
    Malformed,
}

/// Encode and sign.
pub fn sign(a: &Announcement, key: &Ed25519KeyPair) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(KIND_RECORDING_STARTED);
    out.extend_from_slice(&a.device.0);
    out.extend_from_slice(&a.session);
    out.extend_from_slice(&a.counter.to_be_bytes());
    out.extend_from_slice(&a.utc_ms.to_be_bytes());
    out.push(a.hops);
    out.extend_from_slice(&a.origin.0);
    for text in [&a.origin_recording, &a.agency] {
        let bytes = &text.as_bytes()[..text.len().min(MAX_TEXT)];
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    let mut msg = Vec::with_capacity(SIGN_CONTEXT.len() + out.len());
    msg.extend_from_slice(SIGN_CONTEXT);
    msg.extend_from_slice(&out);
    out.extend_from_slice(key.sign(&msg).as_ref());
    out
}

/// A decoded, not yet verified announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified<'a> {
    /// The fields.
    pub announcement: Announcement,
    /// The bytes the signature covers (without the context).
    signed: &'a [u8],
    /// The signature.
    signature: &'a [u8],
}

impl Unverified<'_> {
    /// Whether the signature verifies under `public_key` (32 bytes, Ed25519).
    pub fn verify(&self, public_key: &[u8]) -> bool {
        let mut msg = Vec::with_capacity(SIGN_CONTEXT.len() + self.signed.len());
        msg.extend_from_slice(SIGN_CONTEXT);
        msg.extend_from_slice(self.signed);
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(&msg, self.signature)
            .is_ok()
    }
}

/// A reader over a datagram that fails with [`WireError::Malformed`] at its end.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Malformed)?;
        let s = self.buf.get(self.pos..end).ok_or(WireError::Malformed)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn text(&mut self) -> Result<String, WireError> {
        let n = usize::from(self.take(1)?[0]);
        if n > MAX_TEXT {
            return Err(WireError::Malformed);
        }
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError::Malformed)
    }
}

/// Decode a datagram (the signature is checked by [`Unverified::verify`]).
pub fn decode(datagram: &[u8]) -> Result<Unverified<'_>, WireError> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(WireError::Oversized);
    }
    let mut c = Cursor {
        buf: datagram,
        pos: 0,
    };
    if c.take(4)? != MAGIC || c.take(1)?[0] != VERSION || c.take(1)?[0] != KIND_RECORDING_STARTED {
        return Err(WireError::Malformed);
    }
    let device = PeerId(c.array()?);
    let session = c.array()?;
    let counter = u64::from_be_bytes(c.array()?);
    let utc_ms = i64::from_be_bytes(c.array()?);
    let hops = c.take(1)?[0];
    let origin = PeerId(c.array()?);
    let origin_recording = c.text()?;
    let agency = c.text()?;
    let signed_len = c.pos;
    let signature = c.take(SIG_LEN)?;
    if c.pos != datagram.len() {
        return Err(WireError::Malformed);
    }
    Ok(Unverified {
        announcement: Announcement {
            device,
            session,
            counter,
            utc_ms,
            hops,
            origin,
            origin_recording,
            agency,
        },
        signed: &datagram[..signed_len],
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    pub(crate) fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn sample() -> Announcement {
        Announcement {
            device: PeerId([1; 16]),
            session: [2; 16],
            counter: 7,
            utc_ms: 1_764_000_000_000,
            hops: 0,
            origin: PeerId([1; 16]),
            origin_recording: "20261125T175328Z".into(),
            agency: "metro-pd".into(),
        }
    }

    #[test]
    fn round_trips_and_verifies_only_under_its_key() {
        use ring::signature::KeyPair;
        let k = key();
        let bytes = sign(&sample(), &k);
        assert!(bytes.len() < MAX_DATAGRAM);
        let u = decode(&bytes).unwrap();
        assert_eq!(u.announcement, sample());
        assert!(u.verify(k.public_key().as_ref()));
        assert!(!u.verify(key().public_key().as_ref()));
    }

    #[test]
    fn any_flipped_bit_breaks_the_signature_or_the_format() {
        use ring::signature::KeyPair;
        let k = key();
        let bytes = sign(&sample(), &k);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x04;
            if let Ok(u) = decode(&b) {
                assert!(!u.verify(k.public_key().as_ref()), "byte {i}");
            }
        }
    }

    #[test]
    fn malformed_and_oversized_datagrams_are_refused() {
        let k = key();
        let good = sign(&sample(), &k);
        assert_eq!(decode(&[]), Err(WireError::Malformed));
        assert_eq!(decode(b"BCPA"), Err(WireError::Malformed));
        assert_eq!(decode(&good[..good.len() - 1]), Err(WireError::Malformed));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(WireError::Malformed));
        let mut v2 = good.clone();
        v2[4] = 2;
        assert_eq!(decode(&v2), Err(WireError::Malformed));
        assert_eq!(
            decode(&vec![0u8; MAX_DATAGRAM + 1]),
            Err(WireError::Oversized)
        );
        // A length byte pointing past the end.
        let mut long = good[..71].to_vec();
        long.push(200);
        assert_eq!(decode(&long), Err(WireError::Malformed));
    }
}
