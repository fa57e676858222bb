//! The exact Kolmogorov–Smirnov distance from samples spread over engines, without bringing
//! them together: a sample sort by splitters, in rounds.
//!
//! 1. Every engine offers the samples at a few evenly spaced positions ([`regular_samples`]; the
//!    samples are independent draws, so any positions do); all engines receive all offers and
//!    pick the same `parts · rounds − 1` splitters ([`splitters`]): `parts · rounds` buckets.
//! 2. Bucket `b` belongs to round `b / parts` and to engine `b % parts`. Every engine counts its
//!    samples in each bucket ([`bucket_counts`]); in round `r`, it puts its samples of that
//!    round in buckets ([`round_buckets`], no sort) and sends
//!    bucket `j` to engine `j`; engine `j` sorts what it received: a stretch of the globally
//!    sorted samples. Rounds keep what an engine holds besides its own samples to about
//!    `2 / rounds` of them (what it sends and what it receives in one round).
//! 3. A stretch's global offset is the number of samples in earlier rounds plus those on lower
//!    engines in this round (an exclusive scan); each engine takes the supremum over its
//!    stretches ([`ks_part`]) and the largest of those is the distance.
//!
//! The value is bit for bit what one process computes from all the samples
//! ([`ks_distance`](super::ks_distance)): every position `i` of the sorted samples meets the
//! same `F(x_i)` in the same expression. (Equal samples may take their positions in another
//! order, but they share `F`, so the set of terms is the same.) Samples equal to a splitter
//! all go to the upper bucket, on every engine.
//!
//! ```
//! use mpiview_apps::kernels::maxnormal::{bucket_counts, cdf, ks_distance, ks_part, regular_samples, round_buckets, samples, splitters};
//! let all = samples(5, 10, 0..2000);
//! let parts: Vec<&[f64]> = all.chunks(700).collect();
//! let (engines, rounds) = (3, 2);
//! let offered = parts.iter().flat_map(|p| regular_samples(p, 4)).collect();
//! let cut = splitters(offered, engines * rounds);
//! let (mut offset, mut d) = (0, 0.0f64);
//! for r in 0..rounds {
//!     let buckets: Vec<_> = parts
//!         .iter()
//!         .map(|p| round_buckets(p, &cut, &bucket_counts(p, &cut), engines, r))
//!         .collect();
//!     for j in 0..engines {
//!         // What engine j receives in round r: bucket j of every engine, sorted.
//!         let mut mine: Vec<f64> = buckets
//!             .iter()
//!             .flat_map(|(x, starts)| x[starts[j]..starts[j + 1]].to_vec())
//!             .collect();
//!         mine.sort_unstable_by(f64::total_cmp);
//!         d = d.max(ks_part(&mine, offset, 2000, |v| cdf(10, v)));
//!         offset += mine.len() as u64;
//!     }
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

/// How many of the samples `x` are in each of the `splitters.len() + 1` buckets (see
/// [`bucket_of`]): one pass, for [`round_buckets`].
///
/// ```
/// use mpiview_apps::kernels::maxnormal::bucket_counts;
/// assert_eq!(bucket_counts(&[5.0, 0.5, 3.5, 1.5, 2.5, 4.5], &[1.0, 2.0, 3.0]), vec![1, 1, 1, 3]);
/// ```
pub fn bucket_counts(x: &[f64], splitters: &[f64]) -> Vec<usize> {
    let cut = Cut::new(splitters);
    let mut counts = vec![0usize; splitters.len() + 1];
    for &v in x {
        counts[cut.bucket(total_key(v))] += 1;
    }
    counts
}

