//! The Python binding: the extension module `fastnpz._fastnpz`.

mod borrow;
mod errors;
mod file_sink;
mod load;
mod save;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::npy::header;

/// Build a `.npy` header the way numpy does; returns (bytes, major version).
#[pyfunction]
fn npy_header<'py>(
    py: Python<'py>,
    descr_repr: &str,
    fortran_order: bool,
    shape: Vec<u64>,
) -> PyResult<(Bound<'py, PyBytes>, u8)> {
    let (bytes, version) = header::build_header(descr_repr, fortran_order, &shape)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((PyBytes::new(py, &bytes), version.as_tuple().0))
}

/// The extension module `fastnpz._fastnpz`.
#[pymodule]
fn _fastnpz(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(npy_header, m)?)?;
    m.add_function(wrap_pyfunction!(save::write_path, m)?)?;
    m.add_function(wrap_pyfunction!(save::write_file, m)?)?;
    m.add_class::<load::Reader>()?;
    m.add_class::<load::Batch>()?;
    m.add("CHUNK_SIZE", crate::chunk::CHUNK_SIZE)?;
    Ok(())
}
