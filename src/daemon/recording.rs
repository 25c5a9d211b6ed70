//! The open recording in the loop: opening it with the pre-event footage, writing
//! frames, closing segments, markers, and the audit entries that go with them.

use std::time::Instant;

use tracing::{error, info, warn};

use super::Loop;
use crate::capture::silence::{self, SilenceSpan};
use crate::clock::{TimeRef, monotonic_ns};
use crate::confidential::sealing::Notice;
use crate::controls::Gesture;
use crate::evidence::events::AuditEvent;
use crate::evidence::sidecar::{AudioSilence, EndReason, SilenceReason};
use crate::media::Frame;
use crate::prebuffer::PreEvent;
use crate::recorder::{Event, Trigger};
use crate::store::recording::{NewRecording, Offer, RecordingWriter};

/// What a trigger is called in `recording.json`, markers and the audit log.
pub(super) fn trigger_name(t: Trigger) -> String {
    match t {
        Trigger::Gesture(g) => format!("gesture:{}", gesture_name(g)),
        Trigger::Ctl => "ctl".into(),
        Trigger::StorageFull => "storage_full".into(),
        Trigger::Shutdown => "shutdown".into(),
        Trigger::Input(name) => format!("input:{name}"),
        Trigger::Peer(device) => format!("peer:{device}"),
        Trigger::Power(reason) => reason.name().into(),
        Trigger::StorageFault => "storage_fault".into(),
    }
}

/// What a gesture is called in the log and in trigger names.
pub(super) fn gesture_name(g: Gesture) -> &'static str {
    match g {
        Gesture::Single => "single",
        Gesture::Double => "double",
        Gesture::Triple => "triple",
        Gesture::Quad => "quad",
        Gesture::Hold => "hold",
    }
}

/// What a gesture asks for, as the audit log names refused requests.
pub(super) fn gesture_request(g: Gesture) -> &'static str {
    match g {
        Gesture::Double => "start",
        Gesture::Hold => "stop",
        Gesture::Single => "marker",
        Gesture::Triple => "stealth",
        // Mute while recording, sleep otherwise.
        Gesture::Quad => "privacy",
    }
}

/// Why the last segment of a recording stopped by `t` ended; a storage fault that
/// was the filesystem running out of space (`no_space`) counts as full.
pub(super) fn end_reason(t: Trigger, no_space: bool) -> EndReason {
    match t {
        // Inputs and peers never stop a recording; named for completeness.
        Trigger::Gesture(_) | Trigger::Ctl | Trigger::Input(_) | Trigger::Peer(_) => {
            EndReason::Stopped
        }
        Trigger::StorageFull => EndReason::StorageFull,
        Trigger::Shutdown | Trigger::Power(_) => EndReason::Shutdown,
        Trigger::StorageFault if no_space => EndReason::StorageFull,
        Trigger::StorageFault => EndReason::Fault,
    }
}

impl Loop {
    /// Audit the end of recording `r`; `during` is the state it ended in.
    pub(super) fn audit_stop(&mut self, r: &RecordingWriter, t: Trigger, during: &str) {
        self.audit(AuditEvent::RecordingStop {
            recording_id: r.id().to_string(),
            trigger: trigger_name(t),
            seconds: r.seconds(),
            segments: r.closed_segments(),
            during: Some(during.to_string()),
        });
    }

    pub(super) fn open_recording(&mut self, t: Trigger) {
        let pre = self.prebuffer.take();
        let now = monotonic_ns();
        let pre_ns = pre.first_pts_ns().map_or(0, |p| now.saturating_sub(p));
        let pre_audio = pre.has_sound();
        let silence = self.pre_event_silence(&pre);
        self.time = TimeRef::now();
        let plan = NewRecording {
            trigger: trigger_name(t),
            pre_event: (pre_ns, pre_audio),
            segment_ns: self.settings.segment_ns,
            capture: self.settings.capture_info.clone(),
            officer: self.assigned_officer(),
            pre_event_silence: silence.clone(),
        };
        let r = match self.store.new_recording(&self.time, plan) {
            Ok(r) => r,
            Err(e) => return self.storage_failed(e),
        };
        info!(recording = r.id(), trigger = %trigger_name(t), pre_event_seconds = pre_ns as f64 / 1e9, officer = ?r.officer(), "recording started");
        if let Some(s) = &silence {
            info!(
                recording = r.id(),
                frames = s.frames,
                seconds = s.seconds,
                "pre-event audio written as declared silence (recording.pre_event_audio = false)"
            );
        }
        self.audit(AuditEvent::RecordingStart {
            recording_id: r.id().to_string(),
            trigger: trigger_name(t),
            pre_event_seconds: pre_ns as f64 / 1e9,
            pre_event_audio: pre_audio,
            officer: r.officer().map(str::to_string),
        });
        let recording_id = r.id().to_string();
        self.recording = Some(r);
        self.announce_start(t, &recording_id);
        // Frame by frame out of the ring: the buffer's memory is handed back as it is
        // written, never copied whole.
        for mut f in pre {
            if f.sound_dropped() {
                // The encoder's silence in its place (declared above), or, without a
                // silent frame, no audio there at all.
                let Some(silent) = self.settings.silence.as_ref() else {
                    continue;
                };
                silence::fill(&mut f, silent);
            }
            self.write(f);
        }
        // The pre-event footage came from RAM in one go: one sync and one checkpoint
        // cover all of it (not one per GOP).
        if let Some(rec) = self.recording.as_mut() {
            match self.store.checkpoint(rec, &mut self.signer) {
                Ok(()) => info!(recording = rec.id(), "pre-event footage durable and signed"),
                Err(e) => self.storage_failed(e),
            }
        }
        self.last_sync = Instant::now();
    }

