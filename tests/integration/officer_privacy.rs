//! Audio mute and sleep, end to end: muted audio is silent for exactly the muted span
//! while both streams stay decodable and copyable; asleep, no capture runs and nothing
//! is buffered; both are audited.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bodycam::evidence::events::AuditEvent;
use serde_json::Value;

use crate::common::*;

/// RMS of `samples[from..to]` (clamped to the slice).
fn rms(samples: &[f32], from: usize, to: usize) -> f64 {
    let (from, to) = (from.min(samples.len()), to.min(samples.len()));
    if to <= from {
        return 0.0;
    }
    let sum: f64 = samples[from..to]
        .iter()
        .map(|&s| f64::from(s).powi(2))
        .sum();
    (sum / (to - from) as f64).sqrt()
}

/// Every 20 ms window of `[from, to)` seconds (of the decoded audio) by its RMS.
fn windows(samples: &[f32], from: f64, to: f64) -> Vec<f64> {
    let w = 960; // 20 ms at 48 kHz
    let (a, b) = (
        (from.max(0.0) * 48_000.0) as usize,
        (to.max(0.0) * 48_000.0) as usize,
    );
    (a..b.saturating_sub(w))
        .step_by(w)
        .map(|i| rms(samples, i, i + w))
        .collect()
}

/// Seconds into the decoded audio of a point `offset` seconds after the segment's first
/// video frame.
fn audio_seconds(seg: &Path, meta: &Value, offset: f64) -> f64 {
    let first_video = meta["first_pts_90k"].as_i64().unwrap();
    let first_audio = packets(seg, "a")[0].0;
    (first_video - first_audio) as f64 / 90_000.0 + offset
}

#[test]
fn muted_audio_is_silent_for_exactly_the_span_and_both_streams_stay_playable() {
    let mut d = Daemon::start("[recording]\nsegment_seconds = 60\n");
    d.wait_state("ready", Duration::from_secs(20));
    d.ctl_ok(&["record", "start"]);
    d.wait_for("2 s recorded", Duration::from_secs(10), |s| {
        s["seconds_recorded"].as_f64() > Some(2.0)
    });
    // Four presses mute; `ctl mute` unmutes.
    d.ctl_ok(&["button", "quad"]);
    let s = d.wait_for("muted", Duration::from_secs(5), |s| s["muted"] == true);
    assert_eq!(s["leds"]["red"], "blink_slow", "the mute LED pattern");
    wait_secs(2.0);
    d.ctl_ok(&["mute"]);
    d.wait_for("unmuted", Duration::from_secs(5), |s| s["muted"] == false);
    wait_secs(2.0);
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    assert_eq!(d.signal(libc::SIGTERM).code(), Some(0));

    let rec = d.recordings().remove(0);
    let seg = segments(&rec).remove(0);
    let meta = sidecar(&seg).expect("sidecar");
    let spans = meta["mute_spans"].as_array().expect("mute_spans");
    assert_eq!(spans.len(), 1, "{meta}");
    let (start, end) = (
        spans[0]["start_offset_seconds"].as_f64().unwrap(),
        spans[0]["end_offset_seconds"].as_f64().unwrap(),
    );
    assert!((1.5..3.5).contains(&(end - start)), "muted {start}–{end} s");

    // Decoded: silence inside the span (one AAC frame and the decoder's delay of
    // margin at each edge), the 440 Hz tone (RMS ≈ 0.14) on both sides of it.
    let pcm = audio_samples(&seg);
    let (a, b) = (
        audio_seconds(&seg, &meta, start),
        audio_seconds(&seg, &meta, end),
    );
    let margin = 0.08;
    let inside = windows(&pcm, a + margin, b - margin);
    assert!(inside.len() > 50, "{} windows inside", inside.len());
    assert!(
        inside.iter().all(|&r| r < 1e-3),
        "not silent while muted: {inside:?}"
    );
    let before = windows(&pcm, a - 1.0, a - margin);
    let after = windows(&pcm, b + margin, b + 1.0);
    assert!(
        before.iter().all(|&r| r > 0.05),
        "silent before the mute: {before:?}"
    );
    assert!(
        after.iter().all(|&r| r > 0.05),
        "silent after the mute: {after:?}"
    );

    // Both streams decode, every frame of them, and survive `ffmpeg -c copy`.
    assert!(decode_errors(&seg).is_empty(), "{}", decode_errors(&seg));
    let (v, au) = decoded_frames(&seg);
    assert_eq!(Some(v), meta["video_frames"].as_u64());
    assert_eq!(Some(au), meta["audio_frames"].as_u64());
    let copy = d.dir.path().join("copy.mp4");
    let err = copy_streams(&seg, &copy);
    assert!(err.is_empty(), "ffmpeg -c copy: {err}");
    let (cv, ca) = decoded_frames(&copy);
    assert_eq!((cv, ca), (v, au), "the copy keeps both streams whole");

    // Audited, and shown by verify.
    let mutes: Vec<(bool, Option<String>)> = audit_events(&d.audit_log())
        .into_iter()
        .filter_map(|e| match e {
            AuditEvent::Mute {
                on, recording_id, ..
            } => Some((on, recording_id)),
            _ => None,
        })
        .collect();
    let id = rec.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(mutes, vec![(true, Some(id.clone())), (false, Some(id))]);
    let (code, report, text) = d.verify_json();
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(report["segments"][0]["mute_spans"], meta["mute_spans"]);
    let text = Command::new(BIN)
        .args(["verify", "--trust-store-key"])
        .arg(&d.data)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("audio is encoded silence"));
}

