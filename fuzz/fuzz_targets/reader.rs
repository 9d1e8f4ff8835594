//! See `fastnpz::fuzzing::reader` for what is checked; `cargo test` replays
//! this target's corpus (`fuzz/corpus/reader`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fastnpz::fuzzing::reader(data));
