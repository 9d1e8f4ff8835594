//! Deflate with LZ77 matches, for chunks small enough that zlib-rs's
//! per-stream setup is most of the cost.
//!
//! zlib-rs resets ~300 KiB of state for every stream and builds its trees
//! with general machinery: on a 4 KiB member that is more time than the
//! match search itself. This encoder sizes its hash table to the input,
//! follows zlib's own match-search rules (greedy for levels 1-3, lazy with
//! zlib's good/lazy/nice/chain table for 4-9, 3-byte matches, the 4 KiB
//! limit on distant 3-byte matches), and picks the cheapest of a dynamic,
//! fixed or stored block as zlib does, so its output is about zlib's size.

use crate::huffman::{code_lengths, codes, Bits, DynamicHeader, MAX_BITS};

const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// zlib's reach: the window less the lookahead it keeps.
const MAX_DIST: usize = 32 * 1024 - (MAX_MATCH + MIN_MATCH + 1);
/// A 3-byte match further back than this costs more than its literals.
const TOO_FAR: usize = 4096;
/// Symbols per block, as zlib's default memory level buffers them.
const BLOCK_SYMBOLS: usize = 16 * 1024 - 1;
const NIL: u32 = u32::MAX;
/// The history ring: positions are looked up at most `MAX_DIST` back.
const RING: usize = 32 * 1024;
const END_OF_BLOCK: usize = 256;
const LIT_LEN_CODES: usize = 286;
const DIST_CODES: usize = 30;
/// A symbol with this bit set is a match: distance << 8 | (length - 3).
const MATCH_FLAG: u32 = 1 << 31;

/// A level's match-search limits: zlib's `configuration_table` entry.
#[derive(Clone, Copy)]
struct Config {
    /// Search a quarter of the chain once a match this long is in hand.
    good: usize,
    /// Lazy levels: do not look for a better match after one this long.
    /// Greedy levels: the longest match whose positions are hashed.
    lazy: usize,
    /// Stop searching at a match this long.
    nice: usize,
    /// Chain entries tried per position.
    chain: usize,
}

impl Config {
    const fn new(good: usize, lazy: usize, nice: usize, chain: usize) -> Self {
        Config {
            good,
            lazy,
            nice,
            chain,
        }
    }
}

/// zlib's table, by level.
const CONFIG: [Config; 10] = [
    Config::new(0, 0, 0, 0),
    Config::new(4, 4, 8, 4),
    Config::new(4, 5, 16, 8),
    Config::new(4, 6, 32, 32),
    Config::new(4, 4, 16, 16),
    Config::new(8, 16, 32, 32),
    Config::new(8, 16, 128, 128),
    Config::new(8, 32, 128, 256),
    Config::new(32, 128, 258, 1024),
    Config::new(32, 258, 258, 4096),
];

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/// Length code index (0-28) for each match length minus 3.
const LEN_CODE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 28 {
        let base = LEN_BASE[code] as usize - MIN_MATCH;
        let mut k = 0;
        while k < (1 << LEN_EXTRA[code]) && base + k < 256 {
            table[base + k] = code as u8;
            k += 1;
        }
        code += 1;
    }
    // 258 has a code of its own (285), shorter than 227 + 31.
    table[255] = 28;
    table
};

/// Distance code (0-29) of distance `d` (1-32768).
#[inline]
fn dist_code(d: usize) -> usize {
    let x = d - 1;
    if x < 4 {
        x
    } else {
        let b = (usize::BITS - 1 - x.leading_zeros()) as usize;
        2 * b + ((x >> (b - 1)) & 1)
    }
}

/// (extra bit count, base) of distance code `c`.
#[inline]
fn dist_extra(c: usize) -> (u32, usize) {
    if c < 4 {
        (0, c + 1)
    } else {
        let e = c / 2 - 1;
        (e as u32, 1 + ((2 | (c & 1)) << e))
    }
}

/// Largest hash table: 2^15 heads, as zlib's default memory level.
const HEAD: usize = 1 << 15;
/// Zero bytes after the input so 4- and 8-byte loads near its end stay in
/// the buffer.
const PAD: usize = 8;

/// Per-thread scratch, reused across chunks so only the hash heads in use
/// are cleared per call.
pub struct Scratch {
    head: Box<[u32; HEAD]>,
    prev: Box<[u32; RING]>,
    symbols: Vec<u32>,
    input: Vec<u8>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            head: Box::new([NIL; HEAD]),
            prev: Box::new([NIL; RING]),
            symbols: Vec::new(),
            input: Vec::new(),
        }
    }
}

