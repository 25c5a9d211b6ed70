//! What the daemon shows: the LED patterns for the current state, the status snapshot
//! (`ctl status`, the dock API) and systemd's STATUS line.

use std::time::{Duration, Instant};

use super::Loop;
use crate::controls::leds::{LedInputs, LedMode, LedPattern, patterns_for};
use crate::recorder::State;
use crate::status::{LedStatus, Status};
use crate::store::recording::RecordingWriter;

/// How long after the dock's last request the LEDs keep showing "offloading".
const OFFLOAD_ACTIVITY: Duration = Duration::from_secs(30);

/// Offload progress as the LEDs show it while docked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offload {
    /// The dock has not talked to the camera lately.
    Idle,
    /// The dock is working: it asked for a head, an acknowledgement or the time recently.
    Active,
    /// Every closed segment is acknowledged.
    Complete,
}

fn led_mode(s: State, offload: Offload) -> LedMode {
    match s {
        State::Docked if offload == Offload::Complete => LedMode::OffloadComplete,
        State::Docked if offload == Offload::Active => LedMode::Offloading,
        State::Booting => LedMode::Booting,
        State::Ready => LedMode::Ready,
        State::Recording => LedMode::Recording,
        State::Stopping | State::ShuttingDown => LedMode::Stopping,
        State::StorageFull => LedMode::StorageFull,
        State::StorageFault => LedMode::StorageFault,
        State::Fault { .. } => LedMode::Fault,
        State::Docked => LedMode::Docked,
        State::Asleep => LedMode::Asleep,
        State::PoweringOff => LedMode::PoweringOff,
    }
}

/// Offload progress from the pending count and the dock's last request at `now`.
fn offload(pending: Option<usize>, activity: Option<Instant>, now: Instant) -> Offload {
    if pending == Some(0) {
        Offload::Complete
    } else if activity.is_some_and(|t| now.saturating_duration_since(t) < OFFLOAD_ACTIVITY) {
        Offload::Active
    } else {
        Offload::Idle
    }
}

pub(super) fn pattern_name(p: LedPattern) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Loop {
    pub(super) fn update_leds(&mut self) {
        let progress = offload(self.offload_pending, self.dock_activity, Instant::now());
        let inputs = LedInputs {
            mode: led_mode(self.machine.state(), progress),
            storage_low: self.machine.storage_low(),
            marker_flash: self.marker_flash_until.is_some(),
            stealth: self.machine.stealth(),
            battery_low: self.machine.battery_low(),
            muted: self.machine.muted(),
        };
        let p = patterns_for(&inputs);
        if self.leds != Some(p) {
            self.leds = Some(p);
            self.controls.set_patterns(p);
        }
    }

    pub(super) fn publish(&mut self) {
        let cap = self.store.capacity();
        let leds = self.leds.map(|p| LedStatus {
            red: pattern_name(p.red),
            green: pattern_name(p.green),
            amber: pattern_name(p.amber),
        });
        let s = Status {
            state: self.machine.state().name().to_string(),
            recording_id: self.recording.as_ref().map(|r| r.id().to_string()),
            seconds_recorded: self
                .recording
                .as_ref()
                .map_or(0.0, RecordingWriter::seconds),
            segments_written: self.segments_written,
            hours_left: cap.hours_left,
            storage_low: cap.low,
            used_bytes: cap.used_bytes,
            available_bytes: cap.available_bytes,
            stealth: self.machine.stealth(),
            leds: leds.unwrap_or_default(),
            camera: self.camera_status(),
            controls: self.settings.controls_name.to_string(),
            pre_event_buffered_seconds: self.prebuffer.seconds(),
            pre_event_buffered_bytes: self.prebuffer.bytes() as u64,
            pipeline_restarts: self.pipeline.restarts,
            last_fault: self.last_fault.clone(),
            storage_fault: self.storage_fault.error().map(str::to_string),
            recovered_segments: self.recovered,
            storage_path: self.settings.storage_path.clone(),
            uptime_seconds: self.settings.started.elapsed().as_secs_f64(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            muted: self.machine.muted(),
            battery: self.battery_status(),
            minutes_left: self.minutes_left(cap.hours_left),
            triggers: self
                .settings
                .officer
                .triggers
                .iter()
                .map(|(n, _)| n.to_string())
                .collect(),
            peers: self.officer.peers.as_ref().map(|p| p.status()),
            location: self
                .officer
                .locator
                .as_ref()
                .map(|l| l.status(Instant::now())),
            officer: self.assigned_officer(),
            recording_officer: self
                .recording
                .as_ref()
                .map(|r| r.officer().map(str::to_string))
                .filter(|o| *o != self.assigned_officer())
                .map(|o| crate::evidence::officer::officer_label(o.as_deref()).to_string()),
            encryption: crate::status::EncryptionStatus {
                mode: self.signer.footage().mode().name().to_string(),
                key_ids: self.signer.footage().key_ids(),
            },
        };
        let line = match (&s.recording_id, &s.storage_fault) {
            (_, Some(e)) => format!("{}: {e}", s.state),
            (Some(id), None) => format!("{} {id}, {:.0} h left", s.state, s.hours_left),
            (None, None) => format!("{}, {:.0} h left", s.state, s.hours_left),
        };
        self.notify.status(&line);
        if let Ok(mut g) = self.status.lock() {
            *g = s;
        }
    }
}

impl Loop {
    /// The camera's settings with what the overlay shows and has drawn so far.
    fn camera_status(&self) -> crate::status::CameraStatus {
        let mut c = self.settings.camera_status.clone();
        c.overlay = self.settings.capture_shared.overlay.as_ref().map(|o| {
            let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
            crate::status::OverlayStatus {
                camera_id: self.settings.camera_id.clone(),
                officer: self.settings.overlay_text.officer(),
                frames: n(&o.stats.frames),
                composed: n(&o.stats.composed),
                copied: n(&o.stats.copied),
                skipped: n(&o.stats.skipped),
            }
        });
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docked_leds_follow_offload_progress() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(31);
        assert_eq!(offload(Some(0), None, t0), Offload::Complete);
        assert_eq!(offload(Some(3), Some(t0), t0), Offload::Active);
        assert_eq!(offload(Some(3), Some(t0), later), Offload::Idle);
        assert_eq!(offload(None, None, t0), Offload::Idle);
        assert_eq!(
            led_mode(State::Docked, Offload::Complete),
            LedMode::OffloadComplete
        );
        assert_eq!(
            led_mode(State::Docked, Offload::Active),
            LedMode::Offloading
        );
        assert_eq!(led_mode(State::Docked, Offload::Idle), LedMode::Docked);
        assert_eq!(led_mode(State::Ready, Offload::Complete), LedMode::Ready);
    }
}
