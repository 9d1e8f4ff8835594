//! One deflate stream without fastnpz's chunk markers (numpy's, zlib's),
//! inflated by libdeflate straight into the array, a step at a time: each
//! call pauses at a block boundary after a few MiB, and the next resumes
//! there, with the output written so far as its window. So the stop flag
//! is checked and progress counted between steps, and the compressed bytes
//! are read in a bounded window instead of whole (no map of the file, so a
//! file truncated meanwhile is a read error, not a SIGBUS).
//!
//! libdeflate inflates about twice as fast as zlib-rs here, but it needs
//! its window in one contiguous output, which the header (in its own
//! buffer) is not part of: the first step inflates the header and the first
//! 32 KiB of the array into scratch memory, and the later steps write into
//! the array, whose first 32 KiB are then the window.
//!
//! Anything unexpected (corrupt data, a block larger than the window allows,
//! a size that does not add up) returns `None`: the caller streams the member
//! again with zlib-rs (`serial`), which reports exactly what is wrong.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, TryRecvError};

use super::libdeflate::{Decompressor, Failed, Resumed};
use super::populate::populate_write;
use super::DecodeError;
use crate::encode::crc32;
use crate::source::Source;

/// Output per step: about 20-50 ms of libdeflate's work between checks of
/// the stop flag.
const STEP: usize = 16 << 20;
/// Compressed bytes held at first; a call pauses once it has read all but
/// `MARGIN` of them, so a block that starts before then ends inside them
/// unless it is larger than any zlib writes (then the window doubles, up
/// to `MAX_WINDOW`, and beyond that the member is streamed).
const WINDOW: usize = 8 << 20;
const MARGIN: usize = 2 << 20;
const MAX_WINDOW: usize = 64 << 20;
/// Pages mapped ahead of the inflater per check for a finished part.
const POPULATE_STEP: usize = 2 << 20;
/// Back-references reach at most this far.
const DEFLATE_WINDOW: usize = 32 * 1024;
/// The most the first step may inflate into scratch memory: the header,
/// the window, and the rest of the block it ends in (zlib's blocks hold at
/// most 16K symbols, 4 MiB of output).
const FIRST_ROOM: usize = (4 << 20) + (512 << 10);

/// Reusable memory for `decode`.
#[derive(Default)]
pub struct Buffers {
    /// Compressed bytes.
    input: Vec<u8>,
    decompressor: Option<Decompressor>,
}

/// The compressed bytes of one member, read a window at a time.
struct Window<'s, 'a> {
    source: &'s Source<'a>,
    range: Range<u64>,
    /// Where `bytes` starts, from the start of `range`.
    start: u64,
    /// Bits of `range` consumed so far.
    at: u64,
    size: usize,
}

impl Window<'_, '_> {
    /// The unconsumed bytes held (from the byte `at` is in), topped up
    /// when fewer than `MARGIN` are left, or when `more` (the window grew);
    /// with how many bits of that first byte are consumed already.
    fn held<'b>(
        &mut self,
        bytes: &'b mut Vec<u8>,
        more: bool,
    ) -> Result<(&'b [u8], u32), DecodeError> {
        let len = self.range.end - self.range.start;
        let byte = self.at / 8;
        let skip = (self.at % 8) as u32;
        let offset = (byte - self.start) as usize;
        let held_to = self.start + bytes.len() as u64;
        if held_to < len && (more || held_to - byte < MARGIN as u64) {
            let wanted = (len - byte).min(self.size as u64) as usize;
            bytes.drain(..offset);
            let have = bytes.len();
            bytes.resize(wanted.max(have), 0);
            self.source
                .read_exact_at(self.range.start + byte + have as u64, &mut bytes[have..])?;
            self.start = byte;
            return Ok((&bytes[..], skip));
        }
        Ok((&bytes[offset..], skip))
    }

    /// Whether the bytes held reach the end of the member.
    fn at_end(&self, bytes: &[u8]) -> bool {
        self.start + bytes.len() as u64 == self.range.end - self.range.start
    }

    /// One call of libdeflate on the bytes held (`call(input, skip_bits,
    /// pause_in)`), with more held when the call failed before the end of
    /// them could have been the reason.
    fn step(
        &mut self,
        bytes: &mut Vec<u8>,
        call: &mut Call<'_>,
    ) -> Result<Option<Resumed>, DecodeError> {
        let mut more = false;
        loop {
            let (input, skip) = self.held(bytes, more)?;
            let to_end = self.at / 8 + input.len() as u64 == self.range.end - self.range.start;
            let pause_in = if to_end {
                usize::MAX
            } else {
                input.len().saturating_sub(MARGIN).max(1)
            };
            match call(input, skip, pause_in) {
                Ok(done) => {
                    if let Resumed::Paused { in_bits, .. } = done {
                        self.at = self.at - u64::from(skip) + in_bits as u64;
                    }
                    return Ok(Some(done));
                }
                // The input held may have ended inside a block.
                Err(Failed::Invalid) if !to_end && self.size < MAX_WINDOW => {
                    self.size *= 2;
                    more = true;
                }
                Err(_) => return Ok(None),
            }
        }
    }
}

