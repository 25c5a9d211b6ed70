//! The payload of each record kind: fields, wire order, encoding and decoding.

use serde::Serialize;

use crate::confidential::wrap::{WRAPPED_LEN, WrappedKey};
use crate::evidence::record::{DecodeError, Header, Kind, RawRecord, Reader, Writer};
use crate::evidence::sidecar::EndReason;

/// Checkpoint: covers `[byte_start, byte_end)` of a segment's media file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Recording id (directory name).
    pub recording_id: String,
    /// Segment sequence number.
    pub segment: u32,
    /// First byte covered.
    pub byte_start: u64,
    /// One past the last byte covered.
    pub byte_end: u64,
    /// SHA-256 of those bytes.
    #[serde(serialize_with = "hex32")]
    pub range_sha256: [u8; 32],
    /// 90 kHz PTS of the first video frame in the range (0 if none).
    pub pts_first: u64,
    /// 90 kHz PTS of the last video frame in the range (0 if none).
    pub pts_last: u64,
    /// Video frames in the range.
    pub video_frames: u32,
    /// Audio frames in the range.
    pub audio_frames: u32,
}

/// A marker as signed in a final record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedMarker {
    /// UTC ms.
    pub utc_ms: i64,
    /// Milliseconds from the segment start.
    pub offset_ms: u32,
    /// What added it.
    pub trigger: String,
}

/// Final: closes a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Final {
    /// Recording id.
    pub recording_id: String,
    /// Segment sequence number.
    pub segment: u32,
    /// Length of the media file.
    pub total_len: u64,
    /// SHA-256 of the whole media file.
    #[serde(serialize_with = "hex32")]
    pub segment_sha256: [u8; 32],
    /// Video frames.
    pub video_frames: u32,
    /// Audio frames.
    pub audio_frames: u32,
    /// Keyframes.
    pub keyframes: u32,
    /// Video duration in 90 kHz ticks.
    pub duration_90k: u64,
    /// Why it ended.
    pub end_reason: EndReason,
    /// Markers in the segment.
    pub markers: Vec<SignedMarker>,
    /// SHA-256 of the sidecar file exactly as written.
    #[serde(serialize_with = "hex32")]
    pub sidecar_sha256: [u8; 32],
}

/// Recovery: closes a segment left open by a crash; signed after the restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Recording id.
    pub recording_id: String,
    /// Segment sequence number.
    pub segment: u32,
    /// First byte not covered by a checkpoint before the crash.
    pub byte_start: u64,
    /// Length of the media file found at restart.
    pub byte_end: u64,
    /// SHA-256 of `[byte_start, byte_end)` (the unsigned tail, now signed).
    #[serde(serialize_with = "hex32")]
    pub tail_sha256: [u8; 32],
    /// SHA-256 of the whole media file.
    #[serde(serialize_with = "hex32")]
    pub segment_sha256: [u8; 32],
    /// Bytes of a torn journal record removed from the journal's end before this record.
    pub journal_torn_bytes: u64,
    /// SHA-256 of the sidecar written by recovery.
    #[serde(serialize_with = "hex32")]
    pub sidecar_sha256: [u8; 32],
}

/// How good a location sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixQuality {
    /// No position: the receiver has no fix, or no receiver answers.
    NoFix,
    /// A 2D fix (latitude and longitude only).
    Fix2d,
    /// A 3D fix (with altitude).
    Fix3d,
}

/// Wire value of a fix quality.
pub fn fix_quality_code(q: FixQuality) -> u8 {
    match q {
        FixQuality::NoFix => 0,
        FixQuality::Fix2d => 2,
        FixQuality::Fix3d => 3,
    }
}

fn fix_quality_from(c: u8) -> Result<FixQuality, DecodeError> {
    Ok(match c {
        0 => FixQuality::NoFix,
        2 => FixQuality::Fix2d,
        3 => FixQuality::Fix3d,
        value => {
            return Err(DecodeError::Value {
                field: "fix_quality",
                value,
            });
        }
    })
}

/// [`Location::source`] of gpsd.
pub const LOCATION_SOURCE_GPSD: u8 = 1;
/// [`Location::source`] of the simulated receiver.
pub const LOCATION_SOURCE_SIMULATED: u8 = 2;

/// Location (format v2): where the camera was during one second of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Recording id.
    pub recording_id: String,
    /// Segment sequence number.
    pub segment: u32,
    /// 90 kHz position on the recording's TS timeline the sample belongs to.
    pub pts_90k: u64,
    /// The sample.
    pub fix: Fix,
}

