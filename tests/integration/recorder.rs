//! The recorder end to end: the real daemon with the simulated camera and controls,
//! real GStreamer, real files, checked by decoding them with ffmpeg/ffprobe.

use std::time::Duration;

use crate::common::*;
use serde_json::Value;

/// 15 fps video on the MPEG-TS 90 kHz clock.
const FRAME_90K: i64 = 6000;
/// AAC frame at 48 kHz: 1024 samples.
const AAC_90K: i64 = 1920;

fn assert_continuous(name: &str, pts: &[i64], step: i64) {
    for w in pts.windows(2) {
        let d = w[1] - w[0];
        assert!(
            (step - 1..=step + 1).contains(&d),
            "{name}: PTS jump {} -> {} (delta {d}, expected {step})",
            w[0],
            w[1]
        );
    }
}

#[test]
fn records_across_segment_boundaries_with_no_lost_or_duplicated_frames() {
    let d = Daemon::start("");
    d.wait_state("ready", Duration::from_secs(20));
    d.ctl_ok(&["button", "double"]);
    d.wait_state("recording", Duration::from_secs(5));
    // Three boundaries need more than three 2 s segments.
    d.wait_for("four segments", Duration::from_secs(30), |s| {
        s["segments_written"].as_u64() >= Some(3) && s["seconds_recorded"].as_f64() > Some(7.5)
    });
    d.ctl_ok(&["button", "press"]);
    wait_secs(0.6);
    d.ctl_ok(&["button", "hold"]);
    let s = d.wait_state("ready", Duration::from_secs(10));
    assert!(s["recording_id"].is_null());

    let recs = d.recordings();
    assert_eq!(recs.len(), 1, "one recording");
    let segs = segments(&recs[0]);
    assert!(
        segs.len() >= 4,
        "need ≥ 3 boundaries, got {} segments",
        segs.len()
    );

    let mut all_video = Vec::new();
    let mut all_audio = Vec::new();
    let mut markers = 0;
    for (i, seg) in segs.iter().enumerate() {
        let meta = sidecar(seg).unwrap_or_else(|| panic!("no sidecar for {}", seg.display()));
        assert_eq!(meta["sequence"], i as u64 + 1);
        let errors = decode_errors(seg);
        assert!(
            errors.is_empty(),
            "{} does not decode cleanly: {errors}",
            seg.display()
        );
        let (v, a) = decoded_frames(seg);
        assert_eq!(Some(v), meta["video_frames"].as_u64(), "{}", seg.display());
        assert_eq!(Some(a), meta["audio_frames"].as_u64(), "{}", seg.display());
        let video = packets(seg, "v");
        assert!(
            video[0].1,
            "{} does not start with a keyframe",
            seg.display()
        );
        let audio = packets(seg, "a");
        if i + 1 < segs.len() {
            // A full segment: 2 s of 15 fps video, ~94 AAC frames (the first segment's
            // audio begins at the start gesture: without pre_event_audio, the up to one
            // GOP of video before it is silent).
            assert_eq!(meta["end_reason"], "rollover");
            assert_eq!(v, 30, "{}", seg.display());
            let expected = if i == 0 { 40..=98 } else { 90..=98 };
            assert!(expected.contains(&a), "{}: {a} audio frames", seg.display());
        } else {
            assert_eq!(meta["end_reason"], "stopped");
        }
        markers += meta["markers"].as_array().map_or(0, Vec::len);
        all_video.extend(video.into_iter().map(|p| p.0));
        all_audio.extend(audio.into_iter().map(|p| p.0));
    }
    assert_eq!(markers, 1, "the single press adds exactly one marker");
    // Across every boundary: no gap, no duplicate, for video and audio.
    assert_continuous("video", &all_video, FRAME_90K);
    assert_continuous("audio", &all_audio, AAC_90K);
}

