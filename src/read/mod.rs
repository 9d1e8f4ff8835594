//! Reading members of an archive, many at once: each member is inflated
//! straight into the memory its caller provides (a numpy array's), members
//! in parallel, and the chunks of one large fastnpz-written member in
//! parallel too.
//!
//! Two steps, so that the caller can allocate in between:
//! - `prepare` reads each member's local header and the start of its data,
//!   enough for the `.npy` header (small members are inflated whole);
//! - `fill` inflates each member's data into the memory given for it.
//!
//! Anything unusual about a member (other compression methods, a lying
//! size, a corrupt stream, a CRC mismatch) makes it `Fallback`/an error,
//! and the caller reads that member with `zipfile`, as numpy does.

use std::ops::Range;
use std::sync::Mutex;

use zlib_rs::Inflate;

use crate::chunk::CHUNK_SIZE;
use crate::encode::{crc32, crc32_combine};
use crate::inflate::libdeflate::{Decompressor, FINAL_EMPTY_BLOCK};
use crate::inflate::{inflate_into, markers, serial, DecodeError, Output, SliceInput};
use crate::npy::parse::{parse_header, NpyHeader, Unsupported as HeaderUnsupported};
use crate::pool::{parallel_map, Panicked, WorkerGrant};
use crate::source::Source;
use crate::zip::directory::{data_range, read_directory, DirEntry, Directory, Unsupported};

/// Members up to this size are inflated whole by `prepare` and copied by
/// `fill`: one pass over the compressed bytes, and small copies.
const SMALL_MEMBER: u64 = 256 * 1024;
/// How much of a large member `prepare` inflates to find its header, at
/// first, and at most (numpy's default `max_header_size` is 10,000).
const HEADER_PROBE: u64 = 4096;
const MAX_HEADER: u64 = 1 << 20;
/// Deflate cannot expand a byte into more than 258 bytes, and each block
/// costs at least a few bits: a member claiming more than this ratio of
/// its compressed size is lying (zipfile would find out by inflating).
const MAX_RATIO: u64 = 1032;
/// Most bytes read ahead at once for a batch of small members.
const PREFETCH_LIMIT: u64 = 8 << 20;
/// Compressed bytes scanned per marker-search task.
const SCAN_SEGMENT: u64 = 16 << 20;

/// An archive opened for reading: its central directory. Each read is
/// given the source again, so memory a caller lends need only stay lent
/// for the duration of a call.
pub struct Archive {
    directory: Directory,
}

/// What `prepare` found in a member.
#[derive(Debug)]
pub enum Prepared {
    /// A `.npy` member this reader can fill.
    Npy(NpyMember),
    /// A member to leave to zipfile and numpy (the reason, for debugging).
    Fallback(String),
}

/// A `.npy` member, ready to be filled.
#[derive(Debug)]
pub struct NpyMember {
    /// The header bytes (magic through padding).
    pub header: Vec<u8>,
    /// The header, when it is one this crate parses.
    pub parsed: Option<NpyHeader>,
    /// The whole uncompressed member, for small members.
    decoded: Option<Vec<u8>>,
    data: Range<u64>,
    method: u16,
    crc: u32,
    len: u64,
}

impl NpyMember {
    /// Bytes after the header: what `fill` writes.
    pub fn body_len(&self) -> u64 {
        self.len - self.header.len() as u64
    }

    /// Where the member's compressed data ends in the source.
    pub fn data_end(&self) -> u64 {
        self.data.end
    }
}

impl Archive {
    /// Read the central directory; `Unsupported` when zipfile should.
    pub fn open(source: &Source<'_>) -> Result<Self, Unsupported> {
        let directory = read_directory(source)?;
        Ok(Archive { directory })
    }

    /// The members, in directory order.
    pub fn entries(&self) -> &[DirEntry] {
        &self.directory.entries
    }

    /// Where the central directory starts in the source.
    pub fn directory_start(&self) -> u64 {
        self.directory.start
    }

    /// Where zipfile leaves the file position after reading the directory.
    pub fn directory_end(&self) -> u64 {
        self.directory.end
    }

    /// Where a member's compressed data ends, once its local header has
    /// been read (zipfile leaves the file position there after reading it).
    pub fn data_end(&self, source: &Source<'_>, index: usize) -> Option<u64> {
        let entry = self.directory.entries.get(index)?;
        data_range(source, entry, self.directory.start)
            .ok()
            .map(|r| r.end)
    }

