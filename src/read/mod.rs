//! Reading members of an archive, many at once: each member is inflated
//! straight into the memory its caller provides (a numpy array's), members
//! in parallel, and the chunks of one large fastnpz-written member in
//! parallel too.
//!
//! Two steps, so that the caller can allocate in between:
//! - `prepare` reads each member's local header and the start of its data,
//!   enough for the `.npy` header (small members are inflated whole);
//! - `fill` inflates each member's data into the memory given for it.
//!
//! Anything unusual about a member (other compression methods, a lying
//! size, a corrupt stream, a CRC mismatch) makes it `Fallback`/an error,
//! and the caller reads that member with `zipfile`, as numpy does.

mod chunks;
mod fill;
#[cfg(test)]
mod fuzz;
mod open;
mod plan;
mod tasks;
#[cfg(test)]
mod tests;
mod watch;

pub use open::Archive;
pub use plan::{NpyMember, Prepared};
pub use watch::Interrupted;
