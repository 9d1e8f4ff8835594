//! Literal-only deflate: dynamic Huffman blocks with no LZ77 matches.
//!
//! For data where match search finds nothing (random mantissas, sensor
//! noise), deflate's gain is all in the Huffman coding of byte values. zlib's
//! Huffman-only mode still runs its general machinery per byte and resets
//! large tables per stream; this encoder histograms a block, builds one
//! length-limited code and writes it, several times faster, with the same
//! output size. The output is standard deflate any inflater reads.

/// Bytes per block: large enough that the ~100-byte table header is noise,
/// small enough for the code to follow drifting byte statistics.
const BLOCK: usize = 64 * 1024;
/// The finer split tried within each block.
const SUB_BLOCK: usize = 16 * 1024;
const END_OF_BLOCK: usize = 256;
/// Literal/length alphabet used: 256 literals and end-of-block.
const LITERALS: usize = 257;
pub(crate) const MAX_BITS: u8 = 15;
/// The largest alphabet coded: deflate's literal/length codes.
const MAX_SYMBOLS: usize = 288;
const MAX_BL_BITS: u8 = 7;
/// Order in which code-length code lengths are sent (RFC 1951, 3.2.7).
const BL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// LSB-first bit writer into a byte vector.
pub(crate) struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl<'a> Bits<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Bits { out, acc: 0, n: 0 }
    }

    #[inline]
    pub(crate) fn put(&mut self, value: u32, bits: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += bits;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// End a chunk that is not the stream's last: an empty stored block
    /// (BFINAL 0, BTYPE 00, LEN 0, NLEN !0) leaves the output byte-aligned.
    pub(crate) fn sync_flush(&mut self) {
        self.put(0, 3);
        self.align();
        self.out.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
    }

    /// Raw bytes, after `align`.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Pad with zero bits to a byte boundary and flush.
    pub(crate) fn align(&mut self) {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
        self.acc = 0;
    }
}

/// Code lengths for `freqs`, no longer than `limit` bits; symbols with zero
/// frequency get length 0. At least two symbols get a code, so every code is
/// complete (some inflaters reject a one-symbol code).
pub(crate) fn code_lengths(freqs: &[u32], limit: u8, lengths: &mut [u8]) {
    lengths.iter_mut().for_each(|l| *l = 0);
    // (frequency << 16 | symbol): one integer sort orders by frequency, ties
    // by symbol, without a comparison closure.
    let mut symbols = [0u64; MAX_SYMBOLS];
    let mut n = 0;
    for (s, &f) in freqs.iter().enumerate().take(MAX_SYMBOLS) {
        if f > 0 {
            symbols[n] = u64::from(f) << 16 | s as u64;
            n += 1;
        }
    }
    for (pad, &f) in freqs.iter().enumerate() {
        if n >= 2 {
            break;
        }
        if f == 0 {
            symbols[n] = 1 << 16 | pad as u64;
            n += 1;
        }
    }
    let symbols = radix_sort(&mut symbols[..n]);
    // Huffman tree over the sorted leaves (two-queue method): depths of
    // leaves, then clamp to `limit` and repair the Kraft sum (as miniz does).
    let mut parent = [0u16; 2 * MAX_SYMBOLS];
    let mut weight = [0u64; 2 * MAX_SYMBOLS];
    for (w, &key) in weight.iter_mut().zip(symbols.iter()) {
        *w = key >> 16;
    }
    let (mut leaf, mut node) = (0usize, n);
    for next in n..2 * n - 1 {
        let mut pick = || {
            if leaf < n && (node >= next || weight[leaf] <= weight[node]) {
                leaf += 1;
                leaf - 1
            } else {
                node += 1;
                node - 1
            }
        };
        let a = pick();
        let b = pick();
        weight[next] = weight[a] + weight[b];
        parent[a] = next as u16;
        parent[b] = next as u16;
    }
    let root = 2 * n - 2;
    // Depths in place of parents: a parent is always numbered after its
    // children, so walking down from the root sees each parent's depth first.
    let depth = &mut parent;
    depth[root] = 0;
    for i in (0..root).rev() {
        depth[i] = depth[usize::from(depth[i])] + 1;
    }
    let mut count = [0u32; 33];
    for &d in &depth[..n] {
        count[usize::from(d.min(32))] += 1;
    }
    let limit = usize::from(limit);
    for d in limit + 1..33 {
        count[limit] += count[d];
        count[d] = 0;
    }
    let mut kraft: u64 = (1..=limit)
        .map(|d| u64::from(count[d]) << (limit - d))
        .sum();
    while kraft > 1 << limit {
        count[limit] -= 1;
        for d in (1..limit).rev() {
            if count[d] > 0 {
                count[d] -= 1;
                count[d + 1] += 2;
                break;
            }
        }
        kraft -= 1;
    }
    // Longest codes to the rarest symbols (`symbols` is sorted ascending).
    let mut i = 0;
    for d in (1..=limit).rev() {
        for _ in 0..count[d] {
            lengths[(symbols[i] & 0xFFFF) as usize] = d as u8;
            i += 1;
        }
    }
}

