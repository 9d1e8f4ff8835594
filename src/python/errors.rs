//! Mapping the core's errors to the Python exceptions numpy users expect.

use std::io;

use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::chunk::ChunkError;
use crate::encode::EncodeError;
use crate::pool::Panicked;
use crate::write::Error;

/// `OSError(errno, strerror[, filename])`, which Python turns into the
/// matching subclass (FileNotFoundError, IsADirectoryError, ...).
pub fn os_error(e: &io::Error, filename: Option<&Bound<'_, PyAny>>) -> PyErr {
    match e.raw_os_error() {
        Some(code) => {
            let text = e.to_string();
            let strerror = text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text)
                .to_owned();
            match filename {
                Some(f) => PyOSError::new_err((code, strerror, f.clone().unbind())),
                None => PyOSError::new_err((code, strerror)),
            }
        }
        None => PyOSError::new_err(e.to_string()),
    }
}

/// The exception for a failed write. `stopped` is what made the caller's
/// tick stop the write (a signal, a failing progress callback), if it did.
pub fn write_error(e: Error, stopped: Option<PyErr>) -> PyErr {
    match (e, stopped) {
        (_, Some(reason)) => reason,
        (Error::Sink(io), None) => os_error(&io, None),
        (Error::Chunk(ChunkError::Layout(layout)), None) => {
            PyValueError::new_err(layout.to_string())
        }
        (Error::Chunk(ChunkError::Encode(EncodeError::Engine(m))), None)
            if m.contains("allocate") =>
        {
            PyMemoryError::new_err(m)
        }
        (other, None) => PyRuntimeError::new_err(other.to_string()),
    }
}

/// The exception for a reading worker thread that died outside its job: a
/// bug in fastnpz, reported like a failed write's worker panic rather than
/// as a fallback, since the results the thread held are lost.
pub fn worker_panic(p: Panicked) -> PyErr {
    PyRuntimeError::new_err(Error::from(p).to_string())
}
