//! Huffman tools shared by the encoders written here: length-limited code
//! lengths, canonical codes, and the dynamic block header (RFC 1951, 3.2.7).

use super::bits::BitWriter;

pub(crate) const MAX_BITS: u8 = 15;
/// The largest alphabet coded: deflate's literal/length codes.
const MAX_SYMBOLS: usize = 288;
const MAX_BL_BITS: u8 = 7;
/// Order in which code-length code lengths are sent.
const BL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

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
        // The lighter of the next leaf and the next inner node, twice; a
        // plain function keeps `leaf` and `node` in registers, where a
        // closure borrowing them kept them in memory (a third of the time
        // of literal coding a 4 KiB member, by perf).
        let a = lighter(&weight, n, next, &mut leaf, &mut node);
        let b = lighter(&weight, n, next, &mut leaf, &mut node);
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

/// Take the lighter of the next unused leaf (`leaf` < `n`) and the next
/// unused inner node (`node` < `next`), ties to the leaf.
#[inline(always)]
fn lighter(weight: &[u64], n: usize, next: usize, leaf: &mut usize, node: &mut usize) -> usize {
    if *leaf < n && (*node >= next || weight[*leaf] <= weight[*node]) {
        *leaf += 1;
        *leaf - 1
    } else {
        *node += 1;
        *node - 1
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
fn run_length(lengths: &[u8], out: &mut Vec<(u8, u8)>) {
    out.clear();
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

/// The code-length table that opens a dynamic block: both codes' lengths,
/// run-length coded, under a code of their own.
pub(crate) struct DynamicHeader {
    hlit: usize,
    hdist: usize,
    rle: Vec<(u8, u8)>,
    bl_len: [u8; 19],
    bl_code: [u16; 19],
    hclen: usize,
}

impl DynamicHeader {
    /// The header for literal/length lengths `lit_len` (at least 257 are
    /// sent) and distance lengths `dist_len` (at least 1).
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
        let mut all = [0u8; 320];
        let lit = hlit.min(lit_len.len());
        all[..lit].copy_from_slice(&lit_len[..lit]);
        let dist = hdist.min(dist_len.len());
        all[hlit..hlit + dist].copy_from_slice(&dist_len[..dist]);
        let mut rle = Vec::with_capacity(64);
        run_length(&all[..hlit + hdist], &mut rle);
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

    /// Write the block header (BFINAL, BTYPE 10) and the table.
    pub(crate) fn write(&self, bits: &mut BitWriter<'_>, last: bool) {
        bits.put(u32::from(last), 1);
        bits.put(2, 2);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_limited_and_complete() {
        // Fibonacci counts push an unlimited Huffman code far past 15 bits.
        let mut freqs = [0u32; 40];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freqs.iter_mut() {
            *f = a;
            (a, b) = (b, a.saturating_add(b));
        }
        let mut lengths = [0u8; 40];
        code_lengths(&freqs, MAX_BITS, &mut lengths);
        assert!(lengths.iter().all(|&l| (1..=MAX_BITS).contains(&l)));
        let kraft: f64 = lengths.iter().map(|&l| 0.5f64.powi(i32::from(l))).sum();
        assert!((kraft - 1.0).abs() < 1e-12, "kraft sum {kraft}");
    }

    #[test]
    fn a_single_used_symbol_still_gets_a_complete_code() {
        let mut freqs = [0u32; 10];
        freqs[3] = 100;
        let mut lengths = [0u8; 10];
        code_lengths(&freqs, MAX_BITS, &mut lengths);
        assert_eq!(lengths.iter().filter(|&&l| l == 1).count(), 2);
        assert_eq!(lengths[3], 1);
    }
}
