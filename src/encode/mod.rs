//! Raw deflate of one chunk, so that chunks compressed independently
//! concatenate into one valid stream (the pigz scheme).
//!
//! Each chunk is primed with the 32 KiB that precede it as a preset
//! dictionary, so matches reach back across the chunk boundary as they would
//! in a serial stream. Every chunk but the last ends with a sync flush
//! (byte-aligned, no final bit); the last one finishes the stream.

use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Method, Status, Strategy};

/// Deflate's window: the most history a chunk can use from its predecessor.
pub const WINDOW: usize = 32 * 1024;

/// How a member's bytes are stored in the zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// ZIP_STORED (method 0), what `numpy.savez` writes.
    Stored,
    /// ZIP_DEFLATED (method 8) at a zlib level 0-9.
    Deflated(u8),
}

impl Compression {
    /// The zip method number.
    pub fn method(self) -> u16 {
        match self {
            Compression::Stored => 0,
            Compression::Deflated(_) => 8,
        }
    }
}

/// A failure inside the deflate engine (not reachable with valid settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateFailure(pub String);

impl std::fmt::Display for DeflateFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "deflate failed: {}", self.0)
    }
}

/// Whole members up to this size (header included) go to the own LZ77
/// encoder: below it, zlib-rs's per-stream setup costs more than the match
/// search, and the own encoder follows zlib's search rules, so its output is
/// about numpy's size.
const SMALL_MEMBER: usize = 64 * 1024;

/// Chunks at least this long are sampled to choose a strategy.
const ADAPT_MIN: usize = 256 * 1024;
/// Samples per chunk compressed both ways to make that choice, and their
/// length.
const SAMPLES: usize = 4;
const SAMPLE: usize = 16 * 1024;
/// Bytes scanned for repeated strings, in this many spread windows.
const SCAN: usize = 32 * 1024;
const SCAN_WINDOWS: usize = 4;
/// The literal-only encoder is chosen when its samples come out at most this
/// much larger (in thousandths) than the full match search's.
const HUFFMAN_SLACK_PERMILLE: usize = 3;

/// Shortest chunk worth scanning for repeats at all.
const MIN_SCAN: usize = 1024;
/// Below this share (in thousandths) of positions starting a 4-byte string
/// seen shortly before, match search is skipped without sampling.
const NO_MATCH_PERMILLE: usize = 2;

/// Start offsets of `count` windows of `len` bytes spread evenly over
/// `data` (one window at 0 when `data` is shorter than that).
fn spread(data: &[u8], count: usize, len: usize) -> impl Iterator<Item = usize> {
    let room = data.len().saturating_sub(len);
    let count = if room == 0 { 1 } else { count };
    (0..count).map(move |i| room * (2 * i + 1) / (2 * count))
}

/// Thousandths of positions in `data` whose 4-byte string was seen before,
/// by a direct-mapped table (misses some repeats, never invents one).
fn repeated_permille(data: &[u8]) -> usize {
    if data.len() < 4 {
        return 0;
    }
    let mut table = [0u32; 4096];
    let mut seen = [false; 4096];
    let mut repeats = 0usize;
    for w in data.windows(4) {
        let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        let h = (v.wrapping_mul(0x9E37_79B1) >> 20) as usize;
        if seen[h] && table[h] == v {
            repeats += 1;
        }
        table[h] = v;
        seen[h] = true;
    }
    repeats * 1000 / (data.len() - 3)
}

/// A reusable per-thread chunk compressor choosing an engine per chunk:
///
/// - whole members up to 64 KiB: the own LZ77 encoder (`lz77`), which has
///   none of zlib-rs's ~300 KiB per-stream setup;
/// - chunks where LZ77 matches find nothing (random mantissas, noise): the
///   literal-only encoder (`huffman`), ~10x faster than a match search that
///   buys nothing; a scan for repeated strings and, for large chunks,
///   samples compressed both ways decide;
/// - level 1: the own LZ77 encoder's zlib-style greedy search (zlib-rs's
///   level 1 uses the fixed code, larger than stored on float data);
/// - everything else: zlib-rs (state reset between chunks, not rebuilt).
pub struct ChunkEncoder {
    compression: Compression,
    state: Option<Deflate>,
    /// Output space for chunks, zeroed once and reused.
    out: OutBuf,
    /// A sample's encodings, to measure them.
    sample_bytes: Vec<u8>,
    /// Tables of the small-member encoder.
    lz77: crate::lz77::Scratch,
}

