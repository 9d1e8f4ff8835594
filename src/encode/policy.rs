//! Which engine, at which effort, compresses a member: numpy's size (zlib
//! level 6) in the least time.
//!
//! libdeflate's levels differ little in size on much numeric data and a lot
//! in speed, and which level reaches zlib's size depends on the data, so
//! the choice is measured on samples, at a cost that grows with the member:
//! - **small members** (under 64 KiB) get the reference effort: libdeflate
//!   level 7 with 3-byte matches always allowed, which measured 0.78-1.005
//!   of zlib's size on every dataset and member size tried (4 KiB to 4 MiB,
//!   `examples/engines.rs`); a sample would cost as much as the member;
//! - **mid-size members** (under 8 MiB): one window is compressed by the
//!   candidates and by the reference effort; the fastest candidate within
//!   0.5% of the reference wins;
//! - **large members**: spread 256 KiB windows are compressed by zlib at
//!   level 6 itself (numpy's compressor: the size not to exceed) and by the
//!   candidates, fastest first, until one is no larger than zlib. Windows
//!   that long behave as whole 1 MiB chunks do: on 64 KiB windows,
//!   libdeflate's blocks and history differ enough to misjudge its size
//!   against zlib's by up to 2%.
//!
//! And per chunk, a cheap scan sends noise (random mantissas, sensor noise)
//! to the literal-only encoder, several times faster than a match search
//! that would find nothing.

/// How a member's non-noise chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Literal-only blocks: matches buy (almost) nothing.
    Literal,
    /// libdeflate at this level (1-9), always taking 3-byte matches.
    Deflate(u8),
    /// zlib at level 6, numpy's own compressor: for data where no faster
    /// engine reaches numpy's size.
    Zlib,
}

/// The reference effort: libdeflate's level 7 with 3-byte matches always
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

/// How a member is sampled, by its stream length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Not at all: the reference effort.
    None,
    /// Against the reference effort.
    Reference,
    /// Against zlib itself.
    Zlib,
}

/// Members shorter than this are not sampled.
const MID_MEMBER: u64 = 64 * 1024;
/// Members at least this long are sampled against zlib.
const LARGE_MEMBER: u64 = 8 << 20;
/// A mid-size member's window: a 32nd of it, within these bounds.
const MID_WINDOW: (u64, u64) = (16 * 1024, 128 * 1024);
/// A large member's windows, one per `BYTES_PER_WINDOW`, up to `MAX_WINDOWS`.
const LARGE_WINDOW: u64 = 256 * 1024;
const BYTES_PER_WINDOW: u64 = 32 << 20;
const MAX_WINDOWS: u64 = 4;
/// Against the reference effort, a candidate may be this much larger (in
/// thousandths): the reference is itself 0.78-1.005 of zlib's size.
const REFERENCE_SLACK_PERMILLE: u64 = 5;

/// How a member of `stream_len` bytes is sampled.
pub fn sampling(stream_len: u64) -> Sampling {
    if stream_len < MID_MEMBER {
        Sampling::None
    } else if stream_len < LARGE_MEMBER {
        Sampling::Reference
    } else {
        Sampling::Zlib
    }
}

/// Where a member's sample windows start, in stream bytes, and how long
/// they are: spread evenly, so a member that starts with one kind of data
/// and continues with another is seen as a whole.
pub fn windows(stream_len: u64) -> impl Iterator<Item = (u64, usize)> {
    let (len, count) = match sampling(stream_len) {
        Sampling::None => (0, 0),
        Sampling::Reference => ((stream_len / 32).clamp(MID_WINDOW.0, MID_WINDOW.1), 1),
        Sampling::Zlib => (
            LARGE_WINDOW,
            (stream_len / BYTES_PER_WINDOW).clamp(1, MAX_WINDOWS),
        ),
    };
    let len = len.min(stream_len);
    let room = stream_len - len;
    (0..count).map(move |i| (room * (2 * i + 1) / (2 * count), len as usize))
}

/// The fastest candidate whose samples are no larger than `limit`, given
/// `size(c)`, the samples' total under candidate `c` (measured lazily,
/// fastest first). If none is, the one that came closest, as long as it is
/// within `fallback_permille` thousandths of the limit; beyond that, zlib
/// itself.
pub fn choose(
    limit: u64,
    fallback_permille: u64,
    mut size: impl FnMut(Choice) -> Result<u64, super::EncodeError>,
) -> Result<Choice, super::EncodeError> {
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
    if closest.0 * 1000 <= limit * (1000 + fallback_permille) {
        Ok(closest.1)
    } else {
        Ok(Choice::Zlib)
    }
}

/// Against zlib's own size, the closest candidate is kept when it is this
/// much larger (in thousandths) at most; beyond that, zlib compresses the
/// member: half the 1% budget, the other half for how far a member can
/// stray from its samples.
pub const ZLIB_FALLBACK_PERMILLE: u64 = 5;

/// The limit for candidates measured against the reference effort's size.
pub fn reference_limit(reference: u64) -> u64 {
    reference + reference * REFERENCE_SLACK_PERMILLE / 1000
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
        assert_eq!(windows(1000).count(), 0);
        for len in [65_536u64, 100_000, 3 << 20, 9 << 20, 1 << 30] {
            let w: Vec<_> = windows(len).collect();
            assert!(!w.is_empty() && w.len() <= MAX_WINDOWS as usize);
            for &(at, n) in &w {
                assert!(at + n as u64 <= len);
            }
        }
    }

    #[test]
    fn choose_takes_the_fastest_candidate_within_the_limit() {
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
        let pick = |sizes| choose(1000, ZLIB_FALLBACK_PERMILLE, sizes).unwrap();
        assert_eq!(pick(sizes(1200, 1000, 990, 980, 970)), Choice::Deflate(2));
        assert_eq!(pick(sizes(1200, 1001, 990, 980, 970)), Choice::Deflate(5));
        assert_eq!(pick(sizes(999, 990, 980, 970, 960)), Choice::Literal);
        assert_eq!(pick(sizes(1200, 1100, 1050, 1010, 995)), REFERENCE);
        // Nothing within the limit: the closest, or zlib when even that is
        // too far.
        assert_eq!(
            pick(sizes(1200, 1100, 1050, 1005, 1007)),
            Choice::Deflate(6)
        );
        assert_eq!(pick(sizes(1200, 1100, 1050, 1006, 1007)), Choice::Zlib);
        assert_eq!(reference_limit(1000), 1005);
    }
}
