//! A segment's content key, wrapped to each recipient, and the keys derived from it.
//!
//! Modelled on age's X25519 recipient stanza (c2sp.org/age), with its own labels:
//!
//! ```text
//! e, E          ephemeral X25519 key pair, fresh per recipient and segment
//! shared        X25519(e, R)                       (all-zero is refused)
//! wrap_key      HKDF-SHA-256(ikm = shared, salt = E ‖ R, info = "bodycam-v2 x25519 wrap")
//! wrapped       ChaCha20-Poly1305(wrap_key, nonce = 0¹², aad = location, content_key)   48 bytes
//! media_key     HKDF-SHA-256(ikm = content_key, salt = "", info = "bodycam-v2 media")
//! commitment    HKDF-SHA-256(ikm = content_key, salt = "", info = "bodycam-v2 commitment")
//! ```
//! `location` is [`super::location`]. The commitment (in the signed keys record) ties
//! every recipient to the same content key: ChaCha20-Poly1305 alone does not commit to
//! its key, so without it a camera could wrap different keys to different recipients
//! that open the same ciphertext differently.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
use ring::rand::SecureRandom;

use super::keys::{KeyId, Recipient};
use super::{KEY_LEN, TAG_LEN, wipe};

/// HKDF info of the wrapping key.
pub const WRAP_INFO: &[u8] = b"bodycam-v2 x25519 wrap";
/// HKDF info of the media key.
pub const MEDIA_INFO: &[u8] = b"bodycam-v2 media";
/// HKDF info of the key commitment.
pub const COMMITMENT_INFO: &[u8] = b"bodycam-v2 commitment";
/// Length of a wrapped content key (key + tag).
pub const WRAPPED_LEN: usize = KEY_LEN + TAG_LEN;

/// One recipient's share of a segment's content key, as in the keys record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WrappedKey {
    /// The recipient's key id.
    #[serde(serialize_with = "hex_ser")]
    pub key_id: KeyId,
    /// The ephemeral X25519 public key E.
    #[serde(serialize_with = "hex_ser")]
    pub ephemeral: [u8; 32],
    /// The content key sealed under the wrapping key.
    #[serde(serialize_with = "hex_ser")]
    pub wrapped: [u8; WRAPPED_LEN],
}

fn hex_ser<S: serde::Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

/// Why a key could not be wrapped or unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WrapError {
    /// The random source failed.
    #[error("the random source failed")]
    Random,
    /// The agreement gave the all-zero secret (a key of small order).
    #[error("X25519 agreement failed (a public key of small order)")]
    Agreement,
    /// The wrapped key does not open: another key, another segment, or damage.
    #[error("the wrapped key does not open with this private key at this location")]
    Unwrap,
}

