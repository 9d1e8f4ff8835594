//! Literal-only deflate: dynamic Huffman blocks with no LZ77 matches.
//!
//! For data where match search finds nothing (random mantissas, sensor
//! noise), deflate's gain is all in the Huffman coding of byte values. This
//! encoder histograms a block, builds one length-limited code and writes it,
//! several times faster than a match search that would find nothing, at the
//! same size. The output is standard deflate any inflater reads.

use super::bits::BitWriter;
use super::huffman::{code_lengths, codes, DynamicHeader, MAX_BITS};

/// Bytes per block: large enough that the ~100-byte table header is noise,
/// small enough for the code to follow drifting byte statistics.
const BLOCK: usize = 64 * 1024;
/// The finer split tried within each block.
const SUB_BLOCK: usize = 16 * 1024;
const END_OF_BLOCK: usize = 256;
/// Literal/length alphabet used: 256 literals and end-of-block.
const LITERALS: usize = 257;

/// Byte counts of `data`.
pub(crate) fn histogram(data: &[u8]) -> [u32; 256] {
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
pub(crate) fn block_cost(h: &[u32; 256]) -> f64 {
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
fn block(bits: &mut BitWriter<'_>, data: &[u8], hist: &[u32; 256], last: bool) {
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
    let mut table = [0u32; 256];
    for (t, (&code, &len)) in table.iter_mut().zip(lit_code.iter().zip(&lit_len)) {
        *t = u32::from(code) | u32::from(len) << 16;
    }
    bits.put_coded(data, &table);
    bits.put(
        u32::from(lit_code[END_OF_BLOCK]),
        u32::from(lit_len[END_OF_BLOCK]),
    );
}

/// Append `data` to `out` as literal-only deflate blocks. With `last`, the
/// final block ends the stream; otherwise the output ends with the
/// sync-flush marker, byte-aligned, so the next chunk's blocks can follow.
pub fn encode(data: &[u8], last: bool, out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 8 + 256);
    let mut bits = BitWriter::new(out);
    let mut spans = data.chunks(BLOCK).peekable();
    if spans.peek().is_none() {
        block(&mut bits, &[], &[0; 256], last);
    }
    while let Some(span) = spans.next() {
        let final_span = last && spans.peek().is_none();
        // One block, or four when the statistics drift enough (images,
        // gradients) that four tables beat one.
        let mut parts = [[0u32; 256]; BLOCK / SUB_BLOCK];
        let mut whole = [0u32; 256];
        let count = span.len().div_ceil(SUB_BLOCK);
        for (h, piece) in parts.iter_mut().zip(span.chunks(SUB_BLOCK)) {
            *h = histogram(piece);
            for (w, f) in whole.iter_mut().zip(h.iter()) {
                *w += f;
            }
        }
        // One piece (a span of 16 KiB or less) has nothing to split.
        if count > 1 && parts[..count].iter().map(block_cost).sum::<f64>() < block_cost(&whole) {
            for (i, (h, piece)) in parts.iter().zip(span.chunks(SUB_BLOCK)).enumerate() {
                block(&mut bits, piece, h, final_span && i + 1 == count);
            }
        } else {
            block(&mut bits, span, &whole, final_span);
        }
    }
    if last {
        bits.align();
    } else {
        bits.sync_flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{inflate_raw, noise};

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
            encode(&data, true, &mut out);
            assert_eq!(inflate_raw(&out, n), data, "n={n} spread={spread}");
        }
    }

    #[test]
    fn skewed_frequencies_respect_the_length_limit() {
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
        encode(&data, true, &mut out);
        assert_eq!(inflate_raw(&out, data.len()), data);
    }

    #[test]
    fn sync_flushed_chunks_concatenate() {
        let data = noise(300_000, 200);
        let mut out = Vec::new();
        encode(&data[..100_000], false, &mut out);
        assert!(out.ends_with(&crate::encode::bits::SYNC_MARKER));
        encode(&data[100_000..], true, &mut out);
        assert_eq!(inflate_raw(&out, data.len()), data);
    }

    #[test]
    fn size_matches_zlib_huffman_only() {
        let data: Vec<u8> = noise(1 << 20, 256)
            .iter()
            .enumerate()
            .map(|(i, &b)| if i % 8 >= 6 { b % 7 } else { b })
            .collect();
        let mut ours = Vec::new();
        encode(&data, true, &mut ours);
        let theirs = crate::encode::testing::zlib_rs_size(&data, zlib_rs::Strategy::HuffmanOnly);
        assert!(
            ours.len() as f64 <= theirs as f64 * 1.002,
            "{} vs {theirs}",
            ours.len()
        );
    }
}
