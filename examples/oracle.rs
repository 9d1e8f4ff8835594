//! Per file (one member's `.npy` stream): zlib level 6's size and time in
//! `CHUNK_SIZE` chunks, and each candidate's, over the whole member, next to what
//! the policy chose from its samples:
//! `cargo run --release --no-default-features --example oracle -- FILE...`
use fastnpz::chunk::CHUNK_SIZE;
use fastnpz::encode::policy::CANDIDATES;
use fastnpz::encode::zlib::Zlib;
use fastnpz::encode::{ChunkEncoder, Compression, EncodeError};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chunk = CHUNK_SIZE as usize;
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path)?;
        let pieces: Vec<&[u8]> = data.chunks(chunk).collect();
        let mut encoder = ChunkEncoder::new(Compression::Deflated(6));
        let t = Instant::now();
        let chosen = encoder.choose::<EncodeError>(data.len() as u64, |at, buf| {
            let at = at as usize;
            buf.copy_from_slice(&data[at..at + buf.len()]);
            Ok(())
        })?;
        let sample = t.elapsed().as_secs_f64();
        let mut zlib = Zlib::new()?;
        let t = Instant::now();
        let mut reference = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            zlib.compress(piece, i + 1 == pieces.len(), &mut reference)?;
        }
        let z = t.elapsed().as_secs_f64();
        let mut line = format!(
            "{path}\t{}\t{chosen:?}\t{:.3}\t{}\t{:.3}",
            data.len(),
            sample * 1e3,
            reference.len(),
            z * 1e3
        );
        for c in CANDIDATES {
            let t = Instant::now();
            let mut out = Vec::new();
            for (i, piece) in pieces.iter().enumerate() {
                encoder.encode(c, piece, i + 1 == pieces.len(), &mut out)?;
            }
            line += &format!("\t{}\t{:.3}", out.len(), t.elapsed().as_secs_f64() * 1e3);
        }
        println!("{line}");
    }
    Ok(())
}
