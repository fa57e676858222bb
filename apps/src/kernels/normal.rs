//! Keyed random streams and summary statistics of standard normal draws (the lab's
//! Problems 3–4).
//!
//! Random numbers are keyed by a **stream index** chosen by the caller (a block of work, a
//! task), never by an MPI rank: the same `(seed, index)` gives the same numbers whichever engine
//! draws them, so results do not change with the number of engines.
//!
//! Standard normals come from [`Normals`]: four xoshiro256++ generators (the stream and three
//! copies jumped 2^128 steps apart each), run side by side in AVX2 lanes where the CPU has
//! them, each pair of words turned into two normals by the Box–Muller transform (see
//! `box_muller` for the method and its exactness). The numbers are the same bits on the AVX2
//! and the portable path: the transform's fused multiply-adds are fused on both (the portable
//! path calls the C library's `fma`, which makes it slow: about 45 ns per draw where the CPU
//! has FMA, more where it has not, against 2.4 ns on the AVX2 path).

mod box_muller;
mod sampler;
mod xoshiro;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::simd::avx2_fma_available;
use super::sum::CompensatedSum;

pub use sampler::Normals;

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
/// use mpiview_apps::kernels::normal::stream;
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
/// use mpiview_apps::kernels::normal::normal_stats;
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

/// The sum, minimum and maximum of `xs`: element `i` goes to lane `i % 4`, the lanes' plain
/// sums fold as `(p0 + p1) + (p2 + p3)` (plain comparisons: draws are never NaN). The same
/// bits on both paths.
fn chunk_stats(xs: &[f64]) -> (f64, f64, f64) {
    /// Adds `rest` (fewer than four) into lanes `0..`, then folds the lanes.
    fn finish(
        rest: &[f64],
        mut p: [f64; 4],
        mut lo: [f64; 4],
        mut hi: [f64; 4],
    ) -> (f64, f64, f64) {
        for (l, &x) in rest.iter().enumerate() {
            p[l] += x;
            lo[l] = if x < lo[l] { x } else { lo[l] };
            hi[l] = if x > hi[l] { x } else { hi[l] };
        }
        let min = lo
            .iter()
            .fold(f64::INFINITY, |a, &b| if b < a { b } else { a });
        let max = hi
            .iter()
            .fold(f64::NEG_INFINITY, |a, &b| if b > a { b } else { a });
        ((p[0] + p[1]) + (p[2] + p[3]), min, max)
    }
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_available() {
        #[target_feature(enable = "avx2,fma")]
        fn avx2(xs: &[f64]) -> (f64, f64, f64) {
            use super::simd::Lanes;
            use super::simd::avx2::V4;
            let (mut p, mut lo, mut hi) = (
                V4::zero(),
                V4::splat(f64::INFINITY),
                V4::splat(f64::NEG_INFINITY),
            );
            let mut quads = xs.chunks_exact(4);
            for q in &mut quads {
                let x = V4::load(q);
                p = p + x;
                // min/max: `if x < lo { x } else { lo }`, as the portable path.
                lo = x.min(lo);
                hi = x.max(hi);
            }
            let mut lanes = [[0.0; 4]; 3];
            for (v, l) in [p, lo, hi].into_iter().zip(&mut lanes) {
                v.store(l);
            }
            finish(quads.remainder(), lanes[0], lanes[1], lanes[2])
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { avx2(xs) };
    }
    let mut p = [0.0f64; 4];
    let (mut lo, mut hi) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4]);
    let mut quads = xs.chunks_exact(4);
    for q in &mut quads {
        for (l, &x) in q.iter().enumerate() {
            p[l] += x;
            lo[l] = if x < lo[l] { x } else { lo[l] };
            hi[l] = if x > hi[l] { x } else { hi[l] };
        }
    }
    finish(quads.remainder(), p, lo, hi)
}

/// Draws `n` standard normals of stream `(seed, index)` ([`Normals`]: Box–Muller on four
/// xoshiro256++ generators) and returns their mean, minimum and maximum (the mean summed with
/// compensation). The same bits on every CPU.
pub fn normal_stats(seed: u64, index: u64, n: u64) -> NormalStats {
    let mut g = Normals::new(seed, index);
    let mut sum = CompensatedSum::default();
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    // Draw into a buffer, then reduce it.
    let mut buf = [0.0f64; 256];
    let mut left = n;
    while left > 0 {
        let m = left.min(buf.len() as u64) as usize;
        g.fill(&mut buf[..m]);
        let (s, lo, hi) = chunk_stats(&buf[..m]);
        sum.add(s);
        min = if lo < min { lo } else { min };
        max = if hi > max { hi } else { max };
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
mod tests;
