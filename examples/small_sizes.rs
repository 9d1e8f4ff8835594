//! Small members (files holding one member's `.npy` stream) under each
//! engine the small-member rule could use, zlib last, on one core:
//! `cargo run --release --no-default-features --example small_sizes -- FILE...`
//! prints per file its length, then `engine bytes us` for each engine, and
//! the noise scan's time. `SMALL_EXACT` in `src/encode/policy.rs` was set
//! from these sizes, on 300 generated arrays of the kinds and lengths
//! `tests/test_small_members.py` generates; the times bound what a 4 KiB
//! member can cost (the README's many_small figures).
use fastnpz::encode::{policy, Choice, ChunkEncoder, Compression, Effort};
use std::time::Instant;

/// Best time in microseconds of `f` over five rounds of `n` calls.
fn micros(n: u32, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / f64::from(n));
    }
    best * 1e6
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engines = [
        ("L1", Choice::Deflate(Effort::level(1))),
        ("L2", Choice::Deflate(Effort::level(2))),
        ("L2s", Choice::Deflate(Effort::shortest(2))),
        ("L5s", Choice::Deflate(Effort::shortest(5))),
        ("L7s", Choice::Deflate(Effort::shortest(7))),
        ("L8s", Choice::Deflate(Effort::shortest(8))),
        ("L9s", Choice::Deflate(Effort::shortest(9))),
        ("L10", Choice::Deflate(Effort::level(10))),
        ("L12", Choice::Deflate(Effort::level(12))),
        ("literal", Choice::Literal),
        ("zlib", Choice::Zlib),
    ];
    let mut enc = ChunkEncoder::new(Compression::Deflated(6));
    let mut out = Vec::new();
    for f in std::env::args().skip(1) {
        let d = std::fs::read(&f)?;
        let mut line = format!("{f} {}", d.len());
        for (name, c) in engines {
            out.clear();
            enc.encode_as(c, &d, true, &mut out)?;
            let bytes = out.len();
            let us = micros(200, || {
                out.clear();
                // Measured above without error; a failure here only skews
                // the time.
                let _ = enc.encode_as(c, &d, true, &mut out);
            });
            line += &format!("  {name} {bytes} {us:.1}");
        }
        let scan = micros(2000, || {
            std::hint::black_box(policy::is_noise(std::hint::black_box(&d)));
        });
        println!("{line}  is_noise {scan:.1}");
    }
    Ok(())
}
