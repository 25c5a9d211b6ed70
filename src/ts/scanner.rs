//! The scanner: frame and keyframe counts of a (possibly truncated) stream, used by
//! recovery and by the verifier.

use serde::Serialize;

use super::fields::decode_timestamp;
use super::{AUDIO_PID, HEADER_LEN, SYNC_BYTE, TS_PACKET, VIDEO_PID};

/// What [`scan`] found in a (possibly truncated) transport stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// Bytes covered by complete 188-byte packets with a valid sync byte,
    /// counted from the start up to the first packet without one.
    pub whole_packets_bytes: u64,
    /// Bytes after that (partial last packet or garbage). Never removed by
    /// anyone, just reported.
    pub trailing_bytes: u64,
    /// PES packets with a PTS on [`VIDEO_PID`].
    pub video_frames: u64,
    /// PES packets with a PTS on [`AUDIO_PID`].
    pub audio_frames: u64,
    /// Video PES packets whose first packet has random_access_indicator set.
    pub keyframes: u64,
    /// PTS (33-bit) of the first video frame.
    pub first_video_pts: Option<u64>,
    /// PTS (33-bit) of the last video frame.
    pub last_video_pts: Option<u64>,
    /// PTS (33-bit) of the first audio frame.
    pub first_audio_pts: Option<u64>,
    /// PTS (33-bit) of the last audio frame.
    pub last_audio_pts: Option<u64>,
    /// Byte offset of the first TS packet of the last keyframe's PES.
    pub last_keyframe_offset: Option<u64>,
}

/// Start of a PES found in one transport packet.
struct PesStart {
    pid: u16,
    random_access: bool,
    pts: u64,
}

/// Scans transport packets from the start of `bytes`, counting the video and
/// audio frames (PES packets on [`VIDEO_PID`] / [`AUDIO_PID`] whose header,
/// including the PTS, is complete within their first packet) and keyframes.
///
/// Scanning stops at the first 188-byte packet that does not start with the
/// sync byte 0x47, or at the last complete packet; everything after is
/// reported as [`ScanSummary::trailing_bytes`]. Never panics, whatever the
/// input.
#[must_use]
pub fn scan(bytes: &[u8]) -> ScanSummary {
    let mut summary = ScanSummary::default();
    let mut whole = 0u64;
    for packet in bytes.chunks_exact(TS_PACKET) {
        if packet.first() != Some(&SYNC_BYTE) {
            break;
        }
        if let Some(pes) = parse_pes_start(packet) {
            if pes.pid == VIDEO_PID {
                summary.video_frames += 1;
                summary.first_video_pts.get_or_insert(pes.pts);
                summary.last_video_pts = Some(pes.pts);
                if pes.random_access {
                    summary.keyframes += 1;
                    summary.last_keyframe_offset = Some(whole);
                }
            } else {
                summary.audio_frames += 1;
                summary.first_audio_pts.get_or_insert(pes.pts);
                summary.last_audio_pts = Some(pes.pts);
            }
        }
        whole += TS_PACKET as u64;
    }
    summary.whole_packets_bytes = whole;
    summary.trailing_bytes = (bytes.len() as u64).saturating_sub(whole);
    summary
}

