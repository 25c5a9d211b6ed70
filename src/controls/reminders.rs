//! Haptic reminders: while recording (every `controls.reminder_minutes`), while the audio
//! is muted (every `controls.mute_reminder_minutes`, instead of the recording one) and
//! while asleep (every `controls.sleep_reminder_minutes`). Pure: the caller passes
//! `now` and what the camera is doing; a change of what it is doing restarts the
//! period, so the first reminder comes one full period after a start, a mute or a
//! sleep. Stealth suppresses the cue where it is played, not here.

use std::time::{Duration, Instant};

use super::HapticCue;

/// What is being reminded of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderKind {
    /// A recording is open.
    Recording,
    /// A recording is open with the audio muted.
    Muted,
    /// The camera is asleep.
    Asleep,
}

impl ReminderKind {
    /// The cue it plays.
    pub fn cue(self) -> HapticCue {
        match self {
            ReminderKind::Recording => HapticCue::Reminder,
            ReminderKind::Muted => HapticCue::MuteReminder,
            ReminderKind::Asleep => HapticCue::SleepReminder,
        }
    }
}

/// The period of each reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPeriods {
    /// While recording.
    pub recording: Duration,
    /// While muted.
    pub muted: Duration,
    /// While asleep.
    pub asleep: Duration,
}

impl ReminderPeriods {
    fn of(&self, kind: ReminderKind) -> Duration {
        match kind {
            ReminderKind::Recording => self.recording,
            ReminderKind::Muted => self.muted,
            ReminderKind::Asleep => self.asleep,
        }
    }
}

/// The reminder clock.
#[derive(Debug, Clone)]
pub struct Reminders {
    periods: ReminderPeriods,
    current: Option<(ReminderKind, Instant)>,
}

impl Reminders {
    /// Nothing to remind of yet.
    pub fn new(periods: ReminderPeriods) -> Reminders {
        Reminders {
            periods,
            current: None,
        }
    }

    /// Call on every tick with what the camera is doing (`None`: nothing to remind
    /// of); returns the cue to play now, if one is due.
    pub fn poll(&mut self, now: Instant, kind: Option<ReminderKind>) -> Option<HapticCue> {
        let Some(kind) = kind else {
            self.current = None;
            return None;
        };
        let period = self.periods.of(kind);
        match self.current {
            Some((k, due)) if k == kind => {
                if now < due {
                    return None;
                }
                // One cue however late the tick; the next a full period from now.
                self.current = Some((kind, now + period));
                Some(kind.cue())
            }
            Some(_) | None => {
                self.current = Some((kind, now + period));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn periods() -> ReminderPeriods {
        ReminderPeriods {
            recording: 2 * MIN,
            muted: 5 * MIN,
            asleep: 15 * MIN,
        }
    }

    /// Ticks every second from `t0` for `secs` with `kind`; returns the seconds of each cue.
    fn run(
        r: &mut Reminders,
        t0: Instant,
        from: u64,
        secs: u64,
        kind: Option<ReminderKind>,
    ) -> Vec<(u64, HapticCue)> {
        (from..from + secs)
            .filter_map(|s| r.poll(t0 + Duration::from_secs(s), kind).map(|c| (s, c)))
            .collect()
    }

    #[test]
    fn every_period_after_the_start_never_at_it() {
        let t0 = Instant::now();
        let mut r = Reminders::new(periods());
        let cues = run(&mut r, t0, 0, 7 * 60, Some(ReminderKind::Recording));
        assert_eq!(
            cues,
            vec![
                (120, HapticCue::Reminder),
                (240, HapticCue::Reminder),
                (360, HapticCue::Reminder)
            ]
        );
    }

    #[test]
    fn muting_restarts_the_period_with_its_own_cue_and_sleep_has_fifteen_minutes() {
        let t0 = Instant::now();
        let mut r = Reminders::new(periods());
        assert_eq!(
            run(&mut r, t0, 0, 100, Some(ReminderKind::Recording)),
            vec![]
        );
        let muted = run(&mut r, t0, 100, 11 * 60, Some(ReminderKind::Muted));
        assert_eq!(
            muted,
            vec![
                (400, HapticCue::MuteReminder),
                (700, HapticCue::MuteReminder)
            ]
        );
        assert_eq!(run(&mut r, t0, 1000, 10, None), vec![]);
        let asleep = run(&mut r, t0, 2000, 31 * 60, Some(ReminderKind::Asleep));
        assert_eq!(
            asleep,
            vec![
                (2900, HapticCue::SleepReminder),
                (3800, HapticCue::SleepReminder)
            ]
        );
    }

    #[test]
    fn a_late_tick_gives_one_cue_not_a_burst() {
        let t0 = Instant::now();
        let mut r = Reminders::new(periods());
        r.poll(t0, Some(ReminderKind::Recording));
        let late = t0 + 10 * MIN;
        assert_eq!(
            r.poll(late, Some(ReminderKind::Recording)),
            Some(HapticCue::Reminder)
        );
        assert_eq!(r.poll(late, Some(ReminderKind::Recording)), None);
        assert_eq!(
            r.poll(late + 2 * MIN, Some(ReminderKind::Recording)),
            Some(HapticCue::Reminder)
        );
    }
}