fn first_segment_pre_event(extra: &str) -> (Value, Vec<i64>, Vec<i64>, Value) {
    let d = Daemon::start(extra);
    d.wait_state("ready", Duration::from_secs(20));
    d.wait_for("pre-event buffer full", Duration::from_secs(20), |s| {
        s["pre_event_buffered_seconds"].as_f64() >= Some(3.0)
    });
    d.ctl_ok(&["button", "double"]);
    d.wait_state("recording", Duration::from_secs(5));
    wait_secs(1.5);
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    let rec = d.recordings().remove(0);
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("recording.json")).unwrap())
            .unwrap();
    let seg = segments(&rec).remove(0);
    (
        sidecar(&seg).expect("sidecar"),
        packets(&seg, "v").into_iter().map(|p| p.0).collect(),
        packets(&seg, "a").into_iter().map(|p| p.0).collect(),
        info,
    )
}

fn utc(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("utc string"))
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

#[test]
fn pre_event_footage_starts_before_the_start_gesture() {
    let (meta, video, audio, info) =
        first_segment_pre_event("[recording]\npre_event_seconds = 3\nsegment_seconds = 60\n");
    let pre = meta["pre_event_seconds"].as_f64().unwrap();
    // 3 s window, keyframe aligned (one keyframe a second), plus the gesture's own delay.
    assert!((3.0..4.6).contains(&pre), "pre-event {pre} s");
    let started = utc(&info["started_utc"]);
    let first_frame = utc(&meta["utc_start"]);
    let lead = (started - first_frame).num_milliseconds() as f64 / 1000.0;
    assert!(
        (lead - pre).abs() < 0.05,
        "footage starts {lead} s before the start, sidecar says {pre}"
    );
    // Video covers the pre-event part; its sound was not buffered (pre_event_audio =
    // false), so the audio stream starts with the video as declared silence (issue 10)
    // and captured sound only begins at the start gesture.
    let audio_lag = (audio[0] - video[0]) as f64 / 90_000.0;
    assert!(
        (0.0..0.1).contains(&audio_lag),
        "audio starts {audio_lag} s after video, expected with it"
    );
    let silence = &meta["audio_silence"][0];
    assert_eq!(silence["first_pts_90k"].as_i64(), Some(audio[0]), "{meta}");
    let sound_from = (silence["end_pts_90k"].as_i64().unwrap() - video[0]) as f64 / 90_000.0;
    assert!(
        (pre - 0.5..pre + 0.5).contains(&sound_from),
        "captured sound starts {sound_from} s after video, expected ≈ {pre}"
    );
    assert_eq!(meta["pre_event_audio"], false);
    assert!(info["pre_event_seconds"].as_f64().unwrap() > 2.9);
}

#[test]
fn pre_event_audio_is_buffered_when_configured() {
    let (meta, video, audio, _) = first_segment_pre_event(
        "[recording]\npre_event_seconds = 3\nsegment_seconds = 60\npre_event_audio = true\n",
    );
    let audio_lag = (audio[0] - video[0]) as f64 / 90_000.0;
    assert!(
        audio_lag.abs() < 0.2,
        "audio starts {audio_lag} s after video"
    );
    assert_eq!(meta["pre_event_audio"], true);
}

