//! `bodycam verify` against real stores built through the library: golden vectors, the tamper matrix, recovery, usage errors.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::evidence::{Builder, files_below, golden_dir, seg};
use bodycam::evidence::events::AuditEvent;
use bodycam::evidence::record;
use serde_json::Value;

use crate::common::BIN;

/// Run `bodycam verify` with `args`; exit code, stdout, stderr.
fn run<S: AsRef<OsStr>>(args: &[S]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("verify")
        .args(args)
        .output()
        .expect("run bodycam");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run `bodycam verify PATH --key KEY --json EXTRA…`; exit code and report.
fn verify(path: &Path, key: &str, extra: &[&OsStr]) -> (i32, Value) {
    let mut args: Vec<&OsStr> = vec![
        path.as_os_str(),
        OsStr::new("--key"),
        OsStr::new(key),
        OsStr::new("--json"),
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}): {stdout}\nstderr: {stderr}"));
    assert_eq!(report["ok"], code == 0, "exit code and report disagree");
    (code, report)
}

/// The report entry of one segment.
fn segment<'a>(report: &'a Value, recording: &str, seq: u32) -> &'a Value {
    report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["recording_id"] == recording && s["segment"] == seq)
        .unwrap_or_else(|| panic!("no {recording}/{seq} in {report:#}"))
}

fn status(report: &Value, recording: &str, seq: u32) -> String {
    segment(report, recording, seq)["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Findings of one segment made by `check`.
fn findings<'a>(report: &'a Value, recording: &str, seq: u32, check: &str) -> Vec<&'a Value> {
    segment(report, recording, seq)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

fn chain_problems<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["chain"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == kind)
        .collect()
}

/// Every segment not in `except` is OK.
fn others_ok(report: &Value, except: &[(&str, u32)]) {
    for s in report["segments"].as_array().unwrap() {
        let id = (
            s["recording_id"].as_str().unwrap(),
            s["segment"].as_u64().unwrap() as u32,
        );
        if !except.contains(&id) {
            assert_eq!(s["status"], "OK", "{s:#}");
        }
    }
}

/// A clean store: 2 recordings × 3 segments, clean shutdown, random key.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    key: String,
    rec: Vec<String>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.recording(3);
    b.recording(3);
    let key = b.public_key.clone();
    let rec = b.recordings.clone();
    b.shutdown();
    Fixture {
        _dir: dir,
        root,
        key,
        rec,
    }
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

fn copy_segment(from: (&Path, &str, u32), to: (&Path, &str, u32)) {
    for ext in ["ts", "journal", "json"] {
        std::fs::copy(seg(from.0, from.1, from.2, ext), seg(to.0, to.1, to.2, ext)).unwrap();
    }
}

fn records(path: &Path) -> Vec<Vec<u8>> {
    let (raws, err) = record::parse_all(&std::fs::read(path).unwrap());
    assert!(err.is_none());
    raws.into_iter().map(|r| r.bytes).collect()
}

// ---------------------------------------------------------------------------------------
// Golden vectors

/// Build the golden store (and its head statement) into `dir`.
fn build_golden(dir: &Path) {
    let mut b = Builder::golden(&dir.join("store"));
    b.recording(2);
    let head = b.head_statement(&[0x42; 16]);
    b.shutdown();
    std::fs::write(
        dir.join("head.json"),
        serde_json::to_vec_pretty(&head).unwrap(),
    )
    .unwrap();
}

#[test]
fn golden_store_is_reproduced_byte_for_byte() {
    let golden = golden_dir();
    let regenerate = std::env::var("BODYCAM_REGENERATE_GOLDEN").as_deref() == Ok("1");
    let key_path = golden.join("test-key.pk8");
    if regenerate && !key_path.exists() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        std::fs::create_dir_all(&golden).unwrap();
        std::fs::write(&key_path, pkcs8.as_ref()).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    build_golden(tmp.path());
    if regenerate {
        let _ = std::fs::remove_dir_all(golden.join("store"));
        for f in files_below(tmp.path()) {
            let to = golden.join(&f);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(tmp.path().join(&f), to).unwrap();
        }
        return;
    }
    let built = files_below(tmp.path());
    let committed: Vec<PathBuf> = files_below(&golden)
        .into_iter()
        .filter(|f| f.starts_with("store") || f == Path::new("head.json"))
        .collect();
    assert_eq!(
        built, committed,
        "the set of files differs from tests/data/golden (format change? bump the version and regenerate, see tests/data/golden/README.md)"
    );
    for f in &built {
        assert!(
            std::fs::read(tmp.path().join(f)).unwrap() == std::fs::read(golden.join(f)).unwrap(),
            "{} differs from the golden vector (format change? bump the version and regenerate, see tests/data/golden/README.md)",
            f.display()
        );
    }
}

