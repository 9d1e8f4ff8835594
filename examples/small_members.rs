//! Per-member cost of the chunk encoder on many 4 KiB members, and of zlib-rs
//! configurations that could serve them:
//! `cargo run --release --no-default-features --example small_members`.
use fastnpz::deflate::{ChunkEncoder, Compression};
use std::time::Instant;
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Method, Strategy};

fn members() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut x: u64 = 88172645463325252;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut random = Vec::new();
    let mut smooth = Vec::new();
    for _ in 0..1000 {
        // Sum of uniforms: roughly normal, full-entropy mantissas.
        random.push(
            (0..512)
                .flat_map(|_| (next() + next() + next() - 1.5).to_le_bytes())
                .collect(),
        );
        let f = 0.5 + 7.5 * next();
        let phase = 6.3 * next();
        smooth.push(
            (0..512)
                .flat_map(|i| {
                    let t = i as f64 / 511.0;
                    let v = (2.0 * std::f64::consts::PI * f * t + phase).sin();
                    ((v * 1000.0).round() / 1000.0).to_le_bytes()
                })
                .collect(),
        );
    }
    (random, smooth)
}

fn zlib_rs_once(
    data: &[u8],
    level: i32,
    window_bits: i32,
    mem_level: i32,
    out: &mut [u8],
) -> usize {
    let mut d = Deflate::new_with_config(DeflateConfig {
        level,
        method: Method::Deflated,
        window_bits,
        mem_level,
        strategy: Strategy::Default,
    });
    let _ = d.compress(data, out, DeflateFlush::Finish);
    d.total_out() as usize
}

fn main() {
    let (random, smooth) = members();
    // `small_members lz77 LEVEL` runs only that encoder, and `small_members
    // file PATH` the chunk encoder on PATH's 4 KiB members behind a `.npy`
    // header (for instruction counts under callgrind).
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "file" {
        let data = std::fs::read(&args[2]).unwrap_or_default();
        let mut header =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (512,), }"
                .to_vec();
        header.resize(127, b' ');
        header.push(b'\n');
        let mut enc = ChunkEncoder::new(Compression::Deflated(6));
        let mut total = 0;
        let t = Instant::now();
        for m in data.chunks(4096) {
            let mut out = Vec::new();
            enc.encode(&[], &[&header, m], true, &mut out).unwrap();
            total += out.len();
        }
        println!(
            "{:.1} us/member, {total} bytes",
            t.elapsed().as_secs_f64() * 1e6 / (data.len() / 4096) as f64
        );
        return;
    }
    if args.len() == 3 && args[1] == "lz77" {
        let level: u8 = args[2].parse().unwrap_or(6);
        let mut scratch = fastnpz::lz77::Scratch::default();
        let mut total = 0;
        for m in random.iter().chain(&smooth) {
            let mut out = Vec::new();
            fastnpz::lz77::encode(&[m], &[], level, true, usize::MAX, &mut scratch, &mut out);
            total += out.len();
        }
        println!("{total}");
        return;
    }
    for (kind, set) in [("random", &random), ("smooth", &smooth)] {
        for level in [0u8, 1, 6] {
            let mut enc = ChunkEncoder::new(Compression::Deflated(level));
            let t = Instant::now();
            let mut total = 0;
            for m in set.iter() {
                let mut out = Vec::new();
                enc.encode(&[], &[m], true, &mut out).unwrap();
                total += out.len();
            }
            println!(
                "{kind} ChunkEncoder level {level}: {:.1} us/member, {total} bytes",
                t.elapsed().as_secs_f64() * 1e6 / set.len() as f64
            );
        }
        let mut scratch = fastnpz::lz77::Scratch::default();
        for level in [1u8, 4, 6, 9] {
            let t = Instant::now();
            let mut total = 0;
            for m in set.iter() {
                let mut out = Vec::new();
                fastnpz::lz77::encode(&[m], &[], level, true, usize::MAX, &mut scratch, &mut out);
                total += out.len();
            }
            println!(
                "{kind} lz77 level {level}: {:.1} us/member, {total} bytes",
                t.elapsed().as_secs_f64() * 1e6 / set.len() as f64
            );
        }
        let mut out = vec![0u8; 8192];
        for (level, wb, ml) in [
            (2, -15, 8),
            (3, -15, 8),
            (4, -15, 8),
            (5, -15, 8),
            (6, -15, 8),
            (7, -15, 8),
            (9, -15, 8),
            (6, -12, 5),
        ] {
            let t = Instant::now();
            let total: usize = set
                .iter()
                .map(|m| zlib_rs_once(m, level, wb, ml, &mut out))
                .sum();
            println!(
                "{kind} zlib-rs {level} fresh window_bits {wb} mem_level {ml}: {:.1} us/member, {total} bytes",
                t.elapsed().as_secs_f64() * 1e6 / set.len() as f64
            );
        }
    }
}