#[test]
fn sigkill_while_recording_keeps_footage_and_restart_recovers() {
    let mut d = Daemon::start("[recording]\nsegment_seconds = 3\n");
    d.wait_state("ready", Duration::from_secs(20));
    d.ctl_ok(&["record", "start"]);
    d.wait_for("4 s recorded", Duration::from_secs(20), |s| {
        s["seconds_recorded"].as_f64() > Some(4.0)
    });
    wait_secs(0.4);
    let killed_at = chrono::Utc::now();
    d.signal(libc::SIGKILL);

    let rec = d.recordings().remove(0);
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("recording.json")).unwrap())
            .unwrap();
    let segs = segments(&rec);
    assert!(segs.len() >= 2);
    let last = segs.last().unwrap();
    assert!(
        sidecar(last).is_none(),
        "the open segment has no sidecar yet"
    );
    let mut last_pts = 0;
    for seg in &segs {
        let errors = decode_errors(seg);
        assert!(
            errors.is_empty(),
            "{} does not decode: {errors}",
            seg.display()
        );
        let (v, _) = decoded_frames(seg);
        assert!(v > 0, "{} holds no video", seg.display());
        last_pts = packets(seg, "v").last().unwrap().0;
    }
    // Wall time of the newest frame on flash: the recording's first frame sits at PTS 2 s.
    let first_frame = utc(&info["started_utc"])
        - chrono::Duration::milliseconds(
            (info["pre_event_seconds"].as_f64().unwrap() * 1000.0) as i64,
        );
    let newest = first_frame
        + chrono::Duration::milliseconds((last_pts - 180_000 + FRAME_90K) * 1000 / 90_000);
    let lost = (killed_at - newest).num_milliseconds();
    assert!(lost < 1300, "footage ends {lost} ms before the kill");

    // Restart: recovery closes the open segment without touching its bytes.
    let before = std::fs::read(last).unwrap();
    d.spawn();
    let s = d.wait_state("ready", Duration::from_secs(20));
    assert_eq!(s["recovered_segments"], 1);
    assert_eq!(
        std::fs::read(last).unwrap(),
        before,
        "recovery must not alter media"
    );
    let meta = sidecar(last).expect("recovery wrote a sidecar");
    assert_eq!(meta["end_reason"], "recovered");
    assert_eq!(meta["utc_estimated"], true);
    assert_eq!(meta["bytes"].as_u64(), Some(before.len() as u64));
    assert_eq!(Some(decoded_frames(last).0), meta["video_frames"].as_u64());

    // And it records again.
    d.ctl_ok(&["record", "start"]);
    d.wait_for("recording again", Duration::from_secs(10), |s| {
        s["state"] == "recording" && s["seconds_recorded"].as_f64() > Some(1.0)
    });
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    assert_eq!(d.recordings().len(), 2);
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
}

#[test]
fn quota_reached_stops_cleanly_in_storage_full_and_deletes_nothing() {
    let mut d = Daemon::new(
        "[camera]\npattern = \"snow\"\nbitrate_kbps = 2000\n[storage]\nmax_bytes = 1500000\nreserve_hours = 1\n",
    );
    // An older recording that must survive untouched (and counts against the quota).
    let old = d.data.join("recordings/20200101T000000Z");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("000001.ts"), vec![0x47u8; 188 * 100]).unwrap();
    std::fs::write(old.join("000001.json"), b"{}").unwrap();
    d.spawn();
    d.wait_state("ready", Duration::from_secs(20));
    let s = d.status().unwrap();
    assert_eq!(s["storage_low"], true, "1.5 MB is far below 1 h");
    assert_eq!(
        s["leds"]["amber"], "blink_slow",
        "storage low shows on amber"
    );

    d.ctl_ok(&["record", "start"]);
    let s = d.wait_state("storage-full", Duration::from_secs(60));
    assert_eq!(s["leds"]["amber"], "on");
    assert_eq!(s["leds"]["red"], "off");
    assert!(s["recording_id"].is_null());

    // A start is refused while full, and says so.
    let out = d.ctl(&["record", "start"]);
    assert_eq!(out.status.code(), Some(1), "a refused start exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("storage full"), "{stderr}");
    assert_eq!(d.status().unwrap()["state"], "storage-full");

    let total = bodycam::store::dir_size(&d.data.join("recordings")).unwrap();
    assert!(total <= 1_500_000, "quota exceeded: {total} bytes");
    assert_eq!(
        std::fs::read(old.join("000001.ts")).unwrap(),
        vec![0x47u8; 188 * 100]
    );
    let rec = d
        .recordings()
        .into_iter()
        .find(|r| r != &old)
        .expect("new recording");
    let segs = segments(&rec);
    for (i, seg) in segs.iter().enumerate() {
        let meta = sidecar(seg).expect("every segment finalised");
        assert_eq!(meta["sequence"], i as u64 + 1, "no segment deleted");
        let errors = decode_errors(seg);
        assert!(errors.is_empty(), "{}: {errors}", seg.display());
    }
    assert_eq!(
        sidecar(segs.last().unwrap()).unwrap()["end_reason"],
        "storage_full"
    );
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));
    let events = audit_names(&d.audit_log());
    for e in ["storage_low", "storage_full"] {
        assert!(
            events.iter().any(|x| x == e),
            "no {e} in the audit log: {events:?}"
        );
    }
}

