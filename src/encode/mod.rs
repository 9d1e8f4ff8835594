//! Raw deflate of one chunk, so that chunks compressed independently, on any
//! thread, concatenate into one valid stream.
//!
//! Every chunk starts a fresh stream state (no preset dictionary: measured,
//! independent 4 MiB chunks cost at most 0.23% against one serial stream)
//! and, unless it is its member's last, ends with a non-final block and a
//! sync flush: an empty stored block, byte-aligned, ending in
//! `00 00 FF FF`. A reader can therefore find the chunk boundaries and
//! inflate the chunks in parallel.
//!
//! The engines, one file each: `libdeflate` (match search, levels 1-9),
//! `literal` (Huffman coding only, for noise), `stored` (level 0) and
//! `zlib` (numpy's compressor: the reference size, and the fallback for
//! data no faster engine compresses as well).
//! `policy` picks one; `bits` and `huffman` are the toolkit the two
//! encoders written here share.

pub mod bits;
mod huffman;
pub mod libdeflate;
pub mod literal;
pub mod policy;
pub mod stored;
#[cfg(test)]
pub(crate) mod testing;
pub mod zlib;

use libdeflate::Compressor;
pub use policy::{Choice, Effort, Probe};
use zlib::Zlib;

/// zlib's default level, and numpy's: at this level fastnpz aims at
/// numpy's size in the least time (see `policy`).
pub const DEFAULT_LEVEL: u8 = 6;

/// How a member's bytes are stored in the zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// ZIP_STORED (method 0), what `numpy.savez` writes.
    Stored,
    /// ZIP_DEFLATED (method 8) at a level 0-9.
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

