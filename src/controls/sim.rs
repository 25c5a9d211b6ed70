//! Simulated controls backend: a scriptable button and in-memory LED/haptic levels.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ControlsBackend, ControlsError, GestureTimings, Led, RawEdge, lock};

/// Current level of every simulated output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SimLevels {
    /// Red LED lit.
    pub red: bool,
    /// Green LED lit.
    pub green: bool,
    /// Amber LED lit.
    pub amber: bool,
    /// Vibration motor running.
    pub haptic: bool,
}

/// A button action the simulated button can perform, with realistic timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimAction {
    /// One clean 120 ms press.
    Press,
    /// Two 120 ms presses 150 ms apart.
    Double,
    /// Three 120 ms presses 150 ms apart.
    Triple,
    /// Four 120 ms presses 150 ms apart.
    Quad,
    /// One press held 300 ms longer than the hold time.
    Hold,
    /// One 120 ms press with contact bounce (several toggles within ~5 ms) at press and release.
    Bounce,
}

const PRESS: Duration = Duration::from_millis(120);
const GAP: Duration = Duration::from_millis(150);
const HOLD_MARGIN: Duration = Duration::from_millis(300);
const BOUNCE_STEP: Duration = Duration::from_millis(1);
/// Raw level changes of one bounce burst, ending on the settled level.
const BOUNCE_TOGGLES: usize = 5;

impl SimAction {
    /// The raw edges of this action: (pressed, wait after injecting it).
    fn script(self, timings: &GestureTimings) -> Vec<(bool, Duration)> {
        let taps = |n: usize| {
            let mut s = Vec::with_capacity(2 * n);
            for i in 0..n {
                s.push((true, PRESS));
                s.push((false, if i + 1 < n { GAP } else { Duration::ZERO }));
            }
            s
        };
        match self {
            SimAction::Press => taps(1),
            SimAction::Double => taps(2),
            SimAction::Triple => taps(3),
            SimAction::Quad => taps(4),
            SimAction::Hold => vec![
                (true, timings.hold.saturating_add(HOLD_MARGIN)),
                (false, Duration::ZERO),
            ],
            SimAction::Bounce => {
                let burst = |settle: bool, wait_after: Duration| {
                    (0..BOUNCE_TOGGLES).map(move |i| {
                        let last = i + 1 == BOUNCE_TOGGLES;
                        // Alternate so that the burst ends on `settle`.
                        let level = settle == (BOUNCE_TOGGLES - 1 - i).is_multiple_of(2);
                        (level, if last { wait_after } else { BOUNCE_STEP })
                    })
                };
                burst(true, PRESS)
                    .chain(burst(false, Duration::ZERO))
                    .collect()
            }
        }
    }
}

/// State shared between the backend, its button handles and the runtime.
#[derive(Debug, Default)]
struct Shared {
    /// Where button edges go; `None` before `start_button` and after the backend is dropped.
    edges: Mutex<Option<Sender<RawEdge>>>,
    levels: Mutex<SimLevels>,
    /// Serialises actions so that two callers cannot interleave their edges.
    performing: Mutex<()>,
}

/// A backend without hardware, for developers and tests.
///
/// The button is driven through [`SimButton`]; LED and haptic levels are kept in
/// memory and read with [`levels`](Self::levels). Dropping the backend disconnects
/// the button but keeps the last levels, like real LEDs latched by the driver.
#[derive(Debug)]
pub struct SimulatedControls {
    shared: Arc<Shared>,
    timings: GestureTimings,
}

impl SimulatedControls {
    /// A simulated backend; `timings` sets how long [`SimAction::Hold`] holds.
    pub fn new(timings: GestureTimings) -> Self {
        SimulatedControls {
            shared: Arc::new(Shared::default()),
            timings,
        }
    }

    /// A cloneable handle to press the button and read the outputs.
    pub fn button(&self) -> SimButton {
        SimButton {
            shared: Arc::clone(&self.shared),
            timings: self.timings,
        }
    }

    /// Current LED and haptic levels.
    pub fn levels(&self) -> SimLevels {
        *lock(&self.shared.levels)
    }
}

impl ControlsBackend for SimulatedControls {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn start_button(&mut self, edges: Sender<RawEdge>) -> Result<(), ControlsError> {
        let mut slot = lock(&self.shared.edges);
        if slot.is_some() {
            return Err(ControlsError::ButtonAlreadyStarted {
                backend: self.name(),
            });
        }
        *slot = Some(edges);
        Ok(())
    }

    fn set_led(&mut self, led: Led, on: bool) {
        let mut levels = lock(&self.shared.levels);
        match led {
            Led::Red => levels.red = on,
            Led::Green => levels.green = on,
            Led::Amber => levels.amber = on,
        }
    }

    fn set_haptic(&mut self, on: bool) {
        lock(&self.shared.levels).haptic = on;
    }
}

