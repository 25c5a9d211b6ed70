//! The muxer: PAT/PMT, PES packetisation, PCR and adaptation-field stuffing.

use super::fields::{crc32_mpeg2, encode_pcr, encode_timestamp};
use super::{
    AUDIO_PID, HEADER_LEN, PAT_PID, PCR_DELAY, PMT_PID, PROGRAM_NUMBER, SYNC_BYTE, TIMESTAMP_MASK,
    TRANSPORT_STREAM_ID, TS_PACKET, VIDEO_PID,
};

/// Payload bytes of a packet without adaptation field.
const MAX_PAYLOAD: usize = TS_PACKET - HEADER_LEN;
const STREAM_TYPE_H264: u8 = 0x1B;
const STREAM_TYPE_AAC_ADTS: u8 = 0x0F;
const STREAM_ID_VIDEO: u8 = 0xE0;
const STREAM_ID_AUDIO: u8 = 0xC0;
/// H.264 access unit delimiter: start code, nal_unit_type 9, primary_pic_type
/// 7 ("any slice type") followed by the RBSP stop bit.
const AUD_NAL: [u8; 6] = [0x00, 0x00, 0x00, 0x01, 0x09, 0xF0];
/// Largest PES payload that still fits a 16-bit PES_packet_length together
/// with a PTS-only optional header (3 + 5 bytes).
const MAX_AUDIO_PES_DATA: usize = 0xFFFF - 8;

/// The four PIDs this muxer writes; indexes the continuity counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Pat = 0,
    Pmt = 1,
    Video = 2,
    Audio = 3,
}

impl Stream {
    fn pid(self) -> u16 {
        match self {
            Stream::Pat => PAT_PID,
            Stream::Pmt => PMT_PID,
            Stream::Video => VIDEO_PID,
            Stream::Audio => AUDIO_PID,
        }
    }
}

/// Adaptation field contents requested for the first packet of a PES.
#[derive(Debug, Clone, Copy)]
struct FirstPacketFlags {
    random_access: bool,
    /// PCR in 90 kHz ticks (the 27 MHz extension is always 0).
    pcr: Option<u64>,
}

/// Stateful MPEG-TS muxer for one H.264 stream and an optional AAC stream.
///
/// State is limited to the per-PID continuity counters and whether audio is
/// declared in the PMT, so one muxer can be used across consecutive segment
/// files: the files then concatenate into one valid stream, and each one still
/// decodes on its own when it starts with a keyframe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsMuxer {
    with_audio: bool,
    /// Continuity counters indexed by [`Stream`], 4 bits each.
    cc: [u8; 4],
}

impl TsMuxer {
    /// Creates a muxer. With `with_audio` the PMT declares the AAC stream on
    /// [`AUDIO_PID`]; without it, [`TsMuxer::write_audio`] writes nothing.
    #[must_use]
    pub fn new(with_audio: bool) -> Self {
        Self {
            with_audio,
            cc: [0; 4],
        }
    }

    /// Whether the PMT declares an audio stream.
    #[must_use]
    pub fn with_audio(&self) -> bool {
        self.with_audio
    }

    /// Appends one PAT packet and one PMT packet (2 × 188 bytes).
    ///
    /// The PMT lists H.264 (stream_type 0x1B) on [`VIDEO_PID`] and, when the
    /// muxer has audio, AAC ADTS (stream_type 0x0F) on [`AUDIO_PID`], with
    /// PCR_PID = [`VIDEO_PID`]. Both sections carry a CRC32/MPEG-2.
    pub fn write_tables(&mut self, out: &mut Vec<u8>) {
        // PAT: one program, pointing at the PMT.
        let pmt_pid = PMT_PID.to_be_bytes();
        let program = PROGRAM_NUMBER.to_be_bytes();
        let pat_body = [program[0], program[1], 0xE0 | pmt_pid[0], pmt_pid[1]];
        let pat = psi_section(0x00, TRANSPORT_STREAM_ID, &pat_body);
        self.write_psi(out, Stream::Pat, &pat);

        // PMT: PCR PID, no program descriptors, then the elementary streams.
        let pcr_pid = VIDEO_PID.to_be_bytes();
        let mut pmt_body = Vec::with_capacity(14);
        pmt_body.extend_from_slice(&[0xE0 | pcr_pid[0], pcr_pid[1], 0xF0, 0x00]);
        push_es_entry(&mut pmt_body, STREAM_TYPE_H264, VIDEO_PID);
        if self.with_audio {
            push_es_entry(&mut pmt_body, STREAM_TYPE_AAC_ADTS, AUDIO_PID);
        }
        let pmt = psi_section(0x02, PROGRAM_NUMBER, &pmt_body);
        self.write_psi(out, Stream::Pmt, &pmt);
    }

