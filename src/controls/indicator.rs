//! The indicator thread: animates the LEDs and plays haptic cues.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{ControlsBackend, HapticCue, Led, LedPatterns, after};

/// Messages to the indicator thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Command {
    Patterns(LedPatterns),
    Haptic(HapticCue),
    Shutdown,
}

/// A haptic cue being played.
#[derive(Debug, Clone, Copy)]
struct HapticPlay {
    pulses: &'static [(Duration, Duration)],
    index: usize,
    on: bool,
    until: Instant,
}

/// Owns the LED/haptic side of the backend and animates it.
pub(super) struct Indicator {
    backend: Box<dyn ControlsBackend>,
    patterns: LedPatterns,
    /// When each LED's current pattern started (indexed by [`Led::index`]).
    phase: [Instant; 3],
    /// Last level written to each LED (`None` = not written yet).
    lit: [Option<bool>; 3],
    haptic: Option<HapticPlay>,
    haptic_on: bool,
}

impl Indicator {
    pub(super) fn new(backend: Box<dyn ControlsBackend>, now: Instant) -> Self {
        Indicator {
            backend,
            patterns: LedPatterns::OFF,
            phase: [now; 3],
            lit: [None; 3],
            haptic: None,
            haptic_on: false,
        }
    }

    pub(super) fn run(mut self, commands: &Receiver<Command>) {
        loop {
            let now = Instant::now();
            let received = match self.refresh(now) {
                Some(wake) => commands.recv_timeout(wake.saturating_duration_since(now)),
                None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match received {
                Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(cmd) => self.apply(cmd, Instant::now()),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        for led in Led::ALL {
            self.backend.set_led(led, false);
        }
        self.backend.set_haptic(false);
        tracing::debug!("indicator thread stopped; LEDs and haptic off");
    }

    fn apply(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::Patterns(p) => {
                for led in Led::ALL {
                    if p.get(led) != self.patterns.get(led) {
                        self.phase[led.index()] = now;
                    }
                }
                self.patterns = p;
            }
            Command::Haptic(cue) => {
                self.haptic = cue.pulses().first().map(|&(on, _)| HapticPlay {
                    pulses: cue.pulses(),
                    index: 0,
                    on: true,
                    until: after(now, on),
                });
            }
            Command::Shutdown => {}
        }
    }

    /// Writes the levels due at `now`; returns when to call again (None = idle).
    fn refresh(&mut self, now: Instant) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        let mut wake_at = |t: Instant| wake = Some(wake.map_or(t, |w| w.min(t)));
        for led in Led::ALL {
            let i = led.index();
            let pattern = self.patterns.get(led);
            let elapsed = now.saturating_duration_since(self.phase[i]);
            let level = pattern.level_at(elapsed);
            if self.lit[i] != Some(level) {
                self.backend.set_led(led, level);
                self.lit[i] = Some(level);
            }
            if let Some(next) = pattern.next_change_after(elapsed) {
                wake_at(after(self.phase[i], next));
            }
        }
        while let Some(play) = self.haptic
            && play.until <= now
        {
            self.haptic = Self::next_haptic_step(play);
        }
        let on = self.haptic.is_some_and(|p| p.on);
        if on != self.haptic_on {
            self.backend.set_haptic(on);
            self.haptic_on = on;
        }
        if let Some(play) = self.haptic {
            wake_at(play.until);
        }
        wake
    }

    fn next_haptic_step(play: HapticPlay) -> Option<HapticPlay> {
        if play.on {
            let &(_, off) = play.pulses.get(play.index)?;
            Some(HapticPlay {
                on: false,
                until: after(play.until, off),
                ..play
            })
        } else {
            let index = play.index + 1;
            let &(on, _) = play.pulses.get(index)?;
            Some(HapticPlay {
                index,
                on: true,
                until: after(play.until, on),
                ..play
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::{ControlsError, LedPattern, RawEdge, lock};
    use std::sync::mpsc::Sender;
    use std::sync::{Arc, Mutex};

    /// A backend that records writes, for driving the indicator with synthetic time.
    #[derive(Default)]
    struct Recorder {
        writes: Arc<Mutex<Vec<(Led, bool)>>>,
    }

    impl ControlsBackend for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn start_button(&mut self, _edges: Sender<RawEdge>) -> Result<(), ControlsError> {
            Ok(())
        }
        fn set_led(&mut self, led: Led, on: bool) {
            lock(&self.writes).push((led, on));
        }
        fn set_haptic(&mut self, _on: bool) {}
    }

    #[test]
    fn only_changed_leds_restart_their_phase() {
        let rec = Recorder::default();
        let writes = Arc::clone(&rec.writes);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut ind = Indicator::new(Box::new(rec), t0);
        let docked = LedPatterns {
            green: LedPattern::BlinkSlow,
            ..LedPatterns::OFF
        };
        ind.apply(Command::Patterns(docked), t0);
        assert_eq!(ind.refresh(t0), Some(t0 + ms(500)));
        // 700 ms in, green is in its dark half; adding red must not restart green.
        let t1 = t0 + ms(700);
        ind.apply(
            Command::Patterns(LedPatterns {
                red: LedPattern::On,
                ..docked
            }),
            t1,
        );
        ind.refresh(t1);
        let w = lock(&writes).clone();
        assert!(w.contains(&(Led::Red, true)));
        assert_eq!(w.last(), Some(&(Led::Green, false)), "{w:?}");
        assert_eq!(ind.refresh(t1), Some(t0 + ms(1000)));
        // Changing green restarts its phase: lit at once.
        let t2 = t0 + ms(800);
        ind.apply(
            Command::Patterns(LedPatterns {
                red: LedPattern::On,
                green: LedPattern::BlinkFast,
                amber: LedPattern::Off,
            }),
            t2,
        );
        assert_eq!(ind.refresh(t2), Some(t2 + ms(125)));
        assert_eq!(lock(&writes).last(), Some(&(Led::Green, true)));
    }
}
