//! The location track of an encrypted segment (docs/EVIDENCE-FORMAT.md §10.1.1): each
//! sample's fix sealed with ChaCha20-Poly1305 under the segment's location key.
//!
//! ```text
//! location_key = HKDF(K, "", "bodycam-v2 location")
//! nonce        = 0x00 × 8 ‖ u32 seq                      (12 bytes)
//! aad          = "bodycam-v2 location" ‖ location ‖ u32 seq ‖ u64 pts_90k
//! sealed       = AEAD(location_key, nonce, aad, fix [30]) = ciphertext [30] ‖ tag [16]
//! ```
//! `seq` counts the segment's sealed location records from 0; each content key (so each
//! location key) belongs to one segment, so no nonce repeats under a key. The camera
//! seals ([`seal`], ring only); the examiner opens ([`open`]) with the content key it
//! unwrapped.

use ring::aead::{Aad, LessSafeKey, Nonce};

use crate::evidence::payload::{FIX_LEN, Fix, SEALED_FIX_LEN, fix_bytes, fix_from_bytes};

use super::{TAG_LEN, wipe};

/// Label at the start of every sealed location's associated data (19 ASCII bytes), and
/// the HKDF info of the location key.
pub const LABEL: &[u8] = b"bodycam-v2 location";

/// The nonce of the `seq`-th sealed location of a segment.
pub fn nonce_bytes(seq: u32) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[8..].copy_from_slice(&seq.to_be_bytes());
    n
}

/// The associated data of the `seq`-th sealed location, at `pts_90k`, of the segment
/// at `location`.
pub fn aad(location: &[u8], seq: u32, pts_90k: u64) -> Vec<u8> {
    let mut a = Vec::with_capacity(LABEL.len() + location.len() + 12);
    a.extend_from_slice(LABEL);
    a.extend_from_slice(location);
    a.extend_from_slice(&seq.to_be_bytes());
    a.extend_from_slice(&pts_90k.to_be_bytes());
    a
}

/// Seal `fix` as the `seq`-th location of the segment at `location`.
pub fn seal(
    key: &LessSafeKey,
    location: &[u8],
    seq: u32,
    pts_90k: u64,
    fix: &Fix,
) -> [u8; SEALED_FIX_LEN] {
    let mut buf = fix_bytes(fix);
    let aad = aad(location, seq, pts_90k);
    let tag = match key.seal_in_place_separate_tag(
        Nonce::assume_unique_for_key(nonce_bytes(seq)),
        Aad::from(&aad),
        &mut buf,
    ) {
        Ok(t) => t,
        Err(_) => unreachable!("30 bytes are far below ChaCha20-Poly1305's length limit"),
    };
    let mut out = [0u8; SEALED_FIX_LEN];
    out[..FIX_LEN].copy_from_slice(&buf);
    out[FIX_LEN..].copy_from_slice(tag.as_ref());
    out
}

/// Open the `seq`-th sealed location; `Err` when it does not authenticate (another
/// key, segment, position or time, or altered) or holds an unknown fix quality.
pub fn open(
    key: &LessSafeKey,
    location: &[u8],
    seq: u32,
    pts_90k: u64,
    sealed: &[u8; SEALED_FIX_LEN],
) -> Result<Fix, String> {
    let mut buf = *sealed;
    let aad = aad(location, seq, pts_90k);
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce_bytes(seq)),
            Aad::from(&aad),
            &mut buf,
        )
        .map_err(|_| format!("sealed location {seq} does not authenticate"))?;
    let mut fix = [0u8; FIX_LEN];
    fix.copy_from_slice(plain);
    let out = fix_from_bytes(&fix).map_err(|e| format!("sealed location {seq}: {e}"));
    wipe(&mut fix);
    wipe(&mut buf);
    out
}

const _: () = assert!(SEALED_FIX_LEN == FIX_LEN + TAG_LEN);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confidential::{location, wrap};
    use crate::evidence::payload::FixQuality;

    #[test]
    fn a_sealed_fix_opens_only_at_its_place_and_time() {
        let k = wrap::location_key(&[5u8; 32]);
        let loc = location(&[1; 16], "r", 2);
        let fix = Fix {
            quality: FixQuality::Fix3d,
            fix_utc_ms: 1_764_000_000_000,
            lat_e7: 515_007_000,
            lon_e7: -1_246_000,
            alt_cm: 1250,
            h_acc_cm: 300,
            v_acc_cm: 500,
            source: 1,
        };
        let s = seal(&k, &loc, 3, 180_000, &fix);
        assert_ne!(&s[..FIX_LEN], &fix_bytes(&fix)[..]);
        assert_eq!(open(&k, &loc, 3, 180_000, &s), Ok(fix));
        assert!(open(&k, &loc, 4, 180_000, &s).is_err());
        assert!(open(&k, &loc, 3, 180_001, &s).is_err());
        assert!(open(&k, &location(&[1; 16], "r", 3), 3, 180_000, &s).is_err());
        assert!(open(&wrap::location_key(&[6u8; 32]), &loc, 3, 180_000, &s).is_err());
        let mut bent = s;
        bent[7] ^= 1;
        assert!(open(&k, &loc, 3, 180_000, &bent).is_err());
        // The media key of the same content key is another key.
        assert!(open(&wrap::media_key(&[5u8; 32]), &loc, 3, 180_000, &s).is_err());
    }
}
/// The test vector of docs/EVIDENCE-FORMAT.md §10.1.1 (checked there against an
/// independent implementation, Python's `cryptography`).
#[cfg(test)]
mod vector {
    use super::*;
    use crate::confidential::{location, wrap};
    use crate::evidence::payload::FixQuality;

    #[test]
    fn the_spec_vector_holds() {
        let k = [5u8; 32];
        let loc = location(&[1; 16], "20261125T175328Z", 2);
        let fix = Fix {
            quality: FixQuality::Fix3d,
            fix_utc_ms: 1_764_093_208_000,
            lat_e7: 515_007_000,
            lon_e7: -1_246_000,
            alt_cm: 1250,
            h_acc_cm: 300,
            v_acc_cm: 500,
            source: 1,
        };
        assert_eq!(
            hex::encode(wrap::hkdf32(&k, &[], LABEL)),
            "be329126736a22b84a1d07293aafb6f24cd7e0fa5b2a2c54025014de9686e293"
        );
        assert_eq!(
            hex::encode(fix_bytes(&fix)),
            "030000019abc2625c01eb26218ffecfcd0000004e20000012c000001f401"
        );
        assert_eq!(
            hex::encode(aad(&loc, 3, 180_000)),
            "626f647963616d2d7632206c6f636174696f6e\
             01010101010101010101010101010101\
             00103230323631313235543137353332385a00000002\
             00000003000000000002bf20"
        );
        let sealed = seal(&wrap::location_key(&k), &loc, 3, 180_000, &fix);
        assert_eq!(
            hex::encode(sealed),
            "54be08f4b7caa9abcb13768d97ed2de22029785071404f6c6b87c9a7e5965d91fc1994101b825fe8b2ee40f55be3"
        );
        assert_eq!(
            open(&wrap::location_key(&k), &loc, 3, 180_000, &sealed),
            Ok(fix)
        );
    }
}
