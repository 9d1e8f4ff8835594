//! Zip records laid out as CPython's `zipfile` writes them for numpy
//! (`ZipFile.open(name, "w", force_zip64=True)`), so archives match numpy's
//! field for field apart from the compressed bytes themselves.

/// zipfile's threshold for switching a value to its zip64 form (2**31 - 1).
pub const ZIP64_LIMIT: u64 = (1 << 31) - 1;
/// zipfile's member-count threshold for the zip64 end records.
pub const ZIP_FILECOUNT_LIMIT: u64 = (1 << 16) - 1;
/// The boundary aligned members' data starts on.
const ALIGNMENT: u64 = crate::write::ALIGNMENT;
/// "Version needed" / "made by" once zip64 is involved (always, here).
const ZIP64_VERSION: u8 = 45;
/// zipfile's `create_system`: 0 on Windows, 3 (Unix) elsewhere.
const CREATE_SYSTEM: u8 = if cfg!(windows) { 0 } else { 3 };
/// ZipInfo's default date_time (1980, 1, 1, 0, 0, 0) in DOS form.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// zipfile gives written members `?rw-------`.
const EXTERNAL_ATTR: u32 = 0o600 << 16;

pub use super::entry::{Entry, FLAG_DATA_DESCRIPTOR, FLAG_UTF8};

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The 32-bit form of a value zipfile moves into a zip64 extra above the limit.
fn clamp32(v: u64) -> u32 {
    if v > ZIP64_LIMIT {
        0xFFFF_FFFF
    } else {
        v as u32
    }
}

/// The local file header. With a data descriptor, CRC and sizes are zero
/// here, as zipfile writes them; otherwise they are final (zipfile seeks back
/// and rewrites the header once the member is done).
pub fn local_header(e: &Entry) -> Vec<u8> {
    local_header_padded(e, 0)
}

/// Extra-field id of zipalign's alignment record (Android's
/// `ZipAlign`): readers skip unknown extra records.
const ALIGNMENT_EXTRA_ID: u16 = 0xD935;
/// The smallest alignment record: id, size and the u16 alignment.
pub const MIN_PADDING: u64 = 6;

/// Length of a local header for a name of `name_len` bytes with `pad`
/// bytes of alignment record.
pub fn local_header_len(name_len: usize, pad: u16) -> usize {
    30 + name_len + 20 + usize::from(pad)
}

/// [`local_header`] followed by an alignment record of `pad` bytes (0 for
/// none, else at least [`MIN_PADDING`]), as zipalign writes one, so that
/// the member's data starts where the caller wants it.
pub fn local_header_padded(e: &Entry, pad: u16) -> Vec<u8> {
    let descriptor = e.flags & FLAG_DATA_DESCRIPTOR != 0;
    let (crc, compressed, uncompressed) = if descriptor {
        (0, 0, 0)
    } else {
        (e.crc, e.compressed, e.uncompressed)
    };
    let pad = if u64::from(pad) < MIN_PADDING { 0 } else { pad };
    let mut out = Vec::with_capacity(local_header_len(e.name.len(), pad));
    put32(&mut out, 0x0403_4b50);
    out.push(ZIP64_VERSION);
    out.push(0);
    put16(&mut out, e.flags);
    put16(&mut out, e.method);
    put16(&mut out, DOS_TIME);
    put16(&mut out, DOS_DATE);
    put32(&mut out, crc);
    // force_zip64: the sizes always live in the zip64 extra.
    put32(&mut out, 0xFFFF_FFFF);
    put32(&mut out, 0xFFFF_FFFF);
    put16(&mut out, name_len(&e.name));
    put16(&mut out, 20 + pad);
    out.extend_from_slice(&e.name);
    put16(&mut out, 1);
    put16(&mut out, 16);
    put64(&mut out, uncompressed);
    put64(&mut out, compressed);
    if pad != 0 {
        put16(&mut out, ALIGNMENT_EXTRA_ID);
        put16(&mut out, pad - 4);
        put16(&mut out, ALIGNMENT as u16);
        out.resize(out.len() + usize::from(pad) - 6, 0);
    }
    out
}

/// Name lengths are validated by the caller; a longer name is cut to what the
/// field can hold rather than wrapping around.
fn name_len(name: &[u8]) -> u16 {
    u16::try_from(name.len()).unwrap_or(u16::MAX)
}

/// The zip64 data descriptor zipfile writes after the data of each member
/// on unseekable output.
pub fn data_descriptor(e: &Entry) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..4].copy_from_slice(&0x0807_4b50u32.to_le_bytes());
    out[4..8].copy_from_slice(&e.crc.to_le_bytes());
    out[8..16].copy_from_slice(&e.compressed.to_le_bytes());
    out[16..24].copy_from_slice(&e.uncompressed.to_le_bytes());
    out
}

