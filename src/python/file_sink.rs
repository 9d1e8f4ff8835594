//! A sink that writes to a Python file object from the calling thread.
//!
//! The archive writer runs with the GIL released; each call here re-attaches
//! to the interpreter just for the Python call. A Python exception is kept
//! whole and re-raised by the binding instead of the placeholder io error.

use std::io;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyTypeMethods};

use crate::sink::Sink;

/// Writes to `file.write`, patches with `seek`/`write`/`seek` like zipfile.
pub struct PyFileSink {
    file: Py<PyAny>,
    /// zipfile wraps unseekable outputs in `_Tellable`, which adds up what
    /// `write` returns, so a `write` returning None fails there with
    /// TypeError. Kept, because parity suites compare exceptions.
    count_returns: bool,
    error: Option<PyErr>,
}

impl PyFileSink {
    /// A sink over `file`; `tellable` when its `tell()` worked, so zipfile
    /// used it directly rather than through `_Tellable`.
    pub fn new(file: Py<PyAny>, tellable: bool) -> Self {
        PyFileSink {
            file,
            count_returns: !tellable,
            error: None,
        }
    }

    /// The Python exception behind the last failure, if any.
    pub fn take_error(&mut self) -> Option<PyErr> {
        self.error.take()
    }

    fn keep(&mut self, r: PyResult<()>) -> io::Result<()> {
        r.map_err(|e| {
            self.error = Some(e);
            io::Error::other("Python file object raised")
        })
    }

    /// One `write` call, as zipfile makes it: the return value is ignored,
    /// except that `_Tellable` adds it to an int (so None or a str fails
    /// there with TypeError).
    fn write_py(&self, py: Python<'_>, buf: &[u8]) -> PyResult<()> {
        let n = self
            .file
            .bind(py)
            .call_method1("write", (PyBytes::new(py, buf),))?;
        if self.count_returns && !n.is_instance_of::<PyInt>() && !n.is_instance_of::<PyFloat>() {
            return Err(PyTypeError::new_err(format!(
                "unsupported operand type(s) for +=: 'int' and '{}'",
                n.get_type().name()?
            )));
        }
        Ok(())
    }
}

impl Sink for PyFileSink {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let r = Python::attach(|py| self.write_py(py, buf));
        self.keep(r)
    }

    fn patch(&mut self, pos: u64, buf: &[u8]) -> io::Result<()> {
        let r = Python::attach(|py| {
            let file = self.file.bind(py);
            let end = file.call_method0("tell")?;
            file.call_method1("seek", (pos,))?;
            self.write_py(py, buf)?;
            file.call_method1("seek", (end,))?;
            Ok(())
        });
        self.keep(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = Python::attach(|py| self.file.bind(py).call_method0("flush").map(|_| ()));
        self.keep(r)
    }

    fn rewind(&mut self, pos: u64) -> io::Result<()> {
        let r = Python::attach(|py| {
            let file = self.file.bind(py);
            file.call_method1("seek", (pos,))?;
            file.call_method0("truncate")?;
            Ok(())
        });
        self.keep(r)
    }
}
