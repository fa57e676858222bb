//! Keyed random streams and summary statistics of standard normal draws (the lab's
//! Problems 3–4).
//!
//! Random numbers are keyed by a **stream index** chosen by the caller (a block of work, a
//! task), never by an MPI rank: the same `(seed, index)` gives the same numbers whichever engine
//! draws them, so results do not change with the number of engines.

use rand::RngExt;
use rand::SeedableRng;
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::sum::CompensatedSum;

/// SplitMix64's output function: a bijection of `u64` that mixes every input bit into every
/// output bit.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The random stream number `index` of `seed`: a Xoshiro256++ generator.
///
/// Its 256-bit state is SplitMix64's expansion (`Xoshiro256PlusPlus::seed_from_u64`) of the key
/// `mix64(mix64(seed) + index)`. For one seed, distinct indices give distinct keys (`mix64` is a
/// bijection), and distinct keys give distinct states (the first state word is itself a
/// bijection of the key), so no two streams of a seed start alike; with a period of 2^256 − 1,
/// overlaps between streams of realistic length have negligible probability.
///
/// ```
/// use rand::RngExt;
/// use mpiview::kernels::normal::stream;
/// let a: u64 = stream(42, 7).random();
/// assert_eq!(a, stream(42, 7).random::<u64>()); // same key, same numbers
/// assert_ne!(a, stream(42, 8).random::<u64>());
/// assert_ne!(a, stream(43, 7).random::<u64>());
/// ```
pub fn stream(seed: u64, index: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(mix64(mix64(seed).wrapping_add(index)))
}

/// Mean, minimum and maximum of a set of draws, combinable across engines.
///
/// ```
/// use mpiview::kernels::normal::normal_stats;
/// let s = normal_stats(1, 0, 100_000);
/// assert_eq!(s.count, 100_000);
/// assert!(s.mean.abs() < 0.02 && s.min < -3.0 && s.max > 3.0);
/// let both = s.combine(normal_stats(1, 1, 100_000));
/// assert_eq!(both.count, 200_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NormalStats {
    /// Number of draws.
    pub count: u64,
    /// Their mean (NaN for no draws).
    pub mean: f64,
    /// The smallest draw (+∞ for no draws).
    pub min: f64,
    /// The largest draw (−∞ for no draws).
    pub max: f64,
}

