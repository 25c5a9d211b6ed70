//! The Linux `power_supply` class: `/sys/class/power_supply/<name>/{capacity,status,
//! time_to_empty_now}`. Without a configured directory the first supply whose `type` is
//! `Battery` is used, looked up again on every read until one appears.

use std::path::{Path, PathBuf};

use super::{Gauge, Reading, parse_capacity, parse_seconds, parse_status};

/// Where the kernel lists power supplies.
pub const POWER_SUPPLY_CLASS: &str = "/sys/class/power_supply";

/// A sysfs battery gauge.
#[derive(Debug, Clone)]
pub struct SysfsGauge {
    configured: Option<PathBuf>,
    class_dir: PathBuf,
    found: Option<PathBuf>,
}

impl SysfsGauge {
    /// The supply at `dir`, or (`None`) the first battery under [`POWER_SUPPLY_CLASS`].
    pub fn new(dir: Option<PathBuf>) -> SysfsGauge {
        SysfsGauge::with_class_dir(dir, PathBuf::from(POWER_SUPPLY_CLASS))
    }

    /// As [`SysfsGauge::new`], looking for batteries under `class_dir`.
    pub fn with_class_dir(dir: Option<PathBuf>, class_dir: PathBuf) -> SysfsGauge {
        SysfsGauge {
            found: dir.clone(),
            configured: dir,
            class_dir,
        }
    }

    fn dir(&mut self) -> Option<PathBuf> {
        if self.found.is_none() && self.configured.is_none() {
            self.found = first_battery(&self.class_dir);
        }
        self.found.clone()
    }
}

/// The first supply of type `Battery` under `class_dir`, by name.
pub fn first_battery(class_dir: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(class_dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| std::fs::read_to_string(p.join("type")).is_ok_and(|t| t.trim() == "Battery"))
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

fn read(dir: &Path, name: &str) -> String {
    // Attribute files are tiny; a read error (gauge gone, I2C error) reads as empty.
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

impl Gauge for SysfsGauge {
    fn name(&self) -> String {
        match &self.found {
            Some(d) => format!(
                "sysfs:{}",
                d.file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned())
            ),
            None => "sysfs (no battery found)".into(),
        }
    }

    fn read(&mut self) -> Reading {
        let Some(dir) = self.dir() else {
            return Reading::UNKNOWN;
        };
        let tte = parse_seconds(&read(&dir, "time_to_empty_now"))
            .or_else(|| parse_seconds(&read(&dir, "time_to_empty_avg")));
        Reading {
            percent: parse_capacity(&read(&dir, "capacity")),
            status: parse_status(&read(&dir, "status")),
            time_to_empty_s: tte,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::power::SupplyStatus;

    #[test]
    fn reads_a_battery_found_by_type_and_survives_garbage() {
        let d = tempfile::tempdir().unwrap();
        let ac = d.path().join("AC");
        let bat = d.path().join("BAT0");
        for (dir, kind) in [(&ac, "Mains"), (&bat, "Battery")] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("type"), format!("{kind}\n")).unwrap();
        }
        let mut g = SysfsGauge::with_class_dir(None, d.path().to_path_buf());
        assert_eq!(g.read(), Reading::UNKNOWN, "no attributes yet");
        assert_eq!(g.name(), "sysfs:BAT0");
        std::fs::write(bat.join("capacity"), "42\n").unwrap();
        std::fs::write(bat.join("status"), "Discharging\n").unwrap();
        std::fs::write(bat.join("time_to_empty_now"), "5400\n").unwrap();
        let r = g.read();
        assert_eq!(r.percent, Some(42));
        assert_eq!(r.status, SupplyStatus::Discharging);
        assert_eq!(r.time_to_empty_s, Some(5400));
        std::fs::write(bat.join("capacity"), "\u{fffd}garbage").unwrap();
        assert_eq!(g.read().percent, None);
        std::fs::remove_dir_all(&bat).unwrap();
        assert_eq!(g.read(), Reading::UNKNOWN, "the gauge went away");
    }

    #[test]
    fn no_battery_anywhere_is_unknown() {
        let d = tempfile::tempdir().unwrap();
        let mut g = SysfsGauge::with_class_dir(None, d.path().join("missing"));
        assert_eq!(g.read(), Reading::UNKNOWN);
    }
}
