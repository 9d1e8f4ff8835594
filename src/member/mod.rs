//! One archive member: its zip name, its `.npy` header and where its array
//! bytes come from.
//!
//! Array bytes are borrowed, never copied whole: each chunk is copied once,
//! into the compressing thread's buffer. A contiguous array is one `Span`. A
//! non-contiguous view is a span over every byte the view can reach, plus
//! shape and strides relative to it, so every read is bounds-checked.

mod span;

pub use span::Span;

/// Where a member's data bytes come from.
#[derive(Debug, Clone)]
pub enum Data<'a> {
    /// Bytes already in the order they are written: a C- or F-contiguous
    /// buffer, or a pickle produced by Python.
    Contiguous(Span<'a>),
    /// A non-contiguous view, written in C order.
    Strided(Strided<'a>),
}

impl Data<'_> {
    /// Number of bytes this member's data contributes to the `.npy` stream.
    pub fn nbytes(&self) -> u64 {
        match self {
            Data::Contiguous(s) => s.nbytes() as u64,
            Data::Strided(v) => v.nbytes(),
        }
    }

    /// Copy bytes `[start, start + out.len())` of the C-order stream into `out`.
    pub fn read_into(&self, start: u64, out: &mut [u8]) -> Result<(), LayoutError> {
        match self {
            Data::Contiguous(s) => {
                let start = usize::try_from(start).map_err(|_| LayoutError::OutOfBounds)?;
                s.copy_to(start, out)
            }
            Data::Strided(v) => v.read_into(start, out),
        }
    }
}

/// A layout that cannot be read as described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// A stride would step outside the borrowed span.
    OutOfBounds,
    /// shape x itemsize does not fit in memory arithmetic.
    Overflow,
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayoutError::OutOfBounds => f.write_str("array view reaches outside its buffer"),
            LayoutError::Overflow => f.write_str("array size overflows"),
        }
    }
}

/// A non-contiguous N-d view over a span of memory.
#[derive(Debug, Clone)]
pub struct Strided<'a> {
    span: Span<'a>,
    /// Byte offset of element `[0, 0, ...]` inside `span`.
    origin: usize,
    shape: Vec<usize>,
    strides: Vec<isize>,
    itemsize: usize,
}

impl<'a> Strided<'a> {
    /// Describe a view. `origin` is where element zero sits in `span`; every
    /// element any index can reach must lie inside `span`, or this fails.
    pub fn new(
        span: Span<'a>,
        origin: usize,
        shape: &[usize],
        strides: &[isize],
        itemsize: usize,
    ) -> Result<Self, LayoutError> {
        if shape.len() != strides.len() {
            return Err(LayoutError::OutOfBounds);
        }
        let (shape, strides) = simplify(shape, strides, itemsize);
        let view = Strided {
            span,
            origin,
            shape,
            strides,
            itemsize,
        };
        view.check_bounds()?;
        Ok(view)
    }

    /// Number of elements.
    pub fn count(&self) -> u64 {
        self.shape.iter().map(|&n| n as u64).product()
    }

    /// Bytes in the C-order stream.
    pub fn nbytes(&self) -> u64 {
        self.count() * self.itemsize as u64
    }

    fn check_bounds(&self) -> Result<(), LayoutError> {
        if self.count() == 0 || self.itemsize == 0 {
            return Ok(());
        }
        let (mut lo, mut hi) = (self.origin as i128, self.origin as i128);
        for (&n, &s) in self.shape.iter().zip(&self.strides) {
            let reach = (n as i128 - 1) * s as i128;
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        if lo < 0 || hi + self.itemsize as i128 > self.span.nbytes() as i128 {
            return Err(LayoutError::OutOfBounds);
        }
        Ok(())
    }

    /// Offset in `span` of the element with C-order index `flat`, and the
    /// multi-index it decodes to.
    fn locate(&self, mut flat: u64, index: &mut [usize]) -> isize {
        let mut off = self.origin as isize;
        for axis in (0..self.shape.len()).rev() {
            let n = self.shape[axis] as u64;
            let i = (flat % n) as usize;
            flat /= n;
            index[axis] = i;
            off += i as isize * self.strides[axis];
        }
        off
    }

    /// Copy C-order stream bytes `[start, start + out.len())` into `out`.
    pub fn read_into(&self, start: u64, out: &mut [u8]) -> Result<(), LayoutError> {
        if out.is_empty() {
            return Ok(());
        }
        let end = start
            .checked_add(out.len() as u64)
            .ok_or(LayoutError::Overflow)?;
        if end > self.nbytes() {
            return Err(LayoutError::OutOfBounds);
        }
        let item = self.itemsize as u64;
        let ndim = self.shape.len();
        let mut index = vec![0usize; ndim];
        let mut off = self.locate(start / item, &mut index);
        let mut skip = (start % item) as usize;
        let last = ndim - 1;
        let inner_stride = self.strides[last];
        let inner_contig = inner_stride == self.itemsize as isize;
        let mut written = 0usize;
        while written < out.len() {
            // Copy as much of the innermost axis as is contiguous in memory.
            let items_left = self.shape[last] - index[last];
            let run_items = if inner_contig { items_left } else { 1 };
            let run_bytes = run_items * self.itemsize - skip;
            let take = run_bytes.min(out.len() - written);
            let src_start = usize::try_from(off).map_err(|_| LayoutError::OutOfBounds)? + skip;
            self.span
                .copy_to(src_start, &mut out[written..written + take])?;
            written += take;
            skip = 0;
            // Advance the multi-index by the items consumed.
            let advanced = if inner_contig { run_items } else { 1 };
            index[last] += advanced;
            off += advanced as isize * inner_stride;
            let mut axis = last;
            while index[axis] == self.shape[axis] && axis > 0 {
                off -= self.shape[axis] as isize * self.strides[axis];
                index[axis] = 0;
                axis -= 1;
                index[axis] += 1;
                off += self.strides[axis];
            }
        }
        Ok(())
    }
}

/// Drop length-1 axes and merge axes that step through memory as one, so the
/// innermost copy run is as long as the layout allows.
fn simplify(shape: &[usize], strides: &[isize], itemsize: usize) -> (Vec<usize>, Vec<isize>) {
    if shape.contains(&0) {
        return (vec![0], vec![itemsize as isize]);
    }
    let mut out_shape: Vec<usize> = Vec::with_capacity(shape.len());
    let mut out_strides: Vec<isize> = Vec::with_capacity(shape.len());
    for (&n, &s) in shape.iter().zip(strides) {
        if n == 1 {
            continue;
        }
        if let (Some(pn), Some(ps)) = (out_shape.last_mut(), out_strides.last_mut()) {
            if *ps == s * n as isize {
                *pn *= n;
                *ps = s;
                continue;
            }
        }
        out_shape.push(n);
        out_strides.push(s);
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        out_strides.push(itemsize as isize);
    }
    (out_shape, out_strides)
}

/// A member of the archive, ready to be compressed.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    /// The zip name, already encoded (ASCII, or UTF-8 with `utf8` set).
    pub name: Vec<u8>,
    /// Set general-purpose flag bit 11 (the name is UTF-8, not CP437).
    pub utf8: bool,
    /// The `.npy` header bytes that precede the data.
    pub header: Vec<u8>,
    /// The array bytes (or pickle) that follow the header.
    pub data: Data<'a>,
}