/// Raw deflate (no zlib wrapper), 32 KiB window, zlib's default memory.
fn config(level: i32, strategy: Strategy) -> DeflateConfig {
    DeflateConfig {
        level,
        method: Method::Deflated,
        window_bits: -15,
        mem_level: 8,
        strategy,
    }
}

fn new_state(level: i32) -> Deflate {
    Deflate::new_with_config(config(level, Strategy::Default))
}

/// A state ready for a new stream. A preset dictionary needs a brand-new
/// state: after `reset`, zlib-rs's `set_dictionary` still sees the previous
/// stream's hash chains, so output would depend on which chunk a thread
/// happened to compress before, and archives would vary with scheduling.
fn reset_or_new(slot: &mut Option<Deflate>, level: i32, fresh: bool) -> &mut Deflate {
    if fresh {
        *slot = None;
    }
    match slot {
        Some(s) => {
            s.reset();
            s
        }
        None => slot.insert(new_state(level)),
    }
}

impl ChunkEncoder {
    /// An encoder for one compression setting.
    pub fn new(compression: Compression) -> Self {
        ChunkEncoder {
            compression,
            state: None,
            sample_bytes: Vec::new(),
            out: OutBuf::default(),
            lz77: crate::lz77::Scratch::default(),
        }
    }

    /// Compressed size of `sample` with the match search `encode` would run
    /// at `level`, primed with `dict`.
    fn sample_size(
        &mut self,
        level: i32,
        dict: &[u8],
        sample: &[u8],
    ) -> Result<usize, DeflateFailure> {
        let mut bytes = std::mem::take(&mut self.sample_bytes);
        bytes.clear();
        let result = self.search(level, dict, &[sample], true, &mut bytes);
        let size = bytes.len();
        self.sample_bytes = bytes;
        result.map(|()| size)
    }

    /// Whether the match search is worth its time on this chunk.
    fn huffman_suffices(&mut self, level: i32, pieces: &[&[u8]]) -> Result<bool, DeflateFailure> {
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        let Some(body) = pieces.iter().max_by_key(|p| p.len()) else {
            return Ok(false);
        };
        if level < 1 || body.len() < MIN_SCAN {
            return Ok(false);
        }
        // Cheap test first: with almost no repeated 4-byte strings, LZ77
        // matches cannot cover more than that fraction of the bytes. The
        // windows are spread over the chunk, so a chunk that merely starts
        // with noise is not taken for noise.
        let quiet = spread(body, SCAN_WINDOWS, SCAN / SCAN_WINDOWS).all(|at| {
            repeated_permille(&body[at..(at + SCAN / SCAN_WINDOWS).min(body.len())])
                < NO_MATCH_PERMILLE
        });
        if quiet {
            return Ok(true);
        }
        if total < ADAPT_MIN || body.len() < WINDOW + SAMPLES * SAMPLE {
            return Ok(false);
        }
        // Several samples spread over the chunk, each primed with the 32 KiB
        // before it as the real chunk will be: one sample misjudges data
        // whose statistics vary across the chunk (an image's rows).
        let (mut full, mut literal) = (0, 0);
        for at in spread(&body[WINDOW..], SAMPLES, SAMPLE) {
            let at = at + WINDOW;
            let sample = &body[at..at + SAMPLE];
            full += self.sample_size(level, &body[at - WINDOW..at], sample)?;
            self.sample_bytes.clear();
            crate::huffman::encode(&[sample], true, &mut self.sample_bytes);
            literal += self.sample_bytes.len();
        }
        Ok(literal * 1000 <= full * (1000 + HUFFMAN_SLACK_PERMILLE))
    }

    /// Compress the concatenation of `pieces` as one chunk, appending to `out`.
    /// `dict` is the stream's history just before the chunk (empty for the
    /// first chunk); `last` finishes the stream.
    pub fn encode(
        &mut self,
        dict: &[u8],
        pieces: &[&[u8]],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), DeflateFailure> {
        let level = match self.compression {
            Compression::Stored => {
                for p in pieces {
                    out.extend_from_slice(p);
                }
                return Ok(());
            }
            Compression::Deflated(level) => i32::from(level),
        };
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        if level >= 1 && dict.is_empty() && last && total <= SMALL_MEMBER {
            // Noise after the `.npy` header: search the header only.
            let search = if self.huffman_suffices(level, pieces)? {
                total - pieces.last().map_or(0, |p| p.len())
            } else {
                usize::MAX
            };
            crate::lz77::encode(pieces, dict, level as u8, last, search, &mut self.lz77, out);
            return Ok(());
        }
        if self.huffman_suffices(level, pieces)? {
            crate::huffman::encode(pieces, last, out);
            return Ok(());
        }
        self.search(level, dict, pieces, last, out)
    }

