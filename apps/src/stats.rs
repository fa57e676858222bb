//! Medians of timings: what the apps, the benchmarks and the scaling harness report.

use std::time::Duration;

/// The median of `values`: the middle one, or the mean of the two middle ones for an even
/// count; NaN when there are none. NaNs sort last.
///
/// ```
/// use mpiview_apps::stats::median;
/// assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
/// assert_eq!(median([4.0, 1.0, 2.0, 3.0]), 2.5);
/// assert!(median([]).is_nan());
/// ```
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The median of some durations ([`median`] of their seconds); zero when there are none.
///
/// ```
/// use std::time::Duration;
/// use mpiview_apps::stats::median_duration;
/// let ms = Duration::from_millis;
/// assert_eq!(median_duration([ms(5), ms(1), ms(3)]), ms(3));
/// ```
pub fn median_duration(values: impl IntoIterator<Item = Duration>) -> Duration {
    let m = median(values.into_iter().map(|d| d.as_secs_f64()));
    if m.is_nan() {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(m)
    }
}
