//! Crash injection for the interruption tests: with `BODYCAM_AGENT_FAILPOINT=NAME` (or
//! `NAME:N`) the agent aborts the process, as a power cut or `kill -9` would, the N-th
//! time (default first) it reaches the point called NAME. Points: `mid-download` (half of
//! a file received), `after-download`, `after-upload` (a blob written, not yet read
//! back), `before-ack`, `after-ack`. Unset, a point costs one atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable.
pub const ENV: &str = "BODYCAM_AGENT_FAILPOINT";

static ARMED: OnceLock<Option<(String, u32)>> = OnceLock::new();
static HITS: AtomicU32 = AtomicU32::new(0);

fn armed() -> &'static Option<(String, u32)> {
    ARMED.get_or_init(|| {
        let v = std::env::var(ENV).ok()?;
        let (name, n) = match v.split_once(':') {
            Some((name, n)) => (name.to_string(), n.parse().ok()?),
            None => (v, 1),
        };
        Some((name, n))
    })
}

/// Abort here if this point is armed and this is its N-th hit.
pub fn hit(name: &str) {
    if let Some((armed, n)) = armed()
        && armed == name
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n
    {
        eprintln!("bodycam dock-agent: failpoint {name} reached: aborting (crash test)");
        std::process::abort();
    }
}
