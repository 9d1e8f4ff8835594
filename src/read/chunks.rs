//! Finding where the chunks of fastnpz-written members end: candidate
//! markers, scanned in parallel segments, and accepted only when they are
//! exactly as many as the member has chunk boundaries.

use std::ops::Range;

use super::{Archive, NpyMember};
use crate::chunk::CHUNK_SIZE;
use crate::inflate::markers;
use crate::pool::parallel_map;
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
    ) -> Vec<Option<Vec<Range<u64>>>> {
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
        )
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
        );
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
        ends.into_iter()
            .zip(large)
            .map(|(e, (_, m, _))| {
                let mut e = e?;
                e.sort_unstable();
                e.dedup();
                markers::chunk_ranges(m.data.clone(), m.len, &e)
            })
            .collect()
    }
}