/// `len` bytes of HKDF-SHA-256 output.
struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA-256 (RFC 5869) of `ikm` with `salt` and `info`, 32 bytes.
pub fn hkdf32(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let prk = Salt::new(HKDF_SHA256, salt).extract(ikm);
    let infos = [info];
    // 32 bytes is far below HKDF's limit of 255 × 32: expand cannot fail.
    if let Ok(okm) = prk.expand(&infos, Len(32)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// The AEAD key of the media chunks.
pub fn media_key(content_key: &[u8; KEY_LEN]) -> LessSafeKey {
    let mut k = hkdf32(content_key, &[], MEDIA_INFO);
    let key = aead_key(&k);
    wipe(&mut k);
    key
}

/// The AEAD key of the sealed location records (`super::track`).
pub fn location_key(content_key: &[u8; KEY_LEN]) -> LessSafeKey {
    let mut k = hkdf32(content_key, &[], super::track::LABEL);
    let key = aead_key(&k);
    wipe(&mut k);
    key
}

/// The commitment to a content key (in the keys record).
pub fn commitment(content_key: &[u8; KEY_LEN]) -> [u8; 32] {
    hkdf32(content_key, &[], COMMITMENT_INFO)
}

/// A ChaCha20-Poly1305 key from 32 bytes.
pub fn aead_key(bytes: &[u8; KEY_LEN]) -> LessSafeKey {
    // 32 bytes is ChaCha20-Poly1305's key length: construction cannot fail.
    match UnboundKey::new(&CHACHA20_POLY1305, bytes) {
        Ok(k) => LessSafeKey::new(k),
        Err(_) => unreachable!("a 32-byte ChaCha20-Poly1305 key is always valid"),
    }
}

fn wrap_key(shared: &[u8], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> [u8; 32] {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    hkdf32(shared, &salt, WRAP_INFO)
}

/// Wrap `content_key` to `recipient` at `location`; `rng` gives the ephemeral key.
pub fn wrap(
    content_key: &[u8; KEY_LEN],
    recipient: &Recipient,
    location: &[u8],
    rng: &dyn SecureRandom,
) -> Result<WrappedKey, WrapError> {
    let eph = EphemeralPrivateKey::generate(&X25519, rng).map_err(|_| WrapError::Random)?;
    let e_pub: [u8; 32] = eph
        .compute_public_key()
        .map_err(|_| WrapError::Random)?
        .as_ref()
        .try_into()
        .map_err(|_| WrapError::Random)?;
    let mut key = agreement::agree_ephemeral(
        eph,
        &UnparsedPublicKey::new(&X25519, &recipient.public_key),
        |shared| wrap_key(shared, &e_pub, &recipient.public_key),
    )
    .map_err(|_| WrapError::Agreement)?;
    let sealer = aead_key(&key);
    wipe(&mut key);
    let mut buf = content_key.to_vec();
    let tag = sealer
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(location),
            &mut buf,
        )
        .map_err(|_| WrapError::Random)?;
    let mut wrapped = [0u8; WRAPPED_LEN];
    wrapped[..KEY_LEN].copy_from_slice(&buf);
    wrapped[KEY_LEN..].copy_from_slice(tag.as_ref());
    Ok(WrappedKey {
        key_id: recipient.key_id,
        ephemeral: e_pub,
        wrapped,
    })
}

/// Open a wrapped key with the shared secret X25519(r, E) the examiner computed.
pub fn unwrap_with_shared(
    shared: &[u8; 32],
    recipient_public: &[u8; 32],
    w: &WrappedKey,
    location: &[u8],
) -> Result<[u8; KEY_LEN], WrapError> {
    if shared.iter().all(|b| *b == 0) {
        return Err(WrapError::Agreement);
    }
    let mut key = wrap_key(shared, &w.ephemeral, recipient_public);
    let opener = aead_key(&key);
    wipe(&mut key);
    let mut buf = w.wrapped.to_vec();
    let result = opener
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(location),
            &mut buf,
        )
        .map(|plain| {
            let mut k = [0u8; KEY_LEN];
            k.copy_from_slice(plain);
            k
        })
        .map_err(|_| WrapError::Unwrap);
    wipe(&mut buf);
    result
}

/// Unwrap with a stored private key (examiner only).
#[cfg(feature = "examiner")]
pub fn unwrap(
    key: &super::keys::FootageKey,
    w: &WrappedKey,
    location: &[u8],
) -> Result<[u8; KEY_LEN], WrapError> {
    let shared = key
        .secret
        .diffie_hellman(&x25519_dalek::PublicKey::from(w.ephemeral));
    if !shared.was_contributory() {
        return Err(WrapError::Agreement);
    }
    unwrap_with_shared(shared.as_bytes(), &key.public_key, w, location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_matches_rfc5869_test_case_1() {
        // RFC 5869 A.1 (the first 32 of its 42 output bytes).
        let ikm = [0x0b; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
        assert_eq!(
            hex::encode(hkdf32(&ikm, &salt, &info)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[cfg(feature = "examiner")]
    #[test]
    fn wrapped_keys_open_only_with_their_key_at_their_location() {
        use crate::confidential::keys::{FootageKey, key_id_for};
        let d = tempfile::tempdir().unwrap();
        let (file, _) = FootageKey::pair_from(&[3u8; 32]);
        let p = d.path().join("k.key");
        std::fs::write(&p, serde_json::to_string(&file).unwrap()).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let key = FootageKey::load(&p).unwrap();
        let recipient = Recipient {
            path: p.clone(),
            public_key: key.public_key,
            key_id: key_id_for(&key.public_key),
        };
        let ck = [0x42u8; 32];
        let loc = crate::confidential::location(&[1; 16], "r", 1);
        let w = wrap(&ck, &recipient, &loc, &ring::rand::SystemRandom::new()).unwrap();
        assert_eq!(unwrap(&key, &w, &loc).unwrap(), ck);
        let elsewhere = crate::confidential::location(&[1; 16], "r", 2);
        assert_eq!(unwrap(&key, &w, &elsewhere), Err(WrapError::Unwrap));
        let mut bent = w.clone();
        bent.wrapped[3] ^= 1;
        assert_eq!(unwrap(&key, &bent, &loc), Err(WrapError::Unwrap));
        let (other, _) = FootageKey::pair_from(&[4u8; 32]);
        let q = d.path().join("o.key");
        std::fs::write(&q, serde_json::to_string(&other).unwrap()).unwrap();
        std::fs::set_permissions(&q, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        assert_eq!(
            unwrap(&FootageKey::load(&q).unwrap(), &w, &loc),
            Err(WrapError::Unwrap)
        );
    }
}
