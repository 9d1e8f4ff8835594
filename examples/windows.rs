//! The data the policy's margins are fitted on, per file (one member's
//! `.npy` stream of 256 KiB or more): each engine's whole size against
//! numpy's (zlib level 6 over the member as one stream; the engine in
//! `CHUNK_SIZE` chunks, as fastnpz writes it), and for sample layouts
//! (a fraction of the member in a number of spread windows) each window's
//! zlib size and each engine's:
//! `cargo run --release --no-default-features --example windows -- FILE...`
//! `LAYOUTS="32:4,64:4"` sets the layouts (`denominator:windows`, `0:0`
//! for the policy's own windows; the default lists several). Sizes only,
//! no timing, so the output is the same on a busy machine. Prints one JSON
//! object per file.
use fastnpz::chunk::CHUNK_SIZE;
use fastnpz::encode::policy::{is_noise, windows, CANDIDATES};
use fastnpz::encode::zlib::Zlib;
use fastnpz::encode::{Choice, ChunkEncoder, Compression, Effort};

/// Windows of a layout: `count` spread windows, together `1/den` of the
/// member, each at least 16 KiB.
fn layout(n: u64, den: u64, count: u64) -> Vec<(usize, usize)> {
    if den == 0 {
        // "0:0": the policy's own windows.
        return windows(n).map(|(at, len)| (at as usize, len)).collect();
    }
    let len = (n / (den * count)).max(16 << 10).min(n);
    let room = n - len;
    (0..count)
        .map(|i| ((room * (2 * i + 1) / (2 * count)) as usize, len as usize))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec =
        std::env::var("LAYOUTS").unwrap_or_else(|_| "8:4,16:4,32:2,32:4,32:8,64:4,64:8".into());
    let layouts = spec
        .split(',')
        .map(|l| {
            let (d, c) = l.split_once(':').ok_or("LAYOUTS wants den:count,...")?;
            Ok((d.parse::<u64>()?, c.parse::<u64>()?))
        })
        .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
    let mut engines: Vec<(String, Choice)> =
        CANDIDATES.iter().map(|&c| (format!("{c:?}"), c)).collect();
    for (n, c) in [
        ("L1", Choice::Deflate(Effort::level(1))),
        ("L2", Choice::Deflate(Effort::level(2))),
        ("L4", Choice::Deflate(Effort::level(4))),
        ("L5s", Choice::Deflate(Effort::shortest(5))),
        ("L6s", Choice::Deflate(Effort::shortest(6))),
        ("L7s", Choice::Deflate(Effort::shortest(7))),
        ("L8s", Choice::Deflate(Effort::shortest(8))),
        ("Literal", Choice::Literal),
    ] {
        engines.retain(|(_, k)| *k != c);
        engines.push((n.into(), c));
    }
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path)?;
        let n = data.len() as u64;
        if n < 256 * 1024 {
            continue;
        }
        let mut zlib = Zlib::new()?;
        let mut enc = ChunkEncoder::new(Compression::Deflated(6));
        let numpy = zlib.size(&data)?.max(1) as f64;
        let mut whole = Vec::new();
        for (name, c) in &engines {
            let mut out = Vec::new();
            let pieces: Vec<&[u8]> = data.chunks(CHUNK_SIZE as usize).collect();
            for (i, p) in pieces.iter().enumerate() {
                enc.encode_as(*c, p, i + 1 == pieces.len(), &mut out)?;
            }
            whole.push(format!("\"{name}\":{:.5}", out.len() as f64 / numpy));
        }
        let mut rows = Vec::new();
        for &(den, count) in &layouts {
            let windows = layout(n, den, count);
            let noise = windows
                .iter()
                .all(|&(at, len)| is_noise(&data[at..at + len]));
            let mut per = vec![format!("\"zlib\":[{}]", {
                let s: Result<Vec<String>, _> = windows
                    .iter()
                    .map(|&(at, len)| zlib.size(&data[at..at + len]).map(|z| z.to_string()))
                    .collect();
                s?.join(",")
            })];
            for (name, c) in &engines {
                let mut sizes = Vec::new();
                for &(at, len) in &windows {
                    let mut out = Vec::new();
                    enc.encode_as(*c, &data[at..at + len], true, &mut out)?;
                    sizes.push(out.len().to_string());
                }
                per.push(format!("\"{name}\":[{}]", sizes.join(",")));
            }
            rows.push(format!(
                "{{\"den\":{den},\"count\":{count},\"len\":{},\"noise\":{noise},{}}}",
                windows[0].1,
                per.join(",")
            ));
        }
        println!(
            "{{\"file\":\"{path}\",\"bytes\":{n},\"whole\":{{{}}},\"layouts\":[{}]}}",
            whole.join(","),
            rows.join(",")
        );
    }
    Ok(())
}
