//! `Reader`: the reading core, bound. Python opens the archive through it,
//! allocates each member's array, and has it filled with the GIL released.

use std::fs::File;

use numpy::npyffi::{NPY_ARRAY_OWNDATA, NPY_ARRAY_WRITEABLE};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::member::Span;
use crate::read::{Archive, Interrupted, Prepared};
use crate::source::Source;

/// An archive's central directory, and the file it was read from (for
/// archives in memory, the caller passes the buffer to every call).
#[pyclass(frozen, module = "fastnpz._fastnpz")]
pub struct Reader {
    archive: Archive,
    file: Option<File>,
    /// The source's size when opened, and its bytes from the central
    /// directory to the end: what zipfile would have read at open time.
    size: u64,
    tail: Vec<u8>,
}

/// Read the directory, and the source's tail as it is now.
fn open_archive(
    source: &Source<'_>,
    overlap_check: bool,
    zip64_check: bool,
) -> Option<(Archive, u64, Vec<u8>)> {
    let archive = Archive::open_with(source, overlap_check, zip64_check).ok()?;
    let start = archive.directory_start();
    let mut tail = vec![0u8; usize::try_from(source.size() - start).ok()?];
    source.read_exact_at(start, &mut tail).ok()?;
    Some((archive, source.size(), tail))
}

/// Members prepared by `Reader.prepare`, waiting for their arrays.
#[pyclass(frozen, module = "fastnpz._fastnpz")]
pub struct Batch {
    members: Vec<Prepared>,
}

