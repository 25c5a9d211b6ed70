//! A gpsd client: gpsd's JSON protocol over TCP (default 127.0.0.1:2947).
//!
//! The `gpsd` thread connects, asks for reports with `?WATCH={"enable":true,"json":true};`
//! and keeps the newest TPV (time-position-velocity) report. When gpsd goes away
//! (refused, closed, silent, or speaking nonsense) the locator reports "no fix" and
//! the thread reconnects after 1 s, doubling up to 30 s, until it is stopped. A TPV
//! older than [`FIX_MAX_AGE`] counts as no fix, so a receiver that stops reporting is
//! never taken to be standing still.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Degrees, FixQuality, LocationStatus, Locator, SOURCE_GPSD, Sample, quality_name};

/// A TPV report older than this is not a fix any more.
pub const FIX_MAX_AGE: Duration = Duration::from_millis(2500);
/// Longest line accepted from gpsd (its SKY reports are a few KiB).
pub const MAX_LINE: u64 = 64 * 1024;
/// First reconnection delay; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest reconnection delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// gpsd silent this long (no report at all) counts as gone.
pub const SILENCE: Duration = Duration::from_secs(10);
/// The request that turns on JSON reports.
pub const WATCH: &[u8] = b"?WATCH={\"enable\":true,\"json\":true};\n";

/// The fields of a TPV report this client uses (gpsd_json(5)); the rest is ignored.
#[derive(Debug, Clone, Deserialize)]
struct Tpv {
    class: String,
    #[serde(default)]
    mode: u8,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lon: Option<f64>,
    #[serde(default, rename = "altMSL")]
    alt_msl: Option<f64>,
    #[serde(default)]
    alt: Option<f64>,
    #[serde(default)]
    eph: Option<f64>,
    #[serde(default)]
    epx: Option<f64>,
    #[serde(default)]
    epy: Option<f64>,
    #[serde(default)]
    epv: Option<f64>,
}

/// What one line from gpsd says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// A TPV report: a fix or, for mode 0/1 or without a position, no fix.
    Tpv(Sample),
    /// Any other report (VERSION, DEVICES, WATCH, SKY, …).
    Other,
    /// Not a gpsd report at all.
    Garbage,
}

/// Read one line of gpsd's output.
pub fn parse_line(line: &str) -> Report {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
        return Report::Garbage;
    };
    if v.get("class").and_then(|c| c.as_str()) != Some("TPV") {
        return if v.get("class").is_some() {
            Report::Other
        } else {
            Report::Garbage
        };
    }
    let Ok(tpv) = serde_json::from_value::<Tpv>(v) else {
        return Report::Garbage;
    };
    debug_assert_eq!(tpv.class, "TPV");
    Report::Tpv(tpv_sample(&tpv))
}

fn tpv_sample(t: &Tpv) -> Sample {
    let quality = match t.mode {
        2 => FixQuality::Fix2d,
        3 => FixQuality::Fix3d,
        _ => return Sample::no_fix(SOURCE_GPSD),
    };
    let (Some(lat), Some(lon)) = (t.lat, t.lon) else {
        return Sample::no_fix(SOURCE_GPSD);
    };
    let fix_utc_ms = t
        .time
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map_or(0, |d| d.timestamp_millis());
    // eph where gpsd gives it, else the larger of the longitude and latitude errors.
    let h_acc_m = t.eph.or(match (t.epx, t.epy) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    });
    let d = Degrees {
        quality,
        fix_utc_ms,
        lat,
        lon,
        alt_m: t.alt_msl.or(t.alt),
        h_acc_m,
        v_acc_m: t.epv,
    };
    Sample::from_degrees(&d, SOURCE_GPSD).unwrap_or(Sample::no_fix(SOURCE_GPSD))
}

