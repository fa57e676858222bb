//! Vectorised `sin`, `cos`, `sin²` and `exp` for the trapezoid kernels.
//!
//! The functions are written once over a small lane abstraction and run as four AVX2 lanes where
//! the CPU has AVX2 + FMA, or one portable lane otherwise. The slice functions here
//! ([`sin`], [`cos`], [`exp`]) pick the path at run time.
//!
//! **Algorithm.** `sin`/`cos`: `q = round(x · 2/π)`, `r = x − q·π/2` by Cody–Waite reduction
//! with π/2 in three parts (FMA path: three fused steps; portable path: fdlibm's 33-bit split
//! so that every product is exact), then fdlibm's degree-13/14 kernels for `sin r` and `cos r`
//! on `[−π/4, π/4]` (by Estrin's scheme: the trapezoid loops are latency-bound), chosen and
//! signed by `q mod 4`. Arguments with `|x| > 10^6` (and ±∞) take
//! std's `sin`/`cos` lane by lane. `exp`: `n = round(x / ln 2)`, `r = x − n·ln 2` in two parts,
//! Taylor polynomial of degree 13 on `|r| ≤ ln2/2`, times `2^n` built in the exponent bits;
//! arguments outside `[−708.39, 709.43]` (subnormal results, overflow) take std's `exp`.
//!
//! **Accuracy** (measured by the unit tests against std, i.e. glibc's correctly rounded-in-
//! practice functions, over `|x| ≤ 10^6` with points near multiples of π/2 included): `sin`
//! and `cos` within 1 ulp of std on the AVX2 path and 2 ulp on the portable path; `exp` within
//! 1 ulp on `[−708, 709]`. `sin²` per lane (the `sin2` integrand's fallback for coarse grids)
//! reduces by π/2 in two parts on the FMA path, a step shorter: it is within 6 ulp of std's
//! `sin(x)²` except next to its zeros, where the absolute error stays below
//! `2·|sin x|·|x|·1e-33`.
//!
//! **By quadrants.** The `sin2` trapezoid kernel normally evaluates `sin²` one quadrant at a time
//! (`quadrant`: the reduction is three additions of per-quadrant constants; `sin2`: one
//! polynomial for `sin² r`, no per-lane selection). Those values are within 4 ulp of std's
//! `sin(x)²` everywhere on `|x| ≤ 10^6`, zeros included (measured, `tests.rs`).
//!
//! **Same bits everywhere.** `ln_v` and `sin_cos_v` (module `repro`, for the Box–Muller
//! normals of [`crate::kernels::normal`]) avoid the path-dependent `mul_add`: their results are
//! identical on the AVX2 and portable paths, within 1 ulp of std's.

use super::simd::{LaneFn, Lanes, MAGIC, avx2_fma_available, patch_lanes};

mod quadrant;
mod repro;
mod sin2;

pub(crate) use quadrant::{Quadrant, quadrant_of};
pub(crate) use repro::{ln_v, sin_cos_v};
pub(crate) use sin2::{QuadrantFn, Sin2Q};

/// Beyond this `|x|`, `sin`/`cos` use std lane by lane (q stays below 2^20, so the portable
/// path's 33-bit split products are exact).
pub(crate) const TRIG_FAST_MAX: f64 = 1.0e6;

// π/2 for the fused reduction: three doubles, π/2 ≈ C1 + C2 + C3 to ~160 bits.
const PIO2_C1: f64 = std::f64::consts::FRAC_PI_2;
const PIO2_C2: f64 = 6.123_233_995_736_766e-17;
const PIO2_C3: f64 = -1.497_384_904_859_169_8e-33;
// π/2 for the unfused reduction (fdlibm's rem_pio2): 33-bit leading parts, exact products.
const PIO2_1: f64 = 1.570_796_326_734_125_6;
const PIO2_2: f64 = 6.077_100_506_303_966e-11;
const PIO2_3: f64 = 2.022_266_248_711_166_5e-21;
const PIO2_3T: f64 = 8.478_427_660_368_9e-32;

