//! `bodycam verify`: checks a store, a recording or a segment against
//! docs/EVIDENCE-FORMAT.md section 7 and reports per segment.

use std::path::Path;

/// Entry point of `bodycam verify`; returns the exit code (0 ok, 1 problems, 2 usage).
pub fn main(
    path: &Path,
    key: Option<&str>,
    identity: Option<&Path>,
    head: Option<&Path>,
    json: bool,
) -> i32 {
    let _ = (path, key, identity, head, json);
    eprintln!("bodycam verify: not implemented yet");
    crate::exit::FAILURE
}
