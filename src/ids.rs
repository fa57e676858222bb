//! The identifiers everything else uses: engines, requests, views. A leaf module: it imports
//! nothing of the crate.

/// An engine's id: its MPI rank in `MPI_COMM_WORLD` minus one.
pub type EngineId = usize;

/// Identifies a request (direct) or a task (load-balanced) across controller and engines.
pub(crate) type RequestId = u64;

/// Identifies a view's communicators (controller + a list of engines) on every member.
pub(crate) type ViewId = u32;

/// The view of every engine in id order, whose communicators exist from start-up.
pub(crate) const ALL_ENGINES: ViewId = 0;

/// A hash for the integer ids used as map keys (requests, views, engines). They are not chosen
/// by an adversary, so SipHash's protection buys nothing, and it cost several percent of a round
/// trip; this is the multiply-rotate hash of `rustc-hash` (FxHash).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(26) ^ x).wrapping_mul(Self::K);
    }
}

impl std::hash::Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A map keyed by ids, with [`IdHasher`].
pub(crate) type IdMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A set of ids, with [`IdHasher`].
pub(crate) type IdSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<IdHasher>>;
