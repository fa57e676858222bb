//! The exact Kolmogorov–Smirnov distance from samples spread over engines, without bringing
//! them together: a sample sort by splitters.
//!
//! 1. Every engine offers the samples at a few evenly spaced positions ([`regular_samples`]; the
//!    samples are independent draws, so any positions do); all engines receive all offers and
//!    pick the same splitters ([`splitters`]).
//! 2. Every engine puts its samples in buckets by the splitters ([`into_buckets`], no sort)
//!    and sends bucket `j` to engine `j`; engine `j` sorts what it received, once: the `j`-th
//!    stretch of the globally sorted samples.
//! 3. An engine's global offset is the number of samples on lower engines (an exclusive scan);
//!    each takes the supremum over its stretch ([`ks_part`]) and the largest of those is the
//!    distance.
//!
//! The value is bit for bit what one process computes from all the samples
//! ([`ks_distance`](super::ks_distance)): every position `i` of the sorted samples meets the
//! same `F(x_i)` in the same expression. (Equal samples may take their positions in another
//! order, but they share `F`, so the set of terms is the same.) Samples equal to a splitter
//! all go to the upper bucket, on every engine.
//!
//! ```
//! use mpiview_apps::kernels::maxnormal::{cdf, into_buckets, ks_distance, ks_part, regular_samples, samples, splitters};
//! let all = samples(5, 10, 0..2000);
//! let parts: Vec<&[f64]> = all.chunks(700).collect();
//! let offered = parts.iter().flat_map(|p| regular_samples(p, 3)).collect();
//! let cut = splitters(offered, 3);
//! let buckets: Vec<_> = parts.iter().map(|p| into_buckets(p, &cut)).collect();
//! let mut offset = 0;
//! let mut d = 0.0f64;
//! for j in 0..3 {
//!     // What engine j receives: bucket j of every engine, sorted.
//!     let mut mine: Vec<f64> = buckets
//!         .iter()
//!         .flat_map(|(x, starts)| x[starts[j]..starts[j + 1]].to_vec())
//!         .collect();
//!     mine.sort_unstable_by(f64::total_cmp);
//!     d = d.max(ks_part(&mine, offset, 2000, |v| cdf(10, v)));
//!     offset += mine.len() as u64;
//! }
//! assert_eq!(d, ks_distance(&all, |v| cdf(10, v)));
//! ```

/// The samples at `count` evenly spaced positions of `x` (fewer if it holds fewer): positions
/// `k · len / count`.
pub fn regular_samples(x: &[f64], count: usize) -> Vec<f64> {
    let count = count.min(x.len());
    (0..count).map(|k| x[k * x.len() / count]).collect()
}

/// The `parts − 1` splitters from every engine's [`regular_samples`]: the values at positions
/// `k · len / parts` of them sorted, `k = 1 .. parts`. Every engine computes the same ones
/// from the same offers.
pub fn splitters(mut offered: Vec<f64>, parts: usize) -> Vec<f64> {
    offered.sort_unstable_by(f64::total_cmp);
    if offered.is_empty() {
        return Vec::new();
    }
    (1..parts)
        .map(|k| offered[k * offered.len() / parts])
        .collect()
}

/// The bucket of sample `x`: how many splitters are at most `x` (total order), so that bucket
/// `j` holds the samples with `splitter[j − 1] ≤ x < splitter[j]`.
pub fn bucket_of(x: f64, splitters: &[f64]) -> usize {
    splitters.partition_point(|s| s.total_cmp(&x).is_le())
}

/// `x` rearranged bucket by bucket (in their order within a bucket), and where each bucket
/// starts (`splitters.len() + 2` positions, the last `len`).
pub fn into_buckets(x: &[f64], splitters: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let buckets = splitters.len() + 1;
    let which: Vec<u32> = x.iter().map(|&v| bucket_of(v, splitters) as u32).collect();
    let mut starts = vec![0usize; buckets + 1];
    for &b in &which {
        starts[b as usize + 1] += 1;
    }
    for j in 0..buckets {
        starts[j + 1] += starts[j];
    }
    let mut next = starts.clone();
    let mut out = vec![0.0; x.len()];
    for (&v, &b) in x.iter().zip(&which) {
        out[next[b as usize]] = v;
        next[b as usize] += 1;
    }
    (out, starts)
}

