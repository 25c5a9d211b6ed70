//! One recording (start to stop) on flash: a directory of segments, cut at the first
//! keyframe after `segment_seconds`, on one continuous MPEG-TS timeline.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::{TimeRef, rfc3339};
use crate::evidence::Signer;
use crate::evidence::sidecar::{AudioSilence, CaptureInfo, EndReason, MuteSpan, SegmentMeta};
use crate::flash::Flash;
use crate::layout;
use crate::location::Sample;
use crate::media::{Frame, ns_to_90k};
use crate::store::StoreError;
use crate::store::segment::{self, SegmentWriter, Written};
use crate::ts::TIME_OFFSET_90K;

/// Format tag of [`RecordingInfo`].
pub const RECORDING_FORMAT: &str = "bodycam-recording/1";

/// `recording.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingInfo {
    /// Always [`RECORDING_FORMAT`].
    pub format: String,
    /// Recording id (also the directory name).
    pub recording_id: String,
    /// UTC when the start was accepted.
    pub started_utc: String,
    /// What started it (`gesture:double`, `ctl`).
    pub trigger: String,
    /// Seconds of pre-event footage at the start of the first segment.
    pub pre_event_seconds: f64,
    /// Whether the pre-event footage holds audio.
    pub pre_event_audio: bool,
    /// Capture settings.
    pub capture: CaptureInfo,
    /// The officer the camera was assigned to at the start (null: unassigned). Absent
    /// in v1 descriptors and when unassigned, read as null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// The pre-event audio frames written as encoded silence (declared here, before any
    /// frame is written, so that recovery can declare it in the first segment's sidecar
    /// too); absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_event_silence: Option<AudioSilence>,
}

/// What a new recording is made of.
#[derive(Debug, Clone)]
pub struct NewRecording {
    /// What started it (`gesture:double`, `ctl`).
    pub trigger: String,
    /// Pre-event footage at its start: nanoseconds, and whether it holds audio.
    pub pre_event: (u64, bool),
    /// Target segment length.
    pub segment_ns: u64,
    /// Capture settings.
    pub capture: CaptureInfo,
    /// The officer assigned when it starts (kept for the whole recording, whatever a
    /// dock assigns meanwhile).
    pub officer: Option<String>,
    /// Pre-event audio frames that are encoded silence, if any (first segment).
    pub pre_event_silence: Option<AudioSilence>,
}

/// What happened to a frame offered to a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Written; bytes appended.
    Written(u64),
    /// Not written because the recording waits for a keyframe to start a segment.
    Skipped,
    /// Not written: no room left. The caller must finalise.
    NoRoom,
}

/// A recording being written.
#[derive(Debug)]
pub struct RecordingWriter {
    id: String,
    dir: PathBuf,
    base_ns: u64,
    segment_ns: u64,
    with_audio: bool,
    capture: CaptureInfo,
    next_sequence: u32,
    segment: Option<SegmentWriter>,
    pending_pre_event: Option<(u64, bool)>,
    pending_silence: Option<AudioSilence>,
    pending_markers: Vec<(u64, String)>,
    /// Segments closed so far (counted, not kept: nothing grows with the recording).
    closed_segments: u64,
    /// Seconds of video in them.
    closed_seconds: f64,
    /// The sidecar of the newest closed segment.
    last_closed: Option<SegmentMeta>,
    started_mono: u64,
    head_path: PathBuf,
    /// Mute spans of the recording by monotonic time (`None`: still muted).
    mute: Vec<(u64, Option<u64>)>,
    /// Location samples taken before the first segment opened.
    pending_locations: Vec<(u64, Sample)>,
    officer: Option<String>,
}

