//! Which engine, at which effort, compresses a member: numpy's size (zlib
//! level 6), within the 1% the product promises, in the least time.
//!
//! libdeflate's levels differ little in size on much numeric data and a lot
//! in speed, and which one reaches zlib's size depends on the data (on some
//! real float images even libdeflate's level 7 is 2% larger than zlib), so
//! the choice is measured. Spread windows of each member of 256 KiB or more
//! (together an eighth of the member, 32-256 KiB each, two to four) are
//! compressed by zlib at level 6 itself, numpy's compressor, and by a
//! ladder of candidates, fastest first: the first whose size, plus a margin for how
//! far a member can stray from its samples, is within 0.6% of zlib's
//! compresses all of the member's chunks, and zlib itself does when none
//! is. Windows of 256 KiB behave as whole chunks do; on 64 KiB windows
//! libdeflate's blocks and history differ enough to misjudge its size
//! against zlib's by up to 2%.
//!
//! Smaller members, where a sample would cost about as much as the member,
//! get the reference effort: libdeflate's level 7 with 3-byte matches always
//! allowed, which measured 0.78-1.008 of zlib's size on every dataset, real
//! arrays included, and every member size up to 256 KiB tried
//! (`examples/engines.rs`).
//!
//! And per chunk, a cheap scan sends noise (random mantissas, sensor noise)
//! to the literal-only encoder, several times faster than a match search
//! that would find nothing.

/// How a member's non-noise chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Literal-only blocks: matches buy (almost) nothing.
    Literal,
    /// libdeflate at an effort.
    Deflate(Effort),
    /// zlib at level 6, numpy's own compressor: for data where no faster
    /// engine reaches numpy's size.
    Zlib,
}

/// One libdeflate setting: a level, whether 3-byte matches are always taken
/// (as zlib takes them; libdeflate otherwise raises the minimum match
/// length when few distinct byte values occur), and optionally a search
/// depth and nice length between the levels' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effort {
    /// libdeflate level 1-9 (the parsing strategy, and default search).
    pub level: u8,
    /// Take 3-byte matches always.
    pub shortest: bool,
    /// Candidates searched per position and the match length taken at
    /// once; 0 keeps the level's own.
    pub depth: u32,
    /// See `depth`.
    pub nice: u32,
}

impl Effort {
    /// libdeflate's level as it is.
    pub const fn level(level: u8) -> Self {
        Effort {
            level,
            shortest: false,
            depth: 0,
            nice: 0,
        }
    }

    /// A level with 3-byte matches always taken.
    const fn shortest(level: u8) -> Self {
        Effort {
            level,
            shortest: true,
            depth: 0,
            nice: 0,
        }
    }
}

/// The effort for members too small to sample, and the deepest candidate:
/// libdeflate's level 7 with 3-byte matches always allowed searches about
/// as deep as zlib's level 6 (chains of 100 against 128, nice length 130
/// against 128).
pub const REFERENCE: Choice = Choice::Deflate(Effort::shortest(7));

/// The candidates, fastest first: a ladder of efforts, since which one
/// reaches zlib's size depends on the data (measured on this project's and
/// real datasets with `examples/engines.rs`: libdeflate's level 2 without
/// 3-byte matches suits photographs, levels 5-6 with them smooth floats and
/// small integers, the deeper steps labels and masks).
const CANDIDATES: [Choice; 7] = [
    Choice::Literal,
    Choice::Deflate(Effort::level(2)),
    Choice::Deflate(Effort::shortest(2)),
    Choice::Deflate(Effort::shortest(5)),
    Choice::Deflate(Effort::shortest(6)),
    Choice::Deflate(Effort {
        level: 6,
        shortest: true,
        depth: 50,
        nice: 100,
    }),
    REFERENCE,
];

/// Members (stream bytes) at least this long are sampled.
pub const SAMPLED_MEMBER: u64 = 256 * 1024;
/// A sampled member's windows: one per `BYTES_PER_WINDOW`, two to
/// `MAX_WINDOWS`, together an eighth of the member, each within these
/// bounds.
const WINDOW: u64 = 256 * 1024;
const MIN_WINDOW: u64 = 32 * 1024;
const BYTES_PER_WINDOW: u64 = 8 << 20;
const MAX_WINDOWS: u64 = 4;
/// How much larger than zlib's (in thousandths) a candidate's samples may
/// be, before the margin: under two thirds of the 1% budget, the rest left
/// for the independent chunks (at most 0.2% against one stream).
const SLACK_PERMILLE: u64 = 6;

