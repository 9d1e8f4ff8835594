//! Which engine, at which effort, compresses a member: numpy's size (zlib
//! level 6) in the least time.
//!
//! Two decisions, at two scales:
//! - per chunk, a cheap scan for repeated strings sends noise (random
//!   mantissas, sensor noise) to the literal-only encoder, several times
//!   faster than a match search that would find nothing;
//! - per member, at the default level, a few spread windows are compressed
//!   with the candidate efforts, and the fastest one whose size is within a
//!   small margin of the most thorough is kept for all of the member's
//!   chunks. libdeflate's levels 2-6 differ little in size on numeric data
//!   and a lot in speed, so sampling pays on large members; small members
//!   get one fixed effort.

/// How a member's non-noise chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Literal-only blocks: matches buy (almost) nothing.
    Literal,
    /// libdeflate at this level (1-9).
    Deflate(u8),
}

/// Members whose stream (header and data) is at most this long get
/// `SMALL_LEVEL` without sampling: a sample would cost about as much as the
/// member.
pub const SMALL_MEMBER: u64 = 64 * 1024;
/// libdeflate level for small members, and the reference the samples are
/// measured against.
pub const SMALL_LEVEL: u8 = 6;

/// Sampling windows: deflate's history is 32 KiB, so shorter windows
/// misjudge how much a deeper search finds.
const WINDOW: u64 = 64 * 1024;
const MAX_WINDOWS: u64 = 4;
/// One window per this many bytes of member, up to `MAX_WINDOWS`.
const BYTES_PER_WINDOW: u64 = 2 << 20;

/// A faster effort is taken when its samples are at most this much larger,
/// in thousandths, than the reference's.
const SLACK_PERMILLE: u64 = 3;
/// When the next effort shrinks the samples by more than this (in
/// thousandths), the data rewards deeper search: look one level deeper.
const STEEP_PERMILLE: u64 = 15;

/// Where a member's sample windows start, in stream bytes, and how long
/// they are: spread evenly, so a member that starts with one kind of data
/// and continues with another is seen as a whole.
pub fn windows(stream_len: u64) -> impl Iterator<Item = (u64, usize)> {
    let len = WINDOW.min(stream_len);
    let count = (stream_len / BYTES_PER_WINDOW).clamp(1, MAX_WINDOWS);
    let room = stream_len - len;
    (0..count).map(move |i| (room * (2 * i + 1) / (2 * count), len as usize))
}

/// Sizes of the samples under each candidate, measured lazily: `size(c)`
/// compresses every window with candidate `c` and returns the total.
pub fn choose(
    mut size: impl FnMut(Choice) -> Result<u64, super::EncodeError>,
) -> Result<Choice, super::EncodeError> {
    let within = |a: u64, b: u64, permille: u64| a * 1000 <= b * (1000 + permille);
    let l5 = size(Choice::Deflate(5))?;
    let l6 = size(Choice::Deflate(6))?;
    let (best, reference) = if l6 * 1000 < l5 * (1000 - STEEP_PERMILLE) {
        // Deeper search keeps paying: go one level deeper, and stop there
        // (libdeflate's level 7 searches about as deep as zlib's level 6).
        let l7 = size(Choice::Deflate(7))?;
        if l7 * 1000 < l6 * (1000 - 10) {
            (Choice::Deflate(7), l7)
        } else {
            (Choice::Deflate(6), l6)
        }
    } else {
        let l2 = size(Choice::Deflate(2))?;
        let reference = l5.min(l6);
        if within(l2, reference, SLACK_PERMILLE) {
            (Choice::Deflate(2), l2)
        } else if within(l5, l6, SLACK_PERMILLE) {
            (Choice::Deflate(5), l5)
        } else {
            (Choice::Deflate(6), l6)
        }
    };
    let literal = size(Choice::Literal)?;
    if within(literal, reference, SLACK_PERMILLE) {
        return Ok(Choice::Literal);
    }
    Ok(best)
}

