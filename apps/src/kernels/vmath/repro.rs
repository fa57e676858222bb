//! `ln`, `sin` and `cos` that give the same bits on every path, for the random number
//! transforms (which must reproduce exactly whatever CPU draws them).
//!
//! The other functions of [`super`] use `mul_add`, which is fused on the AVX2 path and not on
//! the portable one: their results may differ in the last bit. These use only `+ − × ÷`,
//! [`Lanes::fused_mul_add`] (fused on every path), exact bit operations and conversions, each
//! correctly rounded by IEEE 754, so the four AVX2 lanes and the portable lane agree bit for bit.
//!
//! - [`ln_v`]: fdlibm's `__ieee754_log` (`x = 2^k·m`, `m ∈ [√½, √2)`, `s = (m−1)/(m+1)`,
//!   degree-14 polynomial in `s`), with musl's branch-free split of exponent and mantissa; within
//!   1 ulp of std's `ln` (measured).
//! - [`sin_cos_v`]: fdlibm's `__kernel_sin`/`__kernel_cos` on `|r| ≤ π/4`; within 1 ulp of std.

use crate::kernels::simd::Lanes;
use crate::kernels::simd::words::Words;

use super::{C1, C2, C3, C4, C5, C6, S1, S2, S3, S4, S5, S6};

// fdlibm e_log.c: Lg1..Lg7 approximate (ln((1+s)/(1−s)) − 2s)/s on |s| ≤ 0.1716 (Remez, error
// below 2^-58.45); ln 2 in two parts, the high one with 32 trailing zero bits so k·LN2_HI is
// exact for the k that occur.
const LG1: f64 = 6.666_666_666_666_735e-1;
const LG2: f64 = 3.999_999_999_940_942e-1;
const LG3: f64 = 2.857_142_874_366_239e-1;
const LG4: f64 = 2.222_219_843_214_978_4e-1;
const LG5: f64 = 1.818_357_216_161_805e-1;
const LG6: f64 = 1.531_383_769_920_937_3e-1;
const LG7: f64 = 1.479_819_860_511_658_6e-1;
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// The bits of √½ (rounded); mantissas from it up to √2 stay in `[√½, √2)`.
const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
/// The bits of 1.0.
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
/// `2^52 + 1023`: a biased exponent `e` ORed into the mantissa of 2^52 reads `2^52 + e`.
const EXP_MAGIC: f64 = 4_503_599_627_371_519.0;

/// `ln x` per lane for positive, normal, finite `x` (see the module docs).
#[inline(always)]
pub(crate) fn ln_v<W: Words>(x: W::F) -> W::F {
    type F<W> = <W as Words>::F;
    // Adding 1.0 − √½ to the bits carries into the exponent exactly when the mantissa is at
    // least √2's: then (bits & mantissa) + bits(√½) is m/2 ∈ [√½, 1), else m ∈ [1, √2).
    let ix = W::from_f64(x).wrapping_add(W::splat(ONE_BITS - SQRT_HALF_BITS));
    let k = ix.shr::<52>().or(W::splat(0x4330_0000_0000_0000)).to_f64() - F::<W>::splat(EXP_MAGIC);
    let m = ix
        .and(W::splat(0x000f_ffff_ffff_ffff))
        .wrapping_add(W::splat(SQRT_HALF_BITS))
        .to_f64();
    let c = splat::<F<W>>;
    let f = m - c(1.0);
    let s = f / (c(2.0) + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * w.fused_mul_add(w.fused_mul_add(c(LG6), c(LG4)), c(LG2));
    let t2 = z * w.fused_mul_add(
        w.fused_mul_add(w.fused_mul_add(c(LG7), c(LG5)), c(LG3)),
        c(LG1),
    );
    let r = t2 + t1;
    let hfsq = c(0.5) * f * f;
    // k·ln2_hi − ((hfsq − (s·(hfsq + R) + k·ln2_lo)) − f); k·LN2_HI is exact.
    let tail = (hfsq - s.fused_mul_add(hfsq + r, k * c(LN2_LO))) - f;
    k.fused_mul_add(c(LN2_HI), -tail)
}

/// `(sin r, cos r)` per lane for `|r| ≤ π/4` (see the module docs).
#[inline(always)]
pub(crate) fn sin_cos_v<V: Lanes>(r: V) -> (V, V) {
    let c = splat::<V>;
    let z = r * r;
    let v = z * r;
    let sin = v.fused_mul_add(z.fused_mul_add(horner(z, &[S2, S3, S4, S5, S6]), c(S1)), r);
    let pc = z * horner(z, &[C1, C2, C3, C4, C5, C6]);
    let hz = c(0.5) * z;
    let w = c(1.0) - hz;
    let cos = w + z.fused_mul_add(pc, (c(1.0) - w) - hz);
    (sin, cos)
}

/// All lanes `x` (a function, not a closure: see [`crate::kernels::simd`]).
#[inline(always)]
fn splat<V: Lanes>(x: f64) -> V {
    V::splat(x)
}

/// `cs[0] + z·cs[1] + … + z^n·cs[n]` by Horner's scheme, fused.
#[inline(always)]
fn horner<V: Lanes>(z: V, cs: &[f64]) -> V {
    let mut p = V::splat(cs[cs.len() - 1]);
    for &k in cs.iter().rev().skip(1) {
        p = z.fused_mul_add(p, V::splat(k));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|a − b|` in units of the spacing of doubles at `b`.
    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        (a - b).abs() / (f64::from_bits(b.abs().to_bits() + 1) - b.abs())
    }

    #[test]
    fn ln_within_one_ulp_of_std() {
        let mut worst = 0.0f64;
        let mut x = 2f64.powi(-52);
        while x <= 1.0 {
            for y in [x, x * 1.000_000_1, x * std::f64::consts::SQRT_2, x * 1.9999] {
                if y <= 1.0 {
                    worst = worst.max(ulps(ln_v::<u64>(y), y.ln()));
                }
            }
            x *= 1.003;
        }
        for y in [
            1.0,
            0.5,
            0.75,
            1.0 - f64::EPSILON / 2.0,
            std::f64::consts::FRAC_1_SQRT_2,
        ] {
            worst = worst.max(ulps(ln_v::<u64>(y), y.ln()));
        }
        println!("ln: max error {worst:.3} ulp");
        assert!(worst <= 1.0, "{worst}");
        assert_eq!(ln_v::<u64>(1.0), 0.0);
    }

    #[test]
    fn sin_cos_within_one_ulp_of_std() {
        let mut worst = 0.0f64;
        for i in -100_000..=100_000 {
            let r = f64::from(i) * (std::f64::consts::FRAC_PI_4 / 100_000.0);
            let (s, c) = sin_cos_v(r);
            worst = worst.max(ulps(s, r.sin())).max(ulps(c, r.cos()));
        }
        println!("sin/cos: max error {worst:.3} ulp");
        assert!(worst <= 1.0, "{worst}");
    }
}
