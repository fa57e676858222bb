//! The `links = "mpiview"` key in Cargo.toml needs a build script; it keeps a second copy of the
//! crate (which would call `MPI_Init` twice) out of any build.
fn main() {}
