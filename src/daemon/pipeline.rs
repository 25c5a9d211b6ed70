use super::*;

impl Loop {
    pub(super) fn start_pipeline(&mut self) {
        self.stop_pipeline();
        self.generation += 1;
        if self.generation > 1 {
            self.restarts += 1;
        }
        self.running_seen = false;
        self.pipeline_started = Instant::now();
        self.retry_at = None;
        match Capture::start(
            &self.description,
            self.generation,
            self.shared.clone(),
            self.frames_tx.clone(),
            self.events_tx.clone(),
        ) {
            Ok(c) => {
                info!(generation = self.generation, "capture pipeline started");
                self.audit_event(
                    events::PIPELINE_START,
                    serde_json::json!({ "generation": self.generation }),
                );
                self.capture = Some(c);
            }
            Err(e) => {
                // The machine treats it like any pipeline failure and schedules a retry.
                error!(error = %e, "capture pipeline did not start");
                self.last_fault = Some(e.to_string());
                self.queue.push_back(Event::PipelineFailed);
            }
        }
    }

    pub(super) fn stop_pipeline(&mut self) {
        if let Some(c) = self.capture.take() {
            info!(generation = c.generation(), "capture pipeline stopping");
            c.stop();
        }
        // Frames of the old pipeline that were never routed are not contiguous with the
        // next pipeline's; a recording already took what it needed in flush_pending().
        while self.frames_rx.try_recv().is_ok() {}
        self.interleaver.clear();
        self.prebuffer.clear();
    }

    /// Route every frame of the current pipeline that is still queued.
    pub(super) fn flush_pending(&mut self) {
        while let Ok(f) = self.frames_rx.try_recv() {
            if f.generation == self.generation {
                self.interleaver.push(f.frame);
            }
        }
        for f in self.interleaver.drain() {
            self.route(f);
        }
    }

    pub(super) fn on_frame(&mut self, f: CapturedFrame) {
        if f.generation != self.generation || self.capture.is_none() {
            return;
        }
        let frame = f.frame;
        if frame.kind == StreamKind::Video {
            self.last_video = Instant::now();
            if !self.running_seen {
                if !frame.keyframe {
                    return;
                }
                self.running_seen = true;
                self.backoff = FIRST_RETRY;
                info!(generation = self.generation, "capture pipeline running");
                self.dispatch(Event::PipelineRunning);
                // Store recovered (before the loop started) and pipeline running.
                self.notify.ready();
            }
        } else if !self.running_seen {
            return;
        }
        self.interleaver.push(frame);
        while let Some(f) = self.interleaver.pop() {
            self.route(f);
        }
    }

    pub(super) fn route(&mut self, f: Frame) {
        match self.machine.state() {
            State::Recording => self.write(f),
            State::Booting | State::Ready | State::Stopping | State::StorageFull => {
                self.prebuffer.push(f)
            }
            State::Fault { resume } => {
                // Frames still queued from a failed pipeline belong to the suspended recording.
                if resume && self.recording.is_some() {
                    self.write(f);
                }
            }
            State::Docked | State::ShuttingDown => {}
        }
    }
}
