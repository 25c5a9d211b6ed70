//! The loop: waits on frames, inputs, capture failures and the shutdown signal, feeds
//! events to the state machine, carries out its actions, and runs the 100 ms tick.

use std::time::{Duration, Instant};

use crossbeam_channel::select;
use tracing::{debug, error, info, warn};

use super::recording::{end_reason, gesture_name, gesture_request, trigger_name};
use super::timers::{self, ClockObservation, MARKER_FLASH, STORAGE_REFRESH, SYNC_INTERVAL};
use super::{Input, Loop};
use crate::capture::CaptureEvent;
use crate::clock::TimeRef;
use crate::evidence::events::{AuditEvent, ClockChange};
use crate::evidence::sidecar::EndReason;
use crate::recorder::{Action, Event, Refusal, State};
use crate::store::StoreError;

/// Loop tick.
const TICK: Duration = Duration::from_millis(100);

impl Loop {
    /// Append an audit entry. A failure is a storage fault (the log is on the same
    /// medium): the store latches, never a crash.
    pub(super) fn audit(&mut self, event: AuditEvent) {
        if let Err(e) = self.audit.append(&mut self.signer, &event) {
            error!(error = %e, event = event.name(), "cannot append to the audit log");
            let path = self.audit.path().to_path_buf();
            self.storage_failed(StoreError::io("append to", &path, e));
        }
    }

    /// Carry out the state machine's boot actions and publish the first status. After a
    /// storage fault at start-up, audit it now that the log can be written, then boot.
    pub(super) fn start(&mut self, boot_actions: Vec<Action>) {
        for a in boot_actions {
            self.execute(a);
        }
        if self.machine.state() == State::StorageFault {
            self.recovered_at_start();
        }
        self.drain_queue();
        self.refresh_storage();
        self.publish();
    }

    /// Run until the state machine says exit.
    pub(super) fn run(&mut self) {
        let frames = self.pipeline.frames_rx.clone();
        let events = self.pipeline.events_rx.clone();
        let input = self.input_rx.clone();
        let mut shutdown = self.shutdown.0.clone();
        let mut next_tick = Instant::now() + TICK;
        while !self.exit {
            let timeout = next_tick.saturating_duration_since(Instant::now());
            select! {
                recv(frames) -> msg => {
                    if let Ok(f) = msg {
                        self.on_frame(f);
                    }
                }
                recv(input) -> msg => {
                    if let Ok(i) = msg {
                        self.on_input(i);
                    }
                }
                recv(events) -> msg => {
                    if let Ok(CaptureEvent::Failed { generation, reason }) = msg {
                        self.on_capture_failed(generation, reason);
                    }
                }
                recv(shutdown) -> _ => {
                    // Once: a dropped handle would keep the channel ready forever.
                    shutdown = crossbeam_channel::never();
                    self.on_shutdown();
                }
                default(timeout) => {}
            }
            if Instant::now() >= next_tick {
                self.tick();
                next_tick = Instant::now() + TICK;
            }
        }
    }

    /// Stop every thread the daemon started and record the clean shutdown; whether the
    /// camera powered itself down.
    pub(super) fn finish(mut self) -> super::Stopped {
        if let Some(server) = self.dock_server.take() {
            let _ = server.stop();
        }
        if let Some(ctl) = self.ctl.take() {
            ctl.stop();
        }
        self.audit(AuditEvent::Shutdown {});
        let powered_down = self.run_power_off();
        self.controls.shutdown();
        info!("bodycam daemon stopped");
        if powered_down {
            super::Stopped::PoweredDown
        } else {
            super::Stopped::Clean
        }
    }

