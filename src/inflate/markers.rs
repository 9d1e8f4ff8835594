//! Finding where fastnpz's chunks end inside one member's deflate stream.
//!
//! Every chunk but the last ends with a sync flush, whose last bytes are
//! `00 00 FF FF`, and holds exactly `CHUNK_SIZE` uncompressed bytes. Those
//! four bytes can also occur by chance inside compressed data, so a
//! position found here is only a candidate: a member is split at them only
//! when there are exactly as many as the member has chunk boundaries, and
//! the split is then verified by inflating (each chunk must end exactly at
//! its boundary with exactly `CHUNK_SIZE` bytes, and the member's CRC must
//! match). Any other stream is inflated serially.

use std::ops::Range;

use crate::chunk::CHUNK_SIZE;
use crate::encode::bits::SYNC_MARKER;
use crate::source::{ReadError, Source};

/// Compressed bytes scanned per read.
const BLOCK: usize = 1 << 20;
/// A chunk's compressed size is at most its size plus deflate's stored-block
/// overhead and the marker; its first marker must appear within this.
pub const FIRST_MARKER_WITHIN: u64 = CHUNK_SIZE + CHUNK_SIZE / 1024 + 64;

/// Positions just past each candidate marker wholly inside `range`; None
/// as soon as there are more than `most` (the scan stops there, so a
/// stream full of markers costs no more than one that has too many).
pub fn scan(
    source: &Source<'_>,
    range: Range<u64>,
    most: usize,
) -> Result<Option<Vec<u64>>, ReadError> {
    let mut found = Vec::new();
    // No bigger than the range: a short range costs a short buffer.
    let span =
        usize::try_from(range.end.saturating_sub(range.start)).map_or(BLOCK, |n| n.min(BLOCK));
    let mut buf = vec![0u8; span + 3];
    let mut at = range.start;
    while at < range.end {
        // Overlap three bytes with the previous block, so a marker that
        // straddles two reads is still seen.
        let from = at.saturating_sub(3).max(range.start);
        let n = usize::try_from(range.end - from).map_or(buf.len(), |left| left.min(buf.len()));
        let block = &mut buf[..n];
        source.read_exact_at(from, block)?;
        for end in marker_ends(block) {
            let pos = from + end as u64;
            if pos > at {
                found.push(pos);
            }
        }
        if found.len() > most {
            return Ok(None);
        }
        at = from + n as u64;
    }
    Ok(Some(found))
}

/// Offsets just past each `00 00 FF FF` in `data`.
fn marker_ends(data: &[u8]) -> Vec<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut out = Vec::new();
    let mut i = 0;
    // Eight bytes at a time: a word holding no 0xFF byte holds no marker
    // end. (The test may flag bytes that are not 0xFF; each is checked.)
    while i + 8 <= data.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&data[i..i + 8]);
        let x = !u64::from_le_bytes(w);
        if x.wrapping_sub(LOW) & !x & HIGH != 0 {
            for j in i..i + 8 {
                check(data, j, &mut out);
            }
        }
        i += 8;
    }
    for j in i..data.len() {
        check(data, j, &mut out);
    }
    out
}

/// Whether a marker's second 0xFF is at `j`.
fn check(data: &[u8], j: usize, out: &mut Vec<usize>) {
    if j >= 3 && data[j - 3..=j] == SYNC_MARKER {
        out.push(j + 1);
    }
}

/// The compressed ranges of a member's chunks, if the candidate marker ends
/// `ends` (sorted, inside `range`) are as many as a member of `len`
/// uncompressed bytes has chunk boundaries.
pub fn chunk_ranges(range: Range<u64>, len: u64, ends: &[u64]) -> Option<Vec<Range<u64>>> {
    let chunks = len.div_ceil(CHUNK_SIZE).max(1);
    if ends.len() as u64 != chunks - 1 {
        return None;
    }
    let mut out = Vec::with_capacity(chunks as usize);
    let mut start = range.start;
    for &end in ends {
        if end <= start || end >= range.end {
            return None;
        }
        out.push(start..end);
        start = end;
    }
    out.push(start..range.end);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Span;

    #[test]
    fn finds_every_marker_wherever_it_lies() {
        let mut data = vec![0x11u8; 3 * BLOCK];
        // Across word and block boundaries, at both ends.
        let spots = [0usize, 6, 13, BLOCK - 2, BLOCK + 5, 3 * BLOCK - 4];
        for &s in &spots {
            data[s..s + 4].copy_from_slice(&SYNC_MARKER);
        }
        let src = Source::Memory(Span::from_slice(&data));
        let found = scan(&src, 0..data.len() as u64, 6).unwrap();
        let want: Vec<u64> = spots.iter().map(|&s| s as u64 + 4).collect();
        assert_eq!(found, Some(want));
        // One marker more than allowed is enough to give up.
        assert_eq!(scan(&src, 0..data.len() as u64, 5).unwrap(), None);
        // A range that cuts a marker does not report it.
        let found = scan(&src, 7..(BLOCK as u64 + 8), 2).unwrap();
        assert_eq!(found, Some(vec![17, BLOCK as u64 + 2]));
    }

    #[test]
    fn ranges_need_exactly_one_marker_per_boundary() {
        let len = 2 * CHUNK_SIZE + 5;
        assert_eq!(
            chunk_ranges(100..1000, len, &[300, 600]),
            Some(vec![100..300, 300..600, 600..1000])
        );
        assert_eq!(chunk_ranges(100..1000, len, &[300]), None);
        assert_eq!(chunk_ranges(100..1000, len, &[300, 1000]), None);
        assert_eq!(
            chunk_ranges(100..1000, CHUNK_SIZE, &[]),
            Some(std::iter::once(100..1000).collect())
        );
    }
}
