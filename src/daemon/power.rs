//! The battery in the loop: readings from the `power` thread become low (LED, haptic
//! cue, audit entry) and critical (finalise, audit, power off); the power-fail input
//! powers off at once; the shutdown command runs after the loop has ended.

use std::process::Command;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::Loop;
use crate::evidence::events::AuditEvent;
use crate::power::{Change, Level, PowerMonitor, Reading, SupplyStatus};
use crate::recorder::{Event, PowerReason};
use crate::status::BatteryStatus;

/// How long the shutdown command may take before the daemon exits without it.
const SHUTDOWN_COMMAND_WAIT: Duration = Duration::from_secs(30);

fn supply_name(s: SupplyStatus) -> &'static str {
    match s {
        SupplyStatus::Discharging => "discharging",
        SupplyStatus::Charging => "charging",
        SupplyStatus::Full => "full",
        SupplyStatus::NotCharging => "not_charging",
        SupplyStatus::Unknown => "unknown",
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Unknown => "unknown",
        Level::External => "external",
        Level::Normal => "normal",
        Level::Low => "low",
        Level::Critical => "critical",
    }
}

impl Loop {
    /// A reading from the gauge.
    pub(super) fn on_battery(&mut self, r: Reading) {
        for (entry, event) in reading_changes(&mut self.officer.power, r) {
            if let Some(e) = entry {
                self.audit(e);
            }
            self.queue.push_back(event);
        }
        self.drain_queue();
    }

    /// The power-fail input fired.
    pub(super) fn on_power_fail(&mut self) {
        error!("power failing: finalising and powering off");
        self.dispatch(Event::PowerDown(PowerReason::PowerFail));
    }

    /// The machine decided to power off: remember it for after the loop, audit it.
    pub(super) fn power_off(&mut self, reason: PowerReason) {
        self.officer.power_off = Some(reason);
        let entry = power_off_entry(
            reason,
            &self.officer.power,
            &self.settings.officer.shutdown_command,
        );
        self.audit(entry);
    }

    /// The battery for the status, when a gauge is configured.
    pub(super) fn battery_status(&self) -> Option<BatteryStatus> {
        battery_status(self.settings.officer.gauge.clone(), &self.officer.power)
    }

    /// Minutes of recording left: the lower of the battery's and the storage's.
    pub(super) fn minutes_left(&self, storage_hours: f64) -> Option<f64> {
        let storage = storage_hours.is_finite().then_some(storage_hours * 60.0);
        let battery = match self.officer.power.level() {
            Level::External | Level::Unknown => None,
            Level::Normal | Level::Low | Level::Critical => self.officer.power.minutes(),
        };
        match (storage, battery) {
            (Some(s), Some(b)) => Some(s.min(b)),
            (s, b) => s.or(b),
        }
    }

    /// After the loop: run the shutdown command if the camera decided to power off;
    /// whether it did decide so (the command's failure is logged, never retried: the
    /// process then exits with `exit::POWERED_DOWN`, which systemd does not restart).
    pub(super) fn run_power_off(&self) -> bool {
        let Some(reason) = self.officer.power_off else {
            return false;
        };
        self.run_shutdown_command(reason);
        true
    }

    fn run_shutdown_command(&self, reason: PowerReason) {
        run_shutdown_command(&self.settings.officer.shutdown_command, reason);
    }
}

/// What a gauge reading changes, in order: per change, the audit entry it needs (low)
/// and the machine event (low; critical powers down). Logged here; the loop and the
/// standby before the store opens both act on it.
pub(super) fn reading_changes(
    power: &mut PowerMonitor,
    r: Reading,
) -> Vec<(Option<AuditEvent>, Event)> {
    let mut out = Vec::new();
    for change in power.update(r) {
        let minutes_left = power.minutes();
        match change {
            Change::Low(low) => {
                warn!(low, percent = ?r.percent, minutes = ?minutes_left, "battery low");
                let entry = AuditEvent::BatteryLow {
                    low,
                    percent: r.percent,
                    minutes_left,
                };
                out.push((Some(entry), Event::BatteryLow(low)));
            }
            Change::Critical => {
                error!(percent = ?r.percent, minutes = ?minutes_left, "battery critical: finalising and powering off");
                out.push((None, Event::PowerDown(PowerReason::BatteryCritical)));
            }
        }
    }
    out
}

/// The audit entry of powering off for `reason`, with the battery as last seen and the
/// shutdown command about to run.
pub(super) fn power_off_entry(
    reason: PowerReason,
    power: &PowerMonitor,
    shutdown_command: &[String],
) -> AuditEvent {
    AuditEvent::PowerOff {
        reason: reason.name().to_string(),
        percent: power.reading().percent,
        minutes_left: power.minutes(),
        command: shutdown_command.join(" "),
    }
}

/// The battery for the status: `gauge` (its name, `None` without one) and what the
/// monitor has seen.
pub(super) fn battery_status(gauge: Option<String>, power: &PowerMonitor) -> Option<BatteryStatus> {
    let r = power.reading();
    Some(BatteryStatus {
        gauge: gauge?,
        percent: r.percent,
        supply: supply_name(r.status).into(),
        level: level_name(power.level()).into(),
        minutes: power.minutes(),
    })
}

/// Run the shutdown command `argv` (nothing when empty) and wait for it, at most
/// [`SHUTDOWN_COMMAND_WAIT`]; failures are logged.
pub(super) fn run_shutdown_command(argv: &[String], reason: PowerReason) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    info!(reason = reason.name(), command = %argv.join(" "), "powering off");
    let mut child = match Command::new(program).args(args).spawn() {
        Ok(c) => c,
        Err(e) => {
            return error!(error = %e, command = %argv.join(" "), "cannot run the shutdown command");
        }
    };
    let until = Instant::now() + SHUTDOWN_COMMAND_WAIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    error!(%status, "the shutdown command failed");
                }
                return;
            }
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return warn!("the shutdown command is still running; exiting"),
            Err(e) => return error!(error = %e, "cannot wait for the shutdown command"),
        }
    }
}
