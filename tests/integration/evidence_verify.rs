//! `bodycam verify` against real stores built through the library: golden vectors, the tamper matrix, recovery, usage errors.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::evidence::{Builder, files_below, golden_dir, records_of_kind, seg};
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

/// Without `--key`/`--identity` the store is checked against its own
/// `keys/identity.json`: the report is complete but says the key was not independently
/// supplied, and the exit code is 3, not 0 (a script that only looks at the exit code
/// must not accept a store someone re-signed with a new key). `--trust-store-key`
/// accepts that key for those who mean it.
#[test]
fn verify_without_an_identity_is_not_confirmed_and_exits_3() {
    let f = fixture();
    let json = |extra: &[&OsStr]| {
        let mut args = vec![f.root.as_os_str(), OsStr::new("--json")];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = run(&args);
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
        (code, report)
    };
    let (code, report) = json(&[]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["verifies"], true);
    assert_eq!(report["key"]["source"], "store");
    assert_eq!(report["key"]["independently_supplied"], false);
    assert_eq!(report["key"]["accepted"], false);
    // Verified in full all the same.
    assert_eq!(report["segments"].as_array().unwrap().len(), 6);
    others_ok(&report, &[]);
    assert_eq!(report["audit"]["status"], "OK");
    let verdict = report["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("NOT CONFIRMED"), "{verdict}");
    assert!(verdict.contains("not independently supplied"), "{verdict}");
    // The human report says the same, with the same exit code.
    let (code, stdout, _) = run(&[f.root.as_os_str()]);
    assert_eq!(code, 3);
    assert!(stdout.contains("VERDICT: NOT CONFIRMED"), "{stdout}");

    let (code, report) = json(&[OsStr::new("--trust-store-key")]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["key"]["accepted"], true);
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
    let (code, report) = json(&[OsStr::new("--identity"), id.as_os_str()]);
    assert_eq!(code, 0);
    assert_eq!(report["key"]["source"], "identity_file");
    assert_eq!(report["key"]["independently_supplied"], true);
    // --trust-store-key means nothing next to a key: a usage error.
    let (code, _, stderr) = run(&[
        f.root.as_os_str(),
        OsStr::new("--trust-store-key"),
        OsStr::new("--key"),
        OsStr::new(&f.key),
    ]);
    assert_eq!(code, 2, "{stderr}");
    // Something that does not verify is exit 1 whatever the key's source.
    flip(&seg(&f.root, &f.rec[0], 1, "ts"), 500);
    assert_eq!(json(&[]).0, 1);
    assert_eq!(json(&[OsStr::new("--trust-store-key")]).0, 1);
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

/// FOREIGN needs a signature that verifies under another key supplied; a record that
/// verifies under no key is TAMPERED, whatever device id it claims.
#[test]
fn segment_signed_by_another_key_is_foreign_when_that_key_is_supplied() {
    let f = fixture();
    let other_dir = tempfile::tempdir().unwrap();
    let other = other_dir.path().join("store");
    let mut b = Builder::random(&other);
    b.recording(3);
    let other_rec = b.recordings[0].clone();
    let other_key = b.public_key.clone();
    b.shutdown();
    // Same clocks, so the same recording id: only the key differs.
    assert_eq!(other_rec, f.rec[0]);
    copy_segment((&other, &other_rec, 2), (&f.root, &f.rec[0], 2));
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 2), "TAMPERED", "{report:#}");
    let with_other = [OsStr::new("--other-key"), OsStr::new(&other_key)];
    let (code, report) = verify(&f.root, &f.key, &with_other);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[0], 2), "FOREIGN");
    let sig = findings(&report, &f.rec[0], 2, "signature");
    assert_eq!(sig[0]["status"], "FOREIGN");
    assert!(sig[0]["message"].as_str().unwrap().contains("--other-key"));
    others_ok(&report, &[(&f.rec[0], 2)]);
    // An identity file does the same.
    let id = other_dir.path().join("other.json");
    std::fs::copy(other.join("keys/identity.json"), &id).unwrap();
    let (_, report) = verify(
        &f.root,
        &f.key,
        &[OsStr::new("--other-identity"), id.as_os_str()],
    );
    assert_eq!(status(&report, &f.rec[0], 2), "FOREIGN");
}

