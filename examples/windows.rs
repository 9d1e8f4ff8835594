//! Per file (one member's `.npy` stream of 256 KiB or more): sample windows
//! laid out as `WINDOWS="fraction_denominator:min_kib:max_kib:mib_per_window:max_count"`
//! says (default `8:32:256:8:4`, the policy's), and per window zlib's size
//! and each candidate's, to see how far windows disagree:
//! `cargo run --release --no-default-features --example windows -- FILE...`
use fastnpz::encode::policy::CANDIDATES;
use fastnpz::encode::zlib::Zlib;
use fastnpz::encode::{ChunkEncoder, Compression};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = std::env::var("WINDOWS").unwrap_or_else(|_| "8:32:256:8:4".into());
    let p = spec
        .split(':')
        .map(str::parse)
        .collect::<Result<Vec<u64>, _>>()?;
    if p.len() != 5 {
        return Err(format!("WINDOWS wants five numbers, got {spec:?}").into());
    }
    let (den, min, max, per, maxc) = (p[0], p[1] << 10, p[2] << 10, p[3] << 20, p[4]);
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path)?;
        let n = data.len() as u64;
        if n < 256 * 1024 {
            continue;
        }
        let count = (n / per).clamp(2, maxc);
        let len = (n / (den * count)).clamp(min, max).min(n);
        let room = n - len;
        let mut zlib = Zlib::new()?;
        let mut enc = ChunkEncoder::new(Compression::Deflated(6));
        for i in 0..count {
            let at = (room * (2 * i + 1) / (2 * count)) as usize;
            let w = &data[at..at + len as usize];
            let mut line = format!("{path}\t{i}\t{len}\t{}", zlib.size(w)?);
            for c in CANDIDATES {
                let mut out = Vec::new();
                enc.encode_as(c, w, true, &mut out)?;
                line += &format!("\t{}", out.len());
            }
            println!("{line}");
        }
    }
    Ok(())
}
