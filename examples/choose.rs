//! What the default level chooses for each file taken as one member's
//! `.npy` stream, and where one core's time goes: sampling (the choice),
//! compressing the chunks, against zlib level 6 on the whole stream in the
//! same chunks (numpy's engine, numpy's size):
//! `cargo run --release --no-default-features --example choose -- FILE...`
//! Prints `file bytes choice sample_ms encode_ms zlib_ms size_vs_zlib`.
use fastnpz::chunk::CHUNK_SIZE;
use fastnpz::encode::zlib::Zlib;
use fastnpz::encode::{ChunkEncoder, Compression, EncodeError};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chunk = CHUNK_SIZE as usize;
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path)?;
        let mut encoder = ChunkEncoder::new(Compression::Deflated(6));
        let t = Instant::now();
        let choice = encoder.choose::<EncodeError>(data.len() as u64, |at, buf| {
            let at = at as usize;
            buf.copy_from_slice(&data[at..at + buf.len()]);
            Ok(())
        })?;
        let sample = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut out = Vec::new();
        let pieces: Vec<&[u8]> = data.chunks(chunk).collect();
        for (i, piece) in pieces.iter().enumerate() {
            encoder.encode(choice, piece, i + 1 == pieces.len(), &mut out)?;
        }
        let encode = t.elapsed().as_secs_f64();
        let mut zlib = Zlib::new()?;
        let t = Instant::now();
        let mut reference = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            zlib.compress(piece, i + 1 == pieces.len(), &mut reference)?;
        }
        let z = t.elapsed().as_secs_f64();
        println!(
            "{path} {} {choice:?} {:.2} {:.2} {:.2} {:.4}",
            data.len(),
            sample * 1e3,
            encode * 1e3,
            z * 1e3,
            out.len() as f64 / reference.len().max(1) as f64
        );
    }
    Ok(())
}
