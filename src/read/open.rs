//! Opening an archive: its central directory, and where zipfile leaves the
//! file position after reading it or a member.

use crate::source::Source;
use crate::zip::directory::{data_range, read_directory_with, Directory, Entry, Unsupported};

/// An archive opened for reading: its central directory. Each read is
/// given the source again, so memory a caller lends need only stay lent
/// for the duration of a call.
pub struct Archive {
    pub(super) directory: Directory,
    /// For each member, where zipfile's overlap check lets its data run
    /// to (the next local header, or the central directory), when the
    /// running zipfile makes that check.
    pub(super) data_limits: Option<Vec<u64>>,
}

impl Archive {
    /// Read the central directory; `Unsupported` when zipfile should.
    /// `overlap_check`: whether the running zipfile refuses a member whose
    /// data runs into the next member's local header (CPython 3.12.2,
    /// 3.11.8 and later); such members are then left to it.
    pub fn open(source: &Source<'_>, overlap_check: bool) -> Result<Self, Unsupported> {
        Self::open_with(source, overlap_check, false)
    }

    /// `open`, with `zip64_check`: whether the running zipfile checks the
    /// zip64 end record (see `read_directory_with`).
    pub fn open_with(
        source: &Source<'_>,
        overlap_check: bool,
        zip64_check: bool,
    ) -> Result<Self, Unsupported> {
        let directory = read_directory_with(source, zip64_check)?;
        let data_limits = overlap_check.then(|| data_limits(&directory));
        Ok(Archive {
            directory,
            data_limits,
        })
    }

    /// Whether zipfile's overlap check lets member `index`'s data end at
    /// `end`.
    pub(super) fn within_limit(&self, index: usize, end: u64) -> bool {
        match &self.data_limits {
            Some(limits) => limits.get(index).is_some_and(|&limit| end <= limit),
            None => true,
        }
    }

    /// The members, in directory order.
    pub fn entries(&self) -> &[Entry] {
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

/// zipfile's `_end_offset`: each member may run up to the local header
/// that follows its own in the file, the last one up to the central
/// directory. Members sharing a header offset get their own offset, so
/// each is left to zipfile (which refuses one of them, which one depending
/// on its version).
pub(super) fn data_limits(directory: &Directory) -> Vec<u64> {
    let entries = &directory.entries;
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries[i].header_offset);
    let mut limits = vec![0u64; entries.len()];
    let mut next = directory.start;
    for (k, &i) in order.iter().enumerate().rev() {
        let offset = entries[i].header_offset;
        let shared = order
            .get(k + 1)
            .is_some_and(|&j| entries[j].header_offset == offset)
            || k > 0 && entries[order[k - 1]].header_offset == offset;
        limits[i] = if shared { offset } else { next };
        next = offset;
    }
    limits
}
