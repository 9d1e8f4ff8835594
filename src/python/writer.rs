//! `ArchiveWriter`: the state behind `fastnpz.NpzWriter`. Members arrive
//! one call at a time and go through the same pipeline as `savez_compressed`
//! (`write::write_members`); the directory is written at `close`.

use numpy::PyReadonlyArray1;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use super::errors::os_error;
use super::file_sink::PyFileSink;
use super::save::{compression, run, ticking, MemberArg};
use crate::sink::{Buffered, FileSink, PathTarget, Sink};
use crate::write::{self, MemberStream, Prior, Start, ZipWriter};

/// Coalesce writes to this size before handing them to the output.
const WRITE_BUFFER: usize = 1 << 20;
/// Chunks a stream buffers per worker thread before compressing them: two
/// keep every thread busy on one batch while memory stays at a few chunks.
const STREAM_CHUNKS_PER_THREAD: usize = 2;

/// An existing archive's directory, as the Python layer read it: the raw
/// central records, their count, the bytes before the archive (zipfile's
/// `concat`) and the end record's comment.
type PriorArg = (Vec<u8>, u64, u64, Vec<u8>);

enum Out {
    /// A path fastnpz opened: `target` puts the archive in place at commit
    /// and leaves the path as it was when abandoned ("w", "x", "a").
    Path {
        sink: Buffered<FileSink>,
        target: PathTarget,
        /// The path as given, for errors' filename.
        path: Py<PyAny>,
    },
    /// A Python file object, written from the calling thread.
    File { sink: Buffered<PyFileSink> },
}

/// An archive being written member by member.
#[pyclass(module = "fastnpz._fastnpz")]
pub struct ArchiveWriter {
    out: Option<Out>,
    zip: ZipWriter,
    level: i32,
    threads: usize,
    /// A write failed after bytes reached the output: the archive can only
    /// be abandoned.
    broken: bool,
    /// The member `NpzWriter.stream` is writing.
    stream: Option<MemberStream>,
}

fn prior(arg: Option<PriorArg>) -> Prior {
    match arg {
        Some((directory, count, concat, comment)) => Prior {
            directory,
            count,
            concat,
            comment,
        },
        None => Prior::default(),
    }
}

fn closed() -> PyErr {
    PyValueError::new_err("I/O operation on closed NpzWriter")
}

fn broken() -> PyErr {
    PyRuntimeError::new_err("a write into this archive failed part way; the archive was abandoned")
}

impl ArchiveWriter {
    fn new(out: Out, start: Start, level: i32, align: bool, threads: usize, p: Prior) -> Self {
        let mut zip = ZipWriter::new(
            start,
            compression(level).unwrap_or(write::Options::default().compression),
        );
        if align {
            zip = zip.aligned();
        }
        ArchiveWriter {
            out: Some(out),
            zip: zip.continuing(p),
            level,
            threads: threads.max(1),
            broken: false,
            stream: None,
        }
    }
}

/// A writer dropped without `close` is abandoned, as `abort` abandons it:
/// an append is cut back to the old archive (else the partial member after
/// the old end record would leave the file unreadable), and a temporary
/// file is removed.
impl Drop for ArchiveWriter {
    fn drop(&mut self) {
        let _ = self.abandon();
    }
}

impl ArchiveWriter {
    /// What `abort` and a drop without `close` do: the path is left as
    /// it was (see `PathTarget::abandon`); a file object is left to the
    /// caller.
    fn abandon(&mut self) -> std::io::Result<()> {
        if let Some(Out::Path { sink, target, .. }) = self.out.take() {
            drop(sink);
            target.abandon()?;
        }
        Ok(())
    }

    fn options(&self) -> PyResult<write::Options> {
        Ok(write::Options {
            compression: compression(self.level)?,
            threads: self.threads,
            ..write::Options::default()
        })
    }

    /// Compress the open stream's buffer with the GIL released: its whole
    /// chunks, or everything when `last`.
    fn flush_stream(&mut self, py: Python<'_>, last: bool) -> PyResult<()> {
        if self.broken {
            return Err(broken());
        }
        let options = self.options()?;
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("no stream is open"))?;
        let zip = &mut self.zip;
        let result = match self.out.as_mut().ok_or_else(closed)? {
            Out::Path { sink, .. } => ticking(py, None, |tick| {
                stream.flush(zip, sink, &options, tick, last)
            }),
            Out::File { sink } => {
                let r = ticking(py, None, |tick| {
                    stream.flush(zip, sink, &options, tick, last)
                });
                match (r, sink.inner_mut().take_error()) {
                    (Err(_), Some(file_error)) => Err(file_error),
                    (r, _) => r,
                }
            }
        };
        if result.is_err() {
            self.broken = true;
        }
        result
    }
}