/// One call of libdeflate: `(input, skip_bits, pause_in)`.
type Call<'c> = dyn FnMut(&[u8], u32, usize) -> Result<Resumed, Failed> + 'c;

/// The array being written, shared with the thread that computes the CRC
/// of its finished part.
struct Body {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: `Body` is only a pointer to memory borrowed exclusively by
// `decode` for as long as any thread uses it; what each thread may do with
// which bytes is stated where it does it.
unsafe impl Send for Body {}
// SAFETY: as above.
unsafe impl Sync for Body {}

impl Body {
    /// # Safety
    /// Nothing may write to `range` while the slice is alive.
    unsafe fn part(&self, range: Range<usize>) -> &[u8] {
        let range = range.start.min(self.len)..range.end.min(self.len);
        // SAFETY: `ptr` is valid for `len` bytes, and the range is within
        // them; the caller promises no writes meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.add(range.start), range.len()) }
    }

    /// Map the pages of `range` for writing, without writing to them
    /// (safe beside the inflater's writes: see `populate`).
    fn populate(&self, range: Range<usize>) -> bool {
        let range = range.start.min(self.len)..range.end.min(self.len);
        // The pointer is only handed to the kernel, never dereferenced.
        populate_write(self.ptr.wrapping_add(range.start), range.len())
    }
}

/// How `decode` reports and takes orders.
pub struct Control<'c> {
    /// Set by the caller: stop at the next step.
    pub stop: &'c AtomicBool,
    /// Bytes written, added up across threads.
    pub done: &'c AtomicU64,
    /// Compute the CRC on another thread, alongside inflating (when a
    /// core would otherwise be idle).
    pub crc_aside: bool,
}