impl NormalStats {
    /// The statistics of the union of two sets of draws.
    #[must_use]
    pub fn combine(self, other: Self) -> Self {
        let count = self.count + other.count;
        let mean = match (self.count, other.count) {
            (0, _) => other.mean,
            (_, 0) => self.mean,
            (a, b) => {
                let mut s = CompensatedSum::default();
                s.add(self.mean * a as f64);
                s.add(other.mean * b as f64);
                s.value() / count as f64
            }
        };
        Self {
            count,
            mean,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

/// Draws `n` standard normals keyed by `(seed, index)` and returns their mean, minimum and
/// maximum (`rand_distr::StandardNormal`, a ziggurat sampler; the mean is summed with
/// compensation).
///
/// The draws come from four generators taken in turn: [`stream`]`(seed, index)` and copies of
/// it jumped 2^128, 2·2^128 and 3·2^128 steps ahead (non-overlapping). The sampler is an
/// out-of-line call that keeps its generator's state in memory; with one generator each draw
/// waits for the previous one's state to come back through memory, with four the draws
/// overlap (about twice the throughput).
pub fn normal_stats(seed: u64, index: u64, n: u64) -> NormalStats {
    let mut g0 = stream(seed, index);
    let mut g1 = g0.clone();
    g1.jump();
    let mut g2 = g1.clone();
    g2.jump();
    let mut g3 = g2.clone();
    g3.jump();
    let mut sum = CompensatedSum::default();
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    // Draw into a buffer, then reduce it: the reduction vectorises and the draw loop carries
    // nothing but the generators.
    let mut buf = [0.0f64; 256];
    let mut left = n;
    while left > 0 {
        let m = left.min(buf.len() as u64) as usize;
        let mut quads = buf[..m].chunks_exact_mut(4);
        for q in &mut quads {
            q[0] = g0.sample(StandardNormal);
            q[1] = g1.sample(StandardNormal);
            q[2] = g2.sample(StandardNormal);
            q[3] = g3.sample(StandardNormal);
        }
        let gens = [&mut g0, &mut g1, &mut g2];
        for (x, g) in quads.into_remainder().iter_mut().zip(gens) {
            *x = g.sample(StandardNormal);
        }
        let mut p = [0.0f64; 4];
        let (mut lo, mut hi) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4]);
        for (i, &x) in buf[..m].iter().enumerate() {
            let l = i % 4;
            p[l] += x;
            // Plain comparisons: draws are never NaN.
            lo[l] = if x < lo[l] { x } else { lo[l] };
            hi[l] = if x > hi[l] { x } else { hi[l] };
        }
        sum.add((p[0] + p[1]) + (p[2] + p[3]));
        min = lo.iter().fold(min, |a, &b| if b < a { b } else { a });
        max = hi.iter().fold(max, |a, &b| if b > a { b } else { a });
        left -= m as u64;
    }
    NormalStats {
        count: n,
        mean: if n == 0 {
            f64::NAN
        } else {
            sum.value() / n as f64
        },
        min,
        max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, index| -> Vec<u64> {
            let mut r = stream(seed, index);
            (0..4).map(|_| r.random()).collect()
        };
        assert_eq!(draw(5, 9), draw(5, 9));
        let mut firsts: Vec<u64> = (0..10_000).map(|i| draw(5, i)[0]).collect();
        firsts.sort_unstable();
        firsts.dedup();
        assert_eq!(firsts.len(), 10_000);
        assert_ne!(draw(0, 0), draw(1, 0));
    }

    #[test]
    fn moments_of_a_million_draws() {
        let s = normal_stats(2024, 3, 1_000_000);
        // Standard error of the mean: 1e-3; five of them.
        assert!(s.mean.abs() < 5e-3, "mean {}", s.mean);
        // The extremes of 10^6 normals lie near ±4.9 (beyond ±3.5 with overwhelming probability).
        assert!(s.max > 3.5 && s.max < 7.0, "max {}", s.max);
        assert!(s.min < -3.5 && s.min > -7.0, "min {}", s.min);
        // Variance of the draws of the first generator.
        let mut rng = stream(2024, 3);
        let var = (0..250_000)
            .map(|_| {
                let x: f64 = rng.sample(StandardNormal);
                (x - s.mean) * (x - s.mean)
            })
            .sum::<f64>()
            / 250_000.0;
        assert!(
            (var - 1.0).abs() < 5.0 * (2.0f64 / 1e6).sqrt(),
            "variance {var}"
        );
    }

    #[test]
    fn draws_interleave_four_jumped_generators() {
        // The minimum of the first 6 draws, recomputed from the four generators by hand.
        let mut g: Vec<Xoshiro256PlusPlus> = vec![stream(9, 4)];
        for _ in 0..3 {
            let mut next = g.last().unwrap().clone();
            next.jump();
            g.push(next);
        }
        let draws: Vec<f64> = (0..6).map(|i| g[i % 4].sample(StandardNormal)).collect();
        let s = normal_stats(9, 4, 6);
        assert_eq!(s.min, draws.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(
            s.max,
            draws.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
        assert!((s.mean - draws.iter().sum::<f64>() / 6.0).abs() < 1e-15);
    }

    #[test]
    fn combine_matches_one_pass() {
        let a = normal_stats(7, 0, 1000);
        let b = normal_stats(7, 1, 3000);
        let c = a.combine(b);
        assert_eq!(c.count, 4000);
        assert!((c.mean - (a.mean * 1000.0 + b.mean * 3000.0) / 4000.0).abs() < 1e-15);
        assert_eq!(c.min, a.min.min(b.min));
        let empty = normal_stats(7, 2, 0);
        assert_eq!(empty.combine(a), a);
        assert_eq!(a.combine(empty), a);
    }
}
