//! Reduction by whole quadrants: `x − q·π/2` for a run of arguments that share one `q`.
//!
//! The per-lane reduction of [`super`] rounds `x·2/π` in every lane and subtracts `q·π/2` with
//! fused multiply-adds: three multiplier slots per vector. When a kernel knows that a run of
//! arguments lies in one quadrant (the trapezoid kernels cut their blocks at quadrant
//! boundaries), `−q·π/2` is a constant of the run. [`Quadrant::new`] splits it once into three
//! doubles, `hi + mid + lo`, and [`Quadrant::reduce`] is then three additions,
//! `r = ((x + hi) + mid) + lo`, which use the adders and leave the multipliers to the
//! polynomial.
//!
//! **Constants.** `π/2 = C1 + C2 + C3` to about 2^-164 relative (`C1 = fl(π/2)`, `C2`, `C3` the
//! next two double parts). With `|q| ≤ 2^21`, `q·C1 = p1 + e1` and `q·C2 = p2 + e2` exactly
//! (products split by an FMA); `hi = −p1`, and `mid + lo` is `−(e1 + p2 + e2 + q·C3)` as a
//! double-double (a TwoSum, then the small terms). So `hi + mid + lo = −q·π/2` to about
//! `|q|·2^-150`.
//!
//! **Exactness of the first addition.** For `q ≠ 0` both `x` and `p1` have magnitude at least
//! 1/2, so both are multiples of 2^-53, and `|x − p1| ≤ π/4 + ε < 1`: the difference is a
//! multiple of 2^-53 below 1 in magnitude, hence a double, and `x + hi` is exact. (For `q = 0`
//! all three constants are zero and `r = x`.) The two remaining additions round once each, so
//! `r` is within about one ulp (two half-ulp roundings) of `x − q·π/2`, relatively, even next
//! to the multiples of π/2 where `r` is tiny: the closest doubles to those multiples (for
//! `|x| ≤ 10^6`) leave `|r|` many orders of magnitude above `|lo| ≤ |q|·2^-105`. This is more
//! accurate than the per-lane two-constant reduction, which is off by up to `|q|·1.5e-33`
//! absolutely.

use crate::kernels::simd::Lanes;
use crate::kernels::sum::two_sum;

use super::{PIO2_C1, PIO2_C2, PIO2_C3};

/// The largest `|q|` that [`Quadrant::new`] accepts (quadrants up to `|x| ≈ 3.3·10^6`).
pub(crate) const QUADRANT_MAX: i64 = 1 << 21;

/// The quadrant of `x`: `round(x · 2/π)` (the product rounded, then rounded to the nearest
/// integer, ties away from zero).
///
/// Monotone non-decreasing in `x` (both roundings are), so along an evenly spaced grid the
/// quadrants form runs that a kernel can find by bisection. For `|x| ≤ 10^6` the reduced
/// argument `x − q·π/2` lies within `π/4 + 4e-10` of zero.
#[inline]
pub(crate) fn quadrant_of(x: f64) -> i64 {
    (x * std::f64::consts::FRAC_2_PI).round() as i64
}

/// The constants that reduce any `x` of quadrant `q` to `x − q·π/2` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Quadrant {
    q: i64,
    hi: f64,
    mid: f64,
    lo: f64,
}

impl Quadrant {
    /// The reduction for quadrant `q`.
    ///
    /// # Panics
    /// Panics if `|q| > QUADRANT_MAX` (the products below would no longer be exact).
    pub(crate) fn new(q: i64) -> Self {
        assert!(
            q.abs() <= QUADRANT_MAX,
            "quadrant {q} is beyond ±{QUADRANT_MAX}"
        );
        let qf = q as f64;
        // q·C1 = p1 + e1 and q·C2 = p2 + e2 exactly (FMA splitting; |q| < 2^53).
        let p1 = qf * PIO2_C1;
        let e1 = qf.mul_add(PIO2_C1, -p1);
        let p2 = qf * PIO2_C2;
        let e2 = qf.mul_add(PIO2_C2, -p2);
        // e1 + p2 as a double-double, then the terms below its rounding error.
        let (mid, t) = two_sum(e1, p2);
        let lo = (t + e2) + qf * PIO2_C3;
        Self {
            q,
            hi: -p1,
            mid: -mid,
            lo: -lo,
        }
    }

