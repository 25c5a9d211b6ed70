//! Pure button debouncer and gesture recogniser, driven by caller-supplied virtual time.

use std::collections::VecDeque;
use std::time::Duration;

use super::Gesture;

/// Timing parameters of the debouncer and the gesture recogniser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GestureTimings {
    /// How long the raw level must stay unchanged before a change is accepted.
    pub debounce: Duration,
    /// Longest release→press gap that still groups two taps into one gesture.
    pub multi_press_gap: Duration,
    /// How long a press must last to become [`Gesture::Hold`].
    pub hold: Duration,
    /// A press released before this long is a tap.
    pub max_tap: Duration,
}

impl Default for GestureTimings {
    fn default() -> Self {
        GestureTimings {
            debounce: Duration::from_millis(30),
            multi_press_gap: Duration::from_millis(350),
            hold: Duration::from_millis(3000),
            max_tap: Duration::from_millis(800),
        }
    }
}

/// Gesture state, driven by *debounced* edges and by two timers.
///
/// Accepted (debounced) levels always alternate, and every accepted edge carries
/// the time at which the raw level became stable, so contact bounce does not shift
/// the timing.
///
/// * `Idle`: released, nothing pending. No timer.
///   - press → `Pressed { taps: 0 }`.
/// * `Pressed { since, taps }`: the button is down; `taps` completed taps are
///   grouped before this press. Timer: `since + hold`.
///   - timer → emit `Hold` (while still pressed) → `Held`; grouped taps are dropped.
///   - release before `max_tap` → `Gap { taps: taps + 1 }`.
///   - release at or after `max_tap` (but before `hold`) → ambiguous press, ignored
///     together with the grouped taps → `Idle`.
/// * `Gap { taps, released }`: released after `taps` taps, waiting for more.
///   Timer: `released + multi_press_gap`.
///   - press within the gap (inclusive) → `Pressed { taps }`.
///   - timer → emit `Single`/`Double`/`Triple`/`Quad` for 1/2/3/≥4 taps → `Idle`.
/// * `Held`: `Hold` was emitted, the button is still down. No timer.
///   - release → `Idle`, nothing emitted.
///
/// Ties: a press exactly `multi_press_gap` after a release still groups; a release
/// exactly `hold` after the press is a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Pressed { since: Duration, taps: u32 },
    Gap { taps: u32, released: Duration },
    Held,
}

/// Which timer of [`State`] is running (only used to break ties against edges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Hold,
    GroupEnd,
}

impl Timer {
    /// Whether an accepted edge at `edge` is handled before this timer expiring at `at`.
    fn edge_first(self, edge: Duration, at: Duration) -> bool {
        match self {
            Timer::Hold => edge < at,
            Timer::GroupEnd => edge <= at,
        }
    }
}

/// The next internal event, in logical (timestamp) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Accept the pending raw level: logically at `at`, known only at `ready`.
    Commit { at: Duration, ready: Duration },
    /// A state timer expires at `at`.
    Expire { timer: Timer, at: Duration },
}

impl Step {
    /// The time from which this step can be applied.
    fn ready(self) -> Duration {
        match self {
            Step::Commit { ready, .. } => ready,
            Step::Expire { at, .. } => at,
        }
    }
}

/// How far [`Recogniser::advance`] may go.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// Apply everything ready by this time.
    Until(Duration),
    /// Apply everything that comes before a new raw edge at this time.
    BeforeEdge(Duration),
}

/// Debounces raw button edges and turns them into [`Gesture`]s.
///
/// Purely computational: it never reads a clock. The caller reports raw edges
/// with [`edge`](Self::edge), calls [`poll`](Self::poll) at (or after)
/// [`next_deadline`](Self::next_deadline), and must pass non-decreasing times
/// (earlier times are treated as the latest time already seen).
#[derive(Debug, Clone)]
pub struct Recogniser {
    timings: GestureTimings,
    /// Last raw level reported.
    raw: bool,
    /// When the raw level last changed.
    raw_since: Duration,
    /// Accepted (debounced) level.
    stable: bool,
    state: State,
    /// Latest time seen through `edge` or `poll`.
    latest: Duration,
    /// Recognised gestures not yet returned, with the time they were recognised.
    out: VecDeque<(Duration, Gesture)>,
}

impl Recogniser {
    /// A recogniser with the button released.
    pub fn new(t: GestureTimings) -> Self {
        Recogniser {
            timings: t,
            raw: false,
            raw_since: Duration::ZERO,
            stable: false,
            state: State::Idle,
            latest: Duration::ZERO,
            out: VecDeque::new(),
        }
    }

    /// A raw level change seen on the input (pressed = true), possibly contact bounce.
    pub fn edge(&mut self, pressed: bool, at: Duration) {
        let at = self.observe(at);
        self.advance(Limit::BeforeEdge(at));
        if pressed == self.raw {
            // A repeated level means a change in between was missed, so the
            // level was not stable: restart the stability period.
            if self.raw != self.stable {
                self.raw_since = at;
            }
            return;
        }
        self.raw = pressed;
        self.raw_since = at;
    }

