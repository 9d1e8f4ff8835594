//! The Python binding: the extension module `fastnpz._fastnpz`.

mod borrow;
mod errors;
mod file_sink;
mod load;
mod save;
mod writer;

use pyo3::prelude::*;

/// The extension module `fastnpz._fastnpz`.
///
/// Declared GIL-free (PyO3's default since 0.28, spelled out): on
/// free-threaded CPython importing it leaves the GIL off. What was checked:
/// - Rust statics: atomics (`pool::ACTIVE_WORKERS`, the temporary file
///   counter in `sink::path_target`) and a `OnceLock` (the core count in
///   `pool::usable_cores`); everything else shared between threads is
///   behind a `Mutex`/`OnceLock` or an atomic, and no code uses
///   `Python<'py>` as a lock.
/// - The compressing and inflating already run detached (`py.detach`), i.e.
///   at the same time as any Python thread even with a GIL, so the unsafe
///   code's reasoning never relied on it: arrays being saved are pinned
///   (`borrow::pin_memory`) before their memory is borrowed, and may be
///   written meanwhile (`Span` only copies out); arrays being loaded are
///   the loader's own until returned.
/// - `Reader` and `Batch` are frozen (`&self` only). `ArchiveWriter` takes
///   `&mut self`: PyO3's borrow flag (atomic on free-threaded builds) makes
///   a second concurrent call raise RuntimeError, never race, and
///   `fastnpz.NpzWriter` serialises its calls with a lock anyway.
/// - Python-level state (python/fastnpz): options are a ContextVar plus a
///   locked process-wide value, numpy patching is locked, an NpzFile locks
///   its read-ahead; the `_DTYPES` cache races benignly (a duplicate
///   `numpy.dtype` of the same value).
#[pymodule(gil_used = false)]
fn _fastnpz(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<writer::ArchiveWriter>()?;
    m.add_class::<load::Reader>()?;
    m.add_class::<load::Batch>()?;
    m.add("CHUNK_SIZE", crate::chunk::CHUNK_SIZE)?;
    Ok(())
}
