//! The vectorised trapezoid sum over a block of intervals.
//!
//! For intervals `[i0, i1)` the kernel returns, unscaled by `h`,
//! `(f(x_i0) + f(x_i1)) / 2 + Σ_{k=i0+1}^{i1−1} f(x_k)` with `x_k = a + k·h` computed exactly as
//! the scalar expression `a + k as f64 * h` (a multiply, then an add: never fused, never
//! accumulated), so every point has the same abscissa whichever block it falls in. (A function
//! with [`LaneFn::ABSCISSA`] false receives `k as f64 * h` alone and adds `a` itself.)
//!
//! Summation: lanes accumulate plainly within chunks of `4 · CHUNK` vectors (four chains) or
//! `CHUNK_ONE` vectors (one chain, for functions that ask for it through [`LaneFn::CHAINS`]),
//! and each chunk's total is added into per-lane compensated accumulators (TwoSum); the lanes
//! are combined with compensation at the end. The error is therefore bounded by the plain sum of
//! one chunk (at most 16 terms per lane: ≤ 16 ε of the chunk's magnitude) and does not grow
//! with the number of points: 10^10 points sum as accurately as 10^4. Terms are added with
//! [`LaneFn::fold`], which may fuse a function's last product into the addition.

use super::super::simd::{LaneFn, Lanes, avx2_fma_available};
use super::super::sum::{CompensatedSum, two_sum};

/// `F` through its fast path.
#[derive(Clone, Copy)]
struct Fast<F>(F);

impl<F: LaneFn> LaneFn for Fast<F> {
    const ABSCISSA: bool = F::ABSCISSA;
    const CHAINS: usize = F::CHAINS;
    #[inline(always)]
    fn eval<V: Lanes>(self, x: V) -> V {
        self.0.eval_fast(x)
    }
}

/// Vectors per chunk and accumulation chain with four chains (each lane's plain sum has 8 terms
/// plus the chains' pairwise tree).
const CHUNK: usize = 8;

/// Vectors per chunk with one chain (each lane's plain sum has 16 terms).
const CHUNK_ONE: usize = 16;

/// Per-lane TwoSum: `s += t`, the rounding error into `c`. (A function, not a closure: closures
/// do not inherit the caller's target features.)
#[inline(always)]
fn add_two_sum<V: Lanes>(s: &mut V, c: &mut V, t: V) {
    let n = *s + t;
    let bb = n - *s;
    *c = *c + ((*s - (n - bb)) + (t - bb));
    *s = n;
}

/// The argument of `f` at grid offset `kf·h`: `a + kf·h`, or `kf·h` alone (see
/// [`LaneFn::ABSCISSA`]).
#[inline(always)]
fn arg<V: Lanes, F: LaneFn>(av: V, kf: V, hv: V) -> V {
    if F::ABSCISSA { av + kf * hv } else { kf * hv }
}