/// Round `round`'s samples of `x` rearranged bucket by bucket (in their order within a
/// bucket), and where each of its `parts` buckets starts (`parts + 1` positions, the last the
/// length). The round holds buckets `round · parts .. (round + 1) · parts` of `splitters`
/// (see [`bucket_of`]); `counts` are [`bucket_counts`]`(x, splitters)`. `splitters` is empty
/// when there are no samples anywhere, and then every sample is in bucket 0.
///
/// One pass over `x` without branches on the data (so about as fast whatever the share of
/// `x` in the round): two integer comparisons a sample, and a search among the round's own
/// `parts − 1` splitters.
///
/// ```
/// use mpiview_apps::kernels::maxnormal::{bucket_counts, round_buckets};
/// let x = [5.0, 0.5, 3.5, 1.5, 2.5, 4.5];
/// let cut = [1.0, 2.0, 3.0]; // 4 buckets: 2 rounds of 2
/// let counts = bucket_counts(&x, &cut);
/// assert_eq!(round_buckets(&x, &cut, &counts, 2, 0), (vec![0.5, 1.5], vec![0, 1, 2]));
/// assert_eq!(round_buckets(&x, &cut, &counts, 2, 1), (vec![2.5, 5.0, 3.5, 4.5], vec![0, 1, 4]));
/// ```
///
/// # Panics
/// Panics if `counts` are not `x`'s.
pub fn round_buckets(
    x: &[f64],
    splitters: &[f64],
    counts: &[usize],
    parts: usize,
    round: usize,
) -> (Vec<f64>, Vec<usize>) {
    let first = round * parts;
    // This round's samples: splitter[first − 1] ≤ v < splitter[first + parts − 1], a missing
    // splitter standing for +∞.
    let lower = match first.checked_sub(1) {
        None => i64::MIN,
        Some(k) => match splitters.get(k) {
            Some(&s) => total_key(s),
            None => return (Vec::new(), vec![0; parts + 1]),
        },
    };
    let upper = splitters
        .get(first + parts - 1)
        .map_or(i64::MAX, |&s| total_key(s));
    let own =
        Cut::new(&splitters[first.min(splitters.len())..(first + parts - 1).min(splitters.len())]);
    let mut starts = vec![0usize; parts + 1];
    for (j, c) in counts.iter().skip(first).take(parts).enumerate() {
        starts[j + 1] = starts[j] + c;
    }
    for j in counts.len().saturating_sub(first).min(parts)..parts {
        starts[j + 1] = starts[j];
    }
    let held = starts[parts];
    let mut next = starts.clone();
    let mut out = vec![0.0; held];
    // Chunk by chunk: first the round's samples, picked without a branch (an index written
    // always, counted only when inside), then those put in their buckets.
    let mut picked = [0u16; 1024];
    for chunk in x.chunks(picked.len()) {
        let mut n = 0;
        for (i, &v) in chunk.iter().enumerate() {
            let k = total_key(v);
            picked[n] = i as u16;
            n += usize::from((lower <= k) & (k < upper));
        }
        for &i in &picked[..n] {
            let v = chunk[usize::from(i)];
            let b = own.bucket(total_key(v));
            out[next[b]] = v;
            next[b] += 1;
        }
    }
    assert_eq!(
        next[..parts],
        starts[1..],
        "round_buckets: counts of other samples"
    );
    (out, starts)
}

/// Splitters as [`total_key`]s, for finding buckets.
struct Cut(Vec<i64>);

impl Cut {
    fn new(splitters: &[f64]) -> Cut {
        Cut(splitters.iter().map(|&s| total_key(s)).collect())
    }

    /// How many splitters are at most `k`: the bucket of the sample whose key is `k`.
    #[inline]
    fn bucket(&self, k: i64) -> usize {
        if self.0.len() <= 16 {
            // A count, not a search: no branch to mispredict.
            self.0.iter().map(|&s| usize::from(s <= k)).sum()
        } else {
            self.0.partition_point(|&s| s <= k)
        }
    }
}