    /// Advance virtual time; returns a gesture recognised by `now`, if any.
    pub fn poll(&mut self, now: Duration) -> Option<Gesture> {
        let now = self.observe(now);
        self.advance(Limit::Until(now));
        self.out.pop_front().map(|(_, g)| g)
    }

    /// When the caller must call poll() next (None = nothing pending; wait for an edge).
    pub fn next_deadline(&self) -> Option<Duration> {
        match self.out.front() {
            Some(&(at, _)) => Some(at),
            None => self.next_step().map(Step::ready),
        }
    }

    fn observe(&mut self, t: Duration) -> Duration {
        self.latest = self.latest.max(t);
        self.latest
    }

    fn timer(&self) -> Option<(Timer, Duration)> {
        let t = &self.timings;
        match self.state {
            State::Idle | State::Held => None,
            State::Pressed { since, .. } => Some((Timer::Hold, since.saturating_add(t.hold))),
            State::Gap { released, .. } => {
                Some((Timer::GroupEnd, released.saturating_add(t.multi_press_gap)))
            }
        }
    }

    fn next_step(&self) -> Option<Step> {
        let commit = (self.raw != self.stable).then(|| {
            (
                self.raw_since,
                self.raw_since.saturating_add(self.timings.debounce),
            )
        });
        match (commit, self.timer()) {
            (Some((edge, _)), Some((timer, at))) if !timer.edge_first(edge, at) => {
                Some(Step::Expire { timer, at })
            }
            (Some((at, ready)), _) => Some(Step::Commit { at, ready }),
            (None, Some((timer, at))) => Some(Step::Expire { timer, at }),
            (None, None) => None,
        }
    }

    fn due(step: Step, limit: Limit) -> bool {
        match (step, limit) {
            (step, Limit::Until(now)) => step.ready() <= now,
            (Step::Commit { ready, .. }, Limit::BeforeEdge(edge)) => ready <= edge,
            (Step::Expire { timer, at }, Limit::BeforeEdge(edge)) => !timer.edge_first(edge, at),
        }
    }

    fn advance(&mut self, limit: Limit) {
        while let Some(step) = self.next_step()
            && Self::due(step, limit)
        {
            match step {
                Step::Commit { at, .. } => {
                    self.stable = self.raw;
                    self.accepted(self.stable, at);
                }
                Step::Expire { at, .. } => self.expire(at),
            }
        }
    }

    /// A debounced edge at `at`.
    fn accepted(&mut self, pressed: bool, at: Duration) {
        let t = self.timings;
        self.state = match (self.state, pressed) {
            (State::Idle, true) => State::Pressed { since: at, taps: 0 },
            (State::Gap { taps, released }, true) => {
                if at.saturating_sub(released) <= t.multi_press_gap {
                    State::Pressed { since: at, taps }
                } else {
                    // Not reachable when steps run in order; kept total for safety.
                    self.emit_taps(taps, released.saturating_add(t.multi_press_gap));
                    State::Pressed { since: at, taps: 0 }
                }
            }
            (State::Pressed { since, taps }, false) => {
                let length = at.saturating_sub(since);
                if length < t.max_tap {
                    State::Gap {
                        taps: taps.saturating_add(1),
                        released: at,
                    }
                } else {
                    tracing::debug!(?length, taps, "ambiguous long press ignored");
                    State::Idle
                }
            }
            (State::Held, false) => State::Idle,
            // Accepted levels alternate, so these cannot happen; stay put.
            (s @ (State::Idle | State::Gap { .. }), false)
            | (s @ (State::Pressed { .. } | State::Held), true) => s,
        };
    }

    /// The running timer expired at `at`.
    fn expire(&mut self, at: Duration) {
        self.state = match self.state {
            State::Pressed { .. } => {
                self.out.push_back((at, Gesture::Hold));
                State::Held
            }
            State::Gap { taps, .. } => {
                self.emit_taps(taps, at);
                State::Idle
            }
            s @ (State::Idle | State::Held) => s,
        };
    }

    fn emit_taps(&mut self, taps: u32, at: Duration) {
        let gesture = match taps {
            0 => return,
            1 => Gesture::Single,
            2 => Gesture::Double,
            3 => Gesture::Triple,
            _ => Gesture::Quad,
        };
        self.out.push_back((at, gesture));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Simulates a well-behaved caller: polls at every deadline up to each edge, feeds
    /// the edge, and finally polls until nothing is pending. Returns (ms, gesture).
    fn run(edges: &[(bool, u64)]) -> Vec<(u64, Gesture)> {
        let mut r = Recogniser::new(GestureTimings::default());
        let mut out = Vec::new();
        let mut guard = 0;
        let mut drain = |r: &mut Recogniser, until: Option<Duration>, out: &mut Vec<_>| {
            while let Some(d) = r.next_deadline() {
                if until.is_some_and(|u| d >= u) {
                    break;
                }
                guard += 1;
                assert!(guard < 10_000, "recogniser does not make progress");
                if let Some(g) = r.poll(d) {
                    out.push((d.as_millis() as u64, g));
                }
            }
        };
        for &(pressed, at) in edges {
            drain(&mut r, Some(ms(at)), &mut out);
            r.edge(pressed, ms(at));
        }
        drain(&mut r, None, &mut out);
        out
    }

    use Gesture::{Double, Hold, Quad, Single, Triple};

    /// (name, raw edges as (pressed, ms), expected gestures as (ms, gesture)).
    type Case<'a> = (&'a str, &'a [(bool, u64)], &'a [(u64, Gesture)]);

