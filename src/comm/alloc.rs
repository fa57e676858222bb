//! Buffers for large receives.
//!
//! A fresh 80 MB `Vec` that MPI writes into page-faults on every 4 KiB page, which halves the
//! bandwidth of a scatter or gather. Receive buffers are therefore allocated zeroed (large
//! allocations come straight from `mmap` and are not touched) and advised to use transparent
//! huge pages before MPI writes the first byte.

use std::alloc::Layout;

use crate::value::Element;

/// Below this size, huge pages do not matter.
const HUGE_PAGE_THRESHOLD: usize = 4 << 20;

/// A vector of `n` zero elements, backed by transparent huge pages when large.
pub(crate) fn zeroed_vec<T: Element>(n: usize) -> Vec<T> {
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return Vec::new();
    }
    let layout = Layout::array::<T>(n).expect("array size overflows isize");
    // SAFETY: the layout has non-zero size. Every `Element` (floats, integers, complex of
    // floats) is valid when all its bytes are zero, so the `n` elements are initialised, and the
    // layout is exactly the one `Vec<T>` uses for capacity `n`, so the Vec may free it.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<T>();
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        advise_huge_pages(ptr.cast(), layout.size());
        Vec::from_raw_parts(ptr, n, n)
    }
}

fn advise_huge_pages(ptr: *mut u8, len: usize) {
    if len < HUGE_PAGE_THRESHOLD {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let page = 4096usize;
        let start = (ptr as usize).next_multiple_of(page);
        let end = (ptr as usize + len) / page * page;
        if end > start {
            // SAFETY: [start, end) lies inside the allocation just made; MADV_HUGEPAGE only
            // changes how the kernel backs those pages and never their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    #[test]
    fn zeroed_vectors_are_zero_and_usable() {
        let v = zeroed_vec::<f64>(1 << 20);
        assert_eq!(v.len(), 1 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
        let mut c = zeroed_vec::<Complex64>(3);
        c[1] = Complex64::new(1.0, 2.0);
        assert_eq!(
            c,
            vec![
                Complex64::default(),
                Complex64::new(1.0, 2.0),
                Complex64::default()
            ]
        );
        assert!(zeroed_vec::<u8>(0).is_empty());
        let mut grow = zeroed_vec::<i32>(2);
        grow.push(5);
        assert_eq!(grow, vec![0, 0, 5]);
    }
}
