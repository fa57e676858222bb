//! Lane abstraction for the vectorised kernels, with runtime dispatch.
//!
//! Kernels are written once, generic over [`Lanes`]: a vector of `N` `f64` lanes with the
//! handful of operations they need. Two implementations exist:
//!
//! - `f64` itself (one lane, portable, `mul_add` *unfused* so that it stays fast without FMA);
//! - `avx2::V4` (four lanes, AVX2 + FMA, `mul_add` fused), only reachable through
//!   [`avx2_fma_available`] and a `#[target_feature(enable = "avx2,fma")]` entry point.
//!
//! Every method is `#[inline(always)]`, so a generic kernel instantiated inside a
//! `#[target_feature]` function compiles to straight AVX2 code. No `-C target-cpu` is needed:
//! binaries run on any x86_64 node and pick the AVX2 path where the CPU has it.
//!
//! Functions are passed to kernels as types implementing [`LaneFn`] (zero-sized, methods
//! `#[inline(always)]`), never as closures or `fn` items: a closure body is compiled without
//! the caller's target features, and the AVX intrinsics inside it would become out-of-line
//! calls (about 30× slower).

use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
pub(crate) mod wide;
pub(crate) mod words;

/// A vector of `N` `f64` lanes.
///
/// Lane-wise semantics are those of IEEE binary64 for `+ - * /` and `sqrt`. `mul_add` is fused
/// when [`Lanes::FMA`] is true, two roundings otherwise; kernels that need the same bits on
/// every path must not use it.
pub(crate) trait Lanes:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// Number of lanes.
    const N: usize;
    /// Whether `mul_add` is a fused multiply-add (one rounding).
    const FMA: bool;
    /// A lane mask, as produced by comparisons.
    type Mask: Copy
        + BitAnd<Output = Self::Mask>
        + BitOr<Output = Self::Mask>
        + Not<Output = Self::Mask>;

    /// All lanes `x`.
    fn splat(x: f64) -> Self;
    /// Lanes `0, 1, …, N-1`.
    fn iota() -> Self;
    /// The first `N` values of `s` (`s.len() >= N`).
    fn load(s: &[f64]) -> Self;
    /// Writes the lanes to `out[..N]` (`out.len() >= N`).
    fn store(self, out: &mut [f64]);
    /// Lane 0.
    fn first(self) -> f64;
    /// `self * a + b`, fused iff [`Lanes::FMA`].
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `self * a + b` rounded once, on every path (the portable one calls the C library's
    /// `fma`: exact, but slow where the CPU has no FMA instruction). For results that must be
    /// the same bits everywhere.
    fn fused_mul_add(self, a: Self, b: Self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `if self < o { self } else { o }` per lane (so a NaN in `self` gives `o`).
    fn min(self, o: Self) -> Self;
    /// `if self > o { self } else { o }` per lane (so a NaN in `self` gives `o`).
    fn max(self, o: Self) -> Self;
    /// `self < o` (false for NaN).
    fn lt(self, o: Self) -> Self::Mask;
    /// `self <= o` (false for NaN).
    fn le(self, o: Self) -> Self::Mask;
    /// `self > o` (false for NaN).
    fn gt(self, o: Self) -> Self::Mask;
    /// `if m { a } else { b }` per lane.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// `-self` where `m` is set, `self` elsewhere (a sign flip: exact).
    #[inline(always)]
    fn neg_if(self, m: Self::Mask) -> Self {
        Self::select(m, -self, self)
    }
    /// Whether any lane of `m` is set.
    fn any(m: Self::Mask) -> bool;
    /// Lanes whose bit pattern has bit `bit` (0..64) set.
    fn bit_set(self, bit: u32) -> Self::Mask;
    /// `2^n` where `self = n + 1.5·2^52` holds an integer `n` in `[-1022, 1023]` in its low
    /// mantissa bits (the "magic number" rounding trick).
    fn pow2_from_magic(self) -> Self;

    /// All lanes zero.
    #[inline(always)]
    fn zero() -> Self {
        Self::splat(0.0)
    }
}

/// A function applied lane by lane.
pub(crate) trait LaneFn: Copy {
    /// Where [`LaneFn::eval_fast`] may be used instead of [`LaneFn::eval`].
    const FAST: (f64, f64) = (f64::NEG_INFINITY, f64::INFINITY);
    /// `f(x)` in every lane, for any `x`.
    fn eval<V: Lanes>(self, x: V) -> V;
    /// `f(x)` for `x` in [`LaneFn::FAST`]: the same values as `eval` there, without the
    /// out-of-range handling (which costs a branch and register spills in the hot loop).
    #[inline(always)]
    fn eval_fast<V: Lanes>(self, x: V) -> V {
        self.eval(x)
    }
    /// Whether a summing kernel passes the abscissa `a + k·h` (true), or only the offset
    /// `k·h` from the grid's origin (false: the function has the origin folded into its own
    /// constants, and saves an addition).
    const ABSCISSA: bool = true;
    /// How many independent accumulators a summing kernel should keep (1 or 4): several
    /// hide the latency of short functions; long ones overlap across iterations by themselves
    /// and run faster with fewer live registers.
    const CHAINS: usize = 4;
    /// `acc + f(x)` (for any `x`, as [`LaneFn::eval`]), as a summing kernel accumulates it; a
    /// function whose last step is a product may fuse it with the addition (one rounding fewer).
    #[inline(always)]
    fn fold<V: Lanes>(self, acc: V, x: V) -> V {
        acc + self.eval(x)
    }
}

/// `1.5 · 2^52`: adding it to `|y| < 2^51` rounds `y` to the nearest integer (ties to even) and
/// leaves that integer, two's complement, in the low mantissa bits.
pub(crate) const MAGIC: f64 = 6_755_399_441_055_744.0;

/// For tests of the AVX2 paths: whether this CPU has AVX2 and FMA; when it has not, says on
/// stderr that `test` checked only the portable path.
#[cfg(test)]
pub(crate) fn avx2_or_skip(test: &str) -> bool {
    let available = avx2_fma_available();
    if !available {
        eprintln!("{test}: skipped the AVX2 path (this CPU has no AVX2 + FMA)");
    }
    available
}

/// Whether this CPU runs the AVX2 + FMA kernels (checked once, then cached by std).
#[inline]
pub(crate) fn avx2_fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Replaces the lanes of `v` selected by `m` with `f` of the matching lanes of `x`, computed
/// one lane at a time. The slow path of a vector function for arguments outside its fast range;
/// lane-local, so a lane's value never depends on its neighbours. (`f` is a plain scalar
/// function: it is called out of line, which is fine on this rare path.)
#[inline(always)]
pub(crate) fn patch_lanes<V: Lanes>(x: V, v: V, m: V::Mask, f: impl Fn(f64) -> f64) -> V {
    if !V::any(m) {
        return v;
    }
    let mut xs = [0.0; 8];
    x.store(&mut xs);
    for x in xs.iter_mut().take(V::N) {
        *x = f(*x);
    }
    V::select(m, V::load(&xs), v)
}

impl Lanes for f64 {
    const N: usize = 1;
    const FMA: bool = false;
    type Mask = bool;

    #[inline(always)]
    fn splat(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn iota() -> Self {
        0.0
    }
    #[inline(always)]
    fn load(s: &[f64]) -> Self {
        s[0]
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        out[0] = self;
    }
    #[inline(always)]
    fn first(self) -> f64 {
        self
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        if self < o { self } else { o }
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        if self > o { self } else { o }
    }
    #[inline(always)]
    fn lt(self, o: Self) -> bool {
        self < o
    }
    #[inline(always)]
    fn le(self, o: Self) -> bool {
        self <= o
    }
    #[inline(always)]
    fn gt(self, o: Self) -> bool {
        self > o
    }
    #[inline(always)]
    fn select(m: bool, a: Self, b: Self) -> Self {
        if m { a } else { b }
    }
    #[inline(always)]
    fn any(m: bool) -> bool {
        m
    }
    #[inline(always)]
    fn bit_set(self, bit: u32) -> bool {
        self.to_bits() & (1u64 << bit) != 0
    }
    #[inline(always)]
    fn pow2_from_magic(self) -> Self {
        f64::from_bits(self.to_bits().wrapping_add(1023) << 52)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes_agree<V: Lanes>() {
        let xs = [1.5, -2.25, 0.0, 7.0, 3.0, -1.0, 2.0, 9.0];
        let v = V::load(&xs);
        let mut out = [0.0; 8];
        (v * v - V::splat(1.0)).store(&mut out);
        for (o, x) in out.iter().zip(xs).take(V::N) {
            assert_eq!(*o, x * x - 1.0);
        }
        let q = V::splat(-3.0) + V::splat(MAGIC);
        assert!(V::any(q.bit_set(0)));
        assert!(!V::any(q.bit_set(1)));
        assert_eq!(
            (V::splat(-5.0) + V::splat(MAGIC)).pow2_from_magic().first(),
            1.0 / 32.0
        );
        assert_eq!(
            (V::splat(1023.0) + V::splat(MAGIC))
                .pow2_from_magic()
                .first(),
            2f64.powi(1023)
        );
        assert_eq!(
            (V::splat(-1022.0) + V::splat(MAGIC))
                .pow2_from_magic()
                .first(),
            f64::MIN_POSITIVE
        );
        assert_eq!(V::splat(f64::NAN).min(V::splat(1.0)).first(), 1.0);
    }

    #[test]
    fn scalar_lanes() {
        lanes_agree::<f64>();
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes() {
        if avx2_or_skip("avx2_lanes") {
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { avx2::with_avx2(lanes_agree::<avx2::V4>) }
        }
    }
}
