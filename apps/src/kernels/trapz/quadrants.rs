//! The trapezoid sum of a function taken quadrant by quadrant (`sin2`).
//!
//! A block's interior points are cut into runs that lie in one quadrant `q` of the line
//! (`round(x·2/π) = q`, see [`quadrant_of`]). Along the grid the quadrant is monotone in `k`, so
//! each run's end is found by bisection; on the run, `f = offset + sign · g_q` ([`QuadrantFn`])
//! and the kernel sums `g_q`, whose range reduction is three additions of constants
//! ([`Quadrant`]) and which has no per-lane branch or selection. The run contributes
//! `offset · m + sign · Σ g_q` (`m` its number of points; both products exact).
//!
//! Point `k` is evaluated at `a + fl(k·h)`, the offset added to the origin exactly (inside the
//! reduction, see [`Quadrant`]): within half an ulp of the per-lane kernels' abscissa
//! `fl(a + k·h)`. Its quadrant, and so its value, depend on `k` only, not on the block that holds
//! it. The run sums are compensated like the per-lane kernel's.
//!
//! The path is taken when the block lies in `|x| ≤ 10^6` and the grid has at least
//! [`MIN_POINTS_PER_QUADRANT`] points per quadrant (a run costs a bisection and a few
//! constants); otherwise the block goes to the per-lane kernel with the `fallback` function.
//! Both conditions depend on the grid and the block's range only.

use super::super::simd::{LaneFn, Lanes, avx2_fma_available};
use super::super::sum::CompensatedSum;
use super::super::vmath::{Quadrant, QuadrantFn, TRIG_FAST_MAX, quadrant_of};
use super::kernel::{inner_sum, trapezoid_sum, trapezoid_sum_portable};

/// Fewest grid points per quadrant (π/2 over the spacing) for the quadrant path.
const MIN_POINTS_PER_QUADRANT: f64 = 1024.0;

/// The first `k` in `(k0, k1)` where `same(k)` fails, or `k1` if it holds throughout; `same`
/// holds at `k0` and is monotone (true, then false).
fn run_end(same: impl Fn(u64) -> bool, k0: u64, k1: u64) -> u64 {
    let (mut lo, mut hi) = (k0, k1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if same(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The lane function, offset and sign of quadrant `q` of the grid `(a, h)`: with the
/// two-addition reduction where it is enough (a choice that depends on `a`, `h` and `q` only,
/// so a point's value does not depend on the block that holds it).
macro_rules! with_piece {
    ($f:expr, $q:expr, ($a:expr, $h:expr), |$g:ident, $offset:ident, $sign:ident| $body:expr) => {{
        let quadrant = Quadrant::new($q, $a);
        if quadrant.short_is_enough($a, $h) {
            let ($g, $offset, $sign) = $f.piece::<false>(quadrant);
            $body
        } else {
            let ($g, $offset, $sign) = $f.piece::<true>(quadrant);
            $body
        }
    }};
}

/// `f` at grid point `k` (lane 0 of `V`: the same arithmetic as the hot loop).
#[inline(always)]
fn value<V: Lanes, F: QuadrantFn>(f: F, a: f64, h: f64, k: u64) -> f64 {
    let t = k as f64 * h;
    with_piece!(f, quadrant_of(a + t), (a, h), |g, offset, sign| {
        offset + sign * g.eval(V::splat(t)).first()
    })
}

/// The unscaled trapezoid sum over intervals `[i0, i1)`, run by run (see the module docs).
#[inline(always)]
fn weighted<V: Lanes, F: QuadrantFn>(f: F, a: f64, h: f64, i0: u64, i1: u64) -> CompensatedSum {
    let mut acc = CompensatedSum::default();
    if i0 >= i1 {
        return acc;
    }
    acc.add(0.5 * value::<V, F>(f, a, h, i0));
    acc.add(0.5 * value::<V, F>(f, a, h, i1));
    let x = |k: u64| a + k as f64 * h;
    let mut k = i0 + 1;
    while k < i1 {
        let q = quadrant_of(x(k));
        let end = run_end(|j| quadrant_of(x(j)) == q, k, i1);
        let mut run = CompensatedSum::default();
        let (offset, sign) = with_piece!(f, q, (a, h), |g, offset, sign| {
            inner_sum::<V, _>(g, a, h, k, end, &mut run);
            (offset, sign)
        });
        acc = acc
            .combine(CompensatedSum::new(offset * (end - k) as f64))
            .combine(CompensatedSum {
                sum: sign * run.sum,
                compensation: sign * run.compensation,
            });
        k = end;
    }
    acc
}

/// Whether the block `[i0, i1)` takes the quadrant path (see the module docs).
fn quadrant_path(a: f64, h: f64, i0: u64, i1: u64) -> bool {
    let (x0, x1) = (a + i0 as f64 * h, a + i1 as f64 * h);
    x0.abs().max(x1.abs()) <= TRIG_FAST_MAX
        && h.abs() * MIN_POINTS_PER_QUADRANT <= std::f64::consts::FRAC_PI_2
}

/// The unscaled trapezoid sum of `f` by quadrants, on the fastest path this CPU has (or the
/// portable one-lane path if `portable`); blocks outside the quadrant path's conditions go to
/// the per-lane kernel with `fallback` (the same function).
pub(crate) fn quadrant_sum<F: QuadrantFn, L: LaneFn>(
    f: F,
    fallback: L,
    (a, h): (f64, f64),
    (i0, i1): (u64, u64),
    portable: bool,
) -> CompensatedSum {
    if !quadrant_path(a, h, i0, i1) {
        return if portable {
            trapezoid_sum_portable(fallback, a, h, i0, i1)
        } else {
            trapezoid_sum(fallback, a, h, i0, i1)
        };
    }
    #[cfg(target_arch = "x86_64")]
    if !portable && avx2_fma_available() {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<F: QuadrantFn>(f: F, a: f64, h: f64, i0: u64, i1: u64) -> CompensatedSum {
            weighted::<super::super::simd::avx2::V4, F>(f, a, h, i0, i1)
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { avx2(f, a, h, i0, i1) };
    }
    weighted::<f64, F>(f, a, h, i0, i1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_end_where_the_quadrant_changes() {
        assert_eq!(run_end(|k| k < 10, 0, 100), 10);
        assert_eq!(run_end(|k| k < 10, 9, 100), 10);
        assert_eq!(run_end(|_| true, 5, 100), 100);
        assert_eq!(run_end(|_| false, 5, 6), 6);
        // Along a grid, each run holds one quadrant and the next point starts another.
        let (a, h) = (-3.0, 1e-3);
        let x = |k: u64| a + k as f64 * h;
        let mut k = 1;
        let mut runs = 0;
        while k < 9_000 {
            let q = quadrant_of(x(k));
            let end = run_end(|j| quadrant_of(x(j)) == q, k, 9_000);
            assert!((k..end).all(|j| quadrant_of(x(j)) == q));
            assert!(end == 9_000 || quadrant_of(x(end)) == q + 1);
            runs += 1;
            k = end;
        }
        assert_eq!(runs, 7); // quadrants −2 ..= 4 on (−3, 6)
    }

    #[test]
    fn the_path_depends_on_spacing_and_range() {
        assert!(quadrant_path(0.0, 1e-6, 0, 1000));
        assert!(!quadrant_path(0.0, 1e-2, 0, 1000)); // 157 points per quadrant
        assert!(!quadrant_path(999_999.0, 1e-6, 0, 2_000_000)); // past 10^6
    }
}