/// Sort (frequency << 16 | symbol) keys ascending, a byte of frequency per
/// pass (stable, so ties stay in symbol order): a few hundred keys sort
/// several times faster this way than by comparisons.
fn radix_sort(keys: &mut [u64]) -> &[u64] {
    let mut other = [0u64; MAX_SYMBOLS];
    let max = keys.iter().map(|k| k >> 16).max().unwrap_or(0);
    let passes = (u64::BITS - max.leading_zeros()).div_ceil(8);
    let n = keys.len();
    for pass in 0..passes {
        let shift = 16 + 8 * pass;
        let mut start = [0usize; 257];
        for &k in keys.iter() {
            start[((k >> shift) & 0xFF) as usize + 1] += 1;
        }
        for b in 0..256 {
            start[b + 1] += start[b];
        }
        for &k in keys.iter() {
            let b = ((k >> shift) & 0xFF) as usize;
            other[start[b]] = k;
            start[b] += 1;
        }
        keys.copy_from_slice(&other[..n]);
    }
    keys
}

/// Canonical codes for `lengths`, bit-reversed for LSB-first output.
pub(crate) fn codes(lengths: &[u8], codes: &mut [u16]) {
    let mut bl_count = [0u16; 16];
    for &l in lengths {
        bl_count[usize::from(l)] += 1;
    }
    bl_count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for bits in 1..16 {
        code = (code + bl_count[bits - 1]) << 1;
        next[bits] = code;
    }
    for (s, &l) in lengths.iter().enumerate() {
        if l > 0 {
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            codes[s] = c.reverse_bits() >> (16 - u16::from(l));
        }
    }
}

/// The code-length sequence as (symbol, extra value) pairs, with runs
/// coded by symbols 16 (repeat previous), 17 and 18 (runs of zeros).
fn run_length(lengths: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::with_capacity(lengths.len());
    let mut i = 0;
    while i < lengths.len() {
        let l = lengths[i];
        let mut run = 1;
        while i + run < lengths.len() && lengths[i + run] == l {
            run += 1;
        }
        i += run;
        if l == 0 {
            while run >= 11 {
                let r = run.min(138);
                out.push((18, (r - 11) as u8));
                run -= r;
            }
            if run >= 3 {
                out.push((17, (run - 3) as u8));
                run = 0;
            }
        } else {
            out.push((l, 0));
            run -= 1;
            while run >= 3 {
                let r = run.min(6);
                out.push((16, (r - 3) as u8));
                run -= r;
            }
        }
        for _ in 0..run {
            out.push((l, 0));
        }
    }
    out
}

/// Byte counts of `data`.
fn histogram(data: &[u8]) -> [u32; 256] {
    // Four interleaved histograms break the store-to-load dependency on
    // repeated byte values.
    let mut h = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        h[0][usize::from(q[0])] += 1;
        h[1][usize::from(q[1])] += 1;
        h[2][usize::from(q[2])] += 1;
        h[3][usize::from(q[3])] += 1;
    }
    for &b in quads.remainder() {
        h[0][usize::from(b)] += 1;
    }
    let mut out = [0u32; 256];
    for (s, f) in out.iter_mut().enumerate() {
        *f = h[0][s] + h[1][s] + h[2][s] + h[3][s];
    }
    out
}

