//! Test helpers: seeded data shaped like what people store, and an
//! independent inflater (zlib-rs) to check every output.

use zlib_rs::{
    Deflate, DeflateConfig, DeflateFlush, Inflate, InflateFlush, Method, Status, Strategy,
};

/// `n` bytes of xorshift noise with values below `spread`.
pub(crate) fn noise(n: usize, spread: u32) -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 20) as u32 % spread) as u8
        })
        .collect()
}

/// `n` bytes of a slowly varying float32 signal with a little noise, cut to
/// limited precision: compressible, with matches of every length.
pub(crate) fn smooth(n: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    let mut out = Vec::with_capacity(n + 4);
    let mut i = 0u32;
    while out.len() < n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let jitter = (x >> 28) as f32 * 0.001;
        let v = (i as f32 * 0.001).sin() * 100.0 + jitter;
        out.extend_from_slice(&((v.to_bits()) & !0x7FF).to_le_bytes());
        i += 1;
    }
    out.truncate(n);
    out
}

/// Inflate a complete raw deflate stream that should hold `expect` bytes.
pub(crate) fn inflate_raw(data: &[u8], expect: usize) -> Vec<u8> {
    let mut inf = Inflate::new(false, 15);
    let mut out = vec![0u8; expect + 1024];
    let status = inf
        .decompress(data, &mut out, InflateFlush::Finish)
        .unwrap();
    assert_eq!(status, Status::StreamEnd);
    assert_eq!(
        inf.total_in() as usize,
        data.len(),
        "trailing bytes after the stream"
    );
    out.truncate(inf.total_out() as usize);
    out
}

/// Size of `data` compressed by zlib-rs at level 6 with `strategy`, in one
/// stream: a reference for the encoders written here.
pub(crate) fn zlib_rs_size(data: &[u8], strategy: Strategy) -> usize {
    let config = DeflateConfig {
        level: 6,
        method: Method::Deflated,
        window_bits: -15,
        mem_level: 8,
        strategy,
    };
    let mut z = Deflate::new_with_config(config);
    let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 64];
    let status = z.compress(data, &mut out, DeflateFlush::Finish).unwrap();
    assert_eq!(status, Status::StreamEnd);
    z.total_out() as usize
}
