//! The maximum of N standard normals (the lab's Problem 5): samples that do not depend on how
//! they are split, the exact distribution, histograms and the Kolmogorov–Smirnov distance.
//!
//! Sample `s` (a global index) is the maximum of normals `s·N .. (s+1)·N` of its block's
//! stream: block `b = s / BLOCK` draws from [`super::normal::stream`]`(seed, b)`.
//! An engine asked for samples `[s0, s1)` starts at block `s0 / BLOCK` and skips the first
//! samples of that block by drawing them, so the samples, in global order, are bit-identical
//! however the range is cut.
//!
//! ```
//! use mpiview::kernels::maxnormal::{samples, BLOCK};
//! let whole = samples(9, 10, 0..10_000);
//! let mut parts = samples(9, 10, 0..3_333);
//! parts.extend(samples(9, 10, 3_333..10_000));
//! assert_eq!(whole, parts);
//! ```

mod dist;
mod hist;
mod ks;

#[cfg(test)]
mod tests;

use std::ops::Range;

use rand::RngExt;
use rand_distr::StandardNormal;

pub use dist::{cdf, density, ks_distance, ks_pvalue, normal_cdf, quantile};
pub use hist::{Histogram, auto_edges, exact_edges, linspace_edges};
pub use ks::{SortedBlock, ks_distance_of_blocks, sort_with_cdf};

use super::normal::stream;

/// Samples per random stream block.
pub const BLOCK: u64 = 4096;

/// Samples `range` (global indices) of the maximum of `n` standard normals.
///
/// # Panics
/// Panics if `n` is zero.
pub fn samples(seed: u64, n: u32, range: Range<u64>) -> Vec<f64> {
    let mut out = Vec::with_capacity(range.end.saturating_sub(range.start) as usize);
    samples_into(seed, n, range, &mut out);
    out
}

/// As [`samples`], appending to `out`.
///
/// # Panics
/// Panics if `n` is zero.
pub fn samples_into(seed: u64, n: u32, range: Range<u64>, out: &mut Vec<f64>) {
    assert!(n > 0, "maxnormal: the maximum of zero normals is undefined");
    let mut s = range.start;
    while s < range.end {
        let block = s / BLOCK;
        let end = ((block + 1) * BLOCK).min(range.end);
        let mut rng = stream(seed, block);
        for _ in 0..(s - block * BLOCK) * u64::from(n) {
            let _: f64 = rng.sample(StandardNormal);
        }
        for _ in s..end {
            let mut m = f64::NEG_INFINITY;
            for _ in 0..n {
                let x: f64 = rng.sample(StandardNormal);
                // A plain comparison: draws are never NaN.
                if x > m {
                    m = x;
                }
            }
            out.push(m);
        }
        s = end;
    }
}