/// One location sample as a location record signs it (`crate::location` builds them).
///
/// Fixed-point fields: degrees × 10⁷ (about 1 cm), metres × 100. Every field but
/// `quality` and `source` is zero when there is no fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Fix quality.
    pub quality: FixQuality,
    /// UTC ms of the fix by the receiver's clock (GNSS time).
    pub fix_utc_ms: i64,
    /// Latitude, degrees × 10⁷.
    pub lat_e7: i32,
    /// Longitude, degrees × 10⁷.
    pub lon_e7: i32,
    /// Altitude above mean sea level, cm (3D fixes).
    pub alt_cm: i32,
    /// Horizontal accuracy (the receiver's estimate, ~95 %), cm.
    pub h_acc_cm: u32,
    /// Vertical accuracy, cm (3D fixes).
    pub v_acc_cm: u32,
    /// Where it came from: 1 gpsd, 2 the simulated receiver.
    pub source: u8,
}

/// Length of a [`Fix`] as the record encodes it (kind 5 after `pts_90k`, and the
/// plaintext of a sealed location record).
pub const FIX_LEN: usize = 30;

/// The wire bytes of a fix: quality u8 ‖ fix_utc_ms i64 ‖ lat_e7 i32 ‖ lon_e7 i32 ‖
/// alt_cm i32 ‖ h_acc_cm u32 ‖ v_acc_cm u32 ‖ source u8 (big-endian).
pub fn fix_bytes(f: &Fix) -> [u8; FIX_LEN] {
    let mut b = [0u8; FIX_LEN];
    b[0] = fix_quality_code(f.quality);
    b[1..9].copy_from_slice(&f.fix_utc_ms.to_be_bytes());
    b[9..13].copy_from_slice(&f.lat_e7.to_be_bytes());
    b[13..17].copy_from_slice(&f.lon_e7.to_be_bytes());
    b[17..21].copy_from_slice(&f.alt_cm.to_be_bytes());
    b[21..25].copy_from_slice(&f.h_acc_cm.to_be_bytes());
    b[25..29].copy_from_slice(&f.v_acc_cm.to_be_bytes());
    b[29] = f.source;
    b
}

/// A fix from its wire bytes ([`fix_bytes`]); an unknown quality code is an error.
pub fn fix_from_bytes(b: &[u8; FIX_LEN]) -> Result<Fix, DecodeError> {
    let i32_at = |i: usize| i32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut t = [0u8; 8];
    t.copy_from_slice(&b[1..9]);
    Ok(Fix {
        quality: fix_quality_from(b[0])?,
        fix_utc_ms: i64::from_be_bytes(t),
        lat_e7: i32_at(9),
        lon_e7: i32_at(13),
        alt_cm: i32_at(17),
        h_acc_cm: u32_at(21),
        v_acc_cm: u32_at(25),
        source: b[29],
    })
}

/// Length of a sealed location's ciphertext and tag.
pub const SEALED_FIX_LEN: usize = FIX_LEN + crate::confidential::TAG_LEN;

/// Sealed location (format v2, kind 6): a [`Location`] of an encrypted segment whose
/// fix is ChaCha20-Poly1305 ciphertext under the segment's location key
/// (docs/EVIDENCE-FORMAT.md §10.1.1, `crate::confidential::track`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealedLocation {
    /// Recording id.
    pub recording_id: String,
    /// Segment sequence number.
    pub segment: u32,
    /// 0 for the segment's first sealed location, +1 for each (the nonce).
    pub seq: u32,
    /// 90 kHz position on the recording's TS timeline the sample belongs to.
    pub pts_90k: u64,
    /// The fix's bytes ([`fix_bytes`]) sealed: ciphertext ‖ tag.
    #[serde(serialize_with = "hex_vec_arr")]
    pub sealed: [u8; SEALED_FIX_LEN],
}

fn hex_vec_arr<S: serde::Serializer>(v: &[u8; SEALED_FIX_LEN], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

/// Keys (format v2): the first record of an encrypted segment, before its first
/// checkpoint. Its content key wrapped to each recipient (docs/EVIDENCE-FORMAT.md §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentKeys {
    /// Recording id.
    pub recording_id: String,
    /// Segment sequence number.
    pub segment: u32,
    /// AEAD of the wrapped keys and the chunks (1 = ChaCha20-Poly1305).
    pub aead: u8,
    /// Commitment to the content key.
    #[serde(serialize_with = "hex32")]
    pub commitment: [u8; 32],
    /// The content key wrapped to each recipient (at least one).
    pub recipients: Vec<WrappedKey>,
}

