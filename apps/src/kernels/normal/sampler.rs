//! [`Normals`]: the draws of one stream, four generators at a time.

use super::box_muller::box_muller;
use super::stream;
use super::xoshiro::XoshiroLanes;
use crate::kernels::simd::avx2_fma_available;

/// Normals per step of the four generators (two per generator).
pub(super) const STEP: usize = 8;

/// Steps whose transforms the AVX2 path runs in lockstep.
const LOCKSTEP: usize = 4;

/// The standard normal draws of stream `(seed, index)`, in a fixed order.
///
/// Generators: `g0 =` [`stream`]`(seed, index)` and `g1, g2, g3`, each jumped 2^128 steps
/// (`Xoshiro256PlusPlus::jump`) past the previous one, so the four never overlap. Each step
/// takes two words from every generator and makes eight normals, in the order
/// `z0(g0), z0(g1), z0(g2), z0(g3), z1(g0), …, z1(g3)` (the two Box–Muller normals of each
/// generator's pair). The sequence is a function of `(seed, index)` only: the same on every CPU
/// and however it is read ([`Normals::fill`] in any pieces, [`Normals::skip`]).
///
/// ```
/// use mpiview_apps::kernels::normal::Normals;
/// let mut whole = [0.0; 20];
/// Normals::new(7, 3).fill(&mut whole);
/// let mut g = Normals::new(7, 3);
/// let (mut a, mut b) = ([0.0; 5], [0.0; 12]);
/// g.fill(&mut a);
/// g.skip(3);
/// g.fill(&mut b);
/// assert_eq!(a[..], whole[..5]);
/// assert_eq!(b[..], whole[8..]);
/// ```
#[derive(Clone, Debug)]
pub struct Normals {
    /// The generators' states, `states[j]` for `g_j`.
    pub(super) states: [[u64; 4]; 4],
    /// The last step's normals, of which `spare[used..]` are not handed out yet.
    spare: [f64; STEP],
    used: usize,
}

impl Normals {
    /// The draws of stream `(seed, index)`.
    pub fn new(seed: u64, index: u64) -> Self {
        let mut g = stream(seed, index);
        let states = std::array::from_fn(|j| {
            if j > 0 {
                g.jump();
            }
            let b = g.state();
            std::array::from_fn(|i| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap()))
        });
        Self {
            states,
            spare: [0.0; STEP],
            used: STEP,
        }
    }

    /// Fills `out` with the next `out.len()` draws.
    pub fn fill(&mut self, out: &mut [f64]) {
        let from_spare = (STEP - self.used).min(out.len());
        out[..from_spare].copy_from_slice(&self.spare[self.used..self.used + from_spare]);
        self.used += from_spare;
        let rest = &mut out[from_spare..];
        let whole = rest.len() / STEP * STEP;
        let (steps, tail) = rest.split_at_mut(whole);
        draw_steps(&mut self.states, steps);
        if !tail.is_empty() {
            draw_steps(&mut self.states, &mut self.spare);
            tail.copy_from_slice(&self.spare[..tail.len()]);
            self.used = tail.len();
        }
    }

    /// Skips the next `n` draws (draws them: as fast as [`Normals::fill`]).
    pub fn skip(&mut self, n: u64) {
        let mut buf = [0.0; 256];
        let mut left = n;
        while left > 0 {
            let m = left.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..m]);
            left -= m as u64;
        }
    }
}

/// Whole steps of the four generators into `out` (`out.len()` a multiple of [`STEP`]), on the
/// fastest path this CPU has.
pub(super) fn draw_steps(states: &mut [[u64; 4]; 4], out: &mut [f64]) {
    debug_assert_eq!(out.len() % STEP, 0);
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_available() {
        #[target_feature(enable = "avx2,fma")]
        fn avx2(states: &mut [[u64; 4]; 4], out: &mut [f64]) {
            use crate::kernels::simd::Lanes;
            use crate::kernels::simd::avx2::U4;
            use crate::kernels::simd::wide::Wide;
            use crate::kernels::simd::words::Words;
            let mut g = XoshiroLanes::<U4>::load(states);
            // LOCKSTEP steps at a time, their transforms interleaved (see `Wide`).
            let mut chunks = out.chunks_exact_mut(LOCKSTEP * STEP);
            for chunk in &mut chunks {
                let mut w1 = [U4::splat(0); LOCKSTEP];
                let mut w2 = w1;
                for k in 0..LOCKSTEP {
                    (w1[k], w2[k]) = (g.next(), g.next());
                }
                let (z0, z1) = box_muller(Wide(w1), Wide(w2));
                for (k, c) in chunk.chunks_exact_mut(STEP).enumerate() {
                    z0.0[k].store(&mut c[..4]);
                    z1.0[k].store(&mut c[4..]);
                }
            }
            for chunk in chunks.into_remainder().chunks_exact_mut(STEP) {
                let (w1, w2) = (g.next(), g.next());
                let (z0, z1) = box_muller(w1, w2);
                z0.store(&mut chunk[..4]);
                z1.store(&mut chunk[4..]);
            }
            g.store(states);
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { avx2(states, out) };
        return;
    }
    draw_steps_portable(states, out);
}

/// [`draw_steps`] one generator at a time, in plain `f64` (the same bits).
pub(super) fn draw_steps_portable(states: &mut [[u64; 4]; 4], out: &mut [f64]) {
    for (j, st) in states.iter_mut().enumerate() {
        let mut g = XoshiroLanes::<u64>::load(std::slice::from_ref(st));
        for chunk in out.chunks_exact_mut(STEP) {
            let (w1, w2) = (g.next(), g.next());
            let (z0, z1) = box_muller(w1, w2);
            chunk[j] = z0;
            chunk[4 + j] = z1;
        }
        g.store(std::slice::from_mut(st));
    }
}
