//! Writing compressed chunks out as zip members, strictly in order: local
//! header, data, then (for unseekable outputs) a data descriptor; at the
//! end the central directory and end records.
//!
//! The writer owns only its bookkeeping, not the output or the members, so
//! one archive can take members over several calls (`NpzWriter.write`) and
//! be finished later, or continue an existing archive's directory.

use crate::chunk::{Chunk, Compressed};
use crate::encode::{crc32_combine, Compression};
use crate::member::Member;
use crate::sink::Sink;
use crate::zip::entry::{Entry, FLAG_DATA_DESCRIPTOR, FLAG_UTF8};
use crate::zip::records;

use super::{Error, Start};

/// Stored members' data starts on a multiple of this many bytes of the
/// file when alignment is asked for: enough for any numpy dtype, and the
/// `.npy` header is already padded to it.
pub const ALIGNMENT: u64 = 64;

/// Directory records of an archive being continued ("a" mode): kept as
/// they were read, so the members already there are described byte for
/// byte as before.
#[derive(Debug, Clone, Default)]
pub struct Prior {
    /// The old central directory's records, verbatim.
    pub directory: Vec<u8>,
    /// How many records `directory` holds.
    pub count: u64,
    /// Bytes before the archive proper (zipfile's `concat`): offsets in
    /// the directory count from there.
    pub concat: u64,
    /// The old end record's comment, carried into the new end record.
    pub comment: Vec<u8>,
}

/// The in-order writer's state.
#[derive(Debug)]
pub struct ZipWriter {
    pos: u64,
    seekable: bool,
    method: u16,
    /// Pad stored members' local headers so their data is aligned.
    align: bool,
    /// The member being written: its entry so far and its local padding.
    current: Option<(Entry, u16)>,
    entries: Vec<Entry>,
    prior: Prior,
    /// Where the first byte of this writer's output landed.
    first: u64,
}

impl ZipWriter {
    /// A writer appending to an output from `start`.
    pub fn new(start: Start, compression: Compression) -> Self {
        let (pos, seekable) = match start {
            Start::Seekable(p) => (p, true),
            Start::Unseekable(p) => (p, false),
        };
        ZipWriter {
            pos,
            seekable,
            method: compression.method(),
            align: false,
            current: None,
            entries: Vec::new(),
            prior: Prior::default(),
            first: pos,
        }
    }

    /// Start each stored member's data on a multiple of [`ALIGNMENT`].
    pub fn aligned(mut self) -> Self {
        self.align = self.method == 0;
        self
    }

    /// Continue an existing archive: its directory records come first in
    /// the new directory.
    pub fn continuing(mut self, prior: Prior) -> Self {
        self.prior = prior;
        self
    }

    /// Names of the members written so far.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.entries.iter().map(|e| &e.name[..])
    }

    fn put(&mut self, sink: &mut dyn Sink, bytes: &[u8]) -> Result<(), Error> {
        sink.write_all(bytes).map_err(Error::Sink)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Padding that puts the data after a local header at `pos` on an
    /// aligned offset; an extra record needs 6 bytes at least.
    fn padding(&self, name_len: usize) -> u16 {
        if !self.align {
            return 0;
        }
        let data = self.pos + records::local_header_len(name_len, 0) as u64;
        let mut pad = (ALIGNMENT - data % ALIGNMENT) % ALIGNMENT;
        if pad != 0 && pad < records::MIN_PADDING {
            pad += ALIGNMENT;
        }
        pad as u16
    }

    /// Append one chunk of `members`; chunks must come in plan order.
    pub fn chunk(
        &mut self,
        sink: &mut dyn Sink,
        members: &[Member<'_>],
        chunk: &Chunk,
        c: Compressed,
    ) -> Result<(), Error> {
        if chunk.first {
            if self.current.is_some() {
                return Err(Error::Internal(
                    "a member started before the previous one ended",
                ));
            }
            let m = members
                .get(chunk.member)
                .ok_or(Error::Internal("chunk of an unknown member"))?;
            let mut flags = if m.utf8 { FLAG_UTF8 } else { 0 };
            if !self.seekable {
                flags |= FLAG_DATA_DESCRIPTOR;
            }
            let entry = Entry {
                name: m.name.clone(),
                flags,
                method: self.method,
                crc: 0,
                compressed: 0,
                uncompressed: 0,
                header_offset: self.pos,
            };
            let pad = self.padding(m.name.len());
            // Placeholder sizes, as zipfile writes before it knows them.
            self.put(sink, &records::local_header_padded(&entry, pad))?;
            self.current = Some((entry, pad));
        }
        let (mut entry, pad) = self
            .current
            .take()
            .ok_or(Error::Internal("a chunk arrived outside any member"))?;
        entry.crc = crc32_combine(entry.crc, c.crc, c.len);
        entry.uncompressed += c.len;
        entry.compressed += c.bytes.len() as u64;
        self.put(sink, &c.bytes)?;
        if chunk.last {
            if self.seekable {
                sink.patch(
                    entry.header_offset,
                    &records::local_header_padded(&entry, pad),
                )
                .map_err(Error::Sink)?;
            } else {
                self.put(sink, &records::data_descriptor(&entry))?;
            }
            self.entries.push(entry);
        } else {
            self.current = Some((entry, pad));
        }
        Ok(())
    }

    /// Take back the member being written, as if it had never started:
    /// the output is cut back to its local header. Only seekable outputs
    /// can; on failure the archive can only be abandoned.
    pub fn rewind(&mut self, sink: &mut dyn Sink) -> Result<(), Error> {
        let Some((entry, _)) = self.current.take() else {
            return Ok(());
        };
        if !self.seekable {
            self.current = Some((entry, 0));
            return Err(Error::Sink(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "an unseekable output cannot take back a member",
            )));
        }
        sink.rewind(entry.header_offset).map_err(Error::Sink)?;
        self.pos = entry.header_offset;
        Ok(())
    }

    /// Whether a member was left half written (a failed or stopped write).
    pub fn inside_member(&self) -> bool {
        self.current.is_some()
    }

    /// Write the central directory and end records; returns the number of
    /// bytes this writer wrote.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> Result<u64, Error> {
        if self.current.is_some() {
            return Err(Error::Internal("the archive ended inside a member"));
        }
        let concat = self.prior.concat;
        let relative = |at: u64| {
            at.checked_sub(concat)
                .ok_or(Error::Internal("an offset before the archive"))
        };
        let cd_offset = relative(self.pos)?;
        let entries = std::mem::take(&mut self.entries);
        let prior = std::mem::take(&mut self.prior);
        let mut directory = prior.directory;
        directory.reserve(entries.iter().map(|e| 46 + e.name.len() + 28).sum());
        for e in &entries {
            let mut e = e.clone();
            e.header_offset = relative(e.header_offset)?;
            directory.extend_from_slice(&records::central_entry(&e));
        }
        self.put(sink, &directory)?;
        let count = prior.count + entries.len() as u64;
        let mut end = records::end_records(count, cd_offset, relative(self.pos)?);
        if !prior.comment.is_empty() {
            let n = end.len();
            let len = u16::try_from(prior.comment.len())
                .map_err(|_| Error::Internal("an end record comment over 65535 bytes"))?;
            end[n - 2..].copy_from_slice(&len.to_le_bytes());
            end.extend_from_slice(&prior.comment);
        }
        self.put(sink, &end)?;
        sink.flush().map_err(Error::Sink)?;
        self.entries = entries;
        Ok(self.pos - self.first)
    }
}
