//! Reading an archive's central directory as CPython's `zipfile` reads it.
//!
//! Only archives `zipfile` reads in its plainest way are accepted: the end
//! record is the file's last 22 bytes (no archive comment), one disk, every
//! record and field in bounds, names that are UTF-8 (flag bit 11) or ASCII
//! without NUL, and zip64 extras where zipfile expects them. Anything else
//! is `Unsupported`, and the caller reads the archive with `zipfile`
//! itself, which then gives numpy's own results and exceptions. Offsets are
//! corrected for bytes before the archive (a prefix), as zipfile does.

use crate::source::{ReadError, Source};

const END_RECORD: usize = 22;
const END_RECORD_64: usize = 56;
const LOCATOR_64: usize = 20;
const CENTRAL_RECORD: usize = 46;
const LOCAL_HEADER: usize = 30;
/// Largest central directory read whole (zipfile reads it whole too).
const MAX_DIRECTORY: u64 = 1 << 30;

pub use super::entry::{Entry, FLAG_DATA_DESCRIPTOR, FLAG_UTF8};
/// Flag bits this reader handles; any other (encryption, patched data,
/// strong encryption, ...) sends the archive to zipfile. Bits 1-2 are
/// deflate's speed hints.
const KNOWN_FLAGS: u16 = 0x0002 | 0x0004 | FLAG_DATA_DESCRIPTOR | FLAG_UTF8;

/// Why the plain reading does not apply.
#[derive(Debug)]
pub enum Unsupported {
    /// Something zipfile may read differently, or reject (its message
    /// is then the one to give).
    Layout(&'static str),
    /// The bytes could not be read.
    Read(ReadError),
}

impl From<ReadError> for Unsupported {
    fn from(e: ReadError) -> Self {
        Unsupported::Read(e)
    }
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsupported::Layout(why) => f.write_str(why),
            Unsupported::Read(e) => e.fmt(f),
        }
    }
}

/// The central directory, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// Members in directory order.
    pub entries: Vec<Entry>,
    /// Absolute offset of the central directory.
    pub start: u64,
    /// Where zipfile leaves the file position after reading the directory.
    pub end: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// Read the central directory of the archive in `source`, as CPython 3.11's
/// zipfile does.
pub fn read_directory(source: &Source<'_>) -> Result<Directory, Unsupported> {
    read_directory_with(source, false)
}