// fdlibm __kernel_sin / __kernel_cos coefficients.
const S1: f64 = -1.666_666_666_666_663_2e-1;
const S2: f64 = 8.333_333_333_322_49e-3;
const S3: f64 = -1.984_126_982_985_795e-4;
const S4: f64 = 2.755_731_370_707_006_8e-6;
const S5: f64 = -2.505_076_025_340_686_3e-8;
const S6: f64 = 1.589_690_995_211_55e-10;
const C1: f64 = 4.166_666_666_666_66e-2;
const C2: f64 = -1.388_888_888_887_411e-3;
const C3: f64 = 2.480_158_728_947_673e-5;
const C4: f64 = -2.755_731_435_139_066_3e-7;
const C5: f64 = 2.087_572_321_298_175e-9;
const C6: f64 = -1.135_964_755_778_819_5e-11;

/// Reduces `x` to `r ∈ [−π/4, π/4]` (about) with `x = q·π/2 + r`, π/2 in two parts only (FMA
/// path): `r` is then off by at most `|q| · 1.5e-33` absolutely. Returns `(r, q + MAGIC)`.
#[inline(always)]
fn reduce_pio2_short<V: Lanes>(x: V) -> (V, V) {
    if !V::FMA {
        return reduce_pio2(x);
    }
    let qm = x.mul_add(V::splat(std::f64::consts::FRAC_2_PI), V::splat(MAGIC));
    let nq = V::splat(MAGIC) - qm;
    let r = nq.mul_add(V::splat(PIO2_C1), x);
    (nq.mul_add(V::splat(PIO2_C2), r), qm)
}

/// Reduces `x` to `r ∈ [−π/4, π/4]` (about) with `x = q·π/2 + r`; returns `(r, q + MAGIC)`.
#[inline(always)]
fn reduce_pio2<V: Lanes>(x: V) -> (V, V) {
    let qm = x.mul_add(V::splat(std::f64::consts::FRAC_2_PI), V::splat(MAGIC));
    let q = qm - V::splat(MAGIC);
    let nq = -q;
    let r = if V::FMA {
        let r = nq.mul_add(V::splat(PIO2_C1), x);
        let r = nq.mul_add(V::splat(PIO2_C2), r);
        nq.mul_add(V::splat(PIO2_C3), r)
    } else {
        let r = x - q * V::splat(PIO2_1);
        let r = r - q * V::splat(PIO2_2);
        let r = r - q * V::splat(PIO2_3);
        r - q * V::splat(PIO2_3T)
    };
    (r, qm)
}

/// `sin r` for `|r| ≤ π/4`: fdlibm's `__kernel_sin` polynomial (without the tail),
/// `r + r·z·(S1 + S2 z + … + S6 z⁵)` with `z = r²`, the inner polynomial by Estrin's scheme
/// (shorter dependency chains than Horner: the kernels are latency-bound).
#[inline(always)]
fn sin_kernel<V: Lanes>(r: V) -> V {
    let z = r * r;
    let z2 = z * z;
    let z4 = z2 * z2;
    let v = z * r;
    let a = z.mul_add(V::splat(S2), V::splat(S1));
    let b = z.mul_add(V::splat(S4), V::splat(S3));
    let c = z.mul_add(V::splat(S6), V::splat(S5));
    let p = z4.mul_add(c, z2.mul_add(b, a));
    v.mul_add(p, r)
}

/// `cos r` for `|r| ≤ π/4`: fdlibm's `__kernel_cos` (without the tail), its polynomial
/// `C1 + C2 z + … + C6 z⁵` by Estrin's scheme.
#[inline(always)]
fn cos_kernel<V: Lanes>(r: V) -> V {
    let z = r * r;
    let z2 = z * z;
    let z4 = z2 * z2;
    let a = z.mul_add(V::splat(C2), V::splat(C1));
    let b = z.mul_add(V::splat(C4), V::splat(C3));
    let c = z.mul_add(V::splat(C6), V::splat(C5));
    let p = z4.mul_add(c, z2.mul_add(b, a));
    let hz = V::splat(0.5) * z;
    let w = V::splat(1.0) - hz;
    w + (((V::splat(1.0) - w) - hz) + z2 * p)
}

