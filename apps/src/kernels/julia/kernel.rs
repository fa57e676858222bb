//! The escape-count loop for one row, vectorised across columns.

use num_complex::Complex64;

use crate::kernels::simd::{Lanes, avx2_fma_available};

/// Counts of one row: `xs` are the columns' real parts, `y` the row's imaginary part.
pub(super) fn row(xs: &[f64], y: f64, c: Complex64, tmax: u16, out: &mut [u16], portable: bool) {
    #[cfg(target_arch = "x86_64")]
    if !portable && avx2_fma_available() {
        #[target_feature(enable = "avx2,fma")]
        fn avx2(xs: &[f64], y: f64, c: Complex64, tmax: u16, out: &mut [u16]) {
            row_lanes::<crate::kernels::simd::avx2::V4>(xs, y, c, tmax, out);
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { avx2(xs, y, c, tmax, out) };
        return;
    }
    let _ = portable;
    row_lanes::<f64>(xs, y, c, tmax, out);
}

/// Two vectors of lanes at a time (independent chains hide the multiply latency).
#[inline(always)]
fn row_lanes<V: Lanes>(xs: &[f64], y: f64, c: Complex64, tmax: u16, out: &mut [u16]) {
    let n = xs.len();
    let w = 2 * V::N;
    let (cr, ci) = (V::splat(c.re), V::splat(c.im));
    let (four, one, zero) = (V::splat(4.0), V::splat(1.0), V::zero());
    let mut j = 0;
    while j < n {
        let m = w.min(n - j);
        let mut re0 = [0.0; 16];
        for (l, r) in re0.iter_mut().take(w).enumerate() {
            *r = xs[(j + l).min(n - 1)];
        }
        let (mut ar, mut br) = (V::load(&re0), V::load(&re0[V::N..]));
        let (mut ai, mut bi) = (V::splat(y), V::splat(y));
        let (mut ka, mut kb) = (zero, zero);
        for _ in 0..tmax {
            let (ar2, ai2, br2, bi2) = (ar * ar, ai * ai, br * br, bi * bi);
            let live_a = (ar2 + ai2).le(four);
            let live_b = (br2 + bi2).le(four);
            if !V::any(live_a | live_b) {
                break;
            }
            ka = ka + V::select(live_a, one, zero);
            kb = kb + V::select(live_b, one, zero);
            // z² + c in NumPy's order: (a·a − b·b) + c.re, (a·b + b·a) + c.im.
            let (ta, tb) = (ar * ai, br * bi);
            let (nar, nai) = ((ar2 - ai2) + cr, (ta + ta) + ci);
            let (nbr, nbi) = ((br2 - bi2) + cr, (tb + tb) + ci);
            ar = V::select(live_a, nar, ar);
            ai = V::select(live_a, nai, ai);
            br = V::select(live_b, nbr, br);
            bi = V::select(live_b, nbi, bi);
        }
        let mut k = [0.0; 16];
        ka.store(&mut k);
        kb.store(&mut k[V::N..]);
        for (o, v) in out[j..j + m].iter_mut().zip(k) {
            *o = v as u16;
        }
        j += m;
    }
}