    /// Prepare the members at `indices`, in parallel.
    pub fn prepare(
        &self,
        source: &Source<'_>,
        indices: &[usize],
        threads: usize,
    ) -> Result<Vec<Prepared>, Panicked> {
        // Many small members next to each other: one read for all of them,
        // not two (local header, data) per member.
        let held = self.prefetch(source, indices);
        let prefetched;
        let source = match &held {
            Some((start, bytes)) => {
                prefetched = Source::Prefetched {
                    inner: source,
                    start: *start,
                    bytes,
                };
                &prefetched
            }
            None => source,
        };
        let grant = WorkerGrant::acquire(threads.max(1).min(indices.len().max(1)));
        Ok(parallel_map(
            indices.len(),
            grant.threads(),
            Scratch::default,
            |k, scratch| match self.directory.entries.get(indices[k]) {
                Some(entry) => self.prepare_one(source, entry, scratch),
                None => Prepared::Fallback("no such member".into()),
            },
        )?
        .into_iter()
        .map(|r| r.unwrap_or_else(|p| Prepared::Fallback(format!("panic: {}", p.0))))
        .collect())
    }

    /// The bytes spanning the members at `indices`, when they are several,
    /// small, and mostly contiguous.
    fn prefetch(&self, source: &Source<'_>, indices: &[usize]) -> Option<(u64, Vec<u8>)> {
        if indices.len() < 2 {
            return None;
        }
        let entries = &self.directory.entries;
        let mut start = u64::MAX;
        let mut end = 0u64;
        let mut wanted = 0u64;
        for &i in indices {
            let e = entries.get(i)?;
            start = start.min(e.header_offset);
            // The local header's name and extra fields are about the
            // central ones' sizes; a little slack covers the difference.
            let reach = e.header_offset + 30 + e.raw_name.len() as u64 + 64 + e.compressed;
            end = end.max(reach.min(self.directory.start));
            wanted += e.compressed;
        }
        let span = end.checked_sub(start)?;
        if span > PREFETCH_LIMIT || wanted < span / 2 {
            return None;
        }
        let mut bytes = vec![0u8; span as usize];
        source.read_exact_at(start, &mut bytes).ok()?;
        Some((start, bytes))
    }

    fn prepare_one(
        &self,
        source: &Source<'_>,
        entry: &DirEntry,
        scratch: &mut Scratch,
    ) -> Prepared {
        match self.try_prepare(source, entry, scratch) {
            Ok(p) => p,
            Err(why) => Prepared::Fallback(why),
        }
    }

    fn try_prepare(
        &self,
        source: &Source<'_>,
        entry: &DirEntry,
        scratch: &mut Scratch,
    ) -> Result<Prepared, String> {
        let plausible = match entry.method {
            0 => entry.uncompressed == entry.compressed,
            8 => {
                entry.uncompressed
                    <= entry
                        .compressed
                        .saturating_mul(MAX_RATIO)
                        .saturating_add(1024)
            }
            _ => false,
        };
        if !plausible || usize::try_from(entry.uncompressed).is_err() {
            return Err("method or sizes".into());
        }
        let data = data_range(source, entry, self.directory.start).map_err(|e| e.to_string())?;
        let (decoded, start_bytes) = if entry.uncompressed <= SMALL_MEMBER {
            let whole =
                small_member(source, entry, data.clone(), scratch).map_err(|e| e.to_string())?;
            if crc32(0, &whole) != entry.crc {
                return Err("CRC mismatch".into());
            }
            (Some(whole), None)
        } else {
            (
                None,
                Some(prefix(source, entry, data.clone(), HEADER_PROBE)?),
            )
        };
        let start = decoded.as_deref().or(start_bytes.as_deref()).unwrap_or(&[]);
        if !start.starts_with(b"\x93NUMPY") {
            return Err("not a .npy member".into());
        }
        let (header, parsed) = match parse_header(start) {
            Ok(h) => (start[..h.len].to_vec(), Some(h)),
            Err(HeaderUnsupported::NeedBytes(n))
                if decoded.is_none() && (n as u64) <= MAX_HEADER.min(entry.uncompressed) =>
            {
                let longer = prefix(source, entry, data.clone(), n as u64)?;
                match parse_header(&longer) {
                    Ok(h) => (longer[..h.len].to_vec(), Some(h)),
                    Err(_) => (header_bytes(&longer).ok_or("header")?.to_vec(), None),
                }
            }
            Err(_) => (header_bytes(start).ok_or("header")?.to_vec(), None),
        };
        if header.len() as u64 > entry.uncompressed {
            return Err("header longer than the member".into());
        }
        Ok(Prepared::Npy(NpyMember {
            header,
            parsed,
            decoded,
            data,
            method: entry.method,
            crc: entry.crc,
            len: entry.uncompressed,
        }))
    }

