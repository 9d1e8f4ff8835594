//! libdeflate's decompressor behind a safe type: for compressed data held
//! whole in memory (a fastnpz chunk, a small member), where it inflates
//! about 15% faster than zlib-rs (`examples/engines.rs` measures both), and
//! for one long stream in steps (`resume`, fastnpz's patch: see `blocks`).

use std::ffi::{c_int, c_uint, c_void};
use std::ptr::NonNull;

use super::DecodeError;

#[repr(C)]
struct RawDecompressor {
    _opaque: [u8; 0],
}

extern "C" {
    fn libdeflate_alloc_decompressor() -> *mut RawDecompressor;
    fn libdeflate_free_decompressor(decompressor: *mut RawDecompressor);
    fn libdeflate_deflate_decompress_ex(
        decompressor: *mut RawDecompressor,
        input: *const c_void,
        in_nbytes: usize,
        out: *mut c_void,
        out_nbytes_avail: usize,
        actual_in_nbytes_ret: *mut usize,
        actual_out_nbytes_ret: *mut usize,
    ) -> c_int;
    // fastnpz's addition (vendor/libdeflate/README.md).
    fn fastnpz_deflate_decompress_resume(
        decompressor: *mut RawDecompressor,
        input: *const c_void,
        in_nbytes: usize,
        skip_bits: c_uint,
        out: *mut c_void,
        out_prefix: usize,
        out_nbytes_avail: usize,
        pause_at: usize,
        pause_in: usize,
        in_bits_ret: *mut usize,
        actual_out_nbytes_ret: *mut usize,
    ) -> c_int;
}

/// `fastnpz_deflate_decompress_resume` stopped at a block boundary.
const PAUSED: c_int = 100;

/// How a `resume` call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// At a block boundary, not the last: the next block starts `in_bits`
    /// bits into the input, and `out` bytes of the output are written
    /// (the prefix included).
    Paused { in_bits: usize, out: usize },
    /// The final block ended: `in_bytes` bytes of input were used (the last
    /// one perhaps in part), and `out` bytes of the output are written.
    Ended { in_bytes: usize, out: usize },
}

/// An empty final block (BFINAL 1, fixed Huffman, end-of-block), appended
/// to a chunk that ends with a sync flush, so libdeflate, which reads whole
/// streams, reads it as one.
pub const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

/// One decompressor, owned by one thread at a time.
pub struct Decompressor {
    raw: NonNull<RawDecompressor>,
}

// SAFETY: a libdeflate decompressor holds no thread-local or shared state;
// `&mut self` on every use keeps it to one thread at a time.
unsafe impl Send for Decompressor {}

impl Decompressor {
    /// A decompressor.
    pub fn new() -> Result<Self, DecodeError> {
        // SAFETY: plain FFI call; it returns null on allocation failure.
        let raw = unsafe { libdeflate_alloc_decompressor() };
        NonNull::new(raw)
            .map(|raw| Decompressor { raw })
            .ok_or(DecodeError::Corrupt(
                "libdeflate could not allocate a decompressor",
            ))
    }

    /// Inflate the whole deflate stream `input` into exactly `out`: it must
    /// use every input byte and fill every output byte.
    pub fn inflate_exact(&mut self, input: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
        let (mut used, mut produced) = (0usize, 0usize);
        // SAFETY: `raw` is a live decompressor used by this thread only;
        // `input` and `out` are valid slices for the call, and libdeflate
        // reads at most `input.len()` bytes and writes at most `out.len()`.
        let status = unsafe {
            libdeflate_deflate_decompress_ex(
                self.raw.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut used,
                &mut produced,
            )
        };
        match status {
            0 if used == input.len() && produced == out.len() => Ok(()),
            0 if produced < out.len() => {
                Err(DecodeError::Corrupt("less data than the declared size"))
            }
            0 => Err(DecodeError::Corrupt(
                "bytes after the end of the deflate stream",
            )),
            3 => Err(DecodeError::Corrupt("more data than the declared size")),
            _ => Err(DecodeError::Corrupt("invalid deflate data")),
        }
    }

