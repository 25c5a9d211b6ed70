#![no_main]
//! Fuzz target `recovery`: see `bodycam::fuzzing::recovery` and docs/FUZZING.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodycam::fuzzing::recovery(data));
