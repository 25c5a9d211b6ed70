#![no_main]
//! Fuzz target `agent_answers`: see `bodycam::fuzzing::agent_answers` and docs/FUZZING.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodycam::fuzzing::agent_answers(data));