/// Flipping a bit of the device id inside a record breaks its signature like any other
/// bit: TAMPERED, not relabelled FOREIGN by the altered id.
#[test]
fn flipped_device_id_bit_is_tampered_not_foreign() {
    let f = fixture();
    let journal = seg(&f.root, &f.rec[1], 1, "journal");
    let recs = records(&journal);
    // device_id follows magic, length, version and kind.
    flip(&journal, recs[0].len() + 8 + 2 + 3);
    let (code, report) = verify(&f.root, &f.key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &f.rec[1], 1), "TAMPERED", "{report:#}");
    let sig = findings(&report, &f.rec[1], 1, "signature");
    assert_eq!(sig.len(), 1);
    assert_eq!(sig[0]["status"], "TAMPERED");
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

// ---------------------------------------------------------------------------------------
// Spec gaps closed (docs/EVIDENCE-FORMAT.md): one test per verdict that changed.

/// Re-sign `body` with the store's own device key (`Builder::random` keeps it in
/// `keys/device.pk8`): a record the device could have signed.
fn signed_by_store_key(root: &Path, body: &[u8]) -> Vec<u8> {
    let id = bodycam::evidence::identity::Identity::load(&root.join("keys")).unwrap();
    record::seal(id.key(), body)
}

/// Replace record `index` of `journal` by `body` signed with the store's key.
fn replace_record(root: &Path, journal: &Path, index: usize, body: &[u8]) {
    let mut recs = records(journal);
    recs[index] = signed_by_store_key(root, body);
    std::fs::write(journal, recs.concat()).unwrap();
}

fn body_of(rec: &[u8]) -> Vec<u8> {
    record::parse(rec).unwrap().body().to_vec()
}

/// §3.1/§3.3: a signed record with an undefined `clock` or `end_reason` is not a record
/// of the format: TAMPERED, like an unknown kind.
#[test]
fn undefined_clock_or_end_reason_is_tampered() {
    for (what, patch) in [
        (
            "clock",
            Box::new(|b: &mut Vec<u8>| b[66] = 3) as Box<dyn Fn(&mut Vec<u8>)>,
        ),
        // A final without markers ends: end_reason u8, marker_count u16, sidecar hash.
        (
            "end_reason",
            Box::new(|b: &mut Vec<u8>| {
                let at = b.len() - 32 - 2 - 1;
                b[at] = 0;
            }),
        ),
        (
            "end_reason",
            Box::new(|b: &mut Vec<u8>| {
                let at = b.len() - 32 - 2 - 1;
                b[at] = 7;
            }),
        ),
    ] {
        let f = fixture();
        let journal = seg(&f.root, &f.rec[0], 3, "journal");
        let recs = records(&journal);
        let last = recs.len() - 1;
        let mut body = body_of(&recs[last]);
        patch(&mut body);
        replace_record(&f.root, &journal, last, &body);
        let (code, report) = verify(&f.root, &f.key, &[]);
        assert_eq!(code, 1);
        assert_eq!(
            status(&report, &f.rec[0], 3),
            "TAMPERED",
            "{what}: {report:#}"
        );
        let parse = findings(&report, &f.rec[0], 3, "parse");
        assert!(
            parse[0]["message"].as_str().unwrap().contains(what),
            "{what}: {parse:?}"
        );
    }
}

/// Append an audit record with any event and detail, signed in the chain by the
/// builder's signer.
fn append_audit(b: &mut Builder, event: &str, detail: &str) {
    use bodycam::evidence::payload::{Audit, Payload};
    use std::io::Write;
    let rec = b.signer.sign_audit(&Payload::Audit(Audit {
        event: event.into(),
        detail: detail.into(),
    }));
    std::fs::OpenOptions::new()
        .append(true)
        .open(b.root.join("evidence/audit.log"))
        .unwrap()
        .write_all(&rec)
        .unwrap();
}

