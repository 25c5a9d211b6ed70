//! Trigger inputs on GPIO (`[[trigger]]`): a holster or weapon sensor, a light bar, a
//! Taser arming line, a radio's emergency button. Each is a named input watched by
//! rppal for its configured edge, debounced by rppal's interrupt debounce; a firing is
//! reported with the trigger's index. The simulated backend has no inputs:
//! `ctl trigger NAME` stands in for them.

use std::time::Duration;

use rppal::gpio::{Event, Gpio, InputPin, Trigger};
use serde::{Deserialize, Serialize};

use super::ControlsError;

/// Which edge of a trigger input fires it (`[[trigger]] edge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerEdge {
    /// Low to high.
    #[default]
    Rising,
    /// High to low.
    Falling,
    /// Either.
    Both,
}

/// The internal resistor of a trigger input (`[[trigger]] pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pull {
    /// None (the sensor drives the line).
    #[default]
    None,
    /// Pull-up (a switch to ground).
    Up,
    /// Pull-down (a switch to 3V3).
    Down,
}

/// One trigger input to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerPin {
    /// Its name, for the log.
    pub name: String,
    /// BCM pin.
    pub pin: u8,
    /// Which edge fires it.
    pub edge: TriggerEdge,
    /// Internal resistor.
    pub pull: Pull,
    /// rppal's interrupt debounce.
    pub debounce: Duration,
}

/// The rppal interrupt for an edge.
pub fn interrupt_for(edge: TriggerEdge) -> Trigger {
    match edge {
        TriggerEdge::Rising => Trigger::RisingEdge,
        TriggerEdge::Falling => Trigger::FallingEdge,
        TriggerEdge::Both => Trigger::Both,
    }
}

/// The watched trigger pins; dropping this stops watching them (rppal resets the pins).
#[derive(Debug)]
pub struct GpioTriggers {
    pins: Vec<InputPin>,
}

impl GpioTriggers {
    /// Claim every trigger's pin and watch it; `report(index)` is called from rppal's
    /// interrupt thread each time trigger `index` fires.
    pub fn watch(
        triggers: &[TriggerPin],
        report: impl Fn(usize) + Send + Sync + Clone + 'static,
    ) -> Result<GpioTriggers, ControlsError> {
        if triggers.is_empty() {
            return Ok(GpioTriggers { pins: Vec::new() });
        }
        let gpio = Gpio::new().map_err(ControlsError::GpioUnavailable)?;
        let mut pins = Vec::with_capacity(triggers.len());
        for (index, t) in triggers.iter().enumerate() {
            let pin = gpio.get(t.pin).map_err(|source| ControlsError::Pin {
                role: "trigger input",
                pin: t.pin,
                source,
            })?;
            let mut input = match t.pull {
                Pull::None => pin.into_input(),
                Pull::Up => pin.into_input_pullup(),
                Pull::Down => pin.into_input_pulldown(),
            };
            let report = report.clone();
            let name = t.name.clone();
            input
                .set_async_interrupt(interrupt_for(t.edge), Some(t.debounce), move |e: Event| {
                    tracing::debug!(trigger = %name, ?e, "trigger input edge");
                    report(index);
                })
                .map_err(|source| ControlsError::ButtonInterrupt { pin: t.pin, source })?;
            pins.push(input);
        }
        tracing::info!(inputs = pins.len(), "GPIO trigger inputs watched");
        Ok(GpioTriggers { pins })
    }

    /// How many inputs are watched.
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_map_to_interrupts() {
        assert_eq!(interrupt_for(TriggerEdge::Rising), Trigger::RisingEdge);
        assert_eq!(interrupt_for(TriggerEdge::Falling), Trigger::FallingEdge);
        assert_eq!(interrupt_for(TriggerEdge::Both), Trigger::Both);
    }

    #[test]
    fn no_triggers_needs_no_gpio() {
        let t = GpioTriggers::watch(&[], |_| {}).expect("nothing to claim");
        assert!(t.is_empty());
    }

    /// Off a Raspberry Pi, watching a trigger is a clear error, not a panic.
    #[cfg(not(any(target_arch = "arm", target_arch = "aarch64")))]
    #[test]
    fn watch_fails_cleanly_without_a_pi() {
        let t = TriggerPin {
            name: "holster".into(),
            pin: 6,
            edge: TriggerEdge::Rising,
            pull: Pull::Down,
            debounce: Duration::from_millis(20),
        };
        assert!(matches!(
            GpioTriggers::watch(&[t], |_| {}),
            Err(ControlsError::GpioUnavailable(_))
        ));
    }
}