/// Estimated size in bits of one block coding bytes with counts `h`: the
/// entropy of the data plus a rough cost for the code table.
fn block_cost(h: &[u32; 256]) -> f64 {
    let n: u32 = h.iter().sum();
    if n == 0 {
        return 64.0;
    }
    let n = f64::from(n);
    let mut bits = 200.0;
    for &f in h.iter().filter(|&&f| f > 0) {
        let f = f64::from(f);
        bits += f * (n / f).log2() + 4.0;
    }
    bits
}

/// The code-length table that opens a dynamic block (RFC 1951, 3.2.7): both
/// codes' lengths, run-length coded, under a code of their own.
pub(crate) struct DynamicHeader {
    /// Literal/length code lengths then distance code lengths, trimmed.
    hlit: usize,
    hdist: usize,
    rle: Vec<(u8, u8)>,
    bl_len: [u8; 19],
    bl_code: [u16; 19],
    hclen: usize,
}

impl DynamicHeader {
    /// The header for literal/length lengths `lit_len` (at least 257) and
    /// distance lengths `dist_len` (at least 1).
    pub(crate) fn new(lit_len: &[u8], dist_len: &[u8]) -> Self {
        let hlit = lit_len
            .iter()
            .rposition(|&l| l != 0)
            .map_or(0, |p| p + 1)
            .max(257);
        let hdist = dist_len
            .iter()
            .rposition(|&l| l != 0)
            .map_or(0, |p| p + 1)
            .max(1);
        let mut all = Vec::with_capacity(hlit + hdist);
        all.extend_from_slice(&lit_len[..hlit.min(lit_len.len())]);
        all.resize(hlit, 0);
        all.extend_from_slice(&dist_len[..hdist.min(dist_len.len())]);
        all.resize(hlit + hdist, 0);
        let rle = run_length(&all);
        let mut bl_freqs = [0u32; 19];
        for &(s, _) in &rle {
            bl_freqs[usize::from(s)] += 1;
        }
        let mut bl_len = [0u8; 19];
        code_lengths(&bl_freqs, MAX_BL_BITS, &mut bl_len);
        let mut bl_code = [0u16; 19];
        codes(&bl_len, &mut bl_code);
        let hclen = BL_ORDER
            .iter()
            .rposition(|&s| bl_len[s] != 0)
            .map_or(4, |p| (p + 1).max(4));
        DynamicHeader {
            hlit,
            hdist,
            rle,
            bl_len,
            bl_code,
            hclen,
        }
    }

    /// Size in bits, block type bits included.
    pub(crate) fn bits(&self) -> u64 {
        let table: u64 = self
            .rle
            .iter()
            .map(|&(s, _)| u64::from(self.bl_len[usize::from(s)]) + u64::from(rle_extra_bits(s)))
            .sum();
        3 + 5 + 5 + 4 + 3 * self.hclen as u64 + table
    }

    /// Write the block header (BFINAL, BTYPE 10) and the table.
    pub(crate) fn write(&self, bits: &mut Bits<'_>, last: bool) {
        bits.put(u32::from(last), 1);
        bits.put(2, 2); // dynamic Huffman
        bits.put((self.hlit - 257) as u32, 5);
        bits.put((self.hdist - 1) as u32, 5);
        bits.put((self.hclen - 4) as u32, 4);
        for &s in &BL_ORDER[..self.hclen] {
            bits.put(u32::from(self.bl_len[s]), 3);
        }
        for &(s, extra) in &self.rle {
            let s = usize::from(s);
            bits.put(u32::from(self.bl_code[s]), u32::from(self.bl_len[s]));
            bits.put(u32::from(extra), rle_extra_bits(s as u8));
        }
    }
}