/// The interval where the `*_fast_v` trig functions are valid (`|x| ≤ 10^6`).
pub(crate) const TRIG_FAST: (f64, f64) = (-TRIG_FAST_MAX, TRIG_FAST_MAX);

/// `sin x` per lane for `|x| ≤ 10^6` (same values as [`sin_v`] there).
#[inline(always)]
pub(crate) fn sin_fast_v<V: Lanes>(x: V) -> V {
    let (r, qm) = reduce_pio2(x);
    let s = sin_kernel(r);
    let c = cos_kernel(r);
    let v = V::select(qm.bit_set(0), c, s);
    V::select(qm.bit_set(1), -v, v)
}

/// `sin x` per lane (see the module docs for range and accuracy).
#[inline(always)]
pub(crate) fn sin_v<V: Lanes>(x: V) -> V {
    patch_lanes(
        x,
        sin_fast_v(x),
        !x.abs().le(V::splat(TRIG_FAST_MAX)),
        f64::sin,
    )
}

/// `cos x` per lane for `|x| ≤ 10^6` (same values as [`cos_v`] there).
#[inline(always)]
pub(crate) fn cos_fast_v<V: Lanes>(x: V) -> V {
    let (r, qm) = reduce_pio2(x);
    let s = sin_kernel(r);
    let c = cos_kernel(r);
    let odd = qm.bit_set(0);
    let v = V::select(odd, s, c);
    // cos(r + jπ/2) is negative-signed for j = 1, 2 (mod 4): bit0 xor bit1.
    let b1 = qm.bit_set(1);
    let neg = (odd & !b1) | (!odd & b1);
    V::select(neg, -v, v)
}

/// `cos x` per lane (see the module docs for range and accuracy).
#[inline(always)]
pub(crate) fn cos_v<V: Lanes>(x: V) -> V {
    patch_lanes(
        x,
        cos_fast_v(x),
        !x.abs().le(V::splat(TRIG_FAST_MAX)),
        f64::cos,
    )
}

/// `sin² x` per lane for `|x| ≤ 10^6`: `sin² r` or `cos² r = 1 − sin² r` by the parity of `q`,
/// with one polynomial, as `fma(s, ±s, 0 or 1)` (one rounding for `1 − s²` on the FMA path, and
/// a shorter dependency chain than squaring, then subtracting, then selecting).
#[inline(always)]
pub(crate) fn sin2_fast_v<V: Lanes>(x: V) -> V {
    let (r, qm) = reduce_pio2_short(x);
    let odd = qm.bit_set(0);
    let offset = V::select(odd, V::splat(1.0), V::zero());
    let s = sin_kernel(r);
    s.mul_add(s.neg_if(odd), offset)
}

/// `sin² x` per lane.
#[inline(always)]
pub(crate) fn sin2_v<V: Lanes>(x: V) -> V {
    patch_lanes(
        x,
        sin2_fast_v(x),
        !x.abs().le(V::splat(TRIG_FAST_MAX)),
        |x| {
            let s = x.sin();
            s * s
        },
    )
}

/// Lowest argument whose `exp` is a normal number (ln of `f64::MIN_POSITIVE`).
const EXP_FAST_MIN: f64 = -708.396_418_532_264_1;
/// Highest argument for which `round(x / ln 2) ≤ 1023`.
const EXP_FAST_MAX: f64 = 709.43;
/// Below this, `exp` rounds to +0.
const EXP_ZERO: f64 = -745.2;
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// The interval where [`exp_fast_v`] is valid.
pub(crate) const EXP_FAST: (f64, f64) = (EXP_FAST_MIN, EXP_FAST_MAX);

