//! The power-fail input of a UPS HAT or supercap board (`power.power_fail_pin`), read
//! through rppal: polled every 20 ms, a change counts after four equal readings.

use std::time::Duration;

use rppal::gpio::Gpio;

use crate::controls::ControlsError;
use crate::controls::gpio::DockDebounce;

/// How often the input is read.
pub const POLL: Duration = Duration::from_millis(20);

/// Whether the raw level means "power failing".
pub fn failing(high: bool, active_low: bool) -> bool {
    high != active_low
}

/// Watch BCM `pin` on the `power-fail` thread; `report` is called once when power
/// starts failing (debounced).
pub fn watch(
    pin: u8,
    active_low: bool,
    report: impl Fn() + Send + 'static,
) -> Result<(), ControlsError> {
    let gpio = Gpio::new().map_err(ControlsError::GpioUnavailable)?;
    let claimed = gpio.get(pin).map_err(|source| ControlsError::Pin {
        role: "power-fail input",
        pin,
        source,
    })?;
    let input = if active_low {
        claimed.into_input_pullup()
    } else {
        claimed.into_input_pulldown()
    };
    std::thread::Builder::new()
        .name("power-fail".into())
        .spawn(move || {
            let mut debounce = DockDebounce::new();
            loop {
                if debounce.read(failing(input.is_high(), active_low)) == Some(true) {
                    report();
                }
                std::thread::sleep(POLL);
            }
        })
        .map_err(|source| ControlsError::Spawn {
            name: "power-fail",
            source,
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn active_low_and_active_high() {
        assert!(super::failing(false, true));
        assert!(!super::failing(true, true));
        assert!(super::failing(true, false));
        assert!(!super::failing(false, false));
    }
}
