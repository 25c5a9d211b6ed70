//! One MPEG-TS segment being written: muxes frames, appends them to flash, syncs, and
//! writes the sidecar when it closes.
//!
//! What closing writes (the last checkpoint and the final record in the journal, the
//! sidecar, `media.head`) goes into blocks set aside when the segment opened, so a full
//! filesystem (another writer filled it) cannot keep a segment from closing. A media
//! write that fails part-way keeps what landed: it is hashed like every other byte, so
//! the segment still closes over exactly what the file holds.

use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};

use crate::clock::{TimeRef, rfc3339};
use crate::confidential::sealing::SegmentSealer;
use crate::evidence::Signer;
use crate::evidence::payload::{
    Checkpoint, Final, Location, Payload, SealedLocation, SegmentKeys, SignedMarker,
};
use crate::evidence::record::sha256;
use crate::evidence::sidecar::{
    AudioSilence, CaptureInfo, EndReason, Marker, MuteSpan, SIDECAR_FORMAT, SegmentMeta,
    SidecarEncryption,
};
use crate::flash::{Flash, FlashFile};
use crate::layout::SegmentFile;
use crate::location::Sample;
use crate::media::{Frame, StreamKind, ns_to_90k};
use crate::ts::{TIME_OFFSET_90K, TS_PACKET, TsMuxer};

/// Blocks kept allocated past the journal's end: the final record (with up to a few
/// hundred markers) and the checkpoint before it. Topped up after every checkpoint.
pub const JOURNAL_RESERVE: u64 = 64 * 1024;
/// Blocks set aside for the sidecar's temporary file.
pub const SIDECAR_RESERVE: u64 = 64 * 1024;
/// Blocks set aside for `media.head`'s temporary file (one final record).
pub const HEAD_RESERVE: u64 = 64 * 1024;

/// Whether `e` means the filesystem cannot preallocate (the segment is then written
/// without reserves, as before they existed).
pub fn unsupported(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::Unsupported
}

