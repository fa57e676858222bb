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
mod xoshiro;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::simd::avx2_fma_available;
use super::sum::CompensatedSum;
use box_muller::box_muller;
use xoshiro::XoshiroLanes;

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

/// Normals per step of the four generators (two per generator).
const STEP: usize = 8;

/// Steps whose transforms the AVX2 path runs in lockstep.
const LOCKSTEP: usize = 4;

/// The standard normal draws of stream `(seed, index)`, in a fixed order.
///
/// Generators: `g0 =` [`stream`]`(seed, index)` and `g1, g2, g3`, each jumped 2^128 steps
/// (`Xoshiro256PlusPlus::jump`) past the previous one, so the four never overlap. Each step
/// takes two words from every generator and makes eight normals, in the order
/// `z0(g0), z0(g1), z0(g2), z0(g3), z1(g0), …, z1(g3)` (the two Box–Muller normals of each
/// generator's pair). The sequence is a function of `(seed, index)` only: the same on every CPU
/// and however it is read ([`Normals::fill`] in any pieces, [`Normals::skip`]).
///
/// ```
/// use mpiview::kernels::normal::Normals;
/// let mut whole = [0.0; 20];
/// Normals::new(7, 3).fill(&mut whole);
/// let mut g = Normals::new(7, 3);
/// let (mut a, mut b) = ([0.0; 5], [0.0; 12]);
/// g.fill(&mut a);
/// g.skip(3);
/// g.fill(&mut b);
/// assert_eq!(a[..], whole[..5]);
/// assert_eq!(b[..], whole[8..]);
/// ```
#[derive(Clone, Debug)]
pub struct Normals {
    /// The generators' states, `states[j]` for `g_j`.
    states: [[u64; 4]; 4],
    /// The last step's normals, of which `spare[used..]` are not handed out yet.
    spare: [f64; STEP],
    used: usize,
}

impl Normals {
    /// The draws of stream `(seed, index)`.
    pub fn new(seed: u64, index: u64) -> Self {
        let mut g = stream(seed, index);
        let states = std::array::from_fn(|j| {
            if j > 0 {
                g.jump();
            }
            let b = g.state();
            std::array::from_fn(|i| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap()))
        });
        Self {
            states,
            spare: [0.0; STEP],
            used: STEP,
        }
    }

    /// Fills `out` with the next `out.len()` draws.
    pub fn fill(&mut self, out: &mut [f64]) {
        let from_spare = (STEP - self.used).min(out.len());
        out[..from_spare].copy_from_slice(&self.spare[self.used..self.used + from_spare]);
        self.used += from_spare;
        let rest = &mut out[from_spare..];
        let whole = rest.len() / STEP * STEP;
        let (steps, tail) = rest.split_at_mut(whole);
        draw_steps(&mut self.states, steps);
        if !tail.is_empty() {
            draw_steps(&mut self.states, &mut self.spare);
            tail.copy_from_slice(&self.spare[..tail.len()]);
            self.used = tail.len();
        }
    }

    /// Skips the next `n` draws (draws them: as fast as [`Normals::fill`]).
    pub fn skip(&mut self, n: u64) {
        let mut buf = [0.0; 256];
        let mut left = n;
        while left > 0 {
            let m = left.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..m]);
            left -= m as u64;
        }
    }
}

/// Whole steps of the four generators into `out` (`out.len()` a multiple of [`STEP`]), on the
/// fastest path this CPU has.
fn draw_steps(states: &mut [[u64; 4]; 4], out: &mut [f64]) {
    debug_assert_eq!(out.len() % STEP, 0);
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_available() {
        #[target_feature(enable = "avx2,fma")]
        fn avx2(states: &mut [[u64; 4]; 4], out: &mut [f64]) {
            use super::simd::Lanes;
            use super::simd::avx2::U4;
            use super::simd::wide::Wide;
            use super::simd::words::Words;
            let mut g = XoshiroLanes::<U4>::load(states);
            // LOCKSTEP steps at a time, their transforms interleaved (see `Wide`).
            let mut chunks = out.chunks_exact_mut(LOCKSTEP * STEP);
            for chunk in &mut chunks {
                let mut w1 = [U4::splat(0); LOCKSTEP];
                let mut w2 = w1;
                for k in 0..LOCKSTEP {
                    (w1[k], w2[k]) = (g.next(), g.next());
                }
                let (z0, z1) = box_muller(Wide(w1), Wide(w2));
                for (k, c) in chunk.chunks_exact_mut(STEP).enumerate() {
                    z0.0[k].store(&mut c[..4]);
                    z1.0[k].store(&mut c[4..]);
                }
            }
            for chunk in chunks.into_remainder().chunks_exact_mut(STEP) {
                let (w1, w2) = (g.next(), g.next());
                let (z0, z1) = box_muller(w1, w2);
                z0.store(&mut chunk[..4]);
                z1.store(&mut chunk[4..]);
            }
            g.store(states);
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { avx2(states, out) };
        return;
    }
    draw_steps_portable(states, out);
}

/// [`draw_steps`] one generator at a time, in plain `f64` (the same bits).
fn draw_steps_portable(states: &mut [[u64; 4]; 4], out: &mut [f64]) {
    for (j, st) in states.iter_mut().enumerate() {
        let mut g = XoshiroLanes::<u64>::load(std::slice::from_ref(st));
        for chunk in out.chunks_exact_mut(STEP) {
            let (w1, w2) = (g.next(), g.next());
            let (z0, z1) = box_muller(w1, w2);
            chunk[j] = z0;
            chunk[4 + j] = z1;
        }
        g.store(std::slice::from_mut(st));
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
