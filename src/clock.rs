//! Time sources: the monotonic clock that timestamps frames, UTC wall time, and whether
//! the kernel considers the wall clock synchronised.

use chrono::{DateTime, SecondsFormat, Utc};

/// Nanoseconds of `CLOCK_MONOTONIC` (the same clock GStreamer's system clock reads).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// Whether the kernel reports the system clock as synchronised (NTP/timesyncd cleared
/// `STA_UNSYNC`, as `timedatectl` shows "System clock synchronized: yes").
pub fn clock_synchronised() -> bool {
    // SAFETY: a zeroed timex with modes = 0 only reads the kernel's state.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a valid, writable timex.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        // adjtimex refused (e.g. a seccomp filter such as systemd's ProtectClock=):
        // fall back to what systemd-timesyncd reports.
        return timesyncd_synchronised(std::path::Path::new(TIMESYNCD_FLAG));
    }
    state != libc::TIME_ERROR && (tx.status & libc::STA_UNSYNC) == 0
}

/// File systemd-timesyncd creates once it has synchronised the clock.
pub const TIMESYNCD_FLAG: &str = "/run/systemd/timesync/synchronized";

fn timesyncd_synchronised(flag: &std::path::Path) -> bool {
    flag.exists()
}

/// A pairing of the monotonic clock with UTC, taken at one instant, used to place
/// monotonic frame timestamps on the wall clock.
#[derive(Debug, Clone, Copy)]
pub struct TimeRef {
    /// Monotonic ns at the reference instant.
    pub mono_ns: u64,
    /// UTC at the reference instant.
    pub utc: DateTime<Utc>,
    /// Whether the wall clock was synchronised.
    pub synchronised: bool,
}

impl TimeRef {
    /// The reference for now.
    pub fn now() -> TimeRef {
        TimeRef {
            mono_ns: monotonic_ns(),
            utc: Utc::now(),
            synchronised: clock_synchronised(),
        }
    }

    /// UTC of a monotonic timestamp.
    pub fn utc_of(&self, mono_ns: u64) -> DateTime<Utc> {
        let delta = mono_ns as i128 - self.mono_ns as i128;
        let delta = i64::try_from(delta).unwrap_or(0);
        self.utc + chrono::Duration::nanoseconds(delta)
    }
}

/// RFC 3339 with milliseconds and `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timesyncd_flag_fallback() {
        let d = tempfile::tempdir().unwrap();
        let flag = d.path().join("synchronized");
        assert!(!timesyncd_synchronised(&flag));
        std::fs::write(&flag, b"").unwrap();
        assert!(timesyncd_synchronised(&flag));
    }

    #[test]
    fn monotonic_advances() {
        let a = monotonic_ns();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = monotonic_ns();
        assert!(b >= a + 5_000_000, "{a} {b}");
    }

    #[test]
    fn utc_of_offsets_from_reference() {
        let r = TimeRef::now();
        let later = r.utc_of(r.mono_ns + 1_500_000_000);
        assert_eq!((later - r.utc).num_milliseconds(), 1500);
        let earlier = r.utc_of(r.mono_ns - 30_000_000_000);
        assert_eq!((r.utc - earlier).num_seconds(), 30);
    }

    #[test]
    fn rfc3339_has_millis_and_z() {
        let t = DateTime::parse_from_rfc3339("2026-11-25T17:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rfc3339(t), "2026-11-25T17:00:00.123Z");
    }
}
