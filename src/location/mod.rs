//! Where the camera is: a [`Locator`] the daemon asks once a second of recording for a
//! [`Sample`] (a fix, or "no fix"), which goes into the signed evidence as a location
//! record (docs/EVIDENCE-FORMAT.md, "Location track").
//!
//! Two sources: `gpsd.rs`, a client of gpsd's JSON protocol (TCP 2947) that reconnects
//! with a back-off when gpsd goes away, and `sim.rs`, a simulated receiver for
//! developers and tests. Neither can stop a recording: without an answer the sample
//! is simply "no fix".

pub mod gpsd;
pub mod sim;

use std::time::Instant;

use serde::Serialize;

pub use crate::evidence::payload::FixQuality;

pub use crate::evidence::payload::{
    LOCATION_SOURCE_GPSD as SOURCE_GPSD, LOCATION_SOURCE_SIMULATED as SOURCE_SIMULATED,
};

/// One location sample, in the fixed-point units of the evidence record (the record's
/// own [`Fix`](crate::evidence::payload::Fix)).
pub use crate::evidence::payload::Fix as Sample;

impl Sample {
    /// "No fix" from `source`.
    pub fn no_fix(source: u8) -> Sample {
        Sample {
            quality: FixQuality::NoFix,
            fix_utc_ms: 0,
            lat_e7: 0,
            lon_e7: 0,
            alt_cm: 0,
            h_acc_cm: 0,
            v_acc_cm: 0,
            source,
        }
    }

    /// A fix from floating-point degrees and metres; `None` when a value is not a
    /// number or off the Earth.
    pub fn from_degrees(d: &Degrees, source: u8) -> Option<Sample> {
        let Degrees {
            quality,
            fix_utc_ms,
            lat,
            lon,
            alt_m,
            h_acc_m,
            v_acc_m,
        } = *d;
        // NaN and infinities fall outside the ranges too.
        if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
            return None;
        }
        let e7 = |deg: f64| (deg * 1e7).round() as i32;
        let cm = |m: f64| (m * 100.0).round();
        let acc = |m: Option<f64>| {
            m.filter(|m| m.is_finite() && *m >= 0.0)
                .map_or(0, |m| cm(m).min(f64::from(u32::MAX)) as u32)
        };
        let alt = alt_m
            .filter(|m| m.is_finite() && m.abs() < 100_000.0)
            .map_or(0, |m| cm(m) as i32);
        let three_d = quality == FixQuality::Fix3d;
        Some(Sample {
            quality,
            fix_utc_ms,
            lat_e7: e7(lat),
            lon_e7: e7(lon),
            alt_cm: if three_d { alt } else { 0 },
            h_acc_cm: acc(h_acc_m),
            v_acc_cm: if three_d { acc(v_acc_m) } else { 0 },
            source,
        })
    }

    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        f64::from(self.lat_e7) / 1e7
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        f64::from(self.lon_e7) / 1e7
    }
}

/// A fix as a receiver reports it, in degrees and metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degrees {
    /// 2D or 3D (a [`FixQuality::NoFix`] here gives a sample without position).
    pub quality: FixQuality,
    /// UTC ms of the fix.
    pub fix_utc_ms: i64,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Altitude above mean sea level.
    pub alt_m: Option<f64>,
    /// Horizontal accuracy.
    pub h_acc_m: Option<f64>,
    /// Vertical accuracy.
    pub v_acc_m: Option<f64>,
}

/// What `ctl status` shows about the location source.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default)]
pub struct LocationStatus {
    /// `gpsd` | `simulated`.
    pub source: String,
    /// The receiver answers (gpsd connected; always true for the simulated one).
    pub connected: bool,
    /// `no_fix` | `fix2d` | `fix3d`.
    pub quality: String,
    /// Latitude of the newest fix.
    pub lat: Option<f64>,
    /// Longitude of the newest fix.
    pub lon: Option<f64>,
    /// Horizontal accuracy of the newest fix, metres.
    pub h_acc_m: Option<f64>,
    /// The last error talking to the receiver.
    pub error: Option<String>,
}

/// A source of location samples.
pub trait Locator: Send {
    /// The sample for `now` (`utc_ms` is the camera's clock at `now`).
    fn sample(&mut self, now: Instant, utc_ms: i64) -> Sample;
    /// For the status.
    fn status(&self, now: Instant) -> LocationStatus;
}

/// The status name of a quality.
pub fn quality_name(q: FixQuality) -> &'static str {
    match q {
        FixQuality::NoFix => "no_fix",
        FixQuality::Fix2d => "fix2d",
        FixQuality::Fix3d => "fix3d",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_are_fixed_point_and_checked() {
        let d = Degrees {
            quality: FixQuality::Fix3d,
            fix_utc_ms: 5,
            lat: -33.8688197,
            lon: 151.2092955,
            alt_m: Some(-12.34),
            h_acc_m: Some(3.5),
            v_acc_m: Some(9.0),
        };
        let s = Sample::from_degrees(&d, SOURCE_GPSD).unwrap();
        assert_eq!((s.lat_e7, s.lon_e7), (-338_688_197, 1_512_092_955));
        assert_eq!((s.alt_cm, s.h_acc_cm, s.v_acc_cm), (-1234, 350, 900));
        assert!((s.lat() + 33.8688197).abs() < 1e-9);
        let flat = Degrees {
            quality: FixQuality::Fix2d,
            h_acc_m: None,
            ..d
        };
        let flat = Sample::from_degrees(&flat, SOURCE_GPSD);
        assert_eq!(
            flat.map(|s| (s.alt_cm, s.v_acc_cm, s.h_acc_cm)),
            Some((0, 0, 0))
        );
        for (lat, lon) in [
            (91.0, 0.0),
            (0.0, 181.0),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            let bad = Degrees { lat, lon, ..d };
            assert!(Sample::from_degrees(&bad, SOURCE_GPSD).is_none());
        }
        assert_eq!(Sample::no_fix(SOURCE_SIMULATED).quality, FixQuality::NoFix);
    }
}
