//! fastnpz: numpy's `savez_compressed`, written by a parallel Rust core.
//!
//! The core (`npy_header`, `member`, `chunk`, `deflate`, `zip_record`,
//! `sink`, `archive`) has no Python types in it. With the `python` feature
//! this file binds it: it borrows numpy buffers, releases the GIL around the
//! archive writer and maps errors to Python exceptions. numpy's argument
//! semantics live in the Python package (`python/fastnpz`).

pub mod archive;
pub mod chunk;
pub mod deflate;
pub mod huffman;
pub mod lz77;
pub mod member;
pub mod npy_header;
pub mod sink;
pub mod zip_record;

#[cfg(feature = "python")]
mod py_sink;

#[cfg(feature = "python")]
mod binding {
    use std::io;
    use std::time::{Duration, Instant};

    use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
    use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
    use pyo3::prelude::*;
    use pyo3::pybacked::PyBackedBytes;
    use pyo3::types::PyBytes;

    use crate::archive::{self, Options, Start};
    use crate::deflate::Compression;
    use crate::member::{Data, Member, Strided};
    use crate::npy_header as header;
    use crate::py_sink::PyFileSink;
    use crate::sink::{Buffered, FileSink, PathTarget, Sink};

    /// Coalesce writes to this size before handing them to the output.
    const WRITE_BUFFER: usize = 1 << 20;
    /// How often a long write checks for Ctrl-C.
    const SIGNAL_INTERVAL: Duration = Duration::from_millis(50);