/// Run `f` on the source: the reader's file, or the bytes of `buffer` (a
/// uint8 ndarray over the archive's memory: `numpy.frombuffer` of a
/// BytesIO's `getbuffer()`; the caller holds that memoryview until the call
/// returns, which keeps the BytesIO from resizing or freeing its memory).
fn with_source<R: Send>(
    py: Python<'_>,
    file: Option<&File>,
    buffer: Option<&Bound<'_, PyUntypedArray>>,
    f: impl FnOnce(&Source<'_>) -> R + Send,
) -> PyResult<R> {
    match (file, buffer) {
        (Some(file), _) => {
            let file = file
                .try_clone()
                .map_err(|e| super::errors::os_error(&e, None))?;
            let source = Source::file(file).map_err(|e| super::errors::os_error(&e, None))?;
            Ok(py.detach(|| f(&source)))
        }
        (None, Some(array)) => {
            if !array.is_c_contiguous() || array.dtype().itemsize() != 1 {
                return Err(PyValueError::new_err(
                    "buffer must be a contiguous uint8 array",
                ));
            }
            let len = array.len();
            let ptr = data_ptr(array);
            Ok(py.detach(|| {
                // SAFETY: `array` (borrowed for this whole call) views `len`
                // contiguous bytes at `ptr`, and the caller's memoryview keeps
                // the BytesIO's buffer exported, so that memory stays
                // allocated and unresized until we return. Python code in
                // another thread may write to it meanwhile; Span only ever
                // copies out of it.
                let span = unsafe { Span::new(ptr as *const u8, len) };
                f(&Source::Memory(span))
            }))
        }
        (None, None) => Err(PyValueError::new_err(
            "a reader over memory needs its buffer",
        )),
    }
}

#[pymethods]
impl Reader {
    /// Read the central directory from file descriptor `fd`, which the
    /// reader takes over (the caller passes a duplicate, from `os.dup`).
    /// None when the archive is one zipfile should read. `overlap_check`:
    /// whether the running zipfile refuses members that overlap the next;
    /// `zip64_check`: whether it checks the zip64 end record.
    #[staticmethod]
    #[pyo3(signature = (fd, overlap_check, zip64_check=false))]
    fn open_fd(
        py: Python<'_>,
        fd: i32,
        overlap_check: bool,
        zip64_check: bool,
    ) -> PyResult<Option<Reader>> {
        #[cfg(unix)]
        {
            use std::os::fd::FromRawFd;
            if fd < 0 {
                return Err(PyValueError::new_err("invalid file descriptor"));
            }
            // SAFETY: the caller hands over `fd`, a descriptor it just
            // duplicated and will neither use nor close; the File owns it
            // from here and closes it once.
            let file = unsafe { File::from_raw_fd(fd) };
            let opened = with_source(py, Some(&file), None, |source| {
                open_archive(source, overlap_check, zip64_check)
            })?;
            Ok(opened.map(|(archive, size, tail)| Reader {
                archive,
                file: Some(file),
                size,
                tail,
            }))
        }
        #[cfg(not(unix))]
        {
            let _ = (py, fd, overlap_check, zip64_check);
            Ok(None)
        }
    }

    /// Read the central directory from a uint8 array over an archive in
    /// memory (see `with_source`). None when zipfile should read it.
    #[staticmethod]
    #[pyo3(signature = (buffer, overlap_check, zip64_check=false))]
    fn open_buffer(
        py: Python<'_>,
        buffer: Bound<'_, PyUntypedArray>,
        overlap_check: bool,
        zip64_check: bool,
    ) -> PyResult<Option<Reader>> {
        let opened = with_source(py, None, Some(&buffer), |source| {
            open_archive(source, overlap_check, zip64_check)
        })?;
        Ok(opened.map(|(archive, size, tail)| Reader {
            archive,
            file: None,
            size,
            tail,
        }))
    }

    /// `(size, offset, bytes)`: the source's size when it was opened, and
    /// its bytes from `offset` (the central directory) to that end, so that
    /// zipfile can be shown the archive as it was then.
    fn snapshot<'py>(&self, py: Python<'py>) -> (u64, u64, Bound<'py, PyBytes>) {
        (
            self.size,
            self.archive.directory_start(),
            PyBytes::new(py, &self.tail),
        )
    }

    /// Member names, in directory order.
    fn names(&self) -> Vec<String> {
        self.archive
            .entries()
            .iter()
            // The reader took only names that decode as UTF-8 (see
            // `Entry::decoded_name`), so nothing is replaced here.
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    /// Members' uncompressed sizes, in directory order.
    fn sizes(&self) -> Vec<u64> {
        self.archive
            .entries()
            .iter()
            .map(|e| e.uncompressed)
            .collect()
    }

    /// Where zipfile leaves the file position after reading the directory.
    fn directory_end(&self) -> u64 {
        self.archive.directory_end()
    }

    /// Where member `index`'s data ends (where zipfile leaves the file
    /// position after reading it), or None.
    #[pyo3(signature = (index, buffer=None))]
    fn data_end(
        &self,
        py: Python<'_>,
        index: usize,
        buffer: Option<Bound<'_, PyUntypedArray>>,
    ) -> PyResult<Option<u64>> {
        with_source(py, self.file.as_ref(), buffer.as_ref(), |source| {
            self.archive.data_end(source, index)
        })
    }

    /// Read the local headers and `.npy` headers of the members at
    /// `indices` (small members are inflated whole), in parallel.
    #[pyo3(signature = (indices, threads, buffer=None))]
    fn prepare(
        &self,
        py: Python<'_>,
        indices: Vec<usize>,
        threads: usize,
        buffer: Option<Bound<'_, PyUntypedArray>>,
    ) -> PyResult<Batch> {
        let members = with_source(py, self.file.as_ref(), buffer.as_ref(), |source| {
            self.archive.prepare(source, &indices, threads)
        })?
        .map_err(super::errors::worker_panic)?;
        Ok(Batch { members })
    }

    /// Inflate the batch's members into `arrays` (fresh, C-contiguous,
    /// writeable, exactly the size after each header; None to skip a
    /// member). Returns whether each member was filled and checked.
    /// `progress(done, total)` is called every 50 ms while large members
    /// inflate, and once when they are done (bytes of those members); an
    /// exception from it, or Ctrl-C, stops the call and is raised.
    #[pyo3(signature = (batch, arrays, threads, buffer=None, progress=None))]
    fn fill(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, Batch>,
        arrays: Vec<Option<Bound<'_, PyUntypedArray>>>,
        threads: usize,
        buffer: Option<Bound<'_, PyUntypedArray>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Vec<bool>> {
        let batch = batch.get();
        if arrays.len() != batch.members.len() {
            return Err(PyValueError::new_err(
                "one array (or None) per prepared member",
            ));
        }
        // (position in the batch, member, data pointer, length)
        let mut targets = Vec::new();
        for (k, (member, array)) in batch.members.iter().zip(&arrays).enumerate() {
            let (Prepared::Npy(m), Some(a)) = (member, array) else {
                continue;
            };
            // Raw bytes written over object pointers would be freed as
            // objects: a crash, not an error.
            if a.dtype().has_object() {
                return Err(PyTypeError::new_err(
                    "cannot fill an array that holds Python objects",
                ));
            }
            if !flag(a, NPY_ARRAY_WRITEABLE) {
                return Err(PyValueError::new_err("array is not writeable"));
            }
            let nbytes = a.len() * a.dtype().itemsize();
            if !a.is_c_contiguous() || nbytes as u64 != m.body_len() || !flag(a, NPY_ARRAY_OWNDATA)
            {
                return Err(PyValueError::new_err("array does not fit its member"));
            }
            let ptr = data_ptr(a);
            // The archive is read while the arrays are written: an array
            // over the archive's own bytes would change what is read.
            if let Some(b) = &buffer {
                let (start, len) = (data_ptr(b), b.len());
                if nbytes > 0 && len > 0 && ptr < start + len && start < ptr + nbytes {
                    return Err(PyValueError::new_err("array overlaps the archive's buffer"));
                }
            }
            targets.push((k, m, ptr, nbytes));
        }
        // Distinct arrays: no two mutable slices may overlap.
        let mut spans: Vec<(usize, usize)> = targets
            .iter()
            .filter(|t| t.3 > 0)
            .map(|t| (t.2, t.3))
            .collect();
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return Err(PyValueError::new_err("arrays overlap"));
        }
        // Ctrl-C and progress, from this (the calling) thread while the
        // members inflate.
        let mut stopped: Option<PyErr> = None;
        let mut tick = |done: u64, total: u64| {
            Python::attach(|py| {
                py.check_signals()?;
                if let Some(callback) = &progress {
                    callback.call1(py, (done, total))?;
                }
                Ok(())
            })
            .map_err(|e: PyErr| {
                stopped = Some(e);
                Interrupted
            })
        };
        let filled = with_source(py, self.file.as_ref(), buffer.as_ref(), |source| {
            let jobs = targets
                .iter()
                .map(|&(_, m, ptr, len)| {
                    let body: &mut [u8] = if len == 0 {
                        &mut []
                    } else {
                        // SAFETY: `ptr` is the data of a C-contiguous,
                        // writeable ndarray that owns its `len` bytes, kept
                        // alive by `arrays` until we return; the spans were
                        // checked not to overlap. The caller (fastnpz's
                        // loader) allocated these arrays for this call and
                        // has handed them to no other code, so nothing else
                        // reads or writes this memory while it is filled.
                        unsafe { std::slice::from_raw_parts_mut(ptr as *mut u8, len) }
                    };
                    (m, body)
                })
                .collect();
            self.archive.fill(source, jobs, threads, &mut tick)
        })?;
        let Ok(filled) = filled else {
            return Err(stopped
                .take()
                .unwrap_or_else(|| PyKeyboardInterrupt::new_err("interrupted")));
        };
        let mut ok = vec![false; batch.members.len()];
        for (&(k, ..), result) in targets.iter().zip(filled) {
            ok[k] = result.is_ok();
        }
        Ok(ok)
    }
}

