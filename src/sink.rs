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

/// A path opened for writing so that a failed write never loses the file
/// that was there: bytes go to a temporary file in the same directory, which
/// replaces the target only on [`PathTarget::commit`]. Dropping an
/// uncommitted target removes the temporary file.
///
/// What `open(path, "w+b")` would do is kept visible: an existing file's
/// permission bits (and, where allowed, owner) carry over, a new file gets
/// `0o666` less the umask, and a symlink's target is what gets replaced.
/// Where replacing would change what numpy does, the path is written in
/// place instead, as numpy writes it: FIFOs and devices such as
/// `/dev/stdout`, files with several hard links, dangling symlinks, and
/// directories where no temporary file can be created.
pub struct PathTarget {
    file: File,
    /// (temporary path, final path) while the write is atomic.
    rename: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Never replace a file that appeared meanwhile (`open(path, "xb")`).
    exclusive: bool,
}

impl PathTarget {
    /// Open `path` the way zipfile's `open(path, "w+b")` would, but through
    /// a temporary file where that is safe.
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let destination = atomic_destination(path);
        if let Some((_, Some(_))) = destination {
            // Replacing needs only the directory to be writable; numpy
            // writes the file itself, so a read-only file must stay an error.
            open_existing(path)?;
        }
        match destination {
            Some((dest, existing)) => match create_temp(&dest) {
                Ok((temp, file)) => {
                    if let Some(meta) = existing {
                        carry_over(&file, &meta);
                    }
                    Ok(PathTarget {
                        file,
                        rename: Some((temp, dest)),
                        exclusive: false,
                    })
                }
                Err(_) => Self::in_place(path),
            },
            None => Self::in_place(path),
        }
    }

    /// zipfile's open: `w+b`, and `wb` when that fails.
    fn in_place(path: &std::path::Path) -> io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        let file = match options.open(path) {
            Ok(f) => f,
            Err(_) => options.read(false).open(path)?,
        };
        Ok(PathTarget {
            file,
            rename: None,
            exclusive: false,
        })
    }

    /// Open a path that must not exist yet, as `open(path, "xb")` would,
    /// through a temporary file that is linked into place at commit: a
    /// file created there meanwhile makes the commit fail, and is kept.
    pub fn create_new(path: &std::path::Path) -> io::Result<Self> {
        match create_temp(path) {
            Ok((temp, file)) => Ok(PathTarget {
                file,
                rename: Some((temp, path.to_path_buf())),
                exclusive: true,
            }),
            Err(_) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(path)?;
                Ok(PathTarget {
                    file,
                    rename: None,
                    exclusive: true,
                })
            }
        }
    }

    /// The open file to write through.
    pub fn file(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Put the written file in place.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some((temp, dest)) = self.rename.take() {
            if self.exclusive {
                // A hard link never replaces an existing file; rename would.
                let linked = std::fs::hard_link(&temp, &dest);
                let _ = std::fs::remove_file(&temp);
                return linked;
            }
            if let Err(e) = std::fs::rename(&temp, &dest) {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Drop for PathTarget {
    fn drop(&mut self) {
        if let Some((temp, _)) = self.rename.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Whether zipfile could open the existing file for writing (`w+b`, then
/// `wb`), without creating or truncating it.
fn open_existing(path: &std::path::Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(_) => options.read(false).open(path).map(drop),
    }
}

/// Where an atomic write should land (symlinks resolved) and the metadata of
/// the file it replaces, or `None` when the path must be written in place.
fn atomic_destination(
    path: &std::path::Path,
) -> Option<(std::path::PathBuf, Option<std::fs::Metadata>)> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            if !meta.is_file() || hard_links(&meta) > 1 {
                return None;
            }
            Some((std::fs::canonicalize(path).ok()?, Some(meta)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A dangling symlink: open() would create its target; leave that
            // to open() itself.
            if std::fs::symlink_metadata(path).is_ok() {
                return None;
            }
            Some((path.to_path_buf(), None))
        }
        Err(_) => None,
    }
}

#[cfg(unix)]
fn hard_links(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn hard_links(_: &std::fs::Metadata) -> u64 {
    1
}

fn create_temp(dest: &std::path::Path) -> io::Result<(std::path::PathBuf, File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{name}.{}-{n}.fastnpz-tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o666);
        match options.open(&temp) {
            Ok(f) => return Ok((temp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Give the new file the replaced file's permission bits and, where the
/// process may, its owner, as writing in place would have kept them.
fn carry_over(file: &File, meta: &std::fs::Metadata) {
    let _ = file.set_permissions(meta.permissions());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
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

#[cfg(test)]
mod tests {
    use super::testing::VecSink;
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

    fn temp_files(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".fastnpz-tmp"))
            .collect()
    }

    #[test]
    fn path_target_replaces_only_on_commit() {
        let dir = std::env::temp_dir().join(format!("fastnpz-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.npz");
        std::fs::write(&path, b"old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        {
            let t = PathTarget::open(&path).unwrap();
            t.file().unwrap().write_all(b"new").unwrap();
            assert_eq!(temp_files(&dir).len(), 1, "writes go to a temporary file");
            // dropped without commit
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(temp_files(&dir).is_empty());
        let t = PathTarget::open(&path).unwrap();
        t.file().unwrap().write_all(b"new").unwrap();
        t.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        assert!(temp_files(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
