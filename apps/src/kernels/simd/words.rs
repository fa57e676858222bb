//! Lanes of 64-bit words beside the `f64` lanes: random number generators and bit-level
//! tricks (building doubles from random bits, splitting exponent and mantissa).
//!
//! Two implementations, as for [`Lanes`]: `u64` (one lane, portable) with `f64` as its float
//! lanes, and [`super::avx2::U4`] (four lanes, AVX2) with [`super::avx2::V4`]. Every operation is
//! exact integer arithmetic or a reinterpretation of bits, so both give the same bits lane by
//! lane.

use super::Lanes;

/// The sign bit of a double.
pub(crate) const SIGN: u64 = 1 << 63;

/// A vector of `F::N` 64-bit words, with the float lanes `F` of the same width.
pub(crate) trait Words: Copy {
    /// The `f64` lanes of the same width (their bits are these words).
    type F: Lanes;

    /// All lanes `x`.
    fn splat(x: u64) -> Self;
    /// The first `F::N` values of `s`.
    fn load(s: &[u64]) -> Self;
    /// Writes the lanes to `out[..F::N]`.
    fn store(self, out: &mut [u64]);
    /// Lane-wise wrapping addition.
    fn wrapping_add(self, o: Self) -> Self;
    /// Lane-wise `^`.
    fn xor(self, o: Self) -> Self;
    /// Lane-wise `|`.
    fn or(self, o: Self) -> Self;
    /// Lane-wise `&`.
    fn and(self, o: Self) -> Self;
    /// Lane-wise `<< K` (`K < 64`).
    fn shl<const K: i32>(self) -> Self;
    /// Lane-wise `>> K`, logical (`K < 64`).
    fn shr<const K: i32>(self) -> Self;
    /// The words as doubles (the same bits).
    fn to_f64(self) -> Self::F;
    /// The doubles' bits.
    fn from_f64(f: Self::F) -> Self;
    /// A lane mask for [`Lanes::select`], set where the word's top bit is set.
    fn top_bit_mask(self) -> <Self::F as Lanes>::Mask;

    /// Lane-wise rotation left by `L` (`R = 64 − L`: the caller spells out both).
    #[inline(always)]
    fn rotl<const L: i32, const R: i32>(self) -> Self {
        debug_assert_eq!(L + R, 64);
        self.shl::<L>().or(self.shr::<R>())
    }

    /// `f` with its sign flipped where the word's top bit is set.
    #[inline(always)]
    fn flip_sign(self, f: Self::F) -> Self::F {
        Self::from_f64(f).xor(self.and(Self::splat(SIGN))).to_f64()
    }
}

impl Words for u64 {
    type F = f64;

    #[inline(always)]
    fn splat(x: u64) -> Self {
        x
    }
    #[inline(always)]
    fn load(s: &[u64]) -> Self {
        s[0]
    }
    #[inline(always)]
    fn store(self, out: &mut [u64]) {
        out[0] = self;
    }
    #[inline(always)]
    fn wrapping_add(self, o: Self) -> Self {
        u64::wrapping_add(self, o)
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        self ^ o
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        self | o
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self & o
    }
    #[inline(always)]
    fn shl<const K: i32>(self) -> Self {
        self << K
    }
    #[inline(always)]
    fn shr<const K: i32>(self) -> Self {
        self >> K
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from_bits(self)
    }
    #[inline(always)]
    fn from_f64(f: f64) -> Self {
        f.to_bits()
    }
    #[inline(always)]
    fn top_bit_mask(self) -> bool {
        self & SIGN != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_agree<W: Words>() {
        let xs = [0x8000_0000_0000_0001u64, 3, u64::MAX, 0x0123_4567_89ab_cdef];
        let w = W::load(&xs);
        let n = <W::F as Lanes>::N;
        let mut out = [0u64; 8];
        let check = |v: W, f: &dyn Fn(u64) -> u64| {
            let mut o = [0u64; 8];
            v.store(&mut o);
            for (got, x) in o.iter().zip(xs).take(n) {
                assert_eq!(*got, f(x));
            }
        };
        check(w.wrapping_add(W::splat(5)), &|x| x.wrapping_add(5));
        check(w.xor(W::splat(0xff)), &|x| x ^ 0xff);
        check(w.or(W::splat(0xf0)), &|x| x | 0xf0);
        check(w.and(W::splat(0xf0)), &|x| x & 0xf0);
        check(w.shl::<17>(), &|x| x << 17);
        check(w.shr::<12>(), &|x| x >> 12);
        check(w.rotl::<23, 41>(), &|x| x.rotate_left(23));
        check(W::from_f64(w.to_f64()), &|x| x);
        let f = W::splat(SIGN).flip_sign(<W::F as Lanes>::splat(2.5));
        assert_eq!(f.first(), -2.5);
        assert!(<W::F as Lanes>::any(w.top_bit_mask()) || n == 1 && xs[0] < SIGN);
        let picked = <W::F as Lanes>::select(
            W::splat(SIGN).top_bit_mask(),
            <W::F as Lanes>::splat(1.0),
            <W::F as Lanes>::splat(2.0),
        );
        assert_eq!(picked.first(), 1.0);
        w.store(&mut out);
        assert_eq!(out[..n], xs[..n]);
    }

    #[test]
    fn scalar_words() {
        words_agree::<u64>();
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_words() {
        if super::super::avx2_or_skip("avx2_words") {
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { super::super::avx2::with_avx2(words_agree::<super::super::avx2::U4>) }
        }
    }
}