    /// Whether `q` is odd (where `sin` and `cos` trade places).
    pub(crate) fn is_odd(self) -> bool {
        self.q & 1 != 0
    }

    /// `x − q·π/2` per lane, for `x` in this quadrant: `((x + hi) + mid) + lo`, the first
    /// addition exact (see the module docs).
    #[inline(always)]
    pub(crate) fn reduce<V: Lanes>(self, x: V) -> V {
        ((x + V::splat(self.hi)) + V::splat(self.mid)) + V::splat(self.lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_sum_to_minus_q_pi_over_2() {
        assert_eq!(
            Quadrant::new(0),
            Quadrant {
                q: 0,
                hi: 0.0,
                mid: 0.0,
                lo: 0.0
            }
        );
        for q in [1i64, -1, 2, 7, -1000, 636_620, QUADRANT_MAX] {
            let c = Quadrant::new(q);
            // hi is the double nearest q·C1 (within half an ulp of it), mid below its ulp.
            assert_eq!(c.hi, -(q as f64 * PIO2_C1));
            assert!(c.mid.abs() <= c.hi.abs() * f64::EPSILON, "q = {q}");
            assert!(c.lo.abs() <= c.mid.abs() * f64::EPSILON, "q = {q}");
            assert_eq!(c.q, q);
            assert_eq!(c.is_odd(), q % 2 != 0);
        }
    }

    /// Next to a multiple of π/2, `x − qπ/2` is (up to sign) `sin x` or `cos x` to far below
    /// an ulp (`sin r = r(1 − r²/6)`): std's correctly reduced `sin`/`cos` are the reference.
    #[test]
    fn reduction_is_accurate_next_to_multiples_of_pi_over_2() {
        let mut worst = 0.0f64;
        for k in (1..2_000_000i64).step_by(331) {
            let y = k as f64 * std::f64::consts::FRAC_PI_2;
            for x in [
                y,
                f64::from_bits(y.to_bits() + 1),
                f64::from_bits(y.to_bits() - 1),
            ] {
                let q = quadrant_of(x);
                assert_eq!(q, k, "x = {x:e}");
                let r = Quadrant::new(q).reduce(x);
                assert!(r.abs() < 1e-9, "x = {x:e}: r = {r:e}");
                // x = qπ/2 + r: r ≈ sin r = sin x, −cos x, −sin x, cos x for q = 0, 1, 2, 3 mod 4.
                let reference = match q.rem_euclid(4) {
                    0 => x.sin(),
                    1 => -x.cos(),
                    2 => -x.sin(),
                    _ => x.cos(),
                };
                let err = ((r - reference) / reference).abs() / f64::EPSILON;
                worst = worst.max(err);
                assert!(err <= 1.5, "x = {x:e}: r = {r:e}, reference {reference:e}");
            }
        }
        println!("quadrant reduction next to kπ/2: max error {worst:.3} ulp");
    }

    #[test]
    fn reduction_agrees_with_std_everywhere() {
        // Anywhere in [-10^6, 10^6]: sin(r) and cos(r) recombine to std's sin x.
        let mut x = -1.0e6f64;
        while x < 1.0e6 {
            let q = quadrant_of(x);
            let r = Quadrant::new(q).reduce(x);
            assert!(r.abs() <= std::f64::consts::FRAC_PI_4 + 4e-10, "x = {x}");
            let s = match q.rem_euclid(4) {
                0 => r.sin(),
                1 => r.cos(),
                2 => -r.sin(),
                _ => -r.cos(),
            };
            assert!(
                (s - x.sin()).abs() <= 2.0 * f64::EPSILON,
                "x = {x}: {s} vs {}",
                x.sin()
            );
            x += 12.345_678_9;
        }
    }
}