    #[test]
    fn gesture_table() {
        let (d, u) = (true, false);
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            ("single", &[(d, 0), (u, 100)], &[(450, Single)]),
            ("double", &[(d, 0), (u, 100), (d, 300), (u, 400)], &[(750, Double)]),
            ("triple", &[(d, 0), (u, 100), (d, 300), (u, 400), (d, 600), (u, 700)], &[(1050, Triple)]),
            ("four taps are a quad",
                &[(d, 0), (u, 100), (d, 300), (u, 400), (d, 600), (u, 700), (d, 900), (u, 1000)],
                &[(1350, Quad)]),
            ("five taps are a quad",
                &[(d, 0), (u, 100), (d, 300), (u, 400), (d, 600), (u, 700), (d, 900), (u, 1000),
                  (d, 1200), (u, 1300)],
                &[(1650, Quad)]),
            ("a slow fourth tap makes a triple and a single",
                &[(d, 0), (u, 100), (d, 300), (u, 400), (d, 600), (u, 700), (d, 1100), (u, 1200)],
                &[(1050, Triple), (1550, Single)]),
            ("hold at hold time, nothing at release", &[(d, 0), (u, 5000)], &[(3000, Hold)]),
            ("hold discards grouped taps", &[(d, 0), (u, 100), (d, 300), (u, 4000)], &[(3300, Hold)]),
            ("contact bounce gives one single",
                &[(d, 0), (u, 2), (d, 4), (u, 6), (d, 8), (u, 200), (d, 202), (u, 204), (d, 206), (u, 208)],
                &[(558, Single)]),
            ("bounce on press does not delay hold", &[(d, 0), (u, 2), (d, 4), (u, 9000)], &[(3004, Hold)]),
            ("too slow double is two singles",
                &[(d, 0), (u, 100), (d, 500), (u, 600)],
                &[(450, Single), (950, Single)]),
            ("gap exactly multi_press_gap still groups",
                &[(d, 0), (u, 100), (d, 450), (u, 550)], &[(900, Double)]),
            ("press accepted after the gap deadline but started within it groups",
                &[(d, 0), (u, 100), (d, 440), (u, 540)], &[(890, Double)]),
            ("tap just below max_tap", &[(d, 0), (u, 799)], &[(1149, Single)]),
            ("press of max_tap is ignored", &[(d, 0), (u, 800)], &[]),
            ("too long press is ignored", &[(d, 0), (u, 1500)], &[]),
            ("too long press discards grouped taps", &[(d, 0), (u, 100), (d, 300), (u, 1500)], &[]),
            ("glitch shorter than debounce is no press", &[(d, 0), (u, 10)], &[]),
            ("release glitch does not split a tap",
                &[(d, 0), (u, 50), (d, 60), (u, 150)], &[(500, Single)]),
        ];
        for (name, edges, expected) in cases {
            assert_eq!(run(edges), expected.to_vec(), "case: {name}");
        }
    }

    #[test]
    fn hold_is_emitted_while_pressed_and_release_is_silent() {
        let mut r = Recogniser::new(GestureTimings::default());
        r.edge(true, ms(0));
        assert_eq!(r.poll(ms(2999)), None);
        assert_eq!(r.poll(ms(3000)), Some(Hold));
        r.edge(false, ms(3500));
        assert_eq!(r.poll(ms(10_000)), None);
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn next_deadline_follows_debounce_hold_and_gap() {
        let mut r = Recogniser::new(GestureTimings::default());
        assert_eq!(r.next_deadline(), None);
        r.edge(true, ms(0));
        assert_eq!(r.next_deadline(), Some(ms(30)), "debounce of the press");
        assert_eq!(r.poll(ms(30)), None);
        assert_eq!(r.next_deadline(), Some(ms(3000)), "hold timer");
        r.edge(false, ms(100));
        assert_eq!(r.next_deadline(), Some(ms(130)), "debounce of the release");
        assert_eq!(r.poll(ms(130)), None);
        assert_eq!(r.next_deadline(), Some(ms(450)), "end of the tap group");
        assert_eq!(r.poll(ms(449)), None);
        assert_eq!(r.poll(ms(450)), Some(Single));
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn late_poll_still_reports_every_gesture() {
        // The caller never polls between edges: both singles are queued.
        let mut r = Recogniser::new(GestureTimings::default());
        for (p, t) in [(true, 0), (false, 100), (true, 1000), (false, 1100)] {
            r.edge(p, ms(t));
        }
        assert_eq!(r.next_deadline(), Some(ms(450)), "queued gesture is due");
        assert_eq!(r.poll(ms(5000)), Some(Single));
        assert_eq!(r.poll(ms(5000)), Some(Single));
        assert_eq!(r.poll(ms(5000)), None);
    }
}