/// The match finder's state over `data` (history then chunk, then `PAD`
/// zero bytes that are not part of it).
struct Matcher<'a> {
    data: &'a [u8],
    /// Bytes of `data` before the padding.
    n: usize,
    head: &'a mut [u32; HEAD],
    prev: &'a mut [u32; RING],
    shift: u32,
}

impl Matcher<'_> {
    /// Enter `pos` in its hash chain; returns the previous position with the
    /// same 3-byte hash (or NIL).
    #[inline(always)]
    fn insert(&mut self, pos: usize) -> u32 {
        if pos + MIN_MATCH > self.n {
            return NIL;
        }
        let v = load32(self.data, pos) & 0x00FF_FFFF;
        let h = (v.wrapping_mul(0x9E37_79B1) >> self.shift) as usize & (HEAD - 1);
        let old = self.head[h];
        self.prev[pos & (RING - 1)] = old;
        self.head[h] = pos as u32;
        old
    }

    /// The longest match for `pos` longer than `best`, walking the chain from
    /// `candidate`: (length, distance), or (0, 0) when none is longer.
    #[inline]
    fn longest(
        &self,
        pos: usize,
        mut candidate: u32,
        best: usize,
        config: Config,
    ) -> (usize, usize) {
        let d = self.data;
        let max_len = MAX_MATCH.min(self.n - pos);
        if max_len < MIN_MATCH {
            return (0, 0);
        }
        let mut best = best.max(MIN_MATCH - 1);
        if best >= max_len {
            return (0, 0);
        }
        let mut chain = if best >= config.good {
            config.chain >> 2
        } else {
            config.chain
        };
        let nice = config.nice.min(max_len);
        let mut found = (0, 0);
        let limit = pos.saturating_sub(MAX_DIST);
        let first = load32(d, pos) & 0xFF_FFFF;
        let mut scan_end = d[pos + best];
        loop {
            let c = candidate as usize;
            if c < limit {
                break;
            }
            // Worth comparing only if it agrees on the byte just past the
            // best length so far and on the 3 hashed bytes (hashes collide).
            if d[c + best] == scan_end && load32(d, c) & 0xFF_FFFF == first {
                let len = common_prefix(d, c, pos, max_len);
                if len > best {
                    best = len;
                    found = (len, pos - c);
                    if len >= nice {
                        break;
                    }
                    scan_end = d[pos + best];
                }
            }
            let next = self.prev[c & (RING - 1)];
            chain -= 1;
            // Chains run backwards; NIL, or a slot a newer position has
            // taken over, ends this one.
            if next as usize >= c || chain == 0 {
                break;
            }
            candidate = next;
        }
        found
    }
}

#[inline(always)]
fn load32(d: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&d[at..at + 4]);
    u32::from_le_bytes(b)
}