#[test]
fn golden_store_verifies_with_the_test_key_and_its_head_statement() {
    let golden = golden_dir();
    let key = hex::encode(crate::common::evidence::golden_key().public_key());
    let head = golden.join("head.json");
    let (code, report) = verify(
        &golden.join("store"),
        &key,
        &[OsStr::new("--head"), head.as_os_str()],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["segments"].as_array().unwrap().len(), 2);
    assert_eq!(report["head"]["status"], "OK");
    assert_eq!(report["head"]["nonce"], "42".repeat(16));
    // The same through the human output.
    let (code, stdout, _) = run(&[
        golden.join("store").as_os_str(),
        OsStr::new("--key"),
        OsStr::new(&key),
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("VERDICT: OK"), "{stdout}");
}

#[test]
fn a_store_of_format_v1_still_verifies() {
    let v1 = golden_dir().with_file_name("golden-v1");
    let key = hex::encode(crate::common::evidence::golden_key().public_key());
    let head = v1.join("head.json");
    let (code, report) = verify(
        &v1.join("store"),
        &key,
        &[OsStr::new("--head"), head.as_os_str()],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["segments"].as_array().unwrap().len(), 2);
    assert_eq!(report["head"]["status"], "OK");
}

// ---------------------------------------------------------------------------------------
// Good stores

#[test]
fn untouched_store_verifies() {
    let f = fixture();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["segments"].as_array().unwrap().len(), 6);
    others_ok(&report, &[]);
    assert_eq!(report["chain"]["problems"], serde_json::json!([]));
    assert_eq!(report["chain"]["first_counter"], 0);
    assert_eq!(report["audit"]["status"], "OK");
    assert_eq!(report["media_head"]["status"], "OK");
    assert_eq!(report["media_head"]["present"], true);
    assert_eq!(report["key"]["source"], "key");
    assert_eq!(report["key"]["independently_supplied"], true);
    let s = segment(&report, &f.rec[0], 1);
    let secs = s["seconds"].as_array().unwrap();
    assert_eq!(secs[0].as_f64(), Some(0.0));
    assert!(s["duration_seconds"].as_f64().unwrap() > 1.9);
}

#[test]
fn key_taken_from_the_store_is_said_to_be_not_independent() {
    let f = fixture();
    let (code, stdout, _) = run(&[f.root.as_os_str(), OsStr::new("--json")]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["key"]["source"], "store");
    assert_eq!(report["key"]["independently_supplied"], false);
    assert!(
        report["verdict"]
            .as_str()
            .unwrap()
            .contains("not independently supplied")
    );
    // --identity with the enrolled file is independent.
    let id = f.root.parent().unwrap().join("enrolled.json");
    std::fs::copy(f.root.join("keys/identity.json"), &id).unwrap();
    let (code, stdout, _) = run(&[
        f.root.as_os_str(),
        OsStr::new("--identity"),
        id.as_os_str(),
        OsStr::new("--json"),
    ]);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(code, 0);
    assert_eq!(report["key"]["source"], "identity_file");
    assert_eq!(report["key"]["independently_supplied"], true);
}

#[test]
fn recording_directory_and_single_segment_verify_on_their_own() {
    let f = fixture();
    let dir = f.root.join("recordings").join(&f.rec[1]);
    let (code, report) = verify(&dir, &f.key, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["input"], "recording");
    assert_eq!(report["segments"].as_array().unwrap().len(), 3);
    let one = seg(&f.root, &f.rec[1], 2, "ts");
    let (code, report) = verify(&one, &f.key, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["input"], "segment");
    flip(&one, 400);
    let (code, report) = verify(&one, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[1], 2), "TAMPERED");
    // Media without a journal is UNSIGNED.
    std::fs::remove_file(seg(&f.root, &f.rec[1], 2, "journal")).unwrap();
    let (code, report) = verify(&one, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[1], 2), "UNSIGNED");
}

