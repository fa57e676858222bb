//! What the apps, the benchmarks and the scaling harness report: medians of timings, peak memory.

use std::time::Duration;

use mpiview::{Cluster, DirectView, Remote};

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

/// This process's peak resident memory so far, in bytes (`getrusage`'s `ru_maxrss`); `None` if
/// the system does not say. The apps report the controller's in `--json`.
///
/// ```
/// let peak = mpiview_apps::stats::peak_memory_bytes().unwrap();
/// assert!(peak > 0);
/// ```
pub fn peak_memory_bytes() -> Option<u64> {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        (libc::getrusage(libc::RUSAGE_SELF, &mut usage) == 0).then_some(usage)
    }?;
    // Linux reports kibibytes.
    u64::try_from(usage.ru_maxrss).ok()?.checked_mul(1024)
}

/// Registers the remote function that answers an engine's [`peak_memory_bytes`], for
/// [`engines_peak_memory`]. **Every rank** calls it, at the same place among the app's
/// registrations.
///
/// ```no_run
/// use mpiview::Cluster;
/// use mpiview_apps::stats::{engines_peak_memory, register_engine_peak};
/// let mut cluster = Cluster::init().unwrap();
/// let peak = register_engine_peak(&mut cluster);
/// cluster.run(|client| -> mpiview::Result<()> {
///     let largest = engines_peak_memory(&client.direct_view(), &peak)?;
///     println!("largest engine peak: {largest:?} bytes");
///     Ok(())
/// });
/// ```
pub fn register_engine_peak(cluster: &mut Cluster) -> Remote<(), Option<u64>> {
    cluster.register("peak memory", |()| peak_memory_bytes())
}

/// The largest peak resident memory among the engines of `view` so far, in bytes (each one's
/// [`peak_memory_bytes`]); `None` if an engine's system does not say. The apps report it in
/// `--json` as `engine_peak_bytes`. The driver (rank 0) calls it.
pub fn engines_peak_memory(
    view: &DirectView,
    peak: &Remote<(), Option<u64>>,
) -> mpiview::Result<Option<u64>> {
    let peaks: Option<Vec<u64>> = view.apply_sync(peak, ())?.into_iter().collect();
    Ok(peaks.and_then(|p| p.into_iter().max()))
}

/// Seconds of a run by phase, for `--json`: computing, moving data to or from the controller,
/// writing the output files.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Phases {
    /// Computing (on the engines, as the controller waits for it).
    pub compute: f64,
    /// Moving data between the controller and the engines.
    pub transfer: f64,
    /// Writing the output files.
    pub output: f64,
}
