use super::*;

pub(super) fn trigger_name(t: Trigger) -> String {
    match t {
        Trigger::Gesture(g) => format!("gesture:{}", gesture_name(g)),
        Trigger::Ctl => "ctl".into(),
        Trigger::StorageFull => "storage_full".into(),
        Trigger::Shutdown => "shutdown".into(),
    }
}

pub(super) fn gesture_name(g: Gesture) -> &'static str {
    match g {
        Gesture::Single => "single",
        Gesture::Double => "double",
        Gesture::Triple => "triple",
        Gesture::Hold => "hold",
    }
}

pub(super) fn end_reason(t: Trigger) -> EndReason {
    match t {
        Trigger::Gesture(_) | Trigger::Ctl => EndReason::Stopped,
        Trigger::StorageFull => EndReason::StorageFull,
        Trigger::Shutdown => EndReason::Shutdown,
    }
}

impl Loop {
    pub(super) fn write(&mut self, f: Frame) {
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        if f.is_video_keyframe() {
            // The segment checkpoints (sync + signed record) before each keyframe.
            self.last_sync = Instant::now();
        }
        let before = rec.closed().len();
        match rec.offer(
            self.store.flash(),
            &f,
            self.store.budget(),
            &self.time,
            &mut self.signer,
        ) {
            Ok(Offer::Written(n)) => self.store.account(n),
            Ok(Offer::Skipped) => {}
            Ok(Offer::NoRoom) => {
                warn!("storage full: finalising the recording");
                self.queue.push_back(Event::StorageFull);
            }
            Err(e) => self.storage_failed(e),
        }
        if let Some(rec) = self.recording.as_ref() {
            let closed = rec.closed().len() - before;
            if closed > 0 {
                self.segments_written += closed as u64;
                if let Some(m) = rec.closed().last() {
                    info!(recording = %m.recording_id, sequence = m.sequence, seconds = m.duration_seconds, bytes = m.bytes, "segment closed");
                }
            }
        }
    }

    pub(super) fn storage_failed(&mut self, e: StoreError) {
        error!(error = %e, "flash write failed: treating the store as full");
        self.last_fault = Some(e.to_string());
        self.queue.push_back(Event::StorageFull);
    }

    pub(super) fn close_segment(&mut self, reason: EndReason) {
        let time = TimeRef::now();
        let Some(rec) = self.recording.as_mut() else {
            return;
        };
        match rec.close_segment(self.store.flash(), reason, &time, &mut self.signer) {
            Ok(Some((m, _))) => {
                self.segments_written += 1;
                info!(recording = %m.recording_id, sequence = m.sequence, seconds = m.duration_seconds, bytes = m.bytes, reason = ?reason, "segment closed");
            }
            Ok(None) => {}
            Err(e) => {
                error!(error = %e, "cannot finalise segment (its media stays on flash; recovery will close it at next start)")
            }
        }
        self.last_sync = Instant::now();
    }

    pub(super) fn open_recording(&mut self, t: Trigger) {
        let pre = self.prebuffer.take();
        let now = monotonic_ns();
        let pre_ns = pre.first().map_or(0, |f| now.saturating_sub(f.pts_ns));
        let pre_audio = pre.iter().any(|f| f.kind == StreamKind::Audio);
        self.time = TimeRef::now();
        let plan = NewRecording {
            trigger: trigger_name(t),
            pre_event: (pre_ns, pre_audio),
            segment_ns: self.segment_ns,
            capture: self.capture_info.clone(),
        };
        match self.store.new_recording(&self.time, plan) {
            Ok(r) => {
                info!(recording = r.id(), trigger = %trigger_name(t), pre_event_seconds = pre_ns as f64 / 1e9, "recording started");
                let id = r.id().to_string();
                self.audit_event(
                    events::RECORDING_START,
                    serde_json::json!({
                        "recording_id": id,
                        "trigger": trigger_name(t),
                        "pre_event_seconds": pre_ns as f64 / 1e9,
                        "pre_event_audio": pre_audio,
                    }),
                );
                self.recording = Some(r);
                for f in pre {
                    self.write(f);
                }
                // The pre-event footage came from RAM in one go: one sync and one
                // checkpoint cover all of it (not one per GOP).
                if let Some(rec) = self.recording.as_mut() {
                    match rec.checkpoint(&mut self.signer) {
                        Ok(()) => {
                            info!(recording = rec.id(), "pre-event footage durable and signed")
                        }
                        Err(e) => self.storage_failed(e),
                    }
                }
                self.last_sync = Instant::now();
            }
            Err(e) => self.storage_failed(e),
        }
    }
}
