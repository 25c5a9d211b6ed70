use super::*;

/// How long after the dock's last request the LEDs keep showing "offloading".
pub(super) const OFFLOAD_ACTIVITY: Duration = Duration::from_secs(30);

pub(super) fn led_mode(s: State, offload: Offload) -> LedMode {
    match s {
        State::Docked if offload == Offload::Complete => LedMode::OffloadComplete,
        State::Docked if offload == Offload::Active => LedMode::Offloading,
        State::Booting => LedMode::Booting,
        State::Ready => LedMode::Ready,
        State::Recording => LedMode::Recording,
        State::Stopping | State::ShuttingDown => LedMode::Stopping,
        State::StorageFull => LedMode::StorageFull,
        State::Fault { .. } => LedMode::Fault,
        State::Docked => LedMode::Docked,
    }
}

/// Offload progress as the LEDs show it while docked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Offload {
    /// The dock has not talked to the camera lately.
    Idle,
    /// The dock is working: it asked for a head, an acknowledgement or the time recently.
    Active,
    /// Every closed segment is acknowledged.
    Complete,
}

pub(super) fn pattern_name(p: crate::controls::leds::LedPattern) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Loop {
    pub(super) fn offload_state(&self) -> Offload {
        if self.offload_pending == Some(0) {
            Offload::Complete
        } else if self
            .dock_activity
            .is_some_and(|t| t.elapsed() < OFFLOAD_ACTIVITY)
        {
            Offload::Active
        } else {
            Offload::Idle
        }
    }

    pub(super) fn update_leds(&mut self) {
        let inputs = LedInputs {
            mode: led_mode(self.machine.state(), self.offload_state()),
            storage_low: self.machine.storage_low(),
            marker_flash: self.marker_flash_until.is_some(),
            stealth: self.machine.stealth(),
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
            camera: self.camera_status.clone(),
            controls: self.controls_name.to_string(),
            pre_event_buffered_seconds: self.prebuffer.seconds(),
            pipeline_restarts: self.restarts,
            last_fault: self.last_fault.clone(),
            recovered_segments: self.recovered,
            storage_path: self.cfg.storage.path.display().to_string(),
            uptime_seconds: self.daemon_started.elapsed().as_secs_f64(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let line = match &s.recording_id {
            Some(id) => format!("{} {id}, {:.0} h left", s.state, s.hours_left),
            None => format!("{}, {:.0} h left", s.state, s.hours_left),
        };
        self.notify.status(&line);
        if let Ok(mut g) = self.status.lock() {
            *g = s;
        }
    }
}
