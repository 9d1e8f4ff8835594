//! The `.npy` format's header, as numpy writes it.

pub mod header;
pub mod parse;
