use super::*;

impl Loop {
    /// Append an audit entry; a failure is logged, never fatal to recording.
    pub(super) fn audit_event(&mut self, event: &str, detail: serde_json::Value) {
        if let Err(e) = self.audit.append(&mut self.signer, event, detail) {
            error!(error = %e, event, "cannot append to the audit log");
        }
    }

    /// Audit the end of recording `r`; `during` is the state it ended in.
    pub(super) fn audit_stop(&mut self, r: &RecordingWriter, t: Trigger, during: &str) {
        self.audit_event(
            events::RECORDING_STOP,
            serde_json::json!({
                "recording_id": r.id(),
                "trigger": trigger_name(t),
                "seconds": r.seconds(),
                "segments": r.closed().len(),
                "during": during,
            }),
        );
    }

    pub(super) fn run(&mut self, input: &Receiver<Input>, events: &Receiver<CaptureEvent>) {
        let frames = self.frames_rx.clone();
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
                    match msg {
                        Ok(Input::Gesture(g)) => {
                            info!(gesture = gesture_name(g), "button gesture");
                            self.dispatch(Event::Gesture(g));
                        }
                        Ok(Input::Command(c)) => {
                            info!(command = ?c, "control command");
                            self.dispatch(Event::Command(c));
                        }
                        Ok(Input::Dock(docked)) => {
                            info!(docked, "dock sense");
                            if self.machine.docked() != docked {
                                let event = if docked { events::DOCKED } else { events::UNDOCKED };
                                let state = self.machine.state().name();
                                self.audit_event(event, serde_json::json!({ "state": state }));
                            }
                            self.dispatch(if docked { Event::Docked } else { Event::Undocked });
                        }
                        Ok(Input::DockCall(req, reply)) => {
                            let answer = self.dock_call(req);
                            let _ = reply.send(answer);
                        }
                        Ok(Input::Head(nonce, reply)) => {
                            let head = self.head_statement(&nonce);
                            let _ = reply.send(head);
                        }
                        Ok(Input::Shutdown) | Err(_) => {
                            info!("shutdown requested");
                            self.notify.stopping();
                            self.dispatch(Event::Shutdown);
                        }
                    }
                }
                recv(events) -> msg => {
                    if let Ok(CaptureEvent::Failed { generation, reason }) = msg
                        && generation == self.generation
                        && self.capture.is_some()
                    {
                        self.pipeline_failed(reason);
                    }
                }
                default(timeout) => {}
            }
            if Instant::now() >= next_tick {
                self.tick();
                next_tick = Instant::now() + TICK;
            }
        }
    }

    pub(super) fn pipeline_failed(&mut self, reason: String) {
        error!(%reason, "capture pipeline failed");
        self.audit_event(
            events::PIPELINE_FAULT,
            serde_json::json!({ "generation": self.generation, "reason": reason }),
        );
        self.last_fault = Some(reason);
        self.dispatch(Event::PipelineFailed);
    }

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
                if after == State::Docked {
                    // Segments closed since docking are waiting for offload too.
                    self.count_pending();
                }
                if after == State::StorageFull {
                    let cap = self.store.capacity();
                    self.audit_event(
                        events::STORAGE_FULL,
                        serde_json::json!({
                            "available_bytes": cap.available_bytes,
                            "used_bytes": cap.used_bytes,
                        }),
                    );
                }
            }
            for a in actions {
                self.execute(a);
            }
        }
        self.update_leds();
        self.publish();
    }

    pub(super) fn execute(&mut self, action: Action) {
        debug!(?action, "action");
        match action {
            Action::StartPipeline => self.start_pipeline(),
            Action::StopPipeline => self.stop_pipeline(),
            Action::ScheduleRetry => {
                self.retry_at = Some(Instant::now() + self.backoff);
                info!(
                    seconds = self.backoff.as_secs(),
                    "pipeline restart scheduled"
                );
                self.backoff = (self.backoff * 2).min(MAX_RETRY);
            }
            Action::OpenRecording(t) => self.open_recording(t),
            Action::FinalizeRecording(t) => {
                self.flush_pending();
                self.close_segment(end_reason(t));
                if let Some(r) = self.recording.take() {
                    info!(recording = r.id(), seconds = r.seconds(), trigger = %trigger_name(t), "recording stopped");
                    self.audit_stop(&r, t, "recording");
                }
                self.queue.push_back(Event::RecordingFinalized);
            }
            Action::SuspendRecording => {
                self.flush_pending();
                self.close_segment(EndReason::Fault);
            }
            Action::ResumeRecording => {
                if let Some(r) = &self.recording {
                    info!(recording = r.id(), "recording resumes in a new segment");
                }
            }
            Action::EndSuspendedRecording(t) => {
                if let Some(r) = self.recording.take() {
                    info!(recording = r.id(), trigger = %trigger_name(t), "suspended recording ended");
                    self.audit_stop(&r, t, "fault");
                }
            }
            Action::AddMarker(t) => {
                let now = monotonic_ns();
                let time = TimeRef::now();
                if let Some(r) = self.recording.as_mut() {
                    r.add_marker(now, trigger_name(t), &time);
                    info!(recording = r.id(), "marker added");
                    let id = r.id().to_string();
                    self.audit_event(
                        events::MARKER,
                        serde_json::json!({
                            "recording_id": id,
                            "trigger": trigger_name(t),
                            "utc": crate::clock::rfc3339(time.utc),
                        }),
                    );
                }
            }
            Action::MarkerFlash => self.marker_flash_until = Some(Instant::now() + MARKER_FLASH),
            Action::Haptic(cue) => {
                if !self.machine.stealth() {
                    self.controls.haptic(cue);
                }
            }
            Action::StealthChanged(on) => {
                info!(stealth = on, "stealth mode");
                self.audit_event(events::STEALTH, serde_json::json!({ "on": on }));
            }
            Action::Refused(r) => warn!(reason = ?r, "start refused"),
            Action::OpenDock => self.open_dock(),
            Action::CloseDock => {
                if let Some(server) = self.dock_server.take() {
                    if let Err(e) = server.stop() {
                        warn!(error = %e, "dock API did not stop cleanly");
                    }
                    info!("dock API closed");
                }
            }
            Action::Exit => self.exit = true,
        }
    }

    pub(super) fn tick(&mut self) {
        self.time = TimeRef::now();
        self.watch_clock();
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            self.dispatch(Event::RetryDue);
        }
        if self.capture.is_some() {
            if self.running_seen && now.duration_since(self.last_video) > STALL_TIMEOUT {
                self.pipeline_failed(format!(
                    "no video for {} s: pipeline stalled",
                    STALL_TIMEOUT.as_secs()
                ));
            } else if !self.running_seen
                && now.duration_since(self.pipeline_started) > START_TIMEOUT
            {
                self.pipeline_failed(format!(
                    "no keyframe within {} s of start",
                    START_TIMEOUT.as_secs()
                ));
            }
        }
        let flowing = self.capture.is_some()
            && self.running_seen
            && now.duration_since(self.last_video) < Duration::from_secs(1);
        // Docked, the camera is stopped on purpose: the loop itself is what is watched.
        if flowing || self.machine.state() == State::Docked {
            self.notify.watchdog(now);
        }
        if let Some(rec) = self.recording.as_mut()
            && rec.unsynced_bytes() > 0
            && now.duration_since(self.last_sync) >= SYNC_INTERVAL
        {
            if let Err(e) = rec.checkpoint(&mut self.signer) {
                self.storage_failed(e);
            }
            self.last_sync = now;
        }
        if self.marker_flash_until.is_some_and(|t| now >= t) {
            self.marker_flash_until = None;
        }
        if now.duration_since(self.last_refresh) >= Duration::from_secs(1) {
            self.last_refresh = now;
            self.refresh_storage();
        }
        self.drain_queue();
    }
}
