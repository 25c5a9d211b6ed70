#![no_main]
//! Fuzz target `config`: see `bodycam::fuzzing::config` and docs/FUZZING.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodycam::fuzzing::config(data));