    /// Appends one H.264 access unit (Annex-B byte stream) as one PES packet
    /// (stream_id 0xE0).
    ///
    /// * A keyframe is preceded by PAT + PMT and gets
    ///   `random_access_indicator = 1`.
    /// * An access unit delimiter NAL (`00 00 00 01 09 F0`) is prepended
    ///   unless `annexb` already starts with one.
    /// * The first packet carries a PCR of `dts - PCR_DELAY` (see
    ///   [`PCR_DELAY`]).
    /// * The DTS is only encoded when it differs from the PTS (after wrapping
    ///   both to 33 bits).
    /// * PES_packet_length is set when the PES fits 65535 bytes, 0
    ///   (unbounded, allowed for video) otherwise.
    pub fn write_video(
        &mut self,
        out: &mut Vec<u8>,
        pts: u64,
        dts: u64,
        keyframe: bool,
        annexb: &[u8],
    ) {
        if keyframe {
            self.write_tables(out);
        }
        let pts33 = pts & TIMESTAMP_MASK;
        let dts33 = dts & TIMESTAMP_MASK;
        let aud: &[u8] = if starts_with_aud(annexb) {
            &[]
        } else {
            &AUD_NAL
        };
        let mut header = [0u8; 19];
        let header_len = if dts33 == pts33 {
            pes_header(&mut header, STREAM_ID_VIDEO, pts33, None)
        } else {
            pes_header(&mut header, STREAM_ID_VIDEO, pts33, Some(dts33))
        };
        let pes_len = header_len - 6 + aud.len() + annexb.len();
        let length_field = u16::try_from(pes_len).unwrap_or(0).to_be_bytes();
        header[4] = length_field[0];
        header[5] = length_field[1];
        let header = header.get(..header_len).unwrap_or(&[]);
        let pcr = if dts < PCR_DELAY {
            0
        } else {
            (dts - PCR_DELAY) & TIMESTAMP_MASK
        };
        let flags = FirstPacketFlags {
            random_access: keyframe,
            pcr: Some(pcr),
        };
        self.write_pes(out, Stream::Video, &[header, aud, annexb], Some(flags));
    }

    /// Appends one ADTS AAC frame as one PES packet (stream_id 0xC0) with a
    /// PTS and PES_packet_length set.
    ///
    /// Writes nothing when the muxer was created without audio (a PID absent
    /// from the PMT would be ignored by every demuxer). A buffer too large
    /// for one PES (more than 65527 bytes, impossible for one ADTS frame whose
    /// length field has 13 bits) is carried in several consecutive PES
    /// packets, only the first of which has the PTS, so no byte is dropped.
    pub fn write_audio(&mut self, out: &mut Vec<u8>, pts: u64, adts: &[u8]) {
        if !self.with_audio {
            return;
        }
        let mut pts33 = Some(pts & TIMESTAMP_MASK);
        let mut rest = adts;
        loop {
            let (chunk, tail) = rest.split_at(rest.len().min(MAX_AUDIO_PES_DATA));
            let mut header = [0u8; 19];
            let header_len = match pts33.take() {
                Some(p) => pes_header(&mut header, STREAM_ID_AUDIO, p, None),
                None => pes_header_no_pts(&mut header, STREAM_ID_AUDIO),
            };
            let pes_len = header_len - 6 + chunk.len();
            let length_field = u16::try_from(pes_len).unwrap_or(0).to_be_bytes();
            header[4] = length_field[0];
            header[5] = length_field[1];
            let header = header.get(..header_len).unwrap_or(&[]);
            self.write_pes(out, Stream::Audio, &[header, chunk], None);
            if tail.is_empty() {
                break;
            }
            rest = tail;
        }
    }

