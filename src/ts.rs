//! Minimal MPEG-2 transport stream (ISO/IEC 13818-1) muxer and scanner for
//! recording segments.
//!
//! The recorder writes its segment files itself so that it can hash every
//! byte in-line and knows the exact byte offset of every frame. This module is
//! pure: every function appends whole 188-byte transport packets to a
//! caller-owned `Vec<u8>` and performs no I/O.
//!
//! # Stream layout
//!
//! * One program (program number 1), PMT on [`PMT_PID`], H.264 (stream_type
//!   0x1B) on [`VIDEO_PID`] and, optionally, AAC in ADTS (stream_type 0x0F) on
//!   [`AUDIO_PID`]. The PCR is carried on [`VIDEO_PID`].
//! * Every keyframe is preceded by PAT + PMT, and its first packet has
//!   `random_access_indicator = 1`, so a segment that starts at a keyframe (or
//!   a reader that seeks to one) decodes on its own.
//! * Every access unit / ADTS frame is exactly one PES packet that starts at a
//!   packet boundary, so a file cut at any byte (power loss) still decodes up
//!   to the last complete frame before the cut.
//! * The first packet of every video PES carries a PCR equal to the DTS minus
//!   [`PCR_DELAY`] (700 ms), i.e. the stream models a decoder buffer of 700 ms.
//!
//! # Timestamps
//!
//! PTS/DTS are 90 kHz ticks on the caller's single, continuous timeline; they
//! are wrapped to 33 bits when encoded, as the standard requires, so a long
//! recording wraps exactly like any other transport stream does (every
//! 2^33 ticks, about 26.5 hours).

use serde::Serialize;

/// Offset added to every PTS/DTS so that the first frame of a recording sits at 2 s on
/// the MPEG-TS timeline (leaves room for the PCR, which runs ahead of the DTS).
pub const TIME_OFFSET_90K: u64 = 2 * 90_000;

/// Size of one transport stream packet in bytes.
pub const TS_PACKET: usize = 188;
/// PID of the H.264 elementary stream (also the PCR PID).
pub const VIDEO_PID: u16 = 0x100;
/// PID of the AAC (ADTS) elementary stream.
pub const AUDIO_PID: u16 = 0x101;
/// PID of the program map table of program 1.
pub const PMT_PID: u16 = 0x1000;
/// PID of the program association table (fixed by the standard).
pub const PAT_PID: u16 = 0x0000;
/// Program number used in the PAT and PMT.
pub const PROGRAM_NUMBER: u16 = 1;
/// transport_stream_id written in the PAT.
pub const TRANSPORT_STREAM_ID: u16 = 1;
/// Distance, in 90 kHz ticks, between a video frame's DTS and the PCR written
/// in the first packet of its PES (700 ms, the customary decoder buffering
/// delay). A DTS smaller than this yields a PCR of 0 rather than a wrapped
/// (huge) value, so callers should start their timeline at or above this
/// value to keep the PCR strictly increasing from the first frame.
pub const PCR_DELAY: u64 = 63_000;
/// PTS, DTS and PCR base values are 33-bit counters.
pub const TIMESTAMP_MODULUS: u64 = 1 << 33;

const SYNC_BYTE: u8 = 0x47;
const HEADER_LEN: usize = 4;
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
const TIMESTAMP_MASK: u64 = TIMESTAMP_MODULUS - 1;

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