#[test]
fn recovered_segment_is_recovered_tail_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.recording(1);
    // Segment 2: a keyframe at 2 s, three more frames, a keyframe at 3 s (checkpoint
    // before it), one more frame: two frames are unsigned when the daemon dies.
    let open = b.open_recording(1, 6);
    let b = b.restart();
    let key = b.public_key.clone();
    b.shutdown();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(status(&report, &open, 1), "OK");
    assert_eq!(status(&report, &open, 2), "RECOVERED_TAIL");
    let s = segment(&report, &open, 2);
    assert_eq!(s["end_reason"], "recovered");
    let tail = &s["recovered_tail"];
    assert!(tail["bytes"].as_u64().unwrap() > 0, "{tail:#}");
    assert_eq!(tail["video_frames"], 2);
    assert_eq!(tail["seconds"].as_f64(), Some(0.5));
    assert_eq!(tail["signed_utc"], "2026-01-01T01:00:00.000Z");
    let notable = report["audit"]["notable"].as_array().unwrap();
    let events: Vec<&str> = notable
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["unclean_shutdown", "recovery"]);
    // The verifier's tail agrees with what recovery logged.
    assert_eq!(notable[1]["detail"]["tail_seconds"], tail["seconds"]);
    assert_eq!(notable[1]["detail"]["tail_bytes"], tail["bytes"]);
}

// ---------------------------------------------------------------------------------------
// Tamper matrix: every case must be named and must exit 1.

#[test]
fn flipped_media_byte_is_tampered_with_its_byte_range_and_time() {
    let f = fixture();
    let media = seg(&f.root, &f.rec[0], 2, "ts");
    let len = std::fs::metadata(&media).unwrap().len() as usize;
    let at = len * 3 / 4;
    flip(&media, at);
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 2), "TAMPERED");
    let ranges = findings(&report, &f.rec[0], 2, "range_hash");
    assert_eq!(ranges.len(), 1, "{report:#}");
    let r = ranges[0]["byte_range"].as_array().unwrap();
    let (start, end) = (r[0].as_u64().unwrap(), r[1].as_u64().unwrap());
    assert!(
        start <= at as u64 && (at as u64) < end,
        "[{start}, {end}) ∌ {at}"
    );
    // Segment 2 of a 2 s/segment recording: its second second.
    let secs = ranges[0]["seconds"].as_array().unwrap();
    assert!(
        secs[0].as_f64().unwrap() >= 3.0 && secs[1].as_f64().unwrap() < 4.0,
        "{secs:?}"
    );
    assert!(ranges[0]["signed_utc"].is_string());
    others_ok(&report, &[(&f.rec[0], 2)]);
}

#[test]
fn appended_media_bytes_are_tampered() {
    let f = fixture();
    let media = seg(&f.root, &f.rec[1], 3, "ts");
    let len = std::fs::metadata(&media).unwrap().len();
    let mut bytes = std::fs::read(&media).unwrap();
    bytes.extend_from_slice(&[0x47; 188]);
    std::fs::write(&media, bytes).unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[1], 3), "TAMPERED");
    let close = findings(&report, &f.rec[1], 3, "close");
    assert_eq!(close[0]["byte_range"], serde_json::json!([len, len + 188]));
}

#[test]
fn flipped_journal_byte_is_tampered() {
    let f = fixture();
    let journal = seg(&f.root, &f.rec[0], 1, "journal");
    let recs = records(&journal);
    // A byte of the second record's signature.
    flip(&journal, recs[0].len() + recs[1].len() - 10);
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 1), "TAMPERED");
    assert_eq!(findings(&report, &f.rec[0], 1, "signature").len(), 1);
    // The altered record no longer counts: its place in the chain is empty.
    assert_eq!(chain_problems(&report, "gap").len(), 1);
    others_ok(&report, &[(&f.rec[0], 1)]);
}

#[test]
fn edited_utc_inside_a_record_breaks_its_signature() {
    let f = fixture();
    let journal = seg(&f.root, &f.rec[1], 2, "journal");
    // utc_ms follows magic, length, version, kind, device id, counter and prev_hash.
    let utc_low_byte = 8 + 1 + 1 + 16 + 8 + 32 + 7;
    flip(&journal, utc_low_byte);
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[1], 2), "TAMPERED");
    let sig = findings(&report, &f.rec[1], 2, "signature");
    assert_eq!(sig.len(), 1);
    assert_eq!(sig[0]["status"], "TAMPERED");
}

