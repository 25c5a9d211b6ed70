//! Battery and power supply: a [`Gauge`] read every `power.poll_seconds` on the
//! `power` thread, and the pure [`PowerMonitor`] that turns readings into the low and
//! critical levels the recorder acts on.
//!
//! - `sysfs.rs`: Linux's `power_supply` class (`capacity`, `status`, `time_to_empty_now`);
//! - `sim.rs`: a simulated gauge driven by `ctl battery PERCENT` (and `ctl power-fail`);
//! - `fail.rs`: the optional power-fail GPIO input of a UPS HAT.
//!
//! A gauge that is missing or returns garbage reads as unknown: an unknown battery is
//! never low and never critical, so it can never shut the camera down.

pub mod fail;
pub mod sim;
pub mod sysfs;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Consecutive critical readings before the camera powers off (one odd reading is not
/// enough to end a recording).
pub const CRITICAL_READINGS: u32 = 2;
/// The battery stops being low only this many minutes above `power.low_minutes`.
pub const LOW_HYSTERESIS_MINUTES: f64 = 2.0;

/// What the supply is doing (`status` in sysfs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplyStatus {
    /// Running on the battery.
    Discharging,
    /// On external power, charging.
    Charging,
    /// On external power, full.
    Full,
    /// On external power, not charging.
    NotCharging,
    /// Not given, or unreadable.
    Unknown,
}

impl SupplyStatus {
    /// On external power: never low, never critical.
    pub fn external(self) -> bool {
        match self {
            SupplyStatus::Charging | SupplyStatus::Full | SupplyStatus::NotCharging => true,
            SupplyStatus::Discharging | SupplyStatus::Unknown => false,
        }
    }
}

/// One reading of the gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// State of charge, 0–100; `None` when the gauge is missing or says something else.
    pub percent: Option<u8>,
    /// What the supply is doing.
    pub status: SupplyStatus,
    /// Seconds to empty, where the gauge estimates it.
    pub time_to_empty_s: Option<u64>,
}

impl Reading {
    /// A missing or unreadable gauge.
    pub const UNKNOWN: Reading = Reading {
        percent: None,
        status: SupplyStatus::Unknown,
        time_to_empty_s: None,
    };
}

/// `capacity` as sysfs writes it: an integer 0–100 and a newline; anything else is `None`.
pub fn parse_capacity(text: &str) -> Option<u8> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) || t.len() > 3 {
        return None;
    }
    t.parse::<u8>().ok().filter(|p| *p <= 100)
}

/// `status` as sysfs writes it.
pub fn parse_status(text: &str) -> SupplyStatus {
    match text.trim() {
        "Discharging" => SupplyStatus::Discharging,
        "Charging" => SupplyStatus::Charging,
        "Full" => SupplyStatus::Full,
        "Not charging" => SupplyStatus::NotCharging,
        _ => SupplyStatus::Unknown,
    }
}

/// `time_to_empty_now` (seconds): a positive integer below 10 days, else `None`
/// (some gauges write 0 or 65535 for "don't know").
pub fn parse_seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u64>()
        .ok()
        .filter(|s| *s > 0 && *s < 10 * 86_400 && *s != 65_535)
}

/// A battery gauge.
pub trait Gauge: Send {
    /// Name for the status ("sysfs:BAT0", "simulated").
    fn name(&self) -> String;
    /// Read it now.
    fn read(&mut self) -> Reading;
}

/// The thresholds of `[power]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Low below this many minutes.
    pub low_minutes: f64,
    /// Critical below this many minutes.
    pub critical_minutes: f64,
    /// Minutes of recording on a full battery.
    pub full_minutes: f64,
}

/// Minutes of recording the battery still holds: the gauge's time to empty where it
/// gives one, else the charge times the runtime of a full battery.
pub fn battery_minutes(r: &Reading, full_minutes: f64) -> Option<f64> {
    match (r.time_to_empty_s, r.percent) {
        (Some(s), Some(_)) => Some(s as f64 / 60.0),
        (None, Some(p)) => Some(f64::from(p) / 100.0 * full_minutes),
        (_, None) => None,
    }
}

/// The battery level the daemon acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// No usable reading.
    Unknown,
    /// On external power.
    External,
    /// More than `low_minutes` left.
    Normal,
    /// Less than `low_minutes` left.
    Low,
    /// Less than `critical_minutes` left (confirmed).
    Critical,
}

/// What a reading changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// The battery became low (true) or stopped being low (false).
    Low(bool),
    /// Critical, confirmed by [`CRITICAL_READINGS`] readings in a row: power off.
    Critical,
}

/// Turns readings into levels. Pure: it never reads a gauge or a clock.
#[derive(Debug, Clone)]
pub struct PowerMonitor {
    thresholds: Thresholds,
    low: bool,
    critical_count: u32,
    critical_reported: bool,
    last: Reading,
    level: Level,
}

impl PowerMonitor {
    /// Nothing read yet.
    pub fn new(thresholds: Thresholds) -> PowerMonitor {
        PowerMonitor {
            thresholds,
            low: false,
            critical_count: 0,
            critical_reported: false,
            last: Reading::UNKNOWN,
            level: Level::Unknown,
        }
    }

    /// The newest reading.
    pub fn reading(&self) -> Reading {
        self.last
    }

    /// The level after the newest reading.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Minutes of recording on the battery, by the newest reading.
    pub fn minutes(&self) -> Option<f64> {
        battery_minutes(&self.last, self.thresholds.full_minutes)
    }