/// Shortest chunk worth scanning for repeats at all.
const MIN_SCAN: usize = 1024;
/// Bytes scanned for repeated strings, in this many spread windows.
const SCAN: usize = 32 * 1024;
const SCAN_WINDOWS: usize = 4;
/// Below this share (in thousandths) of positions starting a 4-byte string
/// seen shortly before, match search is skipped.
const NO_MATCH_PERMILLE: usize = 2;

/// Whether `chunk` is noise: in every one of a few spread windows, almost no
/// 4-byte string repeats, so LZ77 matches cannot cover more than that
/// fraction of the bytes. Spread windows keep a chunk that merely starts
/// with noise from being taken for noise.
pub fn is_noise(chunk: &[u8]) -> bool {
    if chunk.len() < MIN_SCAN {
        return false;
    }
    let len = (SCAN / SCAN_WINDOWS).min(chunk.len());
    let room = chunk.len() - len;
    let mut table = [0u64; 4096];
    (0..SCAN_WINDOWS).all(|i| {
        let at = room * (2 * i + 1) / (2 * SCAN_WINDOWS);
        repeated_permille(&chunk[at..at + len], &mut table) < NO_MATCH_PERMILLE
    })
}

/// Thousandths of positions in `data` whose 4-byte string was seen before,
/// by a direct-mapped table (misses some repeats, never invents one within
/// a window; `table` may carry strings from earlier windows of the same
/// chunk, which are real repeats too). Branch-free: the tag bit 32 marks a
/// filled slot, so an empty slot never equals a string.
fn repeated_permille(data: &[u8], table: &mut [u64; 4096]) -> usize {
    if data.len() < 4 {
        return 0;
    }
    let mut repeats = 0usize;
    for w in data.windows(4) {
        let v = u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]])) | 1 << 32;
        let h = ((v as u32).wrapping_mul(0x9E37_79B1) >> 20) as usize;
        repeats += usize::from(table[h] == v);
        table[h] = v;
    }
    repeats * 1000 / (data.len() - 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{noise, smooth};

    #[test]
    fn noise_is_noise_and_structure_is_not() {
        assert!(is_noise(&noise(600_000, 256)));
        assert!(!is_noise(&smooth(600_000)));
        // Noise for a while, then repetitive: not noise as a whole.
        let mut mixed = noise(200_000, 256);
        mixed.extend(std::iter::repeat_n(b"the quick brown fox ", 30_000).flatten());
        assert!(!is_noise(&mixed));
        assert!(!is_noise(&[7u8; 100]));
    }

    #[test]
    fn windows_are_spread_and_inside_the_member() {
        for len in [1u64, 65_536, 100_000, 3 << 20, 1 << 30] {
            let w: Vec<_> = windows(len).collect();
            assert!(!w.is_empty() && w.len() <= MAX_WINDOWS as usize);
            for &(at, n) in &w {
                assert!(at + n as u64 <= len);
            }
        }
    }

    #[test]
    fn choose_takes_the_fastest_effort_near_the_reference() {
        let flat = |c: Choice| {
            Ok(match c {
                Choice::Deflate(2) => 1002,
                Choice::Deflate(_) => 1000,
                Choice::Literal => 1200,
            })
        };
        assert_eq!(choose(flat).unwrap(), Choice::Deflate(2));
        let steep = |c: Choice| {
            Ok(match c {
                Choice::Deflate(5) => 1100,
                Choice::Deflate(6) => 1000,
                Choice::Deflate(7) => 900,
                _ => 2000,
            })
        };
        assert_eq!(choose(steep).unwrap(), Choice::Deflate(7));
        let noisy = |c: Choice| Ok(if c == Choice::Literal { 1001 } else { 1000 });
        assert_eq!(choose(noisy).unwrap(), Choice::Literal);
    }
}
