//! Per-member cost of the chunk encoder on many 4 KiB members:
//! `cargo run --release --no-default-features --example small_members`.
use fastnpz::deflate::{ChunkEncoder, Compression};
use std::time::Instant;

fn main() {
    let mut x: u64 = 88172645463325252;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let members: Vec<Vec<u8>> = (0..1000)
        .map(|_| {
            (0..512)
                .flat_map(|_| ((next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5).to_le_bytes())
                .collect()
        })
        .collect();
    for level in [0u8, 1, 6] {
        let mut enc = ChunkEncoder::new(Compression::Deflated(level));
        let t = Instant::now();
        let mut total = 0;
        for m in &members {
            let mut out = Vec::new();
            enc.encode(&[], &[m], true, &mut out).unwrap();
            total += out.len();
        }
        println!(
            "level {level}: {:.1} us/member, {total} bytes",
            t.elapsed().as_secs_f64() * 1e6 / 1000.0
        );
    }
}