#[test]
fn sensor_failure_faults_restarts_and_resumes_in_a_new_segment() {
    let d = Daemon::start(
        "[camera]\nsimulate_failure_after_seconds = 3\n[recording]\nsegment_seconds = 60\n",
    );
    d.wait_state("ready", Duration::from_secs(20));
    d.ctl_ok(&["record", "start"]);
    let fault = d.wait_for("fault", Duration::from_secs(20), |s| s["state"] == "fault");
    assert_eq!(fault["leds"]["amber"], "blink_fast", "fault shows on amber");
    assert!(
        fault["last_fault"]
            .as_str()
            .unwrap_or("")
            .contains("simulated sensor failure"),
        "{fault}"
    );
    let resumed = d.wait_for("recording resumed", Duration::from_secs(20), |s| {
        s["state"] == "recording" && s["pipeline_restarts"] == 1
    });
    let id = resumed["recording_id"].as_str().unwrap().to_string();
    wait_secs(2.5);
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));

    let recs = d.recordings();
    assert_eq!(recs.len(), 1, "the recording continues after the fault");
    assert!(recs[0].ends_with(&id));
    let segs = segments(&recs[0]);
    assert_eq!(segs.len(), 2, "one segment before, one after the fault");
    let before = sidecar(&segs[0]).unwrap();
    let after = sidecar(&segs[1]).unwrap();
    assert_eq!(before["end_reason"], "fault");
    assert_eq!(after["end_reason"], "stopped");
    // Footage up to the failure is kept (~3 s from pipeline start, minus the time to start).
    assert!(
        before["duration_seconds"].as_f64().unwrap() > 1.0,
        "{before}"
    );
    assert!(after["duration_seconds"].as_f64().unwrap() > 1.5, "{after}");
    for seg in &segs {
        let errors = decode_errors(seg);
        assert!(errors.is_empty(), "{}: {errors}", seg.display());
    }
}

#[test]
fn status_leds_follow_state_and_stealth() {
    let mut d = Daemon::start("");
    let s = d.wait_state("ready", Duration::from_secs(20));
    for key in [
        "state",
        "leds",
        "hours_left",
        "recording_id",
        "seconds_recorded",
        "segments_written",
    ] {
        assert!(s.get(key).is_some(), "status lacks {key}: {s}");
    }
    assert_eq!(s["leds"]["green"], "on");
    assert_eq!(s["camera"]["source"], "simulated");
    assert_eq!(s["camera"]["encoder"], "x264enc");
    d.ctl_ok(&["button", "double"]);
    let s = d.wait_state("recording", Duration::from_secs(5));
    assert_eq!(s["leds"]["red"], "on");
    assert_eq!(s["leds"]["green"], "off");
    d.ctl_ok(&["button", "triple"]);
    let s = d.wait_for("stealth", Duration::from_secs(5), |s| s["stealth"] == true);
    assert_eq!(s["state"], "recording", "stealth does not stop recording");
    for led in ["red", "green", "amber"] {
        assert_eq!(s["leds"][led], "off", "{led} must be dark in stealth");
    }
    d.ctl_ok(&["stealth"]);
    let s = d.wait_for("stealth off", Duration::from_secs(5), |s| {
        s["stealth"] == false
    });
    assert_eq!(s["leds"]["red"], "on");
    let human = d.ctl(&["status"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("state:        recording"));
    // SIGTERM finalises the open segment and exits 0.
    let code = d.signal(libc::SIGTERM);
    assert_eq!(code.code(), Some(0));
    let rec = d.recordings().remove(0);
    let last = segments(&rec).pop().unwrap();
    assert_eq!(sidecar(&last).unwrap()["end_reason"], "shutdown");
}

#[test]
fn ctl_without_daemon_fails_with_runtime_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["ctl", "--socket"])
        .arg(dir.path().join("none.sock"))
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(70));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the daemon"));
}
