//! A simulated receiver: a 3D fix walking a circle of [`RADIUS_M`] around an origin
//! once every [`PERIOD`], 3 m accurate, timed by the camera's own clock.

use std::time::{Duration, Instant};

use super::{Degrees, FixQuality, LocationStatus, Locator, SOURCE_SIMULATED, Sample, quality_name};

/// Radius of the walk.
pub const RADIUS_M: f64 = 25.0;
/// Time for one round.
pub const PERIOD: Duration = Duration::from_secs(120);
/// Metres per degree of latitude (spherical Earth is close enough for a simulation).
const M_PER_DEG: f64 = 111_320.0;

/// The simulated receiver.
#[derive(Debug, Clone)]
pub struct SimLocator {
    origin: [f64; 2],
    epoch: Instant,
    last: Option<Sample>,
}

impl SimLocator {
    /// Walks around `origin` (latitude, longitude), starting at `epoch`.
    pub fn new(origin: [f64; 2], epoch: Instant) -> SimLocator {
        SimLocator {
            origin,
            epoch,
            last: None,
        }
    }

    fn at(&self, now: Instant, utc_ms: i64) -> Sample {
        let t = now.saturating_duration_since(self.epoch).as_secs_f64();
        let angle = std::f64::consts::TAU * t / PERIOD.as_secs_f64();
        let [lat0, lon0] = self.origin;
        let lat = lat0 + RADIUS_M * angle.sin() / M_PER_DEG;
        let lon = lon0 + RADIUS_M * angle.cos() / (M_PER_DEG * lat0.to_radians().cos());
        let d = Degrees {
            quality: FixQuality::Fix3d,
            fix_utc_ms: utc_ms,
            lat,
            lon,
            alt_m: Some(30.0),
            h_acc_m: Some(3.0),
            v_acc_m: Some(5.0),
        };
        Sample::from_degrees(&d, SOURCE_SIMULATED).unwrap_or(Sample::no_fix(SOURCE_SIMULATED))
    }
}

impl Locator for SimLocator {
    fn sample(&mut self, now: Instant, utc_ms: i64) -> Sample {
        let s = self.at(now, utc_ms);
        self.last = Some(s);
        s
    }

    fn status(&self, _now: Instant) -> LocationStatus {
        let s = self.last.unwrap_or(Sample::no_fix(SOURCE_SIMULATED));
        let fix = s.quality != FixQuality::NoFix;
        LocationStatus {
            source: "simulated".into(),
            connected: true,
            quality: quality_name(s.quality).into(),
            lat: fix.then(|| s.lat()),
            lon: fix.then(|| s.lon()),
            h_acc_m: fix.then(|| f64::from(s.h_acc_cm) / 100.0),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_stays_on_its_circle_and_moves() {
        let t0 = Instant::now();
        let mut loc = SimLocator::new([51.5, -0.12], t0);
        let a = loc.sample(t0, 1000);
        let b = loc.sample(t0 + Duration::from_secs(30), 31_000);
        assert_eq!(a.quality, FixQuality::Fix3d);
        assert_eq!(b.fix_utc_ms, 31_000);
        assert_ne!((a.lat_e7, a.lon_e7), (b.lat_e7, b.lon_e7));
        for s in [a, b] {
            let dy = (s.lat() - 51.5) * M_PER_DEG;
            let dx = (s.lon() + 0.12) * M_PER_DEG * 51.5f64.to_radians().cos();
            let r = (dx * dx + dy * dy).sqrt();
            assert!((r - RADIUS_M).abs() < 0.1, "{r} m from the origin");
        }
    }
}
