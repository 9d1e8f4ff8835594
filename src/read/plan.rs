//! Planning a batch: each member's local header, the start of its data
//! and its `.npy` header (small members inflated whole), so that the
//! caller can allocate each member's array before `fill`.

use std::ops::Range;

use zlib_rs::Inflate;

use super::tasks::{scratch_decompressor, Scratch};
use super::Archive;
use crate::encode::crc32;
use crate::inflate::DecodeError;
use crate::npy::parse::{header_bytes, parse_header, NpyHeader, Unsupported as HeaderUnsupported};
use crate::pool::{parallel_map, Panicked, WorkerGrant};
use crate::source::Source;
use crate::zip::directory::{data_range, Entry};

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
    pub(super) decoded: Option<Vec<u8>>,
    pub(super) data: Range<u64>,
    pub(super) method: u16,
    pub(super) crc: u32,
    pub(super) len: u64,
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
                Some(entry) => self.prepare_one(source, indices[k], entry, scratch),
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
            let reach = e
                .header_offset
                .checked_add(30 + 64 + e.name.len() as u64)?
                .checked_add(e.compressed)?;
            end = end.max(reach.min(self.directory.start));
            wanted = wanted.checked_add(e.compressed)?;
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
        index: usize,
        entry: &Entry,
        scratch: &mut Scratch,
    ) -> Prepared {
        match self.try_prepare(source, index, entry, scratch) {
            Ok(p) => p,
            Err(why) => Prepared::Fallback(why),
        }
    }

    fn try_prepare(
        &self,
        source: &Source<'_>,
        index: usize,
        entry: &Entry,
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
        if !self.within_limit(index, data.end) {
            return Err("overlaps the next member (zipfile refuses it)".into());
        }
        // A small member is read whole, so only when its compressed size is
        // one a compressor would write for it; a stream padded beyond that
        // (valid, zipfile reads it) is streamed like a large member's.
        let whole = entry.uncompressed <= SMALL_MEMBER
            && entry.compressed <= entry.uncompressed + entry.uncompressed / 1024 + 1024;
        let (decoded, start_bytes) = if whole {
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
}

/// The first `n` uncompressed bytes of a member (fewer if it is
/// shorter), without checking the rest.
fn prefix(source: &Source<'_>, entry: &Entry, data: Range<u64>, n: u64) -> Result<Vec<u8>, String> {
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
    entry: &Entry,
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
        ..
    } = scratch;
    scratch_decompressor(decompressor)?.inflate_exact(buffer, &mut whole)?;
    Ok(whole)
}
