//! Waiting without burning a core.
//!
//! Open MPI busy-polls inside blocking calls, so a rank that waits in `MPI_Wait` takes a whole
//! core from the ranks that compute. Every wait in mpiview is instead a nonblocking request
//! tested with [`Backoff`]: spin for a short while (fast answers stay in the microseconds), then
//! sleep in doubling steps up to a cap (an idle rank costs about 1% of a core). When this node
//! holds more ranks than cores the spin phase is skipped, since a spinning rank would only steal
//! the core of a rank that has work.
//!
//! Settings come from the environment (read once, at start-up):
//!
//! | variable                | default | meaning                                   |
//! |-------------------------|---------|-------------------------------------------|
//! | `MPIVIEW_SPIN_US`       | 50      | spin this long before the first sleep (0 when oversubscribed) |
//! | `MPIVIEW_MAX_SLEEP_US`  | 200     | longest single sleep while waiting        |

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How waits poll.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PollConfig {
    pub spin: Duration,
    pub max_sleep: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            spin: Duration::from_micros(50),
            max_sleep: Duration::from_micros(200),
        }
    }
}

static CONFIG: OnceLock<PollConfig> = OnceLock::new();

/// Sets the process-wide poll settings from the environment; `oversubscribed` turns spinning
/// off unless `MPIVIEW_SPIN_US` says otherwise. Later calls are ignored.
pub(crate) fn configure(oversubscribed: bool) {
    let env_us = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_micros)
    };
    let default = PollConfig::default();
    let spin = env_us("MPIVIEW_SPIN_US").unwrap_or(if oversubscribed {
        Duration::ZERO
    } else {
        default.spin
    });
    let max_sleep = env_us("MPIVIEW_MAX_SLEEP_US").unwrap_or(default.max_sleep);
    let _ = CONFIG.set(PollConfig { spin, max_sleep });
    reduce_timer_slack();
}

/// The poll settings in force.
pub(crate) fn config() -> PollConfig {
    *CONFIG.get_or_init(PollConfig::default)
}

/// Linux rounds every sleep up by the thread's timer slack (50 µs by default); a 1 µs slack makes
/// the short first sleeps of a backoff mean what they say.
fn reduce_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only changes this thread's timer
    // slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0);
    }
}

/// One wait's polling state: call [`pause`](Backoff::pause) between tests of the condition.
pub(crate) struct Backoff {
    config: PollConfig,
    start: Instant,
    sleep: Duration,
}

impl Backoff {
    /// A wait starting now, with the process-wide settings.
    pub(crate) fn new() -> Backoff {
        Backoff::with(config())
    }

    pub(crate) fn with(config: PollConfig) -> Backoff {
        Backoff {
            config,
            start: Instant::now(),
            sleep: Duration::from_micros(1),
        }
    }

    /// Waits a little: spins while the spin budget lasts, then sleeps a doubling time up to the
    /// cap.
    pub(crate) fn pause(&mut self) {
        if self.start.elapsed() < self.config.spin {
            std::hint::spin_loop();
            return;
        }
        std::thread::sleep(self.sleep);
        self.sleep = (self.sleep * 2).min(self.config.max_sleep);
    }

    /// Starts over from the spin phase (after the condition made progress).
    pub(crate) fn reset(&mut self) {
        self.start = Instant::now();
        self.sleep = Duration::from_micros(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_grow_to_the_cap() {
        let mut b = Backoff::with(PollConfig {
            spin: Duration::ZERO,
            max_sleep: Duration::from_micros(8),
        });
        for _ in 0..6 {
            b.pause();
        }
        assert_eq!(b.sleep, Duration::from_micros(8));
        b.reset();
        assert_eq!(b.sleep, Duration::from_micros(1));
    }

    #[test]
    fn spinning_does_not_sleep() {
        let mut b = Backoff::with(PollConfig {
            spin: Duration::from_secs(10),
            max_sleep: Duration::from_secs(10),
        });
        let t = Instant::now();
        for _ in 0..1000 {
            b.pause();
        }
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(b.sleep, Duration::from_micros(1));
    }
}
