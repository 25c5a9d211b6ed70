//! One MPEG-TS segment being written: muxes frames, appends them to flash, syncs, and
//! writes the sidecar when it closes.

use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};

use crate::clock::{TimeRef, rfc3339};
use crate::evidence::Signer;
use crate::evidence::payload::{Checkpoint, Final, Payload, SignedMarker};
use crate::evidence::record::sha256;
use crate::evidence::sidecar::{CaptureInfo, EndReason, Marker, SIDECAR_FORMAT, SegmentMeta};
use crate::flash::{Flash, FlashFile};
use crate::layout::SegmentFile;
use crate::media::{Frame, StreamKind, ns_to_90k};
use crate::ts::{TIME_OFFSET_90K, TsMuxer};

fn finish_digest(ctx: Context) -> [u8; 32] {
    let d = ctx.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// What the range since the last checkpoint holds.
#[derive(Debug, Default, Clone, Copy)]
struct RangeStats {
    pts_first: Option<u64>,
    pts_last: u64,
    video: u32,
    audio: u32,
}

/// Result of offering a frame to a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Appended this many bytes.
    Bytes(u64),
    /// The frame did not fit in the byte budget; nothing was written.
    NoRoom,
}

/// A segment file open for appending.
pub struct SegmentWriter {
    dir: PathBuf,
    recording_id: String,
    sequence: u32,
    file: Box<dyn FlashFile>,
    journal: Box<dyn FlashFile>,
    whole: Context,
    range: Context,
    range_start: u64,
    range_stats: RangeStats,
    mux: TsMuxer,
    buf: Vec<u8>,
    bytes: u64,
    video_frames: u64,
    audio_frames: u64,
    keyframes: u64,
    first_pts_ns: Option<u64>,
    end_ns: u64,
    first_pts_90k: Option<u64>,
    last_pts_90k: Option<u64>,
    markers: Vec<(Marker, i64)>,
    pre_event_ns: u64,
    pre_event_audio: bool,
    officer: Option<String>,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("dir", &self.dir)
            .field("sequence", &self.sequence)
            .field("bytes", &self.bytes)
            .field("range_start", &self.range_start)
            .finish_non_exhaustive()
    }
}

impl SegmentWriter {
    /// Create `dir/NNNNNN.ts` and its journal (never overwriting anything).
    pub fn create(
        flash: &dyn Flash,
        dir: &Path,
        recording_id: &str,
        sequence: u32,
        with_audio: bool,
    ) -> std::io::Result<SegmentWriter> {
        let file = flash.create_new(&SegmentFile::Media.path(dir, sequence))?;
        let journal = flash.create_new(&SegmentFile::Journal.path(dir, sequence))?;
        Ok(SegmentWriter {
            dir: dir.to_path_buf(),
            recording_id: recording_id.to_string(),
            sequence,
            file,
            journal,
            whole: Context::new(&SHA256),
            range: Context::new(&SHA256),
            range_start: 0,
            range_stats: RangeStats::default(),
            mux: TsMuxer::new(with_audio),
            buf: Vec::with_capacity(256 * 1024),
            bytes: 0,
            video_frames: 0,
            audio_frames: 0,
            keyframes: 0,
            first_pts_ns: None,
            end_ns: 0,
            first_pts_90k: None,
            last_pts_90k: None,
            markers: Vec::new(),
            pre_event_ns: 0,
            pre_event_audio: false,
            officer: None,
        })
    }

    /// Sequence number.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Bytes appended so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Nanoseconds from the first frame to the start of `pts_ns`.
    pub fn elapsed_ns(&self, pts_ns: u64) -> u64 {
        self.first_pts_ns
            .map_or(0, |first| pts_ns.saturating_sub(first))
    }

    /// Seconds of video written (first frame to end of the last one).
    pub fn duration_ns(&self) -> u64 {
        self.first_pts_ns
            .map_or(0, |first| self.end_ns.saturating_sub(first))
    }

    /// Record that the first `ns` of this segment are pre-event footage.
    pub fn set_pre_event(&mut self, ns: u64, with_audio: bool) {
        self.pre_event_ns = ns;
        self.pre_event_audio = with_audio;
    }

    /// Record the officer the recording is made for (written into the sidecar).
    pub fn set_officer(&mut self, officer: Option<String>) {
        self.officer = officer;
    }

    /// Mux `frame` (timeline origin `base_ns`) and append it if it fits in `budget` bytes.
    /// Before a live keyframe, everything since the last checkpoint is made durable and
    /// covered by a signed checkpoint. Pre-event footage replayed from RAM (`live` false)
    /// is checkpointed once, after the replay, by the caller.
    pub fn write(
        &mut self,
        frame: &Frame,
        base_ns: u64,
        budget: u64,
        live: bool,
        signer: &mut Signer,
    ) -> std::io::Result<Written> {
        if live && frame.is_video_keyframe() {
            self.checkpoint(signer)?;
        }
        let pts = ns_to_90k(frame.pts_ns.saturating_sub(base_ns)) + TIME_OFFSET_90K;
        let dts = ns_to_90k(frame.dts_ns.saturating_sub(base_ns)) + TIME_OFFSET_90K;
        self.buf.clear();
        // Every keyframe (and so the first frame of a segment) is preceded by PAT+PMT.
        match frame.kind {
            StreamKind::Video => {
                self.mux
                    .write_video(&mut self.buf, pts, dts, frame.keyframe, &frame.data)
            }
            StreamKind::Audio => self.mux.write_audio(&mut self.buf, pts, &frame.data),
        }
        let n = self.buf.len() as u64;
        if n > budget {
            return Ok(Written::NoRoom);
        }
        self.file.write_all(&self.buf)?;
        self.whole.update(&self.buf);
        self.range.update(&self.buf);
        self.bytes += n;
        match frame.kind {
            StreamKind::Video => {
                self.range_stats.pts_first.get_or_insert(pts);
                self.range_stats.pts_last = pts;
                self.range_stats.video += 1;
                self.video_frames += 1;
                if frame.keyframe {
                    self.keyframes += 1;
                }
                if self.first_pts_ns.is_none() {
                    self.first_pts_ns = Some(frame.pts_ns);
                    self.first_pts_90k = Some(pts);
                }
                self.last_pts_90k = Some(pts);
                self.end_ns = self.end_ns.max(frame.pts_ns + frame.duration_ns);
            }
            StreamKind::Audio => {
                self.range_stats.audio += 1;
                self.audio_frames += 1;
            }
        }
        Ok(Written::Bytes(n))
    }

