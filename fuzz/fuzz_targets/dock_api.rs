#![no_main]
//! Fuzz target `dock_api`: see `bodycam::fuzzing::dock_api` and docs/FUZZING.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodycam::fuzzing::dock_api(data));
