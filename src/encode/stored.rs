//! Level 0: stored deflate blocks, the data as it is, 5 bytes of framing per
//! 64 KiB. Readable by every inflater, and the fastest way to write.

use super::bits::SYNC_MARKER;

/// Largest stored block (LEN is 16 bits).
const MAX_STORED: usize = 0xFFFF;

/// Append `data` as stored blocks. With `last` the final block ends the
/// stream; otherwise the blocks are followed by the sync-flush marker.
pub fn encode(data: &[u8], last: bool, out: &mut Vec<u8>) {
    out.reserve(data.len() + 5 * (data.len() / MAX_STORED + 2));
    let mut pieces = data.chunks(MAX_STORED).peekable();
    if pieces.peek().is_none() && last {
        block(&[], true, out);
    }
    while let Some(piece) = pieces.next() {
        block(piece, last && pieces.peek().is_none(), out);
    }
    if !last {
        out.push(0);
        out.extend_from_slice(&SYNC_MARKER);
    }
}

fn block(piece: &[u8], last: bool, out: &mut Vec<u8>) {
    let len = piece.len() as u16;
    out.push(u8::from(last));
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(piece);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{inflate_raw, noise};

    #[test]
    fn stored_blocks_round_trip_and_concatenate() {
        for n in [0usize, 1, MAX_STORED, MAX_STORED + 1, 200_000] {
            let data = noise(n, 256);
            let mut one = Vec::new();
            encode(&data, true, &mut one);
            assert_eq!(inflate_raw(&one, n), data);
            let mut two = Vec::new();
            encode(&data[..n / 2], false, &mut two);
            encode(&data[n / 2..], true, &mut two);
            assert_eq!(inflate_raw(&two, n), data);
        }
    }
}
