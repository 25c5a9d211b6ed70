//! One MPEG-TS segment being written: muxes frames, appends them to flash, syncs, and
//! writes the sidecar when it closes.

use std::path::{Path, PathBuf};

use crate::clock::{TimeRef, rfc3339};
use crate::media::{Frame, StreamKind, ns_to_90k};
use crate::store::flash::{Flash, FlashFile};
use crate::store::meta::{CaptureInfo, EndReason, Marker, SIDECAR_FORMAT, SegmentMeta};
use crate::ts::TsMuxer;

/// Offset added to every PTS/DTS so that the first frame of a recording sits at 2 s on
/// the MPEG-TS timeline (leaves room for the PCR, which runs ahead of the DTS).
pub const TS_TIME_OFFSET_90K: u64 = 2 * 90_000;

/// File name of segment `seq`'s media.
pub fn media_name(seq: u32) -> String {
    format!("{seq:06}.ts")
}

/// File name of segment `seq`'s sidecar.
pub fn meta_name(seq: u32) -> String {
    format!("{seq:06}.json")
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
#[derive(Debug)]
pub struct SegmentWriter {
    dir: PathBuf,
    sequence: u32,
    file: Box<dyn FlashFile>,
    mux: TsMuxer,
    buf: Vec<u8>,
    bytes: u64,
    synced_bytes: u64,
    video_frames: u64,
    audio_frames: u64,
    keyframes: u64,
    first_pts_ns: Option<u64>,
    end_ns: u64,
    first_pts_90k: Option<u64>,
    last_pts_90k: Option<u64>,
    markers: Vec<Marker>,
    pre_event_ns: u64,
    pre_event_audio: bool,
}

impl SegmentWriter {
    /// Create `dir/NNNNNN.ts` (never overwriting anything).
    pub fn create(
        flash: &dyn Flash,
        dir: &Path,
        sequence: u32,
        with_audio: bool,
    ) -> std::io::Result<SegmentWriter> {
        let file = flash.create_new(&dir.join(media_name(sequence)))?;
        Ok(SegmentWriter {
            dir: dir.to_path_buf(),
            sequence,
            file,
            mux: TsMuxer::new(with_audio),
            buf: Vec::with_capacity(256 * 1024),
            bytes: 0,
            synced_bytes: 0,
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

    /// Mux `frame` (timeline origin `base_ns`) and append it if it fits in `budget` bytes.
    pub fn write(&mut self, frame: &Frame, base_ns: u64, budget: u64) -> std::io::Result<Written> {
        let pts = ns_to_90k(frame.pts_ns.saturating_sub(base_ns)) + TS_TIME_OFFSET_90K;
        let dts = ns_to_90k(frame.dts_ns.saturating_sub(base_ns)) + TS_TIME_OFFSET_90K;
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
        self.bytes += n;
        match frame.kind {
            StreamKind::Video => {
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
            StreamKind::Audio => self.audio_frames += 1,
        }
        Ok(Written::Bytes(n))
    }

    /// Bytes written but not yet made durable.
    pub fn unsynced_bytes(&self) -> u64 {
        self.bytes - self.synced_bytes
    }

    /// `fdatasync` what was written.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.synced_bytes != self.bytes {
            self.file.sync_data()?;
            self.synced_bytes = self.bytes;
        }
        Ok(())
    }

    /// Add a marker at monotonic time `mono_ns`.
    pub fn add_marker(&mut self, mono_ns: u64, trigger: String, time: &TimeRef) {
        self.markers.push(Marker {
            utc: rfc3339(time.utc_of(mono_ns)),
            offset_seconds: self.elapsed_ns(mono_ns) as f64 / 1e9,
            trigger,
        });
    }

    /// Sync, write the sidecar atomically, and return it.
    pub fn finish(
        mut self,
        flash: &dyn Flash,
        recording_id: &str,
        reason: EndReason,
        time: &TimeRef,
        capture: &CaptureInfo,
    ) -> std::io::Result<SegmentMeta> {
        self.sync()?;
        let first = self.first_pts_ns.unwrap_or(time.mono_ns);
        let meta = SegmentMeta {
            format: SIDECAR_FORMAT.to_string(),
            recording_id: recording_id.to_string(),
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
            markers: std::mem::take(&mut self.markers),
            pre_event_seconds: self.pre_event_ns as f64 / 1e9,
            pre_event_audio: self.pre_event_audio,
            end_reason: reason,
            trailing_bytes: 0,
            capture: capture.clone(),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
        flash.write_atomic(&self.dir.join(meta_name(self.sequence)), &json)?;
        Ok(meta)
    }
}