    /// Inflate part of a stream that starts at a block boundary, `skip_bits`
    /// (0-7) into `input`'s first byte, after the `prefix` bytes of `out`
    /// already written (back-references may reach into them, and no
    /// further). Pauses at the first block boundary once `out` holds
    /// `pause_at` bytes or about `pause_in` bytes of input are read. An
    /// error (corrupt data, too little room, or input that ends inside a
    /// block) says nothing of where: the caller starts again.
    pub fn resume(
        &mut self,
        input: &[u8],
        skip_bits: u32,
        out: &mut [u8],
        prefix: usize,
        pause_at: usize,
        pause_in: usize,
    ) -> Result<Resumed, Failed> {
        // SAFETY: `out` is an exclusive slice: valid for reads and writes
        // of all its bytes, and nothing else touches them during the call.
        unsafe {
            self.resume_raw(
                input,
                skip_bits,
                out.as_mut_ptr(),
                out.len(),
                prefix,
                pause_at,
                pause_in,
            )
        }
    }

    /// `resume` on output memory given as a pointer, so that another thread
    /// may read the part before `prefix` meanwhile (a CRC of it).
    ///
    /// # Safety
    /// `out` must be valid for reads of `out_len` bytes and for writes of
    /// those after `prefix`; nothing may write to any of them, or read
    /// those after `prefix`, until the call returns.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn resume_raw(
        &mut self,
        input: &[u8],
        skip_bits: u32,
        out: *mut u8,
        out_len: usize,
        prefix: usize,
        pause_at: usize,
        pause_in: usize,
    ) -> Result<Resumed, Failed> {
        if skip_bits > 7 || prefix > out_len || (skip_bits > 0 && input.is_empty()) {
            return Err(Failed::Invalid);
        }
        let (mut in_bits, mut produced) = (0usize, 0usize);
        // SAFETY: `raw` is a live decompressor used by this thread only;
        // `input` is a valid slice for the call; `out` is as the caller
        // promises: libdeflate reads at most `input.len()` bytes, writes
        // only `out[prefix..out_len]` and reads back-references from
        // `out[..out_len]` (checked against the start of `out`), and
        // resets its resume settings before returning.
        let status = unsafe {
            fastnpz_deflate_decompress_resume(
                self.raw.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                skip_bits,
                out.cast(),
                prefix,
                out_len,
                pause_at,
                pause_in,
                &mut in_bits,
                &mut produced,
            )
        };
        // Whatever libdeflate reports is checked against the slices, so
        // that a bug there cannot send the caller beyond them.
        let sane = produced >= prefix && produced <= out_len && in_bits <= input.len() * 8;
        match status {
            0 if sane => Ok(Resumed::Ended {
                in_bytes: in_bits / 8,
                out: produced,
            }),
            PAUSED if sane => Ok(Resumed::Paused {
                in_bits,
                out: produced,
            }),
            3 => Err(Failed::NoRoom),
            _ => Err(Failed::Invalid),
        }
    }
}

/// Why a `resume` call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// The output is full before the pause or the end.
    NoRoom,
    /// Invalid data, or input that ends inside a block.
    Invalid,
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: `raw` came from libdeflate_alloc_decompressor and is freed
        // once, here.
        unsafe { libdeflate_free_decompressor(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::libdeflate::Compressor;
    use crate::encode::testing::smooth;

    #[test]
    fn whole_streams_and_sync_flushed_chunks() {
        let data = smooth(500_000);
        let mut c = Compressor::new(6).unwrap();
        let mut d = Decompressor::new().unwrap();
        let mut whole = Vec::new();
        c.compress(&data, true, &mut whole).unwrap();
        let mut out = vec![0u8; data.len()];
        d.inflate_exact(&whole, &mut out).unwrap();
        assert_eq!(out, data);
        assert!(d.inflate_exact(&whole, &mut out[..data.len() - 1]).is_err());
        let mut longer = vec![0u8; data.len() + 1];
        assert!(d.inflate_exact(&whole, &mut longer).is_err());
        let mut trailing = whole.clone();
        trailing.push(0);
        assert!(d.inflate_exact(&trailing, &mut out).is_err());
        let mut chunk = Vec::new();
        c.compress(&data[..200_000], false, &mut chunk).unwrap();
        chunk.extend_from_slice(&FINAL_EMPTY_BLOCK);
        let mut first = vec![0u8; 200_000];
        d.inflate_exact(&chunk, &mut first).unwrap();
        assert_eq!(first, data[..200_000]);
    }
}
