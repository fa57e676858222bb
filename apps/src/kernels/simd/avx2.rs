//! Four `f64` lanes in an AVX2 register, with FMA, and four 64-bit words beside them.
//!
//! A [`V4`] or [`U4`] value exists only inside code reached from a
//! `#[target_feature(enable = "avx2,fma")]`
//! function that the caller entered after [`super::avx2_fma_available`] returned true; that is
//! the safety argument for every `unsafe` block below (the intrinsics need AVX/AVX2/FMA; they
//! touch no memory except through the bounds-checked slices in `load`/`store`).

use std::arch::x86_64::*;
use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};

use super::Lanes;

/// Four `f64` lanes (`__m256d`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct V4(__m256d);

/// A four-lane mask: a lane is true where its sign bit is set (comparisons set all its bits;
/// [`super::words::Words::top_bit_mask`] only the sign bit, which is all that `select`, `any`
/// and the bitwise operations look at).
#[derive(Clone, Copy, Debug)]
pub(crate) struct M4(__m256d);

/// Runs `f` in a context compiled with AVX2 and FMA enabled (for tests and one-off calls; the
/// kernels have their own `#[target_feature]` entry points so that everything inlines).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(test)]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

macro_rules! binop {
    ($tr:ident, $m:ident, $ty:ident, $intr:ident) => {
        impl $tr for $ty {
            type Output = $ty;
            #[inline(always)]
            fn $m(self, o: $ty) -> $ty {
                // SAFETY: AVX is enabled wherever a V4/M4 exists (module docs).
                $ty(unsafe { $intr(self.0, o.0) })
            }
        }
    };
}

binop!(Add, add, V4, _mm256_add_pd);
binop!(Sub, sub, V4, _mm256_sub_pd);
binop!(Mul, mul, V4, _mm256_mul_pd);
binop!(Div, div, V4, _mm256_div_pd);
binop!(BitAnd, bitand, M4, _mm256_and_pd);
binop!(BitOr, bitor, M4, _mm256_or_pd);

impl Neg for V4 {
    type Output = V4;
    #[inline(always)]
    fn neg(self) -> V4 {
        // SAFETY: AVX is enabled wherever a V4 exists (module docs).
        V4(unsafe { _mm256_xor_pd(self.0, _mm256_set1_pd(-0.0)) })
    }
}

impl Not for M4 {
    type Output = M4;
    #[inline(always)]
    fn not(self) -> M4 {
        // SAFETY: AVX is enabled wherever an M4 exists (module docs).
        M4(unsafe { _mm256_xor_pd(self.0, _mm256_castsi256_pd(_mm256_set1_epi64x(-1))) })
    }
}

impl Lanes for V4 {
    const N: usize = 4;
    const FMA: bool = true;
    type Mask = M4;