/// One central directory record.
pub fn central_entry(e: &Entry) -> Vec<u8> {
    let mut extra = Vec::new();
    let big_sizes = e.uncompressed > ZIP64_LIMIT || e.compressed > ZIP64_LIMIT;
    let (compressed, uncompressed) = if big_sizes {
        extra.push(e.uncompressed);
        extra.push(e.compressed);
        (0xFFFF_FFFF, 0xFFFF_FFFF)
    } else {
        (e.compressed as u32, e.uncompressed as u32)
    };
    if e.header_offset > ZIP64_LIMIT {
        extra.push(e.header_offset);
    }
    let extra_len = if extra.is_empty() {
        0
    } else {
        4 + 8 * extra.len()
    };
    let mut out = Vec::with_capacity(46 + e.name.len() + extra_len);
    put32(&mut out, 0x0201_4b50);
    out.push(ZIP64_VERSION);
    out.push(CREATE_SYSTEM);
    out.push(ZIP64_VERSION);
    out.push(0);
    put16(&mut out, e.flags);
    put16(&mut out, e.method);
    put16(&mut out, DOS_TIME);
    put16(&mut out, DOS_DATE);
    put32(&mut out, e.crc);
    put32(&mut out, compressed);
    put32(&mut out, uncompressed);
    put16(&mut out, name_len(&e.name));
    put16(&mut out, extra_len as u16);
    put16(&mut out, 0); // comment length
    put16(&mut out, 0); // disk number start
    put16(&mut out, 0); // internal attributes
    put32(&mut out, EXTERNAL_ATTR);
    put32(&mut out, clamp32(e.header_offset));
    out.extend_from_slice(&e.name);
    if !extra.is_empty() {
        put16(&mut out, 1);
        put16(&mut out, (8 * extra.len()) as u16);
        for v in extra {
            put64(&mut out, v);
        }
    }
    out
}

/// The end records: zip64 end record and locator when zipfile would need
/// them, then the classic end of central directory record.
/// `cd_end` is the absolute offset just past the central directory.
pub fn end_records(count: u64, cd_offset: u64, cd_end: u64) -> Vec<u8> {
    let cd_size = cd_end - cd_offset;
    let mut out = Vec::with_capacity(22 + 56 + 20);
    let zip64 = count > ZIP_FILECOUNT_LIMIT || cd_offset > ZIP64_LIMIT || cd_size > ZIP64_LIMIT;
    let (mut count16, mut size32, mut offset32) = (count, cd_size, cd_offset);
    if zip64 {
        put32(&mut out, 0x0606_4b50);
        put64(&mut out, 44);
        put16(&mut out, 45);
        put16(&mut out, 45);
        put32(&mut out, 0);
        put32(&mut out, 0);
        put64(&mut out, count);
        put64(&mut out, count);
        put64(&mut out, cd_size);
        put64(&mut out, cd_offset);
        put32(&mut out, 0x0706_4b50);
        put32(&mut out, 0);
        put64(&mut out, cd_end);
        put32(&mut out, 1);
        count16 = count.min(0xFFFF);
        size32 = cd_size.min(0xFFFF_FFFF);
        offset32 = cd_offset.min(0xFFFF_FFFF);
    }
    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, count16 as u16);
    put16(&mut out, count16 as u16);
    put32(&mut out, size32 as u32);
    put32(&mut out, offset32 as u32);
    put16(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(offset: u64, size: u64) -> Entry {
        Entry {
            name: b"a.npy".to_vec(),
            flags: 0,
            method: 8,
            crc: 0xDEAD_BEEF,
            compressed: size,
            uncompressed: size,
            header_offset: offset,
        }
    }

    #[test]
    fn small_entries_have_no_central_extra() {
        let c = central_entry(&entry(100, 1000));
        assert_eq!(c.len(), 46 + 5);
        assert_eq!(u32::from_le_bytes([c[42], c[43], c[44], c[45]]), 100);
    }

    #[test]
    fn large_values_move_into_the_central_zip64_extra() {
        let c = central_entry(&entry(ZIP64_LIMIT + 1, ZIP64_LIMIT + 1));
        assert_eq!(c.len(), 46 + 5 + 4 + 24);
        assert_eq!(&c[42..46], &[0xFF; 4]);
        let only_offset = central_entry(&entry(1 << 33, 10));
        assert_eq!(only_offset.len(), 46 + 5 + 12);
        assert_eq!(
            u32::from_le_bytes([
                only_offset[20],
                only_offset[21],
                only_offset[22],
                only_offset[23]
            ]),
            10
        );
    }

    #[test]
    fn zip64_end_records_only_when_needed() {
        assert_eq!(end_records(0, 0, 0).len(), 22);
        assert_eq!(end_records(65_535, 10, 20).len(), 22);
        assert_eq!(end_records(65_536, 10, 20).len(), 22 + 56 + 20);
        assert_eq!(end_records(1, 1 << 32, (1 << 32) + 5).len(), 22 + 56 + 20);
    }

    #[test]
    fn padded_local_headers_end_in_an_alignment_record() {
        let e = entry(0, 10);
        assert_eq!(local_header_padded(&e, 0), local_header(&e));
        let h = local_header_padded(&e, 9);
        assert_eq!(h.len(), local_header_len(5, 9));
        assert_eq!(u16::from_le_bytes([h[28], h[29]]), 20 + 9);
        let rec = &h[30 + 5 + 20..];
        assert_eq!(rec[..6], [0x35, 0xD9, 5, 0, 64, 0]);
        assert!(rec[6..].iter().all(|&b| b == 0));
    }

    #[test]
    fn descriptor_mode_zeroes_local_header_sizes() {
        let mut e = entry(0, 77);
        e.flags = FLAG_DATA_DESCRIPTOR;
        let h = local_header(&e);
        assert_eq!(&h[14..18], &[0; 4]);
        assert_eq!(&h[h.len() - 16..], &[0; 16]);
        let d = data_descriptor(&e);
        assert_eq!(u64::from_le_bytes(d[16..24].try_into().unwrap()), 77);
    }
}
