//! The exact distribution of the maximum of N standard normals, and the KS distance.

/// The standard normal CDF Φ(x) = erfc(−x/√2)/2 (erfc keeps the lower tail accurate).
///
/// ```
/// use mpiview_apps::kernels::maxnormal::normal_cdf;
/// assert_eq!(normal_cdf(0.0), 0.5);
/// assert!((normal_cdf(-10.0) / 7.619853024160527e-24 - 1.0).abs() < 1e-12);
/// ```
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// The density of the maximum of `n` standard normals, `n·φ(x)·Φ(x)^(n−1)`.
///
/// ```
/// use mpiview_apps::kernels::maxnormal::density;
/// let phi0 = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
/// assert!((density(1, 0.0) - phi0).abs() < 1e-16);
/// assert!((density(2, 0.0) - phi0).abs() < 1e-16); // 2·φ(0)·½
/// ```
pub fn density(n: u32, x: f64) -> f64 {
    let phi = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    f64::from(n) * phi * pow(normal_cdf(x), n - 1)
}

/// The CDF of the maximum of `n` standard normals, `Φ(x)^n`.
pub fn cdf(n: u32, x: f64) -> f64 {
    pow(normal_cdf(x), n)
}

fn pow(p: f64, n: u32) -> f64 {
    match i32::try_from(n) {
        Ok(k) => p.powi(k),
        Err(_) => p.powf(f64::from(n)),
    }
}

/// The `p`-quantile of the maximum of `n` standard normals (bisection on [`cdf`], to about
/// 1e-12).
///
/// ```
/// use mpiview_apps::kernels::maxnormal::{cdf, quantile};
/// let q = quantile(10, 0.5);
/// assert!((cdf(10, q) - 0.5).abs() < 1e-10);
/// ```
///
/// # Panics
/// Panics unless `0 < p < 1`.
pub fn quantile(n: u32, p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "quantile: p = {p} is not in (0, 1)");
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(n, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-13 {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The Kolmogorov–Smirnov distance `sup |F_m(x) − F(x)|` between the empirical CDF of
/// `samples` and `cdf` (sorts a copy; NaNs are not allowed).
///
/// ```
/// use mpiview_apps::kernels::maxnormal::{cdf, ks_distance};
/// assert_eq!(ks_distance(&[0.0], |x| if x < 0.0 { 0.0 } else { 0.5 }), 0.5);
/// ```
///
/// # Panics
/// Panics if `samples` is empty or holds a NaN.
pub fn ks_distance(samples: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    assert!(!samples.is_empty(), "ks_distance: no samples");
    let mut s = samples.to_vec();
    assert!(s.iter().all(|x| !x.is_nan()), "ks_distance: NaN sample");
    s.sort_unstable_by(f64::total_cmp);
    let m = s.len() as f64;
    s.iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / m).max((i + 1) as f64 / m - f)
        })
        .fold(0.0, f64::max)
}

/// The asymptotic p-value of a KS distance `d` from `m` samples (Kolmogorov's distribution
/// with Stephens' small-sample correction): the probability of a distance at least `d` if the
/// samples do follow the CDF.
///
/// ```
/// use mpiview_apps::kernels::maxnormal::ks_pvalue;
/// assert!((ks_pvalue(1.358 / 100.0, 10_000) - 0.05).abs() < 0.002);
/// ```
pub fn ks_pvalue(d: f64, m: u64) -> f64 {
    let sm = (m as f64).sqrt();
    let lambda = (sm + 0.12 + 0.11 / sm) * d;
    if lambda < 0.2 {
        return 1.0;
    }
    let mut q = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = (-2.0 * k * k * lambda * lambda).exp();
        q += if k as u64 % 2 == 1 { term } else { -term };
        if term < 1e-17 {
            break;
        }
    }
    (2.0 * q).clamp(0.0, 1.0)
}
