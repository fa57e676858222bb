//! Doorbells: a rank that sends a control message to a sleeping rank on its node wakes it.
//!
//! Waits test their request, spin for a moment, then sleep between tests ([`poll`](super::poll)).
//! A message that lands during a sleep used to wait for the sleep to end: up to 200 µs early in
//! a wait and up to 2 ms in a long one, so the first request to an engine that had been idle,
//! and the reply that ends a long computation, each arrived up to a sleep late.
//!
//! A doorbell ends that sleep. Every rank blocks `SIGURG` for the whole process (before
//! `MPI_Init`, so that the threads MPI starts inherit the mask) and sleeps in `sigtimedwait`
//! instead of `nanosleep`. After posting a control message to a rank on the same node (same host
//! and the same PID namespace), the sender sends `SIGURG` to that rank's process. A signal that
//! comes while the receiver is awake stays pending and ends its next sleep at once, so no wake-up
//! is lost; a spurious one costs one extra test. The bell carries nothing: the message itself
//! travels through MPI as before, and ranks on other nodes keep the timed sleeps.
//!
//! `SIGURG` because its default action is to be ignored: a ring can never kill a process, even
//! a wrong one. A ring is skipped when the previous message to the same rank went out less than
//! half the spin time ago: the receiver then finds the new message while it is still testing
//! after the previous one, so a stream of messages costs no system calls.
//!
//! `MPIVIEW_DOORBELL=0` turns doorbells off (waits then sleep as before).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The signal that rings.
const BELL: libc::c_int = libc::SIGURG;

/// Whether doorbells are wanted (`MPIVIEW_DOORBELL`, default on).
fn wanted() -> bool {
    std::env::var("MPIVIEW_DOORBELL").map_or(true, |v| v.trim() != "0")
}

/// The set holding only [`BELL`].
fn bell_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set it is given; sigaddset adds a valid signal.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, BELL);
        set
    }
}

static BLOCKED: AtomicBool = AtomicBool::new(false);

/// Blocks the bell signal in the calling thread, and so in every thread it starts afterwards.
/// Called at the start of [`Cluster::init`](crate::Cluster::init), before `MPI_Init` starts
/// MPI's threads.
pub(crate) fn block_bell() {
    if !wanted() {
        return;
    }
    let set = bell_set();
    // SAFETY: adds one signal to this thread's mask; the old mask is not needed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    BLOCKED.store(rc == 0, Ordering::Relaxed);
}

/// Who to ring: the process of each rank of the control communicator that shares this node, and
/// when each was last sent a message.
struct Peers {
    /// By rank; 0 = not on this node (never rung).
    pids: Vec<libc::pid_t>,
    /// By rank: nanoseconds after `epoch` of the last message sent to it.
    last_sent: Vec<AtomicU64>,
    epoch: Instant,
    /// Messages closer together than this are not rung (half the spin time).
    quiet: Duration,
    /// Every other rank of the control communicator can be rung (and rings back).
    all: bool,
}

static PEERS: OnceLock<Peers> = OnceLock::new();

/// Turns doorbells on once start-up has told this rank who shares its node: `pids[rank]` is the
/// process id of that rank of the control communicator, or `None` when it is elsewhere (or in
/// another PID namespace); `me` is this rank, whose entry is ignored. `spin` is how long waits
/// spin before they sleep.
pub(crate) fn enable(pids: &[Option<u32>], me: usize, spin: Duration) {
    if !BLOCKED.load(Ordering::Relaxed) || pids.iter().all(Option::is_none) {
        return;
    }
    let _ = PEERS.set(Peers {
        pids: pids
            .iter()
            .map(|p| p.map_or(0, |p| p as libc::pid_t))
            .collect(),
        last_sent: pids.iter().map(|_| AtomicU64::new(0)).collect(),
        epoch: Instant::now(),
        quiet: spin / 2,
        all: pids
            .iter()
            .enumerate()
            .all(|(rank, pid)| rank == me || pid.is_some()),
    });
}

/// Whether sleeps end at a ring.
pub(crate) fn enabled() -> bool {
    PEERS.get().is_some()
}

/// Whether every other rank this one exchanges control messages with rings it: then a wait for
/// control messages alone can sleep long.
pub(crate) fn covers_every_peer() -> bool {
    PEERS.get().is_some_and(|p| p.all)
}

/// Rings `rank` (of the control communicator) after a control message was posted to it, unless
/// it is on another node or was sent one a moment ago.
pub(crate) fn ring(rank: i32) {
    let Some(peers) = PEERS.get() else { return };
    let Some(&pid) = peers.pids.get(rank as usize) else {
        return;
    };
    if pid == 0 {
        return;
    }
    // + 1: 0 stands for "never sent".
    let now = peers.epoch.elapsed().as_nanos() as u64 + 1;
    let before = peers.last_sent[rank as usize].swap(now, Ordering::Relaxed);
    if !due(before, now, peers.quiet.as_nanos() as u64) {
        return;
    }
    // SAFETY: sends a signal whose default action is to be ignored; an error (the process has
    // exited) only means nobody is waiting.
    unsafe {
        libc::kill(pid, BELL);
    }
}

/// Whether a message sent at `now` rings, the previous one to the same rank having gone at
/// `before` (0: none yet); times in nanoseconds.
fn due(before: u64, now: u64, quiet: u64) -> bool {
    before == 0 || now.saturating_sub(before) >= quiet
}

/// Sleeps for `d`, or until a ring (one that came since the last sleep ends this one at once).
pub(crate) fn sleep(d: Duration) {
    if !enabled() {
        std::thread::sleep(d);
        return;
    }
    let set = bell_set();
    let timeout = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `set` and `timeout` are valid for the call; the signal is blocked in this thread,
    // so sigtimedwait takes it from the pending set instead of it being delivered. A timeout or
    // an interruption returns -1, which is as good as a ring: the caller tests again.
    unsafe {
        libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout);
    }
}

/// This process's PID namespace (the inode of `/proc/self/ns/pid`), 0 when unknown: two ranks
/// on one host can ring each other only when they see each other's process ids.
pub(crate) fn pid_namespace() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_after_a_quiet_spell_ring() {
        assert!(due(0, 5, 100));
        assert!(!due(1_000, 1_050, 100));
        assert!(due(1_000, 1_100, 100));
    }

    #[test]
    fn a_pending_ring_ends_a_sleep_at_once() {
        // Sleeps end at a ring only once enabled; this process is its own (only) peer.
        block_bell();
        assert!(BLOCKED.load(Ordering::Relaxed));
        enable(
            &[None, Some(std::process::id())],
            0,
            Duration::from_micros(50),
        );
        assert!(enabled());
        assert!(covers_every_peer());
        // Rung from this thread (a process-directed ring could go to another test thread).
        // SAFETY: raises a blocked signal in this thread: it stays pending.
        unsafe { libc::raise(BELL) };
        let t = Instant::now();
        sleep(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
        // The ring was taken: the next sleep lasts.
        let t = Instant::now();
        sleep(Duration::from_millis(20));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn the_namespace_is_known_on_linux() {
        assert_ne!(pid_namespace(), 0);
    }
}
