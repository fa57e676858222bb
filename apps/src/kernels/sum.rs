//! Compensated summation: a running sum that carries its own rounding error.
//!
//! [`CompensatedSum`] keeps `sum` and `compensation` such that `sum + compensation` is the
//! total with the rounding error of every addition accounted for (Neumaier's variant of
//! Kahan summation, with the branch-free TwoSum of Knuth). Adding `m` terms gives an error of
//! about one rounding of the result plus `m · ε² · Σ|terms|`, instead of `m · ε · Σ|terms|` for
//! plain summation: partial sums from any number of engines combine to the same total up to
//! rounding.

use serde::{Deserialize, Serialize};

/// A sum and the accumulated rounding error of its additions: the value is
/// `sum + compensation`.
///
/// ```
/// use mpiview_apps::kernels::sum::CompensatedSum;
/// let mut s = CompensatedSum::default();
/// for x in [1e16, 1.0, -1e16, 1.0] {
///     s.add(x);
/// }
/// assert_eq!(s.value(), 2.0); // plain summation gives 0.0 or 1.0 here
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompensatedSum {
    /// The running sum, rounded.
    pub sum: f64,
    /// The rounding errors of the additions so far (small next to `sum`).
    pub compensation: f64,
}

/// `(s, e)` with `s = fl(a + b)` and `a + b = s + e` exactly (Knuth's TwoSum, branch-free).
#[inline(always)]
pub(crate) fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

impl CompensatedSum {
    /// A sum holding `x` exactly.
    pub fn new(x: f64) -> Self {
        Self {
            sum: x,
            compensation: 0.0,
        }
    }

    /// Adds one term.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let (s, e) = two_sum(self.sum, x);
        self.sum = s;
        self.compensation += e;
    }

    /// The total, `sum + compensation`.
    #[inline]
    pub fn value(self) -> f64 {
        self.sum + self.compensation
    }

    /// The sum of two compensated sums, keeping both compensations.
    ///
    /// ```
    /// use mpiview_apps::kernels::sum::CompensatedSum;
    /// let a = CompensatedSum { sum: 1e16, compensation: 1.0 };
    /// let b = CompensatedSum { sum: -1e16, compensation: 1.0 };
    /// assert_eq!(a.combine(b).value(), 2.0);
    /// ```
    #[inline]
    #[must_use]
    pub fn combine(self, other: Self) -> Self {
        let (s, e) = two_sum(self.sum, other.sum);
        Self {
            sum: s,
            compensation: self.compensation + other.compensation + e,
        }
    }

    /// The sum multiplied by `h`, keeping the rounding error of the product
    /// (`sum · h` is split exactly into a rounded product and its error with a fused
    /// multiply-add).
    ///
    /// ```
    /// use mpiview_apps::kernels::sum::CompensatedSum;
    /// let s = CompensatedSum::new(3.0).scale(0.1);
    /// assert_eq!(s.value(), 0.30000000000000004); // fl(3 · fl(0.1))
    /// ```
    #[inline]
    #[must_use]
    pub fn scale(self, h: f64) -> Self {
        let p = self.sum * h;
        let e = self.sum.mul_add(h, -p);
        Self {
            sum: p,
            compensation: e + self.compensation * h,
        }
    }

    /// The compensated sum of a sequence of partial sums (in order).
    ///
    /// ```
    /// use mpiview_apps::kernels::sum::CompensatedSum;
    /// let parts = [CompensatedSum::new(0.5), CompensatedSum::new(0.25)];
    /// assert_eq!(CompensatedSum::sum_of(parts).value(), 0.75);
    /// ```
    pub fn sum_of(parts: impl IntoIterator<Item = Self>) -> Self {
        parts
            .into_iter()
            .fold(Self::default(), |acc, p| acc.combine(p))
    }
}

impl FromIterator<f64> for CompensatedSum {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut s = Self::default();
        for x in iter {
            s.add(x);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sum_is_exact() {
        let (s, e) = two_sum(1.0, 1e-20);
        assert_eq!((s, e), (1.0, 1e-20));
        let (s, e) = two_sum(0.1, 0.2);
        assert_eq!(s, 0.30000000000000004);
        assert_eq!(e, -2.7755575615628914e-17);
    }

    #[test]
    fn compensated_sum_of_many_small_terms() {
        // 10^7 · fl(0.1) = 1e6 + 5.6e-11, which rounds to 1e6. Summed plainly, 10^7 terms of
        // 0.1 drift by about 1.6e-4; compensated, the result is the correctly rounded one.
        let n = 10_000_000u32;
        let s: CompensatedSum = (0..n).map(|_| 0.1).collect();
        let plain: f64 = (0..n).map(|_| 0.1).sum();
        assert_eq!(s.value(), 1e6);
        assert!(
            (plain - 1e6).abs() > 1e-6,
            "plain sum should drift: {plain}"
        );
    }

    #[test]
    fn combine_in_any_grouping() {
        let xs: Vec<f64> = (0..10_000)
            .map(|i| ((i * 7919) % 1000) as f64 * 1e-3 - 0.4)
            .collect();
        let whole: CompensatedSum = xs.iter().copied().collect();
        for parts in [2, 3, 7, 64] {
            let chunk = xs.len().div_ceil(parts);
            let total = CompensatedSum::sum_of(
                xs.chunks(chunk)
                    .map(|c| c.iter().copied().collect::<CompensatedSum>()),
            );
            assert_eq!(total.value(), whole.value());
        }
    }

    #[test]
    fn scale_keeps_the_product_error() {
        let s = CompensatedSum::new(1.0 / 3.0).scale(3.0);
        // 3 · fl(1/3) = 1 − 2^-54 exactly: sum rounds to 1, compensation holds −2^-54.
        assert_eq!(s.sum, 1.0);
        assert_eq!(s.compensation, -(2f64.powi(-54)));
    }
}
