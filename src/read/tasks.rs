//! Running tasks: a whole member, or one chunk of it, inflated into its
//! output pieces by a worker, and each member's CRC and header checked
//! once its tasks are done.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use super::watch::Control;
use super::{Archive, NpyMember};
use crate::chunk::CHUNK_SIZE;
use crate::encode::{crc32, crc32_combine};
use crate::inflate::libdeflate::{Decompressor, FINAL_EMPTY_BLOCK};
use crate::inflate::{blocks, serial, DecodeError, Output};
use crate::pool::{parallel_map, Panicked};
use crate::source::Source;

impl Archive {
    /// Inflate `large` members (chunk by chunk where `splits` says), and
    /// check each member's header bytes, sizes and CRC.
    pub(super) fn run_tasks(
        &self,
        source: &Source<'_>,
        large: &mut [(usize, &NpyMember, &mut [u8])],
        heads: &mut [Vec<u8>],
        splits: &[Option<Vec<Range<u64>>>],
        threads: usize,
        control: &Control,
    ) -> Result<Vec<Result<(), DecodeError>>, Panicked> {
        let mut tasks: Vec<Mutex<Option<Task<'_, '_>>>> = Vec::new();
        // Fewer tasks than threads: a core would be idle, so a whole
        // stream's CRC runs there, beside its inflating.
        let count: usize = splits.iter().map(|s| s.as_ref().map_or(1, Vec::len)).sum();
        let crc_aside = count < threads;
        let mut owner = Vec::new();
        for (i, (((_, member, body), head), split)) in large
            .iter_mut()
            .zip(heads.iter_mut())
            .zip(splits)
            .enumerate()
        {
            let stream: Vec<Range<u64>> = match split {
                Some(ranges) => (0..ranges.len() as u64)
                    .map(|k| k * CHUNK_SIZE..((k + 1) * CHUNK_SIZE).min(member.len))
                    .collect(),
                None => std::iter::once(0..member.len).collect(),
            };
            let outputs = split_outputs(head, body, &stream);
            let n = outputs.len();
            for (k, (out, len)) in outputs
                .into_iter()
                .zip(stream.iter().map(|r| r.end - r.start))
                .enumerate()
            {
                tasks.push(Mutex::new(Some(Task {
                    member,
                    out,
                    compressed: split.as_ref().map(|r| r[k].clone()),
                    last: k + 1 == n,
                    crc_aside,
                })));
                owner.push((i, len));
            }
        }
        let outcomes = parallel_map(
            tasks.len(),
            threads,
            Scratch::default,
            |t, scratch| match tasks[t].lock().ok().and_then(|mut g| g.take()) {
                Some(task) => task.run(source, scratch, control),
                None => Err(DecodeError::Corrupt("task run twice")),
            },
        )?;
        drop(tasks);
        let mut crcs: Vec<Result<u32, DecodeError>> = (0..large.len()).map(|_| Ok(0)).collect();
        for ((i, len), outcome) in owner.into_iter().zip(outcomes) {
            let combined = match (&crcs[i], outcome) {
                (Err(_), _) => continue,
                (_, Err(p)) => Err(DecodeError::Corrupt(if p.0.is_empty() {
                    "panic"
                } else {
                    "panic while inflating"
                })),
                (_, Ok(Err(e))) => Err(e),
                (Ok(so_far), Ok(Ok(crc))) => Ok(crc32_combine(*so_far, crc, len)),
            };
            crcs[i] = combined;
        }
        Ok(crcs
            .into_iter()
            .zip(large.iter())
            .zip(heads.iter())
            .map(|((crc, (_, member, _)), head)| {
                let crc = crc?;
                if crc != member.crc {
                    return Err(DecodeError::Corrupt("CRC mismatch"));
                }
                if *head != member.header {
                    return Err(DecodeError::Corrupt("header changed since it was read"));
                }
                Ok(())
            })
            .collect())
    }
}

/// One piece of inflating: a whole member, or one chunk of it.
struct Task<'m, 'b> {
    member: &'m NpyMember,
    out: Vec<&'b mut [u8]>,
    /// The chunk's compressed bytes; None for the whole member.
    compressed: Option<Range<u64>>,
    last: bool,
    /// Whether a whole stream's CRC may run on a thread of its own.
    crc_aside: bool,
}

