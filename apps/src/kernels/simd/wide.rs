//! `K` vectors processed in lockstep, as one wider vector.
//!
//! A long computation with one dependency chain per vector (a logarithm, a square root, a
//! polynomial) leaves the out-of-order core waiting: on the machines this runs on, it overlaps
//! only a few dozen operations. [`Wide`] applies every operation to `K` independent vectors one
//! after the other, so each step of the chain issues `K` independent instructions. Lane `i` of
//! vector `k` is lane `k·N + i` of the wide vector; every operation is the inner type's, lane by
//! lane, so the results are the inner type's bits.

use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};

use super::Lanes;
use super::words::Words;

/// `K` vectors of `V` in lockstep (for `f64` lanes, [`Lanes`]; for words, [`Words`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wide<V, const K: usize>(pub(crate) [V; K]);

/// The lane mask of a [`Wide`] vector.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WideMask<M, const K: usize>([M; K]);

/// Builds a `K`-array element by element, `each!(k => expr)` (`K ≥ 1`). A loop rather than
/// `array::from_fn`: closures are compiled without the caller's target features unless they
/// are inlined, which the compiler does not promise for long bodies.
macro_rules! each {
    ($i:ident => $e:expr) => {{
        let mut r = [{
            let $i = 0;
            $e
        }; K];
        for $i in 1..K {
            r[$i] = $e;
        }
        r
    }};
}

macro_rules! wide_op {
    ($tr:ident, $m:ident) => {
        impl<V: Lanes, const K: usize> $tr for Wide<V, K> {
            type Output = Self;
            #[inline(always)]
            fn $m(self, o: Self) -> Self {
                Wide(each!(k => self.0[k].$m(o.0[k])))
            }
        }
    };
}

wide_op!(Add, add);
wide_op!(Sub, sub);
wide_op!(Mul, mul);
wide_op!(Div, div);

impl<V: Lanes, const K: usize> Neg for Wide<V, K> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Wide(each!(k => -self.0[k]))
    }
}

macro_rules! mask_op {
    ($tr:ident, $m:ident) => {
        impl<M: Copy + $tr<Output = M>, const K: usize> $tr for WideMask<M, K> {
            type Output = Self;
            #[inline(always)]
            fn $m(self, o: Self) -> Self {
                WideMask(each!(k => self.0[k].$m(o.0[k])))
            }
        }
    };
}

mask_op!(BitAnd, bitand);
mask_op!(BitOr, bitor);

impl<M: Copy + Not<Output = M>, const K: usize> Not for WideMask<M, K> {
    type Output = Self;
    #[inline(always)]
    fn not(self) -> Self {
        WideMask(each!(k => !self.0[k]))
    }
}

impl<V: Lanes, const K: usize> Lanes for Wide<V, K> {
    const N: usize = V::N * K;
    const FMA: bool = V::FMA;
    type Mask = WideMask<V::Mask, K>;

    #[inline(always)]
    fn splat(x: f64) -> Self {
        Wide([V::splat(x); K])
    }
    #[inline(always)]
    fn iota() -> Self {
        Wide(each!(k => V::iota() + V::splat((k * V::N) as f64)))
    }
    #[inline(always)]
    fn load(s: &[f64]) -> Self {
        Wide(each!(k => V::load(&s[k * V::N..])))
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        for (k, v) in self.0.iter().enumerate() {
            v.store(&mut out[k * V::N..]);
        }
    }
    #[inline(always)]
    fn first(self) -> f64 {
        self.0[0].first()
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        Wide(each!(k => self.0[k].mul_add(a.0[k], b.0[k])))
    }
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        Wide(each!(k => self.0[k].fused_mul_add(a.0[k], b.0[k])))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        Wide(each!(k => self.0[k].sqrt()))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Wide(each!(k => self.0[k].abs()))
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        Wide(each!(k => self.0[k].min(o.0[k])))
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Wide(each!(k => self.0[k].max(o.0[k])))
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self::Mask {
        WideMask(each!(k => self.0[k].lt(o.0[k])))
    }
    #[inline(always)]
    fn le(self, o: Self) -> Self::Mask {
        WideMask(each!(k => self.0[k].le(o.0[k])))
    }
    #[inline(always)]
    fn gt(self, o: Self) -> Self::Mask {
        WideMask(each!(k => self.0[k].gt(o.0[k])))
    }
    #[inline(always)]
    fn select(m: Self::Mask, a: Self, b: Self) -> Self {
        Wide(each!(k => V::select(m.0[k], a.0[k], b.0[k])))
    }
    #[inline(always)]
    fn any(m: Self::Mask) -> bool {
        m.0.iter().any(|&x| V::any(x))
    }
    #[inline(always)]
    fn bit_set(self, bit: u32) -> Self::Mask {
        WideMask(each!(k => self.0[k].bit_set(bit)))
    }
    #[inline(always)]
    fn pow2_from_magic(self) -> Self {
        Wide(each!(k => self.0[k].pow2_from_magic()))
    }
}

