//! LSB-first bit writing into a byte vector, as deflate packs its bits.

/// Appends bits to `out`, least significant bit first.
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter { out, acc: 0, n: 0 }
    }

    /// Append the low `bits` bits of `value` (at most 32).
    #[inline]
    pub(crate) fn put(&mut self, value: u32, bits: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += bits;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// End a chunk that is not its stream's last: an empty stored block
    /// (BFINAL 0, BTYPE 00, LEN 0, NLEN 0xFFFF) leaves the output
    /// byte-aligned and ending in `00 00 FF FF`, the sync-flush marker.
    pub(crate) fn sync_flush(&mut self) {
        self.put(0, 3);
        self.align();
        self.out.extend_from_slice(&SYNC_MARKER);
    }

    /// Pad with zero bits to a byte boundary and flush.
    pub(crate) fn align(&mut self) {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
        self.acc = 0;
    }
}

/// LEN and NLEN of the empty stored block that ends every non-final chunk.
pub const SYNC_MARKER: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];
