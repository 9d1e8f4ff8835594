//! Zip records as CPython's `zipfile` writes them for numpy.

pub mod directory;
pub mod entry;
pub mod records;
