//! Single-thread throughput of zlib-rs settings on one chunk of a few
//! kinds of data: `cargo run --release --no-default-features --example strategies`.
use std::time::Instant;
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Method, Strategy};

fn compress(data: &[u8], level: i32, strategy: Strategy) -> usize {
    let mut d = Deflate::new_with_config(DeflateConfig {
        level,
        method: Method::Deflated,
        window_bits: -15,
        mem_level: 8,
        strategy,
    });
    let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 64];
    d.compress(data, &mut out, DeflateFlush::Finish).ok();
    d.total_out() as usize
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1 << 20);
    let mut x: u64 = 88172645463325252;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Standard normal-ish f64 via sum of uniforms.
    let randf: Vec<u8> = (0..n / 8)
        .flat_map(|_| {
            let s: f64 = (0..4)
                .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64)
                .sum::<f64>()
                - 2.0;
            s.to_le_bytes()
        })
        .collect();
    let smallint: Vec<u8> = (0..n / 8)
        .flat_map(|_| ((next() % 100) as i64).to_le_bytes())
        .collect();
    for (name, data) in [("random f64", &randf), ("small int64", &smallint)] {
        for (label, level, strat) in [
            ("L6", 6, Strategy::Default),
            ("L1", 1, Strategy::Default),
            ("L2", 2, Strategy::Default),
            ("L3", 3, Strategy::Default),
            ("huff", 6, Strategy::HuffmanOnly),
            ("rle", 6, Strategy::Rle),
        ] {
            let t = Instant::now();
            let mut size = 0;
            let reps = (5usize << 20) / n;
            for _ in 0..reps {
                size = compress(data, level, strat);
            }
            let dt = t.elapsed().as_secs_f64() / reps as f64;
            println!(
                "{name:12} {label:5} {:8.1} MB/s  ratio {:.4}",
                n as f64 / dt / 1e6,
                size as f64 / n as f64
            );
        }
    }
}
