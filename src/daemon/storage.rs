//! Capacity in the loop: free space re-read every second, the low-capacity warning and
//! the full state, and freeing the media of acknowledged segments.

use tracing::{info, warn};

use super::Loop;
use crate::evidence::events::AuditEvent;
use crate::recorder::{Event, State};
use crate::store::offload;

impl Loop {
    pub(super) fn refresh_storage(&mut self) {
        if let Err(e) = self.store.refresh() {
            warn!(error = %e, "cannot read free space");
        }
        // Not while latched: a deletion must be audited, and the log may not take it.
        if self.store.capacity().low && self.store.latched().is_none() {
            self.free_acknowledged(None);
        }
        let cap = self.store.capacity();
        if cap.low != self.storage_low {
            self.storage_low = cap.low;
            if cap.low {
                warn!(
                    hours_left = cap.hours_left,
                    reserve = self.settings.reserve_hours,
                    "storage low"
                );
            } else {
                info!(hours_left = cap.hours_left, "storage no longer low");
            }
            self.audit(AuditEvent::StorageLow {
                low: cap.low,
                hours_left: cap.hours_left.is_finite().then_some(cap.hours_left),
            });
            self.queue.push_back(Event::StorageLow(cap.low));
        }
        let full = self.store.is_full();
        match self.machine.state() {
            State::Ready | State::Recording | State::Booting if full => {
                warn!(available_bytes = cap.available_bytes, "storage full");
                self.queue.push_back(Event::StorageFull);
            }
            State::StorageFull if !full => self.queue.push_back(Event::StorageAvailable),
            State::Booting
            | State::Ready
            | State::Recording
            | State::Stopping
            | State::StorageFull
            | State::Fault { .. }
            | State::Docked
            | State::StorageFault
            | State::ShuttingDown => {}
        }
    }

    /// Free the media of acknowledged segments: just `only` (delete_after_ack), or the
    /// oldest until capacity is back above the reserve. Each deletion is audited.
    /// Returns whether anything was freed.
    pub(super) fn free_acknowledged(&mut self, only: Option<(&str, u32)>) -> bool {
        let list = match offload::reclaimable(self.store.recordings_dir()) {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "cannot list acknowledged segments");
                return false;
            }
        };
        let mut freed = false;
        for r in list {
            if let Some((rec, seg)) = only
                && (r.recording != rec || r.segment != seg)
            {
                continue;
            }
            if only.is_none() && !self.store.capacity().low {
                break;
            }
            match offload::free(&r) {
                Ok(()) => {
                    freed = true;
                    self.store.release(r.bytes);
                    info!(recording = %r.recording, segment = r.segment, bytes = r.bytes, "freed acknowledged segment");
                    self.audit(AuditEvent::SegmentFreed {
                        recording_id: r.recording.clone(),
                        segment: r.segment,
                        bytes: r.bytes,
                    });
                }
                Err(e) => warn!(error = %e, "cannot free an acknowledged segment"),
            }
        }
        if freed && let Err(e) = self.store.refresh() {
            warn!(error = %e, "cannot read free space");
        }
        freed
    }
}