    /// Returns the continuity counter to put in the next packet with payload
    /// on `stream`, and advances it modulo 16.
    fn next_cc(&mut self, stream: Stream) -> u8 {
        let slot = &mut self.cc[stream as usize];
        let cc = *slot;
        *slot = (cc + 1) & 0x0F;
        cc
    }

    /// Writes one PSI section (pointer_field 0, section, 0xFF padding) as a
    /// single packet. Sections built here are far smaller than 183 bytes.
    fn write_psi(&mut self, out: &mut Vec<u8>, stream: Stream, section: &[u8]) {
        let cc = self.next_cc(stream);
        let start = out.len();
        push_ts_header(out, stream.pid(), true, false, cc);
        out.push(0x00); // pointer_field
        let room = MAX_PAYLOAD - 1;
        out.extend_from_slice(section.get(..room.min(section.len())).unwrap_or(&[]));
        out.resize(start + TS_PACKET, 0xFF);
    }

    /// Splits the concatenation of `parts` (PES header + data) into transport
    /// packets on `stream`. The first packet gets an adaptation field when
    /// `first` is given; the last packet is padded with adaptation-field
    /// stuffing so that every packet is exactly [`TS_PACKET`] bytes.
    fn write_pes(
        &mut self,
        out: &mut Vec<u8>,
        stream: Stream,
        parts: &[&[u8]],
        first: Option<FirstPacketFlags>,
    ) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        out.reserve(total.div_ceil(MAX_PAYLOAD - 8) * TS_PACKET);
        let mut reader = PartsReader::new(parts);
        let mut written = 0usize;
        let mut first_packet = true;
        // `total` is never 0: every PES has at least its 9-byte header.
        while written < total {
            // Adaptation field content (flags + optional PCR), if required.
            let mut af_body = [0u8; 7];
            let mut af_body_len = 0usize;
            if first_packet && let Some(flags) = first {
                af_body[0] = if flags.random_access { 0x40 } else { 0x00 };
                af_body_len = 1;
                if let Some(pcr) = flags.pcr {
                    af_body[0] |= 0x10;
                    af_body[1..7].copy_from_slice(&encode_pcr(pcr, 0));
                    af_body_len = 7;
                }
            }
            let af_min = if af_body_len > 0 { 1 + af_body_len } else { 0 };
            let take = (total - written).min(MAX_PAYLOAD - af_min);
            let af_total = MAX_PAYLOAD - take;

            let cc = self.next_cc(stream);
            push_ts_header(out, stream.pid(), first_packet, af_total > 0, cc);
            if af_total > 0 {
                // adaptation_field_length counts the bytes after itself.
                out.push((af_total - 1) as u8);
                if af_total > 1 {
                    if af_body_len > 0 {
                        out.extend_from_slice(af_body.get(..af_body_len).unwrap_or(&[]));
                    } else {
                        out.push(0x00); // no flags set
                    }
                    let used = 1 + af_body_len.max(1);
                    out.resize(out.len() + (af_total - used), 0xFF);
                }
            }
            reader.copy_into(out, take);
            written += take;
            first_packet = false;
        }
    }
}

/// Sequential reader over a list of byte slices, used to packetize a PES
/// without first concatenating its header and payload.
struct PartsReader<'a> {
    parts: &'a [&'a [u8]],
    index: usize,
    offset: usize,
}

