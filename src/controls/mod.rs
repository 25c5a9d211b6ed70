//! Record button gestures, status LEDs and haptic cues, over a GPIO or simulated backend.
//!
//! [`start`] splits a [`ControlsBackend`] into two named threads: a gesture thread
//! that debounces raw button edges and recognises [`Gesture`]s, and an indicator
//! thread that animates the LEDs and plays haptic cues. Both backends deliver raw,
//! undebounced edges, so the same [`Recogniser`] handles contact bounce for both.
//!
//! This file holds what the rest of the crate and the backends share (gestures, LEDs,
//! raw edges, the [`ControlsBackend`] trait and [`ControlsError`]); `threads.rs` starts
//! and stops the two threads; `indicator.rs` animates the LEDs and the haptic motor;
//! `reminders.rs` times the haptic reminders (recording, muted, asleep); `triggers.rs`
//! watches the `[[trigger]]` inputs on GPIO.

pub mod gesture;
pub mod gpio;
mod indicator;
pub mod leds;
pub mod reminders;
pub mod sim;
mod threads;
pub mod triggers;

use std::sync::mpsc::Sender;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use gesture::{GestureTimings, Recogniser};
pub use gpio::{GpioControls, GpioPins};
pub use leds::{HapticCue, LedInputs, LedMode, LedPattern, LedPatterns, patterns_for};
pub use sim::{SimAction, SimButton, SimLevels, SimulatedControls};
pub use threads::{ControlsHandle, start};

/// A button gesture made by the officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gesture {
    /// One short press.
    Single,
    /// Two short presses in quick succession.
    Double,
    /// Three short presses in quick succession.
    Triple,
    /// Four (or more) short presses in quick succession.
    Quad,
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
