#![no_main]
//! Fuzz target `ts_scan`: see `bodycam::fuzzing::ts_scan` and docs/FUZZING.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodycam::fuzzing::ts_scan(data));
