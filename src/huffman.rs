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
const MAX_BITS: u8 = 15;
const MAX_BL_BITS: u8 = 7;
/// Order in which code-length code lengths are sent (RFC 1951, 3.2.7).
const BL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// LSB-first bit writer into a byte vector.
struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl<'a> Bits<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Bits { out, acc: 0, n: 0 }
    }

    #[inline]
    fn put(&mut self, value: u32, bits: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += bits;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Pad with zero bits to a byte boundary and flush.
    fn align(&mut self) {
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
fn code_lengths(freqs: &[u32], limit: u8, lengths: &mut [u8]) {
    lengths.iter_mut().for_each(|l| *l = 0);
    let mut symbols: Vec<(u32, usize)> = freqs
        .iter()
        .enumerate()
        .filter(|(_, &f)| f > 0)
        .map(|(s, &f)| (f, s))
        .collect();
    for (pad, &f) in freqs.iter().enumerate() {
        if symbols.len() >= 2 {
            break;
        }
        if f == 0 {
            symbols.push((1, pad));
        }
    }
    symbols.sort_unstable();
    let n = symbols.len();
    // Huffman tree over the sorted leaves (two-queue method): depths of
    // leaves, then clamp to `limit` and repair the Kraft sum (as miniz does).
    let mut parent = vec![0usize; 2 * n];
    let mut weight: Vec<u64> = symbols.iter().map(|&(f, _)| u64::from(f)).collect();
    weight.resize(2 * n, 0);
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
        parent[a] = next;
        parent[b] = next;
    }
    let root = 2 * n - 2;
    let mut depth = vec![0u32; 2 * n];
    for i in (0..root).rev() {
        depth[i] = depth[parent[i]] + 1;
    }
    let mut count = [0u32; 33];
    for &d in &depth[..n] {
        count[d.min(32) as usize] += 1;
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
            lengths[symbols[i].1] = d as u8;
            i += 1;
        }
    }
}

/// Canonical codes for `lengths`, bit-reversed for LSB-first output.
fn codes(lengths: &[u8], codes: &mut [u16]) {
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
    let dist_len = [1u8, 1u8];
    let mut all = lit_len.to_vec();
    all.extend_from_slice(&dist_len);
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

    bits.put(u32::from(last), 1);
    bits.put(2, 2); // dynamic Huffman
    bits.put((LITERALS - 257) as u32, 5);
    bits.put((dist_len.len() - 1) as u32, 5);
    bits.put((hclen - 4) as u32, 4);
    for &s in &BL_ORDER[..hclen] {
        bits.put(u32::from(bl_len[s]), 3);
    }
    for &(s, extra) in &rle {
        let s = usize::from(s);
        bits.put(u32::from(bl_code[s]), u32::from(bl_len[s]));
        match s {
            16 => bits.put(u32::from(extra), 2),
            17 => bits.put(u32::from(extra), 3),
            18 => bits.put(u32::from(extra), 7),
            _ => {}
        }
    }
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
        bits.put(0, 3);
        bits.align();
        bits.out.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
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
        let mut z = zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
            level: 6,
            method: zlib_rs::Method::Deflated,
            window_bits: -15,
            mem_level: 8,
            strategy: zlib_rs::Strategy::HuffmanOnly,
        });
        let mut theirs = vec![0u8; data.len() * 2];
        z.compress(&data, &mut theirs, zlib_rs::DeflateFlush::Finish)
            .unwrap();
        let theirs = z.total_out() as usize;
        assert!(
            ours.len() as f64 <= theirs as f64 * 1.002,
            "{} vs {theirs}",
            ours.len()
        );
    }
}