impl RecordingWriter {
    /// Create the recording directory and its `recording.json`.
    pub fn create(
        flash: &dyn Flash,
        recordings_dir: &Path,
        time: &TimeRef,
        plan: NewRecording,
        head_path: PathBuf,
    ) -> Result<RecordingWriter, StoreError> {
        let NewRecording {
            trigger,
            pre_event,
            segment_ns,
            capture,
            officer,
            pre_event_silence,
        } = plan;
        let stamp = time.utc.format("%Y%m%dT%H%M%SZ").to_string();
        // Unique even for two starts in one second; never reuses a directory.
        let id = layout::new_recording_id(&stamp, |id| recordings_dir.join(id).exists());
        let dir = recordings_dir.join(&id);
        flash
            .create_dir_durable(&dir)
            .map_err(|e| StoreError::io("create recording directory", &dir, e))?;
        let info = RecordingInfo {
            format: RECORDING_FORMAT.into(),
            recording_id: id.clone(),
            started_utc: rfc3339(time.utc),
            trigger,
            pre_event_seconds: pre_event.0 as f64 / 1e9,
            pre_event_audio: pre_event.1,
            capture: capture.clone(),
            officer: officer.clone(),
            pre_event_silence: pre_event_silence.clone(),
        };
        let path = dir.join(layout::RECORDING_INFO);
        let json = serde_json::to_vec_pretty(&info).map_err(std::io::Error::other);
        json.and_then(|j| flash.write_atomic(&path, &j))
            .map_err(|e| StoreError::io("write", &path, e))?;
        Ok(RecordingWriter {
            id,
            dir,
            base_ns: 0,
            segment_ns,
            with_audio: capture.audio,
            capture,
            next_sequence: 1,
            segment: None,
            pending_pre_event: Some(pre_event),
            pending_silence: pre_event_silence,
            pending_markers: Vec::new(),
            closed_segments: 0,
            closed_seconds: 0.0,
            last_closed: None,
            started_mono: time.mono_ns,
            head_path,
            mute: Vec::new(),
            pending_locations: Vec::new(),
            officer,
        })
    }

    /// The microphone was muted (`on`) or unmuted at monotonic time `mono_ns`.
    pub fn mute_changed(&mut self, on: bool, mono_ns: u64) {
        match (on, self.mute.last_mut()) {
            (true, Some((_, None))) => {}
            (true, Some((_, Some(_))) | None) => self.mute.push((mono_ns, None)),
            (false, Some((start, end @ None))) => *end = Some(mono_ns.max(*start)),
            (false, Some((_, Some(_))) | None) => {}
        }
    }

    /// A location sample taken at monotonic time `mono_ns`, signed with the open
    /// segment's next checkpoint.
    pub fn add_location(&mut self, mono_ns: u64, sample: Sample) {
        let pts = ns_to_90k(mono_ns.saturating_sub(self.base_ns)) + TIME_OFFSET_90K;
        match self.segment.as_mut() {
            Some(seg) => seg.queue_location(pts, sample),
            None => self.pending_locations.push((mono_ns, sample)),
        }
    }

    /// The mute spans that fall in `[first, end)`, as the sidecar lists them.
    fn mute_spans_within(&self, first: u64, end: u64, time: &TimeRef) -> Vec<MuteSpan> {
        self.mute
            .iter()
            .filter_map(|&(s, e)| {
                let (s, e) = (s.max(first), e.unwrap_or(end).min(end));
                (s < e).then(|| MuteSpan {
                    start_offset_seconds: (s - first) as f64 / 1e9,
                    end_offset_seconds: (e - first) as f64 / 1e9,
                    utc_start: rfc3339(time.utc_of(s)),
                    utc_end: rfc3339(time.utc_of(e)),
                })
            })
            .collect()
    }

    /// Recording id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The officer the recording is made for.
    pub fn officer(&self) -> Option<&str> {
        self.officer.as_deref()
    }

    /// Directory of the recording.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of segments closed so far.
    pub fn closed_segments(&self) -> u64 {
        self.closed_segments
    }

    /// The sidecar of the newest closed segment.
    pub fn last_closed(&self) -> Option<&SegmentMeta> {
        self.last_closed.as_ref()
    }

    /// Seconds recorded: closed segments plus the open one.
    pub fn seconds(&self) -> f64 {
        self.closed_seconds + self.segment.as_ref().map_or(0, |s| s.duration_ns()) as f64 / 1e9
    }

