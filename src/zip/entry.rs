//! One member's zip record as the central directory describes it: the one
//! type the writer fills in, an append carries over and the reader parses.

/// Bit 3: sizes and CRC follow the data in a data descriptor.
pub const FLAG_DATA_DESCRIPTOR: u16 = 0x0008;
/// Bit 11: the name is UTF-8.
pub const FLAG_UTF8: u16 = 0x0800;

/// One member's central directory record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name's bytes, as both the local header and the central record
    /// hold them.
    pub name: Vec<u8>,
    /// General-purpose flags (UTF-8, data descriptor, ...).
    pub flags: u16,
    /// 0 stored, 8 deflated.
    pub method: u16,
    /// CRC-32 of the uncompressed bytes.
    pub crc: u32,
    /// Compressed size.
    pub compressed: u64,
    /// Uncompressed size.
    pub uncompressed: u64,
    /// Absolute offset of the local header in the file, past any bytes
    /// before the archive.
    pub header_offset: u64,
}

impl Entry {
    /// The name as zipfile decodes it: UTF-8 with flag bit 11, else cp437,
    /// which agrees with ASCII. Names zipfile would change (a NUL cuts
    /// them) or that need cp437's upper half are refused, with why.
    pub fn decoded_name(&self) -> Result<&str, &'static str> {
        if self.name.contains(&0) {
            return Err("name with a NUL byte");
        }
        if self.flags & FLAG_UTF8 == 0 && !self.name.is_ascii() {
            return Err("cp437 name");
        }
        std::str::from_utf8(&self.name).map_err(|_| "invalid UTF-8 name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &[u8], flags: u16) -> Entry {
        Entry {
            name: name.to_vec(),
            flags,
            method: 8,
            crc: 0,
            compressed: 0,
            uncompressed: 0,
            header_offset: 0,
        }
    }

    #[test]
    fn names_decode_as_zipfile_decodes_them_or_not_at_all() {
        assert_eq!(named(b"a.npy", 0).decoded_name(), Ok("a.npy"));
        let utf8 = "\u{e9}t\u{e9}.npy".as_bytes();
        assert_eq!(
            named(utf8, FLAG_UTF8).decoded_name(),
            Ok("\u{e9}t\u{e9}.npy")
        );
        // Without bit 11 zipfile reads cp437, where these bytes mean "├⌐t├⌐".
        assert!(named(utf8, 0).decoded_name().is_err());
        assert!(named(b"a\0b.npy", FLAG_UTF8).decoded_name().is_err());
        assert!(named(b"\xff.npy", FLAG_UTF8).decoded_name().is_err());
    }
}
