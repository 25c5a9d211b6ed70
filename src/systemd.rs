//! systemd service notifications: READY once the store is recovered and the pipeline
//! runs (or the daemon settled in `storage-fault`), STATUS lines with the state,
//! WATCHDOG while video buffers flow or the camera is stopped on purpose (docked,
//! storage-fault), STOPPING on shutdown. Silent no-ops when not started by systemd (no `NOTIFY_SOCKET`).

use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tracing::debug;

/// Watchdog pings are sent at most this often.
pub const WATCHDOG_PING: Duration = Duration::from_secs(1);

/// Sends service notifications.
#[derive(Debug)]
pub struct Notifier {
    ready_sent: bool,
    last_status: String,
    last_ping: Option<Instant>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    /// A notifier; nothing is sent until the first call.
    pub fn new() -> Notifier {
        Notifier {
            ready_sent: false,
            last_status: String::new(),
            last_ping: None,
        }
    }

    fn send(states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(states) {
            debug!(error = %e, "sd_notify failed");
        }
    }

    /// Tell systemd start-up is complete (once).
    pub fn ready(&mut self) {
        if !self.ready_sent {
            self.ready_sent = true;
            Self::send(&[NotifyState::Ready]);
        }
    }

    /// Update the one-line status (sent only when it changes).
    pub fn status(&mut self, line: &str) {
        if line != self.last_status {
            self.last_status = line.to_string();
            Self::send(&[NotifyState::Status(line)]);
        }
    }

    /// Keep the watchdog fed; call only while buffers flow (or the loop waits on
    /// purpose with the camera stopped).
    pub fn watchdog(&mut self, now: Instant) {
        if !self.ready_sent {
            return;
        }
        if self
            .last_ping
            .is_none_or(|t| now.duration_since(t) >= WATCHDOG_PING)
        {
            self.last_ping = Some(now);
            Self::send(&[NotifyState::Watchdog]);
        }
    }

    /// Tell systemd the service is stopping.
    pub fn stopping(&mut self) {
        Self::send(&[NotifyState::Stopping]);
    }
}
