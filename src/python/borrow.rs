//! Borrowing numpy arrays' memory for the writer, without copying it.

use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyWeakrefReference;

use crate::member::{Data, Span, Strided};

/// An array's bytes as the writer reads them: one span over everything the
/// array can reach, and its layout.
///
/// The caller must keep `arr` alive, and its memory allocated, while the
/// returned `Data` is used: see `pin_memory`.
pub fn borrow_array<'a>(arr: &'a Bound<'_, PyUntypedArray>) -> PyResult<Data<'a>> {
    let itemsize = arr.dtype().itemsize();
    let shape = arr.shape();
    let too_large = || PyValueError::new_err("array too large");
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .ok_or_else(too_large)?;
    let nbytes = count.checked_mul(itemsize).ok_or_else(too_large)?;
    if nbytes == 0 {
        return Ok(Data::Contiguous(Span::from_slice(&[])));
    }
    // SAFETY: `arr` is a live ndarray (the Bound keeps it referenced), so
    // its PyArrayObject is valid to read; `data` is a plain pointer field.
    let base = unsafe { (*arr.as_array_ptr()).fields.data } as *const u8;
    if arr.is_c_contiguous() || arr.is_fortran_contiguous() {
        // SAFETY: a contiguous ndarray's buffer holds `nbytes` bytes from
        // its data pointer. The array stays referenced for 'a (the borrow of
        // `arr`), and `pin_memory` stops numpy from reallocating or freeing
        // the buffer meanwhile. Other threads may write it; Span allows that.
        let span = unsafe { Span::new(base, nbytes) };
        return Ok(Data::Contiguous(span));
    }
    let strides = arr.strides();
    let (mut lo, mut hi) = (0isize, 0isize);
    for (&n, &s) in shape.iter().zip(strides) {
        let reach = (n as isize - 1).checked_mul(s).ok_or_else(too_large)?;
        if reach < 0 {
            lo = lo.checked_add(reach).ok_or_else(too_large)?;
        } else {
            hi = hi.checked_add(reach).ok_or_else(too_large)?;
        }
    }
    let span_len = usize::try_from(hi - lo)
        .ok()
        .and_then(|n| n.checked_add(itemsize))
        .ok_or_else(too_large)?;
    // SAFETY: every element of the view lies in [data + lo, data + hi +
    // itemsize), the extent numpy itself reads through these strides, so the
    // span is inside the array's buffer; it stays allocated for 'a as above.
    let span = unsafe { Span::new(base.offset(lo), span_len) };
    let view = Strided::new(span, lo.unsigned_abs(), shape, strides, itemsize)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(Data::Strided(view))
}

/// Keep the memory of `arr` where it is until the returned guard is dropped.
///
/// `ndarray.resize(..., refcheck=False)` can reallocate an array's buffer
/// from another thread while it is being saved (numpy's own savez is immune
/// because it compresses copies). numpy refuses to resize an array that has
/// a weak reference, whatever `refcheck` says, so a weak reference to the
/// array that owns the buffer pins it. (Returns None when the buffer is not
/// owned by an ndarray: then numpy cannot resize it at all.)
pub fn pin_memory<'py>(arr: &Bound<'py, PyUntypedArray>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = arr.py();
    let mut owner: Bound<'py, PyAny> = arr.clone().into_any();
    // Follow `.base` from view to view up to the array that owns the memory.
    for _ in 0..64 {
        let base = owner.getattr(pyo3::intern!(py, "base"))?;
        if base.is_none() || base.cast::<PyUntypedArray>().is_err() {
            break;
        }
        owner = base;
    }
    if owner.cast::<PyUntypedArray>().is_err() {
        return Ok(None);
    }
    Ok(Some(PyWeakrefReference::new(&owner)?.into_any()))
}