/// Audit-log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// Event name (see docs/EVIDENCE-FORMAT.md).
    pub event: String,
    /// Event details: a JSON object, as text.
    pub detail: String,
}

/// Head statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// The caller's nonce.
    #[serde(serialize_with = "hex_vec")]
    pub nonce: Vec<u8>,
    /// Audit records so far.
    pub audit_count: u64,
    /// Hash of the last audit record.
    #[serde(serialize_with = "hex32")]
    pub audit_hash: [u8; 32],
}

/// Any payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// See [`Checkpoint`].
    Checkpoint(Checkpoint),
    /// See [`Final`].
    Final(Final),
    /// See [`Recovery`].
    Recovery(Recovery),
    /// See [`Location`].
    Location(Location),
    /// See [`SealedLocation`].
    SealedLocation(SealedLocation),
    /// See [`SegmentKeys`].
    Keys(SegmentKeys),
    /// See [`Audit`].
    Audit(Audit),
    /// See [`Head`].
    Head(Head),
}

fn hex32<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

fn hex_vec<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

/// Wire value of an end reason.
pub fn end_reason_code(r: EndReason) -> u8 {
    match r {
        EndReason::Rollover => 1,
        EndReason::Stopped => 2,
        EndReason::StorageFull => 3,
        EndReason::Fault => 4,
        EndReason::Shutdown => 5,
        EndReason::Recovered => 6,
    }
}

fn end_reason_from(c: u8) -> Result<EndReason, DecodeError> {
    Ok(match c {
        1 => EndReason::Rollover,
        2 => EndReason::Stopped,
        3 => EndReason::StorageFull,
        4 => EndReason::Fault,
        5 => EndReason::Shutdown,
        6 => EndReason::Recovered,
        value => {
            return Err(DecodeError::Value {
                field: "end_reason",
                value,
            });
        }
    })
}

impl Payload {
    /// Record kind of this payload.
    pub fn kind(&self) -> Kind {
        match self {
            Payload::Checkpoint(_) => Kind::Checkpoint,
            Payload::Final(_) => Kind::Final,
            Payload::Recovery(_) => Kind::Recovery,
            Payload::Location(_) => Kind::Location,
            Payload::SealedLocation(_) => Kind::SealedLocation,
            Payload::Keys(_) => Kind::Keys,
            Payload::Audit(_) => Kind::Audit,
            Payload::Head(_) => Kind::Head,
        }
    }