    /// Inflate each prepared member into its `body` (which must be exactly
    /// `body_len()` bytes), in parallel. Returns one result per job; a
    /// member that fails leaves its body's contents unspecified. A worker
    /// thread that dies outside its job fails the whole call.
    pub fn fill(
        &self,
        source: &Source<'_>,
        jobs: Vec<(&NpyMember, &mut [u8])>,
        threads: usize,
    ) -> Result<Vec<Result<(), DecodeError>>, Panicked> {
        let grant = WorkerGrant::acquire(threads.max(1));
        let threads = grant.threads();
        let mut results: Vec<Result<(), DecodeError>> = Vec::with_capacity(jobs.len());
        let mut large: Vec<(usize, &NpyMember, &mut [u8])> = Vec::new();
        for (j, (member, body)) in jobs.into_iter().enumerate() {
            if body.len() as u64 != member.body_len() {
                results.push(Err(DecodeError::Corrupt("output of the wrong size")));
                continue;
            }
            results.push(Ok(()));
            match &member.decoded {
                Some(whole) => body.copy_from_slice(&whole[member.header.len()..]),
                None => large.push((j, member, body)),
            }
        }
        if large.is_empty() {
            return Ok(results);
        }
        let splits = self.find_chunks(source, &large, threads)?;
        let mut heads: Vec<Vec<u8>> = large
            .iter()
            .map(|(_, m, _)| vec![0u8; m.header.len()])
            .collect();
        // First try: split members chunk by chunk, the others whole.
        let first = self.run_tasks(source, &mut large, &mut heads, &splits, threads)?;
        // Members whose chunks did not line up are inflated again, serially.
        let retry: Vec<Option<Vec<Range<u64>>>> = first
            .iter()
            .zip(&splits)
            .map(|(r, s)| {
                if r.is_err() && s.is_some() {
                    None
                } else {
                    Some(Vec::new())
                }
            })
            .collect();
        let again = if retry.iter().any(Option::is_none) {
            let serial_only: Vec<Option<Vec<Range<u64>>>> = retry.iter().map(|_| None).collect();
            let mut subset: Vec<(usize, &NpyMember, &mut [u8])> = Vec::new();
            let mut subset_heads = Vec::new();
            let mut which = Vec::new();
            for (i, ((j, m, body), head)) in large.iter_mut().zip(heads.iter_mut()).enumerate() {
                if retry[i].is_none() {
                    subset.push((*j, *m, &mut **body));
                    subset_heads.push(std::mem::take(head));
                    which.push(i);
                }
            }
            let outcome = self.run_tasks(
                source,
                &mut subset,
                &mut subset_heads,
                &serial_only[..which.len()],
                threads,
            )?;
            which.into_iter().zip(outcome).collect()
        } else {
            Vec::new()
        };
        let mut outcome = first;
        for (i, r) in again {
            outcome[i] = r;
        }
        for ((j, _, _), r) in large.iter().zip(outcome) {
            results[*j] = r;
        }
        Ok(results)
    }

