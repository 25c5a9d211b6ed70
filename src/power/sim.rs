//! The simulated gauge: `ctl battery VALUE [--charging]` writes VALUE where a sysfs
//! gauge's `capacity` file would be, and it is read with the same strict parser, so
//! `ctl battery 80` is 80 % and `ctl battery garbage` is an unknown battery.
//! `ctl power-fail` stands in for the power-fail input.

use std::sync::{Arc, Mutex, PoisonError};

use super::{Gauge, Reading, SupplyStatus, parse_capacity};

/// What `ctl battery` last set.
#[derive(Debug, Clone, Default)]
struct State {
    capacity: String,
    charging: bool,
}

/// The simulated gauge; cloning gives a handle to the same state.
#[derive(Debug, Clone, Default)]
pub struct SimGauge {
    state: Arc<Mutex<State>>,
}

impl SimGauge {
    /// Unknown until the first `ctl battery`.
    pub fn new() -> SimGauge {
        SimGauge::default()
    }

    /// `ctl battery VALUE [--charging]`.
    pub fn set(&self, capacity: &str, charging: bool) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.capacity = capacity.to_string();
        s.charging = charging;
    }
}

impl Gauge for SimGauge {
    fn name(&self) -> String {
        "simulated".into()
    }

    fn read(&mut self) -> Reading {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let percent = parse_capacity(&s.capacity);
        Reading {
            percent,
            status: match (percent, s.charging) {
                (None, _) => SupplyStatus::Unknown,
                (Some(_), true) => SupplyStatus::Charging,
                (Some(_), false) => SupplyStatus::Discharging,
            },
            time_to_empty_s: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_read_like_sysfs_text() {
        let g = SimGauge::new();
        let mut reader = g.clone();
        assert_eq!(reader.read(), Reading::UNKNOWN);
        g.set("80", false);
        assert_eq!(reader.read().percent, Some(80));
        assert_eq!(reader.read().status, SupplyStatus::Discharging);
        g.set("12", true);
        assert_eq!(reader.read().status, SupplyStatus::Charging);
        g.set("banana", false);
        assert_eq!(reader.read(), Reading::UNKNOWN);
    }
}
