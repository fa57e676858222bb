//! Waiting without burning a core.
//!
//! Open MPI busy-polls inside blocking calls, so a rank that waits in `MPI_Wait` takes a whole
//! core from the ranks that compute. Every wait in mpiview is instead a nonblocking request
//! tested with [`Backoff`]: spin for a short while (fast answers stay in the microseconds), then
//! sleep in doubling steps up to a cap that grows with the wait: 200 µs at first, then a
//! 64th of the time waited so far, at most 2 ms. A long wait (engines computing for seconds)
//! then wakes a few hundred times a second instead of thousands, and is noticed at most about
//! 1.6% late. Waits for control messages alone sleep up to ten times longer when every peer
//! rings this rank's [doorbell](super::doorbell), which ends a sleep the moment a message is
//! sent. When this node
//! holds more ranks than cores, the spin phase yields the core (`sched_yield`) at every test, so
//! a waiting rank gives way to a rank that has work, the way Open MPI's `mpi_yield_when_idle`
//! does.
//!
//! Settings come from the environment (read once, at start-up):
//!
//! | variable                | default | meaning                                   |
//! |-------------------------|---------|-------------------------------------------|
//! | `MPIVIEW_SPIN_US`       | 50      | spin (or yield) this long before the first sleep |
//! | `MPIVIEW_MIN_SLEEP_CAP_US` | 200  | longest sleep early in a wait             |
//! | `MPIVIEW_MAX_SLEEP_US`  | 2000    | longest single sleep of a long wait       |
//! | `MPIVIEW_YIELD`         | auto    | `1`/`0`: yield the core while spinning (default: when oversubscribed) |

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How waits poll.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PollConfig {
    pub spin: Duration,
    /// The sleep cap early in a wait.
    pub min_cap: Duration,
    /// The sleep cap of a long wait.
    pub max_sleep: Duration,
    /// Yield the core at every test of the spin phase (more ranks than cores).
    pub yield_when_spinning: bool,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            spin: Duration::from_micros(50),
            min_cap: Duration::from_micros(200),
            max_sleep: Duration::from_micros(2000),
            yield_when_spinning: false,
        }
    }
}

static SPIN_NS: AtomicU64 = AtomicU64::new(50_000);
static MIN_CAP_NS: AtomicU64 = AtomicU64::new(200_000);
static MAX_SLEEP_NS: AtomicU64 = AtomicU64::new(2_000_000);
static YIELD: AtomicBool = AtomicBool::new(false);

/// Sets the process-wide poll settings from the environment; `oversubscribed` makes the spin
/// phase yield the core. May be called again when the node's layout becomes known.
pub(crate) fn configure(oversubscribed: bool) {
    let env_us = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_micros)
    };
    let default = PollConfig::default();
    let spin = env_us("MPIVIEW_SPIN_US").unwrap_or(default.spin);
    let max_sleep = env_us("MPIVIEW_MAX_SLEEP_US").unwrap_or(default.max_sleep);
    let min_cap = env_us("MPIVIEW_MIN_SLEEP_CAP_US")
        .unwrap_or(default.min_cap)
        .min(max_sleep);
    let yield_when_spinning = match std::env::var("MPIVIEW_YIELD").ok().as_deref() {
        Some("1") => true,
        Some("0") => false,
        _ => oversubscribed,
    };
    SPIN_NS.store(spin.as_nanos() as u64, Ordering::Relaxed);
    MIN_CAP_NS.store(min_cap.as_nanos() as u64, Ordering::Relaxed);
    MAX_SLEEP_NS.store(max_sleep.as_nanos() as u64, Ordering::Relaxed);
    YIELD.store(yield_when_spinning, Ordering::Relaxed);
    reduce_timer_slack();
}

/// The poll settings in force.
pub(crate) fn config() -> PollConfig {
    PollConfig {
        spin: Duration::from_nanos(SPIN_NS.load(Ordering::Relaxed)),
        min_cap: Duration::from_nanos(MIN_CAP_NS.load(Ordering::Relaxed)),
        max_sleep: Duration::from_nanos(MAX_SLEEP_NS.load(Ordering::Relaxed)),
        yield_when_spinning: YIELD.load(Ordering::Relaxed),
    }
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

    /// Waits a little: spins (or yields) while the spin budget lasts, then sleeps a doubling
    /// time up to the cap.
    pub(crate) fn pause(&mut self) {
        if self.start.elapsed() < self.config.spin {
            if self.config.yield_when_spinning {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            return;
        }
        super::doorbell::sleep(self.sleep);
        let cap = (self.start.elapsed() / 64).clamp(self.config.min_cap, self.config.max_sleep);
        self.sleep = (self.sleep * 2).min(cap);
    }

    /// Waits a little in a wait for control messages alone, where every message this rank can
    /// receive rings its [doorbell](super::doorbell) (all its peers share its node). A ring ends
    /// the sleep, so sleeps can be long: the cap is ten times the usual one (2 ms at first, then
    /// an 8th of the wait, at most 20 ms), and a computing engine is disturbed a few dozen times
    /// a second instead of hundreds. Falls back to [`pause`](Self::pause) while this rank's own
    /// sends are in flight (a large message may need its sender's progress) and when a peer has
    /// no doorbell; never sleeps past `deadline`.
    pub(crate) fn pause_for_messages(&mut self, sends_in_flight: bool, deadline: Option<Instant>) {
        if sends_in_flight
            || !super::doorbell::covers_every_peer()
            || self.start.elapsed() < self.config.spin
        {
            self.pause();
            return;
        }
        let mut sleep = self.sleep;
        if let Some(d) = deadline {
            sleep = sleep.min(d.saturating_duration_since(Instant::now()));
        }
        super::doorbell::sleep(sleep);
        let cap =
            (self.start.elapsed() / 8).clamp(self.config.min_cap * 10, self.config.max_sleep * 10);
        self.sleep = (self.sleep * 2).min(cap);
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
            min_cap: Duration::from_micros(8),
            max_sleep: Duration::from_micros(8),
            yield_when_spinning: false,
        });
        for _ in 0..6 {
            b.pause();
        }
        assert_eq!(b.sleep, Duration::from_micros(8));
        b.reset();
        assert_eq!(b.sleep, Duration::from_micros(1));
    }

    #[test]
    fn the_cap_grows_with_the_wait() {
        let mut b = Backoff::with(PollConfig {
            spin: Duration::ZERO,
            min_cap: Duration::from_micros(100),
            max_sleep: Duration::from_millis(2),
            yield_when_spinning: false,
        });
        // Pretend the wait started long ago: the cap is the long one.
        b.start -= Duration::from_secs(1);
        for _ in 0..16 {
            b.pause();
        }
        assert_eq!(b.sleep, Duration::from_millis(2));
    }

    #[test]
    fn spinning_does_not_sleep() {
        let mut b = Backoff::with(PollConfig {
            spin: Duration::from_secs(10),
            min_cap: Duration::from_secs(10),
            max_sleep: Duration::from_secs(10),
            yield_when_spinning: true,
        });
        let t = Instant::now();
        for _ in 0..1000 {
            b.pause();
        }
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(b.sleep, Duration::from_micros(1));
    }
}