#[test]
fn dropped_middle_segment_is_missing_between_its_neighbours() {
    let f = fixture();
    for ext in ["ts", "journal", "json"] {
        std::fs::remove_file(seg(&f.root, &f.rec[0], 2, ext)).unwrap();
    }
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 2), "MISSING");
    let gaps = chain_problems(&report, "gap");
    assert_eq!(gaps.len(), 1, "{report:#}");
    assert_eq!(gaps[0]["after"]["segment"], 1);
    assert_eq!(gaps[0]["before"]["segment"], 3);
    assert_eq!(gaps[0]["before"]["recording_id"], f.rec[0].as_str());
    others_ok(&report, &[(&f.rec[0], 2)]);
}

#[test]
fn dropped_whole_recording_in_the_middle_is_a_chain_gap() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.recording(1);
    let middle = b.recording(2);
    let last = b.recording(1);
    let key = b.public_key.clone();
    b.shutdown();
    std::fs::remove_dir_all(root.join("recordings").join(&middle)).unwrap();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 1);
    let gaps = chain_problems(&report, "gap");
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0]["before"]["recording_id"], last.as_str());
    others_ok(&report, &[]);
    // The signed recording_start and recording_stop entries name it too.
    let claims = report["cross_checks"].as_array().unwrap();
    assert_eq!(claims.len(), 2, "{report:#}");
    assert!(
        claims
            .iter()
            .all(|c| c["message"].as_str().unwrap().contains(&middle))
    );
}

#[test]
fn media_count_seen_by_a_signed_boot_entry_must_be_there() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.recording(1);
    let key = b.public_key.clone();
    b.log(AuditEvent::Boot {
        firmware: "test".into(),
        config_sha256: "00".into(),
        device_id: "x".into(),
        media_chain_count: 3,
        clock_synchronised: true,
    });
    b.log(AuditEvent::HeadIssued {
        nonce: "00".into(),
        media_count: 3,
        audit_count: 0,
    });
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 0, "{report:#}");
    b.log(AuditEvent::Boot {
        firmware: "test".into(),
        config_sha256: "00".into(),
        device_id: "x".into(),
        media_chain_count: 4,
        clock_synchronised: true,
    });
    b.shutdown();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 1);
    let claims = report["cross_checks"].as_array().unwrap();
    assert_eq!(claims.len(), 1, "{report:#}");
    assert_eq!(claims[0]["status"], "MISSING");
    assert!(
        claims[0]["message"]
            .as_str()
            .unwrap()
            .contains("saw 4 media records")
    );
}