#[pymethods]
impl ArchiveWriter {
    /// Write to `path`: mode "w" replaces it atomically at close, "x"
    /// creates it at close and fails if it exists by then, "a" continues
    /// the archive there after its last byte (`prior` describes it).
    /// `size` is the archive's length when `prior` was read ("a"): a file
    /// of another length changed meanwhile and is left alone.
    #[staticmethod]
    #[pyo3(signature = (path, mode, *, level, align, threads, prior=None, size=None))]
    #[allow(clippy::too_many_arguments)]
    fn to_path(
        path: Bound<'_, PyAny>,
        mode: &str,
        level: i32,
        align: bool,
        threads: usize,
        prior: Option<PriorArg>,
        size: Option<u64>,
    ) -> PyResult<Self> {
        compression(level)?;
        let file_path: std::path::PathBuf = path.extract()?;
        let err = |e: std::io::Error| os_error(&e, Some(&path));
        let (target, appended) = match mode {
            "w" => (PathTarget::open(&file_path).map_err(err)?, None),
            "x" => (PathTarget::create_new(&file_path).map_err(err)?, None),
            "a" => {
                let (target, len) = PathTarget::append(&file_path).map_err(err)?;
                if size.is_some_and(|s| s != len) {
                    return Err(PyValueError::new_err(
                        "the archive changed while it was being opened for appending",
                    ));
                }
                (target, Some(len))
            }
            _ => {
                return Err(PyValueError::new_err(format!(
                    "mode must be 'w', 'x' or 'a', not {mode:?}"
                )))
            }
        };
        let mut file_sink = FileSink::new(target.file().map_err(err)?);
        let start = match appended {
            // Appending past the old end record keeps it, and the archive
            // it ends, valid until the new one is complete.
            Some(len) => Start::Seekable(len),
            // A FIFO or device written in place is unseekable: data
            // descriptors, as savez_compressed writes there.
            None => match file_sink.position() {
                (p, true) => Start::Seekable(p),
                (p, false) => Start::Unseekable(p),
            },
        };
        let sink = Buffered::new(file_sink, start.offset(), WRITE_BUFFER);
        let out = Out::Path {
            sink,
            target,
            path: path.clone().unbind(),
        };
        Ok(Self::new(
            out,
            start,
            level,
            align,
            threads,
            self::prior(prior),
        ))
    }

    /// Write to a Python binary file object from `start` (None when its
    /// `tell()` failed; `seekable` as zipfile's probe found it).
    #[staticmethod]
    #[pyo3(signature = (file, *, start, seekable, level, align, threads, prior=None))]
    fn to_file(
        file: Py<PyAny>,
        start: Option<u64>,
        seekable: bool,
        level: i32,
        align: bool,
        threads: usize,
        prior: Option<PriorArg>,
    ) -> PyResult<Self> {
        compression(level)?;
        let tellable = start.is_some();
        let start = match (start, seekable) {
            (Some(p), true) => Start::Seekable(p),
            (Some(p), false) => Start::Unseekable(p),
            (None, _) => Start::Unseekable(0),
        };
        let sink = Buffered::new(
            PyFileSink::new(file, tellable),
            start.offset(),
            WRITE_BUFFER,
        )
        .patch_through();
        Ok(Self::new(
            Out::File { sink },
            start,
            level,
            align,
            threads,
            self::prior(prior),
        ))
    }

