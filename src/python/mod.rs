//! The Python binding: the extension module `fastnpz._fastnpz`.

mod borrow;
mod errors;
mod file_sink;
mod load;
mod save;
mod writer;

use pyo3::prelude::*;

/// The extension module `fastnpz._fastnpz`.
#[pymodule]
fn _fastnpz(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<writer::ArchiveWriter>()?;
    m.add_class::<load::Reader>()?;
    m.add_class::<load::Batch>()?;
    m.add("CHUNK_SIZE", crate::chunk::CHUNK_SIZE)?;
    Ok(())
}
