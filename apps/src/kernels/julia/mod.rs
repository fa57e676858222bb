//! Escape counts of the Julia set of `f(z) = z² + c` (the blog post's fractal), by blocks of
//! rows.
//!
//! The grid is NumPy's: `xs = np.linspace(zmin.real, zmax.real, cols)`,
//! `ys = np.linspace(zmin.imag, zmax.imag, rows)`, `Z[i, j] = xs[j] + 1j·ys[i]` ([`linspace`]
//! reproduces NumPy's values bit for bit). The count of a point is the number of iterations,
//! out of `tmax`, at whose start `|z| ≤ 2`, with `z` frozen once it escapes: the seed's
//! `J = tmax − #{t : |Z_t| > 2}`. `z² + c` is computed in NumPy's operation order
//! (`re = a·a − b·b + c.re`, `im = (a·b + b·a) + c.im`, never fused), so the only possible
//! difference from NumPy is the escape test: `a² + b² ≤ 4` here, `hypot(a, b) ≤ 2` there.
//!
//! Rows near the set cost up to `tmax` iterations per point and rows outside it a few, so a
//! row block's cost varies widely: [`Julia::rows`] accepts any range (the app balances load by
//! handing out blocks of rows). Columns run 8 at a time on AVX2 (two vectors of four), with
//! per-lane masks; the portable path gives the same counts.
//!
//! ```
//! use mpiview_apps::kernels::julia::Julia;
//! let j = Julia { rows: 64, cols: 64, ..Julia::default() };
//! let top = j.rows(0..32);
//! let bottom = j.rows(32..64);
//! assert_eq!([top, bottom].concat(), j.rows(0..64));
//! ```

mod kernel;
mod picture;

#[cfg(test)]
mod tests;

use std::ops::Range;

use num_complex::Complex64;
use serde::{Deserialize, Serialize};

pub use picture::{PartialSums, Picture};

/// A Julia-set grid and its iteration limit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Julia {
    /// Rows `m` (along the imaginary axis).
    pub rows: usize,
    /// Columns `n` (along the real axis).
    pub cols: usize,
    /// The constant `c` of `z² + c`.
    pub c: Complex64,
    /// Lower-left corner of the grid.
    pub zmin: Complex64,
    /// Upper-right corner of the grid.
    pub zmax: Complex64,
    /// Iteration limit (the largest count).
    pub tmax: u16,
}

impl Default for Julia {
    /// The blog post's grid: 1024 × 1024, `c = −0.065 + 0.66i`, `[−1.3, 1.3]²`, `tmax = 256`.
    fn default() -> Self {
        Self {
            rows: 1024,
            cols: 1024,
            c: Complex64::new(-0.065, 0.66),
            zmin: Complex64::new(-1.3, -1.3),
            zmax: Complex64::new(1.3, 1.3),
            tmax: 256,
        }
    }
}

impl Julia {
    /// The real parts of the columns, `linspace(zmin.re, zmax.re, cols)`.
    pub fn xs(&self) -> Vec<f64> {
        linspace(self.zmin.re, self.zmax.re, self.cols)
    }

    /// The imaginary parts of the rows, `linspace(zmin.im, zmax.im, rows)`.
    pub fn ys(&self) -> Vec<f64> {
        linspace(self.zmin.im, self.zmax.im, self.rows)
    }

    /// Counts of the rows `rows`, row-major (`rows.len() × cols`).
    ///
    /// # Panics
    /// Panics if `rows` reaches past the grid.
    pub fn rows(&self, rows: Range<usize>) -> Vec<u16> {
        let mut out = vec![0; rows.len() * self.cols];
        self.rows_into(rows, &mut out);
        out
    }

    /// As [`Julia::rows`], into `out` (`rows.len() × cols` values).
    ///
    /// # Panics
    /// Panics if `rows` reaches past the grid or `out` has the wrong length.
    pub fn rows_into(&self, rows: Range<usize>, out: &mut [u16]) {
        self.rows_into_on(rows, out, false);
    }

    /// As [`Julia::rows_into`], on the portable path if `portable`.
    pub(crate) fn rows_into_on(&self, rows: Range<usize>, out: &mut [u16], portable: bool) {
        assert!(
            rows.end <= self.rows,
            "julia: rows {rows:?} past {}",
            self.rows
        );
        assert_eq!(out.len(), rows.len() * self.cols, "julia: output length");
        if self.cols == 0 {
            return;
        }
        let xs = self.xs();
        let ys = self.ys();
        for (i, row) in rows.zip(out.chunks_exact_mut(self.cols)) {
            kernel::row(&xs, ys[i], self.c, self.tmax, row, portable);
        }
    }

