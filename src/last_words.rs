//! A rank's last words: one line on stderr, naming the rank and what it was running, when the
//! process ends without going through mpiview's shutdown.
//!
//! A remote function that calls `exit`, aborts, or faults takes its engine down, and the
//! launcher then ends the job; all it says is which rank died ("process rank 2 with PID 0" in
//! Open MPI, an exit code in MPICH). So each rank of an MPI run installs, once it knows who it is:
//!
//! - handlers for the fatal signals (`SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`, `SIGABRT`) and for
//!   `SIGTERM`, `SIGINT`, `SIGHUP` and `SIGQUIT` sent by anyone but the launcher (the rank's
//!   parent: `orted`, `hydra_pmi_proxy`, `slurmstepd`; its signals end the job on purpose and
//!   say nothing new);
//! - an exit hook (`atexit`) that speaks only if the process exits while a remote function runs.
//!
//! Each writes, with async-signal-safe calls only, for example
//! `mpiview: engine 1 (rank 2, host node1) ended by SIGSEGV (invalid memory access) while running
//! \`step\``, then hands the signal on to whatever handled it before (Rust's stack-overflow
//! report, the default action), so the process ends exactly as it would have. `SIGKILL` cannot
//! be caught: then only the launcher speaks.
//!
//! Which function runs is an index in an atomic, set around each call by the registry; the
//! names and the rank's description are fixed before the handlers are installed.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// No remote function is running.
const IDLE: u32 = u32::MAX;

/// The registry index of the remote function this process runs now, or `IDLE`.
static RUNNING: AtomicU32 = AtomicU32::new(IDLE);

/// Set by the first message, so a fault that turns into an abort speaks once.
static SAID: AtomicBool = AtomicBool::new(false);

/// Who this rank is and the names of the remote functions, fixed at installation.
struct Speaker {
    who: Box<[u8]>,
    names: Box<[Box<[u8]>]>,
}

static SPEAKER: OnceLock<Speaker> = OnceLock::new();

/// The signals whose arrival is reported, with the previous action of each, for chaining.
const WATCHED: [libc::c_int; 9] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
];

static PREVIOUS: OnceLock<[libc::sigaction; WATCHED.len()]> = OnceLock::new();

/// Marks a remote function as running until it drops.
pub(crate) struct Running {
    cell: &'static AtomicU32,
    before: u32,
}

/// Marks remote function `index` as running (nested calls restore the outer one).
pub(crate) fn running(index: u32) -> Running {
    mark(&RUNNING, index)
}

fn mark(cell: &'static AtomicU32, index: u32) -> Running {
    Running {
        cell,
        before: cell.swap(index, Ordering::Relaxed),
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cell.store(self.before, Ordering::Relaxed);
    }
}

/// Installs the handlers and the exit hook for a rank described by `who` (for example
/// `engine 1 (rank 2, host node1)`), with `names[i]` the name of remote function `i`.
/// Only the first call installs anything.
pub(crate) fn install(who: String, names: Vec<String>) {
    let speaker = Speaker {
        who: who.into_bytes().into_boxed_slice(),
        names: names
            .into_iter()
            .map(|n| n.into_bytes().into_boxed_slice())
            .collect(),
    };
    if SPEAKER.set(speaker).is_err() {
        return;
    }
    // SAFETY: plain libc calls on valid, fully initialised structures; the handler and the hook
    // only read state fixed above (SPEAKER, PREVIOUS) or atomics.
    unsafe {
        let mut previous: [libc::sigaction; WATCHED.len()] = std::mem::zeroed();
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        for (sig, old) in WATCHED.iter().zip(previous.iter_mut()) {
            libc::sigaction(*sig, std::ptr::null(), old);
        }
        // Chaining reads PREVIOUS: it is set before any handler can run.
        let _ = PREVIOUS.set(previous);
        for (sig, old) in WATCHED.iter().zip(previous.iter()) {
            // A signal someone chose to ignore stays ignored.
            if old.sa_sigaction != libc::SIG_IGN {
                libc::sigaction(*sig, &action, std::ptr::null_mut());
            }
        }
        libc::atexit(on_exit);
    }
}

extern "C" fn on_exit() {
    let running = RUNNING.load(Ordering::Relaxed);
    if running != IDLE {
        speak(b"exited (a call to exit)", running);
    }
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; a handler that chains
    // to this one without a siginfo passes null, and the sender is then unknown.
    let from_launcher = !info.is_null() && unsafe { sent_by_parent(&*info) };
    if !from_launcher {
        speak(cause(sig), RUNNING.load(Ordering::Relaxed));
    }
    chain(sig, info, context);
}