/// `exp x` per lane for `x` in [`EXP_FAST`] (same values as [`exp_v`] there).
#[inline(always)]
pub(crate) fn exp_fast_v<V: Lanes>(x: V) -> V {
    let nm = x.mul_add(V::splat(std::f64::consts::LOG2_E), V::splat(MAGIC));
    let n = nm - V::splat(MAGIC);
    let nn = -n;
    let r = nn.mul_add(V::splat(LN2_HI), x);
    let r = nn.mul_add(V::splat(LN2_LO), r);
    // Taylor series to r^13 / 13!: the remainder is below 2^-56 on |r| ≤ ln2/2. (Horner: Estrin's
    // scheme measured no faster here and one ulp less accurate.)
    let mut p = V::splat(1.0 / 6_227_020_800.0);
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p.mul_add(r, V::splat(c));
    }
    p * nm.pow2_from_magic()
}

/// `exp x` per lane (see the module docs for range and accuracy).
#[inline(always)]
pub(crate) fn exp_v<V: Lanes>(x: V) -> V {
    // Clamp so that the fast path never builds an invalid exponent; NaN passes through
    // (min/max return their second operand on NaN).
    let xc = V::splat(EXP_FAST_MAX).min(V::splat(EXP_FAST_MIN).max(x));
    let v = exp_fast_v(xc);
    let v = V::select(x.lt(V::splat(EXP_ZERO)), V::zero(), v);
    let slow =
        (x.lt(V::splat(EXP_FAST_MIN)) & !x.lt(V::splat(EXP_ZERO))) | x.gt(V::splat(EXP_FAST_MAX));
    patch_lanes(x, v, slow, f64::exp)
}

