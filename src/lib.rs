//! fastnpz: numpy's `savez_compressed` and `savez`, written by a parallel
//! Rust core.
//!
//! The data path, one module each: `member` (an array's bytes, borrowed)
//! → `chunk` (4 MiB pieces of a member's `.npy` stream) → `encode` (one
//! chunk, raw deflate, by the engine `encode::policy` picks) → `write` (a
//! worker pool compresses, the zip writer appends in order) → `zip::records`
//! → `sink` (a file, or a Python file object). `npy` builds the `.npy`
//! header. None of it uses Python types; with the `python` feature, the
//! `python` module binds it: it borrows numpy buffers, releases the GIL and
//! maps errors to Python exceptions. numpy's argument semantics live in the
//! Python package (`python/fastnpz`).

pub mod chunk;
pub mod encode;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod inflate;
pub mod member;
pub mod npy;
pub mod pool;
pub mod read;
pub mod sink;
pub mod source;
pub mod write;
pub mod zip;

#[cfg(feature = "python")]
mod python;