impl Task<'_, '_> {
    fn run(
        mut self,
        source: &Source<'_>,
        scratch: &mut Scratch,
        control: &Control,
    ) -> Result<u32, DecodeError> {
        if control.stop.load(Ordering::Relaxed) {
            return Err(DecodeError::Stopped);
        }
        let Some(range) = self.compressed else {
            // A whole stream (numpy's): libdeflate, straight into the
            // array. zlib-rs streams it only where libdeflate cannot: stored
            // members, a stream padded beyond what its size justifies, a
            // first block over 4 MiB or a block over 64 MiB compressed (no
            // window to hold it), and a stream that is not what the
            // directory says, so that the error is the one it gave before.
            // (Other file objects than files and BytesIO, non-seekable ones
            // among them, never reach here: zipfile reads them, as numpy.)
            if let (8, [head, body]) = (self.member.method, &mut self.out[..]) {
                let fast = blocks::decode(
                    source,
                    self.member.data.clone(),
                    head,
                    body,
                    &mut scratch.blocks,
                    &blocks::Control {
                        stop: &control.stop,
                        done: &control.done,
                        crc_aside: self.crc_aside,
                    },
                )?;
                if let Some(crc) = fast {
                    return Ok(crc);
                }
            }
            let mut out = Output::counted(&mut self.out, &control.done);
            return serial::decode(
                source,
                self.member.data.clone(),
                self.member.method,
                &mut out,
                &mut scratch.buffer,
                &control.stop,
            );
        };
        let Scratch {
            buffer,
            decompressor,
            joined,
            ..
        } = scratch;
        buffer.resize((range.end - range.start) as usize, 0);
        source.read_exact_at(range.start, buffer)?;
        // libdeflate reads a whole stream, so a non-final chunk gets an
        // empty final block after its sync flush. It then succeeds only if
        // the chunk ends exactly at a block boundary: a chunk cut anywhere
        // else (a marker inside a stored block's data, say) would decode
        // differently from the one stream zipfile reads, and fails here,
        // so the member is read serially.
        if !self.last {
            buffer.extend_from_slice(&FINAL_EMPTY_BLOCK);
        }
        let decompressor = scratch_decompressor(decompressor)?;
        if let [body] = &mut self.out[..] {
            decompressor.inflate_exact(buffer, body)?;
            control.done.fetch_add(body.len() as u64, Ordering::Relaxed);
            return Ok(crc32(0, body));
        }
        // Several pieces (the first chunk: the header, then the array):
        // inflated whole, then copied into them.
        let total = self.out.iter().map(|p| p.len()).sum();
        joined.resize(total, 0);
        decompressor.inflate_exact(buffer, joined)?;
        let mut rest = &joined[..];
        for piece in self.out.iter_mut() {
            let (now, later) = rest.split_at(piece.len());
            piece.copy_from_slice(now);
            rest = later;
        }
        control.done.fetch_add(total as u64, Ordering::Relaxed);
        Ok(crc32(0, joined))
    }
}

/// A worker's reusable state.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) buffer: Vec<u8>,
    pub(super) decompressor: Option<Decompressor>,
    /// A chunk inflated whole before it is split between output pieces.
    joined: Vec<u8>,
    /// For whole streams inflated by libdeflate.
    blocks: blocks::Buffers,
}

pub(super) fn scratch_decompressor(
    slot: &mut Option<Decompressor>,
) -> Result<&mut Decompressor, DecodeError> {
    if slot.is_none() {
        *slot = Some(Decompressor::new()?);
    }
    slot.as_mut()
        .ok_or(DecodeError::Corrupt("decompressor missing"))
}

/// The output pieces for each range of a member's stream (header, then
/// body): disjoint slices of `head` and `body`.
fn split_outputs<'b>(
    head: &'b mut [u8],
    body: &'b mut [u8],
    stream: &[Range<u64>],
) -> Vec<Vec<&'b mut [u8]>> {
    let mut head = Some(head);
    let mut rest: &'b mut [u8] = body;
    let hlen = head.as_ref().map_or(0, |h| h.len() as u64);
    let mut out = Vec::with_capacity(stream.len());
    for r in stream {
        let mut pieces = Vec::with_capacity(2);
        let mut len = r.end - r.start;
        if r.start < hlen {
            if let Some(h) = head.take() {
                let n = (hlen - r.start).min(len);
                len -= n;
                pieces.push(h);
            }
        }
        let whole = std::mem::take(&mut rest);
        let n = (len as usize).min(whole.len());
        let (now, later) = whole.split_at_mut(n);
        pieces.push(now);
        rest = later;
        out.push(pieces);
    }
    out
}