/// Without a head statement, a store is only checked against itself. Deleting the
/// newest segment is caught by `evidence/media.head` and by the signed audit entries
/// that describe it (`recording_stop` says how many segments were closed); an attacker
/// who also rolls `media.head` back and cuts the newest audit entries leaves nothing in
/// the store to notice: verify then passes and says, in a note, that only `--head` can
/// rule this out. With a head statement obtained earlier it fails.
#[test]
fn dropped_newest_segment_is_caught_by_the_store_and_then_only_by_a_head_statement() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.recording(3);
    // Entries before the second recording's start (which is kept below).
    let audit_before = records(&root.join("evidence/audit.log")).len();
    let rec = b.recording(3);
    let key = b.public_key.clone();
    let head = b.head_statement(b"nonce-from-court");
    b.shutdown();
    let head_file = dir.path().join("head.json");
    std::fs::write(&head_file, serde_json::to_vec(&head).unwrap()).unwrap();
    let with_head = [OsStr::new("--head"), head_file.as_os_str()];

    let (code, report) = verify(&root, &key, &with_head);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["head"]["status"], "OK");
    assert_eq!(report["cross_checks"], serde_json::json!([]));

    for ext in ["ts", "journal", "json"] {
        std::fs::remove_file(seg(&root, &rec, 3, ext)).unwrap();
    }
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 1, "media.head still names the deleted final record");
    assert_eq!(report["media_head"]["status"], "MISSING");

    // Roll media.head back to the previous segment's final record.
    let previous_final = records(&seg(&root, &rec, 2, "journal")).pop().unwrap();
    std::fs::write(root.join("evidence/media.head"), previous_final).unwrap();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 1, "the audit log says 3 segments were closed");
    assert_eq!(report["media_head"]["status"], "OK");
    let claims = report["cross_checks"].as_array().unwrap();
    assert!(
        claims.iter().any(|c| c["message"]
            .as_str()
            .unwrap()
            .contains("closed 3 segment(s)")),
        "{report:#}"
    );

    // Cut the newest audit entries too (from the second recording's stop on).
    let log = root.join("evidence/audit.log");
    let kept = records(&log)[..audit_before + 1].concat();
    std::fs::write(&log, kept).unwrap();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 0, "documented limitation: {report:#}");
    assert!(
        report["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("--head")),
        "{report:#}"
    );
    let (code, report) = verify(&root, &key, &with_head);
    assert_eq!(code, 1);
    assert_eq!(report["head"]["status"], "MISSING");
    let msg = report["head"]["findings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("newest are missing"), "{msg}");
}

#[test]
fn altered_head_statement_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.recording(1);
    let key = b.public_key.clone();
    let original = b.head_statement(b"n");
    b.shutdown();
    let file = dir.path().join("head.json");
    // The unsigned convenience fields must agree with the signed record.
    let mut head = original.clone();
    head.media_count = 99;
    std::fs::write(&file, serde_json::to_vec(&head).unwrap()).unwrap();
    let (code, report) = verify(&root, &key, &[OsStr::new("--head"), file.as_os_str()]);
    assert_eq!(code, 1);
    assert_eq!(report["head"]["status"], "TAMPERED");
    // A flipped byte inside the signed record.
    let mut head = original;
    let mut bytes = hex::decode(&head.record).unwrap();
    bytes[30] ^= 1;
    head.record = hex::encode(bytes);
    std::fs::write(&file, serde_json::to_vec(&head).unwrap()).unwrap();
    let (code, report) = verify(&root, &key, &[OsStr::new("--head"), file.as_os_str()]);
    assert_eq!(code, 1);
    assert_eq!(report["head"]["findings"][0]["check"], "signature");
}

#[test]
fn swapped_segments_are_reordered() {
    let f = fixture();
    let tmp = f.root.join("swap");
    std::fs::create_dir(&tmp).unwrap();
    for ext in ["ts", "journal", "json"] {
        let a = seg(&f.root, &f.rec[1], 1, ext);
        let b = seg(&f.root, &f.rec[1], 2, ext);
        let t = tmp.join(ext);
        std::fs::rename(&a, &t).unwrap();
        std::fs::rename(&b, &a).unwrap();
        std::fs::rename(&t, &b).unwrap();
    }
    std::fs::remove_dir(&tmp).unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[1], 1), "REORDERED");
    assert_eq!(status(&report, &f.rec[1], 2), "REORDERED");
    assert_eq!(findings(&report, &f.rec[1], 1, "location").len(), 1);
    assert_eq!(chain_problems(&report, "out_of_order").len(), 1);
    // The files still match their own journals.
    assert!(findings(&report, &f.rec[1], 1, "range_hash").is_empty());
    others_ok(&report, &[(&f.rec[1], 1), (&f.rec[1], 2)]);
}

#[test]
fn segment_spliced_from_another_recording_is_spliced() {
    let f = fixture();
    copy_segment((&f.root, &f.rec[1], 2), (&f.root, &f.rec[0], 2));
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 2), "SPLICED");
    let loc = findings(&report, &f.rec[0], 2, "location");
    assert!(loc[0]["message"].as_str().unwrap().contains(&f.rec[1]));
    // The original records of rec0/000002 are gone and rec1/000002's appear twice.
    assert_eq!(chain_problems(&report, "gap").len(), 1);
    assert!(!chain_problems(&report, "duplicate_counter").is_empty());
}

#[test]
fn replayed_older_copy_of_a_segment_is_a_duplicate() {
    let f = fixture();
    copy_segment((&f.root, &f.rec[0], 1), (&f.root, &f.rec[0], 2));
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 2), "REORDERED");
    let dups = chain_problems(&report, "duplicate_counter");
    assert!(!dups.is_empty());
    assert!(dups.iter().all(|d| d["identical"] == true));
    assert_eq!(dups[0]["counter"], 0);
    assert_eq!(chain_problems(&report, "gap").len(), 1);
}

