//! The policy against the oracle, per file (one member's `.npy` stream, as
//! `benches/corpus.py` writes them), on one core:
//! `cargo run --release --no-default-features --example oracle -- [--engines] FILE...`
//!
//! The oracle is the fastest engine and effort whose whole output, in
//! `CHUNK_SIZE` chunks as fastnpz writes it, is at most 1.01x numpy's (zlib
//! level 6 over the member as one stream): literal coding, every libdeflate
//! level 1-12, levels 2-9 with 3-byte matches always taken, efforts between
//! levels 5-7, and zlib itself. The policy's time is what `ChunkEncoder`
//! spends deciding (sampling) plus compressing the chunks as decided; the
//! fraction of the oracle is oracle time / policy time.
//!
//! Prints one tab-separated line per file: `file bytes zlib_ms oracle
//! oracle_ratio oracle_ms choice choice_ratio sample_ms encode_ms
//! fraction`; with `--engines`, then `engine ratio ms` per engine.
//! Times are the best of repeated runs (at least 30 ms of work or three).
use fastnpz::chunk::CHUNK_SIZE;
use fastnpz::encode::zlib::Zlib;
use fastnpz::encode::{Choice, ChunkEncoder, Compression, Effort, EncodeError};
use std::time::Instant;

/// Every engine and effort the oracle considers, fastest family first.
fn engines() -> Vec<Choice> {
    let mut all = vec![Choice::Literal];
    all.extend((1..=12).map(|l| Choice::Deflate(Effort::level(l))));
    all.extend((2..=9).map(|l| Choice::Deflate(Effort::shortest(l))));
    for (depth, nice) in [(20, 48), (35, 65), (60, 100)] {
        all.push(Choice::Deflate(Effort {
            level: 6,
            shortest: true,
            depth,
            nice,
        }));
    }
    all.push(Choice::Zlib);
    all
}

fn name(c: Choice) -> String {
    match c {
        Choice::Literal => "literal".into(),
        Choice::Zlib => "zlib".into(),
        Choice::Small => "small".into(),
        Choice::Deflate(e) => {
            let mut s = format!("L{}", e.level);
            if e.shortest {
                s += "s";
            }
            if e.depth > 0 {
                s += &format!("d{}n{}", e.depth, e.nice);
            }
            s
        }
    }
}

/// The best time in ms of `f` over repeated runs, and its last result.
fn best<T>(mut f: impl FnMut() -> Result<T, EncodeError>) -> Result<(T, f64), EncodeError> {
    let (mut runs, mut spent, mut best) = (0, 0.0, f64::INFINITY);
    loop {
        let t = Instant::now();
        let out = f()?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        best = best.min(ms);
        spent += ms;
        runs += 1;
        if runs >= 3 && (spent >= 30.0 || runs >= 50) {
            return Ok((out, best));
        }
    }
}

/// `data` compressed as `choice` in `CHUNK_SIZE` chunks: size and ms.
fn chunked(enc: &mut ChunkEncoder, choice: Choice, data: &[u8]) -> Result<(u64, f64), EncodeError> {
    best(|| {
        let mut out = Vec::new();
        let pieces: Vec<&[u8]> = data.chunks(CHUNK_SIZE as usize).collect();
        for (i, p) in pieces.iter().enumerate() {
            enc.encode(choice, p, i + 1 == pieces.len(), &mut out)?;
        }
        Ok(out.len() as u64)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "--engines");
    for path in args.iter().filter(|a| !a.starts_with("--")) {
        let data = std::fs::read(path)?;
        let mut zlib = Zlib::new()?;
        let (numpy, zlib_ms) = best(|| zlib.size(&data))?;
        let numpy = numpy.max(1) as f64;
        let mut enc = ChunkEncoder::new(Compression::Deflated(6));
        let mut oracle = (Choice::Zlib, f64::INFINITY, f64::INFINITY);
        let mut rows = String::new();
        for c in engines() {
            let (size, ms) = chunked(&mut enc, c, &data)?;
            let ratio = size as f64 / numpy;
            rows += &format!("\t{}\t{ratio:.4}\t{ms:.2}", name(c));
            if ratio <= 1.01 && ms < oracle.2 {
                oracle = (c, ratio, ms);
            }
        }
        // A warm encoder, as a worker's is after its first member.
        let mut chooser = ChunkEncoder::new(Compression::Deflated(6));
        let (choice, sample_ms) = best(|| {
            chooser.choose::<EncodeError>(data.len() as u64, |at, buf| {
                let at = at as usize;
                buf.copy_from_slice(&data[at..at + buf.len()]);
                Ok(())
            })
        })?;
        let (size, encode_ms) = chunked(&mut enc, choice, &data)?;
        println!(
            "{path}\t{}\t{zlib_ms:.2}\t{}\t{:.4}\t{:.2}\t{}\t{:.4}\t{sample_ms:.2}\t{encode_ms:.2}\t{:.3}{}",
            data.len(),
            name(oracle.0),
            oracle.1,
            oracle.2,
            name(choice),
            size as f64 / numpy,
            oracle.2 / (sample_ms + encode_ms),
            if verbose { rows } else { String::new() }
        );
    }
    Ok(())
}
