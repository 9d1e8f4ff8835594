//! The `.npy` header, written exactly as `numpy.lib.format` writes it, for
//! the Rust side's own archives (tests, fixtures). Saving from Python takes
//! each header from numpy's writer instead (`_savez._header`), so that its
//! text, version rules and warnings follow the installed numpy.
//!
//! The caller supplies `repr(descr)` (numpy's own `dtype_to_descr`, rendered by
//! Python), because reproducing Python's `repr` of nested descr lists in Rust
//! would be a second, drifting copy of numpy's logic. Everything after that,
//! the dict text, growth-axis spaces, alignment and format version, is here.

/// numpy pads the whole prefix (magic + length + header) to this multiple so
/// the data that follows is aligned for memory mapping.
const ARRAY_ALIGN: usize = 64;
/// Spare digits reserved so a file's growing axis can be rewritten in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The `.npy` format version a header was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 1.0: latin-1 header, 16-bit length.
    V1,
    /// 2.0: latin-1 header, 32-bit length (numpy warns).
    V2,
    /// 3.0: UTF-8 header, 32-bit length (numpy warns).
    V3,
}

impl Version {
    /// `(major, minor)` as numpy spells it.
    pub fn as_tuple(self) -> (u8, u8) {
        match self {
            Version::V1 => (1, 0),
            Version::V2 => (2, 0),
            Version::V3 => (3, 0),
        }
    }
}

/// Why a header cannot be written (numpy raises ValueError for the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderTooBig(pub usize);

impl std::fmt::Display for HeaderTooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Header length {} too big for version=(3, 0)", self.0)
    }
}

/// The dict text numpy builds before encoding: sorted keys, `repr` values and
/// a trailing `", "`, then spare spaces for the growth axis.
pub fn header_text(descr_repr: &str, fortran_order: bool, shape: &[u64]) -> String {
    let mut s = String::with_capacity(96 + descr_repr.len());
    s.push_str("{'descr': ");
    s.push_str(descr_repr);
    s.push_str(", 'fortran_order': ");
    s.push_str(if fortran_order { "True" } else { "False" });
    s.push_str(", 'shape': ");
    s.push_str(&shape_repr(shape));
    s.push_str(", }");
    if !shape.is_empty() {
        // Fortran files grow along the last axis, C files along the first.
        let axis = if fortran_order {
            shape[shape.len() - 1]
        } else {
            shape[0]
        };
        let digits = axis.to_string().len();
        let spare = GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits);
        s.extend(std::iter::repeat_n(' ', spare));
    }
    s
}

/// Python's `repr` of a tuple of ints.
fn shape_repr(shape: &[u64]) -> String {
    match shape {
        [] => "()".to_owned(),
        [one] => format!("({one},)"),
        many => {
            let parts: Vec<String> = many.iter().map(u64::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// A complete header: magic, version, length, text, padding and `\n`, in the
/// first version that can hold it (numpy's `_wrap_header_guess_version`).
pub fn build_header(
    descr_repr: &str,
    fortran_order: bool,
    shape: &[u64],
) -> Result<(Vec<u8>, Version), HeaderTooBig> {
    let text = header_text(descr_repr, fortran_order, shape);
    match latin1(&text) {
        Some(bytes) => match wrap(&bytes, Version::V1) {
            Some(h) => Ok((h, Version::V1)),
            None => wrap(&bytes, Version::V2)
                .map(|h| (h, Version::V2))
                .ok_or(HeaderTooBig(bytes.len() + 1)),
        },
        None => wrap(text.as_bytes(), Version::V3)
            .map(|h| (h, Version::V3))
            .ok_or(HeaderTooBig(text.len() + 1)),
    }
}

/// Latin-1 bytes of `text`, or `None` when a character is above U+00FF.
fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

fn wrap(header: &[u8], version: Version) -> Option<Vec<u8>> {
    let len_size = if version == Version::V1 { 2 } else { 4 };
    let hlen = header.len() + 1;
    let prefix = MAGIC.len() + 2 + len_size;
    let padlen = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
    let total = hlen + padlen;
    let mut out = Vec::with_capacity(prefix + total);
    out.extend_from_slice(MAGIC);
    let (major, minor) = version.as_tuple();
    out.push(major);
    out.push(minor);
    if version == Version::V1 {
        out.extend_from_slice(&u16::try_from(total).ok()?.to_le_bytes());
    } else {
        out.extend_from_slice(&u32::try_from(total).ok()?.to_le_bytes());
    }
    out.extend_from_slice(header);
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_invariants(h: &[u8]) {
        assert_eq!(h.len() % ARRAY_ALIGN, 0, "prefix not aligned");
        assert_eq!(h.last(), Some(&b'\n'));
        assert_eq!(&h[..6], MAGIC);
    }

    #[test]
    fn small_headers_are_version_1_and_aligned() {
        for shape in [&[][..], &[0], &[3], &[2, 3, 4], &[u64::MAX]] {
            let (h, v) = build_header("'<f8'", false, shape).unwrap();
            assert_eq!(v, Version::V1);
            check_invariants(&h);
            let len = u16::from_le_bytes([h[8], h[9]]) as usize;
            assert_eq!(len + 10, h.len());
        }
    }

    #[test]
    fn growth_spaces_follow_the_growth_axis() {
        let c = header_text("'<i4'", false, &[12345, 7]);
        let f = header_text("'<i4'", true, &[12345, 7]);
        assert_eq!(c.len() - c.trim_end().len(), 21 - 5);
        assert_eq!(f.len() - f.trim_end().len(), 21 - 1);
        assert!(header_text("'<i4'", false, &[]).ends_with(", }"));
    }

    #[test]
    fn non_latin1_goes_to_version_3_and_long_to_version_2() {
        let (h, v) = build_header("[('\u{0394}', '<i4')]", false, &[1]).unwrap();
        assert_eq!(v, Version::V3);
        check_invariants(&h);
        // Latin-1 but not ASCII stays in 1.0, one byte per character.
        let (h, v) = build_header("[('\u{00e9}', '<i4')]", false, &[1]).unwrap();
        assert_eq!(v, Version::V1);
        assert!(h.windows(1).any(|w| w == [0xe9]));
        let long = format!("'{}'", "x".repeat(70_000));
        let (h, v) = build_header(&long, false, &[1]).unwrap();
        assert_eq!(v, Version::V2);
        check_invariants(&h);
    }
}