#[test]
fn segment_signed_by_another_key_is_foreign() {
    let f = fixture();
    let other_dir = tempfile::tempdir().unwrap();
    let other = other_dir.path().join("store");
    let mut b = Builder::random(&other);
    b.recording(3);
    let other_rec = b.recordings[0].clone();
    b.shutdown();
    // Same clocks, so the same recording id: only the key differs.
    assert_eq!(other_rec, f.rec[0]);
    copy_segment((&other, &other_rec, 2), (&f.root, &f.rec[0], 2));
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 2), "FOREIGN");
    assert_eq!(
        findings(&report, &f.rec[0], 2, "signature")[0]["status"],
        "FOREIGN"
    );
    others_ok(&report, &[(&f.rec[0], 2)]);
}

#[test]
fn edited_sidecar_is_tampered() {
    let f = fixture();
    let sidecar = seg(&f.root, &f.rec[0], 1, "json");
    let text = std::fs::read_to_string(&sidecar).unwrap();
    let edited = text.replace("\"rollover\"", "\"stopped\"");
    assert_ne!(text, edited);
    std::fs::write(&sidecar, edited).unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 1), "TAMPERED");
    assert_eq!(findings(&report, &f.rec[0], 1, "sidecar_hash").len(), 1);
    others_ok(&report, &[(&f.rec[0], 1)]);
}

#[test]
fn edited_utc_in_sidecar_is_tampered() {
    let f = fixture();
    let sidecar = seg(&f.root, &f.rec[1], 3, "json");
    let text = std::fs::read_to_string(&sidecar).unwrap();
    let edited = text.replacen("\"utc_start\": \"2026-", "\"utc_start\": \"2025-", 1);
    assert_ne!(text, edited);
    std::fs::write(&sidecar, edited).unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[1], 3), "TAMPERED");
    assert_eq!(findings(&report, &f.rec[1], 3, "sidecar_hash").len(), 1);
}

#[test]
fn deleted_sidecar_is_tampered() {
    let f = fixture();
    std::fs::remove_file(seg(&f.root, &f.rec[0], 3, "json")).unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report, &f.rec[0], 3, "sidecar_hash").len(), 1);
}

#[test]
fn journal_cut_mid_record_is_truncated() {
    let f = fixture();
    let journal = seg(&f.root, &f.rec[0], 3, "journal");
    let len = std::fs::metadata(&journal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 3), "TRUNCATED");
    assert_eq!(
        findings(&report, &f.rec[0], 3, "parse")[0]["status"],
        "TRUNCATED"
    );
}

#[test]
fn deleted_audit_entry_breaks_the_audit_chain() {
    let f = fixture();
    let log = f.root.join("evidence/audit.log");
    let mut recs = records(&log);
    let total = recs.len();
    recs.remove(2);
    std::fs::write(&log, recs.concat()).unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["audit"]["status"], "MISSING");
    assert_eq!(report["audit"]["entries"], total - 1);
    let problems = report["audit"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0]["kind"], "gap");
    assert_eq!(problems[0]["from"], 2);
    others_ok(&report, &[]);
}

#[test]
fn missing_audit_log_fails() {
    let f = fixture();
    std::fs::remove_file(f.root.join("evidence/audit.log")).unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["audit"]["status"], "MISSING");
}

#[test]
fn open_segment_is_open_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    let rec = b.open_recording(1, 3);
    let key = b.public_key.clone();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &rec, 1), "OK");
    assert_eq!(status(&report, &rec, 2), "OPEN");
    let tail = &segment(&report, &rec, 2)["unsigned_tail"];
    assert!(tail["bytes"].as_u64().unwrap() > 0, "{tail:#}");
    // Nothing of segment 2 was checkpointed yet: its three frames span 0.75 s.
    assert_eq!(tail["video_frames"], 3);
    assert_eq!(tail["seconds"].as_f64(), Some(0.75));
    drop(b);
}