/// Parses one transport packet and returns the PES start it carries, if it
/// is on the video or audio PID, has payload_unit_start_indicator set and a
/// complete PES header with a PTS.
fn parse_pes_start(packet: &[u8]) -> Option<PesStart> {
    let b1 = *packet.get(1)?;
    let b2 = *packet.get(2)?;
    let b3 = *packet.get(3)?;
    if b1 & 0x80 != 0 {
        return None; // transport_error_indicator
    }
    let pusi = b1 & 0x40 != 0;
    let pid = (u16::from(b1 & 0x1F) << 8) | u16::from(b2);
    if !pusi || (pid != VIDEO_PID && pid != AUDIO_PID) {
        return None;
    }
    let afc = (b3 >> 4) & 0x03;
    if afc & 0x01 == 0 {
        return None; // no payload
    }
    let mut payload_start = HEADER_LEN;
    let mut random_access = false;
    if afc & 0x02 != 0 {
        let af_len = usize::from(*packet.get(HEADER_LEN)?);
        if af_len > 0 {
            random_access = packet.get(HEADER_LEN + 1)? & 0x40 != 0;
        }
        payload_start = HEADER_LEN + 1 + af_len;
    }
    let pes = packet.get(payload_start..)?;
    if pes.get(..3)? != [0x00, 0x00, 0x01] {
        return None;
    }
    let flags = *pes.get(7)?;
    let header_data_len = usize::from(*pes.get(8)?);
    if flags & 0x80 == 0 || header_data_len < 5 {
        return None; // no PTS
    }
    // The whole optional header must be within this packet.
    pes.get(9..9 + header_data_len)?;
    let pts_bytes: &[u8; 5] = pes.get(9..14)?.try_into().ok()?;
    Some(PesStart {
        pid,
        random_access,
        pts: decode_timestamp(pts_bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ts::test_util::Rng;
    use crate::ts::{TIMESTAMP_MASK, TsMuxer};

    #[test]
    fn scan_round_trips_muxer_output() {
        let mut rng = Rng(3);
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        let base = (1u64 << 33) - 30_000; // crosses the 33-bit wrap
        let mut key_offset = None;
        let (mut v, mut a) = (0u64, 0u64);
        for i in 0..60u64 {
            let vpts = base + i * 6000;
            let key = i % 15 == 0;
            let before = out.len();
            m.write_video(&mut out, vpts, vpts, key, &rng.some_bytes(4000));
            if key {
                key_offset = Some(before as u64 + 2 * TS_PACKET as u64);
            }
            v += 1;
            while base + a * 1920 < vpts + 6000 {
                m.write_audio(&mut out, base + a * 1920, &rng.some_bytes(400));
                a += 1;
            }
        }
        let s = scan(&out);
        assert_eq!(s.whole_packets_bytes, out.len() as u64);
        assert_eq!(s.trailing_bytes, 0);
        assert_eq!(s.video_frames, v);
        assert_eq!(s.audio_frames, a);
        assert_eq!(s.keyframes, 4);
        assert_eq!(s.first_video_pts, Some(base & TIMESTAMP_MASK));
        assert_eq!(s.last_video_pts, Some((base + 59 * 6000) & TIMESTAMP_MASK));
        assert_eq!(s.first_audio_pts, Some(base & TIMESTAMP_MASK));
        assert_eq!(
            s.last_audio_pts,
            Some((base + (a - 1) * 1920) & TIMESTAMP_MASK)
        );
        assert_eq!(s.last_keyframe_offset, key_offset);

        // Partial trailing packet.
        let s = scan(&out[..out.len() - 100]);
        assert_eq!(s.trailing_bytes, 88);
        // Garbage in the middle stops the scan there.
        let mut bad = out.clone();
        bad[TS_PACKET * 10] = 0x00;
        let s = scan(&bad);
        assert_eq!(s.whole_packets_bytes, TS_PACKET as u64 * 10);
        assert_eq!(s.trailing_bytes, (out.len() - TS_PACKET * 10) as u64);
    }

    #[test]
    fn scan_every_truncation_point() {
        let mut rng = Rng(11);
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        for i in 0..12u64 {
            m.write_video(
                &mut out,
                90_000 + i * 6000,
                90_000 + i * 6000,
                i % 4 == 0,
                &rng.some_bytes(900),
            );
            m.write_audio(&mut out, 90_000 + i * 6000, &rng.some_bytes(300));
        }
        let full = scan(&out);
        let mut prev = ScanSummary::default();
        for cut in 0..=out.len() {
            let s = scan(&out[..cut]);
            assert_eq!(s.whole_packets_bytes + s.trailing_bytes, cut as u64);
            assert_eq!(s.whole_packets_bytes, (cut / TS_PACKET * TS_PACKET) as u64);
            assert!(s.video_frames >= prev.video_frames && s.video_frames <= full.video_frames);
            assert!(s.audio_frames >= prev.audio_frames && s.audio_frames <= full.audio_frames);
            assert!(s.keyframes >= prev.keyframes);
            if let Some(off) = s.last_keyframe_offset {
                assert!(off + TS_PACKET as u64 <= s.whole_packets_bytes);
            }
            prev = s;
        }
        assert_eq!(prev, full);
    }

    #[test]
    fn scan_never_panics_on_garbage() {
        let mut rng = Rng(0xDEAD_BEEF);
        // Pure noise.
        for _ in 0..2000 {
            let n = rng.below(2000);
            let s = scan(&rng.bytes(n));
            assert_eq!(s.whole_packets_bytes + s.trailing_bytes, n as u64);
        }
        // Noise with valid sync bytes and interesting PIDs / flags.
        for _ in 0..2000 {
            let packets = 1 + rng.below(10);
            let extra = rng.below(TS_PACKET);
            let mut buf = rng.bytes(packets * TS_PACKET + extra);
            for p in 0..packets {
                let o = p * TS_PACKET;
                buf[o] = SYNC_BYTE;
                if rng.below(2) == 0 {
                    buf[o + 1] = 0x41; // PUSI, PID 0x100 or 0x101
                    buf[o + 2] = rng.below(2) as u8;
                }
                if rng.below(2) == 0 {
                    let pos = 4 + rng.below(TS_PACKET - 7);
                    buf[o + pos..o + pos + 3].copy_from_slice(&[0, 0, 1]);
                }
            }
            let s = scan(&buf);
            assert_eq!(s.whole_packets_bytes, (packets * TS_PACKET) as u64);
        }
        // Bit flips in real muxer output.
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        for i in 0..20u64 {
            m.write_video(&mut out, i * 6000, i * 6000, i % 5 == 0, &rng.bytes(500));
            m.write_audio(&mut out, i * 6000, &rng.bytes(200));
        }
        for _ in 0..3000 {
            let mut bad = out.clone();
            for _ in 0..1 + rng.below(20) {
                let i = rng.below(bad.len());
                bad[i] ^= 1 << rng.below(8);
            }
            let cut = rng.below(bad.len() + 1);
            let s = scan(&bad[..cut]);
            assert_eq!(s.whole_packets_bytes + s.trailing_bytes, cut as u64);
        }
    }
}
