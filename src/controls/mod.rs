//! Record button gestures, status LEDs and haptic cues, over a GPIO or simulated backend.
//!
//! [`start`] splits a [`ControlsBackend`] into two named threads: a gesture thread
//! that debounces raw button edges and recognises [`Gesture`]s, and an indicator
//! thread that animates the LEDs and plays haptic cues. Both backends deliver raw,
//! undebounced edges, so the same [`Recogniser`] handles contact bounce for both.

pub mod gesture;
pub mod gpio;
pub mod leds;
pub mod sim;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use gesture::{GestureTimings, Recogniser};
pub use gpio::{GpioControls, GpioPins};
pub use leds::{HapticCue, LedInputs, LedMode, LedPattern, LedPatterns, patterns_for};
pub use sim::{SimAction, SimButton, SimLevels, SimulatedControls};

/// A button gesture made by the officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gesture {
    /// One short press.
    Single,
    /// Two short presses in quick succession.
    Double,
    /// Three (or more) short presses in quick succession.
    Triple,
    /// A long press; reported while the button is still held.
    Hold,
}

/// One of the three status LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Led {
    /// Red: recording.
    Red,
    /// Green: ready / docked.
    Green,
    /// Amber: warnings and faults.
    Amber,
}

impl Led {
    /// All LEDs, in a fixed order.
    pub const ALL: [Led; 3] = [Led::Red, Led::Green, Led::Amber];

    fn index(self) -> usize {
        match self {
            Led::Red => 0,
            Led::Green => 1,
            Led::Amber => 2,
        }
    }
}

/// A raw button level change with its real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEdge {
    /// New level: `true` = pressed.
    pub pressed: bool,
    /// When the change was seen.
    pub at: Instant,
}

/// Button/LED/haptic hardware.
pub trait ControlsBackend: Send {
    /// Name for status/logs ("simulated" | "gpio").
    fn name(&self) -> &'static str;
    /// Start delivering raw button edges (after any hardware-level processing) to `edges`. Called once.
    fn start_button(&mut self, edges: Sender<RawEdge>) -> Result<(), ControlsError>;
    /// Light or darken one LED.
    fn set_led(&mut self, led: Led, on: bool);
    /// Switch the vibration motor on or off (no-op if none is fitted).
    fn set_haptic(&mut self, on: bool);
}

