//! Confidential footage (issue 12): encrypted on the camera to the agency's key(s),
//! verifiable by anyone without a secret, exported by examiners with the key.
//! Real daemons on the simulated camera, the real CLI, ffprobe, and stores built
//! through the library for the attacks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::evidence::{Builder, records_of_kind, seg, track_sample};
use crate::common::footage::*;
use crate::common::*;

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The device-key arguments a test did not choose itself: these tests are about the
/// footage, so the store's own device key is accepted (`--trust-store-key`); that a
/// verification without an independent key is not OK is tested in `evidence_verify`.
fn device_key_args(extra: &[&str]) -> &'static [&'static str] {
    let chosen = extra.iter().any(|a| {
        matches!(
            *a,
            "--key" | "--identity" | "--device-key" | "--trust-store-key"
        )
    });
    if chosen { &[] } else { &["--trust-store-key"] }
}

/// `bodycam export KEY PATH OUT [extra…]`.
fn export(key: &Path, path: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("export")
        .arg("--key")
        .arg(key)
        .arg(path)
        .arg("--out")
        .arg(out)
        .args(extra)
        .args(device_key_args(extra))
        .output()
        .expect("run bodycam export")
}

fn report(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
        .expect("report.json is JSON")
}

fn verify_json(path: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(BIN)
        .args(["verify", "--json"])
        .arg(path)
        .args(extra)
        .args(device_key_args(extra))
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    (out.status.code(), v)
}

fn encrypted_config(recipients: &[&Path], extra: &str) -> String {
    let list: Vec<String> = recipients
        .iter()
        .map(|p| format!("\"{}\"", p.display()))
        .collect();
    format!(
        "[evidence]\nencryption = \"required\"\nrecipients = [{}]\n{extra}",
        list.join(", ")
    )
}

/// Record about `secs` seconds (with a marker), stop, and shut the daemon down cleanly.
fn record_and_stop(d: &mut Daemon, secs: f64) {
    d.wait_state("ready", Duration::from_secs(30));
    d.ctl_ok(&["record", "start"]);
    d.wait_for("footage", Duration::from_secs(60), |s| {
        s["seconds_recorded"].as_f64() > Some(secs / 2.0)
    });
    d.ctl_ok(&["marker"]);
    d.wait_for("footage", Duration::from_secs(60), |s| {
        s["seconds_recorded"].as_f64() > Some(secs)
    });
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(20));
    assert!(d.signal(libc::SIGTERM).success(), "{}", d.log_text());
}

/// The identity file the daemon wrote, copied out of the store (as enrolment would).
fn enrolled_identity(d: &Daemon) -> PathBuf {
    let p = d.dir.path().join("enrolled-identity.json");
    std::fs::copy(d.data.join("keys/identity.json"), &p).unwrap();
    p
}

/// Scan every file below `dir` for MPEG-TS packet structure, an H.264 parameter set
/// start and the known plaintext `samples`; panics naming the first file with any.
fn assert_no_plaintext(dir: &Path, samples: &[Vec<u8>]) {
    let sps = vec![0u8, 0, 0, 1, 0x67];
    let files = all_files(dir);
    assert!(!files.is_empty(), "nothing below {}", dir.display());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert_eq!(
            ts_structure_at(&bytes),
            None,
            "{}: MPEG-TS packet structure",
            f.display()
        );
        assert_eq!(
            contains_any(&bytes, std::slice::from_ref(&sps)),
            None,
            "{}: an H.264 SPS in the clear",
            f.display()
        );
        assert_eq!(
            contains_any(&bytes, samples),
            None,
            "{}: holds bytes of the plaintext footage",
            f.display()
        );
    }
}

#[test]
fn encrypted_recording_verifies_without_a_secret_exports_and_leaves_no_plaintext() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    let mut d = Daemon::new(&encrypted_config(
        &[&public],
        "[recording]\npre_event_seconds = 2\n",
    ));
    d.spawn();
    let s = d.wait_state("ready", Duration::from_secs(30));
    assert_eq!(s["encryption"]["mode"], "required", "{s}");
    let status_text = String::from_utf8_lossy(&d.ctl(&["status"]).stdout).into_owned();
    assert!(
        status_text.contains("encryption:   required"),
        "{status_text}"
    );
    // Let the pre-event buffer fill, then record across several segments.
    wait_secs(2.5);
    record_and_stop(&mut d, 6.0);
    let events = audit_details(&d.audit_log());
    let (_, enc) = events
        .iter()
        .find(|(e, _)| e == "encryption")
        .expect("an encryption entry at boot");
    assert_eq!(enc["mode"], "required");
    assert_eq!(enc["reason"], "boot");

    // Anyone verifies it, with the enrolled identity and no footage key.
    let identity = enrolled_identity(&d);
    let id_arg = identity.display().to_string();
    let (code, v) = verify_json(&d.data, &["--identity", &id_arg]);
    assert_eq!(code, Some(0), "{v:#}");
    let segs = v["segments"].as_array().unwrap();
    assert!(segs.len() >= 3, "{v:#}");
    let key_id =
        serde_json::from_slice::<Value>(&std::fs::read(&public).unwrap()).unwrap()["key_id"]
            .clone();
    for s in segs {
        assert_eq!(s["status"], "OK", "{s:#}");
        assert_eq!(s["encryption"]["key_ids"][0], key_id, "{s:#}");
    }

    // The examiner exports it.
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let o = export(&key, &d.data, &out, &["--identity", &id_arg]);
    assert!(o.status.success(), "{}", text(&o));
    let r = report(&out);
    assert_eq!(r["complete"], true, "{r:#}");
    assert!(
        r["encryption"]
            .as_str()
            .unwrap()
            .starts_with("every segment was encrypted")
    );
    assert_eq!(r["device"]["independently_supplied"], true);
    let rec = &r["recordings"][0];
    let rec_dir = &d.recordings()[0];
    let (mut video, mut audio, mut seconds) = (0, 0, 0.0);
    let mut plaintext = Vec::new();
    for s in rec["segments"].as_array().unwrap() {
        let seq = s["segment"].as_u64().unwrap() as u32;
        let ts = out.join(s["exported"]["file"].as_str().unwrap());
        let side = sidecar(&seg(
            &d.data,
            rec_dir.file_name().unwrap().to_str().unwrap(),
            seq,
            "ts",
        ))
        .unwrap();
        let (v, a) = decoded_frames(&ts);
        assert_eq!(
            v,
            side["video_frames"].as_u64().unwrap(),
            "segment {seq} video"
        );
        assert_eq!(
            a,
            side["audio_frames"].as_u64().unwrap(),
            "segment {seq} audio"
        );
        assert_eq!(decode_errors(&ts), "", "segment {seq} decodes cleanly");
        video += v;
        audio += a;
        seconds += side["duration_seconds"].as_f64().unwrap();
        plaintext.extend(std::fs::read(&ts).unwrap());
    }
    let mp4 = out.join(rec["mp4"]["file"].as_str().unwrap());
    assert_eq!(
        decoded_frames(&mp4),
        (video, audio),
        "the MP4 holds every frame of both streams"
    );
    let duration = rec["mp4"]["probe"]["duration_seconds"].as_f64().unwrap();
    assert!(
        (duration - seconds).abs() < 0.15,
        "MP4 {duration} s, sidecars {seconds} s"
    );
    assert!(rec["pre_event_seconds"].as_f64().unwrap() > 1.0, "{rec:#}");
    assert_eq!(rec["markers"].as_array().unwrap().len(), 1, "{rec:#}");
    assert!(!rec["thumbnails"].as_array().unwrap().is_empty());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains(r["device"]["device_id"].as_str().unwrap()));
    assert!(
        html.contains("data:image/jpeg;base64,"),
        "thumbnails are inlined"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );

    // Nothing on the camera's storage shows the footage.
    assert_no_plaintext(&d.data, &windows_of(&plaintext, 64, 48));
}

