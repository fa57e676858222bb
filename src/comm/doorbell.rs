//! Doorbells: a rank that sends a control message to a sleeping rank on its node wakes it.
//!
//! Waits test their request, spin for a moment, then sleep between tests ([`poll`](super::poll)).
//! A message that lands during a sleep used to wait for the sleep to end: up to 200 µs early in
//! a wait and up to 2 ms in a long one, so the first request to an engine that had been idle,
//! and the reply that ends a long computation, each arrived up to a sleep late.
//!
//! A doorbell ends that sleep. Every rank blocks `SIGURG` in the thread that runs mpiview
//! (before `MPI_Init`, so that the threads MPI starts inherit the mask) and sleeps in
//! `sigtimedwait` instead of `nanosleep`. After posting a control message to a rank on the same
//! node, the sender sends `SIGURG` to the thread of that rank that waits (`tgkill`: no other
//! thread of the process can take it, whatever its signal mask). A signal that comes while the
//! receiver is awake stays pending and ends its next sleep at once, so no wake-up is lost; a
//! spurious one costs one extra test. The bell carries nothing: the message itself travels
//! through MPI, and ranks on other nodes keep the timed sleeps.
//!
//! **Which ranks share a node** is MPI's answer (`MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`, see
//! [`node`](super::node)), not the host name or the PID namespace: two hosts may have the same
//! name, and several test nodes on one machine share one kernel. A rank is only ever rung by a
//! member of its own shared-memory communicator, with the process and thread id that member
//! reported there.
//!
//! **Broadcasts.** A request broadcast to a view rings every engine of the view on the
//! controller's node. A rank rung awake stays attentive (spins, then sleeps in short steps)
//! instead of going back to a long sleep after one test: a tree broadcast reaches some ranks
//! only after others have tested, so the request may be a few steps away when the ring comes.
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
/// MPI's threads, and again by the thread that runs [`Cluster::run`](crate::Cluster::run).
pub(crate) fn block_bell() {
    let set = bell_set();
    // SAFETY: adds one signal to this thread's mask; the old mask is not needed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    BLOCKED.store(rc == 0, Ordering::Relaxed);
}

/// Where to ring one rank: its process, and the thread of it that waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Bell {
    pub pid: i32,
    pub tid: i32,
}

/// This rank's bell: the calling thread of this process, if it can be rung (the bell signal is
/// blocked in it).
pub(crate) fn my_bell() -> Option<Bell> {
    BLOCKED.load(Ordering::Relaxed).then(|| Bell {
        pid: std::process::id() as i32,
        // SAFETY: gettid has no preconditions.
        tid: unsafe { libc::gettid() },
    })
}

/// Who to ring: the waiting thread of each world rank that shares this node, and when each was
/// last sent a message.
struct Peers {
    /// By world rank; `None` = not on this node (never rung).
    bells: Vec<Option<Bell>>,
    /// By world rank: nanoseconds after `epoch` of the last message sent to it.
    last_sent: Vec<AtomicU64>,
    /// By world rank: signals sent to it.
    rung: Vec<AtomicU64>,
    epoch: Instant,
    /// Messages closer together than this are not rung (half the spin time).
    quiet: Duration,
    /// Every rank that sends this one control messages rings it.
    covered: bool,
}

static PEERS: OnceLock<Peers> = OnceLock::new();

/// Turns doorbells on once start-up has told this rank who shares its node: `bells[rank]` for
/// each world rank (`None` when it is on another node or cannot be rung; this rank's own entry
/// is never used). `covered`: every rank that sends this one control messages can ring it, so
/// waits for control messages alone may sleep long. `spin` is how long waits spin before they
/// sleep.
pub(crate) fn enable(bells: Vec<Option<Bell>>, covered: bool, spin: Duration) {
    if !BLOCKED.load(Ordering::Relaxed) {
        return;
    }
    let last_sent = bells.iter().map(|_| AtomicU64::new(0)).collect();
    let rung = bells.iter().map(|_| AtomicU64::new(0)).collect();
    let _ = PEERS.set(Peers {
        bells,
        last_sent,
        rung,
        epoch: Instant::now(),
        quiet: spin / 2,
        covered,
    });
}

/// Whether sleeps end at a ring.
pub(crate) fn enabled() -> bool {
    PEERS.get().is_some()
}

/// Whether every rank that sends this one control messages rings it: then a wait for control
/// messages alone can sleep long.
pub(crate) fn covers_every_peer() -> bool {
    PEERS.get().is_some_and(|p| p.covered)
}

