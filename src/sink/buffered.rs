//! [`Buffered`]: few large writes for many small ones.

use std::io;

use super::Sink;

/// Coalesces small writes (headers, many small members) into few large ones,
/// and patches bytes still in its buffer without touching the output. This
/// matters most for Python file objects, where each write is a Python call.
pub struct Buffered<S: Sink> {
    inner: S,
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    buf_start: u64,
    limit: usize,
    /// Send every patch to the output, as zipfile does (used for Python
    /// file objects, whose seek/write behaviour is theirs to define).
    patch_through: bool,
}

impl<S: Sink> Buffered<S> {
    /// Buffer up to `limit` bytes in front of `inner`, whose append position
    /// is the absolute offset `start`.
    pub fn new(inner: S, start: u64, limit: usize) -> Self {
        Buffered {
            inner,
            buf: Vec::new(),
            buf_start: start,
            limit,
            patch_through: false,
        }
    }

    /// Make every `patch` reach the output (after the buffered bytes), so
    /// the output sees zipfile's seek / write / seek for each member.
    pub fn patch_through(mut self) -> Self {
        self.patch_through = true;
        self
    }

    /// The wrapped sink, still wrapped.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped sink.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn drain(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf)?;
            self.buf_start += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

impl<S: Sink> Sink for Buffered<S> {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() > self.limit {
            self.drain()?;
        }
        if data.len() >= self.limit {
            self.inner.write_all(data)?;
            self.buf_start += data.len() as u64;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(())
    }

    fn patch(&mut self, pos: u64, data: &[u8]) -> io::Result<()> {
        if self.patch_through {
            self.drain()?;
        }
        let end = pos + data.len() as u64;
        if end <= self.buf_start {
            return self.inner.patch(pos, data);
        }
        if pos >= self.buf_start {
            let at = (pos - self.buf_start) as usize;
            let dst = self
                .buf
                .get_mut(at..at + data.len())
                .ok_or_else(|| io::Error::other("patch beyond written data"))?;
            dst.copy_from_slice(data);
            return Ok(());
        }
        // Straddles the flushed part and the buffer.
        let split = (self.buf_start - pos) as usize;
        self.inner.patch(pos, &data[..split])?;
        self.patch(self.buf_start, &data[split..])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }

    fn rewind(&mut self, pos: u64) -> io::Result<()> {
        if pos >= self.buf_start {
            let keep = usize::try_from(pos - self.buf_start).map_err(io::Error::other)?;
            if keep > self.buf.len() {
                return Err(io::Error::other("rewind beyond written data"));
            }
            self.buf.truncate(keep);
            return Ok(());
        }
        self.buf.clear();
        self.inner.rewind(pos)?;
        self.buf_start = pos;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::VecSink;
    use super::*;

    #[test]
    fn buffered_patches_land_wherever_the_bytes_are() {
        let mut b = Buffered::new(VecSink::default(), 0, 8);
        b.write_all(b"abcdef").unwrap();
        b.write_all(b"ghij").unwrap(); // drains "abcdef"
        b.patch(4, b"XYZ").unwrap(); // straddles inner and buffer
        b.patch(0, b"Q").unwrap();
        b.write_all(&[b'k'; 20]).unwrap(); // larger than the buffer
        b.patch(9, b"!").unwrap();
        b.flush().unwrap();
        let mut want = b"QbcdXYZhi!".to_vec();
        want.extend_from_slice(&[b'k'; 20]);
        assert_eq!(b.into_inner().0, want);
    }
}
