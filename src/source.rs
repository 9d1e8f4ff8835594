//! Where archive bytes are read from: a file, by position (so several
//! threads read at once, and the caller's file position is untouched), or
//! memory the caller lends.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::member::Span;

/// Why bytes could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The source ends before the range asked for.
    Eof,
    /// The operating system failed the read.
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Eof => f.write_str("unexpected end of archive"),
            ReadError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReadError {}

/// Random-access bytes.
pub enum Source<'a> {
    /// A regular file, read with positioned reads.
    File {
        /// The open file (its own descriptor).
        file: File,
        /// Its length when the archive was opened.
        len: u64,
    },
    /// Bytes in memory, which their owner may write to meanwhile.
    Memory(Span<'a>),
    /// A range of another source read ahead into memory: reads inside it are
    /// served from there, others from the source itself.
    Prefetched {
        /// The source.
        inner: &'a Source<'a>,
        /// Where the bytes were read from.
        start: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// Another source, with what is read from it measured: how much work
    /// a crafted input causes is then a number a test can bound.
    Counted {
        /// The source.
        inner: &'a Source<'a>,
        /// What was read.
        reads: &'a ReadCount,
    },
}

/// Bytes read from a `Source::Counted`, in total and in the largest read.
#[derive(Debug, Default)]
pub struct ReadCount {
    total: AtomicU64,
    largest: AtomicU64,
}

impl ReadCount {
    /// Bytes read in total.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Bytes read by the largest single read.
    pub fn largest(&self) -> u64 {
        self.largest.load(Ordering::Relaxed)
    }

    fn record(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        self.largest.fetch_max(n, Ordering::Relaxed);
    }
}

impl Source<'_> {
    /// A file, measured now.
    pub fn file(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Source::File { file, len })
    }

    /// Length in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Source::File { len, .. } => *len,
            Source::Memory(span) => span.nbytes() as u64,
            Source::Prefetched { inner, .. } | Source::Counted { inner, .. } => inner.size(),
        }
    }

    /// Fill `buf` with the bytes at `offset`.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = offset.checked_add(buf.len() as u64).ok_or(ReadError::Eof)?;
        if end > self.size() {
            return Err(ReadError::Eof);
        }
        match self {
            Source::File { file, .. } => read_file_at(file, offset, buf),
            Source::Memory(span) => {
                let at = usize::try_from(offset).map_err(|_| ReadError::Eof)?;
                span.copy_to(at, buf).map_err(|_| ReadError::Eof)
            }
            Source::Prefetched {
                inner,
                start,
                bytes,
            } => {
                match offset
                    .checked_sub(*start)
                    .and_then(|at| usize::try_from(at).ok())
                    .and_then(|at| bytes.get(at..at + buf.len()))
                {
                    Some(held) => {
                        buf.copy_from_slice(held);
                        Ok(())
                    }
                    None => inner.read_exact_at(offset, buf),
                }
            }
            Source::Counted { inner, reads } => {
                reads.record(buf.len() as u64);
                inner.read_exact_at(offset, buf)
            }
        }
    }
}

#[cfg(unix)]
fn read_file_at(file: &File, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            // Shorter than when it was measured: truncated meanwhile.
            ReadError::Eof
        } else {
            ReadError::Io(e)
        }
    })
}

#[cfg(windows)]
fn read_file_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> Result<(), ReadError> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(ReadError::Eof),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_positioned_and_bounded() {
        let data: Vec<u8> = (0..=255u8).collect();
        let mem = Source::Memory(Span::from_slice(&data));
        let mut buf = [0u8; 4];
        mem.read_exact_at(10, &mut buf).unwrap();
        assert_eq!(buf, [10, 11, 12, 13]);
        assert!(matches!(
            mem.read_exact_at(253, &mut buf),
            Err(ReadError::Eof)
        ));
        assert!(matches!(
            mem.read_exact_at(u64::MAX, &mut buf),
            Err(ReadError::Eof)
        ));

        let path = std::env::temp_dir().join(format!("fastnpz-source-{}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        let file = Source::file(File::open(&path).unwrap()).unwrap();
        assert_eq!(file.size(), 256);
        file.read_exact_at(250, &mut buf[..2]).unwrap();
        assert_eq!(&buf[..2], &[250, 251]);
        assert!(matches!(
            file.read_exact_at(254, &mut buf),
            Err(ReadError::Eof)
        ));
        std::fs::remove_file(&path).unwrap();
    }
}
