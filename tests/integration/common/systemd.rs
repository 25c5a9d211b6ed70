//! A fake systemd for the daemon's sd_notify messages.

use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A datagram socket at a NOTIFY_SOCKET path that records what the daemon announces.
pub struct FakeSystemd {
    /// (when, datagram) in arrival order.
    messages: Arc<Mutex<Vec<(Instant, String)>>>,
    /// The socket path to pass as NOTIFY_SOCKET.
    pub path: std::path::PathBuf,
}

impl FakeSystemd {
    /// Bind the socket in `dir`.
    pub fn new(dir: &std::path::Path) -> FakeSystemd {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let m = messages.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                m.lock().unwrap().push((Instant::now(), text));
            }
        });
        FakeSystemd { messages, path }
    }

    /// Every datagram so far.
    pub fn all(&self) -> Vec<(Instant, String)> {
        self.messages.lock().unwrap().clone()
    }

    /// When a datagram first carried the line `needle`.
    pub fn first(&self, needle: &str) -> Option<Instant> {
        self.all()
            .into_iter()
            .find(|(_, m)| m.lines().any(|l| l == needle))
            .map(|(t, _)| t)
    }

    /// Wait up to `timeout` for the line `needle`.
    pub fn wait(&self, needle: &str, timeout: Duration) -> Instant {
        let start = Instant::now();
        loop {
            if let Some(t) = self.first(needle) {
                return t;
            }
            assert!(
                start.elapsed() < timeout,
                "no {needle} from the daemon; got {:?}",
                self.all()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// When each `WATCHDOG=1` came.
    pub fn watchdog_times(&self) -> Vec<Instant> {
        self.all()
            .into_iter()
            .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
            .map(|(t, _)| t)
            .collect()
    }
}
