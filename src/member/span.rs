//! Memory the archive writer reads but does not own: a numpy array's buffer,
//! which Python code in another thread may write to while it is saved.
//!
//! Rust forbids a `&[u8]` over memory that changes underneath it, so a
//! `Span` never becomes a reference. It is read only by copying bytes out of
//! it, and whoever reads treats the copy as arbitrary bytes.

use std::marker::PhantomData;

use super::LayoutError;

/// A borrowed, possibly concurrently written, byte range.
#[derive(Clone, Copy)]
pub struct Span<'a> {
    ptr: *const u8,
    len: usize,
    _borrow: PhantomData<&'a [u8]>,
}

// SAFETY: a Span is a read-only view that is only ever read by copying
// (`copy_to`); sharing it between the writer's threads adds no access that
// one thread could not make, and `new`'s contract keeps the memory
// allocated for 'a whichever thread reads.
unsafe impl Send for Span<'_> {}
// SAFETY: as for Send: `copy_to` takes `&self` and mutates nothing.
unsafe impl Sync for Span<'_> {}

impl std::fmt::Debug for Span<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Span({} bytes)", self.len)
    }
}

impl<'a> Span<'a> {
    /// A span over `len` bytes at `ptr`.
    ///
    /// # Safety
    /// The bytes `[ptr, ptr + len)` must stay allocated and readable for
    /// `'a`. They may be written concurrently, but not through Rust
    /// references.
    pub unsafe fn new(ptr: *const u8, len: usize) -> Self {
        Span {
            ptr,
            len,
            _borrow: PhantomData,
        }
    }

    /// A span over bytes Rust already borrows immutably (pickles, tests).
    pub fn from_slice(bytes: &'a [u8]) -> Self {
        Span {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            _borrow: PhantomData,
        }
    }

    /// Length in bytes.
    pub fn nbytes(&self) -> usize {
        self.len
    }

    /// Copy bytes `[offset, offset + out.len())` into `out`.
    pub fn copy_to(&self, offset: usize, out: &mut [u8]) -> Result<(), LayoutError> {
        let end = offset.checked_add(out.len()).ok_or(LayoutError::Overflow)?;
        if end > self.len {
            return Err(LayoutError::OutOfBounds);
        }
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: `[offset, end)` lies inside the span (checked above), and
        // `new`'s contract keeps it allocated for 'a; `out` is a distinct
        // Rust buffer, so the ranges do not overlap. Another thread may be
        // writing these bytes (numpy lets Python do that while numpy itself
        // copies an array): this raw copy is then a race whose bytes may be
        // torn. No Rust reference to the span exists for the compiler to
        // reason about, and every reader treats the copy as arbitrary
        // bytes: the CRC and the compressed data are both computed from
        // this one copy, so they always agree.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(offset), out.as_mut_ptr(), out.len()) };
        Ok(())
    }
}
