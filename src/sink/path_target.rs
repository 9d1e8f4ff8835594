//! [`PathTarget`]: the rules for replacing a path atomically, apart from
//! the bytes written into it.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A path opened for writing so that a failed write never loses the file
/// that was there. Three ways, one rule: until [`PathTarget::commit`], the
/// path reads as it did before; [`PathTarget::abandon`] (or a drop without
/// commit) leaves it so.
///
/// - **Replacing** ([`PathTarget::open`], [`PathTarget::create_new`]):
///   bytes go to a temporary file in the same directory, renamed over the
///   path (or, exclusively, hard-linked into place) at commit. What
///   `open(path, "w+b")` would do is kept visible: an existing file's
///   permission bits (and, where allowed, owner) carry over, a new file
///   gets `0o666` less the umask, and a symlink's target is what gets
///   replaced. Where replacing would change what numpy does, the path is
///   written in place instead, as numpy writes it: FIFOs and devices such
///   as `/dev/stdout`, files with several hard links, dangling symlinks,
///   and directories where no temporary file can be created.
/// - **Appending** ([`PathTarget::append`]): bytes go after the file's
///   old end; abandoning cuts the file back to its old length.
pub struct PathTarget {
    file: File,
    kind: Kind,
}

enum Kind {
    /// Written where it is: nothing to undo, nothing to put in place.
    InPlace,
    /// A temporary file that becomes `dest` at commit; `exclusive` never
    /// replaces a file that appeared meanwhile (`open(path, "xb")`).
    Temporary {
        temp: PathBuf,
        dest: PathBuf,
        exclusive: bool,
    },
    /// The file's length before anything was appended.
    Append { len: u64 },
    /// Committed or abandoned.
    Settled,
}

impl PathTarget {
    /// Open `path` the way zipfile's `open(path, "w+b")` would, but through
    /// a temporary file where that is safe.
    pub fn open(path: &Path) -> io::Result<Self> {
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
                        kind: Kind::Temporary {
                            temp,
                            dest,
                            exclusive: false,
                        },
                    })
                }
                Err(_) => Self::in_place(path),
            },
            None => Self::in_place(path),
        }
    }

    /// zipfile's open: `w+b`, and `wb` when that fails.
    fn in_place(path: &Path) -> io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        let file = match options.open(path) {
            Ok(f) => f,
            Err(_) => options.read(false).open(path)?,
        };
        Ok(PathTarget {
            file,
            kind: Kind::InPlace,
        })
    }

    /// Open a path that must not exist yet, as `open(path, "xb")` would,
    /// through a temporary file that is linked into place at commit: a
    /// file created there meanwhile makes the commit fail, and is kept.
    pub fn create_new(path: &Path) -> io::Result<Self> {
        match create_temp(path) {
            Ok((temp, file)) => Ok(PathTarget {
                file,
                kind: Kind::Temporary {
                    temp,
                    dest: path.to_path_buf(),
                    exclusive: true,
                },
            }),
            Err(_) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(path)?;
                Ok(PathTarget {
                    file,
                    kind: Kind::InPlace,
                })
            }
        }
    }

    /// Open an existing file to write after its end. Returns the target,
    /// positioned at the old end, and the old length.
    pub fn append(path: &Path) -> io::Result<(Self, u64)> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len))?;
        Ok((
            PathTarget {
                file,
                kind: Kind::Append { len },
            },
            len,
        ))
    }

    /// The open file to write through (sharing its position).
    pub fn file(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Make what was written the path's content.
    pub fn commit(mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.kind, Kind::Settled) {
            Kind::Temporary {
                temp,
                dest,
                exclusive: true,
            } => {
                // A hard link never replaces an existing file; rename would.
                let linked = std::fs::hard_link(&temp, &dest);
                let _ = std::fs::remove_file(&temp);
                linked
            }
            Kind::Temporary { temp, dest, .. } => std::fs::rename(&temp, &dest).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            }),
            Kind::InPlace | Kind::Append { .. } | Kind::Settled => Ok(()),
        }
    }

    /// Leave the path as it was: remove the temporary file, or cut an
    /// appended file back to its old length. A path written in place
    /// keeps what was written, as numpy's would.
    pub fn abandon(mut self) -> io::Result<()> {
        self.undo()
    }

    fn undo(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.kind, Kind::Settled) {
            Kind::Temporary { temp, .. } => std::fs::remove_file(temp),
            Kind::Append { len } => self.file.set_len(len),
            Kind::InPlace | Kind::Settled => Ok(()),
        }
    }
}

impl Drop for PathTarget {
    fn drop(&mut self) {
        let _ = self.undo();
    }
}

/// Whether zipfile could open the existing file for writing (`w+b`, then
/// `wb`), without creating or truncating it.
fn open_existing(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(_) => options.read(false).open(path).map(drop),
    }
}

/// Where an atomic write should land (symlinks resolved) and the metadata of
/// the file it replaces, or `None` when the path must be written in place.
fn atomic_destination(path: &Path) -> Option<(PathBuf, Option<std::fs::Metadata>)> {
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

fn create_temp(dest: &Path) -> io::Result<(PathBuf, File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_files(dir: &Path) -> Vec<String> {
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

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fastnpz-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_append_is_cut_back_unless_committed() {
        let dir = scratch("append");
        let path = dir.join("a.npz");
        std::fs::write(&path, b"old").unwrap();
        let (t, len) = PathTarget::append(&path).unwrap();
        assert_eq!(len, 3);
        t.file().unwrap().write_all(b"+more").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old+more");
        t.abandon().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        {
            let (t, _) = PathTarget::append(&path).unwrap();
            t.file().unwrap().write_all(b"+dropped").unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let (t, _) = PathTarget::append(&path).unwrap();
        t.file().unwrap().write_all(b"+kept").unwrap();
        t.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old+kept");
        assert!(PathTarget::append(&dir.join("missing.npz")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_exclusive_target_never_replaces_a_file_that_appeared() {
        let dir = scratch("exclusive");
        let path = dir.join("a.npz");
        let t = PathTarget::create_new(&path).unwrap();
        t.file().unwrap().write_all(b"mine").unwrap();
        std::fs::write(&path, b"theirs").unwrap();
        let e = t.commit().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        assert!(temp_files(&dir).is_empty());
        let other = dir.join("b.npz");
        let t = PathTarget::create_new(&other).unwrap();
        t.file().unwrap().write_all(b"mine").unwrap();
        t.commit().unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"mine");
        assert!(temp_files(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
