//! Debian's real gpsd, fed by gpsfake's machinery (`gps.fake` of python3-gps, which is
//! what the `gpsfake` program wraps) with an NMEA log the test writes: a fake serial
//! device (a pty) plays the log in a loop, one fix every half second, to a gpsd of its
//! own on a loopback port.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The origin of the log's track (latitude, longitude).
pub const ORIGIN: (f64, f64) = (51.500700, -0.124600);

/// The driver: a gps.fake session with gpsd on `port`, looping the log.
const DRIVER: &str = r#"
import sys, gps.fake
session = gps.fake.TestSession(port=int(sys.argv[1]), options="-n")
session.spawn()
session.gps_add(sys.argv[2], pred=lambda index, device: True)
session.run()
"#;

fn nmea(body: &str) -> String {
    let sum = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{sum:02X}\r\n")
}

/// Degrees as NMEA `ddmm.mmmm` (or `dddmm.mmmm`) and the hemisphere letter.
fn nmea_angle(deg: f64, width: usize, pos: char, neg: char) -> (String, char) {
    let a = deg.abs();
    let d = a.trunc();
    let m = (a - d) * 60.0;
    (
        format!("{:0width$}{:07.4}", d as u32, m),
        if deg < 0.0 { neg } else { pos },
    )
}

/// The latitude of the log's `i`-th fix before it is written as NMEA.
fn log_lat(i: usize) -> f64 {
    ORIGIN.0 + i as f64 * 0.0000166
}

/// The position of the log's `i`-th fix as its NMEA text says (degrees, rounded to the
/// log's 0.0001 minutes): what gpsd can report for it.
#[cfg(feature = "examiner")]
pub fn log_position(i: usize) -> (f64, f64) {
    let back = |deg: f64, width: usize| {
        let (text, _) = nmea_angle(deg, width, '+', '-');
        let d: f64 = text[..width].parse().unwrap();
        let m: f64 = text[width..].parse().unwrap();
        (d + m / 60.0).copysign(deg)
    };
    (back(log_lat(i), 2), back(ORIGIN.1, 3))
}

/// A log of `n` fixes, one every half second, moving north by about 1.85 m each.
pub fn write_log(path: &Path, n: usize) {
    let mut text = String::from("# Delay-Cookie: @ 0.5\n");
    for i in 0..n {
        let lat = log_lat(i);
        let (la, ns) = nmea_angle(lat, 2, 'N', 'S');
        let (lo, ew) = nmea_angle(ORIGIN.1, 3, 'E', 'W');
        let t = format!("17{:02}{:02}.00", (i / 60) % 60, i % 60);
        text.push_str(&nmea(&format!(
            "GPGGA,{t},{la},{ns},{lo},{ew},1,08,0.9,12.5,M,47.0,M,,"
        )));
        text.push_str(&nmea(&format!(
            "GPRMC,{t},A,{la},{ns},{lo},{ew},0.5,0.0,251126,,,A"
        )));
        text.push('@');
    }
    std::fs::write(path, text).expect("write NMEA log");
}

/// A running gpsd + fake receiver; stopped (the whole process group) when dropped.
pub struct GpsFake {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl GpsFake {
    /// Start on `port` playing a log written into `dir`.
    pub fn start(dir: &Path, port: u16) -> GpsFake {
        for (what, probe) in [
            ("gpsd", "/usr/sbin/gpsd"),
            ("python3-gps", "/usr/lib/python3/dist-packages/gps/fake.py"),
        ] {
            assert!(
                Path::new(probe).exists(),
                "{what} is missing: install gpsd and python3-gps (scripts/setup.sh does)"
            );
        }
        let log = dir.join("track.nmea");
        if !log.exists() {
            write_log(&log, 600);
        }
        let driver = dir.join("gpsfake.py");
        std::fs::write(&driver, DRIVER).unwrap();
        let child = Command::new("/usr/bin/python3")
            .arg(&driver)
            .arg(port.to_string())
            .arg(&log)
            .env("TMPDIR", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start gpsfake");
        let g = GpsFake {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
        };
        let start = Instant::now();
        while !super::listening(port) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "gpsd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        g
    }

    /// Stop gpsd and the fake receiver (SIGTERM to the process group: gps.fake kills
    /// its gpsd on the way out).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pgid = c.id() as i32;
            // SAFETY: kill(2) on the process group this test started.
            unsafe {
                libc::kill(-pgid, libc::SIGTERM);
            }
            let _ = c.wait();
            let start = Instant::now();
            while super::listening(self.port) && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if super::listening(self.port) {
                // SAFETY: as above: our gpsd outlived its driver; end it.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
        }
    }

    /// Start again on the same port and log.
    pub fn restart(&mut self) {
        self.stop();
        *self = GpsFake::start(&self.dir.clone(), self.port);
    }
}

impl Drop for GpsFake {
    fn drop(&mut self) {
        self.stop();
    }
}