/// What the client thread shares with the locator.
#[derive(Debug, Default)]
struct Shared {
    /// The newest TPV and when it arrived.
    latest: Option<(Sample, Instant)>,
    /// Connected and watching.
    connected: bool,
    /// The last connection error.
    error: Option<String>,
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The gpsd locator and its client thread (stopped when dropped).
#[derive(Debug)]
pub struct GpsdLocator {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GpsdLocator {
    /// Start the `gpsd` client thread for `addr` (`host:port`). `link` is called on
    /// every change between connected and not (with the reason when not).
    pub fn start(
        addr: &str,
        link: impl Fn(bool, Option<String>) + Send + 'static,
    ) -> std::io::Result<GpsdLocator> {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let client = Client {
            addr: addr.to_string(),
            shared: shared.clone(),
            stop: stop.clone(),
            link: Box::new(link),
        };
        let thread = std::thread::Builder::new()
            .name("gpsd".into())
            .spawn(move || client.run())?;
        Ok(GpsdLocator {
            shared,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for GpsdLocator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Locator for GpsdLocator {
    fn sample(&mut self, now: Instant, _utc_ms: i64) -> Sample {
        self.current(now)
    }

    fn status(&self, now: Instant) -> LocationStatus {
        let sample = self.current(now);
        let s = lock(&self.shared);
        let fix = sample.quality != FixQuality::NoFix;
        LocationStatus {
            source: "gpsd".into(),
            connected: s.connected,
            quality: quality_name(sample.quality).into(),
            lat: fix.then(|| sample.lat()),
            lon: fix.then(|| sample.lon()),
            h_acc_m: (fix && sample.h_acc_cm > 0).then(|| f64::from(sample.h_acc_cm) / 100.0),
            error: s.error.clone(),
        }
    }
}

impl GpsdLocator {
    /// The newest TPV while connected and fresh, else no fix.
    fn current(&self, now: Instant) -> Sample {
        let s = lock(&self.shared);
        match s.latest {
            Some((sample, at))
                if s.connected && now.saturating_duration_since(at) <= FIX_MAX_AGE =>
            {
                sample
            }
            Some(_) | None => Sample::no_fix(SOURCE_GPSD),
        }
    }
}

/// The client thread's state.
struct Client {
    addr: String,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    link: Box<dyn Fn(bool, Option<String>) + Send>,
}

impl Client {
    fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        let mut reported: Option<bool> = None;
        while !self.stop.load(Ordering::SeqCst) {
            let err = match self.session(&mut reported) {
                // It ran, then ended: start over quickly.
                Ok(()) => {
                    backoff = FIRST_BACKOFF;
                    "gpsd closed the connection".to_string()
                }
                Err(e) => e,
            };
            {
                let mut s = lock(&self.shared);
                s.connected = false;
                s.error = Some(err.clone());
            }
            if reported != Some(false) {
                reported = Some(false);
                tracing::warn!(addr = %self.addr, error = %err, "gpsd unavailable; recording \"no fix\"");
                (self.link)(false, Some(err));
            }
            self.sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Sleep `d`, waking early when stopped.
    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stop.load(Ordering::SeqCst) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn connect(&self) -> Result<TcpStream, String> {
        let addrs: Vec<SocketAddr> = self
            .addr
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.addr))?
            .collect();
        let mut last = format!("no address for {}", self.addr);
        for a in addrs {
            match TcpStream::connect_timeout(&a, Duration::from_secs(2)) {
                Ok(s) => return Ok(s),
                Err(e) => last = format!("cannot connect to gpsd at {a}: {e}"),
            }
        }
        Err(last)
    }

    /// One connection: watch, then read reports until gpsd goes or the thread stops.
    fn session(&self, reported: &mut Option<bool>) -> Result<(), String> {
        let mut stream = self.connect()?;
        let io = |e: std::io::Error| format!("gpsd at {}: {e}", self.addr);
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .map_err(io)?;
        stream.write_all(WATCH).map_err(io)?;
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        let mut last_report = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            let room = MAX_LINE.saturating_sub(line.len() as u64);
            match (&mut reader).take(room).read_until(b'\n', &mut line) {
                Ok(0) if line.is_empty() => return Ok(()),
                Ok(_) if !line.ends_with(b"\n") && line.len() as u64 >= MAX_LINE => {
                    return Err(format!("gpsd sent a line over {MAX_LINE} bytes"));
                }
                Ok(_) if !line.ends_with(b"\n") => return Ok(()),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if last_report.elapsed() > SILENCE {
                        return Err(format!("gpsd silent for {} s", SILENCE.as_secs()));
                    }
                    continue;
                }
                Err(e) => return Err(io(e)),
            }
            last_report = Instant::now();
            let text = String::from_utf8_lossy(&line).into_owned();
            line.clear();
            match parse_line(&text) {
                Report::Tpv(sample) => {
                    let mut s = lock(&self.shared);
                    s.latest = Some((sample, Instant::now()));
                }
                Report::Other => {}
                Report::Garbage => return Err("gpsd sent something that is not JSON".into()),
            }
            let first = {
                let mut s = lock(&self.shared);
                let first = !s.connected;
                s.connected = true;
                s.error = None;
                first
            };
            if first && *reported != Some(true) {
                *reported = Some(true);
                tracing::info!(addr = %self.addr, "gpsd connected");
                (self.link)(true, None);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpv_reports_become_samples() {
        let line = r#"{"class":"TPV","device":"/dev/pts/1","mode":3,"time":"2026-11-25T17:53:28.000Z","ept":0.005,"lat":51.500700000,"lon":-0.124600000,"altHAE":60.1,"altMSL":12.5,"alt":12.5,"epx":3.1,"epy":4.2,"epv":7.5,"track":0.0,"speed":0.0}"#;
        let Report::Tpv(s) = parse_line(line) else {
            panic!("not a TPV");
        };
        assert_eq!(s.quality, FixQuality::Fix3d);
        assert_eq!((s.lat_e7, s.lon_e7), (515_007_000, -1_246_000));
        assert_eq!((s.alt_cm, s.h_acc_cm, s.v_acc_cm), (1250, 420, 750));
        assert_eq!(s.fix_utc_ms, 1_795_629_208_000);
        // eph wins over epx/epy where gpsd gives it.
        let eph = r#"{"class":"TPV","mode":2,"lat":1.0,"lon":2.0,"eph":9.9,"epx":1.0,"epy":1.0}"#;
        assert!(
            matches!(parse_line(eph), Report::Tpv(s) if s.h_acc_cm == 990 && s.quality == FixQuality::Fix2d)
        );
    }

    #[test]
    fn no_fix_other_reports_and_garbage_are_told_apart() {
        for line in [
            r#"{"class":"TPV","mode":1}"#,
            r#"{"class":"TPV","mode":0,"lat":1.0,"lon":1.0}"#,
            r#"{"class":"TPV","mode":3}"#,
            r#"{"class":"TPV","mode":3,"lat":95.0,"lon":1.0}"#,
        ] {
            assert_eq!(
                parse_line(line),
                Report::Tpv(Sample::no_fix(SOURCE_GPSD)),
                "{line}"
            );
        }
        for line in [
            r#"{"class":"VERSION","release":"3.22"}"#,
            r#"{"class":"SKY"}"#,
        ] {
            assert_eq!(parse_line(line), Report::Other, "{line}");
        }
        for line in [
            "",
            "hello",
            "[1,2]",
            r#"{"mode":3}"#,
            r#"{"class":"TPV","mode":"x"}"#,
        ] {
            assert_eq!(parse_line(line), Report::Garbage, "{line}");
        }
    }

    /// A real TCP peer that speaks like gpsd, then goes away: the locator loses the fix
    /// and comes back by itself.
    #[test]
    fn the_client_reconnects_after_gpsd_goes_away() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut loc = GpsdLocator::start(&addr, move |up, _| {
            let _ = tx.send(up);
        })
        .unwrap();
        let serve = |listener: &TcpListener| {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 64];
            let n = s.read(&mut req).unwrap();
            assert!(req[..n].starts_with(b"?WATCH="), "{:?}", &req[..n]);
            s.write_all(b"{\"class\":\"VERSION\",\"release\":\"test\"}\r\n")
                .unwrap();
            s.write_all(
                b"{\"class\":\"TPV\",\"mode\":2,\"lat\":10.0,\"lon\":20.0,\"eph\":5.0}\r\n",
            )
            .unwrap();
            s
        };
        let first = serve(&listener);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(loc.sample(Instant::now(), 0).lat_e7, 100_000_000);
        drop(first);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
        assert_eq!(loc.sample(Instant::now(), 0).quality, FixQuality::NoFix);
        let _second = serve(&listener);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(loc.sample(Instant::now(), 0).quality, FixQuality::Fix2d);
        // A fix goes stale when reports stop.
        let later = Instant::now() + FIX_MAX_AGE + Duration::from_millis(10);
        assert_eq!(loc.sample(later, 0).quality, FixQuality::NoFix);
    }
}