    /// Append the payload fields after a header.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Payload::Checkpoint(c) => {
                w.str(&c.recording_id);
                w.u32(c.segment);
                w.u64(c.byte_start);
                w.u64(c.byte_end);
                w.bytes(&c.range_sha256);
                w.u64(c.pts_first);
                w.u64(c.pts_last);
                w.u32(c.video_frames);
                w.u32(c.audio_frames);
            }
            Payload::Final(f) => {
                w.str(&f.recording_id);
                w.u32(f.segment);
                w.u64(f.total_len);
                w.bytes(&f.segment_sha256);
                w.u32(f.video_frames);
                w.u32(f.audio_frames);
                w.u32(f.keyframes);
                w.u64(f.duration_90k);
                w.u8(end_reason_code(f.end_reason));
                w.u16(f.markers.len().min(u16::MAX as usize) as u16);
                for m in f.markers.iter().take(u16::MAX as usize) {
                    w.i64(m.utc_ms);
                    w.u32(m.offset_ms);
                    w.str(&m.trigger);
                }
                w.bytes(&f.sidecar_sha256);
            }
            Payload::Recovery(r) => {
                w.str(&r.recording_id);
                w.u32(r.segment);
                w.u64(r.byte_start);
                w.u64(r.byte_end);
                w.bytes(&r.tail_sha256);
                w.bytes(&r.segment_sha256);
                w.u64(r.journal_torn_bytes);
                w.bytes(&r.sidecar_sha256);
            }
            Payload::Location(l) => {
                w.str(&l.recording_id);
                w.u32(l.segment);
                w.u64(l.pts_90k);
                w.bytes(&fix_bytes(&l.fix));
            }
            Payload::SealedLocation(l) => {
                w.str(&l.recording_id);
                w.u32(l.segment);
                w.u32(l.seq);
                w.u64(l.pts_90k);
                w.bytes(&l.sealed);
            }
            Payload::Keys(k) => {
                w.str(&k.recording_id);
                w.u32(k.segment);
                w.u8(k.aead);
                w.bytes(&k.commitment);
                w.u16(k.recipients.len().min(u16::MAX as usize) as u16);
                for r in k.recipients.iter().take(u16::MAX as usize) {
                    w.bytes(&r.key_id);
                    w.bytes(&r.ephemeral);
                    w.bytes(&r.wrapped);
                }
            }
            Payload::Audit(a) => {
                w.str(&a.event);
                w.str(&a.detail);
            }
            Payload::Head(h) => {
                w.u16(h.nonce.len().min(u16::MAX as usize) as u16);
                w.bytes(&h.nonce[..h.nonce.len().min(u16::MAX as usize)]);
                w.u64(h.audit_count);
                w.bytes(&h.audit_hash);
            }
        }
    }

    fn decode(kind: Kind, r: &mut Reader<'_>) -> Result<Payload, DecodeError> {
        let p = match kind {
            Kind::Checkpoint => Payload::Checkpoint(Checkpoint {
                recording_id: r.str()?,
                segment: r.u32()?,
                byte_start: r.u64()?,
                byte_end: r.u64()?,
                range_sha256: r.array()?,
                pts_first: r.u64()?,
                pts_last: r.u64()?,
                video_frames: r.u32()?,
                audio_frames: r.u32()?,
            }),
            Kind::Final => {
                let recording_id = r.str()?;
                let segment = r.u32()?;
                let total_len = r.u64()?;
                let segment_sha256 = r.array()?;
                let video_frames = r.u32()?;
                let audio_frames = r.u32()?;
                let keyframes = r.u32()?;
                let duration_90k = r.u64()?;
                let end_reason = end_reason_from(r.u8()?)?;
                let n = r.u16()?;
                let mut markers = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    markers.push(SignedMarker {
                        utc_ms: r.i64()?,
                        offset_ms: r.u32()?,
                        trigger: r.str()?,
                    });
                }
                Payload::Final(Final {
                    recording_id,
                    segment,
                    total_len,
                    segment_sha256,
                    video_frames,
                    audio_frames,
                    keyframes,
                    duration_90k,
                    end_reason,
                    markers,
                    sidecar_sha256: r.array()?,
                })
            }
            Kind::Recovery => Payload::Recovery(Recovery {
                recording_id: r.str()?,
                segment: r.u32()?,
                byte_start: r.u64()?,
                byte_end: r.u64()?,
                tail_sha256: r.array()?,
                segment_sha256: r.array()?,
                journal_torn_bytes: r.u64()?,
                sidecar_sha256: r.array()?,
            }),
            Kind::Location => Payload::Location(Location {
                recording_id: r.str()?,
                segment: r.u32()?,
                pts_90k: r.u64()?,
                fix: fix_from_bytes(&r.array()?)?,
            }),
            Kind::SealedLocation => Payload::SealedLocation(SealedLocation {
                recording_id: r.str()?,
                segment: r.u32()?,
                seq: r.u32()?,
                pts_90k: r.u64()?,
                sealed: r.array()?,
            }),
            Kind::Keys => Payload::Keys(decode_keys(r)?),
            Kind::Audit => Payload::Audit(Audit {
                event: r.str()?,
                detail: r.str()?,
            }),
            Kind::Head => {
                let n = r.u16()?;
                let mut nonce = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    nonce.push(r.u8()?);
                }
                Payload::Head(Head {
                    nonce,
                    audit_count: r.u64()?,
                    audit_hash: r.array()?,
                })
            }
        };
        r.end()?;
        Ok(p)
    }
}

/// The fields of a keys record.
fn decode_keys(r: &mut Reader<'_>) -> Result<SegmentKeys, DecodeError> {
    let recording_id = r.str()?;
    let segment = r.u32()?;
    let aead = r.u8()?;
    if aead != crate::confidential::AEAD_CHACHA20_POLY1305 {
        return Err(DecodeError::Value {
            field: "aead",
            value: aead,
        });
    }
    let commitment = r.array()?;
    let n = r.u16()?;
    if n == 0 {
        return Err(DecodeError::Value {
            field: "recipient_count",
            value: 0,
        });
    }
    let mut recipients = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        recipients.push(WrappedKey {
            key_id: r.array()?,
            ephemeral: r.array()?,
            wrapped: r.array::<WRAPPED_LEN>()?,
        });
    }
    Ok(SegmentKeys {
        recording_id,
        segment,
        aead,
        commitment,
        recipients,
    })
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Header fields.
    pub header: Header,
    /// Payload fields.
    pub payload: Payload,
    /// The record as stored.
    pub raw: RawRecord,
}

