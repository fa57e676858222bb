//! The Box–Muller transform per lane: two random words, two independent standard normals.
//!
//! With `U1` uniform on `(0, 1]` and `Θ` uniform on the circle, `R = √(−2 ln U1)` and
//! `(R cos Θ, R sin Θ)` are two independent N(0, 1) (Box and Muller, 1958). Per lane:
//!
//! - `U1 = 2 − m1`, `m1 ∈ [1, 2)` the double whose mantissa is the top 52 bits of the first word:
//!   exact, `U1 ∈ {2^-52, 2·2^-52, …, 1}`. Hence `R ≤ √(104 ln 2) ≈ 8.49`: the tail beyond 8.49
//!   (probability 2·10^-17) is not drawn, and values above about 7.4 (`U1 < 2^-40`, probability
//!   10^-12) come from a visibly discrete set of radii.
//! - `Θ`: the top 52 bits of the second word make `f ∈ [−1/2, 1/2)`, `θ = (π/2)·f ∈ [−π/4, π/4)`;
//!   bit 11 flips the sign of `cos θ`, bit 10 swaps the two coordinates. The four resulting
//!   points `(±cos θ, sin θ)`, `(sin θ, ±cos θ)` are at angles `θ`, `π − θ`, `π/2 − θ` and
//!   `θ − π/2`: four quarter turns that tile the circle once, so `Θ` is uniform (to the 2^-52
//!   resolution of `f`).
//!
//! `ln`, `sin` and `cos` are [`crate::kernels::vmath::ln_v`] and
//! [`crate::kernels::vmath::sin_cos_v`] (within 1 ulp of std's), `√` is IEEE's: the normals are
//! within a few ulp of the exact transform of the same words, and bit-identical on every path.

use crate::kernels::simd::Lanes;
use crate::kernels::simd::words::Words;
use crate::kernels::vmath::{ln_v, sin_cos_v};

/// The bits of 1.0: ORed with 52 random mantissa bits, a double uniform on `[1, 2)`.
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;

/// The first stage of [`box_muller`]: `(−2 ln U1, ±cos Θ, ±sin Θ)`, everything but the square
/// root and the products. (Split so that a loop can run this stage for the next batch while the
/// square roots of the current one complete: the logarithm is a long dependency chain.)
#[derive(Clone, Copy, Debug)]
pub(super) struct Polar<F> {
    radius_sq: F,
    cos: F,
    sin: F,
}

/// Stage one of the transform (see [`Polar`]).
#[inline(always)]
pub(super) fn polar<W: Words>(w1: W, w2: W) -> Polar<W::F> {
    type F<W> = <W as Words>::F;
    let c = <F<W> as Lanes>::splat;
    let one = W::splat(ONE_BITS);
    let u1 = c(2.0) - w1.shr::<12>().or(one).to_f64();
    let radius_sq = c(-2.0) * ln_v::<W>(u1);
    let f = w2.shr::<12>().or(one).to_f64() - c(1.5);
    let (s, co) = sin_cos_v(f * c(std::f64::consts::FRAC_PI_2));
    let co = w2.shl::<52>().flip_sign(co);
    let swap = w2.shl::<53>().top_bit_mask();
    Polar {
        radius_sq,
        cos: F::<W>::select(swap, s, co),
        sin: F::<W>::select(swap, co, s),
    }
}

/// Stage two: the two normals `(R cos Θ, R sin Θ)`.
#[inline(always)]
pub(super) fn cartesian<F: Lanes>(p: Polar<F>) -> (F, F) {
    let r = p.radius_sq.sqrt();
    (r * p.cos, r * p.sin)
}

/// Two standard normals per lane from two random words per lane (see the module docs).
#[inline(always)]
pub(super) fn box_muller<W: Words>(w1: W, w2: W) -> (W::F, W::F) {
    cartesian(polar(w1, w2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_exact_transform_of_the_same_words() {
        let mut w = 0x0123_4567_89ab_cdefu64;
        let mut worst = 0.0f64;
        for _ in 0..200_000 {
            w = crate::kernels::normal::mix64(w);
            let w2 = crate::kernels::normal::mix64(w ^ 0x5555);
            let (z0, z1) = box_muller::<u64>(w, w2);
            // The same arithmetic with std's functions.
            let u1 = 2.0 - f64::from_bits((w >> 12) | ONE_BITS);
            let r = (-2.0 * u1.ln()).sqrt();
            let t = (f64::from_bits((w2 >> 12) | ONE_BITS) - 1.5) * std::f64::consts::FRAC_PI_2;
            let (mut a, mut b) = (t.cos(), t.sin());
            if w2 & (1 << 11) != 0 {
                a = -a;
            }
            if w2 & (1 << 10) != 0 {
                std::mem::swap(&mut a, &mut b);
            }
            let (e0, e1) = (r * a, r * b);
            for (z, e) in [(z0, e0), (z1, e1)] {
                let err = (z - e).abs() / (e.abs() * f64::EPSILON).max(f64::MIN_POSITIVE);
                worst = worst.max(err);
            }
        }
        println!("Box–Muller: max difference from std's functions {worst:.2} ulp (relative)");
        assert!(worst <= 6.0, "{worst}");
    }

    #[test]
    fn extreme_words() {
        // U1 = 2^-52 gives the largest radius; U1 = 1 gives zero.
        let (z0, z1) = box_muller::<u64>(u64::MAX, 1 << 63 >> 12 << 12);
        let r = (104.0 * std::f64::consts::LN_2).sqrt();
        assert!(((z0 * z0 + z1 * z1).sqrt() - r).abs() < 1e-13, "{z0} {z1}");
        let (z0, z1) = box_muller::<u64>(0, 12345);
        assert_eq!((z0.abs(), z1.abs()), (0.0, 0.0));
    }
}