    fn on_shutdown(&mut self) {
        info!("shutdown requested");
        self.notify.stopping();
        self.dispatch(Event::Shutdown);
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Gesture(g) => {
                info!(gesture = gesture_name(g), "button gesture");
                self.officer.cause = Some(format!("gesture:{}", gesture_name(g)));
                self.gesture = Some(g);
                self.dispatch(Event::Gesture(g));
                self.gesture = None;
                self.officer.cause = None;
            }
            Input::Command(c, reply) => {
                info!(command = ?c, "control command");
                self.officer.cause = Some("ctl".into());
                self.refused = None;
                self.dispatch(Event::Command(c));
                self.officer.cause = None;
                let answer = match self.refused.take() {
                    None => Ok(()),
                    Some(r) => Err((r, self.refusal_text(r))),
                };
                let _ = reply.send(answer);
            }
            Input::Trigger(name, reply) => self.on_trigger(&name, reply),
            Input::Battery(r) => self.on_battery(r),
            Input::PowerFail => self.on_power_fail(),
            Input::Peer(p) => self.on_peer_input(p),
            Input::LocationLink(up, error) => self.on_location_link(up, error),
            Input::Dock(docked) => self.on_dock_sense(docked),
            Input::DockCall(req, reply) => {
                let answer = self.dock_call(req);
                let _ = reply.send(answer);
            }
            Input::Head(nonce, reply) => {
                let head = self.head_statement(&nonce);
                let _ = reply.send(Ok(head));
            }
        }
    }

    fn on_dock_sense(&mut self, docked: bool) {
        info!(docked, "dock sense");
        if self.machine.docked() != docked {
            let state = self.machine.state().name().to_string();
            self.audit(if docked {
                AuditEvent::Docked { state }
            } else {
                AuditEvent::Undocked { state }
            });
        }
        self.dispatch(if docked {
            Event::Docked
        } else {
            Event::Undocked
        });
    }

    /// Feed one event to the state machine (and whatever its actions raise).
    pub(super) fn dispatch(&mut self, event: Event) {
        self.queue.push_back(event);
        self.drain_queue();
    }

    pub(super) fn drain_queue(&mut self) {
        while let Some(event) = self.queue.pop_front() {
            let before = self.machine.state();
            let actions = self.machine.step(event);
            let after = self.machine.state();
            if before != after {
                info!(
                    from = before.name(),
                    to = after.name(),
                    ?event,
                    "state change"
                );
                self.entered(after);
            }
            for a in actions {
                self.execute(a);
            }
        }
        self.update_leds();
        self.publish();
    }

    /// What `ctl` prints for refusal `r`: the reason in words, with what is wrong.
    fn refusal_text(&self, r: Refusal) -> String {
        match r {
            Refusal::StorageFull => format!(
                "storage full ({} bytes left): offload in the dock to free space",
                self.store.capacity().available_bytes
            ),
            Refusal::Docked => "the camera is in its dock: take it out to record".into(),
            Refusal::Fault => match &self.last_fault {
                Some(f) => format!("the camera is restarting after a fault ({f})"),
                None => "the camera is restarting after a fault".into(),
            },
            Refusal::StorageFault => format!(
                "storage fault: {}",
                self.storage_fault
                    .error()
                    .unwrap_or("the store takes no writes")
            ),
            Refusal::NotRecording => "not recording".into(),
            Refusal::AlreadyRecording => "already recording".into(),
            Refusal::ShuttingDown => "the daemon is shutting down".into(),
            Refusal::Recording => "recording: stop the recording first".into(),
            Refusal::MuteDisabled => {
                "audio mute is disabled (controls.mute_enabled = false)".into()
            }
        }
    }

    /// Bookkeeping on entering `state`.
    fn entered(&mut self, state: State) {
        match state {
            // Segments closed since docking are waiting for offload too.
            State::Docked => self.count_pending(),
            State::StorageFull => {
                let cap = self.store.capacity();
                self.audit(AuditEvent::StorageFull {
                    available_bytes: cap.available_bytes,
                    used_bytes: cap.used_bytes,
                });
            }
            State::StorageFault => self.entered_storage_fault(),
            State::Booting
            | State::Ready
            | State::Recording
            | State::Stopping
            | State::Fault { .. }
            | State::ShuttingDown
            | State::Asleep
            | State::PoweringOff => {}
        }
    }

    pub(super) fn execute(&mut self, action: Action) {
        debug!(?action, "action");
        match action {
            Action::StartPipeline => self.start_pipeline(),
            Action::StopPipeline => self.stop_pipeline(),
            Action::ScheduleRetry => self.schedule_retry(),
            Action::OpenRecording(t) => self.open_recording(t),
            Action::FinalizeRecording(t) => self.finalize_recording(t),
            Action::SuspendRecording => {
                self.flush_pending();
                self.close_segment(EndReason::Fault);
            }
            Action::ResumeRecording => {
                if let Some(r) = &self.recording {
                    info!(recording = r.id(), "recording resumes in a new segment");
                }
            }
            Action::EndSuspendedRecording(t) => self.end_suspended_recording(t),
            Action::AddMarker(t) => self.add_marker(t),
            Action::MarkerFlash => self.marker_flash_until = Some(Instant::now() + MARKER_FLASH),
            Action::Haptic(cue) => {
                if !self.machine.stealth() {
                    self.controls.haptic(cue);
                }
            }
            Action::StealthChanged(on) => {
                info!(stealth = on, "stealth mode");
                self.audit(AuditEvent::Stealth { on });
            }
            Action::Refused(r) => self.refuse(r),
            Action::OpenDock => self.open_dock(),
            Action::CloseDock => self.close_dock(),
            Action::Exit => self.exit = true,
            Action::MuteChanged(on) => self.mute_changed(on),
            Action::SleepChanged(on) => self.sleep_changed(on),
            Action::PowerOff(reason) => self.power_off(reason),
        }
    }

    /// A request was refused: remembered for the `ctl` answer, audited when an
    /// officer's gesture made it.
    fn refuse(&mut self, r: Refusal) {
        let state = self.machine.state().name();
        warn!(reason = r.name(), state, "request refused");
        self.refused = Some(r);
        if let Some(g) = self.gesture {
            self.audit(AuditEvent::RequestRefused {
                request: gesture_request(g).to_string(),
                reason: r.name().to_string(),
                trigger: format!("gesture:{}", gesture_name(g)),
                state: state.to_string(),
            });
        }
    }

    fn finalize_recording(&mut self, t: crate::recorder::Trigger) {
        self.flush_pending();
        self.close_segment(end_reason(t, self.storage_fault.no_space()));
        if let Some(r) = self.recording.take() {
            info!(recording = r.id(), seconds = r.seconds(), trigger = %trigger_name(t), "recording stopped");
            self.audit_stop(&r, t, "recording");
        }
        self.show_officer();
        self.queue.push_back(Event::RecordingFinalized);
    }

    fn end_suspended_recording(&mut self, t: crate::recorder::Trigger) {
        if let Some(r) = self.recording.take() {
            info!(recording = r.id(), trigger = %trigger_name(t), "suspended recording ended");
            self.audit_stop(&r, t, "fault");
        }
        self.show_officer();
    }

    fn tick(&mut self) {
        self.time = TimeRef::now();
        self.watch_clock();
        let now = Instant::now();
        if self.pipeline.retry_at.is_some_and(|t| now >= t) {
            self.pipeline.retry_at = None;
            self.dispatch(Event::RetryDue);
        }
        if self.pipeline.capture.is_some()
            && let Some(problem) = self.pipeline.watch.check(now)
        {
            self.pipeline_failed(problem.reason());
        }
        let flowing = self.pipeline.capture.is_some() && self.pipeline.watch.flowing(now);
        // Docked, asleep or in a storage fault, the camera is stopped on purpose: the
        // loop itself is what is watched (a storage fault is handled here, not by a
        // restart).
        if flowing
            || matches!(
                self.machine.state(),
                State::Docked | State::Asleep | State::StorageFault
            )
        {
            self.notify.watchdog(now);
        }
        if let Some(rec) = self.recording.as_mut()
            && rec.unsynced_bytes() > 0
            && timers::due(self.last_sync, now, SYNC_INTERVAL)
        {
            if let Err(e) = self.store.checkpoint(rec, &mut self.signer) {
                self.storage_failed(e);
            }
            self.last_sync = now;
        }
        self.probe_storage(now);
        if self.marker_flash_until.is_some_and(|t| now >= t) {
            self.marker_flash_until = None;
        }
        if timers::due(self.last_refresh, now, STORAGE_REFRESH) {
            self.last_refresh = now;
            self.refresh_storage();
        }
        self.officer_tick(now);
        self.drain_queue();
    }

    /// Audit wall-clock jumps (> 1 s against the monotonic clock) and sync changes.
    fn watch_clock(&mut self) {
        let observed = self
            .clock
            .observe(timers::clock_offset_ms(), self.time.synchronised);
        for o in observed {
            let change = match o {
                ClockObservation::Jump { jump_ms } => {
                    warn!(jump_ms, "wall clock jumped");
                    ClockChange::Jump {
                        jump_ms,
                        utc: crate::clock::rfc3339(self.time.utc),
                    }
                }
                ClockObservation::Sync { synchronised } => {
                    info!(synchronised, "wall clock synchronisation changed");
                    ClockChange::Sync { synchronised }
                }
            };
            self.audit(AuditEvent::Clock(change));
        }
    }
}