    /// Offer the next frame in decode order. `budget` is the number of bytes that may
    /// still be written to flash.
    pub fn offer(
        &mut self,
        flash: &dyn Flash,
        frame: &Frame,
        budget: u64,
        time: &TimeRef,
        signer: &mut Signer,
    ) -> Result<Offer, StoreError> {
        let rollover = match &self.segment {
            // Pre-event footage (older than the start) always stays in the first segment.
            Some(seg) => {
                frame.is_video_keyframe()
                    && frame.pts_ns >= self.started_mono
                    && seg.elapsed_ns(frame.pts_ns) >= self.segment_ns
            }
            None => {
                if !frame.is_video_keyframe() {
                    return Ok(Offer::Skipped);
                }
                false
            }
        };
        if rollover {
            self.close_segment(flash, EndReason::Rollover, time, signer)?;
        }
        if self.segment.is_none() {
            if self.next_sequence == 1 {
                self.base_ns = frame.pts_ns;
            }
            // The copy of the final record this segment will write, set aside now.
            match flash.reserve_atomic(&self.head_path, segment::HEAD_RESERVE) {
                Err(e) if !segment::unsupported(&e) => {
                    return Err(StoreError::io("reserve", &self.head_path, e));
                }
                Ok(()) | Err(_) => {}
            }
            let mut seg = SegmentWriter::create(
                flash,
                &self.dir,
                &self.id,
                self.next_sequence,
                self.with_audio,
                signer,
            )
            .map_err(|e| StoreError::io("create segment in", &self.dir, e))?;
            self.next_sequence += 1;
            if let Some((ns, audio)) = self.pending_pre_event.take() {
                seg.set_pre_event(ns, audio);
            }
            seg.set_officer(self.officer.clone());
            if let Some(silence) = self.pending_silence.take() {
                seg.add_audio_silence(silence);
            }
            self.segment = Some(seg);
        }
        let Some(seg) = self.segment.as_mut() else {
            return Ok(Offer::Skipped);
        };
        let live = frame.pts_ns >= self.started_mono;
        let written = seg
            .write(frame, self.base_ns, budget, live, signer)
            .map_err(|e| StoreError::io("write segment in", &self.dir, e))?;
        for (mono, trigger) in std::mem::take(&mut self.pending_markers) {
            seg.add_marker(mono, trigger, time);
        }
        for (mono, sample) in std::mem::take(&mut self.pending_locations) {
            let pts = ns_to_90k(mono.saturating_sub(self.base_ns)) + TIME_OFFSET_90K;
            seg.queue_location(pts, sample);
        }
        Ok(match written {
            Written::Bytes(n) => Offer::Written(n),
            Written::NoRoom => Offer::NoRoom,
        })
    }

    /// Add a marker at monotonic time `mono_ns`.
    pub fn add_marker(&mut self, mono_ns: u64, trigger: String, time: &TimeRef) {
        match self.segment.as_mut() {
            Some(seg) => seg.add_marker(mono_ns, trigger, time),
            None => self.pending_markers.push((mono_ns, trigger)),
        }
    }

    /// Bytes written to the open segment but not yet durable.
    pub fn unsynced_bytes(&self) -> u64 {
        self.segment
            .as_ref()
            .map_or(0, SegmentWriter::unsynced_bytes)
    }

    /// Make the open segment durable and cover it with a signed checkpoint.
    pub fn checkpoint(&mut self, signer: &mut Signer) -> Result<(), StoreError> {
        if let Some(seg) = self.segment.as_mut() {
            seg.checkpoint(signer)
                .map_err(|e| StoreError::io("checkpoint segment in", &self.dir, e))?;
        }
        Ok(())
    }

    /// Close the open segment (if any) with `reason`; the recording can continue with a
    /// new segment at the next keyframe. Returns the sidecar and the signed final record.
    pub fn close_segment(
        &mut self,
        flash: &dyn Flash,
        reason: EndReason,
        time: &TimeRef,
        signer: &mut Signer,
    ) -> Result<Option<(&SegmentMeta, Vec<u8>)>, StoreError> {
        let Some(mut seg) = self.segment.take() else {
            return Ok(None);
        };
        if let Some((first, end)) = seg.time_range() {
            seg.set_mute_spans(self.mute_spans_within(first, end, time));
        }
        let (meta, final_record) = seg
            .finish(flash, reason, time, &self.capture, signer)
            .map_err(|e| StoreError::io("finalise segment in", &self.dir, e))?;
        // A copy of the newest media record survives the segment being freed later.
        flash
            .write_atomic(&self.head_path, &final_record)
            .map_err(|e| StoreError::io("write", &self.head_path, e))?;
        self.closed_segments += 1;
        self.closed_seconds += meta.duration_seconds;
        let meta = self.last_closed.insert(meta);
        Ok(Some((&*meta, final_record)))
    }
}