    /// Feed one reading; returns what changed.
    pub fn update(&mut self, r: Reading) -> Vec<Change> {
        self.last = r;
        let mut out = Vec::new();
        let minutes = self.minutes();
        let Some(minutes) = minutes else {
            // Unknown: nothing changes, except that a critical streak is broken.
            self.critical_count = 0;
            self.level = Level::Unknown;
            return out;
        };
        let t = self.thresholds;
        if r.status.external() {
            self.critical_count = 0;
            self.critical_reported = false;
            self.set_low(false, &mut out);
            self.level = Level::External;
            return out;
        }
        if minutes < t.critical_minutes {
            self.critical_count += 1;
        } else {
            self.critical_count = 0;
        }
        if minutes < t.low_minutes {
            self.set_low(true, &mut out);
        } else if minutes >= t.low_minutes + LOW_HYSTERESIS_MINUTES {
            self.set_low(false, &mut out);
        }
        self.level = if self.critical_count >= CRITICAL_READINGS {
            if !self.critical_reported {
                self.critical_reported = true;
                out.push(Change::Critical);
            }
            Level::Critical
        } else if self.low {
            Level::Low
        } else {
            Level::Normal
        };
        out
    }

    fn set_low(&mut self, low: bool, out: &mut Vec<Change>) {
        if self.low != low {
            self.low = low;
            out.push(Change::Low(low));
        }
    }
}

/// The `power` thread: reads the gauge every `every` and hands each reading to `report`.
#[derive(Debug)]
pub struct GaugeThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GaugeThread {
    /// Start reading `gauge` (the first reading at once).
    pub fn start(
        mut gauge: Box<dyn Gauge>,
        every: Duration,
        report: impl Fn(Reading) + Send + 'static,
    ) -> std::io::Result<GaugeThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("power".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    report(gauge.read());
                    let until = Instant::now() + every;
                    while !flag.load(Ordering::SeqCst) && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })?;
        Ok(GaugeThread {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for GaugeThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        low_minutes: 20.0,
        critical_minutes: 5.0,
        full_minutes: 100.0,
    };

    fn at(percent: u8) -> Reading {
        Reading {
            percent: Some(percent),
            status: SupplyStatus::Discharging,
            time_to_empty_s: None,
        }
    }

    #[test]
    fn sysfs_text_is_parsed_strictly() {
        assert_eq!(parse_capacity("87\n"), Some(87));
        assert_eq!(parse_capacity("0"), Some(0));
        assert_eq!(parse_capacity("100\n"), Some(100));
        for bad in ["", "101", "-5", "87%", "abc", "8 7", "1000", "\u{0}"] {
            assert_eq!(parse_capacity(bad), None, "{bad:?}");
        }
        assert_eq!(parse_status("Discharging\n"), SupplyStatus::Discharging);
        assert_eq!(parse_status("Not charging"), SupplyStatus::NotCharging);
        assert_eq!(parse_status("weird"), SupplyStatus::Unknown);
        assert_eq!(parse_seconds("3600\n"), Some(3600));
        for bad in ["0", "65535", "x", "", "99999999999"] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn minutes_come_from_time_to_empty_or_the_charge() {
        assert_eq!(battery_minutes(&at(50), 600.0), Some(300.0));
        let tte = Reading {
            time_to_empty_s: Some(1200),
            ..at(50)
        };
        assert_eq!(battery_minutes(&tte, 600.0), Some(20.0));
        assert_eq!(battery_minutes(&Reading::UNKNOWN, 600.0), None);
    }

    #[test]
    fn low_then_critical_after_two_readings_then_once() {
        let mut m = PowerMonitor::new(T);
        assert!(m.update(at(50)).is_empty());
        assert_eq!(m.level(), Level::Normal);
        assert_eq!(m.update(at(19)), vec![Change::Low(true)]);
        assert_eq!(m.level(), Level::Low);
        // Below critical once: not yet.
        assert!(m.update(at(4)).is_empty());
        assert_eq!(m.level(), Level::Low);
        assert_eq!(m.update(at(4)), vec![Change::Critical]);
        assert_eq!(m.level(), Level::Critical);
        assert!(m.update(at(3)).is_empty(), "critical is reported once");
    }

    #[test]
    fn a_broken_streak_or_garbage_never_powers_off() {
        let mut m = PowerMonitor::new(T);
        m.update(at(4));
        m.update(at(30));
        assert!(!m.update(at(4)).contains(&Change::Critical));
        assert!(m.update(Reading::UNKNOWN).is_empty());
        assert_eq!(m.level(), Level::Unknown);
        assert!(
            !m.update(at(4)).contains(&Change::Critical),
            "garbage broke the streak"
        );
        for _ in 0..10 {
            assert!(m.update(Reading::UNKNOWN).is_empty());
        }
    }

    #[test]
    fn low_has_hysteresis_and_external_power_clears_it() {
        let mut m = PowerMonitor::new(T);
        m.update(at(19));
        assert!(m.update(at(21)).is_empty(), "21 < 20 + 2");
        assert_eq!(m.update(at(22)), vec![Change::Low(false)]);
        m.update(at(10));
        let charging = Reading {
            status: SupplyStatus::Charging,
            ..at(3)
        };
        assert_eq!(m.update(charging), vec![Change::Low(false)]);
        assert_eq!(m.level(), Level::External);
        assert!(m.update(charging).is_empty());
        assert!(m.update(charging).is_empty(), "charging is never critical");
    }
}