    pub(super) fn write(&mut self, f: Frame) {
        let Some(f) = self.unless_muted(f) else {
            return;
        };
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        if f.is_video_keyframe() {
            // The segment checkpoints (sync + signed record) before each keyframe.
            self.last_sync = Instant::now();
        }
        let before = rec.closed_segments();
        match self.store.offer(rec, &f, &self.time, &mut self.signer) {
            Ok(Offer::Written(_) | Offer::Skipped) => {}
            Ok(Offer::NoRoom) => {
                warn!("storage full: finalising the recording");
                self.queue.push_back(Event::StorageFull);
            }
            Err(e) => self.storage_failed(e),
        }
        self.audit_recipient_notices();
        if let Some(rec) = self.recording.as_ref() {
            let closed = rec.closed_segments() - before;
            if closed > 0 {
                self.segments_written += closed;
                if let Some(m) = rec.last_closed() {
                    info!(recording = %m.recording_id, sequence = m.sequence, seconds = m.duration_seconds, bytes = m.bytes, "segment closed");
                }
            }
        }
    }

    /// Audit what changed about the recipients when a segment opened (rotation, or
    /// files that could not be read again).
    fn audit_recipient_notices(&mut self) {
        let mode = self.signer.footage().mode().name().to_string();
        for n in self.signer.footage_mut().take_notices() {
            let event = match n {
                Notice::Rotated { key_ids } => {
                    info!(key_ids = %key_ids.join(","), "footage recipients changed: in force from this segment on");
                    AuditEvent::Encryption {
                        mode: mode.clone(),
                        key_ids,
                        reason: "rotated".into(),
                        error: None,
                    }
                }
                Notice::Unreadable { error, key_ids } => {
                    error!(%error, "cannot read the footage recipients again: the previous ones stay in force");
                    AuditEvent::Encryption {
                        mode: mode.clone(),
                        key_ids,
                        reason: "unreadable".into(),
                        error: Some(error),
                    }
                }
            };
            self.audit(event);
        }
    }

    pub(super) fn close_segment(&mut self, reason: EndReason) {
        let time = TimeRef::now();
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        match self
            .store
            .close_segment(rec, reason, &time, &mut self.signer)
        {
            Ok(Some((m, _))) => {
                self.segments_written += 1;
                info!(recording = %m.recording_id, sequence = m.sequence, seconds = m.duration_seconds, bytes = m.bytes, reason = ?reason, "segment closed");
            }
            Ok(None) => {}
            Err(e) => {
                error!(error = %e, "cannot finalise segment (its media stays on flash; recovery closes it once the medium takes writes)");
                self.storage_failed(e);
            }
        }
        self.last_sync = Instant::now();
    }

    pub(super) fn add_marker(&mut self, t: Trigger) {
        let now = monotonic_ns();
        let time = TimeRef::now();
        let Some(r) = self.recording.as_mut() else {
            return;
        };
        r.add_marker(now, trigger_name(t), &time);
        info!(recording = r.id(), "marker added");
        let recording_id = r.id().to_string();
        self.audit(AuditEvent::Marker {
            recording_id,
            trigger: trigger_name(t),
            utc: crate::clock::rfc3339(time.utc),
        });
    }
}

impl Loop {
    /// Declare the span where the encoder's silent frame stands in for pre-event audio
    /// whose sound was not kept (for `recording.json` and the first segment's sidecar;
    /// [`Self::open_recording`] puts the frames in). Without a silent frame those frames
    /// are dropped (that span then has no audio, as before) and nothing is declared.
    fn pre_event_silence(&self, pre: &PreEvent) -> Option<AudioSilence> {
        let silent = self.settings.silence.as_ref()?;
        let base = pre.first_pts_ns()?;
        let span = SilenceSpan::over(pre.dropped_audio(), silent)?;
        let first_pts_90k = crate::ts::timeline_90k(span.first_pts_ns, base);
        let end_pts_90k = crate::ts::timeline_90k(span.end_ns, base);
        Some(AudioSilence {
            frames: span.frames,
            first_pts_90k,
            end_pts_90k,
            seconds: (span.end_ns - span.first_pts_ns) as f64 / 1e9,
            reason: SilenceReason::PreEventAudioDisabled,
            frame_hex: hex::encode(silent.bytes()),
        })
    }
}
