//! Compressed sizes and single-core speed of each engine and effort, on
//! members cut from the files given, at several member sizes (or, with
//! `--whole`, on each whole file), in `CHUNK_SIZE` (4 MiB) chunks as fastnpz
//! writes them:
//! `cargo run --release --no-default-features --example engines -- [--whole] FILE...`
//! Prints one line per (file, member size, engine): `file size engine bytes MB/s`.
use fastnpz::encode::libdeflate::Compressor;
use fastnpz::encode::literal;
use std::time::Instant;

const CHUNK: usize = fastnpz::chunk::CHUNK_SIZE as usize;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let whole = args.iter().any(|a| a == "--whole");
    for path in args.iter().filter(|a| *a != "--whole") {
        let data = std::fs::read(path).expect("readable file");
        let sizes = if whole {
            vec![data.len()]
        } else {
            vec![4096usize, 30_000, 100_000, 1 << 20, 4 << 20]
        };
        let stem = std::path::Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for &m in &sizes {
            if data.len() < m {
                continue;
            }
            let at = (data.len() / 3).min(data.len() - m);
            let member = &data[at..at + m];
            let reps = (4 << 20) / m;
            let report = |name: &str, f: &mut dyn FnMut(&[u8], &mut Vec<u8>)| {
                let mut out = Vec::new();
                let t = Instant::now();
                for _ in 0..reps.max(1) {
                    out.clear();
                    for piece in member.chunks(CHUNK) {
                        f(piece, &mut out);
                    }
                }
                let secs = t.elapsed().as_secs_f64() / reps.max(1) as f64;
                println!(
                    "{stem} {m} {name} {} {:.1}",
                    out.len(),
                    m as f64 / secs / 1e6
                );
            };
            report("lit", &mut |p, o| literal::encode(p, true, o));
            let mut z = fastnpz::encode::zlib::Zlib::new().expect("zlib");
            report("zlib", &mut |p, o| z.compress(p, true, o).expect("zlib"));
            if let Ok(spec) = std::env::var("EFFORTS") {
                // EFFORTS=level:depth:nice,... tries efforts between levels.
                for e in spec.split(',') {
                    let v: Vec<u32> = e.split(':').filter_map(|x| x.parse().ok()).collect();
                    if v.len() != 3 {
                        continue;
                    }
                    let mut c = Compressor::new(v[0] as u8).expect("compressor");
                    c.set_shortest_matches(true);
                    c.set_search_effort(v[1], v[2]);
                    report(&format!("E{}:{}:{}", v[0], v[1], v[2]), &mut |p, o| {
                        c.compress(p, true, o).expect("compress")
                    });
                }
            }
            for level in [1i32, 3, 4, 5, 6, 9] {
                let config = zlib_rs::DeflateConfig {
                    level,
                    method: zlib_rs::Method::Deflated,
                    window_bits: -15,
                    mem_level: 8,
                    strategy: zlib_rs::Strategy::Default,
                };
                let mut z = zlib_rs::Deflate::new_with_config(config);
                report(&format!("zr{level}"), &mut |p, o| {
                    z.reset();
                    let start = o.len();
                    o.resize(start + zlib_rs::compress_bound(p.len()) + 64, 0);
                    let _ = z.compress(p, &mut o[start..], zlib_rs::DeflateFlush::Finish);
                    o.truncate(start + z.total_out() as usize);
                });
            }
            for level in [1u8, 2, 4, 5, 6, 7, 9, 10, 12] {
                for short in [false, true] {
                    let mut c = Compressor::new(level).expect("compressor");
                    c.set_shortest_matches(short);
                    let name = format!("L{level}{}", if short { "s" } else { "" });
                    report(&name, &mut |p, o| c.compress(p, true, o).expect("compress"));
                }
            }
        }
    }
}
