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
//!
//! # Files
//!
//! * `mux.rs`: [`TsMuxer`], PAT/PMT, PES packetisation, PCR and stuffing.
//! * `scanner.rs`: [`scan`], used by recovery and by the verifier.
//! * `pes.rs`: [`audio_frames`], the audio frames reassembled (the verifier's check of
//!   declared silence).
//! * `fields.rs`: the bit-level encodings both share (CRC-32/MPEG-2, PES timestamps,
//!   PCR).
//! * `decoder_tests.rs`: the muxer's output decoded by GStreamer and FFmpeg.

#[cfg(test)]
mod decoder_tests;
mod fields;
mod mux;
mod pes;
mod scanner;
#[cfg(test)]
mod test_util;

pub use mux::TsMuxer;
pub use pes::{AudioFrame, audio_frames};
pub use scanner::{ScanSummary, scan};

/// Offset added to every PTS/DTS so that the first frame of a recording sits at 2 s on
/// the MPEG-TS timeline (leaves room for the PCR, which runs ahead of the DTS).
pub const TIME_OFFSET_90K: u64 = 2 * 90_000;

/// The 90 kHz PTS/DTS of a frame at monotonic `pts_ns` on the timeline of a recording
/// whose first frame is at `base_ns` (that frame sits at [`TIME_OFFSET_90K`]).
pub fn timeline_90k(pts_ns: u64, base_ns: u64) -> u64 {
    crate::media::ns_to_90k(pts_ns.saturating_sub(base_ns)) + TIME_OFFSET_90K
}

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
const TIMESTAMP_MASK: u64 = TIMESTAMP_MODULUS - 1;