/// Where an ndarray's data starts.
fn data_ptr(a: &Bound<'_, PyUntypedArray>) -> usize {
    // SAFETY: `a` is a live ndarray (the Bound holds a reference), so its
    // object is a PyArrayObject whose `data` field may be read.
    unsafe { (*a.as_array_ptr()).fields.data as usize }
}

/// Whether all of `flags` (`numpy::npyffi::NPY_ARRAY_*`) are set on `a`:
/// what `a.flags` reports, read without building that object (four
/// attribute lookups per member were a tenth of a 4 KiB member's time).
fn flag(a: &Bound<'_, PyUntypedArray>, flags: std::ffi::c_int) -> bool {
    // SAFETY: `a` is a live ndarray (the Bound holds a reference), so its
    // object is a PyArrayObject whose `flags` field may be read.
    let set = unsafe { (*a.as_array_ptr()).fields.flags };
    set & flags == flags
}

#[pymethods]
impl Batch {
    /// For each member: None when numpy should read it, else
    /// `(header bytes or None, descr or None, fortran_order, shape, header
    /// text length, body length, data end)`: descr is None (and the header
    /// bytes given) for headers numpy must parse; the data end is where
    /// zipfile leaves the file position after reading the member.
    fn describe<'py>(&self, py: Python<'py>) -> PyResult<Vec<Option<Bound<'py, PyTuple>>>> {
        self.members
            .iter()
            .map(|p| match p {
                Prepared::Fallback(_) => Ok(None),
                Prepared::Npy(m) => {
                    // The header's bytes only matter when numpy parses it.
                    let header = match m.parsed {
                        Some(_) => py.None().into_bound(py),
                        None => PyBytes::new(py, &m.header).into_any(),
                    };
                    let (descr, fortran, shape, text_len) = match &m.parsed {
                        Some(h) => (
                            Some(h.descr.clone()),
                            h.fortran_order,
                            PyTuple::new(py, &h.shape)?,
                            h.text_len,
                        ),
                        None => (None, false, PyTuple::empty(py), 0),
                    };
                    Some(PyTuple::new(
                        py,
                        [
                            header,
                            descr.into_pyobject(py)?.into_any(),
                            fortran.into_pyobject(py)?.to_owned().into_any(),
                            shape.into_any(),
                            text_len.into_pyobject(py)?.into_any(),
                            m.body_len().into_pyobject(py)?.into_any(),
                            m.data_end().into_pyobject(py)?.into_any(),
                        ],
                    ))
                    .transpose()
                }
            })
            .collect()
    }
}
