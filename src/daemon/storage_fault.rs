//! Storage faults in the loop: a write or fsync that failed latches the store (the
//! recorder enters `storage-fault`, what is open is closed as far as it can be), the
//! error is audited, and the medium is probed with a back-off until a probe write and
//! fsync succeed. Then the chains are resumed from what is on flash, anything the error
//! left open is closed by recovery, and the recorder boots again.

use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::Loop;
use super::timers::Backoff;
use crate::evidence::events::AuditEvent;
use crate::evidence::scan;
use crate::layout::AUDIT_FILE;
use crate::recorder::{Event, State};
use crate::store::StoreError;

/// The storage fault being handled, if any.
#[derive(Debug, Default)]
pub(super) struct StorageFault {
    /// The error that started it.
    error: Option<String>,
    /// It was the filesystem (or a quota) running out of space.
    no_space: bool,
    /// When it started.
    since: Option<Instant>,
    /// UTC when it started (for the audit entry, which may be written only later).
    since_utc: String,
    /// The recorder state it interrupted.
    state: String,
    /// Whether the `storage_error` entry is in the audit log yet.
    audited: bool,
    /// Delay before the next probe.
    backoff: Backoff,
    /// When the next probe is due.
    probe_at: Option<Instant>,
    /// Probes that failed so far.
    failed_probes: u64,
    /// Entries kept while the audit log could not be written (refusals, stealth, dock
    /// changes during a fault at start-up).
    pending: Vec<AuditEvent>,
}

impl StorageFault {
    /// A fault that started at `now` (in recorder state `state`, `start` at start-up).
    pub(super) fn started(error: String, no_space: bool, state: &str, now: Instant) -> Self {
        StorageFault {
            error: Some(error),
            no_space,
            since: Some(now),
            since_utc: crate::clock::rfc3339(chrono::Utc::now()),
            state: state.to_string(),
            ..StorageFault::default()
        }
    }

    /// The error, while a fault is being handled.
    pub(super) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether the fault was the store running out of space.
    pub(super) fn no_space(&self) -> bool {
        self.no_space
    }

    /// Arm the next probe after the back-off (if none is armed).
    pub(super) fn arm(&mut self, now: Instant) {
        if self.probe_at.is_none() {
            self.probe_at = Some(now + self.backoff.next_delay());
        }
    }

    /// Whether a probe is due at `now`.
    pub(super) fn probe_due(&self, now: Instant) -> bool {
        self.probe_at.is_some_and(|t| now >= t)
    }

    /// A probe failed at `now`: the next one waits longer.
    pub(super) fn probe_failed(&mut self, now: Instant) {
        self.failed_probes += 1;
        self.probe_at = None;
        self.arm(now);
    }

    /// Seconds since the fault started.
    pub(super) fn seconds(&self, now: Instant) -> f64 {
        self.since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
            .as_secs_f64()
    }

    /// Failed probes so far (and at start-up: failed attempts to open the store).
    pub(super) fn failed_probes(&self) -> u64 {
        self.failed_probes
    }

    /// The `storage_error` entry for this fault.
    pub(super) fn entry(&self) -> AuditEvent {
        AuditEvent::StorageError {
            error: self.error.clone().unwrap_or_default(),
            no_space: self.no_space,
            state: self.state.clone(),
            utc: self.since_utc.clone(),
        }
    }

    /// The `storage_error` entry was written.
    pub(super) fn mark_audited(&mut self) {
        self.audited = true;
    }

    /// Keep `entries` for the audit log until it can be written.
    pub(super) fn keep(&mut self, entries: Vec<AuditEvent>) {
        self.pending.extend(entries);
    }
}

impl Loop {
    /// A write or fsync failed: latch the store, audit it (when the log can still be
    /// written) and let the recorder close what is open and enter `storage-fault`.
    pub(super) fn storage_failed(&mut self, e: StoreError) {
        self.store.latch(&e);
        self.last_fault = Some(e.to_string());
        if self.storage_fault.error().is_none() {
            error!(error = %e, "flash write failed: the store takes no more writes until a probe succeeds");
            let state = self.machine.state().name();
            self.storage_fault =
                StorageFault::started(e.to_string(), e.no_space(), state, Instant::now());
            self.audit_storage_error();
        }
        self.queue.push_back(Event::StorageFault);
    }

    /// Write the fault's `storage_error` entry if it is not in the log yet.
    fn audit_storage_error(&mut self) {
        if self.storage_fault.audited {
            return;
        }
        let entry = self.storage_fault.entry();
        if self.audit.append(&mut self.signer, &entry).is_ok() {
            self.storage_fault.mark_audited();
        } else {
            warn!("the storage error could not be audited yet; it will be once the medium is back");
        }
    }

