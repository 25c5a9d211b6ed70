//! Location from Debian's real gpsd, fed by gpsfake with an NMEA log the test writes:
//! the track is in the signed evidence and verifies; when gpsd vanishes the recording
//! goes on with "no fix", and the client reconnects by itself.

use std::process::Command;
use std::time::Duration;

use bodycam::evidence::events::AuditEvent;
use serde_json::Value;

#[cfg(feature = "examiner")]
use crate::common::gpsfake::log_position;
use crate::common::gpsfake::{GpsFake, ORIGIN};
use crate::common::*;

#[test]
fn the_gpsd_track_is_signed_no_fix_is_recorded_and_the_client_reconnects() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut gps = GpsFake::start(work.path(), port);
    let d = Daemon::start(&format!(
        "[location]\nsource = \"gpsd\"\ngpsd = \"127.0.0.1:{port}\"\n"
    ));
    d.wait_state("ready", Duration::from_secs(20));
    let s = d.wait_for("a 3D fix", Duration::from_secs(20), |s| {
        s["location"]["quality"] == "fix3d"
    });
    assert_eq!(s["location"]["source"], "gpsd");
    d.ctl_ok(&["record", "start"]);
    d.wait_for("4 s recorded", Duration::from_secs(20), |s| {
        s["seconds_recorded"].as_f64() > Some(4.0)
    });
    // gpsd goes away: the recording goes on, with "no fix".
    gps.stop();
    d.wait_for("gpsd gone", Duration::from_secs(20), |s| {
        s["location"]["connected"] == false
    });
    wait_secs(3.0);
    assert_eq!(d.status().unwrap()["state"], "recording");
    // It comes back; the client reconnects with its back-off (1, 2, 4 … s).
    gps.restart();
    d.wait_for("gpsd back", Duration::from_secs(30), |s| {
        s["location"]["connected"] == true && s["location"]["quality"] == "fix3d"
    });
    wait_secs(3.0);
    d.ctl_ok(&["record", "stop"]);
    let s = d.wait_state("ready", Duration::from_secs(10));
    let seconds = d.recordings().len();
    assert_eq!(seconds, 1);

    let events = audit_events(&d.audit_log());
    let links: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            AuditEvent::LocationLink { connected, .. } => Some(*connected),
            _ => None,
        })
        .collect();
    assert_eq!(links, vec![true, false, true], "{}", d.log_text());

    let (code, report, text) = d.verify_json();
    assert_eq!(code, Some(0), "{text}");
    let track: Vec<Value> = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|seg| seg["track"].as_array().cloned().unwrap_or_default())
        .collect();
    // About one sample per second of recording.
    let recorded = s["segments_written"].as_u64().unwrap();
    assert!(recorded >= 5, "{recorded} segments");
    let total: f64 = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|seg| seg["duration_seconds"].as_f64())
        .sum();
    let n = track.len() as f64;
    assert!((n - total).abs() <= 3.0, "{n} samples in {total:.1} s");
    // In order; fixes from gpsd near the log's track, with accuracy and GNSS time.
    let times: Vec<f64> = track
        .iter()
        .map(|p| p["seconds"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let fixes: Vec<&Value> = track.iter().filter(|p| p["quality"] == "fix3d").collect();
    let none: Vec<&Value> = track.iter().filter(|p| p["quality"] == "no_fix").collect();
    assert!(fixes.len() >= 6, "{track:?}");
    assert!(
        none.len() >= 2,
        "the outage is recorded as no fix: {track:?}"
    );
    for p in &fixes {
        assert_eq!(p["source"], "gpsd");
        let (lat, lon) = (p["lat"].as_f64().unwrap(), p["lon"].as_f64().unwrap());
        assert!(
            (lat - ORIGIN.0).abs() < 0.02 && (lon - ORIGIN.1).abs() < 1e-5,
            "{p}"
        );
        assert!(p["h_acc_m"].as_f64().unwrap() > 0.0, "{p}");
        assert!(
            p["fix_utc"].as_str().unwrap().starts_with("2026-11-25T17:"),
            "{p}"
        );
    }
    for p in &none {
        assert!(p["lat"].is_null() && p["source"] == "gpsd", "{p}");
    }
    // The first no fix comes after a fix, and a fix after the last no fix.
    let first_none = track.iter().position(|p| p["quality"] == "no_fix").unwrap();
    let last_none = track
        .iter()
        .rposition(|p| p["quality"] == "no_fix")
        .unwrap();
    assert!(first_none > 0 && last_none + 1 < track.len());
    let text = Command::new(BIN)
        .args(["verify", "--trust-store-key"])
        .arg(&d.data)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("without a fix"));

    // The examiner's export: GPX of the verified fixes, the outage splitting the track.
    let gpx = d.dir.path().join("track.gpx");
    let out = Command::new(BIN)
        .args(["verify", "--trust-store-key"])
        .arg(&d.data)
        .arg("--gpx")
        .arg(&gpx)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let g = std::fs::read_to_string(&gpx).unwrap();
    assert!(
        g.starts_with("<?xml") && g.trim_end().ends_with("</gpx>"),
        "{g}"
    );
    assert_eq!(g.matches("<trkpt ").count(), fixes.len(), "{g}");
    assert!(
        g.matches("<trkseg>").count() >= 2,
        "the outage splits the track: {g}"
    );
    assert!(
        g.contains("<time>2026-11-25T17:") && g.contains("<fix>3d</fix>"),
        "{g}"
    );
}