/// Rings world rank `rank` after a control message was posted to it, unless it is on another
/// node or was sent one a moment ago.
pub(crate) fn ring(rank: i32) {
    let Some(peers) = PEERS.get() else { return };
    let Some(Some(bell)) = peers.bells.get(rank as usize).copied() else {
        return;
    };
    // + 1: 0 stands for "never sent".
    let now = peers.epoch.elapsed().as_nanos() as u64 + 1;
    let before = peers.last_sent[rank as usize].swap(now, Ordering::Relaxed);
    if !due(before, now, peers.quiet.as_nanos() as u64) {
        return;
    }
    peers.rung[rank as usize].fetch_add(1, Ordering::Relaxed);
    signal(bell);
}

/// The world ranks this rank may ring, and how many times it rang each (empty when doorbells
/// are off); for tests that check that rings never leave a node.
pub(crate) fn rings() -> Vec<(i32, u64)> {
    PEERS.get().map_or_else(Vec::new, |p| {
        p.bells
            .iter()
            .zip(&p.rung)
            .enumerate()
            .filter(|(_, (bell, _))| bell.is_some())
            .map(|(rank, (_, n))| (rank as i32, n.load(Ordering::Relaxed)))
            .collect()
    })
}

/// Sends the bell to one thread.
fn signal(bell: Bell) {
    // SAFETY: sends a signal whose default action is to be ignored to one thread of a process on
    // this node that reported this (pid, tid) as its waiting thread; an error (it has exited)
    // only means nobody is waiting. sched_yield has no preconditions.
    unsafe {
        libc::tgkill(bell.pid, bell.tid, BELL);
        // On virtual machines the wake-up of an idle CPU waits while the ringing CPU keeps
        // running without a system call: a waiter that spun right after ringing delayed it by a
        // timer tick (3.9 ms, measured here); one yield lets it through (34 µs). Where ranks
        // outnumber cores, waits yield at every test anyway, and a yield here would hand the
        // core to a busy rank for a whole time slice (a task stream on 9 ranks and 2 cores ran
        // 4x slower with it).
        if !super::poll::config().yield_when_spinning {
            libc::sched_yield();
        }
    }
}

/// Whether a message sent at `now` rings, the previous one to the same rank having gone at
/// `before` (0: none yet); times in nanoseconds.
fn due(before: u64, now: u64, quiet: u64) -> bool {
    before == 0 || now.saturating_sub(before) >= quiet
}

/// Sleeps for `d`, or until a ring (one that came since the last sleep ends this one at once);
/// whether a ring ended it.
pub(crate) fn sleep(d: Duration) -> bool {
    if !enabled() {
        std::thread::sleep(d);
        return false;
    }
    let set = bell_set();
    let timeout = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `set` and `timeout` are valid for the call; the signal is blocked in this thread,
    // so sigtimedwait takes it from the pending set instead of it being delivered. A timeout or
    // an interruption returns -1: the caller tests again.
    let taken = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
    taken == BELL
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
    fn a_ring_reaches_the_waiting_thread_whatever_other_threads_do() {
        // Other threads that do not block the bell: a process-directed signal could go to one
        // of them and be dropped (its action is to be ignored). A thread-directed one cannot.
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let others: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            block_bell();
            enable(vec![None, my_bell()], true, Duration::from_micros(50));
            tx.send(my_bell().expect("blocked")).unwrap();
            // Whether the ring ended the sleep (not its timeout): no clock is read.
            sleep(Duration::from_secs(10))
        });
        let bell = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        signal(bell);
        let rung = sleeper.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in others {
            t.join().unwrap();
        }
        assert!(rung, "the ring was lost: the sleep ran to its timeout");
    }

    #[test]
    fn a_pending_ring_ends_the_next_sleep_at_once() {
        std::thread::spawn(|| {
            block_bell();
            enable(vec![my_bell()], true, Duration::from_micros(50));
            // Rung before it sleeps: the signal stays pending (blocked) and ends the sleep.
            signal(my_bell().unwrap());
            let t = Instant::now();
            sleep(Duration::from_secs(5));
            assert!(t.elapsed() < Duration::from_secs(1));
            // The ring was taken: the next sleep lasts.
            let t = Instant::now();
            sleep(Duration::from_millis(20));
            assert!(t.elapsed() >= Duration::from_millis(20));
        })
        .join()
        .unwrap();
    }
}