/// Read the central directory of the archive in `source`. `zip64_check`:
/// check the zip64 end record as newer zipfiles do (CPython 3.13.x and
/// 3.14 raise "Corrupt zip64 end of central directory record/locator"
/// where 3.11's takes the record's fields as they are): the locator must
/// not point past where the record is, the central directory must end
/// where the record starts, and the record's size field must match; a
/// record where the locator points, before extensible data, is the one
/// used.
pub fn read_directory_with(
    source: &Source<'_>,
    zip64_check: bool,
) -> Result<Directory, Unsupported> {
    let len = source.size();
    if len < END_RECORD as u64 {
        return Err(Unsupported::Layout("shorter than an end record"));
    }
    let end_at = len - END_RECORD as u64;
    let mut end = [0u8; END_RECORD];
    source.read_exact_at(end_at, &mut end)?;
    if end[..4] != *b"PK\x05\x06" || u16_at(&end, 20) != 0 {
        return Err(Unsupported::Layout(
            "no end record without comment at the end",
        ));
    }
    let mut count = u64::from(u16_at(&end, 10));
    let mut size = u64::from(u32_at(&end, 12));
    let mut offset = u64::from(u32_at(&end, 16));
    let (mut disk, mut disk_start) = (u16_at(&end, 4), u16_at(&end, 6));
    let mut this_disk = u64::from(u16_at(&end, 8));
    let mut record_at = end_at;
    // zipfile looks for a zip64 locator just before the end record, and
    // for the zip64 end record just before that, whatever the locator says.
    if end_at >= LOCATOR_64 as u64 {
        let mut loc = [0u8; LOCATOR_64];
        source.read_exact_at(end_at - LOCATOR_64 as u64, &mut loc)?;
        if loc[..4] == *b"PK\x06\x07" {
            if u32_at(&loc, 4) != 0 || u32_at(&loc, 16) > 1 {
                return Err(Unsupported::Layout("multi-disk archive"));
            }
            let at = end_at
                .checked_sub((LOCATOR_64 + END_RECORD_64) as u64)
                .ok_or(Unsupported::Layout("zip64 end record before the file"))?;
            let mut rec = [0u8; END_RECORD_64];
            let mut rec_at = at;
            let mut extra = 0u64;
            if zip64_check {
                let located = u64_at(&loc, 8);
                if located > at {
                    return Err(Unsupported::Layout("corrupt zip64 locator"));
                }
                source.read_exact_at(located, &mut rec)?;
                if rec[..4] == *b"PK\x06\x06" || located == at {
                    rec_at = located;
                    extra = at - located;
                }
            }
            if rec_at == at {
                source.read_exact_at(at, &mut rec)?;
            }
            if rec[..4] != *b"PK\x06\x06" {
                return Err(Unsupported::Layout(
                    "zip64 locator without a zip64 end record",
                ));
            }
            if zip64_check {
                let located = u64_at(&loc, 8);
                let dir_end = u64_at(&rec, 48).checked_add(u64_at(&rec, 40));
                let sized = u64_at(&rec, 4).checked_add(12) == Some(END_RECORD_64 as u64 + extra);
                if dir_end != Some(located) || !sized {
                    return Err(Unsupported::Layout("corrupt zip64 end record"));
                }
            }
            disk = u16::try_from(u32_at(&rec, 16)).unwrap_or(u16::MAX);
            disk_start = u16::try_from(u32_at(&rec, 20)).unwrap_or(u16::MAX);
            this_disk = u64_at(&rec, 24);
            count = u64_at(&rec, 32);
            size = u64_at(&rec, 40);
            offset = u64_at(&rec, 48);
            record_at = at - extra;
        }
    }
    if disk != 0 || disk_start != 0 || this_disk != count {
        return Err(Unsupported::Layout("multi-disk fields"));
    }
    // Bytes before the archive shift every offset (zipfile's `concat`).
    let start = record_at.checked_sub(size).ok_or(Unsupported::Layout(
        "central directory larger than the file",
    ))?;
    let concat = start.checked_sub(offset).ok_or(Unsupported::Layout(
        "central directory offset past its position",
    ))?;
    if size > MAX_DIRECTORY || size < count.saturating_mul(CENTRAL_RECORD as u64) {
        return Err(Unsupported::Layout(
            "central directory size does not fit its count",
        ));
    }
    let mut cd = vec![0u8; size as usize];
    source.read_exact_at(start, &mut cd)?;
    let mut entries = Vec::with_capacity(count as usize);
    let mut at = 0usize;
    while at < cd.len() {
        let (entry, next) = central_record(&cd, at, concat, start)?;
        entries.push(entry);
        at = next;
    }
    if entries.len() as u64 != count {
        return Err(Unsupported::Layout(
            "entry count differs from the end record",
        ));
    }
    Ok(Directory {
        entries,
        start,
        end: start + size,
    })
}

