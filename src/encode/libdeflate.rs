//! libdeflate's compressor (vendored with one patch, see
//! `vendor/libdeflate/README.md`) behind a safe type: the match-finding
//! engine for everything that is not noise.
//!
//! The patch adds `libdeflate_deflate_compress_chunk`, which can leave the
//! last block non-final and end with a sync flush, so chunks compressed on
//! different threads concatenate into one stream.

use std::ffi::{c_int, c_uint, c_void};
use std::ptr::NonNull;

use super::EncodeError;

/// libdeflate's `struct libdeflate_compressor`, only ever behind a pointer.
#[repr(C)]
struct RawCompressor {
    _opaque: [u8; 0],
}

extern "C" {
    fn libdeflate_alloc_compressor(compression_level: c_int) -> *mut RawCompressor;
    fn libdeflate_free_compressor(compressor: *mut RawCompressor);
    fn libdeflate_deflate_compress_bound(compressor: *mut RawCompressor, in_nbytes: usize)
        -> usize;
    fn libdeflate_deflate_compress_chunk(
        compressor: *mut RawCompressor,
        input: *const c_void,
        in_nbytes: usize,
        out: *mut c_void,
        out_nbytes_avail: usize,
        is_last: c_int,
    ) -> usize;
    fn libdeflate_set_shortest_matches(compressor: *mut RawCompressor, enable: c_int);
    fn libdeflate_set_search_effort(
        compressor: *mut RawCompressor,
        max_search_depth: c_uint,
        nice_match_length: c_uint,
    );
}

/// Room the sync flush may add past libdeflate's bound for a final stream:
/// a partial byte, a header byte and LEN/NLEN.
const SYNC_FLUSH_ROOM: usize = 6;

/// One libdeflate compressor at a fixed level, owned by one thread at a time.
pub struct Compressor {
    raw: NonNull<RawCompressor>,
}

// SAFETY: a libdeflate compressor holds no thread-local or shared state;
// moving it to another thread is safe, and `&mut self` on every use keeps it
// to one thread at a time.
unsafe impl Send for Compressor {}

impl Compressor {
    /// A compressor for libdeflate level 1-12.
    pub fn new(level: u8) -> Result<Self, EncodeError> {
        if !(1..=12).contains(&level) {
            return Err(EncodeError::Engine("libdeflate level out of range"));
        }
        // SAFETY: plain FFI call; it returns null on allocation failure.
        let raw = unsafe { libdeflate_alloc_compressor(c_int::from(level)) };
        NonNull::new(raw)
            .map(|raw| Compressor { raw })
            .ok_or(EncodeError::Engine(
                "libdeflate could not allocate a compressor",
            ))
    }

    /// Always take 3-byte matches, as zlib does (libdeflate otherwise raises
    /// the minimum match length when few distinct byte values occur, which
    /// on limited-precision floats costs up to 17% against zlib).
    pub fn set_shortest_matches(&mut self, enable: bool) {
        // SAFETY: `raw` is a live compressor owned by `self`; the call sets
        // one field.
        unsafe { libdeflate_set_shortest_matches(self.raw.as_ptr(), c_int::from(enable)) }
    }

    /// Search `max_search_depth` candidates per position, and take a match
    /// of `nice_match_length` at once (levels 2-9 only): efforts between
    /// libdeflate's levels.
    pub fn set_search_effort(&mut self, max_search_depth: u32, nice_match_length: u32) {
        // SAFETY: `raw` is a live compressor owned by `self`; the call sets
        // two fields, clamped to valid values by libdeflate.
        unsafe {
            libdeflate_set_search_effort(self.raw.as_ptr(), max_search_depth, nice_match_length)
        }
    }

    /// Append `data`, compressed, to `out`. With `last` the stream ends with
    /// a final block; otherwise with a non-final block and a sync flush.
    pub fn compress(
        &mut self,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        // SAFETY: `raw` is a live compressor owned by `self`.
        let bound = unsafe { libdeflate_deflate_compress_bound(self.raw.as_ptr(), data.len()) };
        let room = bound.saturating_add(SYNC_FLUSH_ROOM);
        out.reserve(room);
        let spare = out.spare_capacity_mut();
        // SAFETY: `raw` is a live compressor used by this thread only
        // (`&mut self`); `data` is a valid slice for the call; libdeflate
        // writes at most `spare.len()` bytes to `spare`'s start (it returns 0
        // instead of overflowing) and reads nothing from it.
        let written = unsafe {
            libdeflate_deflate_compress_chunk(
                self.raw.as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                spare.as_mut_ptr().cast(),
                spare.len(),
                c_int::from(last),
            )
        };
        if written == 0 || written > spare.len() {
            return Err(EncodeError::Engine("libdeflate output exceeded its bound"));
        }
        let len = out.len() + written;
        // SAFETY: libdeflate initialised the first `written` spare bytes,
        // and `written <= spare.len()` was checked above.
        unsafe { out.set_len(len) };
        Ok(())
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: `raw` came from libdeflate_alloc_compressor and is freed
        // once, here.
        unsafe { libdeflate_free_compressor(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::bits::SYNC_MARKER;
    use crate::encode::testing::{inflate_raw, smooth};

    #[test]
    fn chunks_concatenate_into_one_stream_at_every_level() {
        let data = smooth(400_000);
        for level in 1..=9 {
            let mut c = Compressor::new(level).unwrap();
            for cut in [0usize, 1, 40, 150_000, 399_999] {
                let mut out = Vec::new();
                c.compress(&data[..cut], false, &mut out).unwrap();
                assert!(out.ends_with(&SYNC_MARKER), "level {level} cut {cut}");
                c.compress(&data[cut..], true, &mut out).unwrap();
                assert_eq!(
                    inflate_raw(&out, data.len()),
                    data,
                    "level {level} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn three_independent_chunks_and_an_empty_last() {
        let data = smooth(300_000);
        let mut c = Compressor::new(6).unwrap();
        let mut out = Vec::new();
        for part in data.chunks(100_000) {
            c.compress(part, false, &mut out).unwrap();
        }
        c.compress(&[], true, &mut out).unwrap();
        assert_eq!(inflate_raw(&out, data.len()), data);
    }

    #[test]
    fn levels_out_of_range_are_refused() {
        assert!(Compressor::new(0).is_err());
        assert!(Compressor::new(13).is_err());
    }
}
