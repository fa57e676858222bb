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
//! The settings (`MPIVIEW_SPIN_US`, `MPIVIEW_MIN_SLEEP_CAP_US`, `MPIVIEW_MAX_SLEEP_US`,
//! `MPIVIEW_YIELD`, `MPIVIEW_TRANSFER_WAIT`) are the controller's, sent to every rank at start-up
//! ([`settings`](crate::settings)).

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

/// Sets the process-wide poll settings (the controller decides them for every rank;
/// `oversubscribed`: this rank's node holds more ranks than CPUs, so the spin phase yields the
/// core unless the settings say otherwise).
pub(crate) fn configure(polling: &crate::settings::Polling, oversubscribed: bool) {
    let yield_when_spinning = polling.yield_when_spinning.unwrap_or(oversubscribed);
    SPIN_NS.store(polling.spin.as_nanos() as u64, Ordering::Relaxed);
    MIN_CAP_NS.store(polling.min_sleep_cap.as_nanos() as u64, Ordering::Relaxed);
    MAX_SLEEP_NS.store(polling.max_sleep.as_nanos() as u64, Ordering::Relaxed);
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

/// The slowest rate at which a transfer is assumed to move while both sides drive it (about a
/// gigabit network): a wait for data keeps testing for `spin + bytes / TRANSFER_RATE`.
const TRANSFER_RATE: f64 = 100e6;

/// Whether waits for data in flight keep testing (`MPIVIEW_TRANSFER_WAIT=spin`, the default) or
/// sleep like every other wait (`sleep`, to compare).
static TRANSFER_SPIN: AtomicBool = AtomicBool::new(true);

/// Sets how waits for data in flight poll (decided by the controller for every rank).
pub(crate) fn configure_transfers(spin: bool) {
    TRANSFER_SPIN.store(spin, Ordering::Relaxed);
}

/// A wait for data this rank is moving (a scatter, gather, broadcast of an array, a large
/// message). Without single-copy transfers (no CMA: Ubuntu's ptrace policy, containers) and
/// over every network, a large message moves in fragments that advance only inside MPI calls on
/// both sides; a rank that sleeps between tests stalls it. So while the other ranks of the
/// transfer are in it, this wait keeps testing (yielding the core at each test when the node is
/// oversubscribed) for as long as the data could still be moving at 100 MB/s; past that, or
/// while a peer is still computing, it sleeps like [`Backoff`].
pub(crate) struct TransferWait {
    backoff: Backoff,
    budget: Duration,
    /// When the peers were first seen ready.
    moving_since: Option<Instant>,
}

impl TransferWait {
    /// A wait for a transfer of `bytes`.
    pub(crate) fn new(bytes: usize) -> TransferWait {
        let config = config();
        let budget = if TRANSFER_SPIN.load(Ordering::Relaxed) {
            config.spin + Duration::from_secs_f64(bytes as f64 / TRANSFER_RATE)
        } else {
            Duration::ZERO
        };
        TransferWait {
            backoff: Backoff::with(config),
            budget,
            moving_since: None,
        }
    }

    /// Waits a little between tests; `peers_ready` says that every other rank of the transfer
    /// has joined it (none is still computing).
    pub(crate) fn pause(&mut self, peers_ready: bool) {
        if peers_ready {
            let since = *self.moving_since.get_or_insert_with(Instant::now);
            if since.elapsed() < self.budget {
                if self.backoff.config.yield_when_spinning {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
                return;
            }
        }
        self.backoff.pause();
    }
}

/// One wait's polling state: call [`pause`](Backoff::pause) between tests of the condition.
pub(crate) struct Backoff {
    config: PollConfig,
    start: Instant,
    sleep: Duration,
    /// Pauses since the clock was last read in the spin phase.
    spins: u32,
    /// The spin phase is over.
    spun: bool,
}

/// The spin phase reads the clock once every this many pauses (reading it every time took a
/// quarter of an idle engine's loop).
const SPINS_PER_CLOCK: u32 = 16;

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
            spins: 0,
            spun: false,
        }
    }

    /// Whether the spin phase lasts (the clock read every [`SPINS_PER_CLOCK`] pauses).
    fn spinning(&mut self) -> bool {
        if self.spun || self.config.spin.is_zero() {
            return false;
        }
        self.spins += 1;
        if self.spins < SPINS_PER_CLOCK {
            return true;
        }
        self.spins = 0;
        self.spun = self.start.elapsed() >= self.config.spin;
        !self.spun
    }

    /// Waits a little: spins (or yields) while the spin budget lasts, then sleeps a doubling
    /// time up to the cap.
    pub(crate) fn pause(&mut self) {
        if self.spinning() {
            self.spin_once();
            return;
        }
        if super::doorbell::sleep(self.sleep) {
            self.reset();
            return;
        }
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
    pub(crate) fn pause_for_messages(
        &mut self,
        sends_in_flight: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) {
        if self.spinning() {
            self.spin_once();
            return;
        }
        if sends_in_flight() || !super::doorbell::covers_every_peer() {
            self.pause();
            return;
        }
        let mut sleep = self.sleep;
        if let Some(d) = deadline {
            sleep = sleep.min(d.saturating_duration_since(Instant::now()));
        }
        if super::doorbell::sleep(sleep) {
            // A ring: a message is on its way, maybe still a few steps of a broadcast tree
            // away, whose later rounds move only when their ranks test. Stay attentive (spin,
            // then short sleeps) instead of going back to a long sleep after one test.
            self.reset();
            return;
        }
        let cap =
            (self.start.elapsed() / 8).clamp(self.config.min_cap * 10, self.config.max_sleep * 10);
        self.sleep = (self.sleep * 2).min(cap);
    }

    /// One test's worth of waiting in the spin phase: give the core away when oversubscribed.
    fn spin_once(&self) {
        if self.config.yield_when_spinning {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }

    /// Starts over from the spin phase (after the condition made progress).
    pub(crate) fn reset(&mut self) {
        self.start = Instant::now();
        self.sleep = Duration::from_micros(1);
        self.spins = 0;
        self.spun = false;
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
    fn transfers_spin_only_while_the_peers_are_in_them() {
        configure_transfers(true);
        // 100 MB at 100 MB/s: a second of testing without sleeping.
        let mut w = TransferWait::new(100_000_000);
        let t = Instant::now();
        for _ in 0..10_000 {
            w.pause(true);
        }
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "spun without sleeping"
        );
        assert_eq!(w.backoff.sleep, Duration::from_micros(1));
        // A peer still computing: the usual backoff, which sleeps once its spin is over.
        let mut w = TransferWait::new(100_000_000);
        w.backoff.start -= Duration::from_secs(1);
        for _ in 0..2 * SPINS_PER_CLOCK {
            w.pause(false);
        }
        assert!(w.backoff.sleep > Duration::from_micros(1));
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
