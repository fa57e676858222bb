//! Large array buffers an engine keeps for reuse.
//!
//! Receiving into fresh memory costs a page fault per page (the kernel zeroes each one first):
//! scatters into fresh partitions ran at about half the bandwidth of scatters into memory that
//! was used before (5–9 GB/s against 10–12 GB/s for 80 MB on 2 engines here). So when an array
//! leaves the namespace (replaced, removed or cleared) and is large, its buffer is kept, and the
//! next large receive of the same element type takes it. The pool is bounded
//! (`MPIVIEW_BUFFER_POOL_MB`, default 1024 MB; 0 turns it off) and gives the oldest buffers back
//! to the system first.

use std::collections::VecDeque;

use crate::comm::alloc::zeroed_vec;
use crate::value::{ArrayValue, Element, Value};

/// Buffers smaller than this are not worth keeping.
const MIN_POOLED_BYTES: usize = 1 << 20;

/// Reusable array buffers, newest first.
pub(crate) struct BufferPool {
    buffers: VecDeque<ArrayValue>,
    bytes: usize,
    limit: usize,
}

impl BufferPool {
    pub(crate) fn with_limit(limit: usize) -> BufferPool {
        BufferPool {
            buffers: VecDeque::new(),
            bytes: 0,
            limit,
        }
    }

    /// Keeps the buffer of `value` if it is a large array.
    pub(crate) fn recycle(&mut self, value: Option<Value>) {
        let Some(Value::Array(a)) = value else {
            return;
        };
        let bytes = capacity_bytes(&a);
        if bytes < MIN_POOLED_BYTES || bytes > self.limit {
            return;
        }
        self.bytes += bytes;
        self.buffers.push_front(a);
        while self.bytes > self.limit {
            let old = self.buffers.pop_back().expect("bytes > 0 means buffers");
            self.bytes -= capacity_bytes(&old);
        }
    }

    /// A vector of `n` elements of `T` (contents unspecified until overwritten): a pooled buffer
    /// of this type that holds at least `n` and at most twice that, or a fresh one.
    pub(crate) fn take<T: Element>(&mut self, n: usize) -> Vec<T> {
        let fits = |a: &ArrayValue| {
            T::peek(a).is_some_and(|x| {
                let len = x.len();
                len >= n && len <= n.saturating_mul(2) && x.is_standard_layout()
            })
        };
        if n * std::mem::size_of::<T>() >= MIN_POOLED_BYTES
            && let Some(i) = self.buffers.iter().position(fits)
        {
            let a = self.buffers.remove(i).expect("position is valid");
            self.bytes -= capacity_bytes(&a);
            let (mut v, offset) = T::unwrap(a).expect("checked").into_raw_vec_and_offset();
            if offset.is_some_and(|o| o != 0) {
                return zeroed_vec(n);
            }
            v.truncate(n);
            return v;
        }
        zeroed_vec(n)
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

fn capacity_bytes(a: &ArrayValue) -> usize {
    a.shape().iter().product::<usize>() * a.dtype().size()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    fn array(n: usize) -> Option<Value> {
        Some(Value::Array(ArrayValue::F64(ArrayD::zeros(IxDyn(&[n])))))
    }

    #[test]
    fn large_buffers_come_back_for_similar_sizes() {
        let mut pool = BufferPool::with_limit(64 << 20);
        let n = 1 << 20; // 8 MB of f64
        pool.recycle(array(n));
        assert_eq!(pool.bytes(), 8 << 20);
        let v: Vec<f32> = pool.take(n);
        assert_eq!(
            pool.bytes(),
            8 << 20,
            "another element type does not take it"
        );
        drop(v);
        let v: Vec<f64> = pool.take(n * 3 / 4);
        assert_eq!(v.len(), n * 3 / 4);
        assert_eq!(pool.bytes(), 0);
        pool.recycle(array(n));
        let v: Vec<f64> = pool.take(n / 4);
        assert_eq!(pool.bytes(), 8 << 20, "a buffer four times too large stays");
        assert_eq!(v.len(), n / 4);
    }

    #[test]
    fn small_buffers_are_not_kept_and_the_limit_holds() {
        let mut pool = BufferPool::with_limit(20 << 20);
        pool.recycle(array(100));
        pool.recycle(Some(Value::Int(3)));
        pool.recycle(None);
        assert_eq!(pool.bytes(), 0);
        for _ in 0..5 {
            pool.recycle(array(1 << 20));
        }
        assert_eq!(pool.bytes(), 16 << 20, "two 8 MB buffers fit under 20 MB");
        let mut off = BufferPool::with_limit(0);
        off.recycle(array(1 << 20));
        assert_eq!(off.bytes(), 0);
    }
}