impl Member<'_> {
    /// Uncompressed size of the member: header plus data.
    pub fn stream_len(&self) -> u64 {
        self.header.len() as u64 + self.data.nbytes()
    }

    /// Copy bytes `[start, start + out.len())` of the member's stream (its
    /// header, then its data) into `out`.
    pub fn read_stream(&self, start: u64, out: &mut [u8]) -> Result<(), LayoutError> {
        let header = self.header.len() as u64;
        let mut filled = 0;
        if start < header {
            let from = start as usize;
            let take = (self.header.len() - from).min(out.len());
            out[..take].copy_from_slice(&self.header[from..from + take]);
            filled = take;
        }
        let data_start = (start + filled as u64).saturating_sub(header);
        self.data.read_into(data_start, &mut out[filled..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference C-order gather, one element at a time.
    fn naive(
        span: &[u8],
        origin: usize,
        shape: &[usize],
        strides: &[isize],
        item: usize,
    ) -> Vec<u8> {
        let count: usize = shape.iter().product();
        let mut out = Vec::new();
        for flat in 0..count {
            let mut rem = flat;
            let mut off = origin as isize;
            for axis in (0..shape.len()).rev() {
                off += (rem % shape[axis]) as isize * strides[axis];
                rem /= shape[axis];
            }
            out.extend_from_slice(&span[off as usize..off as usize + item]);
        }
        out
    }

    #[test]
    fn gathers_like_the_naive_walk_at_every_offset() {
        let span: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        // (origin, shape, strides, itemsize): steps, transposes, negative
        // strides, broadcasting.
        let cases: Vec<(usize, Vec<usize>, Vec<isize>, usize)> = vec![
            (0, vec![4, 5], vec![40, 8], 4),
            (0, vec![5, 4], vec![8, 40], 8),
            (4000, vec![10, 3], vec![-64, -8], 8),
            (8, vec![3, 1, 7], vec![0, 99, 4], 4),
            (0, vec![2, 3, 4], vec![480, 32, 8], 3),
            (0, vec![6], vec![24], 16),
        ];
        for (origin, shape, strides, item) in cases {
            let view =
                Strided::new(Span::from_slice(&span), origin, &shape, &strides, item).unwrap();
            let want = naive(&span, origin, &shape, &strides, item);
            assert_eq!(view.nbytes(), want.len() as u64);
            for start in 0..want.len() {
                for len in [0, 1, 3, item, 17, want.len() - start] {
                    let len = len.min(want.len() - start);
                    let mut got = vec![0u8; len];
                    view.read_into(start as u64, &mut got).unwrap();
                    assert_eq!(
                        got,
                        want[start..start + len],
                        "{shape:?} {strides:?} @{start}+{len}"
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_views_outside_the_span() {
        let span = [0u8; 64];
        assert!(Strided::new(Span::from_slice(&span), 0, &[9], &[8], 8).is_err());
        assert!(Strided::new(Span::from_slice(&span), 8, &[3], &[-8], 8).is_err());
        assert!(Strided::new(Span::from_slice(&span), 0, &[0, 5], &[8, 8], 8).is_ok());
        let v = Strided::new(Span::from_slice(&span), 0, &[2], &[16], 8).unwrap();
        let mut out = [0u8; 4];
        assert!(v.read_into(14, &mut out).is_err());
    }
}
