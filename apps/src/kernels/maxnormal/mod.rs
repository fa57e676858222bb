//! The maximum of N standard normals (the lab's Problem 5): samples that do not depend on how
//! they are split, the exact distribution, histograms and the Kolmogorov–Smirnov distance.
//!
//! Sample `s` (a global index) is the maximum of normals `s·N .. (s+1)·N` of its block's
//! draws: block `b = s / BLOCK` draws from [`Normals`]`::new(seed, b)`.
//! An engine asked for samples `[s0, s1)` starts at block `s0 / BLOCK` and skips the first
//! samples of that block by drawing them, so the samples, in global order, are bit-identical
//! however the range is cut.
//!
//! ```
//! use mpiview_apps::kernels::maxnormal::{samples, BLOCK};
//! let whole = samples(9, 10, 0..10_000);
//! let mut parts = samples(9, 10, 0..3_333);
//! parts.extend(samples(9, 10, 3_333..10_000));
//! assert_eq!(whole, parts);
//! ```

mod among_engines;
mod dist;
mod hist;
mod ks;
mod sample_sort;

#[cfg(test)]
mod tests;

use std::ops::Range;

pub use among_engines::{
    KS_PEAK_BYTES_PER_SAMPLE, SORT_ROUNDS, histogram_among, ks_distance_among,
};
pub use dist::{cdf, density, ks_distance, ks_pvalue, normal_cdf, quantile};
pub use hist::{Histogram, auto_edges, exact_edges, linspace_edges};
pub use ks::{SortedBlock, ks_distance_of_blocks, sort_with_cdf};
pub use sample_sort::{
    bucket_counts, bucket_of, ks_part, regular_samples, round_buckets, splitters,
};

use super::normal::Normals;

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

/// As [`samples`], calling `report(done, total)` after each of about `parts` pieces (cut at
/// block boundaries, so the pieces cost what the whole does); the samples are the same.
///
/// ```
/// use mpiview_apps::kernels::maxnormal::{samples, samples_reporting};
/// let mut reports = Vec::new();
/// let x = samples_reporting(7, 10, 100..50_000, 8, |done, total| reports.push((done, total)));
/// assert_eq!(x, samples(7, 10, 100..50_000));
/// assert_eq!(reports.last(), Some(&(49_900, 49_900)));
/// ```
///
/// # Panics
/// Panics if `n` is zero.
pub fn samples_reporting(
    seed: u64,
    n: u32,
    range: Range<u64>,
    parts: u64,
    mut report: impl FnMut(u64, u64),
) -> Vec<f64> {
    let total = range.end.saturating_sub(range.start);
    let mut out = Vec::with_capacity(total as usize);
    let step = total.div_ceil(parts.max(1)).div_ceil(BLOCK).max(1) * BLOCK;
    let mut s = range.start;
    while s < range.end {
        let end = ((s / step + 1) * step).min(range.end);
        samples_into(seed, n, s..end, &mut out);
        report(end - range.start, total);
        s = end;
    }
    out
}

/// Normals drawn per [`Normals::fill`] call.
const DRAWS_PER_FILL: usize = 4096;

/// The largest of `xs` (plain comparisons: draws are never NaN), or `m` if larger.
fn max_of(m: f64, xs: &[f64]) -> f64 {
    xs.iter().fold(m, |m, &x| if x > m { x } else { m })
}

/// As [`samples`], appending to `out`.
///
/// # Panics
/// Panics if `n` is zero.
pub fn samples_into(seed: u64, n: u32, range: Range<u64>, out: &mut Vec<f64>) {
    assert!(n > 0, "maxnormal: the maximum of zero normals is undefined");
    let per_sample = n as usize;
    let mut buf = vec![0.0; DRAWS_PER_FILL];
    let mut s = range.start;
    while s < range.end {
        let block = s / BLOCK;
        let end = ((block + 1) * BLOCK).min(range.end);
        let mut g = Normals::new(seed, block);
        g.skip((s - block * BLOCK) * u64::from(n));
        if per_sample <= DRAWS_PER_FILL {
            // Whole samples per fill.
            let per_fill = (DRAWS_PER_FILL / per_sample) as u64;
            while s < end {
                let m = (end - s).min(per_fill) as usize;
                let draws = &mut buf[..m * per_sample];
                g.fill(draws);
                out.extend(
                    draws
                        .chunks_exact(per_sample)
                        .map(|c| max_of(f64::NEG_INFINITY, c)),
                );
                s += m as u64;
            }
        } else {
            // One sample over several fills.
            for _ in s..end {
                let (mut left, mut m) = (per_sample, f64::NEG_INFINITY);
                while left > 0 {
                    let k = left.min(DRAWS_PER_FILL);
                    g.fill(&mut buf[..k]);
                    m = max_of(m, &buf[..k]);
                    left -= k;
                }
                out.push(m);
            }
            s = end;
        }
    }
}
