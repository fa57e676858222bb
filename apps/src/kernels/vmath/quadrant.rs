//! Reduction by whole quadrants along a grid: `a + t − q·π/2` for a run of points `a + t` that
//! share one quadrant `q`.
//!
//! The per-lane reduction of [`super`] rounds `x·2/π` in every lane and subtracts `q·π/2` with
//! fused multiply-adds: three multiplier slots per vector. When a kernel knows that a run of
//! grid points lies in one quadrant (the trapezoid kernels cut their blocks at quadrant
//! boundaries), `A = a − q·π/2` is a constant of the run. [`Quadrant::new`] splits it once
//! into three doubles, `hi + mid + lo`, and [`Quadrant::reduce`] of the grid offset `t = k·h`
//! is three additions, `r = ((t + hi) + mid) + lo`, which use the adders and leave the
//! multipliers to the polynomial. (The point is `a + t` exactly: one rounding fewer than the
//! per-lane kernels' abscissa `fl(a + t)`, which it differs from by at most half an ulp.)
//!
//! **Constants.** `π/2 = C1 + C2 + C3` to about 2^-164 relative (`C1 = fl(π/2)`, `C2`, `C3` the
//! next two double parts). With `|q| ≤ 2^21`, `q·C1 = p1 + e1` and `q·C2 = p2 + e2` exactly
//! (products split by an FMA); `a − p1`, then `e1 + p2`, are TwoSums, and the terms below their
//! rounding errors are added last. So `hi + mid + lo = a − q·π/2` to about
//! `max(|a|, |q|)·2^-150`, and `|lo|` is below `max(|a|, |q|)·2^-104`.
//!
//! **Accuracy of `r`.** Where `r` is small, `t` and `−hi` agree to a factor of two and `t + hi`
//! is exact (Sterbenz); where `t + hi` rounds, it is far from zero and `mid`, `lo` cannot cancel
//! it. The two other additions round once each: `r` is within about one ulp of `a + t − q·π/2`,
//! relatively, even next to the multiples of π/2 — the per-lane two-constant reduction is off by
//! up to `|q|·1.5e-33` absolutely there.
//!
//! **Two additions.** When no point of the grid in quadrant `q` comes within `2^60·|lo|` of
//! `q·π/2`, dropping `lo` changes `r` by less than 2^-60 relatively ([`Quadrant::reduce_short`],
//! chosen per quadrant by [`Quadrant::short_is_enough`]; true on all but a vanishing fraction of
//! grids, and always for `q = 0`).

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

/// The constants that reduce the points `a + t` of quadrant `q` to `a + t − q·π/2` (see the
/// module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Quadrant {
    q: i64,
    hi: f64,
    mid: f64,
    lo: f64,
}

impl Quadrant {
    /// The reduction for quadrant `q` of the grid with origin `a`.
    ///
    /// # Panics
    /// Panics if `|q| > QUADRANT_MAX` (the products below would no longer be exact).
    pub(crate) fn new(q: i64, a: f64) -> Self {
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
        // a − q·π/2 = (a − p1) − (e1 + p2) − (e2 + q·C3): two TwoSums, then the small terms.
        let (hi, t1) = two_sum(a, -p1);
        let (mid, t2) = two_sum(t1, -(e1 + p2));
        // e1 + p2 above is rounded: its error joins the small terms.
        let (_, e12) = two_sum(e1, p2);
        let lo = t2 - e12 - e2 - qf * PIO2_C3;
        Self { q, hi, mid, lo }
    }

    /// Whether `q` is odd (where `sin` and `cos` trade places).
    pub(crate) fn is_odd(self) -> bool {
        self.q & 1 != 0
    }

    /// `a + t − q·π/2` per lane, for the points `a + t` of this quadrant:
    /// `((t + hi) + mid) + lo` (see the module docs).
    #[inline(always)]
    pub(crate) fn reduce<V: Lanes>(self, t: V) -> V {
        ((t + V::splat(self.hi)) + V::splat(self.mid)) + V::splat(self.lo)
    }

    /// [`Quadrant::reduce`] without `lo`: `(t + hi) + mid`, for quadrants where
    /// [`Quadrant::short_is_enough`].
    #[inline(always)]
    pub(crate) fn reduce_short<V: Lanes>(self, t: V) -> V {
        (t + V::splat(self.hi)) + V::splat(self.mid)
    }