    #[inline(always)]
    fn splat(x: f64) -> Self {
        // SAFETY: AVX is enabled wherever a V4 is made (module docs).
        V4(unsafe { _mm256_set1_pd(x) })
    }
    #[inline(always)]
    fn iota() -> Self {
        // SAFETY: as above.
        V4(unsafe { _mm256_setr_pd(0.0, 1.0, 2.0, 3.0) })
    }
    #[inline(always)]
    fn load(s: &[f64]) -> Self {
        let s: &[f64; 4] = s[..4].try_into().expect("four lanes");
        // SAFETY: `s` is four readable f64s; AVX is enabled (module docs).
        V4(unsafe { _mm256_loadu_pd(s.as_ptr()) })
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        let out: &mut [f64; 4] = (&mut out[..4]).try_into().expect("four lanes");
        // SAFETY: `out` is four writable f64s; AVX is enabled (module docs).
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn first(self) -> f64 {
        // SAFETY: AVX is enabled (module docs).
        unsafe { _mm256_cvtsd_f64(self.0) }
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        // SAFETY: FMA is enabled (module docs).
        V4(unsafe { _mm256_fmadd_pd(self.0, a.0, b.0) })
    }
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: AVX is enabled (module docs).
        V4(unsafe { _mm256_sqrt_pd(self.0) })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        // SAFETY: AVX is enabled (module docs).
        V4(unsafe { _mm256_andnot_pd(_mm256_set1_pd(-0.0), self.0) })
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        // SAFETY: AVX is enabled (module docs). vminpd returns `o` when either is NaN.
        V4(unsafe { _mm256_min_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // SAFETY: AVX is enabled (module docs). vmaxpd returns `o` when either is NaN.
        V4(unsafe { _mm256_max_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn lt(self, o: Self) -> M4 {
        // SAFETY: AVX is enabled (module docs).
        M4(unsafe { _mm256_cmp_pd::<_CMP_LT_OQ>(self.0, o.0) })
    }
    #[inline(always)]
    fn le(self, o: Self) -> M4 {
        // SAFETY: AVX is enabled (module docs).
        M4(unsafe { _mm256_cmp_pd::<_CMP_LE_OQ>(self.0, o.0) })
    }
    #[inline(always)]
    fn gt(self, o: Self) -> M4 {
        // SAFETY: AVX is enabled (module docs).
        M4(unsafe { _mm256_cmp_pd::<_CMP_GT_OQ>(self.0, o.0) })
    }
    #[inline(always)]
    fn select(m: M4, a: Self, b: Self) -> Self {
        // SAFETY: AVX is enabled (module docs).
        V4(unsafe { _mm256_blendv_pd(b.0, a.0, m.0) })
    }
    #[inline(always)]
    fn neg_if(self, m: M4) -> Self {
        // SAFETY: AVX is enabled (module docs). XOR with the sign bit where the mask is set.
        V4(unsafe { _mm256_xor_pd(self.0, _mm256_and_pd(m.0, _mm256_set1_pd(-0.0))) })
    }
    #[inline(always)]
    fn any(m: M4) -> bool {
        // SAFETY: AVX is enabled (module docs).
        unsafe { _mm256_movemask_pd(m.0) != 0 }
    }
    #[inline(always)]
    fn bit_set(self, bit: u32) -> M4 {
        let b = 1i64 << bit;
        // SAFETY: AVX2 is enabled (module docs).
        M4(unsafe {
            let b = _mm256_set1_epi64x(b);
            let x = _mm256_and_si256(_mm256_castpd_si256(self.0), b);
            _mm256_castsi256_pd(_mm256_cmpeq_epi64(x, b))
        })
    }
    #[inline(always)]
    fn pow2_from_magic(self) -> Self {
        // SAFETY: AVX2 is enabled (module docs).
        V4(unsafe {
            let bits = _mm256_add_epi64(_mm256_castpd_si256(self.0), _mm256_set1_epi64x(1023));
            _mm256_castsi256_pd(_mm256_slli_epi64::<52>(bits))
        })
    }
}

/// Four 64-bit words in an AVX2 register (the word lanes beside [`V4`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct U4(__m256i);

macro_rules! word_op {
    ($m:ident, $intr:ident) => {
        #[inline(always)]
        fn $m(self, o: Self) -> Self {
            // SAFETY: AVX2 is enabled wherever a U4 exists (module docs).
            U4(unsafe { $intr(self.0, o.0) })
        }
    };
}

impl super::words::Words for U4 {
    type F = V4;

    #[inline(always)]
    fn splat(x: u64) -> Self {
        // SAFETY: AVX is enabled wherever a U4 is made (module docs).
        U4(unsafe { _mm256_set1_epi64x(x as i64) })
    }
    #[inline(always)]
    fn load(s: &[u64]) -> Self {
        let s: &[u64; 4] = s[..4].try_into().expect("four lanes");
        // SAFETY: `s` is four readable u64s; AVX is enabled (module docs).
        U4(unsafe { _mm256_loadu_si256(s.as_ptr().cast()) })
    }
    #[inline(always)]
    fn store(self, out: &mut [u64]) {
        let out: &mut [u64; 4] = (&mut out[..4]).try_into().expect("four lanes");
        // SAFETY: `out` is four writable u64s; AVX is enabled (module docs).
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), self.0) }
    }
    word_op!(wrapping_add, _mm256_add_epi64);
    word_op!(xor, _mm256_xor_si256);
    word_op!(or, _mm256_or_si256);
    word_op!(and, _mm256_and_si256);
    #[inline(always)]
    fn shl<const K: i32>(self) -> Self {
        // SAFETY: AVX2 is enabled (module docs).
        U4(unsafe { _mm256_slli_epi64::<K>(self.0) })
    }
    #[inline(always)]
    fn shr<const K: i32>(self) -> Self {
        // SAFETY: AVX2 is enabled (module docs).
        U4(unsafe { _mm256_srli_epi64::<K>(self.0) })
    }
    #[inline(always)]
    fn to_f64(self) -> V4 {
        // SAFETY: AVX is enabled (module docs); a cast moves no data.
        V4(unsafe { _mm256_castsi256_pd(self.0) })
    }
    #[inline(always)]
    fn from_f64(f: V4) -> Self {
        // SAFETY: AVX is enabled (module docs); a cast moves no data.
        U4(unsafe { _mm256_castpd_si256(f.0) })
    }
    #[inline(always)]
    fn top_bit_mask(self) -> M4 {
        // `select` (vblendvpd) and `any` (vmovmskpd) read the sign bit of a mask lane only, and
        // the mask operations are bitwise: the top bit stands for the lane.
        // SAFETY: AVX is enabled (module docs); a cast moves no data.
        M4(unsafe { _mm256_castsi256_pd(self.0) })
    }
}
