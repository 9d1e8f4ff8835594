//! Compressed sizes of small members (files holding one member's `.npy`
//! stream) under each engine the small-member rule could use, zlib last:
//! `cargo run --release --no-default-features --example small_sizes -- FILE...`
//! prints `file bytes [L1, L2, L5s, L7s, L8s, L9s, L10, L12, literal, zlib]`.
//! `SMALL_EXACT` in `src/encode/policy.rs` was set from these figures, on
//! the arrays `tests/test_small_members.py` generates.
use fastnpz::encode::{Choice, ChunkEncoder, Compression, Effort};
fn main() {
    let choices = [
        Choice::Deflate(Effort::level(1)),
        Choice::Deflate(Effort::level(2)),
        Choice::Deflate(Effort::shortest(5)),
        Choice::Deflate(Effort::shortest(7)),
        Choice::Deflate(Effort::shortest(8)),
        Choice::Deflate(Effort::shortest(9)),
        Choice::Deflate(Effort::level(10)),
        Choice::Deflate(Effort::level(12)),
        Choice::Literal,
        Choice::Zlib,
    ];
    let mut enc = ChunkEncoder::new(Compression::Deflated(6));
    for f in std::env::args().skip(1) {
        let d = std::fs::read(&f).unwrap();
        let sizes: Vec<usize> = choices
            .iter()
            .map(|&c| {
                let mut out = Vec::new();
                enc.encode_as(c, &d, true, &mut out).unwrap();
                out.len()
            })
            .collect();
        println!("{f} {} {:?}", d.len(), sizes);
    }
}
