//! Raspberry Pi GPIO controls backend (rppal): active-low button, LED and haptic outputs.

use std::sync::mpsc::Sender;
use std::time::Instant;

use rppal::gpio::{Event, Gpio, InputPin, OutputPin, Trigger};

use super::{ControlsBackend, ControlsError, Led, RawEdge};

/// BCM pin numbers of the controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpioPins {
    /// Record button, active-low (pressed connects to ground); the internal pull-up is enabled.
    pub button: u8,
    /// Red LED, active-high.
    pub red: u8,
    /// Green LED, active-high.
    pub green: u8,
    /// Amber LED, active-high.
    pub amber: u8,
    /// Haptic motor driver, active-high, if fitted.
    pub haptic: Option<u8>,
}

/// Controls on real Raspberry Pi GPIO pins.
///
/// Button edges come from rppal's interrupt thread without hardware debouncing;
/// the gesture recogniser debounces them. The pins are reset by rppal when this is
/// dropped, so the LEDs go dark when the daemon exits.
#[derive(Debug)]
pub struct GpioControls {
    pins: GpioPins,
    button: InputPin,
    red: OutputPin,
    green: OutputPin,
    amber: OutputPin,
    haptic: Option<OutputPin>,
    started: bool,
}

impl GpioControls {
    /// Claims the pins: the button as a pulled-up input, the outputs driven low.
    pub fn new(pins: GpioPins) -> Result<Self, ControlsError> {
        let gpio = Gpio::new().map_err(ControlsError::GpioUnavailable)?;
        let claim = |role: &'static str, pin: u8| {
            gpio.get(pin)
                .map_err(|source| ControlsError::Pin { role, pin, source })
        };
        let button = claim("record button", pins.button)?.into_input_pullup();
        let red = claim("red LED", pins.red)?.into_output_low();
        let green = claim("green LED", pins.green)?.into_output_low();
        let amber = claim("amber LED", pins.amber)?.into_output_low();
        let haptic = match pins.haptic {
            Some(pin) => Some(claim("haptic motor", pin)?.into_output_low()),
            None => None,
        };
        tracing::info!(?pins, "GPIO controls ready");
        Ok(GpioControls {
            pins,
            button,
            red,
            green,
            amber,
            haptic,
            started: false,
        })
    }
}

/// Converts an interrupt event on the active-low button into a pressed level.
fn pressed_by(trigger: Trigger) -> Option<bool> {
    match trigger {
        Trigger::FallingEdge => Some(true),
        Trigger::RisingEdge => Some(false),
        Trigger::Both | Trigger::Disabled => None,
    }
}

impl ControlsBackend for GpioControls {
    fn name(&self) -> &'static str {
        "gpio"
    }

    fn start_button(&mut self, edges: Sender<RawEdge>) -> Result<(), ControlsError> {
        if self.started {
            return Err(ControlsError::ButtonAlreadyStarted {
                backend: self.name(),
            });
        }
        let pin = self.pins.button;
        self.button
            .set_async_interrupt(Trigger::Both, None, move |event: Event| {
                let at = Instant::now();
                match pressed_by(event.trigger) {
                    // A send error means the controls are shutting down.
                    Some(pressed) => {
                        let _ = edges.send(RawEdge { pressed, at });
                    }
                    None => tracing::debug!(pin, ?event, "button event without an edge"),
                }
            })
            .map_err(|source| ControlsError::ButtonInterrupt { pin, source })?;
        self.started = true;
        Ok(())
    }

    fn set_led(&mut self, led: Led, on: bool) {
        let pin = match led {
            Led::Red => &mut self.red,
            Led::Green => &mut self.green,
            Led::Amber => &mut self.amber,
        };
        pin.write(on.into());
    }

    fn set_haptic(&mut self, on: bool) {
        if let Some(pin) = &mut self.haptic {
            pin.write(on.into());
        }
    }
}

/// Consecutive equal readings (50 ms apart) before a dock-sense change counts.
const DOCK_STABLE_READS: u32 = 4;

/// Debounces the dock-sense level: a change counts once it held for
/// `DOCK_STABLE_READS` readings in a row. Pure, so it is tested without a Pi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DockDebounce {
    reported: Option<bool>,
    candidate: bool,
    count: u32,
}

impl Default for DockDebounce {
    fn default() -> Self {
        Self::new()
    }
}

impl DockDebounce {
    /// Nothing reported yet.
    pub fn new() -> Self {
        DockDebounce {
            reported: None,
            candidate: false,
            count: 0,
        }
    }

    /// Feed one reading; returns the new docked state when it changed.
    pub fn read(&mut self, docked: bool) -> Option<bool> {
        if docked == self.candidate {
            self.count += 1;
        } else {
            self.candidate = docked;
            self.count = 1;
        }
        if self.count >= DOCK_STABLE_READS && self.reported != Some(docked) {
            self.reported = Some(docked);
            return Some(docked);
        }
        None
    }
}

/// Watch the dock-sense input on BCM `pin` (high = docked: USB VBUS through a divider,
/// or a dock contact to 3V3; internal pull-down) and call `report` with each debounced
/// change, starting with the level found at start.
pub fn watch_dock(pin: u8, report: impl Fn(bool) + Send + 'static) -> Result<(), ControlsError> {
    let gpio = Gpio::new().map_err(ControlsError::GpioUnavailable)?;
    let input: InputPin = gpio
        .get(pin)
        .map_err(|source| ControlsError::Pin {
            role: "dock sense",
            pin,
            source,
        })?
        .into_input_pulldown();
    std::thread::Builder::new()
        .name("dock-sense".into())
        .spawn(move || {
            let mut debounce = DockDebounce::new();
            loop {
                if let Some(docked) = debounce.read(input.is_high()) {
                    report(docked);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
        .map_err(|source| ControlsError::Spawn {
            name: "dock-sense",
            source,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dock_sense_is_debounced() {
        let mut d = super::DockDebounce::new();
        // Initial level reported once it is stable.
        assert_eq!(d.read(false), None);
        assert_eq!(d.read(false), None);
        assert_eq!(d.read(false), None);
        assert_eq!(d.read(false), Some(false));
        // A glitch shorter than four readings is ignored.
        assert_eq!(d.read(true), None);
        assert_eq!(d.read(true), None);
        assert_eq!(d.read(false), None);
        assert_eq!(d.read(false), None);
        // A real docking is reported once.
        for _ in 0..3 {
            assert_eq!(d.read(true), None);
        }
        assert_eq!(d.read(true), Some(true));
        assert_eq!(d.read(true), None);
    }

    use super::*;

    #[test]
    fn button_is_active_low() {
        assert_eq!(pressed_by(Trigger::FallingEdge), Some(true));
        assert_eq!(pressed_by(Trigger::RisingEdge), Some(false));
        assert_eq!(pressed_by(Trigger::Both), None);
    }

    /// Off a Raspberry Pi, opening the GPIO is a clear error, not a panic.
    #[cfg(not(any(target_arch = "arm", target_arch = "aarch64")))]
    #[test]
    fn new_fails_cleanly_without_a_pi() {
        let pins = GpioPins {
            button: 17,
            red: 22,
            green: 23,
            amber: 24,
            haptic: Some(25),
        };
        match GpioControls::new(pins) {
            Err(e @ ControlsError::GpioUnavailable(_)) => {
                assert!(e.to_string().contains("GPIO controller"), "{e}");
            }
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("GPIO opened on a non-Pi machine"),
        }
    }
}
