//! Writing compressed chunks out as zip members, strictly in order: local
//! header, data, then (for unseekable outputs) a data descriptor; at the
//! end the central directory and end records.

use crate::chunk::{Chunk, Compressed};
use crate::encode::{crc32_combine, Compression};
use crate::member::Member;
use crate::sink::Sink;
use crate::zip::records::{self, Entry, FLAG_DATA_DESCRIPTOR, FLAG_UTF8};

use super::{Error, Start};

/// The in-order writer's state.
pub struct ZipWriter<'m, 's> {
    members: &'m [Member<'m>],
    sink: &'s mut dyn Sink,
    pos: u64,
    seekable: bool,
    method: u16,
    /// The member being written: its entry so far.
    current: Option<Entry>,
    entries: Vec<Entry>,
}

impl<'m, 's> ZipWriter<'m, 's> {
    /// A writer for `members`, appending to `sink` from `start`.
    pub fn new(
        members: &'m [Member<'m>],
        sink: &'s mut dyn Sink,
        start: Start,
        compression: Compression,
    ) -> Self {
        let (pos, seekable) = match start {
            Start::Seekable(p) => (p, true),
            Start::Unseekable(p) => (p, false),
        };
        ZipWriter {
            members,
            sink,
            pos,
            seekable,
            method: compression.method(),
            current: None,
            entries: Vec::with_capacity(members.len()),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.sink.write_all(bytes).map_err(Error::Sink)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Append one chunk; chunks must come in plan order.
    pub fn chunk(&mut self, chunk: &Chunk, c: Compressed) -> Result<(), Error> {
        if chunk.first {
            if self.current.is_some() {
                return Err(Error::Internal(
                    "a member started before the previous one ended",
                ));
            }
            let m = self
                .members
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
            // Placeholder sizes, as zipfile writes before it knows them.
            self.put(&records::local_header(&entry))?;
            self.current = Some(entry);
        }
        let mut entry = self
            .current
            .take()
            .ok_or(Error::Internal("a chunk arrived outside any member"))?;
        entry.crc = crc32_combine(entry.crc, c.crc, c.len);
        entry.uncompressed += c.len;
        entry.compressed += c.bytes.len() as u64;
        self.put(&c.bytes)?;
        if chunk.last {
            if self.seekable {
                self.sink
                    .patch(entry.header_offset, &records::local_header(&entry))
                    .map_err(Error::Sink)?;
            } else {
                self.put(&records::data_descriptor(&entry))?;
            }
            self.entries.push(entry);
        } else {
            self.current = Some(entry);
        }
        Ok(())
    }

    /// Write the central directory and end records; returns the archive's
    /// size in bytes.
    pub fn finish(mut self) -> Result<u64, Error> {
        if self.current.is_some() {
            return Err(Error::Internal("the archive ended inside a member"));
        }
        let start = self.entries.first().map_or(self.pos, |e| e.header_offset);
        let cd_offset = self.pos;
        let entries = std::mem::take(&mut self.entries);
        let mut directory =
            Vec::with_capacity(entries.iter().map(|e| 46 + e.name.len() + 28).sum());
        for e in &entries {
            directory.extend_from_slice(&records::central_entry(e));
        }
        self.put(&directory)?;
        let end = records::end_records(entries.len() as u64, cd_offset, self.pos);
        self.put(&end)?;
        self.sink.flush().map_err(Error::Sink)?;
        Ok(self.pos - start)
    }
}