macro_rules! lane_fn {
    ($(#[$doc:meta])* $name:ident, $range:expr, $full:ident, $fast:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub(crate) struct $name;
        impl LaneFn for $name {
            const FAST: (f64, f64) = $range;
            #[inline(always)]
            fn eval<V: Lanes>(self, x: V) -> V {
                $full(x)
            }
            #[inline(always)]
            fn eval_fast<V: Lanes>(self, x: V) -> V {
                $fast(x)
            }
        }
    };
}

lane_fn!(
    /// `sin` as a [`LaneFn`].
    SinL, TRIG_FAST, sin_v, sin_fast_v
);
lane_fn!(
    /// `cos` as a [`LaneFn`].
    CosL, TRIG_FAST, cos_v, cos_fast_v
);
lane_fn!(
    /// `sin²` as a [`LaneFn`].
    Sin2L, TRIG_FAST, sin2_v, sin2_fast_v
);
lane_fn!(
    /// `exp` as a [`LaneFn`].
    ExpL, EXP_FAST, exp_v, exp_fast_v
);

/// Applies a lane function to a slice, `out[i] = f(xs[i])`.
#[inline(always)]
fn map_slice<V: Lanes, F: LaneFn>(xs: &[f64], out: &mut [f64], f: F) {
    assert_eq!(
        xs.len(),
        out.len(),
        "vmath: input and output lengths differ"
    );
    let mut xc = xs.chunks_exact(V::N);
    let mut oc = out.chunks_exact_mut(V::N);
    for (x, o) in (&mut xc).zip(&mut oc) {
        f.eval(V::load(x)).store(o);
    }
    let (xr, or) = (xc.remainder(), oc.into_remainder());
    if !xr.is_empty() {
        let mut buf = [0.0; 8];
        buf[..xr.len()].copy_from_slice(xr);
        let mut res = [0.0; 8];
        f.eval(V::load(&buf)).store(&mut res);
        or.copy_from_slice(&res[..xr.len()]);
    }
}

/// Applies a lane function in place, `xs[i] = f(xs[i])`.
#[inline(always)]
fn map_in_place<V: Lanes, F: LaneFn>(xs: &mut [f64], f: F) {
    let mut c = xs.chunks_exact_mut(V::N);
    for x in &mut c {
        f.eval(V::load(x)).store(x);
    }
    let r = c.into_remainder();
    if !r.is_empty() {
        let mut buf = [0.0; 8];
        buf[..r.len()].copy_from_slice(r);
        f.eval(V::load(&buf)).store(&mut buf);
        let n = r.len();
        r.copy_from_slice(&buf[..n]);
    }
}

/// The vectorised functions, for in-place use by the expression evaluator.
#[derive(Clone, Copy, Debug)]
pub(crate) enum VFn {
    Sin,
    Cos,
    Exp,
}

/// `xs[i] = f(xs[i])` on the fastest path this CPU has.
pub(crate) fn apply_in_place(f: VFn, xs: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_available() {
        #[target_feature(enable = "avx2,fma")]
        fn avx2(f: VFn, xs: &mut [f64]) {
            use super::simd::avx2::V4;
            match f {
                VFn::Sin => map_in_place::<V4, _>(xs, SinL),
                VFn::Cos => map_in_place::<V4, _>(xs, CosL),
                VFn::Exp => map_in_place::<V4, _>(xs, ExpL),
            }
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { avx2(f, xs) };
        return;
    }
    match f {
        VFn::Sin => map_in_place::<f64, _>(xs, SinL),
        VFn::Cos => map_in_place::<f64, _>(xs, CosL),
        VFn::Exp => map_in_place::<f64, _>(xs, ExpL),
    }
}

macro_rules! slice_fn {
    ($(#[$doc:meta])* $name:ident, $avx:ident, $lane:expr) => {
        $(#[$doc])*
        pub fn $name(xs: &[f64], out: &mut [f64]) {
            #[cfg(target_arch = "x86_64")]
            if avx2_fma_available() {
                #[target_feature(enable = "avx2,fma")]
                fn $avx(xs: &[f64], out: &mut [f64]) {
                    map_slice::<super::simd::avx2::V4, _>(xs, out, $lane);
                }
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                unsafe { $avx(xs, out) };
                return;
            }
            map_slice::<f64, _>(xs, out, $lane);
        }
    };
}

slice_fn!(
    /// `out[i] = sin(xs[i])`, vectorised (within 2 ulp of std's `sin`; see the module docs).
    ///
    /// ```
    /// let xs = [0.0, 1.0, 3.0, 1e5];
    /// let mut out = [0.0; 4];
    /// mpiview_apps::kernels::vmath::sin(&xs, &mut out);
    /// for (x, s) in xs.iter().zip(out) {
    ///     assert!((s - x.sin()).abs() <= 4.0 * f64::EPSILON);
    /// }
    /// ```
    ///
    /// # Panics
    /// Panics if the slices differ in length.
    sin, sin_avx2, SinL
);
slice_fn!(
    /// `out[i] = cos(xs[i])`, vectorised (within 2 ulp of std's `cos`; see the module docs).
    ///
    /// ```
    /// let xs = [0.0, 1.0, 3.0];
    /// let mut out = [0.0; 3];
    /// mpiview_apps::kernels::vmath::cos(&xs, &mut out);
    /// assert_eq!(out[0], 1.0);
    /// ```
    ///
    /// # Panics
    /// Panics if the slices differ in length.
    cos, cos_avx2, CosL
);
slice_fn!(
    /// `out[i] = exp(xs[i])`, vectorised (within 2 ulp of std's `exp`; see the module docs).
    ///
    /// ```
    /// let xs = [0.0, 1.0, -800.0, 800.0];
    /// let mut out = [0.0; 4];
    /// mpiview_apps::kernels::vmath::exp(&xs, &mut out);
    /// assert_eq!(out[0], 1.0);
    /// assert!((out[1] - std::f64::consts::E).abs() <= 2.0 * f64::EPSILON * out[1]);
    /// assert_eq!((out[2], out[3]), (0.0, f64::INFINITY));
    /// ```
    ///
    /// # Panics
    /// Panics if the slices differ in length.
    exp, exp_avx2, ExpL
);

#[cfg(test)]
mod tests;