    /// Compress with a match search: zlib's greedy rules at level 1 (zlib-rs's
    /// level 1 codes with the fixed Huffman code, which makes float data
    /// larger than stored), zlib-rs at levels 2-9.
    fn search(
        &mut self,
        level: i32,
        dict: &[u8],
        pieces: &[&[u8]],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), DeflateFailure> {
        if level == 1 {
            crate::lz77::encode(pieces, dict, 1, last, usize::MAX, &mut self.lz77, out);
            return Ok(());
        }
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        let state = reset_or_new(&mut self.state, level, !dict.is_empty());
        if !dict.is_empty() {
            let tail = &dict[dict.len().saturating_sub(WINDOW)..];
            state
                .set_dictionary(tail)
                .map_err(|e| DeflateFailure(e.as_str().to_owned()))?;
        }
        let buf = &mut self.out;
        buf.reset(zlib_rs::compress_bound(total) + 64);
        for piece in pieces {
            let mut rest = *piece;
            while !rest.is_empty() {
                let before = state.total_in();
                run(state, rest, buf, DeflateFlush::NoFlush)?;
                let used = (state.total_in() - before) as usize;
                rest = &rest[used..];
            }
        }
        let flush = if last {
            DeflateFlush::Finish
        } else {
            DeflateFlush::SyncFlush
        };
        loop {
            let status = run(state, &[], buf, flush)?;
            // A flush is complete once deflate returns with output space left
            // over (sync) or reports the end of the stream (finish).
            let done = if last {
                status == Status::StreamEnd
            } else {
                !buf.is_full()
            };
            if done {
                out.extend_from_slice(buf.bytes());
                return Ok(());
            }
        }
    }
}

/// Output space that is zero-filled once and then reused, so a deflate call
/// does not pay for initialising its spare room every time.
#[derive(Default)]
struct OutBuf {
    buf: Vec<u8>,
    pos: usize,
}

impl OutBuf {
    /// Empty, with room for at least `need` bytes.
    fn reset(&mut self, need: usize) {
        self.pos = 0;
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
    }

    /// Room after what was written, grown when nearly exhausted.
    fn spare(&mut self) -> &mut [u8] {
        if self.buf.len() - self.pos < 64 {
            let grown = self.buf.len() + 64 * 1024;
            self.buf.resize(grown, 0);
        }
        &mut self.buf[self.pos..]
    }

    fn is_full(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.pos]
    }
}

/// One deflate call into the spare room of `out`.
fn run(
    state: &mut Deflate,
    input: &[u8],
    out: &mut OutBuf,
    flush: DeflateFlush,
) -> Result<Status, DeflateFailure> {
    let before = state.total_out();
    let status = state.compress(input, out.spare(), flush);
    out.pos += (state.total_out() - before) as usize;
    status.map_err(|e| DeflateFailure(e.as_str().to_owned()))
}

/// CRC-32 of `piece` continuing from `crc`.
pub fn crc32(crc: u32, piece: &[u8]) -> u32 {
    zlib_rs::crc32::crc32(crc, piece)
}

/// CRC-32 of A‖B from CRC(A), CRC(B) and len(B).
pub fn crc32_combine(a: u32, b: u32, len_b: u64) -> u32 {
    zlib_rs::crc32::crc32_combine(a, b, len_b)
}

/// Test helper: the size of `data` compressed by zlib-rs in one stream.
#[cfg(test)]
pub(crate) fn zlib_rs_size(data: &[u8], level: i32, strategy: Strategy) -> usize {
    let mut z = Deflate::new_with_config(config(level, strategy));
    let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 64];
    let status = z.compress(data, &mut out, DeflateFlush::Finish).unwrap();
    assert_eq!(status, Status::StreamEnd);
    z.total_out() as usize
}

