//! How many items go into the next chunk (pure logic, tested without MPI).
//!
//! With an explicit `chunksize`, a map of known length follows IPython Parallel's rule:
//! `ceil(n / chunksize)` chunks, sized by the block rule (10 items, chunksize 3 → 3, 3, 2, 2);
//! an endless `imap` takes `chunksize` items at a time.
//!
//! Automatic chunks aim at a target duration per chunk (2 ms by default,
//! `MPIVIEW_CHUNK_TARGET_MS`), from the per-item time measured on the first chunks (which hold
//! one item each), so that a chunk of tiny items carries enough work to hide its messaging,
//! while chunks shrink as the map nears its end (at most a quarter of each engine's share of
//! what remains, "guided" scheduling) so that long tasks still balance.

use std::time::Duration;

use crate::partition::block_len;

/// Largest automatic chunk.
const MAX_AUTO_CHUNK: usize = 1 << 16;

/// How chunk sizes are chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Chunking {
    /// Chunks of at most this many items (IPython Parallel's `chunksize`).
    Fixed(usize),
    /// Sized from measured item times: see the module docs.
    Auto,
}

/// The chunk-size rule of one map.
#[derive(Clone, Debug)]
pub(crate) struct ChunkPlan {
    chunking: Chunking,
    /// Items in the map, if known.
    total: Option<usize>,
    /// Chunks handed out so far (for the fixed rule over a known length).
    issued: usize,
    target: Duration,
}

impl ChunkPlan {
    pub(crate) fn new(chunking: Chunking, total: Option<usize>) -> ChunkPlan {
        let target = crate::settings::get().chunk_target;
        ChunkPlan {
            chunking,
            total,
            issued: 0,
            target,
        }
    }

    /// Size of the next chunk, given the items not yet handed out, the engines sharing the work,
    /// and the measured seconds per item (if any chunk has finished).
    pub(crate) fn next(
        &mut self,
        remaining: Option<usize>,
        engines: usize,
        per_item: Option<f64>,
    ) -> usize {
        let size = match (self.chunking, self.total) {
            (Chunking::Fixed(c), Some(n)) => {
                let chunks = n.div_ceil(c.max(1));
                if self.issued < chunks {
                    block_len(n, chunks, self.issued)
                } else {
                    1
                }
            }
            (Chunking::Fixed(c), None) => c.max(1),
            (Chunking::Auto, _) => {
                let by_time = match per_item {
                    None => 1,
                    Some(t) => ((self.target.as_secs_f64() / t.max(1e-9)) as usize)
                        .clamp(1, MAX_AUTO_CHUNK),
                };
                let by_balance =
                    remaining.map_or(usize::MAX, |r| (r / (4 * engines.max(1))).max(1));
                by_time.min(by_balance)
            }
        };
        self.issued += 1;
        match remaining {
            Some(r) => size.min(r).max(1),
            None => size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(plan: &mut ChunkPlan, n: usize, engines: usize, per_item: Option<f64>) -> Vec<usize> {
        let mut left = n;
        let mut out = Vec::new();
        while left > 0 {
            let s = plan.next(Some(left), engines, per_item);
            out.push(s);
            left -= s;
        }
        out
    }

    #[test]
    fn fixed_chunks_follow_the_block_rule() {
        let mut p = ChunkPlan::new(Chunking::Fixed(3), Some(10));
        assert_eq!(sizes(&mut p, 10, 2, None), vec![3, 3, 2, 2]);
        let mut p = ChunkPlan::new(Chunking::Fixed(1), Some(4));
        assert_eq!(sizes(&mut p, 4, 2, None), vec![1, 1, 1, 1]);
        let mut p = ChunkPlan::new(Chunking::Fixed(5), None);
        assert_eq!(p.next(None, 2, None), 5);
    }

    #[test]
    fn auto_chunks_start_small_and_fit_the_target() {
        let mut p = ChunkPlan::new(Chunking::Auto, Some(1_000_000));
        assert_eq!(p.next(Some(1_000_000), 2, None), 1, "nothing measured yet");
        // 100 ns per item, 2 ms target: 20,000 items.
        assert_eq!(p.next(Some(999_999), 2, Some(100e-9)), 20_000);
        // 10 ms per item: one at a time.
        assert_eq!(p.next(Some(500), 2, Some(10e-3)), 1);
    }

    #[test]
    fn auto_chunks_shrink_near_the_end() {
        let mut p = ChunkPlan::new(Chunking::Auto, Some(10_000));
        let s = sizes(&mut p, 10_000, 2, Some(1e-9));
        assert!(s[0] <= 10_000 / 8 + 1, "{:?}", &s[..3]);
        assert!(
            s.windows(2).all(|w| w[1] <= w[0]),
            "sizes never grow: {s:?}"
        );
        assert_eq!(*s.last().unwrap(), 1);
        assert_eq!(s.iter().sum::<usize>(), 10_000);
    }
}
