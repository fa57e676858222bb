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
