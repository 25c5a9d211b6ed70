#![no_main]
//! Fuzz target `audit_log`: see `bodycam::fuzzing::audit_log` and docs/FUZZING.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodycam::fuzzing::audit_log(data));