/// Parse the central record at `at`; returns it and where the next starts.
fn central_record(
    cd: &[u8],
    at: usize,
    concat: u64,
    cd_start: u64,
) -> Result<(Entry, usize), Unsupported> {
    let fixed = cd
        .get(at..at + CENTRAL_RECORD)
        .ok_or(Unsupported::Layout("truncated central record"))?;
    if fixed[..4] != *b"PK\x01\x02" {
        return Err(Unsupported::Layout("bad central record signature"));
    }
    let extract_version = fixed[6];
    if extract_version > 63 {
        return Err(Unsupported::Layout("zip version zipfile rejects"));
    }
    let flags = u16_at(fixed, 8);
    let method = u16_at(fixed, 10);
    let crc = u32_at(fixed, 16);
    let mut compressed = u64::from(u32_at(fixed, 20));
    let mut uncompressed = u64::from(u32_at(fixed, 24));
    let name_len = usize::from(u16_at(fixed, 28));
    let extra_len = usize::from(u16_at(fixed, 30));
    let comment_len = usize::from(u16_at(fixed, 32));
    let mut header_offset = u64::from(u32_at(fixed, 42));
    let name_at = at + CENTRAL_RECORD;
    let extra_at = name_at + name_len;
    let next = extra_at + extra_len + comment_len;
    if next > cd.len() {
        return Err(Unsupported::Layout(
            "central record runs past the directory",
        ));
    }
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Unsupported::Layout("flags this reader leaves to zipfile"));
    }
    let name = cd[name_at..extra_at].to_vec();
    // zipfile's _decodeExtra: zip64 values replace the 32-bit ones that
    // are saturated, in this order.
    let mut extra = &cd[extra_at..extra_at + extra_len];
    while extra.len() >= 4 {
        let tp = u16_at(extra, 0);
        let ln = usize::from(u16_at(extra, 2));
        let body = extra
            .get(4..4 + ln)
            .ok_or(Unsupported::Layout("corrupt extra field"))?;
        if tp == 1 {
            let mut values = body.chunks_exact(8).map(|c| u64_at(c, 0));
            if uncompressed == 0xFFFF_FFFF {
                uncompressed = values
                    .next()
                    .ok_or(Unsupported::Layout("corrupt zip64 extra"))?;
            }
            if compressed == 0xFFFF_FFFF {
                compressed = values
                    .next()
                    .ok_or(Unsupported::Layout("corrupt zip64 extra"))?;
            }
            if header_offset == 0xFFFF_FFFF {
                header_offset = values
                    .next()
                    .ok_or(Unsupported::Layout("corrupt zip64 extra"))?;
            }
        }
        extra = &extra[4 + ln..];
    }
    if !extra.is_empty() {
        // zipfile ignores 1-3 trailing bytes; rare enough to leave to it.
        return Err(Unsupported::Layout("trailing bytes in an extra field"));
    }
    let header_offset = header_offset
        .checked_add(concat)
        .filter(|&h| {
            h.checked_add(LOCAL_HEADER as u64)
                .is_some_and(|e| e <= cd_start)
        })
        .ok_or(Unsupported::Layout(
            "local header offset outside the archive",
        ))?;
    let entry = Entry {
        name,
        flags,
        method,
        crc,
        compressed,
        uncompressed,
        header_offset,
    };
    entry.decoded_name().map_err(Unsupported::Layout)?;
    Ok((entry, next))
}