#[test]
fn wrong_key_makes_everything_foreign() {
    let f = fixture();
    let other = tempfile::tempdir().unwrap();
    let b = Builder::random(&other.path().join("store"));
    let (code, report) = verify(&f.root, &b.public_key, &[]);
    assert_eq!(code, 1);
    let segments = report["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 6);
    assert!(
        segments.iter().all(|s| s["status"] == "FOREIGN"),
        "{report:#}"
    );
    assert_eq!(report["audit"]["status"], "FOREIGN");
    assert_eq!(report["media_head"]["status"], "FOREIGN");
    assert!(
        report["key"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("names another device")
    );
}

#[test]
fn early_failure_is_not_outweighed_by_many_good_segments() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    let rec = b.recording(30);
    let key = b.public_key.clone();
    b.shutdown();
    flip(&seg(&root, &rec, 1, "ts"), 200);
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    assert_eq!(status(&report, &rec, 1), "TAMPERED");
    others_ok(&report, &[(&rec, 1)]);
    assert_eq!(report["failures"].as_array().unwrap().len(), 1);
    assert!(report["verdict"].as_str().unwrap().starts_with("FAILED"));
}

#[test]
fn usage_errors_exit_2() {
    let f = fixture();
    let root = f.root.as_os_str();
    let dir = f.root.parent().unwrap();
    let no_such = dir.join("no-such-store");
    let bad_identity = dir.join("bad-identity.json");
    std::fs::write(&bad_identity, "{\"format\": \"x\"}").unwrap();
    let not_json = dir.join("head.txt");
    std::fs::write(&not_json, "not a head statement").unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let recording = f.root.join("recordings").join(&f.rec[0]);
    let not_hex = "zz".repeat(32);
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![no_such.as_os_str(), OsStr::new("--key"), OsStr::new(&f.key)],
        vec![root, OsStr::new("--key"), OsStr::new("abcd")],
        vec![root, OsStr::new("--key"), OsStr::new(&not_hex)],
        vec![root, OsStr::new("--identity"), bad_identity.as_os_str()],
        vec![root, OsStr::new("--identity"), no_such.as_os_str()],
        vec![
            root,
            OsStr::new("--key"),
            OsStr::new(&f.key),
            OsStr::new("--head"),
            no_such.as_os_str(),
        ],
        vec![
            root,
            OsStr::new("--key"),
            OsStr::new(&f.key),
            OsStr::new("--head"),
            not_json.as_os_str(),
        ],
        vec![
            recording.as_os_str(),
            OsStr::new("--key"),
            OsStr::new(&f.key),
            OsStr::new("--head"),
            not_json.as_os_str(),
        ],
        vec![empty.as_os_str(), OsStr::new("--key"), OsStr::new(&f.key)],
        vec![
            root,
            OsStr::new("--key"),
            OsStr::new(&f.key),
            OsStr::new("--identity"),
            bad_identity.as_os_str(),
        ],
    ];
    for args in cases {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stdout} {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(!stderr.is_empty());
    }
    // No key and no keys/identity.json in the store.
    std::fs::remove_file(f.root.join("keys/identity.json")).unwrap();
    let (code, _, stderr) = run(&[root]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--key"), "{stderr}");
}

#[test]
fn dropped_first_segment_leaves_the_chain_without_its_start() {
    let f = fixture();
    for ext in ["ts", "journal", "json"] {
        std::fs::remove_file(seg(&f.root, &f.rec[0], 1, ext)).unwrap();
    }
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 1), "MISSING");
    let gaps = chain_problems(&report, "gap");
    assert_eq!(gaps.len(), 1, "{report:#}");
    assert_eq!(gaps[0]["from"], 0);
    assert!(gaps[0]["after"].is_null());
}

#[test]
fn journal_without_media_is_missing() {
    let f = fixture();
    std::fs::remove_file(seg(&f.root, &f.rec[1], 1, "ts")).unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[1], 1), "MISSING");
    assert_eq!(findings(&report, &f.rec[1], 1, "files").len(), 1);
}

/// `evidence/media.head` is written atomically after each final record: absent (or,
/// after a power cut on some filesystems, empty) it confirms nothing and fails nothing.
#[test]
fn absent_or_empty_media_head_is_not_a_failure() {
    let f = fixture();
    let head = f.root.join("evidence/media.head");
    std::fs::write(&head, b"").unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["media_head"]["present"], false);
    std::fs::remove_file(&head).unwrap();
    let (code, _) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 0);
    // Garbage in it is not a record: TAMPERED.
    std::fs::write(&head, b"garbage").unwrap();
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["media_head"]["status"], "TAMPERED");
}
