//! IPython Parallel's block partition rule, as pure functions.
//!
//! `n` items over `q` parts: every part gets `n / q` items and the first `n % q` parts get one
//! more, in the order the parts are listed (10 items over 4 parts → 3, 3, 2, 2). The rule is used
//! for `scatter` (parts are the view's engines, in target order), for the trapezoid apps (parts are
//! blocks of intervals) and for load-balanced chunks (parts are chunks).

use std::ops::Range;

/// Number of items in each of `parts` blocks of `n` items.
///
/// ```
/// assert_eq!(mpiview::partition::block_counts(10, 4), vec![3, 3, 2, 2]);
/// assert_eq!(mpiview::partition::block_counts(2, 4), vec![1, 1, 0, 0]);
/// ```
///
/// # Panics
/// Panics if `parts` is zero.
#[track_caller]
pub fn block_counts(n: usize, parts: usize) -> Vec<usize> {
    assert!(parts > 0, "block_counts: zero parts");
    (0..parts).map(|i| block_len(n, parts, i)).collect()
}

/// Number of items in block `i` of `parts` blocks of `n` items.
///
/// # Panics
/// Panics if `parts` is zero or `i >= parts`.
#[track_caller]
pub fn block_len(n: usize, parts: usize, i: usize) -> usize {
    assert!(i < parts, "block_len: block {i} of {parts}");
    n / parts + usize::from(i < n % parts)
}

/// The index range of block `i` of `parts` blocks of `n` items.
///
/// ```
/// assert_eq!(mpiview::partition::block_range(10, 4, 2), 6..8);
/// ```
///
/// # Panics
/// Panics if `parts` is zero or `i >= parts`.
#[track_caller]
pub fn block_range(n: usize, parts: usize, i: usize) -> Range<usize> {
    let len = block_len(n, parts, i);
    let start = i * (n / parts) + i.min(n % parts);
    start..start + len
}

/// The same rule over a 64-bit count, for index spaces larger than memory (the trapezoid's
/// 10^10 points on a 32-bit `usize` would not fit).
///
/// ```
/// assert_eq!(mpiview::partition::block_range_u64(10_000_000_000, 3, 2),
///            6_666_666_667..10_000_000_000);
/// ```
///
/// # Panics
/// Panics if `parts` is zero or `i >= parts`.
#[track_caller]
pub fn block_range_u64(n: u64, parts: u64, i: u64) -> Range<u64> {
    assert!(i < parts, "block_range_u64: block {i} of {parts}");
    let len = n / parts + u64::from(i < n % parts);
    let start = i * (n / parts) + i.min(n % parts);
    start..start + len
}

/// Chunk sizes for `n` items in chunks of at most `chunksize`: `ceil(n / chunksize)` chunks split
/// by the block rule (10 items, chunksize 3 → 3, 3, 2, 2). No items → no chunks.
///
/// ```
/// assert_eq!(mpiview::partition::chunk_counts(10, 3), vec![3, 3, 2, 2]);
/// assert_eq!(mpiview::partition::chunk_counts(0, 3), Vec::<usize>::new());
/// ```
///
/// # Panics
/// Panics if `chunksize` is zero.
#[track_caller]
pub fn chunk_counts(n: usize, chunksize: usize) -> Vec<usize> {
    assert!(chunksize > 0, "chunk_counts: zero chunksize");
    if n == 0 {
        return Vec::new();
    }
    block_counts(n, n.div_ceil(chunksize))
}

/// Offsets (exclusive prefix sums) of a list of counts.
///
/// ```
/// assert_eq!(mpiview::partition::offsets(&[3, 3, 2, 2]), vec![0, 3, 6, 8]);
/// ```
pub fn offsets(counts: &[usize]) -> Vec<usize> {
    counts
        .iter()
        .scan(0usize, |acc, &c| {
            let start = *acc;
            *acc += c;
            Some(start)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lab_example() {
        // dview.scatter("a_partition", np.arange(10)) over 4 engines.
        let ranges: Vec<_> = (0..4).map(|i| block_range(10, 4, i)).collect();
        assert_eq!(ranges, vec![0..3, 3..6, 6..8, 8..10]);
    }

    #[test]
    fn fewer_items_than_parts_leaves_empty_partitions() {
        assert_eq!(block_counts(3, 5), vec![1, 1, 1, 0, 0]);
        assert_eq!(block_range(3, 5, 4), 3..3);
        assert_eq!(block_counts(0, 3), vec![0, 0, 0]);
    }

    #[test]
    fn ranges_tile_the_items_for_many_shapes() {
        for n in 0..60 {
            for parts in 1..13 {
                let counts = block_counts(n, parts);
                assert_eq!(counts.iter().sum::<usize>(), n);
                let max = *counts.iter().max().unwrap();
                let min = *counts.iter().min().unwrap();
                assert!(max - min <= 1, "n={n} parts={parts}: {counts:?}");
                assert!(
                    counts.windows(2).all(|w| w[0] >= w[1]),
                    "larger blocks come first"
                );
                let mut next = 0;
                for (i, &count) in counts.iter().enumerate() {
                    let r = block_range(n, parts, i);
                    assert_eq!(r.start, next);
                    assert_eq!(r.len(), count);
                    let r64 = block_range_u64(n as u64, parts as u64, i as u64);
                    assert_eq!((r64.start as usize, r64.end as usize), (r.start, r.end));
                    next = r.end;
                }
                assert_eq!(next, n);
                assert_eq!(
                    offsets(&counts).last().copied().unwrap_or(0) + counts[parts - 1],
                    n
                );
            }
        }
    }

    #[test]
    fn u64_ranges_beyond_32_bits() {
        let n = 10_000_000_001u64;
        let parts = 16;
        let total: u64 = (0..parts)
            .map(|i| block_range_u64(n, parts, i).end - block_range_u64(n, parts, i).start)
            .sum();
        assert_eq!(total, n);
        assert_eq!(block_range_u64(n, parts, parts - 1).end, n);
    }

    #[test]
    fn chunks_follow_ipyparallel() {
        assert_eq!(chunk_counts(10, 3), vec![3, 3, 2, 2]);
        assert_eq!(chunk_counts(10, 1), vec![1; 10]);
        assert_eq!(chunk_counts(10, 10), vec![10]);
        assert_eq!(chunk_counts(10, 100), vec![10]);
        for n in 1..50 {
            for c in 1..12 {
                let chunks = chunk_counts(n, c);
                assert_eq!(chunks.len(), n.div_ceil(c));
                assert!(chunks.iter().all(|&k| k >= 1 && k <= c));
                assert_eq!(chunks.iter().sum::<usize>(), n);
            }
        }
    }
}
