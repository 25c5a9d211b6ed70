//! docs/EVIDENCE-FORMAT.md section 9 is enough to decrypt in another language: the
//! independent Python decrypter `scripts/spec-check/decrypt_sealed.py`, written from the
//! spec alone (Python's standard library and PyPI's `cryptography`, nothing of bodycam),
//! opens the golden sealed store and a real encrypted recording, and agrees with the
//! plain golden media, the golden vectors and `bodycam export` byte for byte. If the
//! spec and the code disagree, these fail.
//!
//! The decrypter runs in the venv `scripts/setup.sh` installs
//! (`$XDG_CACHE_HOME/bodycam-spec-check-venv`, or `$BODYCAM_SPEC_PYTHON`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::footage::footage_key;
use crate::common::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The python of the spec-check venv; panics saying how to install it.
fn spec_python() -> PathBuf {
    if let Some(p) = std::env::var_os("BODYCAM_SPEC_PYTHON") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    let py = cache.join("bodycam-spec-check-venv/bin/python3");
    assert!(
        py.exists(),
        "{} is missing: run `. scripts/setup.sh && bodycam_setup` (or set BODYCAM_SPEC_PYTHON \
         to a python with PyPI's cryptography)",
        py.display()
    );
    py
}

fn decrypt_sealed(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(spec_python())
        .arg(root().join("scripts/spec-check/decrypt_sealed.py"))
        .args(args)
        .output()
        .expect("run decrypt_sealed.py")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The committed test footage key, copied to an owner-only file (git keeps no modes).
fn golden_footage_key(tmp: &Path) -> PathBuf {
    let p = tmp.join("footage-test.key");
    std::fs::copy(root().join("tests/data/golden-sealed/footage-test.key"), &p).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    p
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

#[test]
fn python_decrypter_written_from_the_spec_opens_the_golden_sealed_store_and_its_vectors_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let key = golden_footage_key(tmp.path());
    let sealed = root().join("tests/data/golden-sealed");
    let o = decrypt_sealed(&[
        "--store".as_ref(),
        sealed.join("store").as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
        "--expect-plain".as_ref(),
        root().join("tests/data/golden/store").as_os_str(),
        "--vectors".as_ref(),
        sealed.join("vectors.json").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("all 2 segments decrypted and checked"),
        "{out}"
    );
    // Every value the decrypter computes is listed in the vectors (19 a segment).
    assert!(out.contains("vectors: 38 values checked"), "{out}");

    // It is not a decrypter that accepts anything: one byte of a chunk's ciphertext
    // flipped (in a copy whose hashes are then wrong too), and it fails.
    let copy = tmp.path().join("store");
    copy_dir(&sealed.join("store"), &copy);
    let ts = copy.join("recordings/20260101T000000Z/000002.ts");
    let mut bytes = std::fs::read(&ts).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&ts, &bytes).unwrap();
    let o = decrypt_sealed(&[
        "--store".as_ref(),
        copy.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("FAIL 20260101T000000Z/000002") && out.contains("ok 20260101T000000Z/000001"),
        "{out}"
    );
}

#[test]
fn python_decrypter_written_from_the_spec_agrees_with_bodycam_export_on_a_real_recording() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    // Pre-event footage of more than 1 MiB (sealed in several chunks under its one
    // checkpoint), several segments, a marker.
    let mut d = Daemon::new(&format!(
        "[evidence]\nencryption = \"required\"\nrecipients = [\"{}\"]\n\
         [camera]\npattern = \"snow\"\nwidth = 320\nheight = 240\nbitrate_kbps = 6000\n\
         [recording]\npre_event_seconds = 3\n",
        public.display()
    ));
    d.spawn();
    d.wait_state("ready", Duration::from_secs(30));
    wait_secs(3.5);
    d.ctl_ok(&["record", "start"]);
    d.wait_for("footage", Duration::from_secs(60), |s| {
        s["seconds_recorded"].as_f64() > Some(4.5)
    });
    d.ctl_ok(&["marker"]);
    d.wait_for("footage", Duration::from_secs(60), |s| {
        s["seconds_recorded"].as_f64() > Some(7.5)
    });
    d.ctl_ok(&["record", "stop"]);
    d.wait_state("ready", Duration::from_secs(20));
    assert!(d.signal(libc::SIGTERM).success(), "{}", d.log_text());

    let work = tempfile::tempdir().unwrap();
    let py_out = work.path().join("python");
    let o = decrypt_sealed(&[
        "--store".as_ref(),
        d.data.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
        "--out".as_ref(),
        py_out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // The first segment has more chunks than checkpoints: the pre-event footage was
    // cut at 1 MiB, and the decrypter checked the checkpoint over several chunks.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let first = stdout
        .lines()
        .find(|l| l.starts_with("ok ") && l.contains("/000001:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let n: Vec<u64> = first
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        n[0] > n[1],
        "more chunks than checkpoints in segment 1: {first}"
    );

    let out = work.path().join("export");
    let e = Command::new(BIN)
        .arg("export")
        .arg("--key")
        .arg(&key)
        .arg(&d.data)
        .arg("--out")
        .arg(&out)
        .args(["--trust-store-key", "--thumbnail-seconds", "0"])
        .output()
        .unwrap();
    assert!(e.status.success(), "{}", text(&e));
    let r: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let rec = &r["recordings"][0];
    let rec_id = rec["recording_id"].as_str().unwrap();
    let segs = rec["segments"].as_array().unwrap();
    assert!(segs.len() >= 3, "{r:#}");
    let mut chunks = 0;
    for s in segs {
        let seq = s["segment"].as_u64().unwrap();
        let exported = std::fs::read(out.join(s["exported"]["file"].as_str().unwrap())).unwrap();
        let python = std::fs::read(py_out.join(rec_id).join(format!("{seq:06}.ts"))).unwrap();
        assert!(
            exported == python,
            "segment {seq}: bodycam export and the Python decrypter disagree ({} vs {} bytes)",
            exported.len(),
            python.len()
        );
        let side: Value = serde_json::from_slice(
            &std::fs::read(d.recordings()[0].join(format!("{seq:06}.json"))).unwrap(),
        )
        .unwrap();
        chunks += side["encryption"]["chunks"].as_u64().unwrap();
    }
    // Real chunking: about one chunk a second, not one per segment.
    assert!(chunks as usize > segs.len(), "{r:#}");
}

/// Section 10.1.1 is enough too: the Python decrypter opens the sealed location
/// records of an encrypted store, and its samples are, field for field, the ones the
/// camera signed and the ones `bodycam export` writes.
#[test]
fn python_decrypter_opens_the_sealed_location_track_as_bodycam_export_does() {
    use crate::common::evidence::{Builder, track_sample};
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = footage_key(keys.path(), "agency");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let mut b = Builder::random(&store);
    b.encrypt_to(std::slice::from_ref(&public), None);
    b.track = true;
    b.recording(3);
    b.shutdown();

    let track_path = tmp.path().join("track.json");
    let o = decrypt_sealed(&[
        "--store".as_ref(),
        store.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
        "--track-out".as_ref(),
        track_path.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let py: Vec<Value> = serde_json::from_slice(&std::fs::read(&track_path).unwrap()).unwrap();
    assert!(py.len() >= 5, "{py:?}");
    for (i, p) in py.iter().enumerate() {
        let pts = p["pts_90k"].as_u64().unwrap();
        assert_eq!((pts - 180_000) % 90_000, 0, "{p}");
        let f = track_sample((pts - 180_000) / 90_000);
        let quality = match f.quality {
            bodycam::location::FixQuality::NoFix => 0,
            bodycam::location::FixQuality::Fix2d => 2,
            bodycam::location::FixQuality::Fix3d => 3,
        };
        let want = serde_json::json!({
            "quality": quality, "fix_utc_ms": f.fix_utc_ms, "lat_e7": f.lat_e7,
            "lon_e7": f.lon_e7, "alt_cm": f.alt_cm, "h_acc_cm": f.h_acc_cm,
            "v_acc_cm": f.v_acc_cm, "source": f.source,
        });
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&p[k], v, "sample {i}, {k}: {p}");
        }
    }

    // bodycam export opens the same samples.
    let out = tmp.path().join("out");
    let e = Command::new(BIN)
        .arg("export")
        .arg("--key")
        .arg(&key)
        .arg(&store)
        .arg("--out")
        .arg(&out)
        .arg("--trust-store-key")
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap())
        .unwrap_or_else(|_| panic!("{}", text(&e)));
    let exported: Vec<(u64, Value)> = r["recordings"][0]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            let seq = s["segment"].as_u64().unwrap();
            s["track"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |p| (seq, p))
        })
        .collect();
    assert_eq!(exported.len(), py.len(), "{r:#}");
    for ((seq, x), p) in exported.iter().zip(&py) {
        assert_eq!(Some(*seq), p["segment"].as_u64(), "{p}");
        let secs = (p["pts_90k"].as_f64().unwrap() - 180_000.0) / 90_000.0;
        assert!(
            (x["seconds"].as_f64().unwrap() - secs).abs() < 1e-9,
            "{x} {p}"
        );
        match x["lat"].as_f64() {
            Some(lat) => {
                assert_eq!((lat * 1e7).round() as i64, p["lat_e7"].as_i64().unwrap());
                let lon = x["lon"].as_f64().unwrap();
                assert_eq!((lon * 1e7).round() as i64, p["lon_e7"].as_i64().unwrap());
            }
            None => assert_eq!(p["quality"], 0, "{x} {p}"),
        }
    }

    // One sealed byte flipped, signature left as it is: the Python decrypter refuses
    // the record (its signature no longer verifies), as the verifier does.
    let rec = std::fs::read_dir(store.join("recordings"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let journal = rec.join("000001.journal");
    let mut j = std::fs::read(&journal).unwrap();
    let (at, len) = crate::common::evidence::records_of_kind(&j, 6)[0];
    j[at + len - 64 - 5] ^= 0x01;
    std::fs::write(&journal, &j).unwrap();
    let o = decrypt_sealed(&[
        "--store".as_ref(),
        store.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}
