//! # mpiview-apps
//!
//! The command-line apps built on the [`mpiview`] runtime — `trapz`, `normstats`, `maxnormal`,
//! `julia` — and what they share:
//!
//! - [`kernels`]: MPI-free numerics (trapezoid sums, normal streams, max-of-N samples, Julia
//!   counts, vectorised maths, compensated sums);
//! - [`io`]: output files written atomically (HDF5, PNG);
//! - [`cli`]: numbers as scientists write them and argument parsing that reports from rank 0;
//! - [`interval`]: the `-a`, `-b`, `--n` options of `trapz` and its SPMD baseline;
//! - [`stats`]: medians of timings.
//!
//! A program that only needs DirectView and friends depends on `mpiview` alone, which needs
//! no HDF5, plotting or command-line crates.

pub mod cli;
pub mod interval;
pub mod io;
pub mod kernels;
pub mod stats;

/// What unit tests of this crate share.
#[cfg(test)]
pub(crate) mod test_support {
    /// Held by every unit test that opens HDF5 files or starts a child process. HDF5 locks the
    /// files it opens (`flock`) on descriptors without close-on-exec, so a child started while
    /// another test has a file open inherits the lock, and that test's reopening of its own
    /// file fails with "unable to lock file" (seen 2 in 25 runs).
    pub(crate) static FILES_AND_CHILDREN: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Takes [`FILES_AND_CHILDREN`], also after another test panicked holding it.
    pub(crate) fn exclusive() -> std::sync::MutexGuard<'static, ()> {
        FILES_AND_CHILDREN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