    /// Build a `.npy` header the way numpy does; returns (bytes, major version).
    #[pyfunction]
    fn npy_header<'py>(
        py: Python<'py>,
        descr_repr: &str,
        fortran_order: bool,
        shape: Vec<u64>,
    ) -> PyResult<(Bound<'py, PyBytes>, u8)> {
        let (bytes, version) = header::build_header(descr_repr, fortran_order, &shape)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((PyBytes::new(py, &bytes), version.as_tuple().0))
    }

    /// One member as the Python layer hands it over: encoded name, UTF-8
    /// flag, `.npy` header, and the payload (an ndarray, or pickle bytes).
    type MemberArg<'py> = (Vec<u8>, bool, Vec<u8>, Bound<'py, PyAny>);

    /// What a payload borrows from while the GIL is released.
    enum Payload<'py> {
        Array(Bound<'py, PyUntypedArray>),
        Bytes(PyBackedBytes),
    }

    fn payload<'py>(obj: Bound<'py, PyAny>) -> PyResult<Payload<'py>> {
        match obj.cast_into::<PyUntypedArray>() {
            Ok(arr) => Ok(Payload::Array(arr)),
            Err(e) => Ok(Payload::Bytes(e.into_inner().extract()?)),
        }
    }

    /// Borrow an array's memory without copying.
    fn borrow_array<'a>(arr: &'a Bound<'_, PyUntypedArray>) -> PyResult<Data<'a>> {
        let itemsize = arr.dtype().itemsize();
        let shape = arr.shape();
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .ok_or_else(|| PyValueError::new_err("array too large"))?;
        let nbytes = count
            .checked_mul(itemsize)
            .ok_or_else(|| PyValueError::new_err("array too large"))?;
        if nbytes == 0 {
            return Ok(Data::Contiguous(&[]));
        }
        // SAFETY: `arr` is a live ndarray held by the caller for 'a, so the
        // PyArrayObject it points to is valid to read.
        let base = unsafe { (*arr.as_array_ptr()).fields.data } as *const u8;
        if arr.is_c_contiguous() || arr.is_fortran_contiguous() {
            // SAFETY: a contiguous ndarray owns (or views) `nbytes` readable
            // bytes from its data pointer, and the caller keeps the array
            // alive for 'a. Another thread may still write to them, exactly
            // as it may while numpy itself saves the array.
            let bytes = unsafe { std::slice::from_raw_parts(base, nbytes) };
            return Ok(Data::Contiguous(bytes));
        }
        let strides = arr.strides();
        let (mut lo, mut hi) = (0isize, 0isize);
        for (&n, &s) in shape.iter().zip(strides) {
            let reach = (n as isize - 1) * s;
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        let span_len = (hi - lo) as usize + itemsize;
        // SAFETY: every element of the view lies in [data + lo, data + hi +
        // itemsize), the extent numpy itself reads through these strides;
        // the caller keeps the array alive for 'a.
        let span = unsafe { std::slice::from_raw_parts(base.offset(lo), span_len) };
        let view = Strided::new(span, (-lo) as usize, shape, strides, itemsize)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Data::Strided(view))
    }

    fn compression(level: i32) -> PyResult<Compression> {
        match level {
            -1 => Ok(Compression::Stored),
            0..=9 => Ok(Compression::Deflated(level as u8)),
            _ => Err(PyValueError::new_err(format!(
                "level must be between 0 and 9, got {level}"
            ))),
        }
    }

    /// `OSError(errno, strerror[, filename])`, which Python turns into the
    /// matching subclass (FileNotFoundError, IsADirectoryError, ...).
    fn os_error(e: &io::Error, filename: Option<&Bound<'_, PyAny>>) -> PyErr {
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

    fn run<S: Sink + Send>(
        py: Python<'_>,
        members: Vec<MemberArg<'_>>,
        sink: &mut S,
        start: Start,
        level: i32,
        threads: usize,
        progress: Option<Py<PyAny>>,
    ) -> Result<u64, RunError> {
        let options = Options {
            compression: compression(level).map_err(RunError::Py)?,
            threads: threads.max(1),
            ..Options::default()
        };
        // Payloads stay alive (and borrowed) for the whole write; names and
        // headers move into the members.
        let mut payloads = Vec::with_capacity(members.len());
        let mut labels = Vec::with_capacity(members.len());
        for (name, utf8, header, obj) in members {
            payloads.push(payload(obj).map_err(RunError::Py)?);
            labels.push((name, utf8, header));
        }
        let mut borrowed = Vec::with_capacity(payloads.len());
        for ((name, utf8, header), p) in labels.into_iter().zip(&payloads) {
            let data = match p {
                Payload::Array(a) => borrow_array(a).map_err(RunError::Py)?,
                Payload::Bytes(b) => Data::Contiguous(b),
            };
            borrowed.push(Member {
                name,
                utf8,
                header,
                data,
            });
        }
        let mut signal: Option<PyErr> = None;
        let result = py.detach(|| {
            let mut last_check = Instant::now();
            // Signals and the progress callback, from this (the calling)
            // thread: every 50 ms, and once more when everything is done.
            let mut tick = |done: u64, total: u64| -> io::Result<()> {
                if done < total && last_check.elapsed() < SIGNAL_INTERVAL {
                    return Ok(());
                }
                last_check = Instant::now();
                Python::attach(|py| {
                    py.check_signals()?;
                    if let Some(callback) = &progress {
                        callback.call1(py, (done, total))?;
                    }
                    Ok(())
                })
                .map_err(|e: PyErr| {
                    signal = Some(e);
                    io::Error::new(io::ErrorKind::Interrupted, "interrupted")
                })
            };
            archive::write_archive(&borrowed, sink, start, &options, &mut tick)
        });
        drop(borrowed);
        drop(payloads);
        result.map_err(|e| match signal.take() {
            Some(py_err) => RunError::Py(py_err),
            None => RunError::Archive(e),
        })
    }

    enum RunError {
        Py(PyErr),
        Archive(archive::Error),
    }

    fn archive_error(e: archive::Error, filename: Option<&Bound<'_, PyAny>>) -> PyErr {
        match e {
            archive::Error::Io(io) => os_error(&io, filename),
            other => PyRuntimeError::new_err(other.to_string()),
        }
    }

    /// Write an archive to a filesystem path, through a temporary file that
    /// replaces it only once the archive is complete (see `PathTarget`).
    /// `level` -1 means stored. Returns the archive's size in bytes.
    #[pyfunction]
    #[pyo3(signature = (path, members, *, level, threads, progress=None))]
    fn write_path(
        py: Python<'_>,
        path: Bound<'_, PyAny>,
        members: Vec<MemberArg<'_>>,
        level: i32,
        threads: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<u64> {
        compression(level)?;
        let file_path: std::path::PathBuf = path.extract()?;
        let target = PathTarget::open(&file_path).map_err(|e| os_error(&e, Some(&path)))?;
        let mut file_sink = FileSink::new(target.file().map_err(|e| os_error(&e, Some(&path)))?);
        let start = match file_sink.position() {
            (p, true) => Start::Seekable(p),
            (p, false) => Start::Unseekable(p),
        };
        let mut sink = Buffered::new(file_sink, start.offset(), WRITE_BUFFER);
        let written =
            run(py, members, &mut sink, start, level, threads, progress).map_err(|e| match e {
                RunError::Py(e) => e,
                RunError::Archive(e) => archive_error(e, None),
            })?;
        drop(sink);
        target.commit().map_err(|e| os_error(&e, Some(&path)))?;
        Ok(written)
    }

    /// Write an archive to a Python binary file object, from the calling
    /// thread. `start` is what zipfile's `tell()` found (None when it
    /// failed), `seekable` whether `seek(start)` then worked. `level` -1
    /// means stored.
    #[pyfunction]
    #[pyo3(signature = (file, members, *, start, seekable, level, threads, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn write_file(
        py: Python<'_>,
        file: Py<PyAny>,
        members: Vec<MemberArg<'_>>,
        start: Option<u64>,
        seekable: bool,
        level: i32,
        threads: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<u64> {
        let tellable = start.is_some();
        let start = match (start, seekable) {
            (Some(p), true) => Start::Seekable(p),
            (Some(p), false) => Start::Unseekable(p),
            (None, _) => Start::Unseekable(0),
        };
        let py_sink = PyFileSink::new(file, tellable);
        let mut sink = Buffered::new(py_sink, start.offset(), WRITE_BUFFER).patch_through();
        let result = run(py, members, &mut sink, start, level, threads, progress);
        let mut py_sink = sink.into_inner();
        result.map_err(|e| match (py_sink.take_error(), e) {
            (_, RunError::Py(e)) => e,
            (Some(e), _) => e,
            (None, RunError::Archive(e)) => archive_error(e, None),
        })
    }

    /// The extension module `fastnpz._fastnpz`.
    #[pymodule]
    fn _fastnpz(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add_function(wrap_pyfunction!(npy_header, m)?)?;
        m.add_function(wrap_pyfunction!(write_path, m)?)?;
        m.add_function(wrap_pyfunction!(write_file, m)?)?;
        m.add("DEFAULT_CHUNK", archive::DEFAULT_CHUNK)?;
        Ok(())
    }
}
