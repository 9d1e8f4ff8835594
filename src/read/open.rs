//! Opening an archive: its central directory, and where zipfile leaves the
//! file position after reading it or a member.

use crate::source::Source;
use crate::zip::directory::{data_range, read_directory, DirEntry, Directory, Unsupported};

/// An archive opened for reading: its central directory. Each read is
/// given the source again, so memory a caller lends need only stay lent
/// for the duration of a call.
pub struct Archive {
    pub(super) directory: Directory,
}

impl Archive {
    /// Read the central directory; `Unsupported` when zipfile should.
    pub fn open(source: &Source<'_>) -> Result<Self, Unsupported> {
        let directory = read_directory(source)?;
        Ok(Archive { directory })
    }

    /// The members, in directory order.
    pub fn entries(&self) -> &[DirEntry] {
        &self.directory.entries
    }

    /// Where the central directory starts in the source.
    pub fn directory_start(&self) -> u64 {
        self.directory.start
    }

    /// Where zipfile leaves the file position after reading the directory.
    pub fn directory_end(&self) -> u64 {
        self.directory.end
    }

    /// Where a member's compressed data ends, once its local header has
    /// been read (zipfile leaves the file position there after reading it).
    pub fn data_end(&self, source: &Source<'_>, index: usize) -> Option<u64> {
        let entry = self.directory.entries.get(index)?;
        data_range(source, entry, self.directory.start)
            .ok()
            .map(|r| r.end)
    }
}