/// With `encryption = "required"` the gpsd track is sealed (EVIDENCE-FORMAT §10.1.1):
/// no coordinate is on flash in the clear, anyone verifies the store and learns how
/// many samples there are, and the examiner's export opens them into the report and a
/// GPX file, each one a position of the log gpsd was fed.
#[cfg(feature = "examiner")]
#[test]
fn an_encrypted_recording_seals_its_gpsd_track_and_only_the_examiner_reads_it() {
    use crate::common::evidence::records_of_kind;
    use crate::common::footage::{all_files, contains_any, footage_key};
    use bodycam::evidence::payload::{Fix, FixQuality, LOCATION_SOURCE_GPSD, fix_bytes};

    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let _gps = GpsFake::start(work.path(), port);
    let (key, public) = footage_key(work.path(), "agency");
    let d = Daemon::start(&format!(
        "[evidence]\nencryption = \"required\"\nrecipients = [\"{}\"]\n\
         [location]\nsource = \"gpsd\"\ngpsd = \"127.0.0.1:{port}\"\n",
        public.display()
    ));
    d.wait_state("ready", Duration::from_secs(20));
    d.wait_for("a 3D fix", Duration::from_secs(20), |s| {
        s["location"]["quality"] == "fix3d"
    });
    d.ctl_ok(&["record", "start"]);
    d.wait_for("6 s recorded", Duration::from_secs(30), |s| {
        s["seconds_recorded"].as_f64() > Some(6.0)
    });
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));

    // Anyone verifies it without a secret: it passes, and counts the sealed samples.
    let (code, report, text) = d.verify_json();
    assert_eq!(code, Some(0), "{text}");
    let segs = report["segments"].as_array().unwrap();
    let sealed: u64 = segs
        .iter()
        .map(|s| s["sealed_locations"].as_u64().unwrap_or(0))
        .sum();
    assert!(sealed >= 5, "{report:#}");
    assert!(
        segs.iter().all(|s| s["track"].is_null()),
        "no track without the key"
    );
    for s in segs {
        assert!(s["encryption"].is_object(), "{s:#}");
    }

    // The examiner's export opens every sample.
    let exp = work.path().join("export");
    let o = Command::new(BIN)
        .arg("export")
        .arg("--key")
        .arg(&key)
        .arg(&d.data)
        .arg("--out")
        .arg(&exp)
        .arg("--trust-store-key")
        .output()
        .unwrap();
    let r: Value =
        serde_json::from_slice(&std::fs::read(exp.join("report.json")).unwrap()).unwrap();
    assert!(o.status.success(), "{r:#}");
    let rec = &r["recordings"][0];
    let track: Vec<Value> = rec["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["track"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(track.len() as u64, sealed, "{rec:#}");
    let times: Vec<f64> = track
        .iter()
        .map(|p| p["seconds"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    // Every fix is one of the log's positions (to the record's 1e-7 degrees), in order.
    let positions: Vec<(f64, f64)> = (0..600).map(log_position).collect();
    let mut last = 0;
    let mut exact = Vec::new();
    for p in track.iter().filter(|p| p["quality"] != "no_fix") {
        assert_eq!(p["quality"], "fix3d", "{p}");
        assert_eq!(p["source"], "gpsd", "{p}");
        let (lat, lon) = (p["lat"].as_f64().unwrap(), p["lon"].as_f64().unwrap());
        let i = positions
            .iter()
            .position(|(a, b)| (a - lat).abs() < 1.5e-7 && (b - lon).abs() < 1.5e-7)
            .unwrap_or_else(|| panic!("{p} is no position of the log"));
        assert!(i >= last, "{p} goes back along the log");
        last = i;
        assert!(
            p["fix_utc"].as_str().unwrap().starts_with("2026-11-25T17:"),
            "{p}"
        );
        let e7 = |v: f64| (v * 1e7).round() as i32;
        let cm = |v: &Value| v.as_f64().map_or(0, |m| (m * 100.0).round() as i32);
        exact.push(Fix {
            quality: FixQuality::Fix3d,
            fix_utc_ms: chrono::DateTime::parse_from_rfc3339(p["fix_utc"].as_str().unwrap())
                .unwrap()
                .timestamp_millis(),
            lat_e7: e7(lat),
            lon_e7: e7(lon),
            alt_cm: cm(&p["alt_m"]),
            h_acc_cm: cm(&p["h_acc_m"]).cast_unsigned(),
            v_acc_cm: 0,
            source: LOCATION_SOURCE_GPSD,
        });
    }
    assert!(exact.len() >= 5, "{track:?}");
    let gpx = std::fs::read_to_string(exp.join(rec["gpx"].as_str().unwrap())).unwrap();
    assert_eq!(gpx.matches("<trkpt ").count(), exact.len(), "{gpx}");

    // No coordinate the camera had is on its flash in the clear: not the latitude and
    // longitude as a location record encodes them, nor as text (decimal degrees or the
    // NMEA minutes), and the journals hold sealed location records only.
    let mut needles: Vec<Vec<u8>> = vec![
        b"51.50".to_vec(),
        b"5130.0".to_vec(),
        b"-0.1246".to_vec(),
        b"00007.476".to_vec(),
    ];
    for f in &exact {
        needles.push(fix_bytes(f)[9..17].to_vec());
    }
    let files = all_files(&d.data);
    let mut journals = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(contains_any(&bytes, &needles), None, "{}", f.display());
        if f.extension().is_some_and(|e| e == "journal") {
            journals += 1;
            assert!(records_of_kind(&bytes, 5).is_empty(), "{}", f.display());
        }
    }
    assert!(journals >= 3, "{files:?}");
}
