//! Which engine, at which effort, compresses a member: numpy's size (zlib
//! level 6) in the least time.
//!
//! libdeflate's levels differ little in size on much numeric data and a lot
//! in speed, and which level reaches zlib's size depends on the data, so on
//! large members the choice is measured: spread 256 KiB windows are
//! compressed by zlib at level 6 itself (numpy's compressor: the size not
//! to exceed) and by the candidates, fastest first, until one is no larger
//! than zlib. If none is, the closest is kept when it is within 0.5% of
//! zlib, and zlib itself compresses the member otherwise. Windows that long
//! behave as whole chunks do; on 64 KiB windows libdeflate's blocks
//! and history differ enough to misjudge its size against zlib's by up to
//! 2%.
//!
//! Members from 256 KiB to 1 MiB are sampled the same way, on a quarter
//! of their bytes: sampling costs up to a quarter of numpy's own time on
//! them, but it is what keeps them within numpy's size. Smaller members,
//! where a sample would cost about as much as the member, get the reference
//! effort: libdeflate's level 7 with 3-byte matches always allowed, which
//! measured 0.78-1.008 of zlib's size on every dataset, real arrays
//! included, and every member size tried (4 KiB to 4 MiB;
//! `examples/engines.rs`).
//!
//! And per chunk, a cheap scan sends noise (random mantissas, sensor noise)
//! to the literal-only encoder, several times faster than a match search
//! that would find nothing.

/// How a member's non-noise chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Literal-only blocks: matches buy (almost) nothing.
    Literal,
    /// libdeflate at this level (1-9), always taking 3-byte matches, as
    /// zlib does.
    Deflate(u8),
    /// libdeflate at this level (1-9) as it is: an explicit level other than
    /// the default (libdeflate then decides when 3-byte matches pay).
    Level(u8),
    /// zlib at level 6, numpy's own compressor: for data where no faster
    /// engine reaches numpy's size.
    Zlib,
}

/// The effort for members too small to sample, and the deepest candidate:
/// libdeflate's level 7 with 3-byte matches always
/// allowed searches about as deep as zlib's level 6 (chains of 100 against
/// 128, nice length 130 against 128).
pub const REFERENCE: Choice = Choice::Deflate(7);

/// The candidates, fastest first.
const CANDIDATES: [Choice; 5] = [
    Choice::Literal,
    Choice::Deflate(2),
    Choice::Deflate(5),
    Choice::Deflate(6),
    REFERENCE,
];

/// Members (stream bytes) at least this long are sampled.
pub const SAMPLED_MEMBER: u64 = 256 * 1024;
/// A sampled member's windows, one per `BYTES_PER_WINDOW`, up to
/// `MAX_WINDOWS`, each a quarter of the member at most.
const WINDOW: u64 = 256 * 1024;
const BYTES_PER_WINDOW: u64 = 32 << 20;
const MAX_WINDOWS: u64 = 4;
/// When no candidate's samples are as small as zlib's, the closest is kept
/// if it is at most this much larger (in thousandths): under a third of the
/// 1% budget; the rest covers how far a member can stray from its samples
/// and the independent chunks (at most 0.2% against one stream). Beyond
/// that, zlib compresses the member.
const FALLBACK_PERMILLE: u64 = 3;

/// Where a member's sample windows start, in stream bytes, and how long
/// they are: spread evenly, so a member that starts with one kind of data
/// and continues with another is seen as a whole. None for members too
/// small to sample.
pub fn windows(stream_len: u64) -> impl Iterator<Item = (u64, usize)> {
    let count = if stream_len < SAMPLED_MEMBER {
        0
    } else {
        (stream_len / BYTES_PER_WINDOW).clamp(1, MAX_WINDOWS)
    };
    let len = WINDOW.min(stream_len / 4);
    let room = stream_len - len;
    (0..count).map(move |i| (room * (2 * i + 1) / (2 * count), len as usize))
}

