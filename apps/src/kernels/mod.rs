//! MPI-free numerical kernels behind the command-line apps.
//!
//! Everything here runs in one process on one core and knows nothing of ranks: work is cut
//! into index ranges (intervals, samples, rows) that any engine can compute, and results from
//! any split combine to the same answer (bit-identical for samples and Julia counts; up to
//! rounding for the trapezoid sums).
//!
//! - [`trapz`]: the trapezoidal rule on blocks of intervals, built-in integrands and `--expr`;
//! - [`normal`]: keyed random streams and summary statistics of standard normal draws;
//! - [`maxnormal`]: samples of the maximum of N normals, exact density/CDF, histograms, KS;
//! - [`julia`]: escape counts of the Julia set of `z² + c`, by blocks of rows;
//! - [`vmath`]: the vectorised `sin`, `cos`, `sin²` and `exp` of the trapezoid kernels, and the
//!   `ln`, `sin`, `cos` of the normal sampler;
//! - [`sum`]: compensated summation shared by the others.
//!
//! The hot loops are vectorised with AVX2 + FMA, picked at run time; a portable path computes
//! the same quantities (see each module for how close the two are).

pub mod julia;
pub mod maxnormal;
pub mod normal;
pub mod sum;
pub mod trapz;
pub mod vmath;

pub(crate) mod simd;