/// Where a member's sample windows start, in stream bytes, and how long
/// they are: spread evenly, so a member that starts with one kind of data
/// and continues with another is seen as a whole. None for members too
/// small to sample.
pub fn windows(stream_len: u64) -> impl Iterator<Item = (u64, usize)> {
    let count = if stream_len < SAMPLED_MEMBER {
        0
    } else {
        (stream_len / BYTES_PER_WINDOW).clamp(2, MAX_WINDOWS)
    };
    // An eighth of the member in all, in at least two places: data whose
    // statistics drift (a random walk's magnitude) is misjudged from one.
    let len = (stream_len / (8 * count.max(1)))
        .clamp(MIN_WINDOW, WINDOW)
        .min(stream_len);
    let room = stream_len - len;
    (0..count).map(move |i| (room * (2 * i + 1) / (2 * count), len as usize))
}

/// The fastest candidate whose samples, with a margin for how far a member
/// can stray from its samples, come within `SLACK_PERMILLE` of zlib's,
/// `zlib`, given `size(c)`, the samples' total under candidate `c`
/// (measured lazily, fastest first); zlib itself when none does.
///
/// The margin is the square root of zlib's sample size, in bytes: a few
/// hundred bytes of compressed sample say little about a member (0.1% for
/// samples that compress to a MiB, 1.6% for 4 KiB); sparse data, whose
/// samples compress to almost nothing, was misjudged by 1.5% without it.
///
/// Literal coding must also come within the slack on every window on its
/// own: how much deflate's matches add over Huffman coding alone varies
/// along a member (along a float32 random walk, from 0% to 5.7% as its
/// magnitude grows), and a member sampled where matches pay least would
/// otherwise be coded without them throughout.
pub fn choose(
    zlib: &[u64],
    mut sizes: impl FnMut(Choice) -> Result<Vec<u64>, super::EncodeError>,
) -> Result<Choice, super::EncodeError> {
    let within = |size: u64, zlib: u64| size * 1000 <= zlib * (1000 + SLACK_PERMILLE);
    let total: u64 = zlib.iter().sum();
    let limit =
        (total + total * SLACK_PERMILLE / 1000).saturating_sub((total as f64).sqrt() as u64);
    for candidate in CANDIDATES {
        let s = sizes(candidate)?;
        let fits = s.iter().sum::<u64>() <= limit
            && (candidate != Choice::Literal || s.iter().zip(zlib).all(|(&s, &z)| within(s, z)));
        if fits {
            return Ok(candidate);
        }
    }
    Ok(Choice::Zlib)
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
    // A chunk no longer than a window is scanned once, not four times.
    let windows = if room == 0 { 1 } else { SCAN_WINDOWS };
    let mut table = [0u64; 4096];
    (0..windows).all(|i| {
        let at = room * (2 * i + 1) / (2 * windows);
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
        // Sample sizes by position in the ladder; zlib's are 1,000,000, so
        // the limit is 1,006,000 less a margin of 1,000.
        let m = 1_000_000u64;
        let limit = m + 5_000;
        let ladder = |sizes: [u64; 7]| {
            move |c: Choice| {
                Ok(vec![
                    sizes[CANDIDATES.iter().position(|&k| k == c).unwrap_or(6)],
                ])
            }
        };
        let pick = |sizes| choose(&[m], ladder(sizes)).unwrap();
        let big = 2 * m;
        assert_eq!(pick([big, limit, 0, 0, 0, 0, 0]), CANDIDATES[1]);
        assert_eq!(pick([big, limit + 1, limit, 0, 0, 0, 0]), CANDIDATES[2]);
        assert_eq!(pick([limit, 0, 0, 0, 0, 0, 0]), Choice::Literal);
        assert_eq!(pick([big, big, big, big, big, big, m]), REFERENCE);
        assert_eq!(
            pick([big, big, big, big, limit + 1, big, limit + 2]),
            Choice::Zlib
        );
        // Small samples get a larger margin: 4,000 bytes, 63.
        assert_eq!(
            choose(&[4_000], ladder([4_000 + 24 - 63, 0, 0, 0, 0, 0, 0])).unwrap(),
            Choice::Literal
        );
        assert_eq!(
            choose(
                &[4_000],
                ladder([4_000 + 24 - 62, big, big, big, big, big, big])
            )
            .unwrap(),
            Choice::Zlib
        );
        // Literal coding must fit every window: 1% over on one of two is
        // too much, even when the other makes up for it.
        let two = |lit: [u64; 2], l2: [u64; 2]| {
            move |c: Choice| {
                Ok(if c == Choice::Literal {
                    lit.to_vec()
                } else {
                    l2.to_vec()
                })
            }
        };
        assert_eq!(
            choose(&[m, m], two([m - 8000, m + 10_000], [2 * m, 2 * m])).unwrap(),
            Choice::Zlib
        );
        assert_eq!(
            choose(&[m, m], two([m - 8000, m + 6000], [2 * m, 2 * m])).unwrap(),
            Choice::Literal
        );
    }
}