    /// For each large member: the compressed ranges of its chunks, when it
    /// is deflated in fastnpz's independent chunks (markers at every
    /// boundary, and nowhere else).
    fn find_chunks(
        &self,
        source: &Source<'_>,
        large: &[(usize, &NpyMember, &mut [u8])],
        threads: usize,
    ) -> Result<Vec<Option<Vec<Range<u64>>>>, Panicked> {
        // Cheap test first: a chunked stream has a marker within its first
        // chunk's compressed size; numpy's single stream almost never does.
        let candidates: Vec<bool> = parallel_map(
            large.len(),
            threads,
            || (),
            |i, _| {
                let m = large[i].1;
                if m.method != 8 || m.len <= CHUNK_SIZE {
                    return false;
                }
                let end = m.data.end.min(m.data.start + markers::FIRST_MARKER_WITHIN);
                markers::scan(source, m.data.start..end).is_ok_and(|found| !found.is_empty())
            },
        )?
        .into_iter()
        .map(|r| r.unwrap_or(false))
        .collect();
        let mut segments = Vec::new();
        for (i, &candidate) in candidates.iter().enumerate() {
            if candidate {
                let data = &large[i].1.data;
                let mut at = data.start;
                while at < data.end {
                    let end = (at + SCAN_SEGMENT).min(data.end);
                    segments.push((i, at..end));
                    at = end;
                }
            }
        }
        let found = parallel_map(
            segments.len(),
            threads,
            || (),
            |s, _| {
                let (_, range) = &segments[s];
                // Segments overlap by three bytes, so markers that straddle two
                // are found; a marker is reported by the segment it ends in.
                let from = range
                    .start
                    .saturating_sub(3)
                    .max(large[segments[s].0].1.data.start);
                markers::scan(source, from..range.end).map(|ends| {
                    ends.into_iter()
                        .filter(|&e| e > range.start)
                        .collect::<Vec<u64>>()
                })
            },
        )?;
        let mut ends: Vec<Option<Vec<u64>>> =
            candidates.iter().map(|&c| c.then(Vec::new)).collect();
        for ((i, _), r) in segments.iter().zip(found) {
            match r {
                Ok(Ok(mut e)) => {
                    if let Some(v) = &mut ends[*i] {
                        v.append(&mut e);
                    }
                }
                _ => ends[*i] = None,
            }
        }
        Ok(ends
            .into_iter()
            .zip(large)
            .map(|(e, (_, m, _))| {
                let mut e = e?;
                e.sort_unstable();
                e.dedup();
                markers::chunk_ranges(m.data.clone(), m.len, &e)
            })
            .collect())
    }