/// Inflate the deflate stream at `range` into `head` then `body`, which
/// must have exactly the declared size between them. Returns the CRC-32;
/// `None` when the stream must be streamed by zlib-rs instead; `Stopped`
/// soon after `stop` is set. Bytes written are added to `done`.
pub fn decode(
    source: &Source<'_>,
    range: Range<u64>,
    head: &mut [u8],
    body: &mut [u8],
    buffers: &mut Buffers,
    control: &Control<'_>,
) -> Result<Option<u32>, DecodeError> {
    let h = head.len();
    let Some(total) = h.checked_add(body.len()) else {
        return Ok(None);
    };
    // More compressed bytes than any compressor writes for this size (a
    // stream padded with empty blocks, say): not worth a window that size.
    let compressed = range.end.saturating_sub(range.start);
    if compressed > (total as u64).saturating_add(total as u64 / 1024 + 1024) {
        return Ok(None);
    }
    let Buffers {
        input,
        decompressor,
    } = buffers;
    if decompressor.is_none() {
        *decompressor = Some(Decompressor::new()?);
    }
    let Some(decompressor) = decompressor.as_mut() else {
        return Ok(None);
    };
    input.clear();
    let mut window = Window {
        source,
        range,
        start: 0,
        at: 0,
        size: WINDOW,
    };
    // The header and the first 32 KiB of the body, so that later steps find
    // their window in the body. Zeroed by the allocator, so only the pages
    // written take memory (a block is usually far smaller than the room).
    let mut first = vec![0u8; total.min(h.saturating_add(FIRST_ROOM))];
    let Some(outcome) = window.step(input, &mut |input, skip, pause_in| {
        decompressor.resume(input, skip, &mut first, 0, h + DEFLATE_WINDOW, pause_in)
    })?
    else {
        return Ok(None);
    };
    let written = match outcome {
        Resumed::Paused { out, .. } | Resumed::Ended { out, .. } => out,
    };
    if written < h {
        return Ok(None);
    }
    head.copy_from_slice(&first[..h]);
    body[..written - h].copy_from_slice(&first[h..written]);
    drop(first);
    let crc = crc32(crc32(0, head), &body[..written - h]);
    control.done.fetch_add(written as u64, Ordering::Relaxed);
    let written_body = written - h;
    // From here on `body` is touched only through `shared`, by this thread
    // (libdeflate writing after what is written, and reading its window)
    // and by the CRC thread (reading what is written).
    let shared = Body {
        ptr: body.as_mut_ptr(),
        len: body.len(),
    };
    let mut state = (outcome, written_body, crc);
    std::thread::scope(|scope| {
        let (sender, parts) = mpsc::channel::<Range<usize>>();
        let aside = (control.crc_aside && matches!(outcome, Resumed::Paused { .. })).then(|| {
            let shared = &shared;
            scope.spawn(move || {
                let mut crc = crc;
                // While no part waits for its CRC, the pages ahead of the
                // inflater are mapped (`populate`), a few MiB at a time.
                let mut ahead = written_body;
                loop {
                    let part = if ahead < shared.len {
                        match parts.try_recv() {
                            Ok(part) => part,
                            Err(TryRecvError::Empty) => {
                                let end = ahead.saturating_add(POPULATE_STEP).min(shared.len);
                                ahead = if shared.populate(ahead..end) {
                                    end
                                } else {
                                    shared.len
                                };
                                continue;
                            }
                            Err(TryRecvError::Disconnected) => break,
                        }
                    } else {
                        match parts.recv() {
                            Ok(part) => part,
                            Err(_) => break,
                        }
                    };
                    // SAFETY: only parts already written are sent, and
                    // nothing writes to them again while this thread runs
                    // (libdeflate writes only after them).
                    crc = crc32(crc, unsafe { shared.part(part) });
                }
                crc
            })
        });
        let (outcome, written_body, crc) = &mut state;
        while let Resumed::Paused { .. } = *outcome {
            if control.stop.load(Ordering::Relaxed) {
                return Err(DecodeError::Stopped);
            }
            let prefix = *written_body;
            let pause_at = prefix.saturating_add(STEP);
            let Some(next) = window.step(input, &mut |input, skip, pause_in| {
                // SAFETY: `shared` is the whole body, borrowed exclusively
                // by this function; libdeflate writes only after `prefix`,
                // and the CRC thread reads only before it.
                unsafe {
                    decompressor.resume_raw(
                        input, skip, shared.ptr, shared.len, prefix, pause_at, pause_in,
                    )
                }
            })?
            else {
                return Ok(None);
            };
            let now = match next {
                Resumed::Paused { out, .. } | Resumed::Ended { out, .. } => out,
            };
            if aside.is_some() {
                // A closed channel means the CRC thread died: its join
                // says so below.
                let _ = sender.send(prefix..now);
            } else {
                // SAFETY: nothing writes to the body between calls.
                *crc = crc32(*crc, unsafe { shared.part(prefix..now) });
            }
            control
                .done
                .fetch_add((now - prefix) as u64, Ordering::Relaxed);
            *written_body = now;
            *outcome = next;
        }
        drop(sender);
        if let Some(aside) = aside {
            *crc = aside
                .join()
                .map_err(|_| DecodeError::Corrupt("panic while checking the CRC"))?;
        }
        Ok(Some(()))
    })?
    .map_or(Ok(None), |()| {
        let (outcome, written_body, crc) = state;
        // The stream ended: it must have filled the body, and used exactly
        // the member's compressed bytes.
        let Resumed::Ended { in_bytes, .. } = outcome else {
            return Ok(None);
        };
        let used = window.at / 8 + in_bytes as u64;
        if written_body != shared.len
            || !window.at_end(input)
            || used != window.range.end - window.range.start
        {
            return Ok(None);
        }
        Ok(Some(crc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::smooth;
    use crate::encode::zlib::Zlib;
    use crate::member::Span;

    /// numpy's stream: zlib level 6, one whole stream.
    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Zlib::new().unwrap().compress(data, true, &mut out).unwrap();
        out
    }

    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    fn run_with(
        z: &[u8],
        h: usize,
        len: usize,
        stop: bool,
        crc_aside: bool,
    ) -> Result<Option<(Vec<u8>, u32)>, DecodeError> {
        let source = Source::Memory(Span::from_slice(z));
        let mut head = vec![0u8; h];
        let mut body = vec![0u8; len - h];
        let done = AtomicU64::new(0);
        let stop = AtomicBool::new(stop);
        let got = decode(
            &source,
            0..z.len() as u64,
            &mut head,
            &mut body,
            &mut Buffers::default(),
            &Control {
                stop: &stop,
                done: &done,
                crc_aside,
            },
        )?;
        Ok(got.map(|crc| {
            assert_eq!(done.load(Ordering::Relaxed), len as u64);
            head.extend_from_slice(&body);
            (head, crc)
        }))
    }

    fn run(
        z: &[u8],
        h: usize,
        len: usize,
        stop: bool,
    ) -> Result<Option<(Vec<u8>, u32)>, DecodeError> {
        let inline = run_with(z, h, len, stop, false);
        let aside = run_with(z, h, len, stop, true);
        match (&inline, &aside) {
            (Ok(a), Ok(b)) => assert!(a == b, "CRC aside differs"),
            (Err(_), Err(_)) => {}
            _ => panic!("CRC aside: {aside:?}"),
        }
        inline
    }

    #[test]
    fn numpy_streams_resume_at_block_boundaries() {
        let mut mixed = smooth(9 << 20);
        mixed.extend(noise(12 << 20));
        mixed.extend(vec![0u8; 18 << 20]);
        mixed.extend(smooth(300_000));
        for data in [mixed, smooth(1 << 20), noise(100_000), vec![7u8; 50_000]] {
            let z = zlib(&data);
            for h in [1, 128, 4096] {
                let (got, crc) = run(&z, h, data.len(), false).unwrap().unwrap();
                assert!(got == data, "{} bytes, header {h}", data.len());
                assert_eq!(crc, crc32(0, &data));
            }
        }
    }

    #[test]
    fn anything_unexpected_is_left_to_zlib_rs() {
        let mut data = smooth(3 << 20);
        data.extend(noise(10 << 20));
        let z = zlib(&data);
        let n = data.len();
        assert!(
            run(&z, 128, n - 1, false).unwrap().is_none(),
            "declared too short"
        );
        assert!(
            run(&z, 128, n + 1, false).unwrap().is_none(),
            "declared too long"
        );
        let mut trailing = z.clone();
        trailing.push(0);
        assert!(
            run(&trailing, 128, n, false).unwrap().is_none(),
            "trailing bytes"
        );
        for cut in [1, 1000, z.len() / 2] {
            assert!(
                run(&z[..z.len() - cut], 128, n, false).unwrap().is_none(),
                "truncated"
            );
        }
        for at in [10, z.len() / 3, z.len() - 10] {
            let mut flipped = z.clone();
            flipped[at] ^= 0x10;
            if let Ok(Some((got, _))) = run(&flipped, 128, n, false) {
                assert!(got != data);
            }
        }
        assert!(run(&[], 128, n, false).unwrap().is_none());
    }

    #[test]
    fn a_stop_ends_the_stream_between_steps() {
        let data = noise(40 << 20);
        let got = run(&zlib(&data), 128, data.len(), true);
        assert!(matches!(got, Err(DecodeError::Stopped)), "{got:?}");
    }
}
