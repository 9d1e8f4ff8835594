//! Single-thread comparison of the chunk engines on files of raw array
//! bytes, cut into 1 MiB chunks each primed with the 32 KiB before it (as
//! the archive writer does): zlib-rs at a level, and the own LZ77 encoder.
//! `cargo run --release --no-default-features --example engines -- LEVEL FILE...`
use fastnpz::lz77;
use std::time::Instant;
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Method, Strategy};

const CHUNK: usize = 1 << 20;
const WINDOW: usize = 32 * 1024;

fn zlib_rs_chunk(dict: &[u8], data: &[u8], level: i32, last: bool, out: &mut Vec<u8>) -> usize {
    let mut d = Deflate::new_with_config(DeflateConfig {
        level,
        method: Method::Deflated,
        window_bits: -15,
        mem_level: 8,
        strategy: match std::env::var("STRATEGY").as_deref() {
            Ok("rle") => Strategy::Rle,
            Ok("filtered") => Strategy::Filtered,
            Ok("huffman") => Strategy::HuffmanOnly,
            _ => Strategy::Default,
        },
    });
    if !dict.is_empty() {
        let _ = d.set_dictionary(dict);
    }
    out.resize(zlib_rs::compress_bound(data.len()) + 64, 0);
    let flush = if last {
        DeflateFlush::Finish
    } else {
        DeflateFlush::SyncFlush
    };
    let _ = d.compress(data, out, flush);
    d.total_out() as usize
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let level: u8 = args.first().and_then(|a| a.parse().ok()).unwrap_or(6);
    if args.len() > 1 && args[0] == "per-chunk" {
        // Per-chunk literal-only vs zlib-rs level 6 (and a mid-chunk sample).
        let data = std::fs::read(&args[1]).unwrap_or_default();
        let mut out = Vec::new();
        for s in (0..data.len()).step_by(CHUNK) {
            let e = (s + CHUNK).min(data.len());
            let dict = &data[s.saturating_sub(WINDOW)..s];
            let z = zlib_rs_chunk(dict, &data[s..e], 6, false, &mut out);
            out.clear();
            fastnpz::huffman::encode(&[&data[s..e]], false, &mut out);
            let h = out.len();
            let (mut zs, mut hs) = (0, 0);
            let k: usize = std::env::var("SAMPLES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(4);
            let len: usize = std::env::var("SAMPLE_LEN")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(8192);
            for i in 0..k {
                let m = s + WINDOW + (e - s - WINDOW - len) * (2 * i + 1) / (2 * k);
                zs += zlib_rs_chunk(&data[m - WINDOW..m], &data[m..m + len], 6, true, &mut out);
                out.clear();
                fastnpz::huffman::encode(&[&data[m..m + len]], true, &mut out);
                hs += out.len();
            }
            println!(
                "chunk {}: literal/zlib-rs {:.4}, samples {:.4}",
                s / CHUNK,
                h as f64 / z as f64,
                hs as f64 / zs as f64
            );
        }
        return;
    }
    for path in &args[1..] {
        let Ok(data) = std::fs::read(path) else {
            eprintln!("cannot read {path}");
            continue;
        };
        let chunks: Vec<(usize, usize)> = (0..data.len())
            .step_by(CHUNK)
            .map(|s| (s, (s + CHUNK).min(data.len())))
            .collect();
        let mut out = Vec::new();
        let t = Instant::now();
        let zsize: usize = chunks
            .iter()
            .map(|&(s, e)| {
                let dict = &data[s.saturating_sub(WINDOW)..s];
                zlib_rs_chunk(
                    dict,
                    &data[s..e],
                    i32::from(level),
                    e == data.len(),
                    &mut out,
                )
            })
            .sum();
        let zt = t.elapsed().as_secs_f64();
        let mut scratch = lz77::Scratch::default();
        let t = Instant::now();
        let lsize: usize = chunks
            .iter()
            .map(|&(s, e)| {
                out.clear();
                let dict = &data[s.saturating_sub(WINDOW)..s];
                lz77::encode(
                    &[&data[s..e]],
                    dict,
                    level,
                    e == data.len(),
                    usize::MAX,
                    &mut scratch,
                    &mut out,
                );
                out.len()
            })
            .sum();
        let lt = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let hsize: usize = chunks
            .iter()
            .map(|&(s, e)| {
                out.clear();
                fastnpz::huffman::encode(&[&data[s..e]], e == data.len(), &mut out);
                out.len()
            })
            .sum();
        let ht = t.elapsed().as_secs_f64();
        let mb = data.len() as f64 / 1e6;
        println!("{path}: literal-only: {hsize} bytes {:.0} MB/s", mb / ht);
        println!(
            "{path}: zlib-rs {level}: {zsize} bytes {:.0} MB/s | lz77 {level}: {lsize} bytes {:.0} MB/s",
            mb / zt,
            mb / lt
        );
    }
}
