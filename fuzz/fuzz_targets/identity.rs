#![no_main]
//! Fuzz target `identity`: see `bodycam::fuzzing::identity` and docs/FUZZING.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodycam::fuzzing::identity(data));