    /// As [`Julia::rows`], calling `report(rows done, rows)` after each of about `parts`
    /// pieces; the counts are the same.
    ///
    /// # Panics
    /// Panics if `rows` reaches past the grid.
    pub fn rows_reporting(
        &self,
        rows: Range<usize>,
        parts: usize,
        mut report: impl FnMut(u64, u64),
    ) -> Vec<u16> {
        let mut out = vec![0; rows.len() * self.cols];
        let step = rows.len().div_ceil(parts.max(1)).max(1);
        let total = rows.len() as u64;
        if self.cols == 0 {
            return out;
        }
        for (k, piece) in out.chunks_mut(step * self.cols).enumerate() {
            let start = rows.start + k * step;
            let end = start + piece.len() / self.cols;
            self.rows_into(start..end, piece);
            report((end - rows.start) as u64, total);
        }
        out
    }

    /// The whole grid's counts, row-major.
    pub fn counts(&self) -> Vec<u16> {
        self.rows(0..self.rows)
    }

    /// The grid itself, `Z[i, j] = xs[j] + i·ys[i]`, row-major (NumPy's `X + 1j*Y` from
    /// `meshgrid`): what the seed scatters to its engines.
    pub fn grid(&self) -> Vec<Complex64> {
        let xs = self.xs();
        self.ys()
            .into_iter()
            .flat_map(|y| xs.iter().map(move |&x| Complex64::new(x, y)))
            .collect()
    }
}

/// The counts of points given as rows of `cols` values (a block of a grid's rows, row-major):
/// each row that shares one imaginary part (a row of the meshgrid) runs the vectorised kernel,
/// other rows point by point. Gives the same counts as [`Julia::rows`] on the same grid rows.
///
/// ```
/// use mpiview_apps::kernels::julia::{counts_of_points, Julia};
/// let j = Julia { rows: 16, cols: 24, ..Julia::default() };
/// let z = j.grid();
/// assert_eq!(counts_of_points(&z[8 * 24..], 24, j.c, j.tmax), j.rows(8..16));
/// ```
///
/// # Panics
/// Panics if `cols` is zero while `z` is not empty, or `z.len()` is not a multiple of `cols`.
pub fn counts_of_points(z: &[Complex64], cols: usize, c: Complex64, tmax: u16) -> Vec<u16> {
    let mut out = vec![0u16; z.len()];
    if z.is_empty() {
        return out;
    }
    assert!(
        cols > 0 && z.len().is_multiple_of(cols),
        "julia: {} points are not rows of {cols}",
        z.len()
    );
    let mut re = Vec::with_capacity(cols);
    for (row, counts) in z.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        let im = row[0].im;
        if row.iter().all(|p| p.im == im) {
            re.clear();
            re.extend(row.iter().map(|p| p.re));
            kernel::row(&re, im, c, tmax, counts, false);
        } else {
            for (p, count) in row.iter().zip(counts.iter_mut()) {
                kernel::row(&[p.re], p.im, c, tmax, std::slice::from_mut(count), false);
            }
        }
    }
    out
}

/// NumPy's `linspace(start, stop, num)` (endpoint included), value for value:
/// `start + k·step` with `step = (stop − start)/(num − 1)`, the last element set to `stop`
/// (and NumPy's fallback `k/(num−1)·(stop − start) + start` when `step` underflows to 0).
///
/// ```
/// use mpiview_apps::kernels::julia::linspace;
/// assert_eq!(linspace(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
/// assert_eq!(linspace(-1.3, 1.3, 3), vec![-1.3, 0.0, 1.3]);
/// assert_eq!(linspace(2.0, 3.0, 1), vec![2.0]);
/// ```
pub fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return Vec::new();
    }
    if num == 1 {
        return vec![start];
    }
    let div = (num - 1) as f64;
    let delta = stop - start;
    let step = delta / div;
    let mut y: Vec<f64> = if step == 0.0 {
        (0..num).map(|k| k as f64 / div * delta + start).collect()
    } else {
        (0..num).map(|k| k as f64 * step + start).collect()
    };
    y[num - 1] = stop;
    y
}
