//! The capture pipeline's generations in the loop: starting, stopping and restarting
//! them, and routing each frame of the current generation to the pre-event buffer or
//! the open recording.

use std::time::Instant;

use tracing::{error, info};

use super::Loop;
use super::timers::PipelineWatch;
use crate::capture::{Capture, CapturedFrame};
use crate::evidence::events::AuditEvent;
use crate::media::{Frame, StreamKind};
use crate::recorder::{Event, State};

impl Loop {
    pub(super) fn start_pipeline(&mut self) {
        self.stop_pipeline();
        let p = &mut self.pipeline;
        p.generation += 1;
        if p.generation > 1 {
            p.restarts += 1;
        }
        p.watch = PipelineWatch::started(Instant::now());
        p.retry_at = None;
        let started = Capture::start(
            &self.settings.description,
            p.generation,
            self.settings.capture_shared.clone(),
            p.frames_tx.clone(),
            p.events_tx.clone(),
        );
        let generation = p.generation;
        match started {
            Ok(c) => {
                info!(generation, "capture pipeline started");
                self.audit(AuditEvent::PipelineStart { generation });
                self.pipeline.capture = Some(c);
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
        if let Some(c) = self.pipeline.capture.take() {
            info!(generation = c.generation(), "capture pipeline stopping");
            c.stop();
        }
        // Frames of the old pipeline that were never routed are not contiguous with the
        // next pipeline's; a recording already took what it needed in flush_pending().
        while self.pipeline.frames_rx.try_recv().is_ok() {}
        self.interleaver.clear();
        self.prebuffer.clear();
    }

    pub(super) fn schedule_retry(&mut self) {
        let delay = self.pipeline.backoff.next_delay();
        self.pipeline.retry_at = Some(Instant::now() + delay);
        info!(seconds = delay.as_secs(), "pipeline restart scheduled");
    }

    /// A bus watcher reported a failure.
    pub(super) fn on_capture_failed(&mut self, generation: u64, reason: String) {
        if generation == self.pipeline.generation && self.pipeline.capture.is_some() {
            self.pipeline_failed(reason);
        }
    }

    pub(super) fn pipeline_failed(&mut self, reason: String) {
        error!(%reason, "capture pipeline failed");
        self.audit(AuditEvent::PipelineFault {
            generation: self.pipeline.generation,
            reason: reason.clone(),
        });
        self.last_fault = Some(reason);
        self.dispatch(Event::PipelineFailed);
    }

    /// Route every frame of the current pipeline that is still queued.
    pub(super) fn flush_pending(&mut self) {
        while let Ok(f) = self.pipeline.frames_rx.try_recv() {
            if f.generation == self.pipeline.generation {
                self.interleaver.push(f.frame);
            }
        }
        for f in self.interleaver.drain() {
            self.route(f);
        }
    }

    pub(super) fn on_frame(&mut self, f: CapturedFrame) {
        if f.generation != self.pipeline.generation || self.pipeline.capture.is_none() {
            return;
        }
        let frame = f.frame;
        if frame.kind == StreamKind::Video {
            if self.pipeline.watch.video(Instant::now(), frame.keyframe) {
                self.pipeline.backoff.reset();
                info!(
                    generation = self.pipeline.generation,
                    "capture pipeline running"
                );
                self.dispatch(Event::PipelineRunning);
                // Store recovered (before the loop started) and pipeline running.
                self.notify.ready();
            }
            if !self.pipeline.watch.running() {
                return;
            }
        } else if !self.pipeline.watch.running() {
            return;
        }
        self.interleaver.push(frame);
        while let Some(f) = self.interleaver.pop() {
            self.route(f);
        }
    }

    fn route(&mut self, f: Frame) {
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
            State::Docked | State::StorageFault | State::ShuttingDown => {}
        }
    }
}
