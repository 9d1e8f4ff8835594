//! Reading a `.npy` header the way `numpy.lib.format` reads it, for the
//! headers numpy writes: anything else is `Unsupported` and numpy's own
//! parser reads it (and gives its own exceptions).

/// What numpy's `read_array` learns from a header it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The `descr` string, e.g. `<f8`: numpy's `dtype(descr)`.
    pub descr: String,
    /// Whether the data is in Fortran order.
    pub fortran_order: bool,
    /// The shape.
    pub shape: Vec<u64>,
    /// Bytes before the data: magic, version, length field and header.
    pub len: usize,
    /// numpy's `len(header)`: characters of the decoded header, which it
    /// compares with `max_header_size`.
    pub text_len: usize,
}

/// Why this parser leaves a header to numpy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// Not enough bytes yet: call again with at least this many.
    NeedBytes(usize),
    /// Not a header this parser reads.
    Other,
}

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Parse the header at the start of `bytes`.
pub fn parse_header(bytes: &[u8]) -> Result<NpyHeader, Unsupported> {
    if bytes.len() < 10 {
        return Err(Unsupported::NeedBytes(12));
    }
    if bytes[..6] != *MAGIC || bytes[7] != 0 {
        return Err(Unsupported::Other);
    }
    let (prefix, text_len) = length_field(bytes)?;
    let len = prefix + text_len;
    let Some(text) = bytes.get(prefix..len) else {
        return Err(Unsupported::NeedBytes(len));
    };
    // ASCII only: then latin-1 and UTF-8 decode alike, and the character
    // count is the byte count. (Non-ASCII appears only in structured
    // dtypes' field names, which this parser leaves to numpy anyway.)
    if !text.is_ascii() {
        return Err(Unsupported::Other);
    }
    let text = std::str::from_utf8(text).map_err(|_| Unsupported::Other)?;
    let dict = text.trim_end_matches([' ', '\n']);
    let mut p = Parser { s: dict, at: 0 };
    p.expect("{")?;
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    loop {
        p.space();
        if p.eat("}") {
            break;
        }
        let key = p.string()?;
        p.space();
        p.expect(":")?;
        p.space();
        match key {
            "descr" if descr.is_none() => descr = Some(p.string()?.to_owned()),
            "fortran_order" if fortran.is_none() => fortran = Some(p.boolean()?),
            "shape" if shape.is_none() => shape = Some(p.tuple()?),
            _ => return Err(Unsupported::Other),
        }
        p.space();
        if !p.eat(",") {
            p.space();
            p.expect("}")?;
            break;
        }
    }
    if p.at != p.s.len() {
        return Err(Unsupported::Other);
    }
    let (Some(descr), Some(fortran_order), Some(shape)) = (descr, fortran, shape) else {
        return Err(Unsupported::Other);
    };
    if !simple_descr(&descr) {
        return Err(Unsupported::Other);
    }
    Ok(NpyHeader {
        descr,
        fortran_order,
        shape,
        len,
        text_len,
    })
}

/// Where the header text starts and how many bytes it has, from the
/// version byte and the length field after the magic.
fn length_field(bytes: &[u8]) -> Result<(usize, usize), Unsupported> {
    match bytes.get(6) {
        Some(1) => match bytes.get(8..10) {
            Some(b) => Ok((10, usize::from(u16::from_le_bytes([b[0], b[1]])))),
            None => Err(Unsupported::NeedBytes(10)),
        },
        Some(2 | 3) => {
            let Some(b) = bytes.get(8..12) else {
                return Err(Unsupported::NeedBytes(12));
            };
            let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            Ok((12, usize::try_from(n).map_err(|_| Unsupported::Other)?))
        }
        Some(_) => Err(Unsupported::Other),
        None => Err(Unsupported::NeedBytes(12)),
    }
}

/// The whole header (magic through padding) at the start of `bytes`, for
/// a header this parser leaves to numpy: only its length field is read.
pub fn header_bytes(bytes: &[u8]) -> Option<&[u8]> {
    let (prefix, text_len) = length_field(bytes).ok()?;
    bytes.get(..prefix.checked_add(text_len)?)
}