/// The fastest candidate whose samples are smaller than zlib's, `zlib`, by
/// a margin, given `size(c)`, the samples' total under candidate `c`
/// (measured lazily, fastest first); failing that, the closest if near
/// enough, and zlib itself otherwise.
///
/// The margin is twice the square root of zlib's sample size, in bytes:
/// a few hundred bytes of compressed sample say little about a member
/// (0.2% for samples that compress to a MiB, 3% for 4 KiB), and sparse
/// data, whose samples compress to almost nothing, was misjudged by 1.5%
/// without it.
pub fn choose(
    zlib: u64,
    mut size: impl FnMut(Choice) -> Result<u64, super::EncodeError>,
) -> Result<Choice, super::EncodeError> {
    let limit = zlib.saturating_sub(2 * (zlib as f64).sqrt() as u64);
    let mut closest = (u64::MAX, REFERENCE);
    for candidate in CANDIDATES {
        let s = size(candidate)?;
        if s <= limit {
            return Ok(candidate);
        }
        if s < closest.0 {
            closest = (s, candidate);
        }
    }
    if closest.0 * 1000 <= zlib * (1000 + FALLBACK_PERMILLE) {
        Ok(closest.1)
    } else {
        Ok(Choice::Zlib)
    }
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
/// 4-byte string repeats within the window and almost no 3-byte string
/// repeats one to sixteen bytes back (where deflate's short distances make
/// even 3-byte matches pay: slowly varying floats under noise). Spread
/// windows keep a chunk that merely starts with noise from being taken for
/// noise.
pub fn is_noise(chunk: &[u8]) -> bool {
    if chunk.len() < MIN_SCAN {
        return false;
    }
    let len = (SCAN / SCAN_WINDOWS).min(chunk.len());
    let room = chunk.len() - len;
    let mut table = [0u64; 4096];
    (0..SCAN_WINDOWS).all(|i| {
        let at = room * (2 * i + 1) / (2 * SCAN_WINDOWS);
        let window = &chunk[at..at + len];
        repeated_permille(window, &mut table) < NO_MATCH_PERMILLE
            && near_repeat_permille(window) < NO_NEAR_MATCH_PERMILLE
    })
}

/// Below this share (in thousandths) of positions repeating a 3-byte
/// string from 1-16 bytes back, short matches are taken to buy nothing.
const NO_NEAR_MATCH_PERMILLE: usize = 1;

/// Thousandths of positions whose 3-byte string equals the one 1, 2, 3, 4,
/// 8 or 16 bytes back (the distances of numeric data's items).
fn near_repeat_permille(data: &[u8]) -> usize {
    const BACK: [usize; 6] = [1, 2, 3, 4, 8, 16];
    if data.len() < 16 + 4 {
        return 0;
    }
    let three = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], 0]);
    let mut repeats = 0usize;
    for i in 16..data.len() - 3 {
        let v = three(i);
        repeats += usize::from(BACK.iter().any(|&b| three(i - b) == v));
    }
    repeats * 1000 / (data.len() - 19)
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
        assert_eq!(windows(SAMPLED_MEMBER - 1).count(), 0);
        for len in [SAMPLED_MEMBER, 9 << 20, 100 << 20, 1 << 30] {
            let w: Vec<_> = windows(len).collect();
            assert!(!w.is_empty() && w.len() <= MAX_WINDOWS as usize);
            for &(at, n) in &w {
                assert!(at + n as u64 <= len);
            }
        }
    }

    #[test]
    fn choose_takes_the_fastest_candidate_within_zlibs_size() {
        let sizes = |lit, l2, l5, l6, l7| {
            move |c: Choice| {
                Ok(match c {
                    Choice::Literal => lit,
                    Choice::Deflate(2) => l2,
                    Choice::Deflate(5) => l5,
                    Choice::Deflate(6) => l6,
                    _ => l7,
                })
            }
        };
        // zlib's samples: 1,000,000 bytes, so the margin is 2,000.
        let pick = |sizes| choose(1_000_000, sizes).unwrap();
        let m = 1_000_000;
        assert_eq!(
            pick(sizes(2 * m, m - 2000, m - 9000, 0, 0)),
            Choice::Deflate(2)
        );
        assert_eq!(
            pick(sizes(2 * m, m - 1999, m - 9000, 0, 0)),
            Choice::Deflate(5)
        );
        assert_eq!(pick(sizes(m - 5000, m - 9000, 0, 0, 0)), Choice::Literal);
        assert_eq!(pick(sizes(2 * m, 2 * m, 2 * m, m, m - 3000)), REFERENCE);
        // Nothing within the margin: the closest, or zlib when even that is
        // more than 0.3% larger than zlib's.
        assert_eq!(
            pick(sizes(2 * m, 2 * m, 2 * m, m + 3000, m + 4000)),
            Choice::Deflate(6)
        );
        assert_eq!(
            pick(sizes(2 * m, 2 * m, 2 * m, m + 3001, m + 4000)),
            Choice::Zlib
        );
    }
}
