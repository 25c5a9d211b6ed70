//! Bit-level encodings shared by the muxer and the scanner: the PSI CRC, the
//! 33-bit PES timestamps and the PCR.

use super::TIMESTAMP_MASK;

/// CRC-32/MPEG-2: polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no
/// reflection, no final XOR.
pub(super) fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Encodes a 33-bit timestamp in the 5-byte PES format: a 4-bit `prefix`,
/// then bits 32..30, 29..15 and 14..0, each group followed by a marker bit.
pub(super) fn encode_timestamp(prefix: u8, ts: u64) -> [u8; 5] {
    let ts = ts & TIMESTAMP_MASK;
    [
        (prefix << 4) | (((ts >> 29) & 0x0E) as u8) | 1,
        ((ts >> 22) & 0xFF) as u8,
        (((ts >> 14) & 0xFE) as u8) | 1,
        ((ts >> 7) & 0xFF) as u8,
        (((ts << 1) & 0xFE) as u8) | 1,
    ]
}

/// Decodes the 5-byte PES timestamp format (prefix and markers ignored).
pub(super) fn decode_timestamp(b: &[u8; 5]) -> u64 {
    (u64::from((b[0] >> 1) & 0x07) << 30)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | u64::from(b[4] >> 1)
}

/// Encodes a PCR (33-bit base in 90 kHz, 9-bit extension in 27 MHz ticks;
/// PCR = base × 300 + extension) into its 6-byte adaptation field form.
pub(super) fn encode_pcr(base: u64, ext: u16) -> [u8; 6] {
    let base = base & TIMESTAMP_MASK;
    let ext = ext % 300;
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        (((base & 1) as u8) << 7) | 0x7E | ((ext >> 8) as u8 & 1),
        (ext & 0xFF) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_mpeg2_check_value() {
        // Catalogue check value of CRC-32/MPEG-2.
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
        assert_eq!(crc32_mpeg2(&[]), 0xFFFF_FFFF);
    }

    #[test]
    fn pts_encoding_bits_and_markers() {
        for (prefix, ts) in [
            (0b0010u8, 0u64),
            (0b0010, 1),
            (0b0011, 90_000),
            (0b0001, 0x1_2345_6789),
            (0b0010, (1 << 32) + 12345),
            (0b0010, (1 << 33) - 1),
        ] {
            let b = encode_timestamp(prefix, ts);
            assert_eq!(b[0] >> 4, prefix);
            assert_eq!(b[0] & 1, 1, "marker 1");
            assert_eq!(b[2] & 1, 1, "marker 2");
            assert_eq!(b[4] & 1, 1, "marker 3");
            assert_eq!(u64::from((b[0] >> 1) & 7), ts >> 30);
            assert_eq!(decode_timestamp(&b), ts);
        }
        // Explicit bit layout for 2^32 + 3: bits 32..30 = 0b100.
        assert_eq!(
            encode_timestamp(0b0010, (1 << 32) + 3),
            [0x29, 0x00, 0x01, 0x00, 0x07]
        );
        // Values beyond 33 bits wrap.
        assert_eq!(
            encode_timestamp(0b0010, (1 << 33) + 5),
            encode_timestamp(0b0010, 5)
        );
    }

    #[test]
    fn pcr_encoding() {
        let b = encode_pcr(0x1_FFFF_FFFF, 299);
        assert_eq!(b, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x2B]);
        let b = encode_pcr(1, 0);
        assert_eq!(b, [0, 0, 0, 0, 0xFE, 0]);
        let b = encode_pcr(2, 256);
        assert_eq!(b, [0, 0, 0, 1, 0x7F, 0]);
    }
}
