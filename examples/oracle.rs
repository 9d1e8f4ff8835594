//! Per file (one member's `.npy` stream): what the default level chooses
//! from its samples, and where one core's time goes (sampling, compressing
//! the chunks as chosen, zlib level 6 on the same chunks, numpy's engine),
//! then each candidate's size and time over the whole member, to see
//! whether the choice was the fastest that keeps numpy's size:
//! `cargo run --release --no-default-features --example oracle -- FILE...`
//! Prints, tab-separated: `file bytes choice sample_ms encode_ms zlib_ms
//! size_vs_zlib`, then `bytes ms` for each of `policy::CANDIDATES`.
use fastnpz::chunk::CHUNK_SIZE;
use fastnpz::encode::policy::CANDIDATES;
use fastnpz::encode::zlib::Zlib;
use fastnpz::encode::{ChunkEncoder, Compression, EncodeError};
use std::time::Instant;

/// `data` compressed in `CHUNK_SIZE` chunks by `compress(piece, last, out)`,
/// and the milliseconds that took.
fn chunked(
    data: &[u8],
    mut compress: impl FnMut(&[u8], bool, &mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(Vec<u8>, f64), EncodeError> {
    let pieces: Vec<&[u8]> = data.chunks(CHUNK_SIZE as usize).collect();
    let t = Instant::now();
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        compress(piece, i + 1 == pieces.len(), &mut out)?;
    }
    Ok((out, t.elapsed().as_secs_f64() * 1e3))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path)?;
        let mut encoder = ChunkEncoder::new(Compression::Deflated(6));
        let t = Instant::now();
        let chosen = encoder.choose::<EncodeError>(data.len() as u64, |at, buf| {
            let at = at as usize;
            buf.copy_from_slice(&data[at..at + buf.len()]);
            Ok(())
        })?;
        let sample = t.elapsed().as_secs_f64() * 1e3;
        let (out, encode) = chunked(&data, |p, last, out| encoder.encode(chosen, p, last, out))?;
        let mut zlib = Zlib::new()?;
        let (reference, z) = chunked(&data, |p, last, out| zlib.compress(p, last, out))?;
        let mut line = format!(
            "{path}\t{}\t{chosen:?}\t{sample:.2}\t{encode:.2}\t{z:.2}\t{:.4}",
            data.len(),
            out.len() as f64 / reference.len().max(1) as f64
        );
        for c in CANDIDATES {
            let (out, ms) = chunked(&data, |p, last, out| encoder.encode(c, p, last, out))?;
            line += &format!("\t{}\t{ms:.2}", out.len());
        }
        println!("{line}");
    }
    Ok(())
}
