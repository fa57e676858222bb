//! Xoshiro256++ in word lanes: lane `j` runs its own generator, bit for bit as
//! `rand_xoshiro::Xoshiro256PlusPlus` (the reference algorithm of Blackman and Vigna).

use crate::kernels::simd::Lanes;
use crate::kernels::simd::words::Words;

/// The states of `W::F::N` xoshiro256++ generators, one per lane (`s[i]` holds word `i` of
/// every lane's state).
#[derive(Clone, Copy, Debug)]
pub(super) struct XoshiroLanes<W> {
    s: [W; 4],
}

impl<W: Words> XoshiroLanes<W> {
    /// Lane `j` starts from `states[j]` (`states.len() >= W::F::N`).
    #[inline(always)]
    pub(super) fn load(states: &[[u64; 4]]) -> Self {
        let word = |i: usize| {
            let mut lanes = [0u64; 8];
            for (l, st) in lanes.iter_mut().zip(states) {
                *l = st[i];
            }
            W::load(&lanes)
        };
        Self {
            s: [word(0), word(1), word(2), word(3)],
        }
    }

    /// Writes lane `j`'s state back to `states[j]`.
    #[inline(always)]
    pub(super) fn store(self, states: &mut [[u64; 4]]) {
        let mut lanes = [[0u64; 8]; 4];
        for (w, l) in self.s.iter().zip(&mut lanes) {
            w.store(l);
        }
        for (j, st) in states.iter_mut().enumerate().take(<W::F as Lanes>::N) {
            *st = std::array::from_fn(|i| lanes[i][j]);
        }
    }

    /// The next output of every lane's generator (`next_u64`).
    #[inline(always)]
    pub(super) fn next(&mut self) -> W {
        let [s0, s1, s2, s3] = self.s;
        let result = s0.wrapping_add(s3).rotl::<23, 41>().wrapping_add(s0);
        let t = s1.shl::<17>();
        let s2 = s2.xor(s0);
        let s3 = s3.xor(s1);
        let s1 = s1.xor(s2);
        let s0 = s0.xor(s3);
        let s2 = s2.xor(t);
        let s3 = s3.rotl::<45, 19>();
        self.s = [s0, s1, s2, s3];
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn state(g: &Xoshiro256PlusPlus) -> [u64; 4] {
        let b = g.state();
        std::array::from_fn(|i| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap()))
    }

    fn lanes_follow_rand_xoshiro<W: Words>() {
        let mut gens: Vec<Xoshiro256PlusPlus> = (0..4)
            .map(|i| Xoshiro256PlusPlus::seed_from_u64(1000 + i))
            .collect();
        let mut states: Vec<[u64; 4]> = gens.iter().map(state).collect();
        let n = <W::F as Lanes>::N;
        for start in (0..4).step_by(n) {
            let mut x = XoshiroLanes::<W>::load(&states[start..]);
            for _ in 0..100 {
                let mut out = [0u64; 8];
                x.next().store(&mut out);
                for (j, o) in out.iter().enumerate().take(n) {
                    assert_eq!(*o, gens[start + j].next_u64());
                }
            }
            x.store(&mut states[start..]);
        }
        for (st, g) in states.iter().zip(&gens) {
            assert_eq!(*st, state(g));
        }
    }

    #[test]
    fn scalar_lanes_follow_rand_xoshiro() {
        lanes_follow_rand_xoshiro::<u64>();
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes_follow_rand_xoshiro() {
        use crate::kernels::simd::{avx2, avx2_fma_available};
        if avx2_fma_available() {
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { avx2::with_avx2(lanes_follow_rand_xoshiro::<avx2::U4>) }
        }
    }
}