/// Decode a raw record's body (signature not checked here).
pub fn decode(raw: RawRecord) -> Result<Record, DecodeError> {
    let (header, mut r) = Reader::new(raw.body())?;
    let payload = Payload::decode(header.kind, &mut r)?;
    Ok(Record {
        header,
        payload,
        raw,
    })
}

/// Decode every record of a file; stops at the first undecodable byte and says where.
pub fn decode_file(data: &[u8]) -> (Vec<Record>, Option<(usize, DecodeError)>) {
    let (raws, err) = crate::evidence::record::parse_all(data);
    let mut out = Vec::with_capacity(raws.len());
    let mut pos = 0;
    for raw in raws {
        let len = raw.bytes.len();
        match decode(raw) {
            Ok(r) => out.push(r),
            Err(e) => return (out, Some((pos, e))),
        }
        pos += len;
    }
    (out, err)
}

/// Decode a raw record from hex (as in head statement files).
pub fn decode_hex(text: &str) -> Result<Record, DecodeError> {
    let bytes = hex::decode(text.trim()).map_err(|_| DecodeError::BadMagic)?;
    let raw = crate::evidence::record::parse(&bytes)?;
    if raw.bytes.len() != bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - raw.bytes.len()));
    }
    decode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::record::{ClockState, seal};
    use ring::rand::SystemRandom;
    use ring::signature::Ed25519KeyPair;

    #[test]
    fn every_payload_round_trips() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let k = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let payloads = vec![
            Payload::Checkpoint(Checkpoint {
                recording_id: "r".into(),
                segment: 1,
                byte_start: 0,
                byte_end: 188,
                range_sha256: [1; 32],
                pts_first: 180_000,
                pts_last: 186_000,
                video_frames: 2,
                audio_frames: 3,
            }),
            Payload::Final(Final {
                recording_id: "r".into(),
                segment: 2,
                total_len: 376,
                segment_sha256: [2; 32],
                video_frames: 30,
                audio_frames: 94,
                keyframes: 2,
                duration_90k: 180_000,
                end_reason: EndReason::Stopped,
                markers: vec![SignedMarker {
                    utc_ms: 5,
                    offset_ms: 7,
                    trigger: "gesture:single".into(),
                }],
                sidecar_sha256: [3; 32],
            }),
            Payload::Recovery(Recovery {
                recording_id: "r".into(),
                segment: 3,
                byte_start: 188,
                byte_end: 500,
                tail_sha256: [4; 32],
                segment_sha256: [5; 32],
                journal_torn_bytes: 17,
                sidecar_sha256: [6; 32],
            }),
            Payload::Location(Location {
                recording_id: "r".into(),
                segment: 4,
                pts_90k: 270_000,
                fix: Fix {
                    quality: FixQuality::Fix3d,
                    fix_utc_ms: 1_764_000_000_123,
                    lat_e7: -338_688_197,
                    lon_e7: 1_512_092_955,
                    alt_cm: -1234,
                    h_acc_cm: 350,
                    v_acc_cm: 900,
                    source: 1,
                },
            }),
            Payload::Keys(SegmentKeys {
                recording_id: "r".into(),
                segment: 4,
                aead: 1,
                commitment: [7; 32],
                recipients: vec![WrappedKey {
                    key_id: [1; 16],
                    ephemeral: [2; 32],
                    wrapped: [3; WRAPPED_LEN],
                }],
            }),
            Payload::Audit(Audit {
                event: "boot".into(),
                detail: "{}".into(),
            }),
            Payload::Head(Head {
                nonce: vec![1, 2, 3],
                audit_count: 9,
                audit_hash: [8; 32],
            }),
        ];
        for p in payloads {
            let h = Header {
                kind: p.kind(),
                device_id: [1; 16],
                counter: 3,
                prev_hash: [0; 32],
                utc_ms: 1,
                clock: ClockState::Unsynchronised,
                mono_ns: 2,
                boot_id: [3; 16],
            };
            let mut w = Writer::new(&h);
            p.encode(&mut w);
            let rec = seal(&k, &w.finish());
            let d = decode(crate::evidence::record::parse(&rec).unwrap()).unwrap();
            assert_eq!(d.header, h);
            assert_eq!(d.payload, p);
        }
    }
}