#[inline]
fn load64(d: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Length of the common prefix of `d[a..]` and `d[b..]`, at most `max`
/// (`a < b`, `b + max <= d.len()`).
#[inline]
fn common_prefix(d: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut l = 0;
    while l + 8 <= max {
        let x = load64(d, a + l) ^ load64(d, b + l);
        if x != 0 {
            return l + (x.trailing_zeros() / 8) as usize;
        }
        l += 8;
    }
    while l < max && d[a + l] == d[b + l] {
        l += 1;
    }
    l
}

/// Compress the concatenation of `pieces` at zlib `level` (1-9), with `dict`
/// as the history matches may reach into (its last 32 KiB or so), appending
/// raw deflate to `out`. With `last` the stream ends; otherwise
/// the output ends with a sync-flush marker. Matches are searched for in
/// the first `search` bytes only; the rest is coded as literals (for noise
/// after a `.npy` header, where a search finds nothing).
pub fn encode(
    pieces: &[&[u8]],
    dict: &[u8],
    level: u8,
    last: bool,
    search: usize,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) {
    let config = CONFIG[usize::from(level.clamp(1, 9))];
    let dict = &dict[dict.len().saturating_sub(MAX_DIST)..];
    let input = &mut scratch.input;
    input.clear();
    input.extend_from_slice(dict);
    for p in pieces {
        input.extend_from_slice(p);
    }
    let n = input.len();
    input.resize(n + PAD, 0);
    let bits = (usize::BITS - n.max(256).leading_zeros()).clamp(9, 15);
    scratch.head[..1 << bits].fill(NIL);
    scratch.symbols.clear();
    let searched = n.min(dict.len().saturating_add(search));
    let mut m = Matcher {
        data: input,
        n: searched,
        head: &mut scratch.head,
        prev: &mut scratch.prev,
        shift: 32 - bits,
    };
    for pos in 0..dict.len() {
        m.insert(pos);
    }
    let symbols = &mut scratch.symbols;
    if level <= 3 {
        greedy(&mut m, dict.len(), config, symbols);
    } else {
        lazy(&mut m, dict.len(), config, symbols);
    }
    symbols.extend(input[searched..n].iter().map(|&b| literal(b)));
    write_blocks(&input[dict.len()..n], symbols, last, out);
}

#[inline]
fn literal(b: u8) -> u32 {
    u32::from(b)
}

#[inline]
fn matched(len: usize, dist: usize) -> u32 {
    MATCH_FLAG | (dist as u32) << 8 | (len - MIN_MATCH) as u32
}

/// zlib's `deflate_fast`: take the longest match at each position.
fn greedy(m: &mut Matcher<'_>, from: usize, config: Config, symbols: &mut Vec<u32>) {
    let n = m.n;
    let max_insert = config.lazy;
    let mut pos = from;
    while pos < n {
        let head = m.insert(pos);
        let (len, dist) = if head != NIL {
            m.longest(pos, head, 0, config)
        } else {
            (0, 0)
        };
        if len >= MIN_MATCH {
            symbols.push(matched(len, dist));
            if len <= max_insert {
                for p in pos + 1..pos + len {
                    m.insert(p);
                }
            }
            pos += len;
        } else {
            symbols.push(literal(m.data[pos]));
            pos += 1;
        }
    }
}

/// zlib's `deflate_slow`: a match is kept only if the next position does not
/// start a longer one.
fn lazy(m: &mut Matcher<'_>, from: usize, config: Config, symbols: &mut Vec<u32>) {
    let n = m.n;
    let max_lazy = config.lazy;
    let mut pos = from;
    let (mut prev_len, mut prev_dist) = (MIN_MATCH - 1, 0);
    let mut pending = false;
    while pos < n {
        let head = m.insert(pos);
        let (mut len, mut dist) = (MIN_MATCH - 1, 0);
        if head != NIL && prev_len < max_lazy {
            let (l, d) = m.longest(pos, head, prev_len, config);
            if l >= MIN_MATCH && !(l == MIN_MATCH && d > TOO_FAR) {
                (len, dist) = (l, d);
            }
        }
        if prev_len >= MIN_MATCH && len <= prev_len {
            // The match found one position back wins; it covers pos - 1.
            symbols.push(matched(prev_len, prev_dist));
            let end = pos - 1 + prev_len;
            for p in pos + 1..end {
                m.insert(p);
            }
            pos = end;
            pending = false;
            prev_len = MIN_MATCH - 1;
            continue;
        }
        if pending {
            symbols.push(literal(m.data[pos - 1]));
        }
        pending = true;
        (prev_len, prev_dist) = (len, dist);
        pos += 1;
    }
    if pending {
        symbols.push(literal(m.data[n - 1]));
    }
}

/// Symbol counts of one block.
struct Freqs {
    lit: [u32; LIT_LEN_CODES],
    dist: [u32; DIST_CODES],
    /// Extra bits of all lengths and distances.
    extra: u64,
}

impl Freqs {
    fn of(symbols: &[u32]) -> Self {
        let mut f = Freqs {
            lit: [0; LIT_LEN_CODES],
            dist: [0; DIST_CODES],
            extra: 0,
        };
        for &s in symbols {
            if s & MATCH_FLAG == 0 {
                f.lit[s as usize] += 1;
            } else {
                let lc = usize::from(LEN_CODE[(s & 0xFF) as usize]);
                let dc = dist_code(((s & !MATCH_FLAG) >> 8) as usize);
                f.lit[257 + lc] += 1;
                f.dist[dc] += 1;
                f.extra += u64::from(LEN_EXTRA[lc]) + u64::from(dist_extra(dc).0);
            }
        }
        f.lit[END_OF_BLOCK] = 1;
        f
    }

    fn cost(&self, lit_len: &[u8], dist_len: &[u8]) -> u64 {
        let lit: u64 = self
            .lit
            .iter()
            .zip(lit_len)
            .map(|(&f, &l)| u64::from(f) * u64::from(l))
            .sum();
        let dist: u64 = self
            .dist
            .iter()
            .zip(dist_len)
            .map(|(&f, &l)| u64::from(f) * u64::from(l))
            .sum();
        lit + dist + self.extra
    }
}

/// The fixed code's lengths (RFC 1951, 3.2.6).
fn fixed_lengths() -> ([u8; 288], [u8; 30]) {
    let mut lit = [8u8; 288];
    lit[144..256].fill(9);
    lit[256..280].fill(7);
    (lit, [5u8; 30])
}

/// Cut `symbols` (which code `bytes`) into blocks and write each as the
/// cheapest of dynamic, fixed and stored.
fn write_blocks(bytes: &[u8], symbols: &[u32], last: bool, out: &mut Vec<u8>) {
    out.reserve(bytes.len() / 2 + 64);
    let mut bits = Bits::new(out);
    let mut at = 0;
    let blocks = symbols.len().div_ceil(BLOCK_SYMBOLS).max(1);
    for (i, block) in symbols
        .chunks(BLOCK_SYMBOLS)
        .chain(symbols.is_empty().then_some(&[][..]))
        .enumerate()
    {
        let covered: usize = block
            .iter()
            .map(|&s| {
                if s & MATCH_FLAG == 0 {
                    1
                } else {
                    (s & 0xFF) as usize + MIN_MATCH
                }
            })
            .sum();
        let final_block = last && i + 1 == blocks;
        write_block(&mut bits, block, &bytes[at..at + covered], final_block);
        at += covered;
    }
    if last {
        bits.align();
    } else {
        bits.sync_flush();
    }
}

fn write_block(bits: &mut Bits<'_>, symbols: &[u32], bytes: &[u8], last: bool) {
    let f = Freqs::of(symbols);
    let mut lit_len = [0u8; LIT_LEN_CODES];
    code_lengths(&f.lit, MAX_BITS, &mut lit_len);
    let mut dist_len = [0u8; DIST_CODES];
    code_lengths(&f.dist, MAX_BITS, &mut dist_len);
    let header = DynamicHeader::new(&lit_len, &dist_len);
    let dynamic = header.bits() + f.cost(&lit_len, &dist_len);
    let (fixed_lit, fixed_dist) = fixed_lengths();
    let fixed = 3 + f.cost(&fixed_lit, &fixed_dist);
    // Stored: 3 header bits, padding to a byte, LEN and NLEN, per 64 KiB.
    let stored =
        (bytes.len().div_ceil(65_535).max(1) as u64) * (5 * 8 + 7) + 8 * bytes.len() as u64;
    if stored < dynamic.min(fixed) {
        write_stored(bits, bytes, last);
    } else if fixed <= dynamic {
        bits.put(u32::from(last), 1);
        bits.put(1, 2);
        write_symbols(bits, symbols, &fixed_lit, &fixed_dist);
    } else {
        header.write(bits, last);
        write_symbols(bits, symbols, &lit_len, &dist_len);
    }
}

fn write_stored(bits: &mut Bits<'_>, bytes: &[u8], last: bool) {
    let pieces = bytes.len().div_ceil(65_535).max(1);
    for (i, piece) in bytes
        .chunks(65_535)
        .chain(bytes.is_empty().then_some(&[][..]))
        .enumerate()
    {
        bits.put(u32::from(last && i + 1 == pieces), 1);
        bits.put(0, 2);
        bits.align();
        let len = piece.len() as u16;
        bits.put(u32::from(len) | u32::from(!len) << 16, 32);
        bits.bytes(piece);
    }
}

fn write_symbols(bits: &mut Bits<'_>, symbols: &[u32], lit_len: &[u8], dist_len: &[u8]) {
    let mut lit_code = [0u16; 288];
    codes(lit_len, &mut lit_code[..lit_len.len()]);
    let mut dist_code_bits = [0u16; 30];
    codes(dist_len, &mut dist_code_bits);
    for &s in symbols {
        if s & MATCH_FLAG == 0 {
            let s = s as usize;
            bits.put(u32::from(lit_code[s]), u32::from(lit_len[s]));
        } else {
            let l = (s & 0xFF) as usize;
            let lc = usize::from(LEN_CODE[l]);
            bits.put(u32::from(lit_code[257 + lc]), u32::from(lit_len[257 + lc]));
            bits.put(
                (l + MIN_MATCH - usize::from(LEN_BASE[lc])) as u32,
                u32::from(LEN_EXTRA[lc]),
            );
            let d = ((s & !MATCH_FLAG) >> 8) as usize;
            let dc = dist_code(d);
            let (extra, base) = dist_extra(dc);
            bits.put(u32::from(dist_code_bits[dc]), u32::from(dist_len[dc]));
            bits.put((d - base) as u32, extra);
        }
    }
    bits.put(
        u32::from(lit_code[END_OF_BLOCK]),
        u32::from(lit_len[END_OF_BLOCK]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::inflate_raw as inflate;

    fn noise(n: usize, spread: u32, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 20) as u32 % spread) as u8
            })
            .collect()
    }

    fn smooth(n: usize) -> Vec<u8> {
        (0..n / 8)
            .flat_map(|i| (((i as f64 * 0.01).sin() * 1000.0).round() / 1000.0).to_le_bytes())
            .collect()
    }

    #[test]
    fn length_and_distance_codes_follow_the_rfc() {
        for len in MIN_MATCH..=MAX_MATCH {
            let c = usize::from(LEN_CODE[len - MIN_MATCH]);
            let base = usize::from(LEN_BASE[c]);
            assert!(base <= len && len - base < (1 << LEN_EXTRA[c]), "len {len}");
        }
        assert_eq!(LEN_CODE[258 - MIN_MATCH], 28);
        for d in 1..=32768 {
            let (extra, base) = dist_extra(dist_code(d));
            assert!(base <= d && d - base < (1 << extra), "dist {d}");
        }
    }

    #[test]
    fn round_trips_every_level_and_shape() {
        let mut inputs = vec![
            Vec::new(),
            vec![7],
            vec![0; 100_000],
            noise(5000, 256, 1),
            noise(60_000, 4, 2),
            smooth(40_000),
            b"abcabcabcabcabcabd".repeat(50),
        ];
        let mut mixed = noise(20_000, 256, 3);
        mixed.extend(smooth(30_000));
        inputs.push(mixed);
        let mut scratch = Scratch::default();
        for data in &inputs {
            for level in 1..=9 {
                let mut out = Vec::new();
                encode(
                    &[data],
                    &[],
                    level,
                    true,
                    usize::MAX,
                    &mut scratch,
                    &mut out,
                );
                assert_eq!(
                    inflate(&out, data.len()),
                    *data,
                    "level {level} n {}",
                    data.len()
                );
            }
        }
    }

    #[test]
    fn primed_and_flushed_chunks_concatenate() {
        let mut data = smooth(100_000);
        data.extend(noise(30_000, 256, 4));
        data.extend(smooth(50_000));
        let mut scratch = Scratch::default();
        for level in [1, 6, 9] {
            let mut out = Vec::new();
            let cuts = [0, 1, 40_000, 40_001, 90_000, data.len()];
            for w in cuts.windows(2) {
                let from = w[0].saturating_sub(crate::deflate::WINDOW);
                let last = w[1] == data.len();
                encode(
                    &[&data[w[0]..w[1]]],
                    &data[from..w[0]],
                    level,
                    last,
                    usize::MAX,
                    &mut scratch,
                    &mut out,
                );
            }
            assert_eq!(inflate(&out, data.len()), data, "level {level}");
        }
    }

    #[test]
    fn search_limit_codes_the_rest_as_literals() {
        let mut data = b"header      padded      with      spaces".repeat(3);
        data.extend(noise(3000, 256, 6));
        data.extend(smooth(8000));
        let mut scratch = Scratch::default();
        let mut full = Vec::new();
        encode(&[&data], &[], 6, true, usize::MAX, &mut scratch, &mut full);
        for search in [0, 1, 50, 120, 3500, data.len()] {
            let mut out = Vec::new();
            encode(&[&data], &[], 6, true, search, &mut scratch, &mut out);
            assert_eq!(inflate(&out, data.len()), data, "search {search}");
            assert!(out.len() >= full.len(), "search {search}");
        }
    }

    #[test]
    fn size_is_close_to_zlib_level_6() {
        let mut data = smooth(200_000);
        data.extend(noise(20_000, 256, 5));
        let theirs = crate::deflate::zlib_rs_size(&data, 6, zlib_rs::Strategy::Default);
        let mut ours = Vec::new();
        encode(
            &[&data],
            &[],
            6,
            true,
            usize::MAX,
            &mut Scratch::default(),
            &mut ours,
        );
        assert!(
            (ours.len() as f64) < theirs as f64 * 1.01,
            "{} vs {theirs}",
            ours.len()
        );
    }
}
