//! Histograms with given edges, and ways to choose the edges.

use serde::{Deserialize, Serialize};

use super::dist::quantile;

/// Counts of samples in bins `[edges[i], edges[i+1])` (the last bin also holds its right
/// edge, as in NumPy), with the samples below and above the edges counted apart. Histograms with
/// the same edges from different engines add up with [`Histogram::merge`].
///
/// ```
/// use mpiview_apps::kernels::maxnormal::Histogram;
/// let mut h = Histogram::new(vec![0.0, 1.0, 2.0]);
/// h.fill(&[-1.0, 0.0, 0.5, 1.0, 2.0, 3.0]);
/// assert_eq!((h.counts.clone(), h.below, h.above), (vec![2, 2], 1, 1));
/// assert_eq!(h.total(), 6);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bin edges, increasing (`bins + 1` of them).
    pub edges: Vec<f64>,
    /// Samples in each bin.
    pub counts: Vec<u64>,
    /// Samples below `edges[0]`.
    pub below: u64,
    /// Samples above the last edge.
    pub above: u64,
}

impl Histogram {
    /// An empty histogram on `edges`.
    ///
    /// # Panics
    /// Panics unless there are at least two edges, all finite and strictly increasing.
    pub fn new(edges: Vec<f64>) -> Self {
        assert!(edges.len() >= 2, "histogram: need at least two edges");
        assert!(
            edges.iter().all(|e| e.is_finite()) && edges.windows(2).all(|w| w[0] < w[1]),
            "histogram: edges must be finite and strictly increasing"
        );
        let bins = edges.len() - 1;
        Self {
            edges,
            counts: vec![0; bins],
            below: 0,
            above: 0,
        }
    }

    /// Adds samples (NaNs are skipped).
    pub fn fill(&mut self, samples: &[f64]) {
        let last = *self.edges.last().expect("edges");
        for &x in samples {
            if x.is_nan() {
                continue;
            }
            let i = self.edges.partition_point(|e| *e <= x);
            if i == 0 {
                self.below += 1;
            } else if i < self.edges.len() {
                self.counts[i - 1] += 1;
            } else if x == last {
                *self.counts.last_mut().expect("bins") += 1;
            } else {
                self.above += 1;
            }
        }
    }

    /// Adds another histogram's counts.
    ///
    /// # Panics
    /// Panics if the edges differ.
    pub fn merge(&mut self, other: &Histogram) {
        assert_eq!(
            self.edges, other.edges,
            "histogram: merging different edges"
        );
        for (c, o) in self.counts.iter_mut().zip(&other.counts) {
            *c += o;
        }
        self.below += other.below;
        self.above += other.above;
    }

    /// All samples counted, in bins or outside.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.below + self.above
    }

    /// The estimated density in each bin: `count / (total · width)` (so that, with every
    /// sample inside the edges, the bars have area 1).
    pub fn density(&self) -> Vec<f64> {
        let total = self.total().max(1) as f64;
        self.counts
            .iter()
            .zip(self.edges.windows(2))
            .map(|(&c, w)| c as f64 / (total * (w[1] - w[0])))
            .collect()
    }

    /// The middle of each bin.
    pub fn centers(&self) -> Vec<f64> {
        self.edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
    }
}

/// `bins + 1` evenly spaced edges from `lo` to `hi` (NumPy's `linspace`: `lo + i·step`, the
/// last one exactly `hi`).
///
/// ```
/// assert_eq!(mpiview_apps::kernels::maxnormal::linspace_edges(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
/// ```
///
/// # Panics
/// Panics if `bins` is zero or `lo >= hi`.
pub fn linspace_edges(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    assert!(bins > 0 && lo < hi, "edges: need bins > 0 and lo < hi");
    let step = (hi - lo) / bins as f64;
    let mut e: Vec<f64> = (0..=bins).map(|i| lo + i as f64 * step).collect();
    e[bins] = hi;
    e
}

/// Edges covering the samples from their minimum to their maximum (every sample inside),
/// `bins` bins. A single distinct value gets a unit-wide range around it.
///
/// # Panics
/// Panics if `samples` is empty, holds no finite value, or `bins` is zero.
pub fn auto_edges(samples: &[f64], bins: usize) -> Vec<f64> {
    let finite = samples.iter().copied().filter(|x| x.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
        (l.min(x), h.max(x))
    });
    assert!(lo.is_finite(), "auto_edges: no finite samples");
    if lo == hi {
        return linspace_edges(lo - 0.5, hi + 0.5, bins);
    }
    linspace_edges(lo, hi, bins)
}

/// Edges fixed in advance from the exact distribution of the maximum of `n` normals: from its
/// 10⁻⁵ to its 1 − 10⁻⁵ quantile, `bins` bins. Engines can histogram their own samples on these
/// edges and send only counts; about 1 sample in 50,000 falls outside (counted in `below` /
/// `above`).
///
/// ```
/// let e = mpiview_apps::kernels::maxnormal::exact_edges(10, 100);
/// assert_eq!(e.len(), 101);
/// assert!(e[0] < -0.4 && e[100] > 4.5);
/// ```
pub fn exact_edges(n: u32, bins: usize) -> Vec<f64> {
    linspace_edges(quantile(n, 1e-5), quantile(n, 1.0 - 1e-5), bins)
}