    /// Compress `members` and append them. Returns once nothing reads
    /// their memory any more.
    #[pyo3(signature = (members, *, progress=None))]
    fn add(
        &mut self,
        py: Python<'_>,
        members: Vec<MemberArg<'_>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        if self.broken {
            return Err(broken());
        }
        let mut failed = false;
        let (level, threads) = (self.level, self.threads);
        let zip = &mut self.zip;
        let result = match self.out.as_mut().ok_or_else(closed)? {
            Out::Path { sink, .. } => add_to(
                py,
                zip,
                sink,
                members,
                level,
                threads,
                progress,
                &mut failed,
            ),
            Out::File { sink } => {
                let r = add_to(
                    py,
                    zip,
                    sink,
                    members,
                    level,
                    threads,
                    progress,
                    &mut failed,
                );
                match (r, sink.inner_mut().take_error()) {
                    (Err(_), Some(file_error)) => Err(file_error),
                    (r, _) => r,
                }
            }
        };
        if failed {
            self.broken = true;
        }
        result.map(drop)
    }

    /// Start a member whose `.npy` stream (`header`, then data) arrives
    /// through `stream_write`.
    fn stream_begin(&mut self, name: Vec<u8>, utf8: bool, header: Vec<u8>) -> PyResult<()> {
        if self.broken {
            return Err(broken());
        }
        if self.out.is_none() {
            return Err(closed());
        }
        if self.stream.is_some() {
            return Err(PyValueError::new_err("a stream is already open"));
        }
        let options = self.options()?;
        self.stream = Some(MemberStream::new(
            name,
            utf8,
            &header,
            STREAM_CHUNKS_PER_THREAD * self.threads,
            &options,
        ));
        Ok(())
    }

    /// Continue the open stream with the bytes of `data` (a contiguous
    /// uint8 array). They are copied before this returns.
    fn stream_write(&mut self, py: Python<'_>, data: PyReadonlyArray1<'_, u8>) -> PyResult<()> {
        // Copied with the GIL held and the array borrowed read-only, so
        // nothing changes the block meanwhile; the copy is what gets
        // compressed, in batches, after this returns.
        let mut rest = data
            .as_slice()
            .map_err(|_| PyValueError::new_err("stream blocks must be contiguous"))?;
        while !rest.is_empty() {
            let stream = self
                .stream
                .as_mut()
                .ok_or_else(|| PyValueError::new_err("no stream is open"))?;
            let take = stream.room().min(rest.len());
            let (piece, tail) = rest.split_at(take);
            stream.push(piece);
            rest = tail;
            if stream.room() == 0 {
                self.flush_stream(py, false)?;
            }
        }
        Ok(())
    }

    /// End the open stream: compress what is buffered and finish the
    /// member.
    fn stream_end(&mut self, py: Python<'_>) -> PyResult<()> {
        self.flush_stream(py, true)?;
        self.stream = None;
        Ok(())
    }

    /// Drop the open stream and take back what it wrote, as if it had never
    /// started.
    fn stream_abort(&mut self) -> PyResult<()> {
        if self.stream.take().is_none() || self.broken {
            return Ok(());
        }
        let result = match self.out.as_mut().ok_or_else(closed)? {
            Out::Path { sink, .. } => self.zip.rewind(sink),
            Out::File { sink } => self.zip.rewind(sink),
        };
        if let Err(e) = result {
            self.broken = true;
            return Err(super::errors::write_error(e, None));
        }
        Ok(())
    }

    /// Write the central directory and put the archive in place. Returns
    /// the bytes written.
    fn close(&mut self, py: Python<'_>) -> PyResult<u64> {
        if self.stream.is_some() {
            self.stream_abort()?;
        }
        if self.broken {
            self.abort()?;
            return Err(broken());
        }
        let out = self.out.take().ok_or_else(closed)?;
        match out {
            Out::Path {
                mut sink,
                target,
                path,
            } => {
                // On failure, the target's drop leaves the path as it was.
                // Detached: the directory and the buffered bytes may block on
                // a FIFO whose reader is a Python thread (it needs the GIL).
                let zip = &mut self.zip;
                let written = py
                    .detach(|| zip.finish(&mut sink))
                    .map_err(|e| super::errors::write_error(e, None))?;
                drop(sink);
                target
                    .commit()
                    .map_err(|e| os_error(&e, Some(path.bind(py))))?;
                Ok(written)
            }
            Out::File { mut sink } => {
                let r = self.zip.finish(&mut sink);
                match (r, sink.inner_mut().take_error()) {
                    (Ok(n), _) => Ok(n),
                    (Err(_), Some(file_error)) => Err(file_error),
                    (Err(e), None) => Err(super::errors::write_error(e, None)),
                }
            }
        }
    }

    /// Give up: a path written through a temporary file is left as it was,
    /// an appended archive is cut back to its old length. A file object is
    /// left to the caller.
    fn abort(&mut self) -> PyResult<()> {
        self.abandon().map_err(|e| os_error(&e, None))
    }

    /// Whether `close` or `abort` ran.
    #[getter]
    fn closed(&self) -> bool {
        self.out.is_none()
    }
}

/// Append `members` through `zip` to `sink`; `failed` tells whether bytes
/// may have reached the output before an error.
#[allow(clippy::too_many_arguments)]
fn add_to<S: Sink + Send>(
    py: Python<'_>,
    zip: &mut ZipWriter,
    sink: &mut S,
    members: Vec<MemberArg<'_>>,
    level: i32,
    threads: usize,
    progress: Option<Py<PyAny>>,
    failed: &mut bool,
) -> PyResult<u64> {
    run(
        py,
        members,
        sink,
        level,
        threads,
        progress,
        |ms, s, o, t| {
            let r = write::write_members(zip, ms, s, o, t);
            *failed = r.is_err();
            r.map(|()| 0)
        },
    )
}
