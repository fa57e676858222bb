//! Large arrays backed by transparent huge pages.
//!
//! The kernel copies between processes (Open MPI's single-copy transfers) and faults in fresh
//! memory page by page; with 4 KiB pages that work dominates large transfers. NumPy backs large
//! arrays with huge pages for the same reason. Arrays made here are zeroed lazily by the kernel
//! and advised to use 2 MiB pages: on the machine of `docs/performance.md`, scattering 80 MB
//! from such an array ran at about 12 GB/s against 6–7 GB/s from a plain `Vec`.

use ndarray::{Array, Dimension, ShapeBuilder};

use crate::comm::alloc::zeroed_vec;
use crate::value::Element;

/// An array of zeros of `shape` (like `ndarray::Array::zeros`), backed by transparent huge pages
/// when large. Use it for large arrays that you scatter, push, or gather into
/// ([`DirectView::gather_into`](crate::DirectView::gather_into)).
///
/// ```
/// let mut a = mpiview::arrays::zeros::<f64, _, _>((1000, 3));
/// a[[999, 2]] = 1.0;
/// assert_eq!(a.sum(), 1.0);
/// ```
pub fn zeros<T: Element, D: Dimension, Sh: ShapeBuilder<Dim = D>>(shape: Sh) -> Array<T, D> {
    let shape = shape.into_shape_with_order();
    let n = shape.raw_dim().size();
    Array::from_shape_vec(shape, zeroed_vec::<T>(n)).expect("the length matches the shape")
}

/// A 1-D array of `n` elements computed by `f(i)`, backed by transparent huge pages when large.
///
/// ```
/// let a = mpiview::arrays::from_fn(10, |i| i as f64);
/// assert_eq!(a[9], 9.0);
/// ```
pub fn from_fn<T: Element>(n: usize, mut f: impl FnMut(usize) -> T) -> ndarray::Array1<T> {
    let mut v = zeroed_vec::<T>(n);
    for (i, x) in v.iter_mut().enumerate() {
        *x = f(i);
    }
    ndarray::Array1::from_vec(v)
}
