//! What every write shares: members borrowed from Python, the GIL released
//! around the pipeline, Ctrl-C and progress checked every 50 ms. The one
//! writer object over it is `writer::ArchiveWriter`, behind both
//! `savez_compressed` (every member in one call, then the directory) and
//! `NpzWriter`.

use std::time::{Duration, Instant};

use numpy::PyUntypedArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use super::borrow::{borrow_array, pin_memory};
use super::errors::write_error;
use crate::encode::Compression;
use crate::member::{Data, Member, Span};
use crate::write::{self, Options, Stop};

/// How often a long write checks for Ctrl-C and reports progress.
const SIGNAL_INTERVAL: Duration = Duration::from_millis(50);

/// One member as the Python layer hands it over: encoded name, UTF-8
/// flag, `.npy` header, and the payload (an ndarray, or pickle bytes).
pub type MemberArg<'py> = (Vec<u8>, bool, Vec<u8>, Bound<'py, PyAny>);

/// What a payload borrows from while the GIL is released.
enum Payload<'py> {
    Array(Bound<'py, PyUntypedArray>),
    Bytes(PyBackedBytes),
}

fn payload(obj: Bound<'_, PyAny>) -> PyResult<Payload<'_>> {
    match obj.cast_into::<PyUntypedArray>() {
        Ok(arr) => Ok(Payload::Array(arr)),
        Err(e) => Ok(Payload::Bytes(e.into_inner().extract()?)),
    }
}

pub(super) fn compression(level: i32) -> PyResult<Compression> {
    match level {
        -1 => Ok(Compression::Stored),
        0..=9 => Ok(Compression::Deflated(level as u8)),
        _ => Err(PyValueError::new_err(format!(
            "level must be between 0 and 9, got {level}"
        ))),
    }
}

/// Borrow every member, release the GIL and hand them to `body`, which
/// writes them to `sink`. Returns what `body` returns, or the exception to
/// raise.
pub(super) fn run<S, F>(
    py: Python<'_>,
    members: Vec<MemberArg<'_>>,
    sink: &mut S,
    level: i32,
    threads: usize,
    progress: Option<Py<PyAny>>,
    body: F,
) -> PyResult<u64>
where
    S: crate::sink::Sink + Send + ?Sized,
    F: FnOnce(&[Member<'_>], &mut S, &Options, write::Tick<'_>) -> Result<u64, write::Error> + Send,
{
    let options = Options {
        compression: compression(level)?,
        threads: threads.max(1),
        ..Options::default()
    };
    // Payloads stay referenced (and their memory pinned) for the whole
    // write; names and headers move into the members.
    let mut payloads = Vec::with_capacity(members.len());
    let mut labels = Vec::with_capacity(members.len());
    let mut pins = Vec::new();
    for (name, utf8, header, obj) in members {
        let p = payload(obj)?;
        if let Payload::Array(a) = &p {
            pins.extend(pin_memory(a)?);
        }
        payloads.push(p);
        labels.push((name, utf8, header));
    }
    let mut borrowed = Vec::with_capacity(payloads.len());
    for ((name, utf8, header), p) in labels.into_iter().zip(&payloads) {
        let data = match p {
            Payload::Array(a) => borrow_array(a)?,
            Payload::Bytes(b) => Data::Contiguous(Span::from_slice(b)),
        };
        borrowed.push(Member {
            name,
            utf8,
            header,
            data,
        });
    }
    let result = ticking(py, progress, |tick| body(&borrowed, sink, &options, tick));
    drop(borrowed);
    drop(payloads);
    drop(pins);
    result
}

/// Run `f` with the GIL released, giving it a tick that checks for signals
/// and reports progress from the calling thread every 50 ms (and once more
/// when everything is done). Returns what `f` returns, or the exception to
/// raise: the tick's own (KeyboardInterrupt, the callback's) when it stopped
/// the write.
pub(super) fn ticking<R, F>(py: Python<'_>, progress: Option<Py<PyAny>>, f: F) -> PyResult<R>
where
    R: Send,
    F: FnOnce(write::Tick<'_>) -> Result<R, write::Error> + Send,
{
    let mut stopped: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut last_check = Instant::now();
        let mut tick = |done: u64, total: u64| -> Result<(), Stop> {
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
                stopped = Some(e);
                Stop
            })
        };
        f(&mut tick)
    });
    result.map_err(|e| write_error(e, stopped.take()))
}
