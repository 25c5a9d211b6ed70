//! Privacy in the loop: audio mute (silence in place of the microphone, the spans in
//! the recording's sidecars, audited), sleep (audited; the pipeline's stop empties the
//! pre-event buffer), and the haptic reminders while recording, muted or asleep.

use std::time::{Duration, Instant};

use tracing::info;

use super::Loop;
use crate::clock::{TimeRef, monotonic_ns, rfc3339};
use crate::controls::reminders::ReminderKind;
use crate::evidence::events::AuditEvent;
use crate::media::{Frame, StreamKind};
use crate::recorder::State;

/// Ended mute spans are kept this long for frames still on their way to the loop.
const MUTE_SPAN_KEEP: Duration = Duration::from_secs(10);

impl Loop {
    /// Mute went on or off (the machine ends a mute before the recording's last segment
    /// is finalised).
    pub(super) fn mute_changed(&mut self, on: bool) {
        let now = monotonic_ns();
        if on {
            self.officer.mute.start(now);
        } else {
            self.officer.mute.end(now);
        }
        let recording_id = self.recording.as_mut().map(|r| {
            r.mute_changed(on, now);
            r.id().to_string()
        });
        let utc = rfc3339(TimeRef::now().utc_of(now));
        info!(muted = on, recording = ?recording_id, "audio mute");
        self.audit(AuditEvent::Mute {
            on,
            recording_id,
            utc,
        });
    }

    /// Sleep went on or off.
    pub(super) fn sleep_changed(&mut self, on: bool) {
        let by = self.officer.cause.clone().unwrap_or_else(|| "dock".into());
        info!(asleep = on, by = %by, "sleep");
        self.audit(AuditEvent::Sleep { on, by });
    }

    /// A frame about to be written: muted microphone audio becomes encoded silence (or,
    /// without it, is left out).
    pub(super) fn unless_muted(&mut self, mut f: Frame) -> Option<Frame> {
        if f.kind != StreamKind::Audio || !self.officer.mute.covers(f.pts_ns) {
            return Some(f);
        }
        let silence = self.settings.officer.silence.as_ref()?;
        f.data = silence.to_vec();
        Some(f)
    }

    /// What the camera is reminding of, by its state.
    fn reminder_kind(&self) -> Option<ReminderKind> {
        match self.machine.state() {
            State::Recording if self.machine.muted() => Some(ReminderKind::Muted),
            State::Recording => Some(ReminderKind::Recording),
            State::Asleep => Some(ReminderKind::Asleep),
            State::Booting
            | State::Ready
            | State::Stopping
            | State::StorageFull
            | State::Fault { .. }
            | State::Docked
            | State::StorageFault
            | State::ShuttingDown
            | State::PoweringOff => None,
        }
    }

    /// Play a reminder when one is due (none in stealth).
    pub(super) fn remind(&mut self, now: Instant) {
        let kind = self.reminder_kind();
        if let Some(cue) = self.officer.reminders.poll(now, kind)
            && !self.machine.stealth()
        {
            info!(?cue, "reminder");
            self.controls.haptic(cue);
        }
        if !self.officer.mute.muted() {
            self.officer.mute.prune(monotonic_ns(), MUTE_SPAN_KEEP);
        }
    }
}