/// Where a member's data lies: checks its local header as zipfile does
/// (signature, the same name bytes and flags as the central record) and
/// that the data fits before the central directory.
pub fn data_range(
    source: &Source<'_>,
    entry: &Entry,
    directory_start: u64,
) -> Result<std::ops::Range<u64>, Unsupported> {
    let mut fixed = [0u8; LOCAL_HEADER];
    source.read_exact_at(entry.header_offset, &mut fixed)?;
    if fixed[..4] != *b"PK\x03\x04" {
        return Err(Unsupported::Layout("bad local header signature"));
    }
    let flags = u16_at(&fixed, 6);
    let name_len = u64::from(u16_at(&fixed, 26));
    let extra_len = u64::from(u16_at(&fixed, 28));
    if flags != entry.flags || name_len != entry.name.len() as u64 {
        return Err(Unsupported::Layout(
            "local header differs from the central record",
        ));
    }
    let mut name = vec![0u8; entry.name.len()];
    source.read_exact_at(entry.header_offset + LOCAL_HEADER as u64, &mut name)?;
    if name != entry.name {
        return Err(Unsupported::Layout(
            "local name differs from the central name",
        ));
    }
    let start = entry.header_offset + LOCAL_HEADER as u64 + name_len + extra_len;
    let end = start
        .checked_add(entry.compressed)
        .filter(|&e| e <= directory_start)
        .ok_or(Unsupported::Layout(
            "member data runs past the central directory",
        ))?;
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::{Data, Member, Span};
    use crate::sink::testing::VecSink;
    use crate::write::{write_archive, Options, Start};

    fn archive(prefix: &[u8], names: &[&str], seekable: bool) -> Vec<u8> {
        let datas: Vec<Vec<u8>> = names.iter().map(|n| n.repeat(100).into_bytes()).collect();
        let members: Vec<Member<'_>> = names
            .iter()
            .zip(&datas)
            .map(|(n, d)| Member {
                name: n.as_bytes().to_vec(),
                utf8: !n.is_ascii(),
                header: Vec::new(),
                data: Data::Contiguous(Span::from_slice(d)),
            })
            .collect();
        let mut sink = VecSink(prefix.to_vec());
        let start = if seekable {
            Start::Seekable(prefix.len() as u64)
        } else {
            Start::Unseekable(prefix.len() as u64)
        };
        write_archive(
            &members,
            &mut sink,
            start,
            &Options::default(),
            &mut |_, _| Ok(()),
        )
        .unwrap();
        sink.0
    }

    /// An empty zip64 archive: end record, locator, end record; the zip64
    /// record's size field says `size` and the locator points at `located`.
    fn empty_zip64(size: u64, located: u64) -> Vec<u8> {
        let mut out = b"PK\x06\x06".to_vec();
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&[45, 0, 45, 0]);
        out.extend_from_slice(&[0; 8 + 32]);
        out.extend_from_slice(b"PK\x06\x07\0\0\0\0");
        out.extend_from_slice(&located.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 18]);
        out
    }

    #[test]
    fn the_zip64_end_record_is_checked_as_newer_zipfiles_check_it() {
        let read = |bytes: &[u8], check: bool| {
            read_directory_with(&Source::Memory(Span::from_slice(bytes)), check).is_ok()
        };
        // As written: both rules accept it.
        let good = empty_zip64(44, 0);
        assert!(read(&good, false) && read(&good, true));
        // Its size field one too large (CPython 3.13.18 and 3.14.10 raise
        // "Corrupt zip64 end of central directory record"; 3.11 reads it).
        let sized = empty_zip64(45, 0);
        assert!(read(&sized, false) && !read(&sized, true));
        // The locator pointing past the record ("... locator").
        let past = empty_zip64(44, 1);
        assert!(read(&past, false) && !read(&past, true));
    }

    #[test]
    fn reads_what_the_writer_writes_with_a_prefix_and_descriptors() {
        for (prefix, seekable) in [
            (&b""[..], true),
            (&b"some prefix"[..], true),
            (&b"xx"[..], false),
        ] {
            let bytes = archive(prefix, &["a.npy", "\u{e9}t\u{e9}.npy", "c"], seekable);
            let src = Source::Memory(Span::from_slice(&bytes));
            let dir = read_directory(&src).unwrap();
            let names: Vec<_> = dir
                .entries
                .iter()
                .map(|e| e.decoded_name().unwrap())
                .collect();
            assert_eq!(names, ["a.npy", "\u{e9}t\u{e9}.npy", "c"]);
            assert_eq!(dir.end, bytes.len() as u64 - 22);
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
            for (i, e) in dir.entries.iter().enumerate() {
                let range = data_range(&src, e, dir.start).unwrap();
                let theirs = z.by_index(i).unwrap();
                assert_eq!(range.start, theirs.data_start().unwrap());
                assert_eq!(e.crc, theirs.crc32());
                assert_eq!(e.uncompressed, theirs.size());
            }
        }
    }

    #[test]
    fn anything_unusual_is_left_to_zipfile() {
        let good = archive(b"", &["a.npy", "b.npy"], true);
        // A comment after the end record.
        let mut commented = good.clone();
        let n = commented.len();
        commented[n - 2] = 3;
        commented.extend_from_slice(b"abc");
        // Every truncation, and every single-byte change of the directory
        // and end record, is either read identically or refused.
        let src = Source::Memory(Span::from_slice(&commented));
        assert!(read_directory(&src).is_err());
        for cut in 0..good.len() {
            let src = Source::Memory(Span::from_slice(&good[..cut]));
            assert!(read_directory(&src).is_err(), "truncated at {cut}");
        }
        let dir = read_directory(&Source::Memory(Span::from_slice(&good))).unwrap();
        for at in dir.start as usize..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x5A;
            let src = Source::Memory(Span::from_slice(&bad));
            if let Ok(d) = read_directory(&src) {
                // Only fields zipfile ignores may change undetected.
                assert_eq!(d.entries.len(), 2, "byte {at}");
            }
        }
    }
}