/// `Σ_{k=k0}^{k1−1} f(a + k·h)` added into `acc`, with `F::CHAINS` accumulators (1 or 4).
#[inline(always)]
pub(super) fn inner_sum<V: Lanes, F: LaneFn>(
    f: F,
    a: f64,
    h: f64,
    k0: u64,
    k1: u64,
    acc: &mut CompensatedSum,
) {
    if k0 >= k1 {
        return;
    }
    let (av, hv) = (V::splat(a), V::splat(h));
    let step = V::splat(V::N as f64);
    let mut kf = V::iota() + V::splat(k0 as f64);
    let (mut s, mut c) = (V::zero(), V::zero());
    let mut left = k1 - k0;
    if F::CHAINS == 1 {
        let per_chunk = (CHUNK_ONE * V::N) as u64;
        while left >= per_chunk {
            let mut p = V::zero();
            for _ in 0..CHUNK_ONE {
                p = f.fold(p, arg::<V, F>(av, kf, hv));
                kf = kf + step;
            }
            add_two_sum(&mut s, &mut c, p);
            left -= per_chunk;
        }
    } else {
        let per_chunk = (4 * CHUNK * V::N) as u64;
        let (s2, s3) = (step + step, step + step + step);
        while left >= per_chunk {
            let (mut p0, mut p1, mut p2, mut p3) = (V::zero(), V::zero(), V::zero(), V::zero());
            for _ in 0..CHUNK {
                let (x0, x1, x2, x3) = (
                    arg::<V, F>(av, kf, hv),
                    arg::<V, F>(av, kf + step, hv),
                    arg::<V, F>(av, kf + s2, hv),
                    arg::<V, F>(av, kf + s3, hv),
                );
                p0 = f.fold(p0, x0);
                p1 = f.fold(p1, x1);
                p2 = f.fold(p2, x2);
                p3 = f.fold(p3, x3);
                kf = kf + s3 + step;
            }
            add_two_sum(&mut s, &mut c, (p0 + p1) + (p2 + p3));
            left -= per_chunk;
        }
    }
    let mut p = V::zero();
    while left >= V::N as u64 {
        p = f.fold(p, arg::<V, F>(av, kf, hv));
        kf = kf + step;
        left -= V::N as u64;
    }
    if left > 0 {
        let keep = V::iota().lt(V::splat(left as f64));
        p = p + V::select(keep, f.eval(arg::<V, F>(av, kf, hv)), V::zero());
    }
    add_two_sum(&mut s, &mut c, p);
    let (mut ss, mut cc) = ([0.0; 8], [0.0; 8]);
    s.store(&mut ss);
    c.store(&mut cc);
    for l in 0..V::N {
        let (t, e) = two_sum(acc.sum, ss[l]);
        acc.sum = t;
        acc.compensation += e + cc[l];
    }
}

/// The unscaled trapezoid sum over intervals `[i0, i1)` (see the module docs).
#[inline(always)]
fn weighted<V: Lanes, F: LaneFn>(f: F, a: f64, h: f64, i0: u64, i1: u64) -> CompensatedSum {
    let mut acc = CompensatedSum::default();
    if i0 >= i1 {
        return acc;
    }
    acc.add(0.5 * f.eval(V::splat(a + i0 as f64 * h)).first());
    acc.add(0.5 * f.eval(V::splat(a + i1 as f64 * h)).first());
    // x_k is monotonic in k (rounding is monotonic), so the end points bound the block.
    let (x0, x1) = (a + i0 as f64 * h, a + i1 as f64 * h);
    let (lo, hi) = (x0.min(x1), x0.max(x1));
    if F::FAST.0 <= lo && hi <= F::FAST.1 {
        inner_sum::<V, Fast<F>>(Fast(f), a, h, i0 + 1, i1, &mut acc);
    } else {
        inner_sum::<V, F>(f, a, h, i0 + 1, i1, &mut acc);
    }
    acc
}

/// The unscaled trapezoid sum on the fastest path this CPU has.
pub(crate) fn trapezoid_sum<F: LaneFn>(f: F, a: f64, h: f64, i0: u64, i1: u64) -> CompensatedSum {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_available() {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<F: LaneFn>(f: F, a: f64, h: f64, i0: u64, i1: u64) -> CompensatedSum {
            weighted::<super::super::simd::avx2::V4, F>(f, a, h, i0, i1)
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { avx2(f, a, h, i0, i1) };
    }
    weighted::<f64, F>(f, a, h, i0, i1)
}

/// The unscaled trapezoid sum on the portable one-lane path (for tests and comparisons).
pub(crate) fn trapezoid_sum_portable<F: LaneFn>(
    f: F,
    a: f64,
    h: f64,
    i0: u64,
    i1: u64,
) -> CompensatedSum {
    weighted::<f64, F>(f, a, h, i0, i1)
}

/// The unscaled trapezoid sum of a scalar function, one point at a time, compensated per term
/// (the reference the kernels are tested against).
#[cfg(test)]
pub(crate) fn trapezoid_sum_scalar(
    f: impl Fn(f64) -> f64,
    a: f64,
    h: f64,
    i0: u64,
    i1: u64,
) -> CompensatedSum {
    let mut acc = CompensatedSum::default();
    if i0 >= i1 {
        return acc;
    }
    let x = |k: u64| a + k as f64 * h;
    acc.add(0.5 * f(x(i0)));
    acc.add(0.5 * f(x(i1)));
    for k in i0 + 1..i1 {
        acc.add(f(x(k)));
    }
    acc
}