impl<W: Words, const K: usize> Words for Wide<W, K> {
    type F = Wide<W::F, K>;

    #[inline(always)]
    fn splat(x: u64) -> Self {
        Wide([W::splat(x); K])
    }
    #[inline(always)]
    fn load(s: &[u64]) -> Self {
        Wide(each!(k => W::load(&s[k * <W::F as Lanes>::N..])))
    }
    #[inline(always)]
    fn store(self, out: &mut [u64]) {
        for (k, w) in self.0.iter().enumerate() {
            w.store(&mut out[k * <W::F as Lanes>::N..]);
        }
    }
    #[inline(always)]
    fn wrapping_add(self, o: Self) -> Self {
        Wide(each!(k => self.0[k].wrapping_add(o.0[k])))
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        Wide(each!(k => self.0[k].xor(o.0[k])))
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        Wide(each!(k => self.0[k].or(o.0[k])))
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        Wide(each!(k => self.0[k].and(o.0[k])))
    }
    #[inline(always)]
    fn shl<const S: i32>(self) -> Self {
        Wide(each!(k => self.0[k].shl::<S>()))
    }
    #[inline(always)]
    fn shr<const S: i32>(self) -> Self {
        Wide(each!(k => self.0[k].shr::<S>()))
    }
    #[inline(always)]
    fn to_f64(self) -> Self::F {
        Wide(each!(k => self.0[k].to_f64()))
    }
    #[inline(always)]
    fn from_f64(f: Self::F) -> Self {
        Wide(each!(k => W::from_f64(f.0[k])))
    }
    #[inline(always)]
    fn top_bit_mask(self) -> WideMask<<W::F as Lanes>::Mask, K> {
        WideMask(each!(k => self.0[k].top_bit_mask()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_lanes_are_the_inner_lanes() {
        type W2 = Wide<f64, 2>;
        let v = W2::load(&[1.5, -2.0]);
        let mut out = [0.0; 2];
        (v * v + W2::splat(1.0)).sqrt().store(&mut out);
        assert_eq!(out, [(1.5f64 * 1.5 + 1.0).sqrt(), 5f64.sqrt()]);
        assert_eq!(W2::N, 2);
        let m = v.lt(W2::zero());
        assert!(W2::any(m) && !W2::any(!m & m));
        let mut picked = [0.0; 2];
        W2::select(m, W2::splat(1.0), W2::splat(2.0)).store(&mut picked);
        assert_eq!(picked, [2.0, 1.0]);
        let w = Wide::<u64, 2>::load(&[1, 1 << 63]);
        let mut bits = [0u64; 2];
        w.shl::<1>()
            .or(<Wide<u64, 2> as Words>::splat(4))
            .store(&mut bits);
        assert_eq!(bits, [6, 4]);
        let mut f = [0.0; 2];
        w.flip_sign(W2::splat(3.0)).store(&mut f);
        assert_eq!(f, [3.0, -3.0]);
    }
}
