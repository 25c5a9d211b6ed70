use super::*;

impl Loop {
    pub(super) fn refresh_storage(&mut self) {
        if let Err(e) = self.store.refresh() {
            warn!(error = %e, "cannot read free space");
        }
        if self.store.capacity().low {
            self.free_acknowledged(None);
        }
        let cap = self.store.capacity();
        if cap.low != self.storage_low {
            self.storage_low = cap.low;
            if cap.low {
                warn!(
                    hours_left = cap.hours_left,
                    reserve = self.cfg.storage.reserve_hours,
                    "storage low"
                );
            } else {
                info!(hours_left = cap.hours_left, "storage no longer low");
            }
            self.audit_event(
                events::STORAGE_LOW,
                serde_json::json!({ "low": cap.low, "hours_left": cap.hours_left }),
            );
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
            | State::ShuttingDown => {}
        }
    }
}