/// §3.5/§7.7: an audit detail must be a JSON object, and a known event's detail must
/// match its definition (TAMPERED; the entry keeps its place in the chain). An event
/// this verifier does not know is reported, not failed: a later firmware may add events.
#[test]
fn audit_details_are_checked_and_unknown_events_reported() {
    let store = |event: &str, detail: &str| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let mut b = Builder::random(&root);
        b.recording(1);
        append_audit(&mut b, event, detail);
        let key = b.public_key.clone();
        b.shutdown();
        let (code, report) = verify(&root, &key, &[]);
        (dir, code, report)
    };
    for (detail, says) in [
        ("[1, 2]", "not a JSON object"),
        ("\"on\"", "not a JSON object"),
        ("not json", "not a JSON object"),
        (r#"{"on": "yes"}"#, "does not match its definition"),
    ] {
        let (_dir, code, report) = store("stealth", detail);
        assert_eq!(code, 1, "{detail}: {report:#}");
        let audit = &report["audit"];
        assert_eq!(audit["status"], "TAMPERED", "{detail}");
        let f = &audit["findings"][0];
        assert_eq!(f["check"], "audit_event");
        assert!(f["message"].as_str().unwrap().contains(says), "{f}");
        // Signed and linked: no gap in the chain.
        assert_eq!(audit["problems"], serde_json::json!([]), "{detail}");
        assert_eq!(audit["verified"], audit["entries"]);
    }
    // A recording_stop whose detail cannot be read cannot hide behind it.
    let (_dir, code, report) = store(
        "recording_stop",
        r#"{"recording_id": "x", "segments": "two"}"#,
    );
    assert_eq!(code, 1);
    assert_eq!(report["audit"]["status"], "TAMPERED");
    // Unknown event: reported, not a failure.
    let (_dir, code, report) = store("teleported", r#"{"to": "mars"}"#);
    assert_eq!(code, 0, "{report:#}");
    let unknown = report["audit"]["unknown_events"].as_array().unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0]["event"], "teleported");
    assert_eq!(unknown[0]["detail"]["to"], "mars");
}

/// §7 audit log: a power cut during an append leaves the start of the next entry:
/// TORN_TAIL, which passes (nothing signed is lost). Bytes that are not the start of the
/// next entry stay TRUNCATED; a removed or altered verified entry stays MISSING or
/// TAMPERED whatever the tail.
#[test]
fn torn_audit_tail_has_its_own_status() {
    let cut = |keep: &dyn Fn(&[Vec<u8>]) -> Vec<u8>| {
        let f = fixture();
        let log = f.root.join("evidence/audit.log");
        let recs = records(&log);
        std::fs::write(&log, keep(&recs)).unwrap();
        let (code, report) = verify(&f.root, &f.key, &[]);
        (f, code, report)
    };
    for torn in [3usize, 7, 40, 170] {
        // The newest entry (the shutdown) cut short after `torn` bytes.
        let (_f, code, report) = cut(&|r: &[Vec<u8>]| {
            let n = r.len();
            [r[..n - 1].concat(), r[n - 1][..torn].to_vec()].concat()
        });
        assert_eq!(code, 0, "torn after {torn}: {report:#}");
        assert_eq!(report["audit"]["status"], "TORN_TAIL");
        assert_eq!(report["audit"]["torn_tail_bytes"], torn);
        assert!(report["verdict"].as_str().unwrap().contains("torn record"));
    }
    // A removed middle entry is still MISSING, torn tail or not.
    let (_f, code, report) = cut(&|r: &[Vec<u8>]| {
        let n = r.len();
        [
            r[..2].concat(),
            r[3..n - 1].concat(),
            r[n - 1][..40].to_vec(),
        ]
        .concat()
    });
    assert_eq!(code, 1);
    assert_eq!(report["audit"]["status"], "MISSING", "{report:#}");
    assert_eq!(report["audit"]["problems"][0]["kind"], "gap");
    // The start of an old entry after the last one is not a torn append.
    let (_f, code, report) = cut(&|r: &[Vec<u8>]| [r.concat(), r[0][..40].to_vec()].concat());
    assert_eq!(code, 1);
    assert_eq!(report["audit"]["status"], "TRUNCATED", "{report:#}");
    // An altered verified entry stays TAMPERED.
    let (_f, code, report) = cut(&|r: &[Vec<u8>]| {
        let mut all = r.concat();
        let at = all.len() - 70;
        all[at] ^= 1;
        all
    });
    assert_eq!(code, 1);
    assert_eq!(report["audit"]["status"], "TAMPERED");
}