/// Test helper: inflate a complete raw deflate stream of `expect` bytes.
#[cfg(test)]
pub(crate) fn inflate_raw(data: &[u8], expect: usize) -> Vec<u8> {
    let mut inf = zlib_rs::Inflate::new(false, 15);
    let mut out = vec![0u8; expect + 1024];
    let status = inf
        .decompress(data, &mut out, zlib_rs::InflateFlush::Finish)
        .unwrap();
    assert_eq!(status, Status::StreamEnd);
    out.truncate(inf.total_out() as usize);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        // Compressible but not trivial: a slow ramp with a pseudo-random walk.
        let mut x: u32 = 12345;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((i / 7) as u8).wrapping_add((x >> 29) as u8)
            })
            .collect()
    }

    fn chunked(data: &[u8], chunk: usize, compression: Compression) -> Vec<u8> {
        let mut enc = ChunkEncoder::new(compression);
        let mut out = Vec::new();
        let starts: Vec<usize> = if data.is_empty() {
            vec![0]
        } else {
            (0..data.len()).step_by(chunk).collect()
        };
        for (k, &s) in starts.iter().enumerate() {
            let e = (s + chunk).min(data.len());
            let last = k + 1 == starts.len();
            enc.encode(
                &data[s.saturating_sub(WINDOW)..s],
                &[&data[s..e]],
                last,
                &mut out,
            )
            .unwrap();
        }
        out
    }

    #[test]
    fn chunks_concatenate_into_one_stream_around_boundaries() {
        let chunk = 64 * 1024;
        for n in [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk + 17] {
            let data = sample(n);
            for level in [0, 1, 6, 9] {
                let z = chunked(&data, chunk, Compression::Deflated(level));
                assert_eq!(inflate_raw(&z, n), data, "n={n} level={level}");
            }
        }
    }

    #[test]
    fn dictionary_keeps_chunked_size_close_to_serial() {
        let data = sample(1 << 20);
        let serial = chunked(&data, data.len(), Compression::Deflated(6));
        let split = chunked(&data, 128 * 1024, Compression::Deflated(6));
        assert!((split.len() as f64) < serial.len() as f64 * 1.01);
    }

    #[test]
    fn pieces_compress_as_their_concatenation() {
        let data = sample(100_000);
        let mut enc = ChunkEncoder::new(Compression::Deflated(6));
        let mut out = Vec::new();
        enc.encode(&[], &[&data[..10], &data[10..], &[]], true, &mut out)
            .unwrap();
        assert_eq!(inflate_raw(&out, data.len()), data);
    }

    #[test]
    fn noise_takes_the_huffman_path_without_growing() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        // Random mantissas under a few repeated exponent bytes, like f64 noise.
        let data: Vec<u8> = (0..600_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 8 == 7 {
                    0x3F
                } else {
                    x as u8
                }
            })
            .collect();
        let mut enc = ChunkEncoder::new(Compression::Deflated(6));
        assert!(enc.huffman_suffices(6, &[&data]).unwrap());
        let adaptive = chunked(&data, data.len(), Compression::Deflated(6));
        assert_eq!(inflate_raw(&adaptive, data.len()), data);
        let mut full = OutBuf::default();
        full.reset(zlib_rs::compress_bound(data.len()) + 64);
        let mut state = new_state(6);
        run(&mut state, &data, &mut full, DeflateFlush::Finish).unwrap();
        assert!(adaptive.len() * 1000 <= full.pos * 1005);
        // Data with long matches keeps the full search.
        let text: Vec<u8> = (0..600_000u32)
            .map(|i| b"the quick brown fox "[(i % 20) as usize] ^ ((i / 4096) as u8 & 1))
            .collect();
        assert!(!enc.huffman_suffices(6, &[&text]).unwrap());
    }

    #[test]
    fn output_does_not_depend_on_what_the_encoder_did_before() {
        let data = sample(400_000);
        let (a, b) = data.split_at(200_000);
        for level in [1, 2, 6, 9] {
            let c = Compression::Deflated(level);
            let mut fresh = Vec::new();
            ChunkEncoder::new(c)
                .encode(a, &[b], true, &mut fresh)
                .unwrap();
            let mut used = ChunkEncoder::new(c);
            used.encode(&[], &[a], true, &mut Vec::new()).unwrap();
            let mut again = Vec::new();
            used.encode(a, &[b], true, &mut again).unwrap();
            assert_eq!(fresh, again, "level {level}");
        }
    }

    #[test]
    fn crc_combine_matches_crc_of_concatenation() {
        let data = sample(300_000);
        for cut in [0, 1, 65_536, 299_999, 300_000] {
            let (a, b) = data.split_at(cut);
            let whole = crc32(0, &data);
            let joined = crc32_combine(crc32(0, a), crc32(0, b), b.len() as u64);
            assert_eq!(whole, joined);
        }
    }
}
