//! Where archive bytes go: an append-only stream that can, when seekable,
//! rewrite bytes it already wrote (the local headers, once sizes are known).
//!
//! The byte sink ([`Sink`], [`FileSink`], [`Buffered`]) knows nothing of
//! paths; [`PathTarget`] holds the rules for replacing a path atomically,
//! as `open(path, "w+b")` would have written it.

mod buffered;
mod path_target;

pub use buffered::Buffered;
pub use path_target::PathTarget;

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
    /// Forget everything from absolute offset `pos` on: the next byte
    /// appended lands at `pos` (only called when seekable). Outputs that
    /// cannot cut themselves short refuse.
    fn rewind(&mut self, _pos: u64) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this output cannot take back what was written",
        ))
    }
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

    /// Move the append position.
    pub fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.file.seek(to)
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

    fn rewind(&mut self, pos: u64) -> io::Result<()> {
        self.file.set_len(pos)?;
        self.file.seek(SeekFrom::Start(pos)).map(drop)
    }
}

/// An in-memory sink for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::Sink;
    use std::io;

    #[derive(Debug, Default)]
    pub(crate) struct VecSink(pub Vec<u8>);

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

        fn rewind(&mut self, pos: u64) -> io::Result<()> {
            let at = usize::try_from(pos).map_err(io::Error::other)?;
            self.0.truncate(at);
            Ok(())
        }
    }
}