/// `v` as an integer that orders as [`f64::total_cmp`] does (−0 below +0, NaNs at the ends).
fn total_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
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

    /// The whole procedure with `blocks.len()` simulated engines, in `rounds` rounds.
    fn distributed(
        blocks: &[Vec<f64>],
        rounds: usize,
        m: u64,
        f: impl Fn(f64) -> f64 + Copy,
    ) -> f64 {
        let parts = blocks.len();
        let offered = blocks.iter().flat_map(|b| regular_samples(b, 4)).collect();
        let cut = splitters(offered, parts * rounds);
        let (mut offset, mut d) = (0u64, 0.0f64);
        for r in 0..rounds {
            let buckets: Vec<_> = blocks
                .iter()
                .map(|b| round_buckets(b, &cut, &bucket_counts(b, &cut), parts, r))
                .collect();
            for j in 0..parts {
                let mut mine: Vec<f64> = buckets
                    .iter()
                    .flat_map(|(x, st)| x[st[j]..st[j + 1]].to_vec())
                    .collect();
                mine.sort_unstable_by(f64::total_cmp);
                d = d.max(ks_part(&mine, offset, m, f));
                offset += mine.len() as u64;
            }
        }
        assert_eq!(offset, m, "every sample in exactly one bucket");
        d
    }

    #[test]
    fn the_distance_is_the_single_process_one_bit_for_bit() {
        let all = samples(21, 7, 0..20_011);
        let f = |v| cdf(7, v);
        let whole = ks_distance(&all, f);
        // 20 engines: more than 16 splitters in a round, found by search rather than by count.
        for parts in [1, 2, 3, 5, 16, 20] {
            let blocks: Vec<Vec<f64>> = (0..parts)
                .map(|k| {
                    let r = mpiview::partition::block_range(all.len(), parts, k);
                    all[r].to_vec()
                })
                .collect();
            for rounds in [1, 2, 4] {
                let d = distributed(&blocks, rounds, all.len() as u64, f);
                assert_eq!(d, whole, "{parts} engines, {rounds} rounds");
            }
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
        for rounds in [1, 3, 4] {
            let d = distributed(&blocks, rounds, all.len() as u64, f);
            assert_eq!(d, ks_distance(&all, f), "{rounds} rounds");
        }
        let nothing = vec![Vec::new(); 3];
        assert_eq!(distributed(&nothing, 4, 0, f), 0.0);
    }

    #[test]
    fn buckets_cut_at_splitters_with_equal_values_above() {
        let s = [3.0, 2.0, 5.0, 1.0, 2.0];
        let (x, starts) = round_buckets(&s, &[2.0, 4.0], &[1, 3, 1], 3, 0);
        assert_eq!(x, vec![1.0, 3.0, 2.0, 2.0, 5.0]);
        assert_eq!(starts, vec![0, 1, 4, 5]);
        assert_eq!(
            round_buckets(&[], &[2.0], &[0, 0], 2, 0),
            (vec![], vec![0, 0, 0])
        );
        assert_eq!(bucket_of(-0.0, &[0.0]), 0, "total order: -0 < 0");
        assert_eq!(regular_samples(&s, 2), vec![3.0, 5.0]);
        assert_eq!(regular_samples(&s, 9).len(), 5);
        assert_eq!(splitters(vec![4.0, 1.0, 3.0, 2.0], 2), vec![3.0]);
        assert!(splitters(Vec::new(), 3).is_empty());
    }

    #[test]
    fn rounds_split_the_buckets_at_their_splitters() {
        let s = [3.0, 2.0, 5.0, 1.0, 2.0, 4.0];
        let cut = [2.0, 3.0, 4.0];
        let counts = bucket_counts(&s, &cut);
        assert_eq!(counts, vec![1, 2, 1, 2]);
        // Round 0: buckets 0 (< 2) and 1 (2 ≤ v < 3); round 1: 2 (3 ≤ v < 4) and 3 (≥ 4).
        assert_eq!(
            round_buckets(&s, &cut, &counts, 2, 0),
            (vec![1.0, 2.0, 2.0], vec![0, 1, 3])
        );
        assert_eq!(
            round_buckets(&s, &cut, &counts, 2, 1),
            (vec![3.0, 5.0, 4.0], vec![0, 1, 3])
        );
        // No splitters (no samples anywhere): everything is in round 0's first bucket.
        assert_eq!(
            round_buckets(&[1.0], &[], &[1], 2, 0),
            (vec![1.0], vec![0, 1, 1])
        );
        assert_eq!(
            round_buckets(&[1.0], &[], &[1], 2, 1),
            (vec![], vec![0, 0, 0])
        );
        // One engine: each round is one bucket.
        assert_eq!(
            round_buckets(&s, &cut, &counts, 1, 2),
            (vec![3.0], vec![0, 1])
        );
        assert_eq!(
            round_buckets(&s, &cut, &counts, 1, 3),
            (vec![5.0, 4.0], vec![0, 2])
        );
    }
}
