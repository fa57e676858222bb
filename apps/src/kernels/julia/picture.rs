//! A picture of a grid of counts from bounded memory: the grid shrunk by a whole factor in both
//! directions, each pixel the rounded mean of the counts of its cell, summed block of rows by
//! block of rows where the rows are.
//!
//! Engines that hold consecutive rows of the counts each sum the cells their rows touch
//! ([`Picture::partial`]); a cell cut by an engines' boundary gets a part from each, and the
//! parts add up ([`Picture::add`]), so the picture does not depend on how the rows were shared.
//! The controller holds only the picture's sums (8 bytes a pixel).
//!
//! ```
//! use mpiview_apps::kernels::julia::Picture;
//! // A 5×4 grid shrunk to at most 2 pixels a side: factor 3, 2×2 pixels.
//! let counts: Vec<u16> = (0..20).collect();
//! let pic = Picture::fitting(5, 4, 2);
//! assert_eq!((pic.rows, pic.cols, pic.factor), (2, 2, 3));
//! let mut sums = pic.empty();
//! pic.add(&mut sums, &pic.partial(0..2, &counts[..8]));
//! pic.add(&mut sums, &pic.partial(2..5, &counts[8..]));
//! // Cell (0, 0) holds rows 0..3, columns 0..3: 0 1 2 / 4 5 6 / 8 9 10, mean 5.
//! assert_eq!(pic.means(&sums)[0], 5);
//! assert_eq!(pic.means(&sums), pic.means_of(&counts));
//! ```

use std::ops::Range;

/// The shape of a picture of a `grid_rows × grid_cols` grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Picture {
    /// Rows of the grid.
    pub grid_rows: usize,
    /// Columns of the grid.
    pub grid_cols: usize,
    /// Grid rows (and columns) per pixel side.
    pub factor: usize,
    /// Pixel rows.
    pub rows: usize,
    /// Pixel columns.
    pub cols: usize,
}

/// The sums of a block of pixel rows: the first pixel row, and `cols` sums per pixel row.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartialSums {
    /// The first pixel row these sums belong to.
    pub first_row: usize,
    /// Row-major sums, a whole number of pixel rows.
    pub sums: Vec<u64>,
}

impl Picture {
    /// The picture of a `grid_rows × grid_cols` grid whose longer side has at most `max_side`
    /// pixels: the smallest whole factor that fits (1, the grid itself, when it fits already).
    ///
    /// # Panics
    /// Panics if `max_side` is 0.
    pub fn fitting(grid_rows: usize, grid_cols: usize, max_side: usize) -> Picture {
        assert!(max_side > 0, "Picture::fitting: max_side is 0");
        let factor = grid_rows.max(grid_cols).div_ceil(max_side).max(1);
        Picture {
            grid_rows,
            grid_cols,
            factor,
            rows: grid_rows.div_ceil(factor),
            cols: grid_cols.div_ceil(factor),
        }
    }

    /// Zero sums for the whole picture.
    pub fn empty(&self) -> PartialSums {
        PartialSums {
            first_row: 0,
            sums: vec![0; self.rows * self.cols],
        }
    }

    /// The sums of the pixels that the grid rows `rows` touch, from their counts (row-major,
    /// `rows.len() × grid_cols`).
    ///
    /// # Panics
    /// Panics if `counts` has the wrong length or `rows` reaches past the grid.
    pub fn partial(&self, rows: Range<usize>, counts: &[u16]) -> PartialSums {
        assert!(
            rows.end <= self.grid_rows,
            "Picture::partial: rows past the grid"
        );
        assert_eq!(
            counts.len(),
            rows.len() * self.grid_cols,
            "Picture::partial: counts length"
        );
        if rows.is_empty() {
            return PartialSums::default();
        }
        let first_row = rows.start / self.factor;
        let last_row = (rows.end - 1) / self.factor;
        let mut sums = vec![0u64; (last_row - first_row + 1) * self.cols];
        for (i, row) in rows.zip(counts.chunks_exact(self.grid_cols.max(1))) {
            let pixels = &mut sums[(i / self.factor - first_row) * self.cols..][..self.cols];
            for (pixel, cell) in pixels.iter_mut().zip(row.chunks(self.factor)) {
                *pixel += cell.iter().map(|&k| u64::from(k)).sum::<u64>();
            }
        }
        PartialSums { first_row, sums }
    }

    /// Adds `part` into `total` (which covers the whole picture, from [`Picture::empty`]).
    ///
    /// # Panics
    /// Panics if `part` reaches past the picture.
    pub fn add(&self, total: &mut PartialSums, part: &PartialSums) {
        let start = part.first_row * self.cols;
        let into = &mut total.sums[start..start + part.sums.len()];
        for (t, p) in into.iter_mut().zip(&part.sums) {
            *t += p;
        }
    }

    /// Each pixel's mean count, rounded to the nearest (row-major, `rows × cols`), from the
    /// whole picture's sums.
    pub fn means(&self, total: &PartialSums) -> Vec<u16> {
        let side = |k: usize, n: usize| (n - k * self.factor).min(self.factor) as u64;
        let mut out = Vec::with_capacity(self.rows * self.cols);
        for r in 0..self.rows {
            let height = side(r, self.grid_rows);
            for c in 0..self.cols {
                let area = height * side(c, self.grid_cols);
                let sum = total.sums[r * self.cols + c];
                out.push(((sum + area / 2) / area) as u16);
            }
        }
        out
    }

    /// The picture of a whole grid of counts held in one place.
    pub fn means_of(&self, counts: &[u16]) -> Vec<u16> {
        let mut total = self.empty();
        self.add(&mut total, &self.partial(0..self.grid_rows, counts));
        self.means(&total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_that_fits_is_its_own_picture() {
        let counts: Vec<u16> = (0..12).map(|k| k * 7 % 11).collect();
        let pic = Picture::fitting(3, 4, 4);
        assert_eq!((pic.factor, pic.rows, pic.cols), (1, 3, 4));
        assert_eq!(pic.means_of(&counts), counts);
    }

    #[test]
    fn the_picture_does_not_depend_on_how_rows_are_shared() {
        // 23 × 17 grid, factor 4: cells cut by every kind of boundary, ragged last cells.
        let (m, n) = (23, 17);
        let counts: Vec<u16> = (0..m * n).map(|k| ((k * 37) % 256) as u16).collect();
        let pic = Picture::fitting(m, n, 6);
        assert_eq!((pic.factor, pic.rows, pic.cols), (4, 6, 5));
        let whole = pic.means_of(&counts);
        for parts in [2, 3, 5, 23, 30] {
            let mut total = pic.empty();
            for i in 0..parts {
                let r = mpiview::partition::block_range(m, parts, i);
                pic.add(
                    &mut total,
                    &pic.partial(r.clone(), &counts[r.start * n..r.end * n]),
                );
            }
            assert_eq!(pic.means(&total), whole, "{parts} parts");
        }
        // The last pixel covers rows 20..23 and column 16 alone: three counts.
        let last: u64 = (20..23).map(|i| u64::from(counts[i * n + 16])).sum();
        assert_eq!(whole[6 * 5 - 1], ((last + 1) / 3) as u16);
    }

    #[test]
    fn means_round_to_the_nearest() {
        let pic = Picture::fitting(2, 2, 1);
        assert_eq!(pic.means_of(&[1, 2, 2, 2]), vec![2]); // 7/4 = 1.75
        assert_eq!(pic.means_of(&[1, 1, 1, 2]), vec![1]); // 5/4 = 1.25
        assert_eq!(pic.means_of(&[65535; 4]), vec![65535]);
    }
}
