//! Zip records as CPython's `zipfile` writes them for numpy.

pub mod records;