impl Drop for SimulatedControls {
    fn drop(&mut self) {
        lock(&self.shared.edges).take();
    }
}

/// Cloneable handle to the simulated button (and a read-out of the simulated outputs).
#[derive(Debug, Clone)]
pub struct SimButton {
    shared: Arc<Shared>,
    timings: GestureTimings,
}

impl SimButton {
    /// Performs `action` in real time, blocking until its last edge is injected.
    ///
    /// Fails if the button was never started or the controls were shut down.
    pub fn perform(&self, action: SimAction) -> Result<(), ControlsError> {
        let _one_at_a_time = lock(&self.shared.performing);
        let script = action.script(&self.timings);
        tracing::debug!(?action, edges = script.len(), "simulated button action");
        for (pressed, wait) in script {
            self.inject(pressed)?;
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        Ok(())
    }

    /// Current LED and haptic levels.
    pub fn levels(&self) -> SimLevels {
        *lock(&self.shared.levels)
    }

    fn inject(&self, pressed: bool) -> Result<(), ControlsError> {
        let slot = lock(&self.shared.edges);
        let edges = slot.as_ref().ok_or(ControlsError::SimButtonNotStarted)?;
        edges
            .send(RawEdge {
                pressed,
                at: Instant::now(),
            })
            .map_err(|_| ControlsError::SimButtonNotStarted)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Gesture;
    use super::super::threads::gesture_loop;
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;

    #[test]
    fn perform_fails_before_start() {
        let sim = SimulatedControls::new(GestureTimings::default());
        let result = sim.button().perform(SimAction::Press);
        assert!(matches!(result, Err(ControlsError::SimButtonNotStarted)));
    }

    #[test]
    fn start_button_twice_fails() {
        let mut sim = SimulatedControls::new(GestureTimings::default());
        let (tx, _rx) = mpsc::channel();
        assert!(sim.start_button(tx.clone()).is_ok());
        assert!(matches!(
            sim.start_button(tx),
            Err(ControlsError::ButtonAlreadyStarted { .. })
        ));
    }

    #[test]
    fn scripts_alternate_and_end_released() {
        let timings = GestureTimings::default();
        for (action, presses) in [
            (SimAction::Press, 1),
            (SimAction::Double, 2),
            (SimAction::Triple, 3),
            (SimAction::Quad, 4),
            (SimAction::Hold, 1),
            (SimAction::Bounce, 5),
        ] {
            let script = action.script(&timings);
            let levels: Vec<bool> = script.iter().map(|&(p, _)| p).collect();
            assert_eq!(levels.first(), Some(&true), "{action:?} starts pressed");
            assert_eq!(levels.last(), Some(&false), "{action:?} ends released");
            assert!(levels.windows(2).all(|w| w[0] != w[1]), "{action:?}");
            assert_eq!(levels.iter().filter(|&&p| p).count(), presses, "{action:?}");
        }
        let hold: Duration = SimAction::Hold.script(&timings).iter().map(|s| s.1).sum();
        assert_eq!(hold, timings.hold + HOLD_MARGIN);
        // Bounce: every bounce interval is far below the debounce time.
        let bounce = SimAction::Bounce.script(&timings);
        let short = bounce.iter().filter(|s| s.1 < timings.debounce).count();
        assert_eq!(short, bounce.len() - 1, "only the settled press is long");
    }

    #[test]
    fn set_led_and_haptic_update_levels() {
        let mut sim = SimulatedControls::new(GestureTimings::default());
        sim.set_led(Led::Green, true);
        sim.set_haptic(true);
        let expected = SimLevels {
            green: true,
            haptic: true,
            ..SimLevels::default()
        };
        assert_eq!(sim.levels(), expected);
        assert_eq!(sim.button().levels(), expected);
    }

    #[test]
    fn double_through_a_real_recogniser_in_a_thread() {
        let timings = GestureTimings::default();
        let mut sim = SimulatedControls::new(timings);
        let button = sim.button();
        let (edge_tx, edge_rx) = mpsc::channel();
        sim.start_button(edge_tx.clone()).expect("start");
        let (gesture_tx, gesture_rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let epoch = Instant::now();
        let worker = std::thread::spawn(move || {
            gesture_loop(edge_rx, timings, epoch, gesture_tx, &thread_stop);
        });

        button.perform(SimAction::Double).expect("perform");
        let got = gesture_rx.recv_timeout(Duration::from_secs(2));
        assert_eq!(got, Ok(Gesture::Double));

        stop.store(true, std::sync::atomic::Ordering::Release);
        drop(sim);
        let wake = RawEdge {
            pressed: false,
            at: Instant::now(),
        };
        edge_tx.send(wake).expect("wake");
        worker.join().expect("gesture thread");
        assert!(gesture_rx.try_recv().is_err(), "exactly one gesture");
    }
}