/// CRC-32/MPEG-2: polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no
/// reflection, no final XOR.
fn crc32_mpeg2(data: &[u8]) -> u32 {
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
fn encode_timestamp(prefix: u8, ts: u64) -> [u8; 5] {
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
fn decode_timestamp(b: &[u8; 5]) -> u64 {
    (u64::from((b[0] >> 1) & 0x07) << 30)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | u64::from(b[4] >> 1)
}

/// Encodes a PCR (33-bit base in 90 kHz, 9-bit extension in 27 MHz ticks;
/// PCR = base × 300 + extension) into its 6-byte adaptation field form.
fn encode_pcr(base: u64, ext: u16) -> [u8; 6] {
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
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};
    use std::sync::OnceLock;

    // ---------- helpers ----------

    /// Tiny deterministic PRNG (xorshift64*) so tests need no extra crates.
    struct Rng(u64);
    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next_u64() as u8).collect()
        }
        /// Random bytes of a random length below `max`.
        fn some_bytes(&mut self, max: usize) -> Vec<u8> {
            let n = self.below(max);
            self.bytes(n)
        }
    }

    #[derive(Debug)]
    struct Pkt {
        pid: u16,
        pusi: bool,
        afc: u8,
        cc: u8,
        af: Vec<u8>,
        payload: Vec<u8>,
    }

    fn parse_packets(ts: &[u8]) -> Vec<Pkt> {
        assert_eq!(ts.len() % TS_PACKET, 0, "output not packet-aligned");
        ts.chunks_exact(TS_PACKET)
            .map(|p| {
                assert_eq!(p[0], SYNC_BYTE);
                let afc = (p[3] >> 4) & 3;
                let mut pos = 4;
                let mut af = Vec::new();
                if afc & 2 != 0 {
                    let len = p[4] as usize;
                    af = p[5..5 + len].to_vec();
                    pos = 5 + len;
                }
                assert!(pos <= TS_PACKET);
                Pkt {
                    pid: (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]),
                    pusi: p[1] & 0x40 != 0,
                    afc,
                    cc: p[3] & 0x0F,
                    af,
                    payload: if afc & 1 != 0 {
                        p[pos..].to_vec()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect()
    }

    /// Reassembles the PES packets of `pid` (each starting at a PUSI packet).
    fn pes_packets(ts: &[u8], pid: u16) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for p in parse_packets(ts).into_iter().filter(|p| p.pid == pid) {
            if p.pusi {
                out.push(p.payload);
            } else {
                out.last_mut()
                    .expect("PES continuation first")
                    .extend(p.payload);
            }
        }
        out
    }

    /// Returns (header length, PTS, DTS) of a PES header.
    fn pes_info(pes: &[u8]) -> (usize, u64, Option<u64>) {
        assert_eq!(&pes[..3], &[0, 0, 1]);
        let flags = pes[7];
        let hl = pes[8] as usize;
        let pts = decode_timestamp(pes[9..14].try_into().unwrap());
        let dts = (flags & 0x40 != 0).then(|| decode_timestamp(pes[14..19].try_into().unwrap()));
        (9 + hl, pts, dts)
    }

    fn section_of(packet_payload: &[u8]) -> Vec<u8> {
        assert_eq!(packet_payload[0], 0, "pointer_field");
        let s = &packet_payload[1..];
        let len = ((usize::from(s[1]) & 0x0F) << 8) | usize::from(s[2]);
        s[..3 + len].to_vec()
    }

    // ---------- unit tests ----------

    #[test]
    fn crc32_mpeg2_check_value() {
        // Catalogue check value of CRC-32/MPEG-2.
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
        assert_eq!(crc32_mpeg2(&[]), 0xFFFF_FFFF);
    }

    #[test]
    fn pat_and_pmt_sections_are_exact_and_crc_valid() {
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        m.write_tables(&mut out);
        assert_eq!(out.len(), 2 * TS_PACKET);
        let pkts = parse_packets(&out);
        assert_eq!((pkts[0].pid, pkts[0].pusi, pkts[0].afc), (PAT_PID, true, 1));
        assert_eq!((pkts[1].pid, pkts[1].pusi, pkts[1].afc), (PMT_PID, true, 1));

        let pat = section_of(&pkts[0].payload);
        // table 0, length 13, tsid 1, v0 current, program 1 -> PID 0x1000.
        assert_eq!(
            &pat[..12],
            &[
                0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00
            ]
        );
        // Known-good CRC for this PAT, and the CRC residue property.
        assert_eq!(&pat[12..], &[0x2A, 0xB1, 0x04, 0xB2]);
        assert_eq!(crc32_mpeg2(&pat), 0);
        assert!(pkts[0].payload[1 + pat.len()..].iter().all(|&b| b == 0xFF));

        let pmt = section_of(&pkts[1].payload);
        assert_eq!(crc32_mpeg2(&pmt), 0);
        assert_eq!(pmt[0], 0x02);
        assert_eq!(&pmt[3..5], &[0x00, 0x01]); // program_number
        assert_eq!(&pmt[8..12], &[0xE1, 0x00, 0xF0, 0x00]); // PCR PID 0x100
        assert_eq!(&pmt[12..17], &[0x1B, 0xE1, 0x00, 0xF0, 0x00]);
        assert_eq!(&pmt[17..22], &[0x0F, 0xE1, 0x01, 0xF0, 0x00]);
        assert_eq!(pmt.len(), 26);

        let mut m = TsMuxer::new(false);
        let mut out = Vec::new();
        m.write_tables(&mut out);
        let pmt = section_of(&parse_packets(&out)[1].payload);
        assert_eq!(crc32_mpeg2(&pmt), 0);
        assert_eq!(pmt.len(), 21); // video entry only
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

    #[test]
    fn output_is_packet_aligned() {
        let mut rng = Rng(7);
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        m.write_tables(&mut out);
        assert_eq!(out.len() % TS_PACKET, 0);
        for i in 0..200u64 {
            let n = rng.below(3000);
            let data = rng.bytes(n);
            if i % 3 == 0 {
                m.write_audio(&mut out, 1000 + i, &data);
            } else {
                m.write_video(&mut out, 1000 + i, 900 + i, i % 10 == 1, &data);
            }
            assert_eq!(out.len() % TS_PACKET, 0);
        }
        assert!(out.chunks_exact(TS_PACKET).all(|p| p[0] == SYNC_BYTE));
    }

    #[test]
    fn continuity_counters_per_pid() {
        let mut rng = Rng(99);
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        for i in 0..120u64 {
            let data = rng.some_bytes(1500);
            match i % 4 {
                0 => m.write_video(&mut out, i * 10, i * 10, true, &data),
                1 | 2 => m.write_audio(&mut out, i * 10, &data),
                _ => m.write_video(&mut out, i * 10, i * 10, false, &data),
            }
        }
        m.write_tables(&mut out);
        let mut last: HashMap<u16, u8> = HashMap::new();
        let mut seen = 0;
        for p in parse_packets(&out) {
            let has_payload = p.afc & 1 != 0;
            match last.get(&p.pid) {
                Some(&prev) if has_payload => assert_eq!(p.cc, (prev + 1) % 16, "pid {}", p.pid),
                Some(&prev) => assert_eq!(p.cc, prev, "no-payload packet must not advance"),
                None => assert_eq!(p.cc, 0),
            }
            last.insert(p.pid, p.cc);
            seen += 1;
        }
        assert!(seen > 100);
        assert_eq!(last.len(), 4);
        // All four counters wrapped at least once.
        let mut m2 = TsMuxer::new(true);
        let mut o2 = Vec::new();
        for _ in 0..17 {
            m2.write_tables(&mut o2);
        }
        let pat_ccs: Vec<u8> = parse_packets(&o2)
            .iter()
            .filter(|p| p.pid == PAT_PID)
            .map(|p| p.cc)
            .collect();
        assert_eq!(pat_ccs[15], 15);
        assert_eq!(pat_ccs[16], 0);
    }

    #[test]
    fn stuffing_exact_for_payload_sizes_1_to_400() {
        for n in 1..=400usize {
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8 + 1).collect();
            for kind in 0..3 {
                let mut m = TsMuxer::new(true);
                let mut out = Vec::new();
                match kind {
                    0 => m.write_audio(&mut out, 5000, &data),
                    1 => m.write_video(&mut out, 5000, 5000, false, &data),
                    _ => m.write_video(&mut out, 9000, 6000, true, &data),
                }
                assert_eq!(out.len() % TS_PACKET, 0, "n={n} kind={kind}");
                let pid = if kind == 0 { AUDIO_PID } else { VIDEO_PID };
                for p in parse_packets(&out).iter().filter(|p| p.pid == pid) {
                    // Stuffing bytes (after flags and PCR) are all 0xFF.
                    if p.af.len() > 1 {
                        let body = if p.af[0] & 0x10 != 0 { 7 } else { 1 };
                        assert!(p.af[body..].iter().all(|&b| b == 0xFF), "n={n}");
                    }
                }
                let pes = pes_packets(&out, pid);
                assert_eq!(pes.len(), 1);
                let (hl, _, _) = pes_info(&pes[0]);
                let es = &pes[0][hl..];
                let expected: Vec<u8> = if kind == 0 {
                    data.clone()
                } else {
                    [&AUD_NAL[..], &data].concat()
                };
                assert_eq!(es, &expected[..], "n={n} kind={kind}");
                let len_field = usize::from(u16::from_be_bytes([pes[0][4], pes[0][5]]));
                assert_eq!(len_field, pes[0].len() - 6);
            }
        }
    }

    #[test]
    fn video_pes_header_pcr_and_random_access() {
        let mut m = TsMuxer::new(false);
        let mut out = Vec::new();
        let au = [0, 0, 0, 1, 0x09, 0x10, 0, 0, 0, 1, 0x65, 0x88, 0x84];
        m.write_video(&mut out, 200_000, 190_000, true, &au);
        let pkts = parse_packets(&out);
        assert_eq!(pkts[0].pid, PAT_PID);
        assert_eq!(pkts[1].pid, PMT_PID);
        let v = &pkts[2];
        assert!(v.pusi);
        assert_eq!(v.af[0] & 0x50, 0x50, "RAI + PCR flags");
        let pcr_base = (u64::from(v.af[1]) << 25)
            | (u64::from(v.af[2]) << 17)
            | (u64::from(v.af[3]) << 9)
            | (u64::from(v.af[4]) << 1)
            | u64::from(v.af[5] >> 7);
        assert_eq!(pcr_base, 190_000 - PCR_DELAY);
        let pes = pes_packets(&out, VIDEO_PID);
        let (hl, pts, dts) = pes_info(&pes[0]);
        assert_eq!(pes[0][3], 0xE0);
        assert_eq!((pts, dts), (200_000, Some(190_000)));
        assert_eq!(pes[0][9] >> 4, 0b0011);
        assert_eq!(pes[0][14] >> 4, 0b0001);
        // AUD already present: not duplicated.
        assert_eq!(&pes[0][hl..], &au[..]);

        // Non-keyframe, DTS == PTS: no tables, no RAI, PTS only.
        let mut out = Vec::new();
        m.write_video(&mut out, 300_000, 300_000, false, &[0, 0, 1, 0x41, 0x9A]);
        let pkts = parse_packets(&out);
        assert_eq!(pkts.len(), 1);
        assert_eq!(pkts[0].af[0] & 0x40, 0);
        let pes = pes_packets(&out, VIDEO_PID);
        let (hl, pts, dts) = pes_info(&pes[0]);
        assert_eq!((pts, dts), (300_000, None));
        assert_eq!(&pes[0][hl..hl + 6], &AUD_NAL);

        // DTS below the delay: PCR clamps to 0 instead of wrapping.
        let mut out = Vec::new();
        m.write_video(&mut out, 10, 10, false, &[0, 0, 1, 0x41]);
        let af = &parse_packets(&out)[0].af;
        assert_eq!(&af[1..7], &encode_pcr(0, 0));
    }

    #[test]
    fn audio_disabled_writes_nothing_and_oversized_is_split() {
        let mut m = TsMuxer::new(false);
        let mut out = Vec::new();
        m.write_audio(&mut out, 1, &[1, 2, 3]);
        assert!(out.is_empty());

        let mut m = TsMuxer::new(true);
        let data: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        m.write_audio(&mut out, 777, &data);
        let pes = pes_packets(&out, AUDIO_PID);
        assert_eq!(pes.len(), 2);
        let (h0, pts, _) = pes_info(&pes[0]);
        assert_eq!(pts, 777);
        assert_eq!(pes[1][7] & 0xC0, 0, "continuation has no PTS");
        let mut joined = pes[0][h0..].to_vec();
        joined.extend_from_slice(&pes[1][9..]);
        assert_eq!(joined, data);
        let s = scan(&out);
        assert_eq!(s.audio_frames, 1);
    }

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

    #[test]
    fn aud_detection() {
        assert!(starts_with_aud(&[0, 0, 0, 1, 9, 0xF0]));
        assert!(starts_with_aud(&[0, 0, 1, 9, 0x10]));
        assert!(!starts_with_aud(&[0, 0, 1, 0x67]));
        assert!(!starts_with_aud(&[0, 1, 9]));
        assert!(!starts_with_aud(&[0, 0, 0, 1]));
        assert!(!starts_with_aud(&[]));
    }

    // ---------- integration with GStreamer / FFmpeg ----------

    struct Media {
        /// (keyframe, Annex-B access unit)
        video: Vec<(bool, Vec<u8>)>,
        audio: Vec<Vec<u8>>,
    }

    const VIDEO_FRAMES: usize = 45;
    const START_PTS: u64 = 2 * 90_000;
    const VIDEO_TICKS: u64 = 6000; // 15 fps
    const AUDIO_TICKS: u64 = 1920; // 1024 samples at 48 kHz

    /// Runs an external tool; fails the test (never skips) if it is missing.
    fn run(tool: &str, args: &[&str]) -> Output {
        match Command::new(tool).args(args).output() {
            Ok(o) => o,
            Err(e) => panic!(
                "required tool `{tool}` could not be run ({e}); install it \
                 (gstreamer1.0-tools + plugins-good/ugly + gstreamer1.0-libav, ffmpeg)"
            ),
        }
    }

    fn run_ok(tool: &str, args: &[&str]) -> Output {
        let o = run(tool, args);
        assert!(
            o.status.success(),
            "`{tool} {}` failed: {}\n{}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    fn gst(pipeline: &str, location: &Path) {
        let loc = format!("location={}", location.display());
        let mut args: Vec<&str> = vec!["-q"];
        args.extend(pipeline.split_whitespace());
        args.push(&loc);
        run_ok("gst-launch-1.0", &args);
    }

    /// Splits an Annex-B stream into NAL units (start code included).
    fn split_nals(data: &[u8]) -> Vec<&[u8]> {
        let mut starts = Vec::new();
        let mut i = 0;
        while i + 3 <= data.len() {
            if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
                let s = if i > 0 && data[i - 1] == 0 { i - 1 } else { i };
                starts.push(s);
                i += 3;
            } else {
                i += 1;
            }
        }
        let mut nals = Vec::new();
        for (k, &s) in starts.iter().enumerate() {
            let e = starts.get(k + 1).copied().unwrap_or(data.len());
            nals.push(&data[s..e]);
        }
        nals
    }

    fn nal_header(nal: &[u8]) -> (u8, Option<u8>) {
        let p = nal.iter().position(|&b| b == 1).unwrap();
        (nal[p + 1] & 0x1F, nal.get(p + 2).copied())
    }

    /// Groups NAL units into access units: a new AU starts at an AUD, SEI,
    /// SPS or PPS, or at a slice with first_mb_in_slice == 0, once the
    /// current AU already holds a slice.
    fn split_access_units(data: &[u8]) -> Vec<(bool, Vec<u8>)> {
        let mut aus: Vec<(bool, Vec<u8>)> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let (mut has_slice, mut key) = (false, false);
        for nal in split_nals(data) {
            let (ty, next) = nal_header(nal);
            let is_slice = ty == 1 || ty == 5;
            // ue(v) == 0 is coded as a single '1' bit.
            let first_mb_zero = is_slice && next.is_some_and(|b| b & 0x80 != 0);
            let starts_au = matches!(ty, 6..=9) || first_mb_zero;
            if starts_au && has_slice {
                aus.push((key, std::mem::take(&mut cur)));
                has_slice = false;
                key = false;
            }
            cur.extend_from_slice(nal);
            has_slice |= is_slice;
            key |= ty == 5;
        }
        if has_slice {
            aus.push((key, cur));
        }
        aus
    }

    fn split_adts(data: &[u8]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        let mut i = 0;
        while i + 7 <= data.len() {
            assert!(data[i] == 0xFF && data[i + 1] & 0xF0 == 0xF0, "ADTS sync");
            let len = (usize::from(data[i + 3] & 3) << 11)
                | (usize::from(data[i + 4]) << 3)
                | usize::from(data[i + 5] >> 5);
            assert!(len >= 7 && i + len <= data.len());
            frames.push(data[i..i + len].to_vec());
            i += len;
        }
        assert_eq!(i, data.len());
        frames
    }

    fn media() -> &'static Media {
        static MEDIA: OnceLock<Media> = OnceLock::new();
        MEDIA.get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let v = dir.path().join("v.h264");
            let a = dir.path().join("a.aac");
            gst(
                "videotestsrc num-buffers=45 ! video/x-raw,format=I420,width=160,height=120,framerate=15/1 \
                 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 \
                 ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au \
                 ! filesink",
                &v,
            );
            gst(
                "audiotestsrc num-buffers=60 ! audio/x-raw,rate=48000,channels=1 ! audioconvert \
                 ! avenc_aac ! aacparse ! audio/mpeg,mpegversion=4,stream-format=adts ! filesink",
                &a,
            );
            let video = split_access_units(&std::fs::read(&v).expect("read h264"));
            let audio = split_adts(&std::fs::read(&a).expect("read aac"));
            assert_eq!(video.len(), VIDEO_FRAMES, "access units from x264");
            assert!(video[0].0, "first AU must be a keyframe");
            assert!(audio.len() >= 60, "ADTS frames: {}", audio.len());
            Media { video, audio }
        })
    }

    /// Muxes video frames `[v0, v1)` plus all audio frames whose PTS falls in
    /// the same PTS range (or all remaining audio for the last segment),
    /// interleaved in PTS order (video first on ties).
    fn mux_range(m: &mut TsMuxer, out: &mut Vec<u8>, v0: usize, v1: usize, last: bool) {
        let md = media();
        let lo = START_PTS + v0 as u64 * VIDEO_TICKS;
        let hi = START_PTS + v1 as u64 * VIDEO_TICKS;
        let mut audio = md
            .audio
            .iter()
            .enumerate()
            .map(|(j, f)| (START_PTS + j as u64 * AUDIO_TICKS, f))
            .filter(|(p, _)| *p >= lo && (last || *p < hi))
            .peekable();
        for (i, (key, au)) in md.video.iter().enumerate().take(v1).skip(v0) {
            let pts = START_PTS + i as u64 * VIDEO_TICKS;
            while let Some((p, f)) = audio.next_if(|(p, _)| *p < pts) {
                m.write_audio(out, p, f);
            }
            m.write_video(out, pts, pts, *key, au);
        }
        for (p, f) in audio {
            m.write_audio(out, p, f);
        }
    }

    fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).expect("write ts");
        p
    }

    /// Parses ffprobe `-of flat` output: for top-level entries named
    /// `{section}s.{section}.N.key=value`, returns the key/value maps of
    /// entries 0, 1, ... in order (program-nested copies are ignored).
    fn flat_entries(stdout: &[u8], section: &str) -> Vec<HashMap<String, String>> {
        let prefix = format!("{section}s.{section}.");
        let mut entries: Vec<HashMap<String, String>> = Vec::new();
        for line in String::from_utf8_lossy(stdout).lines() {
            let Some(rest) = line.strip_prefix(&prefix) else {
                continue;
            };
            let Some((idx, kv)) = rest.split_once('.') else {
                continue;
            };
            let Some((key, value)) = kv.split_once('=') else {
                continue;
            };
            let idx: usize = idx.parse().expect("entry index");
            if entries.len() <= idx {
                entries.resize_with(idx + 1, HashMap::new);
            }
            entries[idx].insert(key.to_string(), value.trim_matches('"').to_string());
        }
        entries
    }

    /// (codec_name, nb_read_frames) per stream, via ffprobe -count_frames.
    fn probe_frames(path: &Path) -> Vec<(String, u64)> {
        let p = path.display().to_string();
        let o = run_ok(
            "ffprobe",
            &[
                "-v",
                "error",
                "-count_frames",
                "-show_entries",
                "stream=codec_name,nb_read_frames",
                "-of",
                "flat",
                &p,
            ],
        );
        flat_entries(&o.stdout, "stream")
            .into_iter()
            .map(|f| {
                let n = f
                    .get("nb_read_frames")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                (f.get("codec_name").cloned().unwrap_or_default(), n)
            })
            .collect()
    }

    /// Packet PTS values of the video and audio streams, via ffprobe.
    fn probe_pts(path: &Path) -> (Vec<u64>, Vec<u64>) {
        let p = path.display().to_string();
        let o = run_ok(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type:packet=pts,stream_index",
                "-of",
                "flat",
                &p,
            ],
        );
        let kinds: Vec<String> = flat_entries(&o.stdout, "stream")
            .into_iter()
            .map(|f| f.get("codec_type").cloned().unwrap_or_default())
            .collect();
        let (mut v, mut a) = (Vec::new(), Vec::new());
        for f in flat_entries(&o.stdout, "packet") {
            let pts: u64 = f["pts"].parse().expect("numeric pts");
            let index: usize = f["stream_index"].parse().expect("stream index");
            match kinds.get(index).map(String::as_str) {
                Some("video") => v.push(pts),
                Some("audio") => a.push(pts),
                other => panic!("unexpected stream {other:?}"),
            }
        }
        (v, a)
    }

    fn assert_decodes_cleanly(path: &Path) {
        let p = path.display().to_string();
        let o = run(
            "ffmpeg",
            &["-nostdin", "-v", "error", "-i", &p, "-f", "null", "-"],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && err.trim().is_empty(),
            "{p}: {}\n{err}",
            o.status
        );
    }

    #[test]
    fn ffprobe_counts_frames_and_continuous_pts() {
        let md = media();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        mux_range(&mut m, &mut out, 0, VIDEO_FRAMES, true);
        let path = write_file(dir.path(), "all.ts", &out);

        let s = scan(&out);
        assert_eq!(s.video_frames, VIDEO_FRAMES as u64);
        assert_eq!(s.audio_frames, md.audio.len() as u64);
        assert_eq!(
            s.keyframes,
            md.video.iter().filter(|(k, _)| *k).count() as u64
        );
        assert_eq!(s.first_video_pts, Some(START_PTS));

        let mut streams = probe_frames(&path);
        streams.sort();
        assert_eq!(
            streams,
            vec![
                ("aac".to_string(), md.audio.len() as u64),
                ("h264".to_string(), VIDEO_FRAMES as u64)
            ]
        );

        let (v, a) = probe_pts(&path);
        assert_eq!(v.len(), VIDEO_FRAMES);
        assert_eq!(a.len(), md.audio.len());
        assert_eq!(v[0], START_PTS);
        assert_eq!(a[0], START_PTS);
        assert!(v.windows(2).all(|w| w[1] - w[0] == VIDEO_TICKS), "{v:?}");
        assert!(a.windows(2).all(|w| w[1] - w[0] == AUDIO_TICKS), "{a:?}");
        assert_decodes_cleanly(&path);
    }

    #[test]
    fn segments_decode_independently_with_continuous_pts() {
        let md = media();
        let split = md
            .video
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, (k, _))| *k)
            .map(|(i, _)| i)
            .expect("a second keyframe");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = TsMuxer::new(true);
        let (mut seg1, mut seg2) = (Vec::new(), Vec::new());
        m.write_tables(&mut seg1);
        mux_range(&mut m, &mut seg1, 0, split, false);
        m.write_tables(&mut seg2);
        mux_range(&mut m, &mut seg2, split, VIDEO_FRAMES, true);
        let p1 = write_file(dir.path(), "seg1.ts", &seg1);
        let p2 = write_file(dir.path(), "seg2.ts", &seg2);

        assert_decodes_cleanly(&p1);
        assert_decodes_cleanly(&p2);
        let f1 = probe_frames(&p1);
        let f2 = probe_frames(&p2);
        let video = |f: &[(String, u64)]| f.iter().find(|(c, _)| c == "h264").map(|x| x.1);
        assert_eq!(video(&f1), Some(split as u64));
        assert_eq!(video(&f2), Some((VIDEO_FRAMES - split) as u64));

        let (v1, a1) = probe_pts(&p1);
        let (v2, a2) = probe_pts(&p2);
        assert_eq!(v2[0], v1[v1.len() - 1] + VIDEO_TICKS);
        assert_eq!(a2[0], a1[a1.len() - 1] + AUDIO_TICKS);
        assert_eq!(a1.len() + a2.len(), md.audio.len());

        // Both segments also concatenate into one valid stream (shared CCs).
        let both = [seg1.as_slice(), seg2.as_slice()].concat();
        let pb = write_file(dir.path(), "both.ts", &both);
        assert_decodes_cleanly(&pb);
        let s2 = scan(&seg2);
        assert_eq!(s2.first_video_pts, Some(v2[0]));
        let keys2 = md.video[split..].iter().filter(|(k, _)| *k).count();
        assert_eq!(s2.keyframes, keys2 as u64);
    }

    #[test]
    fn truncated_segments_still_decode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = TsMuxer::new(true);
        let mut out = Vec::new();
        mux_range(&mut m, &mut out, 0, VIDEO_FRAMES, true);
        let len = out.len();
        let cuts = [
            len / 5,
            len / 3 + 1,
            len / 2 + 94,
            (len / 2 / TS_PACKET) * TS_PACKET,
            2 * len / 3 + 187,
            len - 1,
            len - 95,
        ];
        for cut in cuts {
            let prefix = &out[..cut];
            let s = scan(prefix);
            assert!(s.video_frames >= 2, "cut {cut} too early for this test");
            let path = write_file(dir.path(), &format!("cut{cut}.ts"), prefix);
            let frames = probe_frames(&path);
            let video = frames
                .iter()
                .find(|(c, _)| c == "h264")
                .map(|x| x.1)
                .unwrap_or(0);
            // The last PES may be cut short; everything before it decodes.
            assert!(
                video + 1 >= s.video_frames && video >= 1,
                "cut {cut}: ffprobe decoded {video} of {} video frames",
                s.video_frames
            );
        }
    }
}
