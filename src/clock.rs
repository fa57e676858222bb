//! Wall-clock stamps that mean the same on every rank of a job (seconds since the Unix epoch, as
//! `f64`: sub-microsecond resolution for the next centuries). Clocks of different nodes agree as
//! well as their NTP does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in seconds since the Unix epoch.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A stamp as a `SystemTime`.
pub(crate) fn to_system_time(stamp: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(stamp.max(0.0))
}