/// A plain typestr such as `<f8`, `|b1`, `<U12` or `<M8[ns]`: a byte-order
/// character, a kind, an item size, an optional unit. Structured and
/// subarray descrs (lists, tuples) are numpy's to read.
fn simple_descr(d: &str) -> bool {
    let b = d.as_bytes();
    if b.len() < 2 || !matches!(b[0], b'<' | b'>' | b'|' | b'=') {
        return false;
    }
    b[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'[' | b']'))
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn space(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start_matches(' ').len();
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<(), Unsupported> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(Unsupported::Other)
        }
    }

    /// A single-quoted string without escapes.
    fn string(&mut self) -> Result<&'a str, Unsupported> {
        self.expect("'")?;
        let rest = self.rest();
        let end = rest.find('\'').ok_or(Unsupported::Other)?;
        let s = &rest[..end];
        if s.contains('\\') {
            return Err(Unsupported::Other);
        }
        self.at += end + 1;
        Ok(s)
    }

    fn boolean(&mut self) -> Result<bool, Unsupported> {
        if self.eat("True") {
            Ok(true)
        } else if self.eat("False") {
            Ok(false)
        } else {
            Err(Unsupported::Other)
        }
    }

    /// `()`, `(n,)` or `(n, m, ...)` of plain decimal integers.
    fn tuple(&mut self) -> Result<Vec<u64>, Unsupported> {
        self.expect("(")?;
        let mut out = Vec::new();
        loop {
            self.space();
            if self.eat(")") {
                // `()`, or after a trailing comma.
                return Ok(out);
            }
            out.push(self.integer()?);
            self.space();
            if !self.eat(",") {
                self.space();
                self.expect(")")?;
                // `(n)` is an int, not a tuple: numpy rejects it.
                if out.len() == 1 {
                    return Err(Unsupported::Other);
                }
                return Ok(out);
            }
        }
    }

    fn integer(&mut self) -> Result<u64, Unsupported> {
        let rest = self.rest();
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        // No leading zeros (`01` is a syntax error in Python), no signs.
        if digits == 0 || (digits > 1 && rest.starts_with('0')) {
            return Err(Unsupported::Other);
        }
        let v = rest[..digits].parse().map_err(|_| Unsupported::Other)?;
        self.at += digits;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::header::build_header;

    #[test]
    fn reads_every_header_numpy_writes() {
        for (descr, fortran, shape) in [
            ("'<f8'", false, vec![3u64, 4]),
            ("'|b1'", true, vec![]),
            ("'<U12'", false, vec![0]),
            ("'<M8[ns]'", false, vec![7]),
            ("'>i2'", true, vec![2, 3, 5, 7]),
            ("'|V16'", false, vec![1 << 40]),
        ] {
            let (bytes, _) = build_header(descr, fortran, &shape).unwrap();
            let h = parse_header(&bytes).unwrap_or_else(|e| panic!("{descr} {shape:?}: {e:?}"));
            assert_eq!(h.descr, descr.trim_matches('\''));
            assert_eq!(h.fortran_order, fortran);
            assert_eq!(h.shape, shape);
            assert_eq!(h.len, bytes.len());
        }
    }

    #[test]
    fn asks_for_more_bytes_and_refuses_the_rest() {
        let (bytes, _) = build_header("'<f8'", false, &[3]).unwrap();
        assert_eq!(parse_header(&bytes[..5]), Err(Unsupported::NeedBytes(12)));
        assert_eq!(
            parse_header(&bytes[..20]),
            Err(Unsupported::NeedBytes(bytes.len()))
        );
        for bad in [
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3), }",
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (03,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}",
            "{'descr': '<f8', 'shape': (3,), }",
            "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3L,), }",
        ] {
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend_from_slice(&(bad.len() as u16).to_le_bytes());
            b.extend_from_slice(bad.as_bytes());
            assert_eq!(parse_header(&b), Err(Unsupported::Other), "{bad}");
        }
        assert_eq!(
            parse_header(b"\x93NUMPY\x04\x00abcdefgh"),
            Err(Unsupported::Other)
        );
    }
}