/// Whether a signal was sent by this process's parent (the launcher), with `kill`.
///
/// # Safety
/// `info` must be the siginfo of a signal being handled.
unsafe fn sent_by_parent(info: &libc::siginfo_t) -> bool {
    // si_code <= 0: sent by a process (kill, sigqueue, tgkill), not raised by a fault.
    // SAFETY: si_pid is valid for signals sent by a process, which si_code says this is.
    info.si_code <= 0 && unsafe { info.si_pid() } == unsafe { libc::getppid() }
}

fn cause(sig: libc::c_int) -> &'static [u8] {
    match sig {
        libc::SIGSEGV => b"ended by SIGSEGV (invalid memory access)",
        libc::SIGBUS => b"ended by SIGBUS (bad memory access)",
        libc::SIGFPE => b"ended by SIGFPE (arithmetic fault)",
        libc::SIGILL => b"ended by SIGILL (illegal instruction)",
        libc::SIGABRT => b"ended by SIGABRT (abort)",
        libc::SIGTERM => b"ended by SIGTERM",
        libc::SIGINT => b"ended by SIGINT",
        libc::SIGHUP => b"ended by SIGHUP",
        libc::SIGQUIT => b"ended by SIGQUIT",
        _ => b"ended by a signal",
    }
}

/// Writes `mpiview: <who> <what>[ while running `<name>`]` in one `write` (no allocation).
fn speak(what: &[u8], running: u32) {
    let Some(speaker) = SPEAKER.get() else {
        return;
    };
    if SAID.swap(true, Ordering::Relaxed) {
        return;
    }
    let mut line = Line::default();
    line.put(b"mpiview: ");
    line.put(&speaker.who);
    line.put(b" ");
    line.put(what);
    if let Some(name) = speaker.names.get(running as usize) {
        line.put(b" while running `");
        line.put(name);
        line.put(b"`");
    }
    let bytes = line.finish();
    // SAFETY: write(2) on stderr from a buffer we own; async-signal-safe.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

/// A fixed buffer filled without allocating; what does not fit is cut.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Default for Line {
    fn default() -> Line {
        Line {
            buf: [0; 512],
            len: 0,
        }
    }
}

impl Line {
    fn put(&mut self, bytes: &[u8]) {
        // Keep room for the final newline.
        let room = self.buf.len() - 1 - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// The line with its newline.
    fn finish(&mut self) -> &[u8] {
        self.buf[self.len] = b'\n';
        &self.buf[..=self.len]
    }
}

/// Hands `sig` to the action installed before ours: call its handler, or restore the default
/// action so that the signal ends the process as it would have.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some(index) = WATCHED.iter().position(|&s| s == sig) else {
        return;
    };
    let Some(previous) = PREVIOUS.get() else {
        return;
    };
    let old = &previous[index];
    let handler = old.sa_sigaction;
    // SAFETY: calling the previously installed handler with the arguments the kernel gave us,
    // in the form its flags declare; or restoring the default action and re-raising, which is
    // async-signal-safe.
    unsafe {
        if handler == libc::SIG_DFL {
            libc::signal(sig, libc::SIG_DFL);
            // Raised again in every case: the signal is blocked while this handler runs, so it
            // is delivered, with its default action, when the handler returns (also before a
            // faulting instruction would run again). A signal the kernel sent (SI_KERNEL: a
            // terminal's Ctrl-C) must not be swallowed.
            libc::raise(sig);
        } else if handler != libc::SIG_IGN {
            if old.sa_flags & libc::SA_SIGINFO != 0 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(handler);
                f(sig, info, context);
            } else {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
                f(sig);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_marks_nest_and_restore() {
        static CELL: AtomicU32 = AtomicU32::new(IDLE);
        {
            let _outer = mark(&CELL, 3);
            {
                let _inner = mark(&CELL, 5);
                assert_eq!(CELL.load(Ordering::Relaxed), 5);
            }
            assert_eq!(CELL.load(Ordering::Relaxed), 3);
        }
        assert_eq!(CELL.load(Ordering::Relaxed), IDLE);
    }

    #[test]
    fn long_lines_are_cut_but_end_with_a_newline() {
        let mut line = Line::default();
        line.put(&[b'x'; 600]);
        let full = line.finish();
        assert_eq!(full.len(), 512);
        assert_eq!(full[511], b'\n');
        let mut short = Line::default();
        short.put(b"abc");
        assert_eq!(short.finish(), b"abc\n");
    }
}