    /// Bytes written but not yet made durable.
    pub fn unsynced_bytes(&self) -> u64 {
        self.bytes - self.range_start
    }

    /// Make everything written durable, then cover it with a signed checkpoint and make
    /// that durable too. Does nothing when no byte was written since the last one.
    pub fn checkpoint(&mut self, signer: &mut Signer) -> std::io::Result<()> {
        if self.bytes == self.range_start {
            return Ok(());
        }
        self.file.sync_data()?;
        let range = std::mem::replace(&mut self.range, Context::new(&SHA256));
        let stats = std::mem::take(&mut self.range_stats);
        let rec = signer.sign_media(&Payload::Checkpoint(Checkpoint {
            recording_id: self.recording_id.clone(),
            segment: self.sequence,
            byte_start: self.range_start,
            byte_end: self.bytes,
            range_sha256: finish_digest(range),
            pts_first: stats.pts_first.unwrap_or(0),
            pts_last: stats.pts_last,
            video_frames: stats.video,
            audio_frames: stats.audio,
        }));
        self.range_start = self.bytes;
        self.journal.write_all(&rec)?;
        self.journal.sync_data()
    }

    /// Add a marker at monotonic time `mono_ns`.
    pub fn add_marker(&mut self, mono_ns: u64, trigger: String, time: &TimeRef) {
        let utc = time.utc_of(mono_ns);
        self.markers.push((
            Marker {
                utc: rfc3339(utc),
                offset_seconds: self.elapsed_ns(mono_ns) as f64 / 1e9,
                trigger,
            },
            utc.timestamp_millis(),
        ));
    }

    /// Checkpoint the rest, write the sidecar atomically, then sign and append the
    /// final record (which binds the sidecar's exact bytes). Returns the sidecar and the
    /// final record.
    pub fn finish(
        mut self,
        flash: &dyn Flash,
        reason: EndReason,
        time: &TimeRef,
        capture: &CaptureInfo,
        signer: &mut Signer,
    ) -> std::io::Result<(SegmentMeta, Vec<u8>)> {
        self.checkpoint(signer)?;
        let markers = std::mem::take(&mut self.markers);
        let first = self.first_pts_ns.unwrap_or(time.mono_ns);
        let meta = SegmentMeta {
            format: SIDECAR_FORMAT.to_string(),
            recording_id: self.recording_id.clone(),
            sequence: self.sequence,
            utc_start: rfc3339(time.utc_of(first)),
            utc_end: rfc3339(time.utc_of(self.end_ns.max(first))),
            clock_synchronised: time.synchronised,
            utc_estimated: false,
            duration_seconds: self.duration_ns() as f64 / 1e9,
            video_frames: self.video_frames,
            audio_frames: self.audio_frames,
            keyframes: self.keyframes,
            bytes: self.bytes,
            first_pts_90k: self.first_pts_90k,
            last_pts_90k: self.last_pts_90k,
            markers: markers.iter().map(|(m, _)| m.clone()).collect(),
            pre_event_seconds: self.pre_event_ns as f64 / 1e9,
            pre_event_audio: self.pre_event_audio,
            end_reason: reason,
            trailing_bytes: 0,
            capture: capture.clone(),
            officer: self.officer.clone(),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
        flash.write_atomic(&SegmentFile::Meta.path(&self.dir, self.sequence), &json)?;
        let whole = std::mem::replace(&mut self.whole, Context::new(&SHA256));
        let rec = signer.sign_media(&Payload::Final(Final {
            recording_id: self.recording_id.clone(),
            segment: self.sequence,
            total_len: self.bytes,
            segment_sha256: finish_digest(whole),
            video_frames: u32::try_from(self.video_frames).unwrap_or(u32::MAX),
            audio_frames: u32::try_from(self.audio_frames).unwrap_or(u32::MAX),
            keyframes: u32::try_from(self.keyframes).unwrap_or(u32::MAX),
            duration_90k: ns_to_90k(self.duration_ns()),
            end_reason: reason,
            markers: markers
                .into_iter()
                .map(|(m, utc_ms)| SignedMarker {
                    utc_ms,
                    offset_ms: (m.offset_seconds * 1000.0).max(0.0) as u32,
                    trigger: m.trigger,
                })
                .collect(),
            sidecar_sha256: sha256(&json),
        }));
        self.journal.write_all(&rec)?;
        self.journal.sync_data()?;
        Ok((meta, rec))
    }
}