/// `max_i max(F(x_i) − i/m, (i + 1)/m − F(x_i))` over a stretch of the globally sorted samples
/// that starts at global position `offset`, of `m` samples in all; 0 for an empty stretch.
pub fn ks_part(sorted: &[f64], offset: u64, m: u64, cdf: impl Fn(f64) -> f64) -> f64 {
    let m = m as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(j, &x)| {
            let i = offset as usize + j;
            let f = cdf(x);
            (f - i as f64 / m).max((i + 1) as f64 / m - f)
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::maxnormal::{cdf, ks_distance, samples};

    /// The whole procedure with `parts` simulated engines holding `blocks`.
    fn distributed(blocks: &[Vec<f64>], m: u64, f: impl Fn(f64) -> f64 + Copy) -> f64 {
        let parts = blocks.len();
        let offered = blocks.iter().flat_map(|b| regular_samples(b, 4)).collect();
        let cut = splitters(offered, parts);
        let buckets: Vec<_> = blocks.iter().map(|b| into_buckets(b, &cut)).collect();
        let (mut offset, mut d) = (0u64, 0.0f64);
        for j in 0..parts {
            let mut mine: Vec<f64> = buckets
                .iter()
                .flat_map(|(x, st)| x.get(st[j]..st[j + 1]).unwrap_or(&[]).to_vec())
                .collect();
            mine.sort_unstable_by(f64::total_cmp);
            d = d.max(ks_part(&mine, offset, m, f));
            offset += mine.len() as u64;
        }
        assert_eq!(offset, m, "every sample in one bucket");
        d
    }

    #[test]
    fn the_distance_is_the_single_process_one_bit_for_bit() {
        let all = samples(21, 7, 0..20_011);
        let f = |v| cdf(7, v);
        let whole = ks_distance(&all, f);
        for parts in [1, 2, 3, 5, 16] {
            let blocks: Vec<Vec<f64>> = (0..parts)
                .map(|k| {
                    let r = mpiview::partition::block_range(all.len(), parts, k);
                    all[r].to_vec()
                })
                .collect();
            assert_eq!(distributed(&blocks, all.len() as u64, f), whole, "{parts}");
        }
    }

    #[test]
    fn ties_engines_without_samples_and_splitters_equal_to_samples() {
        // Many equal values (a coarse CDF), on engines of very different sizes, one empty.
        let f = |v: f64| ((v + 3.0) / 6.0).clamp(0.0, 1.0);
        let blocks = vec![
            vec![0.0; 50],
            vec![],
            vec![1.0, 0.0, -1.0, 0.0, 1.0],
            (0..40).map(|k| (k % 3) as f64 - 1.0).collect(),
        ];
        let all: Vec<f64> = blocks.concat();
        assert_eq!(
            distributed(&blocks, all.len() as u64, f),
            ks_distance(&all, f)
        );
    }

    #[test]
    fn buckets_cut_at_splitters_with_equal_values_above() {
        let s = [3.0, 2.0, 5.0, 1.0, 2.0];
        let (x, starts) = into_buckets(&s, &[2.0, 4.0]);
        assert_eq!(x, vec![1.0, 3.0, 2.0, 2.0, 5.0]);
        assert_eq!(starts, vec![0, 1, 4, 5]);
        assert_eq!(into_buckets(&[], &[2.0]), (vec![], vec![0, 0, 0]));
        assert_eq!(bucket_of(-0.0, &[0.0]), 0, "total order: -0 < 0");
        assert_eq!(regular_samples(&s, 2), vec![3.0, 5.0]);
        assert_eq!(regular_samples(&s, 9).len(), 5);
        assert_eq!(splitters(vec![4.0, 1.0, 3.0, 2.0], 2), vec![3.0]);
        assert!(splitters(Vec::new(), 3).is_empty());
    }
}