/// `r`, with "this filesystem cannot preallocate" counted as done.
fn reserved(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if unsupported(&e) => {
            tracing::debug!(error = %e, "no preallocation on this filesystem");
            Ok(())
        }
        other => other,
    }
}

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
    /// Location samples (90 kHz timeline position, sample) signed at the next checkpoint.
    locations: Vec<(u64, Sample)>,
    /// Mute spans for the sidecar, set by the recording before [`SegmentWriter::finish`].
    mute_spans: Vec<MuteSpan>,
    officer: Option<String>,
    audio_silence: Vec<AudioSilence>,
    /// Encrypted segments: seals the media into chunks (plaintext waits in RAM until
    /// the next checkpoint), and the key ids it is wrapped to.
    sealer: Option<(SegmentSealer, Vec<String>)>,
    /// A media append failed part-way; the bytes that landed are counted and hashed.
    partial_write: bool,
    /// A write failed so that the file's end is not known (the media's length could
    /// not be read, or a journal record may be torn): the segment cannot be closed
    /// here and is left to recovery.
    broken: bool,
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
    /// Create `dir/NNNNNN.ts` and its journal (never overwriting anything), with the
    /// space closing needs set aside first: the sidecar's temporary file and blocks past
    /// the journal's end. (`media.head`'s is the recording's: see
    /// [`crate::store::recording::RecordingWriter`].) When the signer's footage is
    /// encrypted, the journal's first record is the segment's keys record, durable
    /// before any media is written.
    pub fn create(
        flash: &dyn Flash,
        dir: &Path,
        recording_id: &str,
        sequence: u32,
        with_audio: bool,
        signer: &mut Signer,
    ) -> std::io::Result<SegmentWriter> {
        reserved(flash.reserve_atomic(&SegmentFile::Meta.path(dir, sequence), SIDECAR_RESERVE))?;
        let file = flash.create_new(&SegmentFile::Media.path(dir, sequence))?;
        let mut journal = flash.create_new(&SegmentFile::Journal.path(dir, sequence))?;
        let device_id = signer.identity().device_id();
        let sealer = match signer
            .footage_mut()
            .seal_segment(&device_id, recording_id, sequence)
            .map_err(std::io::Error::other)?
        {
            Some((sealer, keys)) => {
                let key_ids = keys
                    .recipients
                    .iter()
                    .map(|r| hex::encode(r.key_id))
                    .collect();
                let rec = signer.sign_media(&Payload::Keys(SegmentKeys {
                    recording_id: recording_id.to_string(),
                    segment: sequence,
                    aead: keys.aead,
                    commitment: keys.commitment,
                    recipients: keys.recipients,
                }));
                journal.write_all(&rec)?;
                journal.sync_data()?;
                Some((sealer, key_ids))
            }
            None => None,
        };
        reserved(journal.reserve(JOURNAL_RESERVE))?;
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
            locations: Vec::new(),
            mute_spans: Vec::new(),
            officer: None,
            audio_silence: Vec::new(),
            sealer,
            partial_write: false,
            broken: false,
        })
    }

    /// Monotonic time of the first frame and of the end of the last one, once written.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        self.first_pts_ns.map(|f| (f, self.end_ns.max(f)))
    }

    /// Sign `sample` (at `pts_90k` on the recording's timeline) with the next checkpoint.
    pub fn queue_location(&mut self, pts_90k: u64, sample: Sample) {
        self.locations.push((pts_90k, sample));
    }

    /// The mute spans the sidecar lists.
    pub fn set_mute_spans(&mut self, spans: Vec<MuteSpan>) {
        self.mute_spans = spans;
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

    /// Whether the media is encrypted.
    pub fn encrypted(&self) -> bool {
        self.sealer.is_some()
    }

    /// Put the muxed frame in `self.buf` on its way to flash: appended as it is (plain),
    /// or added to the plaintext of the next chunk (encrypted; sealed and appended at
    /// the next checkpoint, or at once when the chunk is full).
    fn append_buf(&mut self, video: Option<(u64, bool)>) -> std::io::Result<()> {
        let full = match self.sealer.as_mut() {
            None => {
                if let Err(e) = self.file.write_all(&self.buf) {
                    self.keep_what_landed();
                    return Err(e);
                }
                self.whole.update(&self.buf);
                self.range.update(&self.buf);
                self.bytes += self.buf.len() as u64;
                false
            }
            Some((s, _)) => {
                s.push(&self.buf, video);
                s.full()
            }
        };
        if full { self.write_chunk() } else { Ok(()) }
    }

    /// Seal the plaintext waiting in RAM into a chunk and append it (encrypted only). A
    /// chunk that fails part-way is torn: the segment is left to recovery, which cuts it.
    fn write_chunk(&mut self) -> std::io::Result<()> {
        if self.broken {
            return Err(std::io::Error::other(
                "an earlier write left this segment's end unknown",
            ));
        }
        let Some(chunk) = self.sealer.as_mut().and_then(|(s, _)| s.seal()) else {
            return Ok(());
        };
        if let Err(e) = self.file.write_all(&chunk) {
            self.broken = true;
            return Err(e);
        }
        self.whole.update(&chunk);
        self.range.update(&chunk);
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    /// Plaintext bytes in RAM waiting to be sealed.
    fn pending_plain(&self) -> u64 {
        self.sealer
            .as_ref()
            .map_or(0, |(s, _)| s.pending_bytes() as u64)
    }

    /// Declare a span of this segment's audio as encoded silence (in its sidecar).
    pub fn add_audio_silence(&mut self, span: AudioSilence) {
        self.audio_silence.push(span);
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
        if self.broken || self.partial_write {
            return Err(std::io::Error::other(
                "an earlier write to this segment failed",
            ));
        }
        let video = (frame.kind == StreamKind::Video).then_some((pts, frame.keyframe));
        self.append_buf(video)?;
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

    /// After a failed append of `self.buf`: count and hash the part of it that reached
    /// the file, so the file and the hashes agree again; if the file's length cannot be
    /// read, the segment is left to recovery.
    fn keep_what_landed(&mut self) {
        let landed = match self.file.file_len() {
            Ok(len) if len >= self.bytes && len - self.bytes <= self.buf.len() as u64 => {
                (len - self.bytes) as usize
            }
            Ok(_) | Err(_) => {
                self.broken = true;
                return;
            }
        };
        let part = &self.buf[..landed];
        self.whole.update(part);
        self.range.update(part);
        self.bytes += landed as u64;
        self.partial_write = landed > 0;
    }

    /// Whether this segment can still be closed here (no write left its end unknown).
    pub fn closable(&self) -> bool {
        !self.broken
    }

    /// Bytes written but not yet made durable.
    pub fn unsynced_bytes(&self) -> u64 {
        self.bytes - self.range_start + self.pending_plain()
    }

    /// Make everything written durable, then cover it with a signed checkpoint and make
    /// that durable too. Does nothing when no byte was written since the last one.
    ///
    /// Afterwards the journal's reserve is topped up; if the filesystem has no blocks
    /// left for that, the error says so and the caller must close the segment now (what
    /// is left of the reserve holds the close).
    pub fn checkpoint(&mut self, signer: &mut Signer) -> std::io::Result<()> {
        // An encrypted segment's chunk ends here: checkpoints fall on chunk boundaries.
        self.write_chunk()?;
        let wrote = self.sign_range(signer)?;
        if !wrote {
            return Ok(());
        }
        // Keep room for the final record; without it the caller must close now.
        reserved(self.journal.reserve(JOURNAL_RESERVE))
    }

    /// Sync the media and sign the range since the last checkpoint into the journal;
    /// whether there was anything to sign.
    fn sign_range(&mut self, signer: &mut Signer) -> std::io::Result<bool> {
        if self.broken {
            return Err(std::io::Error::other(
                "an earlier write left this segment's end unknown",
            ));
        }
        if self.bytes == self.range_start {
            return Ok(false);
        }
        self.file.sync_data()?;
        // Location samples go into the journal just before the checkpoint, made durable
        // by the same sync.
        for (pts_90k, s) in std::mem::take(&mut self.locations) {
            // An encrypted segment's fixes are sealed under its content key
            // (EVIDENCE-FORMAT 9.8, 10.1.1): nothing of them is written in the clear.
            let payload = match &mut self.sealer {
                Some((sealer, _)) => {
                    let (seq, sealed) = sealer.seal_location(pts_90k, &s);
                    Payload::SealedLocation(SealedLocation {
                        recording_id: self.recording_id.clone(),
                        segment: self.sequence,
                        seq,
                        pts_90k,
                        sealed,
                    })
                }
                None => Payload::Location(Location {
                    recording_id: self.recording_id.clone(),
                    segment: self.sequence,
                    pts_90k,
                    fix: s,
                }),
            };
            let rec = signer.sign_media(&payload);
            if let Err(e) = self.journal.write_all(&rec) {
                // A torn location record: the journal's end is no longer known.
                self.broken = true;
                return Err(e);
            }
        }
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
        self.append_record(&rec)?;
        Ok(true)
    }

    /// Append one signed record to the journal and make it durable. A failure may
    /// leave a torn record at the journal's end: nothing more is appended here after
    /// it (recovery cuts it and closes the segment).
    fn append_record(&mut self, rec: &[u8]) -> std::io::Result<()> {
        let written = self
            .journal
            .write_all(rec)
            .and_then(|()| self.journal.sync_data());
        if written.is_err() {
            self.broken = true;
        }
        written
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
        // Into the reserve: no top-up needed, the final record is the last.
        self.write_chunk()?;
        self.sign_range(signer)?;
        if self.broken {
            return Err(std::io::Error::other(
                "an earlier write left this segment's end unknown; recovery will close it",
            ));
        }
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
            // A partial TS packet is there only if an append failed part-way (encrypted
            // media is whole chunks: a failed chunk leaves the segment to recovery).
            trailing_bytes: if self.sealer.is_some() {
                0
            } else {
                self.bytes % TS_PACKET as u64
            },
            capture: capture.clone(),
            mute_spans: std::mem::take(&mut self.mute_spans),
            officer: self.officer.clone(),
            audio_silence: std::mem::take(&mut self.audio_silence),
            encryption: self.sealer.as_ref().map(|(s, key_ids)| SidecarEncryption {
                aead: crate::confidential::AEAD_NAME.into(),
                key_ids: key_ids.clone(),
                chunks: s.chunks(),
            }),
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
        self.append_record(&rec)?;
        if let Err(e) = self.journal.release_reserve() {
            tracing::debug!(error = %e, "cannot give back the journal's reserve");
        }
        Ok((meta, rec))
    }
}
