//! Cutting members into chunks that threads compress independently, and
//! compressing one chunk.
//!
//! A member's uncompressed stream is its `.npy` header followed by its data.
//! Chunk `k` covers data bytes `[k * size, (k + 1) * size)`; the header rides
//! along with chunk 0. Sizes are whole items so a strided gather never splits
//! an element across chunks.

use crate::deflate::{crc32, ChunkEncoder, DeflateFailure, WINDOW};
use crate::member::{LayoutError, Member};

/// One unit of parallel work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Index of the member in the archive.
    pub member: usize,
    /// First data byte covered.
    pub start: u64,
    /// One past the last data byte covered.
    pub end: u64,
    /// Chunk 0 also carries the header and opens the member.
    pub first: bool,
    /// The last chunk finishes the member's deflate stream.
    pub last: bool,
}

/// The compressed form of one chunk.
#[derive(Debug, Default)]
pub struct Compressed {
    /// Raw deflate (or stored) bytes.
    pub bytes: Vec<u8>,
    /// CRC-32 of the chunk's uncompressed bytes.
    pub crc: u32,
    /// Number of uncompressed bytes (header included for chunk 0).
    pub len: u64,
    /// The history the chunk was primed with (the data just before it).
    pub dict: Vec<u8>,
    /// The last (up to) 32 KiB of the chunk's data, as compressed.
    pub tail: Vec<u8>,
}

/// Why a chunk could not be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// The array layout could not be read.
    Layout(LayoutError),
    /// The encoder failed.
    Deflate(DeflateFailure),
}

impl std::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChunkError::Layout(e) => e.fmt(f),
            ChunkError::Deflate(e) => e.fmt(f),
        }
    }
}

/// Split every member into chunks of about `chunk_size` data bytes, in
/// archive order. Every member gets at least one chunk, even when empty.
pub fn plan(members: &[Member<'_>], chunk_size: usize) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    for (index, m) in members.iter().enumerate() {
        let len = m.data.len();
        let item = m.data.item_size() as u64;
        let step = ((chunk_size as u64 / item).max(1)) * item;
        let mut start = 0;
        loop {
            let end = (start + step).min(len);
            chunks.push(Chunk {
                member: index,
                start,
                end,
                first: start == 0,
                last: end == len,
            });
            if end == len {
                break;
            }
            start = end;
        }
    }
    chunks
}

/// Per-thread scratch: the encoder and a gather buffer for strided data.
pub struct Worker {
    encoder: ChunkEncoder,
    gather: Vec<u8>,
}

impl Worker {
    /// A worker for one compression setting.
    pub fn new(encoder: ChunkEncoder) -> Self {
        Worker {
            encoder,
            gather: Vec::new(),
        }
    }

    /// Compress one chunk of `member`, primed with the data before it.
    pub fn compress(
        &mut self,
        member: &Member<'_>,
        chunk: &Chunk,
    ) -> Result<Compressed, ChunkError> {
        self.compress_primed(member, chunk, None)
    }

    /// Compress one chunk of `member`, primed with `dict` instead of
    /// re-reading the data before it.
    pub fn compress_after(
        &mut self,
        member: &Member<'_>,
        chunk: &Chunk,
        dict: &[u8],
    ) -> Result<Compressed, ChunkError> {
        self.compress_primed(member, chunk, Some(dict))
    }

    fn compress_primed(
        &mut self,
        member: &Member<'_>,
        chunk: &Chunk,
        given: Option<&[u8]>,
    ) -> Result<Compressed, ChunkError> {
        let len = (chunk.end - chunk.start) as usize;
        let dict_start = match given {
            Some(_) => chunk.start,
            None => chunk.start.saturating_sub(WINDOW as u64),
        };
        let dict_len = (chunk.start - dict_start) as usize;
        let header: &[u8] = if chunk.first { &member.header } else { &[] };
        // Read the chunk (and its history) once, into a per-thread buffer:
        // the CRC, the compressed bytes and the next chunk's check all see
        // the same bytes even if another thread is writing to the array.
        self.gather.resize(dict_len + len, 0);
        member
            .data
            .read_into(dict_start, &mut self.gather)
            .map_err(ChunkError::Layout)?;
        let (read_dict, body) = self.gather.split_at(dict_len);
        let dict = given.unwrap_or(read_dict);
        let mut out = Compressed {
            crc: crc32(crc32(0, header), body),
            len: (header.len() + body.len()) as u64,
            dict: dict.to_vec(),
            tail: body[body.len().saturating_sub(WINDOW)..].to_vec(),
            ..Compressed::default()
        };
        self.encoder
            .encode(dict, &[header, body], chunk.last, &mut out.bytes)
            .map_err(ChunkError::Deflate)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::{Data, Strided};

    fn member(data: Data<'_>) -> Member<'_> {
        Member {
            name: b"x.npy".to_vec(),
            utf8: false,
            header: b"HEADER".to_vec(),
            data,
        }
    }

    #[test]
    fn plan_covers_each_member_once_in_item_sized_steps() {
        let bytes = vec![0u8; 1000];
        let span = vec![0u8; 4000];
        let strided = Strided::new(&span, 0, &[100], &[24], 12).unwrap();
        let members = vec![
            member(Data::Contiguous(&bytes)),
            member(Data::Contiguous(&[])),
            member(Data::Strided(strided)),
        ];
        let chunks = plan(&members, 256);
        for (i, m) in members.iter().enumerate() {
            let mine: Vec<_> = chunks.iter().filter(|c| c.member == i).collect();
            assert!(mine[0].first && mine.last().unwrap().last);
            assert_eq!(mine.last().unwrap().end, m.data.len());
            for w in mine.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(w[0].start % m.data.item_size() as u64, 0);
            }
        }
        assert_eq!(chunks.iter().filter(|c| c.member == 1).count(), 1);
    }
}
