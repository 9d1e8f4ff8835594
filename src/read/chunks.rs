//! Finding where the chunks of fastnpz-written members end: candidate
//! markers, scanned in parallel segments, and accepted only when they are
//! exactly as many as the member has chunk boundaries.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{Archive, NpyMember};
use crate::chunk::CHUNK_SIZE;
use crate::inflate::markers;
use crate::pool::{parallel_map, Panicked};
use crate::source::Source;

/// Compressed bytes scanned per marker-search task.
const SCAN_SEGMENT: u64 = 16 << 20;

impl Archive {
    /// For each large member: the compressed ranges of its chunks, when it
    /// is deflated in fastnpz's independent chunks (markers at every
    /// boundary, and nowhere else).
    pub(super) fn find_chunks(
        &self,
        source: &Source<'_>,
        large: &[(usize, &NpyMember, &mut [u8])],
        threads: usize,
        stop: &AtomicBool,
    ) -> Result<Vec<Option<Vec<Range<u64>>>>, Panicked> {
        // Cheap test first: a chunked stream has a marker within its first
        // chunk's compressed size; numpy's single stream almost never does.
        let candidates: Vec<bool> = parallel_map(
            large.len(),
            threads,
            || (),
            |i, _| {
                let m = large[i].1;
                // More compressed bytes than that many chunks can take is
                // not fastnpz's stream: no need to look for its markers.
                let most = chunk_count(m.len).saturating_mul(markers::FIRST_MARKER_WITHIN);
                if m.method != 8 || m.len <= CHUNK_SIZE || m.data.end - m.data.start > most {
                    return false;
                }
                let end = m.data.end.min(m.data.start + markers::FIRST_MARKER_WITHIN);
                // One marker is all this test needs to see.
                matches!(markers::scan(source, m.data.start..end, 0), Ok(None))
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
        // Markers found so far in each member: once there are more than it
        // has chunk boundaries, its other segments are not scanned.
        let counts: Vec<AtomicUsize> = large.iter().map(|_| AtomicUsize::new(0)).collect();
        let found = parallel_map(
            segments.len(),
            threads,
            || (),
            |s, _| {
                let (i, range) = &segments[s];
                let m = large[*i].1;
                let boundaries = usize::try_from(chunk_count(m.len) - 1).unwrap_or(usize::MAX);
                let so_far = counts[*i].load(Ordering::Relaxed);
                if so_far > boundaries || stop.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                // Segments overlap by three bytes, so markers that straddle
                // two are found; a marker is reported by the segment it ends
                // in (so one more may be seen than is kept).
                let from = range.start.saturating_sub(3).max(m.data.start);
                let most = boundaries.saturating_sub(so_far).saturating_add(1);
                markers::scan(source, from..range.end, most).map(|ends| {
                    let ends: Vec<u64> = ends?.into_iter().filter(|&e| e > range.start).collect();
                    counts[*i].fetch_add(ends.len(), Ordering::Relaxed);
                    Some(ends)
                })
            },
        )?;
        let mut ends: Vec<Option<Vec<u64>>> =
            candidates.iter().map(|&c| c.then(Vec::new)).collect();
        for ((i, _), r) in segments.iter().zip(found) {
            match r {
                Ok(Ok(Some(mut e))) => {
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
}

/// How many chunks fastnpz cuts a member of `len` bytes into.
fn chunk_count(len: u64) -> u64 {
    len.div_ceil(CHUNK_SIZE).max(1)
}
