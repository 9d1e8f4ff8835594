//! Where archive bytes go: an append-only stream that can, when seekable,
//! rewrite bytes it already wrote (the local headers, once sizes are known).

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

/// An output for the archive writer.
pub trait Sink {
    /// Append all of `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Overwrite bytes at absolute offset `pos` (only called when seekable),
    /// leaving the append position where it was.
    fn patch(&mut self, pos: u64, buf: &[u8]) -> io::Result<()>;
    /// Push everything written so far to the underlying output.
    fn flush(&mut self) -> io::Result<()>;
}

/// A file opened by path.
pub struct FileSink {
    file: File,
}

impl FileSink {
    /// Wrap an open file; writing starts at its current position.
    pub fn new(file: File) -> Self {
        FileSink { file }
    }

    /// zipfile's seekability probe: `tell()`, then `seek(tell())`. Returns
    /// the start offset (0 when `tell()` fails) and whether seeking works;
    /// pipes and sockets cannot, which selects data descriptors.
    pub fn position(&mut self) -> (u64, bool) {
        match self.file.stream_position() {
            Ok(pos) => (pos, self.file.seek(SeekFrom::Start(pos)).is_ok()),
            Err(_) => (0, false),
        }
    }
}

impl Sink for FileSink {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn patch(&mut self, pos: u64, buf: &[u8]) -> io::Result<()> {
        let end = self.file.stream_position()?;
        self.file.seek(SeekFrom::Start(pos))?;
        self.file.write_all(buf)?;
        self.file.seek(SeekFrom::Start(end))?;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Coalesces small writes (headers, many small members) into few large ones,
/// and patches bytes still in its buffer without touching the output. This
/// matters most for Python file objects, where each write is a Python call.
pub struct Buffered<S: Sink> {
    inner: S,
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    buf_start: u64,
    limit: usize,
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
        }
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
}

/// An in-memory sink, for tests and for callers that want bytes.
#[derive(Debug, Default)]
pub struct VecSink(pub Vec<u8>);

impl Sink for VecSink {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.extend_from_slice(buf);
        Ok(())
    }

    fn patch(&mut self, pos: u64, buf: &[u8]) -> io::Result<()> {
        let at = usize::try_from(pos).map_err(io::Error::other)?;
        let dst = self
            .0
            .get_mut(at..at + buf.len())
            .ok_or_else(|| io::Error::other("patch beyond written data"))?;
        dst.copy_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