    /// Whether [`Quadrant::reduce_short`] is within 2^-60 (relatively) of
    /// [`Quadrant::reduce`] at every point `a + k·h` (`k ≥ 0`, `t = k·h` rounded) of this
    /// quadrant: `|lo|` is below 2^-60 of the smallest `|r|` there, which is at the grid points
    /// next to the zero of `r` (`r` is monotone in `k`), or at `k = 0`. Depends on `a`, `h` and
    /// `q` only.
    pub(crate) fn short_is_enough(self, a: f64, h: f64) -> bool {
        if self.lo == 0.0 {
            return true;
        }
        let r_at = |k: f64| {
            let t = k * h;
            (quadrant_of(a + t) == self.q).then(|| self.reduce(t).abs())
        };
        // The zero of r is near t = −(hi + mid) (the estimate is within a point or two of it);
        // k = 0 covers a zero behind the grid's start.
        let kz = (-(self.hi + self.mid) / h).floor();
        let r_min = [0.0, kz - 1.0, kz, kz + 1.0, kz + 2.0]
            .into_iter()
            .filter(|k| (0.0..=9_007_199_254_740_992.0).contains(k)) // 0 ≤ k ≤ 2^53
            .filter_map(r_at)
            .fold(f64::INFINITY, f64::min);
        self.lo.abs() <= r_min * 2f64.powi(-60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_sum_to_a_minus_q_pi_over_2() {
        let z = Quadrant::new(0, 0.0);
        assert_eq!((z.hi, z.mid, z.lo), (0.0, 0.0, 0.0));
        for q in [1i64, -1, 2, 7, -1000, 636_620, QUADRANT_MAX] {
            let c = Quadrant::new(q, 0.0);
            // hi is the double nearest q·C1, mid below its ulp, lo below mid's.
            assert_eq!(c.hi, -(q as f64 * PIO2_C1));
            assert!(c.mid.abs() <= c.hi.abs() * f64::EPSILON, "q = {q}");
            assert!(c.lo.abs() <= c.mid.abs() * f64::EPSILON, "q = {q}");
            assert_eq!(c.q, q);
            assert_eq!(c.is_odd(), q % 2 != 0);
            // With an origin: the same total, hi = fl(a − p1).
            let a = 0.3;
            let d = Quadrant::new(q, a);
            assert_eq!(d.hi, a - q as f64 * PIO2_C1);
            assert!((d.hi - c.hi - a).abs() <= d.hi.abs() * f64::EPSILON);
            assert!(
                d.lo.abs() <= (q.abs() as f64 + a) * 2f64.powi(-100),
                "q = {q}"
            );
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
                // x = qπ/2 + r: r ≈ sin r = sin x, −cos x, −sin x, cos x for q = 0, 1, 2, 3 mod 4.
                let reference = match q.rem_euclid(4) {
                    0 => x.sin(),
                    1 => -x.cos(),
                    2 => -x.sin(),
                    _ => x.cos(),
                };
                // Origin 0 (t = x) and origin 1/4 (t = x − 1/4, exact).
                for a in [0.0, 0.25] {
                    let c = Quadrant::new(q, a);
                    let (r, short) = (c.reduce(x - a), c.reduce_short(x - a));
                    assert!(r.abs() < 1e-9, "x = {x:e}: r = {r:e}");
                    let err = ((r - reference) / reference).abs() / f64::EPSILON;
                    worst = worst.max(err);
                    assert!(err <= 1.5, "x = {x:e}: r = {r:e}, reference {reference:e}");
                    // Without lo: off by |lo| ≈ |q|·2^-104 at most, besides rounding.
                    assert!((short - r).abs() <= c.lo.abs() + r.abs() * f64::EPSILON);
                }
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
            let r = Quadrant::new(q, 0.0).reduce(x);
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

    #[test]
    fn two_additions_suffice_unless_a_point_sits_on_a_multiple_of_pi_over_2() {
        // A typical grid: the nearest points to π/2, π, … are ~h away.
        for q in 0..8 {
            assert!(Quadrant::new(q, 0.0).short_is_enough(0.0, 1e-6), "q = {q}");
            assert!(
                Quadrant::new(q, -2.5).short_is_enough(-2.5, 3.3e-7),
                "q = {q}"
            );
        }
        // A grid through fl(π/2) (k = 1000): r there is 6e-17, |lo| ~ 1.5e-33 · 2^60 is not
        // below it; lo stays.
        let h = std::f64::consts::FRAC_PI_2 / 1000.0;
        assert_eq!(
            quadrant_of(1000.0 * h),
            1,
            "the grid point is in quadrant 1"
        );
        if (1000.0 * h - std::f64::consts::FRAC_PI_2).abs() < 1e-15 {
            assert!(!Quadrant::new(1, 0.0).short_is_enough(0.0, h));
        }
        // Backwards grids too.
        assert!(Quadrant::new(-3, 0.0).short_is_enough(0.0, -1e-6));
    }
}