/// Extra bits after code-length symbol `s`.
fn rle_extra_bits(s: u8) -> u32 {
    match s {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// Write one dynamic block holding `data` (with byte counts `hist`) as
/// literals.
fn block(bits: &mut Bits<'_>, data: &[u8], hist: &[u32; 256], last: bool) {
    let mut freqs = [0u32; LITERALS];
    freqs[..256].copy_from_slice(hist);
    freqs[END_OF_BLOCK] = 1;
    let mut lit_len = [0u8; LITERALS];
    code_lengths(&freqs, MAX_BITS, &mut lit_len);
    let mut lit_code = [0u16; LITERALS];
    codes(&lit_len, &mut lit_code);
    // Two one-bit distance codes: never used, but a complete code keeps
    // every inflater happy (zlib does the same for literal-only blocks).
    DynamicHeader::new(&lit_len, &[1, 1]).write(bits, last);
    for &b in data {
        let b = usize::from(b);
        bits.put(u32::from(lit_code[b]), u32::from(lit_len[b]));
    }
    bits.put(
        u32::from(lit_code[END_OF_BLOCK]),
        u32::from(lit_len[END_OF_BLOCK]),
    );
}

/// Append the concatenation of `pieces` to `out` as literal-only deflate
/// blocks. With `last`, the final block ends the stream; otherwise the
/// output ends with a sync-flush marker (empty stored block), byte-aligned,
/// so the next chunk's blocks can follow directly.
pub fn encode(pieces: &[&[u8]], last: bool, out: &mut Vec<u8>) {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    out.reserve(total + total / 8 + 256);
    let joined;
    let data: &[u8] = match pieces {
        [one] => one,
        _ => {
            joined = pieces.concat();
            &joined
        }
    };
    let mut bits = Bits::new(out);
    // Each span is one block, or four when its statistics drift enough
    // (images, gradients) that four tables beat one.
    let mut blocks: Vec<(&[u8], [u32; 256])> = Vec::new();
    for span in data.chunks(BLOCK) {
        let parts: Vec<(&[u8], [u32; 256])> =
            span.chunks(SUB_BLOCK).map(|p| (p, histogram(p))).collect();
        let mut whole = [0u32; 256];
        for (_, h) in &parts {
            for (w, f) in whole.iter_mut().zip(h) {
                *w += f;
            }
        }
        let split: f64 = parts.iter().map(|(_, h)| block_cost(h)).sum();
        if parts.len() > 1 && split < block_cost(&whole) {
            blocks.extend(parts);
        } else {
            blocks.push((span, whole));
        }
    }
    if blocks.is_empty() {
        blocks.push((data, [0u32; 256]));
    }
    let n = blocks.len();
    for (i, (b, h)) in blocks.iter().enumerate() {
        block(&mut bits, b, h, last && i + 1 == n);
    }
    if !last {
        // Empty stored block: BFINAL 0, BTYPE 00, align, LEN 0, NLEN !0.
        bits.sync_flush();
    } else {
        bits.align();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::inflate_raw as inflate;

    fn noise(n: usize, spread: u32) -> Vec<u8> {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 20) as u32 % spread) as u8
            })
            .collect()
    }

    #[test]
    fn round_trips_any_distribution_and_size() {
        for (n, spread) in [
            (0, 256),
            (1, 256),
            (5, 1),
            (1000, 2),
            (70_000, 256),
            (200_000, 17),
            (3, 3),
        ] {
            let data = noise(n, spread);
            let mut out = Vec::new();
            encode(&[&data], true, &mut out);
            assert_eq!(inflate(&out, n), data, "n={n} spread={spread}");
        }
    }

    #[test]
    fn skewed_frequencies_respect_the_length_limit() {
        // Fibonacci-like counts force a naive Huffman code past 15 bits.
        let mut data = Vec::new();
        let (mut a, mut b) = (1usize, 1usize);
        for s in 0..30u8 {
            data.extend(std::iter::repeat_n(s, a));
            (a, b) = (b, a + b);
            if a > 400_000 {
                break;
            }
        }
        let mut out = Vec::new();
        encode(&[&data], true, &mut out);
        assert_eq!(inflate(&out, data.len()), data);
    }

    #[test]
    fn sync_flushed_chunks_concatenate() {
        let data = noise(300_000, 200);
        let mut out = Vec::new();
        encode(&[&data[..1], &data[1..100_000]], false, &mut out);
        encode(&[&data[100_000..]], true, &mut out);
        assert_eq!(inflate(&out, data.len()), data);
    }

    #[test]
    fn size_matches_zlib_huffman_only() {
        let data: Vec<u8> = noise(1 << 20, 256)
            .iter()
            .enumerate()
            .map(|(i, &b)| if i % 8 >= 6 { b % 7 } else { b })
            .collect();
        let mut ours = Vec::new();
        encode(&[&data], true, &mut ours);
        let theirs = crate::deflate::zlib_rs_size(&data, 6, zlib_rs::Strategy::HuffmanOnly);
        assert!(
            ours.len() as f64 <= theirs as f64 * 1.002,
            "{} vs {theirs}",
            ours.len()
        );
    }
}
