//! [`start`]: the gesture thread and the indicator thread, and the handle that stops them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::indicator::{Command, Indicator};
use super::{
    ControlsBackend, ControlsError, Gesture, GestureTimings, HapticCue, LedPatterns, RawEdge,
    Recogniser, lock,
};

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
pub(super) fn gesture_loop(
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
    use crate::controls::{
        LedInputs, LedMode, LedPattern, SimAction, SimButton, SimLevels, SimulatedControls,
        patterns_for,
    };
    use std::time::Duration;

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
            battery_low: false,
            muted: false,
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
            (SimAction::Quad, Gesture::Quad),
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
}
