//! Confidential footage (docs/EVIDENCE-FORMAT.md §9): segments encrypted on the camera to
//! the agency's X25519 public key(s), so that a camera taken apart cannot decrypt what it
//! recorded, while the signatures still cover the bytes on flash and anyone can verify
//! them without a secret.
//!
//! # Layout
//! - [`keys`]: the agency's footage key files (the public recipient file the camera
//!   reads, the private key file the examiner keeps) and key ids.
//! - [`wrap`]: a segment's content key wrapped to each recipient (ephemeral X25519,
//!   HKDF-SHA-256, ChaCha20-Poly1305), and the keys derived from it.
//! - [`chunk`]: the media as AEAD chunks: header, nonce, associated data, sealing,
//!   opening, and the keyless walk a verifier does over a file of chunks.
//! - [`track`]: the location track of an encrypted segment, each fix sealed under the
//!   segment's location key.
//! - [`sealing`]: the camera's side: the encryption mode and recipients in force (read
//!   again at every segment, for rotation), and one segment's sealer.
//!
//! The camera uses only `ring`. Unwrapping with a stored private key (the examiner's
//! side) needs x25519-dalek and lives behind the `examiner` feature.

pub mod chunk;
pub mod keys;
pub mod sealing;
pub mod track;
pub mod wrap;

/// AEAD of every wrapped key and chunk: ChaCha20-Poly1305 (RFC 8439), the code in a
/// segment's keys record. The only one defined.
pub const AEAD_CHACHA20_POLY1305: u8 = 1;
/// Its name in sidecars and reports.
pub const AEAD_NAME: &str = "chacha20-poly1305";
/// Length of a content key, a wrapping key and a media key.
pub const KEY_LEN: usize = 32;
/// Length of an AEAD tag.
pub const TAG_LEN: usize = 16;
/// Length of a key id (the first bytes of SHA-256 of the recipient's public key).
pub const KEY_ID_LEN: usize = 16;

/// Overwrite `bytes` with zeros in a way the optimiser keeps (a content key, a shared
/// secret, plaintext no longer needed).
pub fn wipe(bytes: &mut [u8]) {
    for b in bytes.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference to one byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// The `str` encoding of the format (u16 big-endian length, UTF-8 bytes), as in records.
fn put_str(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..end]);
}

/// Where a segment is: device id ‖ str recording id ‖ u32 segment. Bound into every
/// wrapped key and every chunk, so neither can be moved to another segment, recording
/// or device.
pub fn location(device_id: &[u8; 16], recording_id: &str, segment: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 2 + recording_id.len() + 4);
    out.extend_from_slice(device_id);
    put_str(&mut out, recording_id);
    out.extend_from_slice(&segment.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_zeroes_and_location_is_the_record_encoding() {
        let mut k = [7u8; 32];
        wipe(&mut k);
        assert_eq!(k, [0; 32]);
        let l = location(&[1; 16], "20261125T175328Z", 3);
        assert_eq!(&l[..16], &[1; 16]);
        assert_eq!(&l[16..18], &[0, 16]);
        assert_eq!(&l[18..34], b"20261125T175328Z");
        assert_eq!(&l[34..], &[0, 0, 0, 3]);
    }
}
