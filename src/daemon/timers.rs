//! The loop's timers as pure values: stall and start-up detection of the pipeline, the
//! pipeline's restart back-off, the wall-clock watch, and periodic deadlines. Every
//! decision is a function of the `now` it is given, so each is unit-tested without a
//! camera or a clock.

use std::time::{Duration, Instant};

/// How long the video may stop before the pipeline counts as stalled.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a (re)started pipeline may take to deliver its first keyframe.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// First retry delay after a pipeline failure; doubles up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Longest retry delay.
pub const MAX_RETRY: Duration = Duration::from_secs(30);
/// Footage is made durable at least this often.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// How long the marker flash shows.
pub const MARKER_FLASH: Duration = Duration::from_millis(700);
/// Free space is re-read this often.
pub const STORAGE_REFRESH: Duration = Duration::from_secs(1);
/// Video counts as flowing (for the watchdog) if a frame came this recently.
pub const FLOWING: Duration = Duration::from_secs(1);
/// A wall clock that moves this much against the monotonic clock has jumped.
pub const CLOCK_JUMP_MS: i64 = 1000;

/// What is wrong with a running pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineProblem {
    /// It delivered video, then none for [`STALL_TIMEOUT`].
    Stalled,
    /// It delivered no keyframe within [`START_TIMEOUT`] of its start.
    NoKeyframe,
}

impl PipelineProblem {
    /// The reason recorded in the log and the audit entry.
    pub fn reason(self) -> String {
        match self {
            PipelineProblem::Stalled => format!(
                "no video for {} s: pipeline stalled",
                STALL_TIMEOUT.as_secs()
            ),
            PipelineProblem::NoKeyframe => {
                format!("no keyframe within {} s of start", START_TIMEOUT.as_secs())
            }
        }
    }
}

/// Watches one pipeline generation: when it started, whether its first keyframe came,
/// and when video last arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineWatch {
    started: Instant,
    last_video: Instant,
    running: bool,
}

impl PipelineWatch {
    /// A pipeline started at `now`.
    pub fn started(now: Instant) -> PipelineWatch {
        PipelineWatch {
            started: now,
            last_video: now,
            running: false,
        }
    }

    /// A video frame arrived at `now`. Returns true when this is the first keyframe,
    /// i.e. the pipeline just began running.
    pub fn video(&mut self, now: Instant, keyframe: bool) -> bool {
        self.last_video = now;
        if !self.running && keyframe {
            self.running = true;
            return true;
        }
        false
    }

    /// Whether the first keyframe has come.
    pub fn running(&self) -> bool {
        self.running
    }

    /// What is wrong at `now`, if anything.
    pub fn check(&self, now: Instant) -> Option<PipelineProblem> {
        if self.running && now.saturating_duration_since(self.last_video) > STALL_TIMEOUT {
            Some(PipelineProblem::Stalled)
        } else if !self.running && now.saturating_duration_since(self.started) > START_TIMEOUT {
            Some(PipelineProblem::NoKeyframe)
        } else {
            None
        }
    }

    /// Whether video is flowing at `now` (the watchdog is fed only then).
    pub fn flowing(&self, now: Instant) -> bool {
        self.running && now.saturating_duration_since(self.last_video) < FLOWING
    }
}

/// The restart back-off: [`FIRST_RETRY`], doubling to [`MAX_RETRY`], back to the first
/// once a pipeline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_RETRY }
    }
}

impl Backoff {
    /// The delay before the next restart; the one after it is twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(MAX_RETRY);
        d
    }

    /// A pipeline ran: the next failure waits [`FIRST_RETRY`] again.
    pub fn reset(&mut self) {
        self.next = FIRST_RETRY;
    }
}

/// A change of the wall clock worth auditing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockObservation {
    /// The wall clock moved by more than [`CLOCK_JUMP_MS`] against the monotonic clock.
    Jump {
        /// By how much.
        jump_ms: i64,
    },
    /// Its synchronisation state changed.
    Sync {
        /// Synchronised now.
        synchronised: bool,
    },
}

/// Watches the wall clock: its offset from the monotonic clock and whether it is
/// synchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockWatch {
    offset_ms: i64,
    synchronised: bool,
}

impl ClockWatch {
    /// Start from the current offset (wall ms − monotonic ms) and sync state.
    pub fn new(offset_ms: i64, synchronised: bool) -> ClockWatch {
        ClockWatch {
            offset_ms,
            synchronised,
        }
    }