/// A torn tail where a head statement says a whole entry was: the head catches it.
#[test]
fn torn_audit_tail_over_an_entry_a_head_counted_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.recording(1);
    let key = b.public_key.clone();
    let head = b.head_statement(b"n");
    b.shutdown();
    let file = dir.path().join("head.json");
    std::fs::write(&file, serde_json::to_vec(&head).unwrap()).unwrap();
    let log = root.join("evidence/audit.log");
    let recs = records(&log);
    // Keep up to the entry before the one the head names, then 40 bytes of it.
    let k = usize::try_from(head.audit_count).unwrap() - 1;
    std::fs::write(&log, [recs[..k].concat(), recs[k][..40].to_vec()].concat()).unwrap();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 0, "without a head this is a torn append: {report:#}");
    assert_eq!(report["audit"]["status"], "TORN_TAIL");
    let (code, report) = verify(&root, &key, &[OsStr::new("--head"), file.as_os_str()]);
    assert_eq!(code, 1);
    assert_eq!(report["head"]["status"], "MISSING", "{report:#}");
}

/// §7.5: OFFLOADED needs the dock's acknowledgement with the signed hash and a deletion
/// logged after it; a deletion logged before any acknowledgement is MISSING.
#[test]
fn offloaded_needs_the_acknowledgement_before_the_deletion() {
    for ack_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let mut b = Builder::random(&root);
        let rec = b.recording(1);
        let key = b.public_key.clone();
        let journal = seg(&root, &rec, 1, "journal");
        let last = records(&journal).pop().unwrap();
        let sha = match bodycam::evidence::payload::decode(record::parse(&last).unwrap())
            .unwrap()
            .payload
        {
            bodycam::evidence::payload::Payload::Final(f) => hex::encode(f.segment_sha256),
            other => panic!("{other:?}"),
        };
        let media = seg(&root, &rec, 1, "ts");
        let bytes = std::fs::metadata(&media).unwrap().len();
        std::fs::remove_file(&media).unwrap();
        let ack = AuditEvent::OffloadAck {
            recording_id: rec.clone(),
            segment: 1,
            blob: "dock/x".into(),
            sha256: sha,
        };
        let freed = AuditEvent::SegmentFreed {
            recording_id: rec.clone(),
            segment: 1,
            bytes,
        };
        if ack_first {
            b.log(ack);
            b.log(freed);
        } else {
            b.log(freed);
            b.log(ack);
        }
        b.shutdown();
        let (code, report) = verify(&root, &key, &[]);
        if ack_first {
            assert_eq!(code, 0, "{report:#}");
            assert_eq!(status(&report, &rec, 1), "OFFLOADED");
        } else {
            assert_eq!(code, 1);
            assert_eq!(status(&report, &rec, 1), "MISSING", "{report:#}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Declared inserted silence (issue 10): the sidecar's `audio_silence` against the media.

/// The declaration checks out: reported, checked, not a finding.
#[test]
fn declared_silence_that_matches_the_media_is_reported_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    let rec = b.recording_with_silence(8, 6, None, false);
    let key = b.public_key.clone();
    b.shutdown();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(status(&report, &rec, 1), "OK");
    let notes = &segment(&report, &rec, 1)["inserted_silence"];
    assert_eq!(notes[0]["frames"], 6, "{notes:#}");
    assert_eq!(notes[0]["checked"], true, "{notes:#}");
    assert_eq!(notes[0]["reason"], "pre_event_audio_disabled", "{notes:#}");
}

/// One frame of the declared span is not the declared silent frame (the store signed
/// it as written, so every hash and signature holds): TAMPERED by the silence check,
/// the span reported unchecked.
#[test]
fn a_changed_frame_in_the_declared_silence_is_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    let rec = b.recording_with_silence(8, 6, Some(3), false);
    let key = b.public_key.clone();
    b.shutdown();
    let (code, report) = verify(&root, &key, &[]);
    assert_ne!(code, 0, "{report:#}");
    assert_eq!(status(&report, &rec, 1), "TAMPERED", "{report:#}");
    let s = segment(&report, &rec, 1);
    let found: Vec<&str> = s["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["silence"], "only the silence check objects: {s:#}");
    let f = findings(&report, &rec, 1, "silence");
    assert_eq!(f[0]["status"], "TAMPERED");
    let msg = f[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("1 of them not the declared silent frame"),
        "{msg}"
    );
    assert_eq!(s["inserted_silence"][0]["checked"], false, "{s:#}");
    others_ok(&report, &[(&rec, 1)]);
}

/// A power cut inside the declared span: recovery copies the declaration from
/// recording.json into the first segment's sidecar, and the file holds only the span's
/// first frames. Fewer frames than declared is then expected, not tampering; a closed
/// segment with the same shortfall would be.
#[test]
fn a_recovered_first_segment_cut_inside_the_silence_is_not_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    let rec = b.recording_with_silence(7, 40, None, true);
    let b = b.restart();
    let key = b.public_key.clone();
    b.shutdown();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 0, "{report:#}");
    let s = segment(&report, &rec, 1);
    assert_eq!(s["end_reason"], "recovered", "{s:#}");
    assert_ne!(s["status"], "TAMPERED", "{s:#}");
    assert!(findings(&report, &rec, 1, "silence").is_empty(), "{s:#}");
    assert_eq!(s["inserted_silence"][0]["frames"], 40, "{s:#}");
    assert_eq!(s["inserted_silence"][0]["checked"], true, "{s:#}");

    // The same shortfall in a segment that was closed normally is TAMPERED.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    let rec = b.recording_with_silence(8, 40, None, false);
    let key = b.public_key.clone();
    b.shutdown();
    let (_, report) = verify(&root, &key, &[]);
    assert_eq!(status(&report, &rec, 1), "TAMPERED", "{report:#}");
    assert_eq!(findings(&report, &rec, 1, "silence").len(), 1);
}

/// A flipped byte in one plaintext location record (kind 5): its segment is TAMPERED
/// and that point leaves the track; the other points and segments stay.
#[test]
fn a_flipped_byte_in_a_location_record_is_tampered_and_leaves_the_track() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut b = Builder::random(&root);
    b.track = true;
    let rec = b.recording(3);
    let key = b.public_key.clone();
    b.shutdown();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 0, "{report:#}");
    let before = segment(&report, &rec, 2)["track"]
        .as_array()
        .unwrap()
        .clone();
    assert!(before.len() >= 2, "{report:#}");

    let journal = seg(&root, &rec, 2, "journal");
    let mut j = std::fs::read(&journal).unwrap();
    let locations = records_of_kind(&j, 5);
    assert_eq!(locations.len(), before.len());
    // A point with a fix; one byte of its record, before the signature's 64.
    let i = before.iter().position(|p| !p["lat"].is_null()).unwrap();
    let (at, len) = locations[i];
    j[at + len - 64 - 8] ^= 0x01;
    std::fs::write(&journal, &j).unwrap();
    let (code, report) = verify(&root, &key, &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&report, &rec, 2), "TAMPERED");
    others_ok(&report, &[(&rec, 2)]);
    let after = segment(&report, &rec, 2)["track"].as_array().unwrap();
    let mut want = before.clone();
    want.remove(i);
    assert_eq!(after[..], want[..], "{report:#}");
}