/// Errors of the controls module.
#[derive(Debug, thiserror::Error)]
pub enum ControlsError {
    /// The GPIO controller could not be opened (not a Raspberry Pi, or no permission).
    #[error(
        "cannot open the GPIO controller (is this a Raspberry Pi, with access to /dev/gpiomem?): {0}"
    )]
    GpioUnavailable(#[source] rppal::gpio::Error),
    /// A GPIO pin could not be claimed.
    #[error("cannot use GPIO {pin} for the {role}: {source}")]
    Pin {
        /// What the pin is for, e.g. "record button".
        role: &'static str,
        /// BCM pin number.
        pin: u8,
        /// Underlying rppal error.
        #[source]
        source: rppal::gpio::Error,
    },
    /// Edge interrupts could not be enabled on the button pin.
    #[error("cannot watch the record button on GPIO {pin} for edges: {source}")]
    ButtonInterrupt {
        /// BCM pin number.
        pin: u8,
        /// Underlying rppal error.
        #[source]
        source: rppal::gpio::Error,
    },
    /// `start_button` was called a second time.
    #[error("the button of the {backend} backend was already started")]
    ButtonAlreadyStarted {
        /// Backend name.
        backend: &'static str,
    },
    /// The simulated button was used before the controls were started, or after shutdown.
    #[error("the simulated button is not connected (controls not started, or shut down)")]
    SimButtonNotStarted,
    /// A controls thread could not be spawned.
    #[error("cannot spawn the {name} thread: {source}")]
    Spawn {
        /// Thread name.
        name: &'static str,
        /// Underlying OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Locks a mutex, recovering the data if another thread panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `t + d`, saturating at `t` on (theoretical) overflow.
fn after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(t)
}

/// Starts the controls: the button's gesture thread and the LED/haptic indicator thread.
///
/// Recognised gestures are sent to `gestures`. LEDs start dark.
pub fn start(
    mut backend: Box<dyn ControlsBackend>,
    timings: GestureTimings,
    gestures: Sender<Gesture>,
) -> Result<ControlsHandle, ControlsError> {
    let backend_name = backend.name();
    let (edge_tx, edge_rx) = mpsc::channel();
    backend.start_button(edge_tx.clone())?;

    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let gesture_stop = Arc::clone(&stop);
    let gesture_thread = std::thread::Builder::new()
        .name("controls-gesture".into())
        .spawn(move || gesture_loop(edge_rx, timings, epoch, gestures, &gesture_stop))
        .map_err(|source| ControlsError::Spawn {
            name: "controls-gesture",
            source,
        })?;

    let (cmd_tx, cmd_rx) = mpsc::channel();
    let indicator_thread = std::thread::Builder::new()
        .name("controls-indicator".into())
        .spawn(move || Indicator::new(backend, Instant::now()).run(&cmd_rx));
    let mut handle = ControlsHandle {
        backend_name,
        commands: cmd_tx,
        patterns: Mutex::new(LedPatterns::OFF),
        wake_gestures: edge_tx,
        stop,
        gesture_thread: Some(gesture_thread),
        indicator_thread: None,
    };
    match indicator_thread {
        Ok(t) => handle.indicator_thread = Some(t),
        Err(source) => {
            handle.stop_threads();
            return Err(ControlsError::Spawn {
                name: "controls-indicator",
                source,
            });
        }
    }
    tracing::info!(backend = backend_name, ?timings, "controls started");
    Ok(handle)
}

/// Receives raw edges, feeds the recogniser and forwards gestures, until `stop`.
fn gesture_loop(
    edges: Receiver<RawEdge>,
    timings: GestureTimings,
    epoch: Instant,
    gestures: Sender<Gesture>,
    stop: &AtomicBool,
) {
    let mut recogniser = Recogniser::new(timings);
    let since_epoch = |t: Instant| t.saturating_duration_since(epoch);
    loop {
        let received = match recogniser
            .next_deadline()
            .and_then(|d| epoch.checked_add(d))
        {
            Some(deadline) => {
                edges.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            }
            None => edges.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        if stop.load(Ordering::Acquire) {
            break;
        }
        match received {
            Ok(edge) => {
                recogniser.edge(edge.pressed, since_epoch(edge.at));
                // Feed everything already queued so a poll never overtakes an edge.
                while let Ok(edge) = edges.try_recv() {
                    recogniser.edge(edge.pressed, since_epoch(edge.at));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while let Some(gesture) = recogniser.poll(since_epoch(Instant::now())) {
            tracing::debug!(?gesture, "gesture recognised");
            if gestures.send(gesture).is_err() {
                tracing::warn!("gesture receiver gone; stopping the gesture thread");
                return;
            }
        }
    }
    tracing::debug!("gesture thread stopped");
}

/// Messages to the indicator thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
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
struct Indicator {
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
    fn new(backend: Box<dyn ControlsBackend>, now: Instant) -> Self {
        Indicator {
            backend,
            patterns: LedPatterns::OFF,
            phase: [now; 3],
            lit: [None; 3],
            haptic: None,
            haptic_on: false,
        }
    }

    fn run(mut self, commands: &Receiver<Command>) {
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

/// Handle to running controls; dropping it shuts them down like [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct ControlsHandle {
    backend_name: &'static str,
    commands: Sender<Command>,
    patterns: Mutex<LedPatterns>,
    /// Used only to wake the gesture thread at shutdown.
    wake_gestures: Sender<RawEdge>,
    stop: Arc<AtomicBool>,
    gesture_thread: Option<JoinHandle<()>>,
    indicator_thread: Option<JoinHandle<()>>,
}

impl ControlsHandle {
    /// Name of the backend in use ("simulated" | "gpio").
    pub fn backend_name(&self) -> &'static str {
        self.backend_name
    }

    /// Shows new LED patterns. Only LEDs whose pattern changed restart their phase.
    pub fn set_patterns(&self, patterns: LedPatterns) {
        let mut current = lock(&self.patterns);
        if *current == patterns {
            return;
        }
        *current = patterns;
        self.send(Command::Patterns(patterns));
    }

    /// The LED patterns currently shown.
    pub fn patterns(&self) -> LedPatterns {
        *lock(&self.patterns)
    }

    /// Plays a haptic cue without blocking; it replaces any cue still playing.
    pub fn haptic(&self, cue: HapticCue) {
        self.send(Command::Haptic(cue));
    }

    /// Turns all LEDs and the haptic off, stops the threads and waits for them.
    pub fn shutdown(mut self) {
        self.stop_threads();
    }

    fn send(&self, cmd: Command) {
        if self.commands.send(cmd).is_err() {
            tracing::warn!(?cmd, "controls indicator thread is gone");
        }
    }

    fn stop_threads(&mut self) {
        if let Some(t) = self.indicator_thread.take() {
            // An error means the thread is already gone; joining still applies.
            let _ = self.commands.send(Command::Shutdown);
            if t.join().is_err() {
                tracing::error!("controls indicator thread panicked");
            }
        }
        if let Some(t) = self.gesture_thread.take() {
            self.stop.store(true, Ordering::Release);
            let _ = self.wake_gestures.send(RawEdge {
                pressed: false,
                at: Instant::now(),
            });
            if t.join().is_err() {
                tracing::error!("controls gesture thread panicked");
            }
        }
    }
}

impl Drop for ControlsHandle {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `cond` every 2 ms until it holds or `within` passes; returns how long it took.
    fn wait_for(within: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() <= within {
            if cond() {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    fn started(timings: GestureTimings) -> (ControlsHandle, SimButton, Receiver<Gesture>) {
        let sim = SimulatedControls::new(timings);
        let button = sim.button();
        let (tx, rx) = mpsc::channel();
        let handle = start(Box::new(sim), timings, tx).expect("start controls");
        (handle, button, rx)
    }

    fn recording() -> LedPatterns {
        patterns_for(&LedInputs {
            mode: LedMode::Recording,
            storage_low: false,
            marker_flash: false,
            stealth: false,
        })
    }

    #[test]
    fn recording_pattern_lights_red_within_100ms() {
        let (handle, button, _rx) = started(GestureTimings::default());
        assert!(!button.levels().red);
        handle.set_patterns(recording());
        assert_eq!(handle.patterns(), recording());
        let took = wait_for(Duration::from_millis(100), || button.levels().red);
        assert!(took.is_some(), "red LED did not light within 100 ms");
        handle.shutdown();
    }

    #[test]
    fn blink_fast_toggles() {
        let (handle, button, _rx) = started(GestureTimings::default());
        handle.set_patterns(LedPatterns {
            amber: LedPattern::BlinkFast,
            ..LedPatterns::OFF
        });
        let mut toggles = 0;
        let mut last = button.levels().amber;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(700) {
            let now = button.levels().amber;
            if now != last {
                toggles += 1;
                last = now;
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        // 4 Hz for 700 ms: about 5 level changes (plus the initial switch-on).
        assert!((4..=7).contains(&toggles), "{toggles} toggles");
        handle.shutdown();
    }

    #[test]
    fn haptic_plays_without_blocking_the_caller() {
        let (handle, button, _rx) = started(GestureTimings::default());
        let t0 = Instant::now();
        handle.haptic(HapticCue::RecordingStopped);
        assert!(t0.elapsed() < Duration::from_millis(50), "haptic() blocked");
        assert!(wait_for(Duration::from_millis(100), || button.levels().haptic).is_some());
        let off = wait_for(Duration::from_millis(1500), || !button.levels().haptic);
        let total = t0.elapsed();
        assert!(off.is_some(), "haptic never stopped");
        assert!(
            total >= Duration::from_millis(590),
            "600 ms pulse ended after {total:?}"
        );
        handle.shutdown();
    }

    #[test]
    fn shutdown_turns_everything_off() {
        let (handle, button, _rx) = started(GestureTimings::default());
        handle.set_patterns(LedPatterns {
            red: LedPattern::On,
            green: LedPattern::On,
            amber: LedPattern::On,
        });
        handle.haptic(HapticCue::RecordingStopped);
        let all_on = |l: SimLevels| l.red && l.green && l.amber && l.haptic;
        assert!(wait_for(Duration::from_millis(100), || all_on(button.levels())).is_some());
        handle.shutdown();
        assert_eq!(button.levels(), SimLevels::default());
        assert!(
            matches!(
                button.perform(SimAction::Press),
                Err(ControlsError::SimButtonNotStarted)
            ),
            "button must be disconnected after shutdown"
        );
    }

    #[test]
    fn simulated_gestures_reach_the_gesture_channel() {
        let timings = GestureTimings {
            hold: Duration::from_millis(1000),
            ..GestureTimings::default()
        };
        let (handle, button, rx) = started(timings);
        let wait = Duration::from_secs(3);
        for (action, expected) in [
            (SimAction::Triple, Gesture::Triple),
            (SimAction::Bounce, Gesture::Single),
            (SimAction::Hold, Gesture::Hold),
            (SimAction::Press, Gesture::Single),
        ] {
            button.perform(action).expect("perform");
            assert_eq!(rx.recv_timeout(wait), Ok(expected), "{action:?}");
            // Let the group/hold settle before the next action.
            std::thread::sleep(timings.multi_press_gap * 2);
        }
        assert!(rx.try_recv().is_err(), "no extra gestures");
        handle.shutdown();
    }

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
