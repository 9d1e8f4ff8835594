//! numpy's own compressor, zlib at level 6. The policy compresses sample
//! windows with it to learn the size fastnpz must not exceed, and falls
//! back to it for data where no faster engine reaches that size. zlib is
//! built from the source bundled with `libz-sys`; its level-6 output is
//! byte-identical to that of the system zlib numpy uses (checked on this
//! project's datasets).

use std::ffi::{c_int, c_uint, c_void};

use libz_sys::{
    deflate, deflateBound, deflateEnd, deflateInit2_, deflateReset, uInt, uLong, voidpf, z_stream,
    zlibVersion, Z_DEFAULT_STRATEGY, Z_DEFLATED, Z_FINISH, Z_OK, Z_STREAM_END, Z_SYNC_FLUSH,
};

use super::EncodeError;

extern "C" {
    fn calloc(count: usize, size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
}

extern "C" fn zalloc(_opaque: voidpf, items: uInt, size: uInt) -> voidpf {
    // SAFETY: plain C allocation; zlib checks for null.
    unsafe { calloc(items as usize, size as usize) }
}

extern "C" fn zfree(_opaque: voidpf, address: voidpf) {
    // SAFETY: `address` came from `zalloc` (calloc) and zlib frees it once.
    unsafe { free(address) }
}

/// A zlib level-6 raw deflate state, reused between measurements.
pub struct Zlib {
    // Boxed: zlib's internal state points back at the z_stream.
    stream: Box<z_stream>,
    out: Vec<u8>,
}

// SAFETY: the zlib state is owned by this value alone and used through
// `&mut self` only, so moving it between threads is safe.
unsafe impl Send for Zlib {}

impl Zlib {
    /// A fresh state: raw deflate, 32 KiB window, memLevel 8, level 6, as
    /// Python's zipfile asks of zlib for numpy.
    pub fn new() -> Result<Self, EncodeError> {
        let mut stream = Box::new(z_stream {
            next_in: std::ptr::null_mut(),
            avail_in: 0,
            total_in: 0,
            next_out: std::ptr::null_mut(),
            avail_out: 0,
            total_out: 0,
            msg: std::ptr::null_mut(),
            state: std::ptr::null_mut(),
            zalloc,
            zfree,
            opaque: std::ptr::null_mut(),
            data_type: 0,
            adler: 0,
            reserved: 0,
        });
        // SAFETY: `stream` is a valid z_stream with allocator functions set;
        // zlib initialises the rest. The version and size let zlib check
        // that the struct layout matches.
        let status = unsafe {
            deflateInit2_(
                &mut *stream,
                6,
                Z_DEFLATED,
                -15,
                8,
                Z_DEFAULT_STRATEGY,
                zlibVersion(),
                std::mem::size_of::<z_stream>() as c_int,
            )
        };
        if status != Z_OK {
            return Err(EncodeError::Engine("zlib could not allocate a compressor"));
        }
        Ok(Zlib {
            stream,
            out: Vec::new(),
        })
    }

    /// The size zlib level 6 compresses `data` to, as one whole stream.
    pub fn size(&mut self, data: &[u8]) -> Result<u64, EncodeError> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.compress(data, true, &mut out);
        let size = out.len() as u64;
        self.out = out;
        r.map(|()| size)
    }

    /// Append `data`, compressed as one chunk, to `out`: a fresh stream
    /// that ends with a final block when `last`, and otherwise with zlib's
    /// sync flush (a non-final block, then an empty stored block).
    pub fn compress(
        &mut self,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let input_len = c_uint::try_from(data.len())
            .map_err(|_| EncodeError::Engine("chunk too large for zlib"))?;
        let stream = &mut *self.stream;
        // SAFETY: the stream was initialised by deflateInit2_.
        let bound = unsafe { deflateBound(stream, input_len as uLong) } as usize + 16;
        out.reserve(bound);
        let spare = out.spare_capacity_mut();
        let avail = c_uint::try_from(spare.len()).unwrap_or(c_uint::MAX);
        stream.next_in = data.as_ptr().cast_mut();
        stream.avail_in = input_len;
        stream.next_out = spare.as_mut_ptr().cast();
        stream.avail_out = avail;
        let flush = if last { Z_FINISH } else { Z_SYNC_FLUSH };
        // SAFETY: next_in/next_out point at `avail_in`/`avail_out` valid
        // bytes that outlive the call; zlib only reads the input (despite
        // the `*mut`) and writes at most `avail_out` bytes of output.
        let status = unsafe { deflate(stream, flush) };
        let written = (avail - stream.avail_out) as usize;
        let complete = stream.avail_in == 0 && stream.avail_out > 0;
        // SAFETY: as above; reset keeps the allocation for the next chunk.
        let reset = unsafe { deflateReset(stream) };
        stream.next_in = std::ptr::null_mut();
        stream.next_out = std::ptr::null_mut();
        let finished = if last {
            status == Z_STREAM_END
        } else {
            status == Z_OK && complete
        };
        if !finished || reset != Z_OK || written > spare.len() {
            return Err(EncodeError::Engine("zlib did not finish a chunk"));
        }
        let len = out.len() + written;
        // SAFETY: zlib initialised the first `written` bytes of the spare
        // capacity, and `written <= spare.len()` was checked.
        unsafe { out.set_len(len) };
        Ok(())
    }
}

impl Drop for Zlib {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised by deflateInit2_ and is ended
        // once, here.
        unsafe { deflateEnd(&mut *self.stream) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::smooth;

    #[test]
    fn sizes_are_zlibs_and_states_are_reusable() {
        let data = smooth(200_000);
        let mut z = Zlib::new().unwrap();
        let a = z.size(&data).unwrap();
        let b = z.size(&data).unwrap();
        assert_eq!(a, b);
        assert!(a < data.len() as u64);
        assert_eq!(a, Zlib::new().unwrap().size(&data).unwrap());
        // An empty raw stream is one empty fixed block: two bytes.
        assert_eq!(z.size(&[]).unwrap(), 2);
        assert!(a < data.len() as u64 / 2);
    }

    #[test]
    fn zlib_chunks_concatenate_into_one_stream() {
        let data = smooth(300_000);
        let mut z = Zlib::new().unwrap();
        let mut out = Vec::new();
        z.compress(&data[..100_000], false, &mut out).unwrap();
        assert!(out.ends_with(&crate::encode::bits::SYNC_MARKER));
        z.compress(&data[100_000..], true, &mut out).unwrap();
        assert_eq!(crate::encode::testing::inflate_raw(&out, data.len()), data);
    }
}
