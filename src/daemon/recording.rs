//! The open recording in the loop: opening it with the pre-event footage, writing
//! frames, closing segments, markers, and the audit entries that go with them.

use std::time::Instant;

use tracing::{error, info, warn};

use super::Loop;
use crate::clock::{TimeRef, monotonic_ns};
use crate::controls::Gesture;
use crate::evidence::events::AuditEvent;
use crate::evidence::sidecar::EndReason;
use crate::media::{Frame, StreamKind};
use crate::recorder::{Event, Trigger};
use crate::store::StoreError;
use crate::store::recording::{NewRecording, Offer, RecordingWriter};

/// What a trigger is called in `recording.json`, markers and the audit log.
pub(super) fn trigger_name(t: Trigger) -> String {
    match t {
        Trigger::Gesture(g) => format!("gesture:{}", gesture_name(g)),
        Trigger::Ctl => "ctl".into(),
        Trigger::StorageFull => "storage_full".into(),
        Trigger::Shutdown => "shutdown".into(),
    }
}

/// What a gesture is called in the log and in trigger names.
pub(super) fn gesture_name(g: Gesture) -> &'static str {
    match g {
        Gesture::Single => "single",
        Gesture::Double => "double",
        Gesture::Triple => "triple",
        Gesture::Hold => "hold",
    }
}

/// Why the last segment of a recording stopped by `t` ended.
pub(super) fn end_reason(t: Trigger) -> EndReason {
    match t {
        Trigger::Gesture(_) | Trigger::Ctl => EndReason::Stopped,
        Trigger::StorageFull => EndReason::StorageFull,
        Trigger::Shutdown => EndReason::Shutdown,
    }
}

impl Loop {
    /// Audit the end of recording `r`; `during` is the state it ended in.
    pub(super) fn audit_stop(&mut self, r: &RecordingWriter, t: Trigger, during: &str) {
        self.audit(AuditEvent::RecordingStop {
            recording_id: r.id().to_string(),
            trigger: trigger_name(t),
            seconds: r.seconds(),
            segments: r.closed().len() as u64,
            during: Some(during.to_string()),
        });
    }

    pub(super) fn open_recording(&mut self, t: Trigger) {
        let pre = self.prebuffer.take();
        let now = monotonic_ns();
        let pre_ns = pre.first().map_or(0, |f| now.saturating_sub(f.pts_ns));
        let pre_audio = pre.iter().any(|f| f.kind == StreamKind::Audio);
        self.time = TimeRef::now();
        let plan = NewRecording {
            trigger: trigger_name(t),
            pre_event: (pre_ns, pre_audio),
            segment_ns: self.settings.segment_ns,
            capture: self.settings.capture_info.clone(),
            officer: self.assigned_officer(),
        };
        let r = match self.store.new_recording(&self.time, plan) {
            Ok(r) => r,
            Err(e) => return self.storage_failed(e),
        };
        info!(recording = r.id(), trigger = %trigger_name(t), pre_event_seconds = pre_ns as f64 / 1e9, officer = ?r.officer(), "recording started");
        self.audit(AuditEvent::RecordingStart {
            recording_id: r.id().to_string(),
            trigger: trigger_name(t),
            pre_event_seconds: pre_ns as f64 / 1e9,
            pre_event_audio: pre_audio,
            officer: r.officer().map(str::to_string),
        });
        self.recording = Some(r);
        for f in pre {
            self.write(f);
        }
        // The pre-event footage came from RAM in one go: one sync and one checkpoint
        // cover all of it (not one per GOP).
        if let Some(rec) = self.recording.as_mut() {
            match rec.checkpoint(&mut self.signer) {
                Ok(()) => info!(recording = rec.id(), "pre-event footage durable and signed"),
                Err(e) => self.storage_failed(e),
            }
        }
        self.last_sync = Instant::now();
    }

    pub(super) fn write(&mut self, f: Frame) {
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        if f.is_video_keyframe() {
            // The segment checkpoints (sync + signed record) before each keyframe.
            self.last_sync = Instant::now();
        }
        let before = rec.closed().len();
        match rec.offer(
            self.store.flash(),
            &f,
            self.store.budget(),
            &self.time,
            &mut self.signer,
        ) {
            Ok(Offer::Written(n)) => self.store.account(n),
            Ok(Offer::Skipped) => {}
            Ok(Offer::NoRoom) => {
                warn!("storage full: finalising the recording");
                self.queue.push_back(Event::StorageFull);
            }
            Err(e) => self.storage_failed(e),
        }
        if let Some(rec) = self.recording.as_ref() {
            let closed = rec.closed().len() - before;
            if closed > 0 {
                self.segments_written += closed as u64;
                if let Some(m) = rec.closed().last() {
                    info!(recording = %m.recording_id, sequence = m.sequence, seconds = m.duration_seconds, bytes = m.bytes, "segment closed");
                }
            }
        }
    }

    pub(super) fn storage_failed(&mut self, e: StoreError) {
        error!(error = %e, "flash write failed: treating the store as full");
        self.last_fault = Some(e.to_string());
        self.queue.push_back(Event::StorageFull);
    }

    pub(super) fn close_segment(&mut self, reason: EndReason) {
        let time = TimeRef::now();
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        match rec.close_segment(self.store.flash(), reason, &time, &mut self.signer) {
            Ok(Some((m, _))) => {
                self.segments_written += 1;
                info!(recording = %m.recording_id, sequence = m.sequence, seconds = m.duration_seconds, bytes = m.bytes, reason = ?reason, "segment closed");
            }
            Ok(None) => {}
            Err(e) => {
                error!(error = %e, "cannot finalise segment (its media stays on flash; recovery will close it at next start)")
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