/// The names of the daemon's threads.
fn threads(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

/// GStreamer's threads: the bus watcher, and the streaming threads named after pads.
fn capture_threads(pid: u32) -> Vec<String> {
    threads(pid)
        .into_iter()
        .filter(|t| t.starts_with("gst-bus") || t.contains(':'))
        .collect()
}

#[test]
fn asleep_nothing_is_captured_or_buffered_and_a_trigger_wakes_it() {
    let d = Daemon::start(
        "[recording]\npre_event_seconds = 3\n[[trigger]]\nname = \"holster\"\npin = 6\n",
    );
    d.wait_state("ready", Duration::from_secs(20));
    d.wait_for("pre-event buffer filling", Duration::from_secs(20), |s| {
        s["pre_event_buffered_seconds"].as_f64() >= Some(2.5)
    });
    let pid = d.pid().unwrap();
    assert!(!capture_threads(pid).is_empty(), "capturing while ready");
    // Four presses while ready: sleep.
    d.ctl_ok(&["button", "quad"]);
    let s = d.wait_state("asleep", Duration::from_secs(5));
    assert_eq!(s["pre_event_buffered_seconds"], 0.0);
    assert_eq!(s["leds"]["green"], "heartbeat");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        capture_threads(pid),
        Vec::<String>::new(),
        "{:?}",
        threads(pid)
    );
    assert_eq!(d.status().unwrap()["pre_event_buffered_seconds"], 0.0);

    // A trigger wakes it and records; the pre-event buffer starts afresh.
    let out = d.ctl(&["trigger", "holster"]);
    assert!(out.status.success());
    d.wait_state("recording", Duration::from_secs(20));
    wait_secs(1.0);
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    let rec = d.recordings().remove(0);
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("recording.json")).unwrap())
            .unwrap();
    assert_eq!(info["trigger"], "input:holster");
    assert!(
        info["pre_event_seconds"].as_f64().unwrap() < 1.5,
        "footage from before the sleep: {info}"
    );

    // Sleep is refused while recording; `ctl sleep` / `ctl wake` work while ready.
    d.ctl_ok(&["record", "start"]);
    d.wait_state("recording", Duration::from_secs(5));
    d.ctl_refused(&["sleep"], "recording");
    wait_secs(0.5);
    assert_eq!(d.status().unwrap()["state"], "recording");
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(10));
    d.ctl_ok(&["sleep"]);
    d.wait_state("asleep", Duration::from_secs(5));
    d.ctl_ok(&["wake"]);
    d.wait_state("ready", Duration::from_secs(20));

    let sleeps: Vec<(bool, String)> = audit_events(&d.audit_log())
        .into_iter()
        .filter_map(|e| match e {
            AuditEvent::Sleep { on, by } => Some((on, by)),
            _ => None,
        })
        .collect();
    let e = |on: bool, by: &str| (on, by.to_string());
    assert_eq!(
        sleeps,
        vec![
            e(true, "gesture:quad"),
            e(false, "input:holster"),
            e(true, "ctl"),
            e(false, "ctl")
        ]
    );
    assert!(audit_events(&d.audit_log()).iter().any(|e| matches!(e,
        AuditEvent::Trigger { state, outcome, .. } if state == "asleep" && outcome == "wake")));
}
