//! Inflating one member's data straight into its final memory, checking
//! as it goes everything `zipfile` would: the stream ends exactly where the
//! member's compressed data ends, yields exactly the declared size, and
//! matches the CRC. Any mismatch is an error, and the caller falls back to
//! `zipfile` (which then raises numpy's exception).
//!
//! - `serial`: any deflate stream, streamed from the source in blocks;
//! - `blocks`: one deflate stream inflated by libdeflate, a few MiB at a
//!   time, each step resuming at the block boundary the last one paused at;
//! - `libdeflate`: libdeflate's faster one-shot inflater, for compressed
//!   bytes held whole (a chunk, a small member);
//! - `populate`: the output's page faults taken on the idle core, ahead
//!   of the one inflating a whole stream;
//! - `markers`: finding the sync-flush markers that end fastnpz's chunks,
//!   so the chunks of one large member can be inflated in parallel, each
//!   into its own slice of the output.

pub mod blocks;
pub mod libdeflate;
pub mod markers;
pub mod populate;
pub mod serial;

use std::sync::atomic::{AtomicU64, Ordering};

use zlib_rs::{Inflate, InflateFlush, Status};

use crate::encode::crc32;
use crate::source::ReadError;

/// Why a member could not be inflated as declared.
#[derive(Debug)]
pub enum DecodeError {
    /// The source could not be read.
    Read(ReadError),
    /// The data is not what the directory says (corrupt, truncated, lying
    /// sizes or CRC, or not deflate).
    Corrupt(&'static str),
    /// The caller asked the work to stop.
    Stopped,
}

impl From<ReadError> for DecodeError {
    fn from(e: ReadError) -> Self {
        DecodeError::Read(e)
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Read(e) => e.fmt(f),
            DecodeError::Corrupt(why) => f.write_str(why),
            DecodeError::Stopped => f.write_str("stopped"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Output memory split into consecutive pieces (a header buffer, then the
/// array's bytes), filled in order.
pub struct Output<'o, 'b> {
    pieces: &'o mut [&'b mut [u8]],
    piece: usize,
    filled: usize,
    crc: u32,
    /// Bytes written, added up across threads (for progress reports).
    counter: Option<&'o AtomicU64>,
}

impl<'o, 'b> Output<'o, 'b> {
    /// An empty output over `pieces`.
    pub fn new(pieces: &'o mut [&'b mut [u8]]) -> Self {
        Output {
            pieces,
            piece: 0,
            filled: 0,
            crc: 0,
            counter: None,
        }
    }

    /// An empty output over `pieces` that adds each byte written to
    /// `counter` as it goes.
    pub fn counted(pieces: &'o mut [&'b mut [u8]], counter: &'o AtomicU64) -> Self {
        Output {
            counter: Some(counter),
            ..Output::new(pieces)
        }
    }

    /// Room left in the current piece, skipping full ones; None when full.
    fn room(&mut self) -> Option<&mut [u8]> {
        while self.piece < self.pieces.len() && self.filled == self.pieces[self.piece].len() {
            self.piece += 1;
            self.filled = 0;
        }
        let filled = self.filled;
        self.pieces.get_mut(self.piece).map(|p| &mut p[filled..])
    }

    /// Record `n` bytes written at the start of `room()`.
    fn advance(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let start = self.filled;
        if let Some(p) = self.pieces.get(self.piece) {
            self.crc = crc32(self.crc, &p[start..start + n]);
        }
        self.filled += n;
        if let Some(counter) = self.counter {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// CRC-32 of everything written.
    pub fn crc(&self) -> u32 {
        self.crc
    }
}

/// Compressed bytes for `inflate_into`.
pub trait Input {
    /// The bytes not consumed yet, refilled when none are left; empty at
    /// the end of the input.
    fn fill(&mut self) -> Result<&[u8], DecodeError>;
    /// Mark `n` bytes of what `fill` returned as consumed.
    fn consume(&mut self, n: usize);
}

/// Most bytes inflated by one call of the inflater.
const STEP: usize = 4 << 20;

/// Feed `input` to `inflater` until `out` is full, then make sure the
/// stream has no more output. With `final_chunk`, the stream must end
/// (final block) exactly at the end of the input; otherwise it must stop at
/// a block boundary, all input consumed, without ending.
pub fn inflate_into(
    inflater: &mut Inflate,
    out: &mut Output<'_, '_>,
    final_chunk: bool,
    input: &mut dyn Input,
) -> Result<(), DecodeError> {
    let mut spare = [0u8; 1];
    let mut ended = false;
    loop {
        let available = input.fill()?;
        let (room, full) = match out.room() {
            // A bounded step, so that a highly compressed stream yields
            // to `input` (which checks whether to stop) every few ms.
            Some(r) => {
                let step = r.len().min(STEP);
                (&mut r[..step], false)
            }
            // Output complete: anything more the stream yields is too much.
            None => (&mut spare[..], true),
        };
        let before_in = inflater.total_in();
        let before_out = inflater.total_out();
        let status = inflater
            .decompress(available, room, InflateFlush::NoFlush)
            .map_err(|_| DecodeError::Corrupt("invalid deflate data"))?;
        let consumed = (inflater.total_in() - before_in) as usize;
        let produced = (inflater.total_out() - before_out) as usize;
        let had_input = !available.is_empty();
        if full && produced > 0 {
            return Err(DecodeError::Corrupt("more data than the declared size"));
        }
        out.advance(produced);
        input.consume(consumed);
        if status == Status::StreamEnd {
            ended = true;
            break;
        }
        if consumed == 0 && produced == 0 {
            if had_input {
                return Err(DecodeError::Corrupt("inflater made no progress"));
            }
            // No input left and nothing more to produce.
            break;
        }
    }
    if out.room().is_some() {
        return Err(DecodeError::Corrupt("less data than the declared size"));
    }
    if ended != final_chunk {
        return Err(DecodeError::Corrupt(if final_chunk {
            "the deflate stream does not end with the member"
        } else {
            "a chunk ends the deflate stream"
        }));
    }
    if !input.fill()?.is_empty() {
        return Err(DecodeError::Corrupt(
            "bytes after the end of the deflate stream",
        ));
    }
    Ok(())
}
