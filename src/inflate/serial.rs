//! One member, one thread: any valid deflate stream (numpy's, pigz's,
//! fastnpz's), or stored bytes, streamed from the source in bounded blocks.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use zlib_rs::Inflate;

use super::{inflate_into, DecodeError, Input, Output};
use crate::source::Source;

/// Compressed bytes read from the source at a time (and stored bytes
/// copied at a time): a few milliseconds of work between checks of `stop`.
const BLOCK: u64 = 1 << 20;

/// Decode the member whose data is `range` (method 0 stored, 8 deflate)
/// into `out`, which must have exactly the declared uncompressed size.
/// `buffer` is scratch space for compressed bytes. Returns the CRC-32, or
/// `Stopped` soon after `stop` is set.
pub fn decode(
    source: &Source<'_>,
    range: Range<u64>,
    method: u16,
    out: &mut Output<'_, '_>,
    buffer: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Result<u32, DecodeError> {
    match method {
        0 => stored(source, range, out, stop),
        8 => {
            let mut inflater = Inflate::new(false, 15);
            buffer.clear();
            let mut input = SourceInput {
                stop,
                source,
                next: range.start,
                end: range.end,
                buffer,
                pos: 0,
            };
            inflate_into(&mut inflater, out, true, &mut input)?;
            Ok(out.crc())
        }
        _ => Err(DecodeError::Corrupt("compression method not read here")),
    }
}

/// Compressed bytes read from a source a block at a time.
struct SourceInput<'s, 'b, 'a> {
    stop: &'s AtomicBool,
    source: &'s Source<'a>,
    next: u64,
    end: u64,
    buffer: &'b mut Vec<u8>,
    pos: usize,
}

impl Input for SourceInput<'_, '_, '_> {
    fn fill(&mut self) -> Result<&[u8], DecodeError> {
        // Checked on every call: inflate_into calls this at least every
        // few MiB of output, however compressed the stream.
        if self.stop.load(Ordering::Relaxed) {
            return Err(DecodeError::Stopped);
        }
        if self.pos == self.buffer.len() && self.next < self.end {
            let n = BLOCK.min(self.end - self.next) as usize;
            self.buffer.resize(n, 0);
            self.source.read_exact_at(self.next, self.buffer)?;
            self.next += n as u64;
            self.pos = 0;
        }
        Ok(&self.buffer[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buffer.len());
    }
}

/// Stored data: read straight into the output, no copy.
fn stored(
    source: &Source<'_>,
    range: Range<u64>,
    out: &mut Output<'_, '_>,
    stop: &AtomicBool,
) -> Result<u32, DecodeError> {
    let mut at = range.start;
    while let Some(room) = out.room() {
        if stop.load(Ordering::Relaxed) {
            return Err(DecodeError::Stopped);
        }
        let n = (room.len() as u64).min(BLOCK);
        if at + n > range.end {
            return Err(DecodeError::Corrupt(
                "stored data shorter than the declared size",
            ));
        }
        source.read_exact_at(at, &mut room[..n as usize])?;
        out.advance(n as usize);
        at += n;
    }
    if at != range.end {
        return Err(DecodeError::Corrupt(
            "stored data longer than the declared size",
        ));
    }
    Ok(out.crc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::smooth;
    use crate::encode::{crc32, Choice, ChunkEncoder, Compression, Effort};
    use crate::member::Span;

    fn deflated(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        ChunkEncoder::new(Compression::Deflated(6))
            .encode(Choice::Deflate(Effort::level(6)), data, true, &mut out)
            .unwrap();
        out
    }

    fn run(
        compressed: &[u8],
        method: u16,
        head: usize,
        len: usize,
    ) -> Result<(Vec<u8>, u32), DecodeError> {
        let source = Source::Memory(Span::from_slice(compressed));
        let mut a = vec![0u8; head.min(len)];
        let mut b = vec![0u8; len - head.min(len)];
        let crc = {
            let mut pieces = [&mut a[..], &mut b[..]];
            let mut out = Output::new(&mut pieces);
            decode(
                &source,
                0..compressed.len() as u64,
                method,
                &mut out,
                &mut Vec::new(),
                &AtomicBool::new(false),
            )?
        };
        a.extend_from_slice(&b);
        Ok((a, crc))
    }

    #[test]
    fn inflates_into_split_outputs_and_checks_the_sizes() {
        let data = smooth(3_000_000);
        let z = deflated(&data);
        for head in [0, 1, 128, 4096] {
            let (got, crc) = run(&z, 8, head, data.len()).unwrap();
            assert_eq!(got, data);
            assert_eq!(crc, crc32(0, &data));
        }
        assert!(
            run(&z, 8, 128, data.len() - 1).is_err(),
            "declared too short"
        );
        assert!(
            run(&z, 8, 128, data.len() + 1).is_err(),
            "declared too long"
        );
        let mut trailing = z.clone();
        trailing.push(0);
        assert!(
            run(&trailing, 8, 128, data.len()).is_err(),
            "trailing bytes"
        );
        assert!(
            run(&z[..z.len() - 1], 8, 128, data.len()).is_err(),
            "truncated"
        );
        let mut flipped = z.clone();
        flipped[z.len() / 2] ^= 0x10;
        if let Ok((got, _)) = run(&flipped, 8, 128, data.len()) {
            assert_ne!(got, data);
        }
    }

    #[test]
    fn a_stop_ends_the_stream_between_steps() {
        let data = vec![0u8; 64 << 20];
        let z = deflated(&data);
        let source = Source::Memory(Span::from_slice(&z));
        let mut out = vec![0u8; data.len()];
        for method in [0u16, 8] {
            let mut pieces = [&mut out[..]];
            let mut output = Output::new(&mut pieces);
            let got = decode(
                &source,
                0..z.len() as u64,
                method,
                &mut output,
                &mut Vec::new(),
                &AtomicBool::new(true),
            );
            assert!(matches!(got, Err(DecodeError::Stopped)), "{got:?}");
        }
    }

    #[test]
    fn stored_members_are_read_in_place() {
        let data = smooth(10_000);
        let (got, crc) = run(&data, 0, 100, data.len()).unwrap();
        assert_eq!((got, crc), (data.clone(), crc32(0, &data)));
        assert!(run(&data, 0, 100, data.len() - 1).is_err());
        assert!(run(&data[..9_999], 0, 100, data.len()).is_err());
    }
}