    /// The store opened after a fault at start-up (the boot entries are written): audit
    /// the fault and what happened meanwhile, then leave `storage-fault`.
    pub(super) fn recovered_at_start(&mut self) {
        let now = Instant::now();
        self.audit_storage_error();
        for e in std::mem::take(&mut self.storage_fault.pending) {
            self.audit(e);
        }
        let fault = std::mem::take(&mut self.storage_fault);
        self.audit(AuditEvent::StorageRecovered {
            seconds: fault.seconds(now),
            failed_probes: fault.failed_probes(),
            recovered_segments: 0,
        });
        self.queue.push_back(Event::StorageRecovered);
    }

    /// Entered `storage-fault`: the first probe is armed.
    pub(super) fn entered_storage_fault(&mut self) {
        self.storage_fault.arm(Instant::now());
        // Start-up is over as far as systemd is concerned: the daemon is up, handling it.
        self.notify.ready();
    }

    /// From the tick: probe the medium when a probe is due.
    pub(super) fn probe_storage(&mut self, now: Instant) {
        if self.machine.state() != State::StorageFault || !self.storage_fault.probe_due(now) {
            return;
        }
        let resumed = self.store.probe().and_then(|()| self.resume_after_fault());
        match resumed {
            Ok(recovered) => {
                info!(
                    seconds = self.storage_fault.seconds(now),
                    recovered, "the store takes writes again"
                );
                self.audit_storage_error();
                let fault = std::mem::take(&mut self.storage_fault);
                self.audit(AuditEvent::StorageRecovered {
                    seconds: fault.seconds(now),
                    failed_probes: fault.failed_probes(),
                    recovered_segments: recovered as u64,
                });
                self.last_fault = None;
                self.dispatch(Event::StorageRecovered);
            }
            Err(e) => {
                self.store.latch(&e);
                self.storage_fault.probe_failed(now);
                warn!(error = %e, failed_probes = self.storage_fault.failed_probes(), "the store still takes no writes");
            }
        }
    }

    /// The medium takes writes again: continue both chains from what is on flash (a
    /// record signed but never stored leaves no gap), reopen the audit log if it
    /// failed, and close by recovery what the fault left open. Returns the segments
    /// recovered.
    fn resume_after_fault(&mut self) -> Result<usize, StoreError> {
        let root = self.store.root().to_path_buf();
        let found = scan::scan(self.store.flash(), &root)
            .map_err(|e| StoreError::io("scan the evidence in", &root, e))?;
        let own = hex::encode(self.signer.identity().device_id());
        let (media, audit) = found.heads_for(&own);
        self.signer.resume_chains(media, audit);
        if self.audit.failed() {
            let path = self.audit.path().to_path_buf();
            self.audit
                .reopen(self.store.flash())
                .map_err(|e| StoreError::io("open", &path, e))?;
        }
        if found.audit_torn_bytes > 0 {
            self.audit(AuditEvent::TornTailRemoved {
                file: AUDIT_FILE.to_string(),
                bytes: found.audit_torn_bytes,
            });
        }
        let recovered = self.store.recover(&mut self.signer)?;
        for r in &recovered {
            warn!(path = %r.path.display(), tail_seconds = r.tail_seconds, "closed a segment the storage fault left open");
            self.audit(AuditEvent::Recovery {
                recording_id: r.meta.recording_id.clone(),
                segment: r.meta.sequence,
                tail_bytes: r.tail_bytes,
                tail_seconds: r.tail_seconds,
                journal_torn_bytes: r.journal_torn_bytes,
            });
        }
        Ok(recovered.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_back_off_from_one_second_to_thirty() {
        let t0 = Instant::now();
        let mut f = StorageFault::started("EIO".into(), false, "recording", t0);
        assert!(!f.probe_due(t0));
        f.arm(t0);
        f.arm(t0); // armed once
        assert!(!f.probe_due(t0 + Duration::from_millis(999)));
        assert!(f.probe_due(t0 + Duration::from_secs(1)));
        let mut at = t0 + Duration::from_secs(1);
        let mut gaps = Vec::new();
        for _ in 0..6 {
            f.probe_failed(at);
            let next = f.probe_at.unwrap();
            gaps.push(next.duration_since(at).as_secs());
            at = next;
        }
        assert_eq!(gaps, [2, 4, 8, 16, 30, 30]);
        assert_eq!(f.failed_probes(), 6);
        match f.entry() {
            AuditEvent::StorageError {
                error,
                no_space,
                state,
                ..
            } => {
                assert_eq!(
                    (error.as_str(), no_space, state.as_str()),
                    ("EIO", false, "recording")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
