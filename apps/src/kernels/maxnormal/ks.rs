//! The Kolmogorov–Smirnov distance from samples sorted in blocks (one block per engine), so that
//! the sorting and the CDF evaluations run on the engines and the controller only merges.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A sorted block of samples and the exact CDF at each of them.
#[derive(Clone, Copy, Debug)]
pub struct SortedBlock<'a> {
    /// Samples in ascending order.
    pub x: &'a [f64],
    /// `F(x)` at each sample.
    pub cdf: &'a [f64],
}

/// Sorts `samples` and evaluates `cdf` at each: one engine's share of a distributed KS distance.
///
/// # Panics
/// Panics if a sample is NaN.
pub fn sort_with_cdf(samples: &[f64], cdf: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
    let mut x = samples.to_vec();
    assert!(x.iter().all(|v| !v.is_nan()), "sort_with_cdf: NaN sample");
    x.sort_unstable_by(f64::total_cmp);
    let f = x.iter().map(|&v| cdf(v)).collect();
    (x, f)
}

/// `sup |F_m(x) − F(x)|` over the samples of all `blocks` together: the same value as
/// [`ks_distance`](super::ks_distance) on their concatenation, from a k-way merge.
///
/// ```
/// use mpiview_apps::kernels::maxnormal::{cdf, ks_distance, ks_distance_of_blocks, samples, sort_with_cdf};
/// let all = samples(3, 10, 0..3000);
/// let parts: Vec<_> = all.chunks(1000).map(|c| sort_with_cdf(c, |v| cdf(10, v))).collect();
/// let blocks: Vec<_> = parts.iter().map(|(x, f)| mpiview_apps::kernels::maxnormal::SortedBlock { x, cdf: f }).collect();
/// assert_eq!(ks_distance_of_blocks(&blocks), ks_distance(&all, |v| cdf(10, v)));
/// ```
///
/// # Panics
/// Panics if the blocks hold no sample, or a block's `x` and `cdf` differ in length.
pub fn ks_distance_of_blocks(blocks: &[SortedBlock<'_>]) -> f64 {
    let m: usize = blocks.iter().map(|b| b.x.len()).sum();
    assert!(m > 0, "ks_distance_of_blocks: no samples");
    assert!(
        blocks.iter().all(|b| b.x.len() == b.cdf.len()),
        "ks_distance_of_blocks: lengths"
    );
    let m = m as f64;
    // Heads of the blocks, smallest first (total order on the samples).
    let key = |v: f64| {
        let b = v.to_bits() as i64;
        b ^ (((b >> 63) as u64) >> 1) as i64
    };
    let mut heap: BinaryHeap<Reverse<(i64, usize)>> = blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.x.is_empty())
        .map(|(k, b)| Reverse((key(b.x[0]), k)))
        .collect();
    let mut next = vec![0usize; blocks.len()];
    let mut d = 0.0f64;
    let mut i = 0usize;
    while let Some(Reverse((_, k))) = heap.pop() {
        let f = blocks[k].cdf[next[k]];
        d = d.max((f - i as f64 / m).max((i + 1) as f64 / m - f));
        i += 1;
        next[k] += 1;
        if let Some(&v) = blocks[k].x.get(next[k]) {
            heap.push(Reverse((key(v), k)));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::maxnormal::{cdf, ks_distance, samples};

    #[test]
    fn merging_blocks_gives_the_whole_distance() {
        let all = samples(9, 5, 0..10_007);
        let whole = ks_distance(&all, |v| cdf(5, v));
        for parts in [1, 2, 3, 7] {
            let chunk = all.len().div_ceil(parts);
            let sorted: Vec<_> = all
                .chunks(chunk)
                .map(|c| sort_with_cdf(c, |v| cdf(5, v)))
                .collect();
            let blocks: Vec<_> = sorted
                .iter()
                .map(|(x, f)| SortedBlock { x, cdf: f })
                .collect();
            assert_eq!(ks_distance_of_blocks(&blocks), whole, "{parts} blocks");
        }
        let empty: Vec<f64> = Vec::new();
        let one = sort_with_cdf(&[0.5], |v| cdf(5, v));
        let blocks = [
            SortedBlock {
                x: &empty,
                cdf: &empty,
            },
            SortedBlock {
                x: &one.0,
                cdf: &one.1,
            },
        ];
        assert_eq!(
            ks_distance_of_blocks(&blocks),
            ks_distance(&[0.5], |v| cdf(5, v))
        );
    }

    #[test]
    fn negative_and_positive_samples_merge_in_order() {
        let a = sort_with_cdf(&[-2.0, 1.0, -0.5], |v| (v + 3.0) / 6.0);
        let b = sort_with_cdf(&[0.0, -3.0, 2.5], |v| (v + 3.0) / 6.0);
        let blocks = [
            SortedBlock { x: &a.0, cdf: &a.1 },
            SortedBlock { x: &b.0, cdf: &b.1 },
        ];
        let all = [-2.0, 1.0, -0.5, 0.0, -3.0, 2.5];
        assert_eq!(
            ks_distance_of_blocks(&blocks),
            ks_distance(&all, |v| (v + 3.0) / 6.0)
        );
    }
}