    /// The offset and sync state now; what changed since the last observation.
    pub fn observe(&mut self, offset_ms: i64, synchronised: bool) -> Vec<ClockObservation> {
        let mut out = Vec::new();
        let jump_ms = offset_ms - self.offset_ms;
        if jump_ms.abs() > CLOCK_JUMP_MS {
            out.push(ClockObservation::Jump { jump_ms });
        }
        self.offset_ms = offset_ms;
        if synchronised != self.synchronised {
            self.synchronised = synchronised;
            out.push(ClockObservation::Sync { synchronised });
        }
        out
    }

    /// The clock was set on purpose (by the dock): take the new offset without
    /// reporting a jump.
    pub fn rebase(&mut self, offset_ms: i64) {
        self.offset_ms = offset_ms;
    }
}

/// Milliseconds between the wall clock and the monotonic clock now (changes when the
/// wall clock is set or jumps).
pub fn clock_offset_ms() -> i64 {
    chrono::Utc::now().timestamp_millis() - (crate::clock::monotonic_ns() / 1_000_000) as i64
}

/// Whether a periodic job last run at `last` is due at `now`.
pub fn due(last: Instant, now: Instant, period: Duration) -> bool {
    now.saturating_duration_since(last) >= period
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_pipeline_without_a_keyframe_times_out_at_start_only() {
        let t0 = Instant::now();
        let mut w = PipelineWatch::started(t0);
        assert_eq!(w.check(t0 + START_TIMEOUT), None);
        // Non-key video does not count as running.
        assert!(!w.video(t0 + secs(1.0), false));
        assert_eq!(
            w.check(t0 + START_TIMEOUT + secs(0.1)),
            Some(PipelineProblem::NoKeyframe)
        );
        assert!(!w.flowing(t0 + secs(1.0)));
    }

    #[test]
    fn a_running_pipeline_stalls_after_three_seconds_without_video() {
        let t0 = Instant::now();
        let mut w = PipelineWatch::started(t0);
        assert!(w.video(t0 + secs(0.5), true), "first keyframe starts it");
        assert!(!w.video(t0 + secs(0.6), true), "only the first");
        assert!(w.running());
        assert!(w.flowing(t0 + secs(1.0)));
        assert!(!w.flowing(t0 + secs(1.7)));
        // Running: the start timeout no longer applies, the stall timeout does.
        assert_eq!(w.check(t0 + secs(3.5)), None);
        assert_eq!(w.check(t0 + secs(3.7)), Some(PipelineProblem::Stalled));
        w.video(t0 + secs(3.6), false);
        assert_eq!(w.check(t0 + secs(6.5)), None);
        assert_eq!(
            PipelineProblem::Stalled.reason(),
            "no video for 3 s: pipeline stalled"
        );
    }

    #[test]
    fn backoff_doubles_to_thirty_seconds_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..7).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        b.reset();
        assert_eq!(b.next_delay(), FIRST_RETRY);
    }

    #[test]
    fn clock_watch_reports_jumps_over_a_second_and_sync_changes() {
        let mut c = ClockWatch::new(1_000_000, false);
        assert!(
            c.observe(1_000_900, false).is_empty(),
            "drift under a second"
        );
        assert_eq!(
            c.observe(1_002_000, false),
            [ClockObservation::Jump { jump_ms: 1100 }]
        );
        assert_eq!(
            c.observe(1_002_000, true),
            [ClockObservation::Sync { synchronised: true }]
        );
        assert_eq!(
            c.observe(990_000, false),
            [
                ClockObservation::Jump { jump_ms: -12_000 },
                ClockObservation::Sync {
                    synchronised: false
                }
            ]
        );
        c.rebase(5_000_000);
        assert!(
            c.observe(5_000_100, false).is_empty(),
            "a set clock is not a jump"
        );
    }

    #[test]
    fn periodic_deadlines() {
        let t0 = Instant::now();
        assert!(!due(t0, t0 + secs(0.9), SYNC_INTERVAL));
        assert!(due(t0, t0 + secs(1.0), SYNC_INTERVAL));
        // A `now` before `last` (clock captured earlier) is never due.
        assert!(!due(t0 + secs(2.0), t0, SYNC_INTERVAL));
    }
}
