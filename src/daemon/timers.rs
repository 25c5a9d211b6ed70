use super::*;

impl Loop {
    /// Audit wall-clock jumps (> 1 s against the monotonic clock) and sync changes.
    pub(super) fn watch_clock(&mut self) {
        let offset = clock_offset_ms();
        let jump = offset - self.clock_offset_ms;
        if jump.abs() > 1000 {
            warn!(jump_ms = jump, "wall clock jumped");
            self.audit_event(
                events::CLOCK,
                serde_json::json!({ "change": "jump", "jump_ms": jump, "utc": crate::clock::rfc3339(self.time.utc) }),
            );
        }
        self.clock_offset_ms = offset;
        if self.time.synchronised != self.clock_synced {
            self.clock_synced = self.time.synchronised;
            info!(
                synchronised = self.clock_synced,
                "wall clock synchronisation changed"
            );
            self.audit_event(
                events::CLOCK,
                serde_json::json!({ "change": "sync", "synchronised": self.clock_synced }),
            );
        }
    }
}
