#![no_main]
//! Fuzz target `journal`: see `bodycam::fuzzing::journal` and docs/FUZZING.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodycam::fuzzing::journal(data));