#[test]
fn the_developer_default_says_plainly_that_footage_is_not_encrypted_and_plain_stores_export() {
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = footage_key(keys.path(), "agency");
    let mut d = Daemon::new("");
    d.spawn();
    let s = d.wait_state("ready", Duration::from_secs(30));
    assert_eq!(s["encryption"]["mode"], "off", "{s}");
    let status_text = String::from_utf8_lossy(&d.ctl(&["status"]).stdout).into_owned();
    assert!(status_text.contains("encryption:   OFF"), "{status_text}");
    record_and_stop(&mut d, 3.0);
    assert!(
        d.log_text().contains("footage encryption is OFF"),
        "{}",
        d.log_text()
    );
    let events = audit_details(&d.audit_log());
    assert!(
        events
            .iter()
            .any(|(e, v)| e == "encryption" && v["mode"] == "off"),
        "{events:?}"
    );
    let out = tempfile::tempdir().unwrap().path().join("out");
    let o = export(&key, &d.data, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let r = report(&out);
    assert!(
        r["encryption"].as_str().unwrap().contains("NOT encrypted"),
        "{r:#}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("NOT encrypted"));
    for s in r["recordings"][0]["segments"].as_array().unwrap() {
        assert_eq!(s["encrypted"], false);
        // A plain segment exports byte for byte.
        assert_eq!(s["exported"]["sha256"], s["signed_sha256"], "{s:#}");
    }
}

#[test]
fn sigkill_while_recording_keeps_everything_durable_decryptable() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    let mut d = Daemon::new(&encrypted_config(&[&public], ""));
    d.spawn();
    d.wait_state("ready", Duration::from_secs(30));
    d.ctl_ok(&["record", "start"]);
    d.wait_for("footage", Duration::from_secs(60), |s| {
        s["seconds_recorded"].as_f64() > Some(3.3)
    });
    wait_secs(0.4);
    let killed_at = chrono::Utc::now();
    d.signal(libc::SIGKILL);
    d.spawn();
    let s = d.wait_state("ready", Duration::from_secs(30));
    assert_eq!(s["recovered_segments"], 1, "{s}");
    assert!(d.signal(libc::SIGTERM).success());
    let (code, v) = verify_json(&d.data, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let last = v["segments"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["status"], "RECOVERED_TAIL", "{last:#}");
    // Every whole chunk on flash decrypts, the recovered one included.
    let rec = &d.recordings()[0];
    for seq in 1..=v["segments"].as_array().unwrap().len() as u32 {
        let o = open_segment(rec, seq, &key).unwrap();
        assert_eq!(o.failed_chunk, None, "segment {seq}");
        assert_eq!(o.chunks, o.walk.chunks.len(), "segment {seq}");
        assert!(o.walk.damaged.is_none(), "segment {seq}");
    }
    let out = tempfile::tempdir().unwrap().path().join("out");
    let o = export(&key, &d.data, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let r = report(&out);
    let segs = r["recordings"][0]["segments"].as_array().unwrap();
    let recovered = segs.last().unwrap();
    let ts = out.join(recovered["exported"]["file"].as_str().unwrap());
    assert!(decoded_frames(&ts).0 > 0, "the recovered segment plays");
    assert_eq!(decode_errors(&ts), "");

    // At most about a second is lost: the plaintext not yet sealed into a chunk (as
    // recorder::sigkill_… bounds the plain recorder). The newest decrypted frame's wall
    // time, from its PTS (the recording's first frame is at PTS 2 s), against the kill.
    let info: Value =
        serde_json::from_slice(&std::fs::read(rec.join("recording.json")).unwrap()).unwrap();
    let frame_90k = 90_000 / info["capture"]["framerate"].as_i64().unwrap();
    let started = chrono::DateTime::parse_from_rfc3339(info["started_utc"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let first_frame = started
        - chrono::Duration::milliseconds(
            (info["pre_event_seconds"].as_f64().unwrap() * 1000.0) as i64,
        );
    let last_pts = packets(&ts, "v").last().unwrap().0;
    let newest = first_frame
        + chrono::Duration::milliseconds((last_pts - 180_000 + frame_90k) * 1000 / 90_000);
    let lost = (killed_at - newest).num_milliseconds();
    eprintln!("encrypted SIGKILL: the decrypted footage ends {lost} ms before the kill");
    assert!(
        lost < 1300,
        "the decrypted footage ends {lost} ms before the kill"
    );
}

/// A power cut that tears the last chunk: recovery signs it, verify reports it, and
/// `bodycam export` (of the store and of the recording directory alike) says in its
/// report that it was not exported, and exports every whole chunk before it.
#[test]
fn a_torn_last_chunk_is_reported_by_export_of_the_store_and_of_the_recording() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    let mut d = Daemon::new(&encrypted_config(&[&public], ""));
    d.spawn();
    d.wait_state("ready", Duration::from_secs(30));
    d.ctl_ok(&["record", "start"]);
    d.wait_for("footage", Duration::from_secs(60), |s| {
        s["seconds_recorded"].as_f64() > Some(3.3)
    });
    d.signal(libc::SIGKILL);
    // What a power cut in the middle of a chunk's write leaves: the next chunk's header
    // and part of its sealed bytes.
    let rec = d.recordings()[0].clone();
    let open = segments(&rec).last().unwrap().clone();
    let mut media = std::fs::read(&open).unwrap();
    let whole = chunks_of(&open);
    assert!(!whole.is_empty(), "the open segment has whole chunks");
    let whole_len = media.len();
    let (last_at, _) = *whole.last().unwrap();
    let mut header = media[last_at..last_at + 40].to_vec();
    header[4..8].copy_from_slice(&(whole.len() as u32).to_be_bytes());
    let torn_bytes = 40 + 300;
    media.extend_from_slice(&header);
    media.extend_from_within(last_at + 40..last_at + 340);
    std::fs::write(&open, &media).unwrap();

    d.spawn();
    let s = d.wait_state("ready", Duration::from_secs(30));
    assert_eq!(s["recovered_segments"], 1, "{s}");
    assert!(d.signal(libc::SIGTERM).success());
    let (code, v) = verify_json(&d.data, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let last = v["segments"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["status"], "RECOVERED_TAIL", "{last:#}");
    assert!(last.to_string().contains("torn"), "{last:#}");

    let seq = open
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut exported = Vec::new();
    for (what, input) in [("store", d.data.clone()), ("recording", rec.clone())] {
        let out = work.path().join(what);
        let o = export(&key, &input, &out, &["--thumbnail-seconds", "0"]);
        let r = report(&out);
        // Incomplete (exit 1), and the torn chunk is why.
        assert_eq!(o.status.code(), Some(1), "{what}: {}", text(&o));
        assert_eq!(r["complete"], false, "{what}: {r:#}");
        let incomplete = r["incomplete"].as_array().unwrap();
        assert_eq!(incomplete.len(), 1, "{what}: {r:#}");
        assert!(
            incomplete[0].as_str().unwrap().contains("torn last chunk"),
            "{what}: {r:#}"
        );
        assert_eq!(
            r["recordings"].as_array().unwrap().len(),
            1,
            "{what}: {r:#}"
        );
        let segs = r["recordings"][0]["segments"].as_array().unwrap();
        let s = segs
            .iter()
            .find(|s| s["segment"].as_u64() == Some(seq))
            .unwrap_or_else(|| panic!("{what}: segment {seq} in {r:#}"));
        let notes = s["notes"].to_string();
        assert!(
            notes.contains(&format!(
                "torn last chunk ({torn_bytes} bytes at byte {whole_len}"
            )) && notes.contains("not exported"),
            "{what}: {notes}\n{}",
            text(&o)
        );
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains("torn last chunk"), "{what}: report.html");
        // Every whole chunk before it was exported and plays.
        let ts = out.join(s["exported"]["file"].as_str().unwrap());
        let plain = bodycam::confidential::chunk::walk(&open).unwrap();
        let plain_len: u64 = plain
            .chunks
            .iter()
            .map(|c| u64::from(c.header.plain_len))
            .sum();
        assert_eq!(std::fs::metadata(&ts).unwrap().len(), plain_len, "{what}");
        assert!(
            decoded_frames(&ts).0 > 0,
            "{what}: the recovered segment plays"
        );
        exported.push(std::fs::read(&ts).unwrap());
        // The whole recording's segments, whichever the input was.
        assert_eq!(segs.len(), segments(&rec).len(), "{what}");
    }
    assert!(
        exported[0] == exported[1],
        "the store's and the recording's export agree"
    );
}

/// A real encrypted recording: the report holds the identity fingerprint, the audit
/// events and the markers, and no gaps. With one byte flipped in a middle chunk of a
/// middle segment, that segment is left out and shown as a gap; with
/// `--include-unverified` it is exported and marked UNVERIFIED in its TS name, the MP4
/// name, `mp4.unverified_segments` and report.html.
#[test]
fn report_contents_and_an_unverified_segment_marked_in_the_mp4_name_and_report_html() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    let mut d = Daemon::new(&encrypted_config(&[&public], ""));
    d.spawn();
    record_and_stop(&mut d, 5.0);
    let identity = enrolled_identity(&d);
    let id_arg = identity.display().to_string();
    let ident: Value = serde_json::from_slice(&std::fs::read(&identity).unwrap()).unwrap();
    let public_key = hex::decode(ident["public_key"].as_str().unwrap()).unwrap();
    let fingerprint = hex::encode(bodycam::evidence::record::sha256(&public_key));
    let rec = d.recordings()[0].clone();
    let rec_id = rec.file_name().unwrap().to_str().unwrap().to_string();
    let segs = segments(&rec);
    assert!(segs.len() >= 3, "{segs:?}");

    // The clean export.
    let work = tempfile::tempdir().unwrap();
    let clean = work.path().join("clean");
    let o = export(&key, &d.data, &clean, &["--identity", &id_arg]);
    assert!(o.status.success(), "{}", text(&o));
    let r = report(&clean);
    assert_eq!(r["device"]["fingerprint"], fingerprint.as_str(), "{r:#}");
    assert_eq!(r["device"]["device_id"], ident["device_id"], "{r:#}");
    let html = std::fs::read_to_string(clean.join("report.html")).unwrap();
    assert!(
        html.contains(&fingerprint),
        "report.html shows the fingerprint"
    );
    let rr = &r["recordings"][0];
    assert_eq!(rr["gaps"], serde_json::json!([]), "{rr:#}");
    let events: Vec<&str> = rr["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    for want in ["recording_start", "marker", "recording_stop"] {
        assert!(events.contains(&want), "{want} in {events:?}");
        assert!(html.contains(want), "report.html shows {want}");
    }
    let start = rr["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["what"] == "recording_start")
        .unwrap();
    assert!(
        start["detail"].as_str().unwrap().contains(&rec_id),
        "{start:#}"
    );
    assert_eq!(rr["markers"].as_array().unwrap().len(), 1, "{rr:#}");
    let mp4 = rr["mp4"]["file"].as_str().unwrap();
    assert_eq!(mp4, format!("{rec_id}/{rec_id}.mp4"), "{rr:#}");

    // One byte of a middle chunk of a middle segment flipped.
    let middle = &segs[segs.len() / 2];
    let seq = middle
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let chunks = chunks_of(middle);
    assert!(chunks.len() >= 2, "{chunks:?}");
    let (at, len) = chunks[chunks.len() / 2];
    let mut media = std::fs::read(middle).unwrap();
    media[at + 40 + (len - 56) / 2] ^= 0x20;
    std::fs::write(middle, &media).unwrap();
    let (code, v) = verify_json(&d.data, &["--identity", &id_arg]);
    assert_eq!(code, Some(1), "{v:#}");

    // Without --include-unverified: left out, and a gap where it was.
    let left_out = work.path().join("left-out");
    let o = export(&key, &d.data, &left_out, &["--identity", &id_arg]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = report(&left_out);
    let rr = &r["recordings"][0];
    let s = rr["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"].as_u64() == Some(seq))
        .unwrap();
    assert_eq!(s["status"], "TAMPERED", "{s:#}");
    assert!(s["exported"].is_null(), "{s:#}");
    let gaps = rr["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{rr:#}");
    assert!(
        gaps[0]["what"].as_str().unwrap().contains(&format!(
            "segment {seq:06} (TAMPERED) are not in the export"
        )),
        "{gaps:?}"
    );
    assert!(gaps[0]["seconds"].as_f64().unwrap() > 0.5, "{gaps:?}");
    assert_eq!(
        rr["mp4"]["file"],
        format!("{rec_id}/{rec_id}.mp4"),
        "{rr:#}"
    );
    assert_eq!(rr["mp4"]["unverified_segments"], serde_json::json!([]));

    // With it: exported up to the chunk that does not open, and marked everywhere.
    let marked = work.path().join("marked");
    let o = export(
        &key,
        &d.data,
        &marked,
        &["--identity", &id_arg, "--include-unverified"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = report(&marked);
    assert_eq!(r["include_unverified"], true);
    let rr = &r["recordings"][0];
    let s = rr["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"].as_u64() == Some(seq))
        .unwrap();
    assert_eq!(s["verified"], false, "{s:#}");
    let ts = s["exported"]["file"].as_str().unwrap();
    assert!(ts.ends_with(&format!("{seq:06}.UNVERIFIED.ts")), "{ts}");
    assert!(
        decoded_frames(&marked.join(ts)).0 > 0,
        "its first chunks play"
    );
    let mp4 = rr["mp4"]["file"].as_str().unwrap();
    assert_eq!(
        mp4,
        format!("{rec_id}/{rec_id}.includes-UNVERIFIED.mp4"),
        "{rr:#}"
    );
    assert!(marked.join(mp4).exists());
    assert_eq!(rr["mp4"]["unverified_segments"], serde_json::json!([seq]));
    let html = std::fs::read_to_string(marked.join("report.html")).unwrap();
    assert!(html.contains("--include-unverified"), "the banner");
    assert!(html.contains(&format!("{rec_id}.includes-UNVERIFIED.mp4")));
    assert!(html.contains(&format!("includes UNVERIFIED segment(s) [{seq}]")));
    assert!(html.contains(&format!("{seq:06}.UNVERIFIED.ts")));
    assert!(html.contains(">UNVERIFIED</span>"), "the segment's badge");
}

/// The library-built stores hold synthetic H.264 and AAC that ffmpeg cannot remux: the
/// export is then incomplete for that reason only (exit 1), every segment exported.
fn synthetic_only_lacks_the_mp4(o: &Output, r: &Value) {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    for i in r["incomplete"].as_array().unwrap() {
        assert!(i.as_str().unwrap().contains("no MP4"), "{r:#}");
    }
}

/// A store of two recordings of two encrypted segments each, built through the library.
fn attack_store(root: &Path, recipients: &[PathBuf]) -> Vec<String> {
    let mut b = Builder::random(root);
    b.encrypt_to(recipients, None);
    let a = b.recording(2);
    let c = b.recording(2);
    b.shutdown();
    vec![a, c]
}

/// The chunks of a media file: (offset, length).
fn chunks_of(path: &Path) -> Vec<(usize, usize)> {
    bodycam::confidential::chunk::walk(path)
        .unwrap()
        .chunks
        .iter()
        .map(|c| (c.offset as usize, c.header.sealed_len() as usize))
        .collect()
}

#[test]
fn chunks_moved_swapped_duplicated_or_carried_across_segments_and_recordings_are_caught() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    type Attack = fn(&Path, &[String]) -> (String, u32);
    // Each attack edits one segment's media; returns (recording, segment) edited.
    let attacks: Vec<(&str, Attack)> = vec![
        ("swapped", |root, recs| {
            let p = seg(root, &recs[0], 1, "ts");
            let b = std::fs::read(&p).unwrap();
            let c = chunks_of(&p);
            let (a, z) = (c[0], c[1]);
            let mut out = b[z.0..z.0 + z.1].to_vec();
            out.extend_from_slice(&b[a.0..a.0 + a.1]);
            out.extend_from_slice(&b[z.0 + z.1..]);
            std::fs::write(&p, out).unwrap();
            (recs[0].clone(), 1)
        }),
        ("duplicated", |root, recs| {
            let p = seg(root, &recs[0], 2, "ts");
            let b = std::fs::read(&p).unwrap();
            let c = chunks_of(&p);
            let mut out = b[..c[0].1].to_vec();
            out.extend_from_slice(&b[..c[0].1]);
            out.extend_from_slice(&b[c[1].0 + c[1].1..]);
            std::fs::write(&p, out).unwrap();
            (recs[0].clone(), 2)
        }),
        ("moved from the next segment", |root, recs| {
            let p = seg(root, &recs[0], 1, "ts");
            let other = std::fs::read(seg(root, &recs[0], 2, "ts")).unwrap();
            let oc = chunks_of(&seg(root, &recs[0], 2, "ts"));
            let b = std::fs::read(&p).unwrap();
            let c = chunks_of(&p);
            let mut out = b[..c[1].0].to_vec();
            out.extend_from_slice(&other[oc[1].0..oc[1].0 + oc[1].1]);
            out.extend_from_slice(&b[c[1].0 + c[1].1..]);
            std::fs::write(&p, out).unwrap();
            (recs[0].clone(), 1)
        }),
        ("moved from another recording", |root, recs| {
            let p = seg(root, &recs[1], 1, "ts");
            let src = seg(root, &recs[0], 1, "ts");
            let other = std::fs::read(&src).unwrap();
            let oc = chunks_of(&src);
            let b = std::fs::read(&p).unwrap();
            let c = chunks_of(&p);
            let mut out = other[..oc[0].1].to_vec();
            out.extend_from_slice(&b[c[1].0..]);
            std::fs::write(&p, out).unwrap();
            (recs[1].clone(), 1)
        }),
    ];
    let mut exported_unverified = 0;
    for (name, attack) in attacks {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let recs = attack_store(&root, std::slice::from_ref(&public));
        let (rec, seq) = attack(&root, &recs);
        let (code, v) = verify_json(&root, &[]);
        assert_eq!(code, Some(1), "{name}: verify must fail");
        let s = v["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["recording_id"] == rec && s["segment"] == seq)
            .unwrap();
        assert_eq!(s["status"], "TAMPERED", "{name}: {s:#}");
        // Export leaves it out …
        let out = dir.path().join("out");
        let o = export(&key, &root, &out, &["--thumbnail-seconds", "0"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        let r = report(&out);
        let find = |r: &Value| {
            r["recordings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["recording_id"] == rec)
                .unwrap()["segments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["segment"] == seq)
                .unwrap()
                .clone()
        };
        let s = find(&r);
        assert!(s["exported"].is_null(), "{name}: {s:#}");
        // … and with --include-unverified the AEAD catches what it holds too, marked.
        let out2 = dir.path().join("out2");
        let o = export(
            &key,
            &root,
            &out2,
            &["--thumbnail-seconds", "0", "--include-unverified"],
        );
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        let s = find(&report(&out2));
        let notes = s["notes"].to_string();
        assert!(
            notes.contains("does not authenticate") || notes.contains("not a run of chunks"),
            "{name}: {notes}"
        );
        // What authenticated before the attacked chunk is exported, marked; a segment
        // of which nothing authenticates gets no file at all.
        if s["exported"].is_null() {
            assert!(
                notes.contains("no part of it could be decrypted"),
                "{name}: {notes}"
            );
        } else {
            exported_unverified += 1;
            assert!(notes.contains("UNVERIFIED"), "{name}: {notes}");
            assert!(
                s["exported"]["file"]
                    .as_str()
                    .unwrap()
                    .contains("UNVERIFIED"),
                "{name}: {s:#}"
            );
        }
    }
    assert!(exported_unverified >= 2, "{exported_unverified}");
}

#[test]
fn wrong_key_two_recipients_and_bad_key_files() {
    let keys = tempfile::tempdir().unwrap();
    let (a_key, a_pub) = footage_key(keys.path(), "agency");
    let (b_key, b_pub) = footage_key(keys.path(), "escrow");
    let (c_key, _) = footage_key(keys.path(), "stranger");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    attack_store(&root, &[a_pub.clone(), b_pub.clone()]);
    let id = |p: &Path| -> String {
        serde_json::from_slice::<Value>(&std::fs::read(p).unwrap()).unwrap()["key_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Each recipient decrypts, to the same plaintext.
    let mut hashes = Vec::new();
    for (k, name) in [(&a_key, "a"), (&b_key, "b")] {
        let out = dir.path().join(name);
        let o = export(k, &root, &out, &["--thumbnail-seconds", "0"]);
        let r = report(&out);
        synthetic_only_lacks_the_mp4(&o, &r);
        let h: Vec<Value> = r["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|x| x["segments"].as_array().unwrap().clone())
            .map(|s| s["exported"]["sha256"].clone())
            .collect();
        assert_eq!(h.len(), 4);
        hashes.push(h);
    }
    assert_eq!(hashes[0], hashes[1]);
    // A wrong key: a clear error naming the key ids the footage was encrypted to.
    let o = export(&c_key, &root, &dir.path().join("c"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&id(&a_pub)) && err.contains(&id(&b_pub)),
        "{err}"
    );
    assert!(err.contains("cannot decrypt"), "{err}");
    assert!(
        !dir.path().join("c").exists(),
        "nothing written for a wrong key"
    );

    // Bad key files: each a clear error naming the file.
    let key_text = std::fs::read_to_string(&a_key).unwrap();
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let write = |name: &str, text: &str, mode: u32| {
        let p = bad.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        p
    };
    let mut edited: Value = serde_json::from_str(&key_text).unwrap();
    edited["private_key"] = Value::String("11".repeat(32));
    let cases = [
        (
            write("cut.key", &key_text[..key_text.len() / 2], 0o600),
            "not a footage key file",
        ),
        (
            write("garbage.key", "\u{1}\u{2}binary", 0o600),
            "not a footage key file",
        ),
        (write("open.key", &key_text, 0o644), "mode 644"),
        (
            write("edited.key", &edited.to_string(), 0o600),
            "does not match public_key",
        ),
        (a_pub.clone(), "public recipient file"),
        (bad.join("absent.key"), "cannot read"),
    ];
    for (i, (file, want)) in cases.iter().enumerate() {
        let o = export(file, &root, &dir.path().join(format!("bad{i}")), &[]);
        assert_eq!(o.status.code(), Some(2), "{}: {}", file.display(), text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&file.display().to_string()) && err.contains(want),
            "{}: {err}",
            file.display()
        );
    }
}

#[test]
fn camera_configs_with_unusable_recipients_exit_78_naming_the_file() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    let not_a_key = keys.path().join("notes.txt");
    std::fs::write(&not_a_key, "hello").unwrap();
    let absent = keys.path().join("absent.pub");
    let cases: Vec<(String, String)> = vec![
        (
            "[evidence]\nencryption = \"required\"\n".into(),
            "evidence.recipients".into(),
        ),
        (
            encrypted_config(&[&not_a_key], ""),
            not_a_key.display().to_string(),
        ),
        (
            encrypted_config(&[&absent], ""),
            absent.display().to_string(),
        ),
        (encrypted_config(&[&key], ""), "PRIVATE footage key".into()),
        (
            format!("[evidence]\nrecipients = [\"{}\"]\n", public.display()),
            "evidence.encryption".into(),
        ),
    ];
    for (config, want) in cases {
        let mut d = Daemon::new(&config);
        d.spawn();
        let st = d.child.as_mut().unwrap().wait().unwrap();
        d.child = None;
        assert_eq!(st.code(), Some(78), "{config}: {}", d.log_text());
        assert!(d.log_text().contains(&want), "{config}: {}", d.log_text());
        assert!(!d.data.join("recordings").exists(), "{config}");
    }
}

/// The configuration the Pi image installs (systemd/bodycam.toml) requires encryption
/// to a recipient file the recipe installs; the daemon enforces it: with that file
/// missing, `bodycam run` on the shipped config exits 78 naming it, creating nothing.
#[test]
fn the_shipped_pi_config_requires_encryption_to_a_recipient_the_recipe_installs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(root.join("systemd/bodycam.toml")).unwrap();
    let v: toml::Value = toml::from_str(&shipped).unwrap();
    assert_eq!(v["evidence"]["encryption"].as_str(), Some("required"));
    let recipients = v["evidence"]["recipients"].as_array().unwrap();
    assert!(!recipients.is_empty(), "recipients in systemd/bodycam.toml");
    let recipe =
        std::fs::read_to_string(root.join("yocto-layer/recipes-bodycam/bodycam/bodycam_0.1.0.bb"))
            .unwrap();
    for r in recipients {
        let r = r.as_str().unwrap();
        assert!(
            r.starts_with("/etc/bodycam/recipients/") && r.ends_with(".pub"),
            "{r}: where the recipe installs recipient files"
        );
    }
    assert!(recipe.contains("install -d ${D}${sysconfdir}/bodycam/recipients"));
    assert!(recipe.contains("addtask check_recipients before do_fetch"));

    // The shipped file as it is, but with the store and the recipient in a temporary
    // directory (the recipient absent): exit 78 naming it.
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("recipients/agency.pub");
    let data = tmp.path().join("data");
    let first = recipients[0].as_str().unwrap();
    let edited = shipped
        .replace(first, &missing.display().to_string())
        .replace("\"/data/bodycam\"", &format!("\"{}\"", data.display()));
    assert_ne!(edited, shipped);
    let config = tmp.path().join("bodycam.toml");
    std::fs::write(&config, edited).unwrap();
    let o = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("evidence.recipients") && err.contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(!data.exists(), "nothing created for a bad config");
}

#[test]
fn recipients_rotated_mid_shift_take_effect_at_the_next_segment() {
    let keys = tempfile::tempdir().unwrap();
    let (old_key, old_pub) = footage_key(keys.path(), "old");
    let (new_key, new_pub) = footage_key(keys.path(), "new");
    let live = keys.path().join("agency.pub");
    std::fs::copy(&old_pub, &live).unwrap();
    let mut d = Daemon::new(&encrypted_config(&[&live], ""));
    d.spawn();
    d.wait_state("ready", Duration::from_secs(30));
    d.ctl_ok(&["record", "start"]);
    d.wait_for("a closed segment", Duration::from_secs(60), |s| {
        s["segments_written"].as_u64() >= Some(1)
    });
    // The agency rotates its key: the file now holds the new recipient.
    let tmp = keys.path().join(".agency.pub.tmp");
    std::fs::copy(&new_pub, &tmp).unwrap();
    std::fs::rename(&tmp, &live).unwrap();
    d.wait_for("two more segments", Duration::from_secs(60), |s| {
        s["segments_written"].as_u64() >= Some(3)
    });
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(20));
    let s = d.status().unwrap();
    assert!(d.signal(libc::SIGTERM).success());
    let new_id =
        serde_json::from_slice::<Value>(&std::fs::read(&new_pub).unwrap()).unwrap()["key_id"]
            .clone();
    assert_eq!(s["encryption"]["key_ids"][0], new_id, "{s}");
    let rotated: Vec<(String, Value)> = audit_details(&d.audit_log())
        .into_iter()
        .filter(|(e, v)| e == "encryption" && v["reason"] == "rotated")
        .collect();
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_eq!(rotated[0].1["key_ids"][0], new_id);

    let (code, v) = verify_json(&d.data, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let ids: Vec<Value> = v["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["encryption"]["key_ids"][0].clone())
        .collect();
    assert_ne!(
        ids.first(),
        Some(&new_id),
        "the first segment was written before the change"
    );
    assert_eq!(ids.last(), Some(&new_id), "{ids:?}");
    // Each key exports its own segments, and says which it cannot.
    let mut exported = 0;
    for (k, name) in [(&old_key, "old"), (&new_key, "new")] {
        let out = keys.path().join(format!("out-{name}"));
        let o = export(k, &d.data, &out, &["--thumbnail-seconds", "0"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let r = report(&out);
        for s in r["recordings"][0]["segments"].as_array().unwrap() {
            if s["exported"].is_null() {
                assert!(
                    s["notes"].to_string().contains("encrypted to key id"),
                    "{s:#}"
                );
            } else {
                exported += 1;
            }
        }
    }
    assert_eq!(
        exported,
        ids.len(),
        "every segment exports with one of the two keys"
    );
}

/// Dock agent into Azurite with encryption on: ciphertext only in the container and in
/// the agent's state directory; `dock-agent fetch` then `export` gives the footage.
#[cfg(feature = "dock-agent")]
#[test]
fn offload_to_azure_holds_ciphertext_only_and_fetch_then_export_works() {
    use crate::common::agent::*;
    let az = Azurite::start();
    let shared = tempfile::tempdir().unwrap();
    let pki = shared.path().join("pki");
    pki_dev(&pki);
    let key = pki.join("footage-dev.key");
    let public = pki.join("footage-dev.pub");
    let bay = Bay::with_pki(&encrypted_config(&[&public], ""), Some(&pki));
    bay.record(4.0);
    bay.dock();
    let agent = Agent::new(&az, &bay.pki, &[("bay1", bay.url())], &[bay.identity()]);
    let o = agent.once();
    assert!(o.status.success(), "{}", text(&o));
    // The examiner fetches the device's store back from the container and exports it.
    let dev = bay.device_id();
    let fetched = shared.path().join("fetched");
    let o = agent.run(&["fetch", &dev, "--out", fetched.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = shared.path().join("out");
    let device_key = bay.identity()["public_key"].as_str().unwrap().to_string();
    let o = export(
        &key,
        &fetched,
        &out,
        &["--thumbnail-seconds", "0", "--device-key", &device_key],
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = report(&out);
    let mut plaintext = Vec::new();
    for rec in r["recordings"].as_array().unwrap() {
        for s in rec["segments"].as_array().unwrap() {
            assert_eq!(s["encrypted"], true);
            let ts = out.join(s["exported"]["file"].as_str().unwrap());
            assert!(decoded_frames(&ts).0 > 0);
            plaintext.extend(std::fs::read(ts).unwrap());
        }
    }
    let samples = windows_of(&plaintext, 64, 48);
    // What the container holds: every blob, read back.
    let store = agent.store();
    let names = rt().block_on(store.list(&dev)).unwrap();
    assert!(names.iter().any(|n| n.ends_with(".ts")), "{names:?}");
    let blobs = shared.path().join("blobs");
    for n in &names {
        let p = blobs.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let bytes = rt().block_on(store.get(n)).unwrap().expect("blob");
        std::fs::write(&p, bytes).unwrap();
    }
    assert_no_plaintext(&blobs, &samples);
    assert_no_plaintext(&agent.dir.path().join("state"), &samples);
    assert_no_plaintext(&bay.daemon.data, &samples);
}

// ---------------------------------------------------------------------------------------
// Golden vectors of format v2's encryption (tests/data/golden-sealed/README.md)

/// The fixed seed of the golden store's content keys and ephemeral keys.
const GOLDEN_SEED: [u8; 32] = [0x5e; 32];

fn sealed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-sealed")
}

/// The committed test footage key, copied to an owner-only file (git keeps no modes).
fn golden_footage_key(tmp: &Path) -> PathBuf {
    let p = tmp.join("footage-test.key");
    std::fs::copy(sealed_dir().join("footage-test.key"), &p).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    p
}

/// The golden sealed store: the plain golden store's footage, encrypted to the test key.
fn build_golden_sealed(dir: &Path) {
    let mut b = Builder::golden(&dir.join("store"));
    b.encrypt_to(&[sealed_dir().join("footage-test.pub")], Some(GOLDEN_SEED));
    b.recording(2);
    b.shutdown();
}

/// Every intermediate value of segment `seq`, recomputed from the seed and the test key
/// with x25519-dalek and ring's HKDF (not through the camera's code path).
fn vectors(store: &Path, seq: u32, key: &Path) -> Value {
    use bodycam::confidential::chunk::{self, HEADER_LEN};
    use bodycam::confidential::keys::FootageKey;
    use bodycam::confidential::{location, wrap};
    let key = FootageKey::load(key).unwrap();
    let rec_dir = std::fs::read_dir(store.join("recordings"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let recording = rec_dir.file_name().unwrap().to_string_lossy().into_owned();
    let (records, _) = bodycam::evidence::payload::decode_file(
        &std::fs::read(rec_dir.join(format!("{seq:06}.journal"))).unwrap(),
    );
    let (keys, device) = records
        .iter()
        .find_map(|r| match &r.payload {
            bodycam::evidence::payload::Payload::Keys(k) => Some((k.clone(), r.header.device_id)),
            _ => None,
        })
        .unwrap();
    // The seed's draws: one content key per segment, then one ephemeral key per recipient.
    let draw = |n: u64| wrap::hkdf32(&GOLDEN_SEED, &n.to_be_bytes(), b"bodycam-v2 test entropy");
    let first_draw = u64::from(seq - 1) * 2 + 1;
    let content_key = draw(first_draw);
    let e_secret = draw(first_draw + 1);
    let e = x25519_dalek::StaticSecret::from(e_secret);
    let e_pub = x25519_dalek::PublicKey::from(&e).to_bytes();
    let shared = e.diffie_hellman(&x25519_dalek::PublicKey::from(key.public_key));
    let mut salt = e_pub.to_vec();
    salt.extend_from_slice(&key.public_key);
    let wrap_key = wrap::hkdf32(shared.as_bytes(), &salt, wrap::WRAP_INFO);
    let loc = location(&device, &recording, seq);
    assert_eq!(keys.recipients[0].ephemeral, e_pub, "the ephemeral share");
    assert_eq!(
        wrap::unwrap(&key, &keys.recipients[0], &loc).unwrap(),
        content_key
    );
    assert_eq!(wrap::commitment(&content_key), keys.commitment);
    let media = std::fs::read(rec_dir.join(format!("{seq:06}.ts"))).unwrap();
    let walk = chunk::walk_bytes(&media);
    let c0 = walk.chunks[0];
    let header: [u8; HEADER_LEN] = media[..HEADER_LEN].try_into().unwrap();
    let mut sealed = media[..c0.end() as usize].to_vec();
    let media_key = wrap::media_key(&content_key);
    let plain = chunk::open_in_place(&media_key, &loc, 0, &mut sealed)
        .unwrap()
        .to_vec();
    let mut nonce = [0u8; 12];
    nonce[8..].copy_from_slice(&0u32.to_be_bytes());
    let sha = |b: &[u8]| hex::encode(bodycam::evidence::record::sha256(b));
    serde_json::json!({
        "segment": seq,
        "recording_id": recording,
        "device_id": hex::encode(device),
        "recipient_public_key": hex::encode(key.public_key),
        "recipient_key_id": hex::encode(key.key_id),
        "content_key": hex::encode(content_key),
        "commitment": hex::encode(wrap::commitment(&content_key)),
        "media_key": hex::encode(wrap::hkdf32(&content_key, &[], wrap::MEDIA_INFO)),
        "ephemeral_secret": hex::encode(e_secret),
        "ephemeral_share": hex::encode(e_pub),
        "shared_secret": hex::encode(shared.as_bytes()),
        "wrap_key": hex::encode(wrap_key),
        "location": hex::encode(&loc),
        "wrapped_key": hex::encode(keys.recipients[0].wrapped),
        "chunks": walk.chunks.len(),
        "chunk0_header": hex::encode(header),
        "chunk0_nonce": hex::encode(nonce),
        "chunk0_aad": hex::encode(chunk::aad(&loc, &header)),
        "chunk0_plaintext_sha256": sha(&plain),
        "chunk0_sealed_sha256": sha(&media[..c0.end() as usize]),
        "chunk0_tag": hex::encode(&media[c0.end() as usize - 16..c0.end() as usize]),
    })
}

#[test]
fn golden_sealed_store_is_reproduced_byte_for_byte_and_its_vectors_hold() {
    let golden = sealed_dir();
    let regenerate = std::env::var("BODYCAM_REGENERATE_GOLDEN").as_deref() == Ok("1");
    if regenerate && !golden.join("footage-test.key").exists() {
        std::fs::create_dir_all(&golden).unwrap();
        footage_key(&golden, "footage-test");
    }
    let tmp = tempfile::tempdir().unwrap();
    let built = tmp.path().join("built");
    build_golden_sealed(&built);
    let key = golden_footage_key(tmp.path());
    let v = serde_json::json!([
        vectors(&built.join("store"), 1, &key),
        vectors(&built.join("store"), 2, &key)
    ]);
    std::fs::write(
        built.join("vectors.json"),
        serde_json::to_string_pretty(&v).unwrap() + "\n",
    )
    .unwrap();
    if regenerate {
        let _ = std::fs::remove_dir_all(golden.join("store"));
        for f in crate::common::evidence::files_below(&built) {
            let to = golden.join(&f);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(built.join(&f), to).unwrap();
        }
        return;
    }
    let files = crate::common::evidence::files_below(&built);
    let committed: Vec<PathBuf> = crate::common::evidence::files_below(&golden)
        .into_iter()
        .filter(|f| f.starts_with("store") || f == Path::new("vectors.json"))
        .collect();
    assert_eq!(
        files, committed,
        "regenerate with BODYCAM_REGENERATE_GOLDEN=1 (tests/data/golden-sealed/README.md)"
    );
    for f in &files {
        assert!(
            std::fs::read(built.join(f)).unwrap() == std::fs::read(golden.join(f)).unwrap(),
            "{} differs from the golden vector",
            f.display()
        );
    }
}

#[test]
fn golden_sealed_store_verifies_and_decrypts_to_the_plain_golden_media() {
    let tmp = tempfile::tempdir().unwrap();
    let key = golden_footage_key(tmp.path());
    let store = sealed_dir().join("store");
    let public = hex::encode(crate::common::evidence::golden_key().public_key());
    let (code, v) = verify_json(&store, &["--key", &public]);
    assert_eq!(code, Some(0), "{v:#}");
    let plain_dir = crate::common::evidence::golden_dir().join("store/recordings");
    let rec = std::fs::read_dir(store.join("recordings"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let name = rec.file_name().unwrap();
    for seq in 1..=2 {
        let o = open_segment(&rec, seq, &key).unwrap();
        let plain = std::fs::read(plain_dir.join(name).join(format!("{seq:06}.ts"))).unwrap();
        assert!(
            o.plaintext == plain,
            "segment {seq} decrypts to the plain golden media"
        );
    }
}

#[test]
fn a_store_of_format_v1_still_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, _) = footage_key(tmp.path(), "agency");
    let store = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-v1/store");
    let public = hex::encode(crate::common::evidence::golden_key().public_key());
    let out = tmp.path().join("out");
    let o = export(
        &key,
        &store,
        &out,
        &["--device-key", &public, "--thumbnail-seconds", "0"],
    );
    let r = report(&out);
    synthetic_only_lacks_the_mp4(&o, &r);
    assert_eq!(r["verification"]["ok"], true, "{r:#}");
    assert!(r["encryption"].as_str().unwrap().contains("NOT encrypted"));
    let rec = &r["recordings"][0];
    let name = rec["recording_id"].as_str().unwrap();
    for s in rec["segments"].as_array().unwrap() {
        let seq = s["segment"].as_u64().unwrap() as u32;
        let exported = std::fs::read(out.join(s["exported"]["file"].as_str().unwrap())).unwrap();
        assert!(
            exported == std::fs::read(seg(&store, name, seq, "ts")).unwrap(),
            "segment {seq}"
        );
    }
}

/// The exported track's points of every segment of recording `i` of an export report.
fn exported_track(r: &Value, i: usize) -> Vec<(u32, Value)> {
    r["recordings"][i]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            let seq = s["segment"].as_u64().unwrap() as u32;
            s["track"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |p| (seq, p))
        })
        .collect()
}

/// A point as the report writes it equals the sample signed for that second, exactly.
fn assert_point_is(p: &Value, f: &bodycam::location::Sample) {
    use bodycam::location::FixQuality;
    let e7 = |v: &Value| (v.as_f64().unwrap() * 1e7).round() as i64;
    let cm = |v: &Value| (v.as_f64().unwrap() * 100.0).round() as i64;
    assert_eq!(p["source"], "gpsd", "{p}");
    if f.quality == FixQuality::NoFix {
        assert_eq!(p["quality"], "no_fix", "{p}");
        assert!(p["lat"].is_null() && p["lon"].is_null(), "{p}");
        return;
    }
    assert_eq!(p["quality"], "fix3d", "{p}");
    assert_eq!(e7(&p["lat"]), i64::from(f.lat_e7), "{p}");
    assert_eq!(e7(&p["lon"]), i64::from(f.lon_e7), "{p}");
    assert_eq!(cm(&p["alt_m"]), i64::from(f.alt_cm), "{p}");
    assert_eq!(cm(&p["h_acc_m"]), i64::from(f.h_acc_cm), "{p}");
    let t = chrono::DateTime::parse_from_rfc3339(p["fix_utc"].as_str().unwrap()).unwrap();
    assert_eq!(t.timestamp_millis(), f.fix_utc_ms, "{p}");
}

#[test]
fn sealed_location_records_verify_without_the_key_export_exactly_and_a_flipped_byte_is_tampered() {
    use bodycam::evidence::payload::fix_bytes;
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.encrypt_to(std::slice::from_ref(&public), None);
    b.track = true;
    let rec = b.recording(3);
    b.shutdown();

    // Nothing of a fix is on flash in the clear: not its record bytes (the kind 5
    // encoding), not its latitude and longitude as they would be encoded, not as text.
    let samples: Vec<_> = (0..6).map(track_sample).collect();
    let fixes: Vec<_> = samples.iter().filter(|f| f.lat_e7 != 0).collect();
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for f in &fixes {
        needles.push(fix_bytes(f).to_vec());
        needles.push(fix_bytes(f)[9..17].to_vec());
        needles.push(format!("{:.5}", f64::from(f.lat_e7) / 1e7).into_bytes());
        needles.push(format!("{}", f.lat_e7).into_bytes());
    }
    for f in all_files(&root) {
        let bytes = std::fs::read(&f).unwrap();
        assert_eq!(contains_any(&bytes, &needles), None, "{}", f.display());
    }

    // Anyone verifies it without the key: it passes and counts the sealed samples.
    let (code, v) = verify_json(&root, &[]);
    assert_eq!(code, Some(0), "{v:#}");
    let segs = v["segments"].as_array().unwrap();
    let sealed: u64 = segs
        .iter()
        .map(|s| s["sealed_locations"].as_u64().unwrap_or(0))
        .sum();
    assert!(sealed >= 5, "{v:#}");
    assert!(segs.iter().all(|s| s["track"].is_null()), "{v:#}");
    let text_out = Command::new(BIN)
        .args(["verify", "--trust-store-key"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text_out.stdout).contains("encrypted location sample(s)"),
        "{}",
        text(&text_out)
    );

    // The examiner recovers the track exactly, into the report and a GPX file.
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let o = export(&key, &root, &out, &[]);
    let r = report(&out);
    synthetic_only_lacks_the_mp4(&o, &r);
    let track = exported_track(&r, 0);
    assert_eq!(track.len() as u64, sealed, "{r:#}");
    let mut seconds = Vec::new();
    for (_, p) in &track {
        let t = p["seconds"].as_f64().unwrap();
        assert!((t - t.round()).abs() < 1e-9, "{p}");
        seconds.push(t.round() as u64);
        assert_point_is(p, &track_sample(t.round() as u64));
    }
    assert!(seconds.windows(2).all(|w| w[0] < w[1]), "{seconds:?}");
    let gpx =
        std::fs::read_to_string(out.join(r["recordings"][0]["gpx"].as_str().unwrap())).unwrap();
    let fixes_exported = track.iter().filter(|(_, p)| !p["lat"].is_null()).count();
    assert_eq!(gpx.matches("<trkpt ").count(), fixes_exported, "{gpx}");
    for (_, p) in track.iter().filter(|(_, p)| !p["lat"].is_null()) {
        let f = track_sample(p["seconds"].as_f64().unwrap().round() as u64);
        let lat = format!("lat=\"{:.7}\"", f64::from(f.lat_e7) / 1e7);
        assert!(gpx.contains(&lat), "{lat} in {gpx}");
    }

    // One byte of one sealed location record flipped: its segment is TAMPERED, and
    // the examiner's track leaves it out; the other segments keep theirs.
    let journal = seg(&root, &rec, 2, "journal");
    let mut j = std::fs::read(&journal).unwrap();
    let sealed_recs = records_of_kind(&j, 6);
    assert!(!sealed_recs.is_empty(), "segment 2 has sealed locations");
    assert!(
        records_of_kind(&j, 5).is_empty(),
        "no location record in the clear"
    );
    let (at, len) = sealed_recs[0];
    // The last byte of the sealed fix (its tag), just before the signature.
    j[at + len - 64 - 1] ^= 0x01;
    std::fs::write(&journal, &j).unwrap();
    let (code, v) = verify_json(&root, &[]);
    assert_eq!(code, Some(1), "{v:#}");
    for s in v["segments"].as_array().unwrap() {
        let want = if s["segment"] == 2 { "TAMPERED" } else { "OK" };
        assert_eq!(s["status"], want, "{s:#}");
    }
    let out2 = work.path().join("out2");
    let o = export(&key, &root, &out2, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r2 = report(&out2);
    let after = exported_track(&r2, 0);
    assert!(after.iter().all(|(seq, _)| *seq != 2), "{r2:#}");
    let before: Vec<_> = track.iter().filter(|(seq, _)| *seq != 2).collect();
    assert_eq!(after.len(), before.len(), "{r2:#}");
}