    /// Inflate `large` members (chunk by chunk where `splits` says), and
    /// check each member's header bytes, sizes and CRC.
    fn run_tasks(
        &self,
        source: &Source<'_>,
        large: &mut [(usize, &NpyMember, &mut [u8])],
        heads: &mut [Vec<u8>],
        splits: &[Option<Vec<Range<u64>>>],
        threads: usize,
    ) -> Result<Vec<Result<(), DecodeError>>, Panicked> {
        let mut tasks: Vec<Mutex<Option<Task<'_, '_>>>> = Vec::new();
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
                })));
                owner.push((i, len));
            }
        }
        let outcomes = parallel_map(
            tasks.len(),
            threads,
            Scratch::default,
            |t, scratch| match tasks[t].lock().ok().and_then(|mut g| g.take()) {
                Some(task) => task.run(source, scratch),
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

/// The first `n` uncompressed bytes of a member (fewer if it is
/// shorter), without checking the rest.
fn prefix(
    source: &Source<'_>,
    entry: &DirEntry,
    data: Range<u64>,
    n: u64,
) -> Result<Vec<u8>, String> {
    let n = n.min(entry.uncompressed) as usize;
    let mut out = vec![0u8; n];
    if entry.method == 0 {
        source
            .read_exact_at(data.start, &mut out)
            .map_err(|e| e.to_string())?;
        return Ok(out);
    }
    // Enough compressed bytes for n output bytes, with room for
    // blocks that expand little.
    let take = (data.end - data.start).min(n as u64 + 64 * 1024);
    let mut compressed = vec![0u8; take as usize];
    source
        .read_exact_at(data.start, &mut compressed)
        .map_err(|e| e.to_string())?;
    let mut inflater = Inflate::new(false, 15);
    let before = inflater.total_out();
    let _ = inflater.decompress(&compressed, &mut out, zlib_rs::InflateFlush::NoFlush);
    let got = (inflater.total_out() - before) as usize;
    if got < n {
        return Err("could not inflate the member's start".into());
    }
    Ok(out)
}

/// A small member, inflated whole: its compressed bytes are read at once
/// and inflated by libdeflate (stored ones are read as they are).
fn small_member(
    source: &Source<'_>,
    entry: &DirEntry,
    data: Range<u64>,
    scratch: &mut Scratch,
) -> Result<Vec<u8>, DecodeError> {
    let mut whole = vec![0u8; entry.uncompressed as usize];
    if entry.method == 0 {
        if data.end - data.start != entry.uncompressed {
            return Err(DecodeError::Corrupt("stored size differs"));
        }
        source.read_exact_at(data.start, &mut whole)?;
        return Ok(whole);
    }
    scratch.buffer.resize((data.end - data.start) as usize, 0);
    source.read_exact_at(data.start, &mut scratch.buffer)?;
    let Scratch {
        buffer,
        decompressor,
    } = scratch;
    scratch_decompressor(decompressor)?.inflate_exact(buffer, &mut whole)?;
    Ok(whole)
}

/// One piece of inflating: a whole member, or one chunk of it.
struct Task<'m, 'b> {
    member: &'m NpyMember,
    out: Vec<&'b mut [u8]>,
    /// The chunk's compressed bytes; None for the whole member.
    compressed: Option<Range<u64>>,
    last: bool,
}

impl Task<'_, '_> {
    fn run(mut self, source: &Source<'_>, scratch: &mut Scratch) -> Result<u32, DecodeError> {
        let Some(range) = self.compressed else {
            let mut out = Output::new(&mut self.out);
            return serial::decode(
                source,
                self.member.data.clone(),
                self.member.method,
                &mut out,
                &mut scratch.buffer,
            );
        };
        let buffer = &mut scratch.buffer;
        buffer.resize((range.end - range.start) as usize, 0);
        source.read_exact_at(range.start, buffer)?;
        if let [body] = &mut self.out[..] {
            // One output piece (every chunk but the first): libdeflate,
            // which needs the stream whole, so a non-final chunk gets an
            // empty final block after its sync flush.
            if !self.last {
                buffer.extend_from_slice(&FINAL_EMPTY_BLOCK);
            }
            scratch_decompressor(&mut scratch.decompressor)?.inflate_exact(buffer, body)?;
            return Ok(crc32(0, body));
        }
        let mut out = Output::new(&mut self.out);
        let mut inflater = Inflate::new(false, 15);
        inflate_into(&mut inflater, &mut out, self.last, &mut SliceInput(buffer))?;
        Ok(out.crc())
    }
}

/// A worker's reusable state.
#[derive(Default)]
struct Scratch {
    buffer: Vec<u8>,
    decompressor: Option<Decompressor>,
}

fn scratch_decompressor(slot: &mut Option<Decompressor>) -> Result<&mut Decompressor, DecodeError> {
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

/// The header bytes at the start of `start`, when the length field fits.
fn header_bytes(start: &[u8]) -> Option<&[u8]> {
    let len = match start.get(6)? {
        1 => 10 + usize::from(u16::from_le_bytes([*start.get(8)?, *start.get(9)?])),
        2 | 3 => {
            let b = start.get(8..12)?;
            12 + usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()?
        }
        _ => return None,
    };
    start.get(..len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{noise, smooth};
    use crate::encode::Compression;
    use crate::member::{Data, Member, Span};
    use crate::npy::header::build_header;
    use crate::sink::testing::VecSink;
    use crate::write::{write_archive, Options, Start};

    /// An archive of `.npy`-like members (a real header, then `data`).
    fn archive(datas: &[Vec<u8>], compression: Compression, chunk: u64) -> (Vec<u8>, Vec<Vec<u8>>) {
        let headers: Vec<Vec<u8>> = datas
            .iter()
            .map(|d| build_header("'|u1'", false, &[d.len() as u64]).unwrap().0)
            .collect();
        let members: Vec<Member<'_>> = datas
            .iter()
            .zip(&headers)
            .enumerate()
            .map(|(i, (d, h))| Member {
                name: format!("m{i}.npy").into_bytes(),
                utf8: false,
                header: h.clone(),
                data: Data::Contiguous(Span::from_slice(d)),
            })
            .collect();
        let mut sink = VecSink::default();
        let options = Options {
            compression,
            threads: 2,
            chunk_size: chunk,
        };
        write_archive(
            &members,
            &mut sink,
            Start::Seekable(0),
            &options,
            &mut |_, _| Ok(()),
        )
        .unwrap();
        (sink.0, headers)
    }

    fn read_all(bytes: &[u8], threads: usize) -> Vec<Result<Vec<u8>, String>> {
        let source = Source::Memory(Span::from_slice(bytes));
        let archive = Archive::open(&source).unwrap();
        let indices: Vec<usize> = (0..archive.entries().len()).collect();
        let prepared = archive.prepare(&source, &indices, threads).unwrap();
        let mut bodies: Vec<Vec<u8>> = prepared
            .iter()
            .map(|p| match p {
                Prepared::Npy(m) => vec![0u8; m.body_len() as usize],
                Prepared::Fallback(_) => Vec::new(),
            })
            .collect();
        let jobs: Vec<(&NpyMember, &mut [u8])> = prepared
            .iter()
            .zip(bodies.iter_mut())
            .filter_map(|(p, b)| match p {
                Prepared::Npy(m) => Some((m, &mut b[..])),
                Prepared::Fallback(_) => None,
            })
            .collect();
        let mut results = archive.fill(&source, jobs, threads).unwrap().into_iter();
        prepared
            .iter()
            .zip(bodies)
            .map(|(p, b)| match p {
                Prepared::Npy(_) => match results.next() {
                    Some(Ok(())) => Ok(b),
                    Some(Err(e)) => Err(e.to_string()),
                    None => Err("missing".into()),
                },
                Prepared::Fallback(why) => Err(why.clone()),
            })
            .collect()
    }

    #[test]
    fn reads_back_every_member_chunked_or_not() {
        let datas = vec![
            smooth(5 * CHUNK_SIZE as usize + 1234),
            noise(3 * CHUNK_SIZE as usize, 256),
            smooth(100),
            Vec::new(),
            smooth(CHUNK_SIZE as usize),
            smooth(400_000),
        ];
        for compression in [
            Compression::Deflated(6),
            Compression::Deflated(0),
            Compression::Stored,
        ] {
            for chunk in [CHUNK_SIZE, 300_000] {
                let (bytes, _) = archive(&datas, compression, chunk);
                for threads in [1, 2, 4] {
                    let got = read_all(&bytes, threads);
                    for (g, want) in got.into_iter().zip(&datas) {
                        assert_eq!(
                            g.as_ref().map(Vec::len),
                            Ok(want.len()),
                            "{compression:?} {chunk}"
                        );
                        assert!(g.unwrap() == *want);
                    }
                }
            }
        }
    }

    #[test]
    fn only_fastnpz_chunked_streams_are_split() {
        let data = smooth(3 * CHUNK_SIZE as usize + 5);
        for (chunk, split) in [
            (CHUNK_SIZE, true),
            (64 * CHUNK_SIZE, false),
            (CHUNK_SIZE / 2, false),
        ] {
            let (bytes, _) = archive(std::slice::from_ref(&data), Compression::Deflated(6), chunk);
            let source = Source::Memory(Span::from_slice(&bytes));
            let archive = Archive::open(&source).unwrap();
            let prepared = archive.prepare(&source, &[0], 1).unwrap();
            let Prepared::Npy(m) = &prepared[0] else {
                panic!("not prepared")
            };
            let mut body = vec![0u8; m.body_len() as usize];
            let large = vec![(0, m, &mut body[..])];
            let found = archive.find_chunks(&source, &large, 2).unwrap();
            assert_eq!(
                found[0].as_ref().map(Vec::len),
                split.then_some(4),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn damage_is_an_error_never_wrong_data() {
        let datas = vec![smooth(2 * CHUNK_SIZE as usize + 77), smooth(50_000)];
        let (bytes, _) = archive(&datas, Compression::Deflated(6), CHUNK_SIZE);
        let dir = read_directory(&Source::Memory(Span::from_slice(&bytes))).unwrap();
        let data_start = 30 + 6 + 20;
        let step = (dir.start as usize - data_start) / 53;
        for at in (data_start..dir.start as usize).step_by(step.max(1)) {
            let mut bad = bytes.clone();
            bad[at] ^= 0x24;
            for (g, want) in read_all(&bad, 2).into_iter().zip(&datas) {
                if let Ok(g) = g {
                    assert!(g == *want, "flipped byte {at} gave wrong data");
                }
            }
        }
    }
}

#[cfg(test)]
mod fuzz {
    //! Mutated archives: the reader never panics, never reads out of bounds
    //! (every read is checked) and never returns data that differs from
    //! what was written.
    use super::*;
    use crate::encode::testing::smooth;
    use crate::encode::Compression;
    use crate::member::{Data, Member, Span};
    use crate::npy::header::build_header;
    use crate::sink::testing::VecSink;
    use crate::write::{write_archive, Options, Start};
    use proptest::prelude::*;

    fn archive(datas: &[Vec<u8>], level: u8, seekable: bool) -> Vec<u8> {
        archive_in_chunks(datas, level, seekable, 40_000)
    }

    fn archive_in_chunks(datas: &[Vec<u8>], level: u8, seekable: bool, chunk_size: u64) -> Vec<u8> {
        let members: Vec<Member<'_>> = datas
            .iter()
            .enumerate()
            .map(|(i, d)| Member {
                name: format!("m{i}.npy").into_bytes(),
                utf8: false,
                header: build_header("'|u1'", false, &[d.len() as u64]).unwrap().0,
                data: Data::Contiguous(Span::from_slice(d)),
            })
            .collect();
        let mut sink = VecSink::default();
        let options = Options {
            compression: Compression::Deflated(level),
            threads: 1,
            chunk_size,
        };
        let start = if seekable {
            Start::Seekable(0)
        } else {
            Start::Unseekable(0)
        };
        write_archive(&members, &mut sink, start, &options, &mut |_, _| Ok(())).unwrap();
        sink.0
    }

    /// Read every member; Some(bytes) for those the reader accepted.
    fn read(bytes: &[u8]) -> Vec<Option<Vec<u8>>> {
        let source = Source::Memory(Span::from_slice(bytes));
        let Ok(archive) = Archive::open(&source) else {
            return Vec::new();
        };
        let indices: Vec<usize> = (0..archive.entries().len()).collect();
        let prepared = archive.prepare(&source, &indices, 2).unwrap();
        let mut bodies: Vec<Vec<u8>> = prepared
            .iter()
            .map(|p| match p {
                Prepared::Npy(m) if m.body_len() < 1 << 24 => vec![0u8; m.body_len() as usize],
                _ => Vec::new(),
            })
            .collect();
        let mut which = Vec::new();
        let jobs: Vec<(&NpyMember, &mut [u8])> = prepared
            .iter()
            .zip(bodies.iter_mut())
            .enumerate()
            .filter_map(|(i, (p, b))| match p {
                Prepared::Npy(m) if m.body_len() == b.len() as u64 => {
                    which.push(i);
                    Some((m, &mut b[..]))
                }
                _ => None,
            })
            .collect();
        let results = archive.fill(&source, jobs, 2).unwrap();
        let mut out = vec![None; prepared.len()];
        for (i, r) in which.into_iter().zip(results) {
            if r.is_ok() {
                out[i] = Some(std::mem::take(&mut bodies[i]));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn mutated_archives_never_give_wrong_data(
            sizes in proptest::collection::vec(0usize..150_000, 1..4),
            level in 0u8..10,
            seekable in any::<bool>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
        ) {
            let datas: Vec<Vec<u8>> = sizes.iter().map(|&n| smooth(n)).collect();
            let mut bytes = archive(&datas, level, seekable);
            for (at, value, kind) in edits {
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] ^= value | 1,
                    1 => bytes.truncate(i),
                    2 => bytes.insert(i, value),
                    _ => { bytes.remove(i); }
                }
                if bytes.is_empty() {
                    break;
                }
            }
            for (got, want) in read(&bytes).into_iter().zip(&datas) {
                if let Some(got) = got {
                    prop_assert!(got == *want);
                }
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut with_end = bytes.clone();
            with_end.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\x2e\x00\x00\x00\x00\x00\x00\x00\x00\x00");
            read(&bytes);
            read(&with_end);
        }
    }

    proptest! {
        // Multi-chunk members are large: fewer cases.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn mutated_chunked_members_never_give_wrong_data(
            size in (CHUNK_SIZE as usize + 1)..(3 * CHUNK_SIZE as usize),
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
            kind in 0u8..3,
        ) {
            let datas = vec![smooth(size)];
            let mut bytes = archive_in_chunks(&datas, 6, true, CHUNK_SIZE);
            let clean = read(&bytes);
            prop_assert_eq!(clean[0].as_ref(), Some(&datas[0]));
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] ^= value | 1,
                1 => bytes.insert(i, value),
                _ => { bytes.remove(i); }
            }
            if let Some(Some(got)) = read(&bytes).into_iter().next() {
                prop_assert!(got == datas[0]);
            }
        }
    }
}
