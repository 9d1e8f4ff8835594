//! See `fastnpz::fuzzing::npy_header` for what is checked; `cargo test` replays
//! this target's corpus (`fuzz/corpus/npy_header`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fastnpz::fuzzing::npy_header(data));
