//! Privacy in the loop: audio mute (silence in place of the microphone, the spans in
//! the recording's sidecars, audited), sleep (audited; the pipeline's stop empties the
//! pre-event buffer), and the haptic reminders while recording, muted or asleep.

use std::time::{Duration, Instant};

use tracing::info;

use super::Loop;
use crate::clock::{TimeRef, monotonic_ns, rfc3339};
use crate::controls::leds::HapticCue;
use crate::controls::reminders::{ReminderKind, Reminders};
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

    /// Play a reminder when one is due (none in stealth).
    pub(super) fn remind(&mut self, now: Instant) {
        let m = &self.machine;
        let (state, muted, stealth) = (m.state(), m.muted(), m.stealth());
        if let Some(cue) = due_reminder(&mut self.officer.reminders, now, state, muted, stealth) {
            info!(?cue, "reminder");
            self.controls.haptic(cue);
        }
        if !self.officer.mute.muted() {
            self.officer.mute.prune(monotonic_ns(), MUTE_SPAN_KEEP);
        }
    }
}

/// What the camera is reminding of in `state` (`muted`: the audio is muted).
fn reminder_kind(state: State, muted: bool) -> Option<ReminderKind> {
    match state {
        State::Recording if muted => Some(ReminderKind::Muted),
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

/// The reminder cue to play at `now`, if one is due: none in stealth (the period runs
/// on all the same, so leaving stealth does not give a burst of cues).
fn due_reminder(
    reminders: &mut Reminders,
    now: Instant,
    state: State,
    muted: bool,
    stealth: bool,
) -> Option<HapticCue> {
    let cue = reminders.poll(now, reminder_kind(state, muted))?;
    (!stealth).then_some(cue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::reminders::ReminderPeriods;

    fn reminders() -> Reminders {
        Reminders::new(ReminderPeriods {
            recording: Duration::from_secs(120),
            muted: Duration::from_secs(300),
            asleep: Duration::from_secs(900),
        })
    }

    /// The cues `due_reminder` gives at each of `at` seconds after `t0`.
    fn cues(
        r: &mut Reminders,
        t0: Instant,
        at: &[u64],
        state: State,
        muted: bool,
        stealth: bool,
    ) -> Vec<Option<HapticCue>> {
        at.iter()
            .map(|&s| due_reminder(r, t0 + Duration::from_secs(s), state, muted, stealth))
            .collect()
    }

    #[test]
    fn reminders_follow_the_state_and_stealth_silences_them() {
        let t0 = Instant::now();
        // Recording: one cue a period after the start, none at it.
        let mut r = reminders();
        assert_eq!(
            cues(
                &mut r,
                t0,
                &[0, 119, 120, 121, 240],
                State::Recording,
                false,
                false
            ),
            vec![
                None,
                None,
                Some(HapticCue::Reminder),
                None,
                Some(HapticCue::Reminder)
            ]
        );
        // Muted and asleep have their own cue and period.
        let mut r = reminders();
        assert_eq!(
            cues(&mut r, t0, &[0, 120, 300], State::Recording, true, false),
            vec![None, None, Some(HapticCue::MuteReminder)]
        );
        let mut r = reminders();
        assert_eq!(
            cues(&mut r, t0, &[0, 300, 900], State::Asleep, false, false),
            vec![None, None, Some(HapticCue::SleepReminder)]
        );
        // Nothing to remind of in the other states, the storage fault included.
        for state in [
            State::Booting,
            State::Ready,
            State::Stopping,
            State::StorageFull,
            State::Fault { resume: true },
            State::Docked,
            State::StorageFault,
            State::ShuttingDown,
            State::PoweringOff,
        ] {
            let mut r = reminders();
            assert_eq!(
                cues(&mut r, t0, &[0, 120, 900, 2000], state, false, false),
                vec![None; 4],
                "{state:?}"
            );
        }
        // Stealth: the cue that was due is not played, and leaving stealth waits for
        // the next period rather than playing the missed one.
        let mut r = reminders();
        assert_eq!(
            cues(&mut r, t0, &[0, 120, 200], State::Recording, false, true),
            vec![None, None, None]
        );
        assert_eq!(
            cues(&mut r, t0, &[201, 239, 240], State::Recording, false, false),
            vec![None, None, Some(HapticCue::Reminder)]
        );
    }
}