/// A failure inside an engine (allocation, or an internal bound broken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The engine reported this.
    Engine(&'static str),
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::Engine(m) => write!(f, "deflate failed: {m}"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// What a member's choice takes: nothing more, or measuring these sample
/// windows (stream offset, length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Known without looking at the data.
    Decided(Choice),
    /// Measure these windows (see `policy::Ladder`).
    Sample(Vec<(u64, usize)>),
}

/// A member's sample windows (stream offset, length, as `Plan::Sample`
/// lists them), each read into its own buffer by `read(offset, buf)`.
pub fn read_samples<E>(
    windows: &[(u64, usize)],
    mut read: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
) -> Result<Vec<Vec<u8>>, E> {
    windows
        .iter()
        .map(|&(at, len)| {
            let mut buf = vec![0; len];
            read(at, &mut buf)?;
            Ok(buf)
        })
        .collect()
}

/// A reusable per-thread chunk compressor: it owns one libdeflate
/// compressor per level it has used, and scratch space for samples.
pub struct ChunkEncoder {
    compression: Compression,
    /// libdeflate compressors by effort (a handful at most).
    compressors: Vec<(Effort, Compressor)>,
    zlib: Option<Zlib>,
    sample_out: Vec<u8>,
}

impl ChunkEncoder {
    /// An encoder for one compression setting.
    pub fn new(compression: Compression) -> Self {
        ChunkEncoder {
            compression,
            compressors: Vec::new(),
            zlib: None,
            sample_out: Vec::new(),
        }
    }

    fn zlib(&mut self) -> Result<&mut Zlib, EncodeError> {
        if self.zlib.is_none() {
            self.zlib = Some(Zlib::new()?);
        }
        self.zlib
            .as_mut()
            .ok_or(EncodeError::Engine("zlib state missing"))
    }

    /// A libdeflate compressor set to `effort`.
    fn compressor(&mut self, effort: Effort) -> Result<&mut Compressor, EncodeError> {
        let at = match self.compressors.iter().position(|(e, _)| *e == effort) {
            Some(at) => at,
            None => {
                let mut c = Compressor::new(effort.level)?;
                c.set_shortest_matches(effort.shortest);
                if effort.depth > 0 {
                    c.set_search_effort(effort.depth, effort.nice);
                }
                self.compressors.push((effort, c));
                self.compressors.len() - 1
            }
        };
        Ok(&mut self.compressors[at].1)
    }

    /// What deciding how to compress a member of `stream_len` stream bytes
    /// takes: nothing, or measuring the `policy::windows` it lists.
    pub fn plan(&self, stream_len: u64) -> Plan {
        match self.compression {
            Compression::Stored | Compression::Deflated(0) => Plan::Decided(Choice::Literal),
            Compression::Deflated(level) if level != DEFAULT_LEVEL => {
                Plan::Decided(Choice::Deflate(Effort::level(level)))
            }
            Compression::Deflated(_) => {
                let windows: Vec<_> = policy::windows(stream_len).collect();
                if windows.is_empty() {
                    Plan::Decided(Choice::Small)
                } else {
                    Plan::Sample(windows)
                }
            }
        }
    }

    /// A probe's size: its sample window compressed as its choice says.
    pub fn measure(&mut self, probe: Probe, samples: &[Vec<u8>]) -> Result<u64, EncodeError> {
        let window = samples
            .get(probe.window)
            .ok_or(EncodeError::Engine("probe outside the samples"))?;
        let mut out = std::mem::take(&mut self.sample_out);
        out.clear();
        let r = self.encode_as(probe.choice, window, true, &mut out);
        let size = out.len() as u64;
        self.sample_out = out;
        r.map(|()| size)
    }

    /// How to compress a member whose stream (header and data) is
    /// `stream_len` bytes long, decided on this thread alone (the archive
    /// writer shares the measuring between threads; the result is the
    /// same). `read(offset, buf)` fills `buf` with stream bytes from
    /// `offset`; `E` is its error.
    pub fn choose<E: From<EncodeError>>(
        &mut self,
        stream_len: u64,
        mut read: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
    ) -> Result<Choice, E> {
        let windows = match self.plan(stream_len) {
            Plan::Decided(choice) => return Ok(choice),
            Plan::Sample(windows) => windows,
        };
        let samples = read_samples(&windows, &mut read)?;
        if policy::all_noise(&samples) {
            return Ok(Choice::Literal);
        }
        Ok(policy::Ladder::for_samples(&samples).settle(|probe| self.measure(probe, &samples))?)
    }

    /// Append `data`, compressed as one chunk, to `out`: noise as literals,
    /// anything else as `choice` says. `last` ends the member's stream;
    /// otherwise the output ends with the sync-flush marker.
    pub fn encode(
        &mut self,
        choice: Choice,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match self.compression {
            Compression::Stored => {
                out.extend_from_slice(data);
                Ok(())
            }
            Compression::Deflated(0) => {
                stored::encode(data, last, out);
                Ok(())
            }
            Compression::Deflated(_) => {
                // A member's choice holds for its chunks, except that a
                // chunk of pure noise inside structured data is not worth
                // a match search.
                let choice = match choice {
                    Choice::Deflate(_) | Choice::Small if policy::is_noise(data) => Choice::Literal,
                    other => other,
                };
                self.encode_as(choice, data, last, out)
            }
        }
    }

    /// Append `data` compressed exactly as `choice` says (no switch to
    /// literals for noise): what sampling measures.
    pub fn encode_as(
        &mut self,
        choice: Choice,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match choice {
            Choice::Literal => {
                literal::encode(data, last, out);
                Ok(())
            }
            Choice::Deflate(effort) => self.compressor(effort)?.compress(data, last, out),
            Choice::Zlib => self.zlib()?.compress(data, last, out),
            // Where even literal coding is expected to come out under
            // `SMALL_OUTPUT`, libdeflate's output would be followed by
            // zlib's, or come close: zlib alone gives numpy's bytes at once.
            Choice::Small if policy::order0_bytes(data) < policy::SMALL_OUTPUT as f64 => {
                self.zlib()?.compress(data, last, out)
            }
            Choice::Small => {
                let start = out.len();
                self.compressor(policy::REFERENCE_EFFORT)?
                    .compress(data, last, out)?;
                if policy::small_needs_zlib(data.len(), out.len() - start) {
                    let mut zlib = std::mem::take(&mut self.sample_out);
                    zlib.clear();
                    let r = self.zlib()?.compress(data, last, &mut zlib);
                    if r.is_ok() && zlib.len() < out.len() - start {
                        out.truncate(start);
                        out.extend_from_slice(&zlib);
                    }
                    self.sample_out = zlib;
                    r?;
                }
                Ok(())
            }
        }
    }
}

/// CRC-32 of `piece` continuing from `crc`.
pub fn crc32(crc: u32, piece: &[u8]) -> u32 {
    zlib_rs::crc32::crc32(crc, piece)
}

/// CRC-32 of A‖B from CRC(A), CRC(B) and len(B).
pub fn crc32_combine(a: u32, b: u32, len_b: u64) -> u32 {
    zlib_rs::crc32::crc32_combine(a, b, len_b)
}

#[cfg(test)]
mod tests {
    use super::testing::{inflate_raw, noise, smooth};
    use super::*;

    fn chunked(data: &[u8], chunk: usize, compression: Compression) -> Vec<u8> {
        let mut enc = ChunkEncoder::new(compression);
        let choice = enc
            .choose::<EncodeError>(data.len() as u64, |at, buf| {
                buf.copy_from_slice(&data[at as usize..at as usize + buf.len()]);
                Ok(())
            })
            .unwrap();
        let mut out = Vec::new();
        let pieces: Vec<&[u8]> = if data.is_empty() {
            vec![&[]]
        } else {
            data.chunks(chunk).collect()
        };
        for (k, piece) in pieces.iter().enumerate() {
            enc.encode(choice, piece, k + 1 == pieces.len(), &mut out)
                .unwrap();
        }
        out
    }

    #[test]
    fn chunks_concatenate_at_every_level_around_boundaries() {
        let chunk = 64 * 1024;
        for n in [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk + 17] {
            let data = smooth(n);
            for level in 0..=9 {
                let z = chunked(&data, chunk, Compression::Deflated(level));
                assert_eq!(inflate_raw(&z, n), data, "n={n} level={level}");
            }
            assert_eq!(chunked(&data, chunk, Compression::Stored), data);
        }
    }

    #[test]
    fn independent_chunks_cost_little_against_one_stream() {
        let data = smooth(4 << 20);
        let serial = chunked(&data, data.len(), Compression::Deflated(6));
        let split = chunked(&data, 1 << 20, Compression::Deflated(6));
        assert!(
            (split.len() as f64) < serial.len() as f64 * 1.005,
            "{} vs {}",
            split.len(),
            serial.len()
        );
    }

    #[test]
    fn noise_chunks_are_coded_as_literals() {
        let data = noise(600_000, 256);
        let out = chunked(&data, 1 << 20, Compression::Deflated(6));
        assert_eq!(inflate_raw(&out, data.len()), data);
        let mut literal = Vec::new();
        literal::encode(&data, true, &mut literal);
        assert_eq!(out, literal);
    }

    #[test]
    fn output_does_not_depend_on_what_the_encoder_did_before() {
        let data = smooth(400_000);
        for level in [1, 2, 6, 9] {
            let c = Compression::Deflated(level);
            let mut fresh = Vec::new();
            ChunkEncoder::new(c)
                .encode(
                    Choice::Deflate(Effort::level(level)),
                    &data,
                    true,
                    &mut fresh,
                )
                .unwrap();
            let mut used = ChunkEncoder::new(c);
            used.encode(
                Choice::Deflate(Effort::level(level)),
                &noise(50_000, 200),
                false,
                &mut Vec::new(),
            )
            .unwrap();
            let mut again = Vec::new();
            used.encode(
                Choice::Deflate(Effort::level(level)),
                &data,
                true,
                &mut again,
            )
            .unwrap();
            assert_eq!(fresh, again, "level {level}");
        }
    }

    #[test]
    fn crc_combine_matches_crc_of_concatenation() {
        let data = smooth(300_000);
        for cut in [0, 1, 65_536, 299_999, 300_000] {
            let (a, b) = data.split_at(cut);
            let whole = crc32(0, &data);
            let joined = crc32_combine(crc32(0, a), crc32(0, b), b.len() as u64);
            assert_eq!(whole, joined);
        }
    }
}
