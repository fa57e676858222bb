//! `sin² x` quadrant by quadrant, for the trapezoid kernel of the `sin2` integrand.
//!
//! With `x = q·π/2 + r` ([`Quadrant`]: along a grid `x = a + t`, and `r` is computed from the
//! offset `t`), `sin² x` is `sin² r` for even `q` and `1 − sin² r` for odd `q`. A summing
//! kernel that keeps one quadrant per run therefore needs only `sin² r` per point, with no
//! per-lane selection: the constant `1` and the sign are applied to the run's sum (see
//! [`QuadrantFn`]).
//!
//! **Polynomial.** `sin² r = z·(1 + z·Q(z))` with `z = r²` and `Q` of degree 6: the minimax
//! (Remez) approximation of `(sin² r/z − 1)/z` for the *relative* error of `sin² r` on
//! `|r| ≤ (π/4)·(1 + 2^-20)` (the reduced range with room to spare). With the coefficients
//! rounded to doubles the approximation error is below `3.9e-17` relative (0.35 units of
//! 2^-53; checked at 20,000 points with 50-digit arithmetic). The factor `z` in front keeps the
//! error relative all the way down to `r = 0`, so the zeros of `sin²` are as accurate as the
//! rest. Horner's scheme: per point one product for `z`, seven multiply-adds and a last
//! product (fused with the kernel's accumulation, see [`Sin2Reduced::fold`]).
//!
//! **Accuracy** (measured by the unit tests against std's `sin(x)²` over `|x| ≤ 10^6`, points
//! next to multiples of π/2 included): within a few ulp everywhere, zeros included (see
//! `tests::quadrant_sin2_is_accurate`).

use crate::kernels::simd::{LaneFn, Lanes};

use super::quadrant::Quadrant;

// Q(z) = Q1 + Q2 z + … + Q7 z^6 (Remez, see the module docs). The Taylor coefficients of
// (sin²r/z − 1)/z are −1/3, 2/45, −1/315, 2/14175, …: Q1..Q4 agree with them to 13+ digits.
const Q1: f64 = -0.333_333_333_333_332_15;
const Q2: f64 = 0.044_444_444_444_382_454;
const Q3: f64 = -0.003_174_603_173_628_253;
const Q4: f64 = 0.000_141_093_467_579_876_33;
const Q5: f64 = -4.275_534_885_776_484e-6;
const Q6: f64 = 9.391_922_297_221_54e-8;
const Q7: f64 = -1.516_401_764_227_871_3e-9;

/// `(z, 1 + z·Q(z))` for the reduced argument `r`: `sin² r` is their product.
#[inline(always)]
fn sin2_factors<V: Lanes>(r: V) -> (V, V) {
    let z = r * r;
    let mut q = V::splat(Q7);
    for c in [Q6, Q5, Q4, Q3, Q2, Q1] {
        q = q.mul_add(z, V::splat(c));
    }
    (z, z.mul_add(q, V::splat(1.0)))
}

/// A function that is, on each quadrant `q`, `offset + sign · g_q` with a cheap lane function
/// `g_q` of the grid offset `t` (the point being `a + t`, `|a + t| ≤ 10^6`).
pub(crate) trait QuadrantFn: Copy {
    /// The lane function `g_q` of one quadrant, with the full (`FULL`) or the two-addition
    /// reduction ([`Quadrant::reduce`], [`Quadrant::reduce_short`]).
    type Piece<const FULL: bool>: LaneFn;
    /// `(g_q, offset, sign)` for a quadrant; `sign` is ±1.
    fn piece<const FULL: bool>(self, quadrant: Quadrant) -> (Self::Piece<FULL>, f64, f64);
}

/// `sin² x` as a [`QuadrantFn`]: `sin²(x − q·π/2)`, plus `1 −` on odd quadrants.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sin2Q;

impl QuadrantFn for Sin2Q {
    type Piece<const FULL: bool> = Sin2Reduced<FULL>;
    #[inline]
    fn piece<const FULL: bool>(self, quadrant: Quadrant) -> (Sin2Reduced<FULL>, f64, f64) {
        let (offset, sign) = if quadrant.is_odd() {
            (1.0, -1.0)
        } else {
            (0.0, 1.0)
        };
        (Sin2Reduced(quadrant), offset, sign)
    }
}

/// `sin²(a + t − q·π/2)` per lane for the grid offsets `t` of one quadrant `q` (the reduction
/// with `lo` if `FULL`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sin2Reduced<const FULL: bool>(pub(crate) Quadrant);

impl<const FULL: bool> Sin2Reduced<FULL> {
    /// `(z, 1 + z·Q(z))` at grid offset `t`.
    #[inline(always)]
    fn factors<V: Lanes>(self, t: V) -> (V, V) {
        sin2_factors(if FULL {
            self.0.reduce(t)
        } else {
            self.0.reduce_short(t)
        })
    }
}

impl<const FULL: bool> LaneFn for Sin2Reduced<FULL> {
    // The argument is the offset t: the origin is in the reduction's constants.
    const ABSCISSA: bool = false;
    // One accumulator: the polynomial is long enough to overlap across iterations, and the
    // constants stay in registers.
    const CHAINS: usize = 1;
    #[inline(always)]
    fn eval<V: Lanes>(self, t: V) -> V {
        let (z, v) = self.factors(t);
        z * v
    }
    #[inline(always)]
    fn fold<V: Lanes>(self, acc: V, t: V) -> V {
        let (z, v) = self.factors(t);
        z.mul_add(v, acc)
    }
}
