//! The fuzz corpora (`fuzz/corpus/<target>/`, docs/FUZZING.md) replayed through the same
//! entry points the fuzz targets call (`bodycam::fuzzing`), on the stable toolchain: every
//! saved input, crash regressions included, must pass the target's checks.

use std::path::{Path, PathBuf};

/// Every file of `fuzz/corpus/<target>/`, sorted; the corpus must not be empty.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", dir.display());
    files
}

/// Run every input of `target` through `entry`, naming the input that fails.
fn replay(target: &str, entry: fn(&[u8])) {
    for path in corpus(target) {
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
    }
}

#[test]
fn ts_scan() {
    replay("ts_scan", bodycam::fuzzing::ts_scan);
}

#[test]
fn journal() {
    replay("journal", bodycam::fuzzing::journal);
}

#[test]
fn audit_log() {
    replay("audit_log", bodycam::fuzzing::audit_log);
}

#[test]
fn recovery() {
    replay("recovery", bodycam::fuzzing::recovery);
}

#[test]
fn identity() {
    replay("identity", bodycam::fuzzing::identity);
}

#[test]
fn config() {
    replay("config", bodycam::fuzzing::config);
}

#[test]
fn dock_api() {
    replay("dock_api", bodycam::fuzzing::dock_api);
}

#[cfg(feature = "dock-agent")]
#[test]
fn agent_answers() {
    replay("agent_answers", bodycam::fuzzing::agent_answers);
}
