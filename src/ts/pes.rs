//! The audio frames of a segment, reassembled from their PES packets: what the verifier
//! compares with a declared span of inserted silence.

use super::fields::decode_timestamp;
use super::{AUDIO_PID, HEADER_LEN, SYNC_BYTE, TS_PACKET};

/// One ADTS frame found on [`AUDIO_PID`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// PTS (33-bit, 90 kHz).
    pub pts: u64,
    /// The frame's bytes (the PES payloads from its PES with a PTS up to the next one).
    pub data: Vec<u8>,
}

/// Every audio frame of `bytes`, in file order, up to the first packet without the
/// sync byte. A frame the muxer split over several PES packets (only the first has a
/// PTS) comes back whole. Never panics, whatever the input.
#[must_use]
pub fn audio_frames(bytes: &[u8]) -> Vec<AudioFrame> {
    let mut frames: Vec<AudioFrame> = Vec::new();
    // Whether the PES being read continues the last frame (false until a PES with a PTS).
    let mut open = false;
    let mut pes: Vec<u8> = Vec::new();
    let finish = |pes: &mut Vec<u8>, frames: &mut Vec<AudioFrame>, open: &mut bool| {
        if let Some((pts, data)) = pes_payload(pes) {
            match pts {
                Some(pts) => {
                    frames.push(AudioFrame {
                        pts,
                        data: data.to_vec(),
                    });
                    *open = true;
                }
                None => {
                    if let (true, Some(last)) = (*open, frames.last_mut()) {
                        last.data.extend_from_slice(data);
                    }
                }
            }
        }
        pes.clear();
    };
    for packet in bytes.chunks_exact(TS_PACKET) {
        if packet.first() != Some(&SYNC_BYTE) {
            break;
        }
        let (b1, b2, b3) = (packet[1], packet[2], packet[3]);
        let pid = (u16::from(b1 & 0x1F) << 8) | u16::from(b2);
        if pid != AUDIO_PID || b1 & 0x80 != 0 {
            continue;
        }
        let afc = (b3 >> 4) & 0x03;
        if afc & 0x01 == 0 {
            continue;
        }
        let mut start = HEADER_LEN;
        if afc & 0x02 != 0 {
            start += 1 + usize::from(packet[HEADER_LEN]);
        }
        let Some(payload) = packet.get(start..) else {
            continue;
        };
        if b1 & 0x40 != 0 {
            finish(&mut pes, &mut frames, &mut open);
        }
        pes.extend_from_slice(payload);
    }
    finish(&mut pes, &mut frames, &mut open);
    frames
}

/// A PES packet's PTS (if it has one) and its payload.
fn pes_payload(pes: &[u8]) -> Option<(Option<u64>, &[u8])> {
    if pes.get(..3)? != [0x00, 0x00, 0x01] {
        return None;
    }
    let declared = usize::from(u16::from_be_bytes([*pes.get(4)?, *pes.get(5)?]));
    let flags = *pes.get(7)?;
    let header_data_len = usize::from(*pes.get(8)?);
    let data_start = 9 + header_data_len;
    let end = if declared == 0 {
        pes.len()
    } else {
        (6 + declared).min(pes.len())
    };
    let pts = if flags & 0x80 != 0 && header_data_len >= 5 {
        let b: &[u8; 5] = pes.get(9..14)?.try_into().ok()?;
        Some(decode_timestamp(b))
    } else {
        None
    };
    Some((pts, pes.get(data_start..end)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ts::TsMuxer;
    use crate::ts::test_util::Rng;

    #[test]
    fn round_trips_the_muxers_audio() {
        let mut rng = Rng(5);
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        let mut sent = Vec::new();
        for i in 0..40u64 {
            m.write_video(
                &mut out,
                180_000 + i * 3000,
                180_000 + i * 3000,
                i % 10 == 0,
                &rng.some_bytes(2000),
            );
            // Small (silence-sized), ordinary and oversized frames (split over PES packets).
            let len = [11, 300, 9000][(i % 3) as usize];
            let data = rng.bytes(len);
            let pts = 180_000 + i * 1920;
            m.write_audio(&mut out, pts, &data);
            sent.push(AudioFrame { pts, data });
        }
        assert_eq!(audio_frames(&out), sent);
        // A cut inside the file loses only the frames after the cut.
        let cut = audio_frames(&out[..out.len() / 2]);
        assert!(!cut.is_empty() && cut.len() < sent.len());
        assert!(
            cut.iter()
                .zip(&sent)
                .take(cut.len() - 1)
                .all(|(a, b)| a == b)
        );
    }
}