impl<'a> PartsReader<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        Self {
            parts,
            index: 0,
            offset: 0,
        }
    }

    /// Appends the next `n` bytes (or fewer if the parts run out) to `out`.
    fn copy_into(&mut self, out: &mut Vec<u8>, mut n: usize) {
        while n > 0 {
            let Some(part) = self.parts.get(self.index) else {
                return;
            };
            let avail = part.get(self.offset..).unwrap_or(&[]);
            if avail.is_empty() {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let k = n.min(avail.len());
            out.extend_from_slice(avail.get(..k).unwrap_or(&[]));
            self.offset += k;
            n -= k;
        }
    }
}

/// Appends a 4-byte transport packet header with payload present.
fn push_ts_header(out: &mut Vec<u8>, pid: u16, pusi: bool, adaptation: bool, cc: u8) {
    let pid = pid & 0x1FFF;
    let afc: u8 = if adaptation { 0b11 } else { 0b01 };
    out.extend_from_slice(&[
        SYNC_BYTE,
        (u8::from(pusi) << 6) | (pid >> 8) as u8,
        (pid & 0xFF) as u8,
        (afc << 4) | (cc & 0x0F),
    ]);
}

/// Appends one elementary stream entry (no descriptors) to a PMT body.
fn push_es_entry(body: &mut Vec<u8>, stream_type: u8, pid: u16) {
    let pid = (pid & 0x1FFF).to_be_bytes();
    body.extend_from_slice(&[stream_type, 0xE0 | pid[0], pid[1], 0xF0, 0x00]);
}

/// Builds a long-form PSI section (version 0, current, section 0 of 0) with
/// its CRC32.
fn psi_section(table_id: u8, id_extension: u16, body: &[u8]) -> Vec<u8> {
    // section_length counts from after the length field through the CRC.
    let section_length = 5 + body.len() + 4;
    let len = (section_length as u16 & 0x0FFF).to_be_bytes();
    let ext = id_extension.to_be_bytes();
    let mut s = Vec::with_capacity(3 + section_length);
    s.extend_from_slice(&[
        table_id,
        0xB0 | len[0], // section_syntax_indicator=1, '0', reserved '11'
        len[1],
        ext[0],
        ext[1],
        0xC1, // reserved '11', version_number 0, current_next_indicator 1
        0x00, // section_number
        0x00, // last_section_number
    ]);
    s.extend_from_slice(body);
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// Writes a PES header with a PTS (and a DTS when given) into `buf`, leaving
/// PES_packet_length (bytes 4..6) zero. Returns the header length.
fn pes_header(buf: &mut [u8; 19], stream_id: u8, pts: u64, dts: Option<u64>) -> usize {
    buf[..6].copy_from_slice(&[0x00, 0x00, 0x01, stream_id, 0x00, 0x00]);
    buf[6] = 0x84; // '10', not scrambled, data_alignment_indicator=1
    match dts {
        None => {
            buf[7] = 0x80;
            buf[8] = 5;
            buf[9..14].copy_from_slice(&encode_timestamp(0b0010, pts));
            14
        }
        Some(dts) => {
            buf[7] = 0xC0;
            buf[8] = 10;
            buf[9..14].copy_from_slice(&encode_timestamp(0b0011, pts));
            buf[14..19].copy_from_slice(&encode_timestamp(0b0001, dts));
            19
        }
    }
}

/// Writes a PES header without timestamps (continuation of an oversized
/// audio buffer). Returns the header length.
fn pes_header_no_pts(buf: &mut [u8; 19], stream_id: u8) -> usize {
    buf[..9].copy_from_slice(&[0x00, 0x00, 0x01, stream_id, 0x00, 0x00, 0x80, 0x00, 0x00]);
    9
}

/// Whether an Annex-B buffer begins (after leading zero bytes) with a start
/// code followed by an access unit delimiter NAL (nal_unit_type 9).
fn starts_with_aud(annexb: &[u8]) -> bool {
    let zeros = annexb.iter().take_while(|&&b| b == 0).count();
    zeros >= 2
        && annexb.get(zeros) == Some(&1)
        && annexb.get(zeros + 1).is_some_and(|h| h & 0x1F == 9)
}

#[cfg(test)]
mod tests;
