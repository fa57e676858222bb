//! Temporary files removed when SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the process.
//!
//! A temporary output file is removed by its guard's `Drop` on every normal path (errors,
//! panics that unwind). A signal whose default action ends the process runs no destructors, and
//! `mpirun` and Slurm forward Ctrl-C and `scancel` as SIGINT/SIGTERM, so a run interrupted while
//! writing would leave its hidden temporaries behind. This module keeps the paths of the live
//! temporaries in a fixed table that a signal handler can read without allocating or locking:
//!
//! - [`create_registered`] creates a file with its path registered: the path is copied into a
//!   leaked, NUL-terminated buffer whose pointer goes into a free slot of the table (an atomic
//!   compare-and-swap) *before* the file is created; the first call installs the handler for
//!   SIGINT, SIGTERM, SIGHUP and SIGQUIT (with `SA_SIGINFO`, so that a chained handler that
//!   reads the siginfo, such as mpiview's last words, gets the kernel's);
//! - the handler calls only async-signal-safe functions: it raises a flag, waits until no
//!   thread is between registering and creating a file (a counter; the creating thread blocks
//!   both signals meanwhile, so the handler never waits for its own thread, and it waits at most
//!   200 ms), `unlink`s every registered path, then runs the handler that was there before
//!   (chained), or `signal(sig, SIG_DFL)` and `raise`, so that the process still ends by the
//!   signal (exit status 130 / 143 in a shell, as without the handler). A thread that wants to
//!   create a file after the flag is raised gets an error instead, so no file appears after the
//!   handler's sweep. A signal that was ignored (`SIG_IGN`, e.g. under `nohup`) stays ignored;
//! - dropping a [`Registration`] empties its slot. Its buffer is freed only if no handler has
//!   started (checked after emptying the slot, with sequentially consistent atomics: a handler
//!   that started later cannot see the slot's old pointer); otherwise it is leaked, since the
//!   process is ending anyway.
//!
//! SIGKILL (and a crash of the machine) cannot be handled; temporaries are named `.<name>.*.tmp`
//! so that they are easy to find and remove by hand. Open MPI's `mpirun` (4.1) answers Ctrl-C
//! by sending the ranks SIGCONT at once, SIGTERM a second later and SIGKILL about 10 ms after
//! that: a run that finishes writing within the second commits its files completely, and the
//! handler has those milliseconds. It only removes names, which takes microseconds, because
//! the temporaries are held open (`output::TempGuard`): their blocks are freed when the process
//! has ended, not by the handler's `unlink`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use libc::c_char;

/// How many temporaries may be registered at once (a run of an app holds two, and a backup
/// link per file while committing).
pub(crate) const SLOTS: usize = 64;

static PATHS: [AtomicPtr<c_char>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];
/// Set by the handler before it reads [`PATHS`].
static HANDLING: AtomicBool = AtomicBool::new(false);
/// Threads between registering a path and creating its file.
static CREATING: AtomicUsize = AtomicUsize::new(0);
/// The longest the handler waits for them.
const CREATE_WAIT: Duration = Duration::from_millis(200);
/// The handlers that were installed before ours (`sa_sigaction` and `sa_flags`), one for each
/// of [`SIGNALS`]; 0 = `SIG_DFL`.
static PREVIOUS: [(AtomicUsize, AtomicUsize); 4] = [
    (AtomicUsize::new(0), AtomicUsize::new(0)),
    (AtomicUsize::new(0), AtomicUsize::new(0)),
    (AtomicUsize::new(0), AtomicUsize::new(0)),
    (AtomicUsize::new(0), AtomicUsize::new(0)),
];
/// The signals that end a run from outside: Ctrl-C, `scancel`/`mpirun`, a lost terminal or
/// ssh session, Ctrl-\\.
const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// A path that the signal handler removes until this registration is dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: usize,
}

/// Creates a file at `path` with `create`, the path registered first: once this returns, the
/// handler removes the file if SIGINT or SIGTERM ends the process, until the registration is
/// dropped. Fails without calling `create` if the handler has already started, if the path
/// contains a NUL byte or if every slot is taken.
pub(crate) fn create_registered<T>(
    path: &Path,
    create: impl FnOnce(&Path) -> std::io::Result<T>,
) -> std::io::Result<(T, Registration)> {
    install_once();
    // Declared first, dropped last: the signals are blocked until the section has ended.
    let _blocked = SignalsBlocked::new();
    let _section = CreatingSection::enter();
    if HANDLING.load(SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the process is ending on a signal",
        ));
    }
    let registration = Registration::new(path)?;
    let value = create(path)?;
    Ok((value, registration))
}

/// The handled signals blocked for this thread while it lives.
struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    fn new() -> SignalsBlocked {
        // SAFETY: zeroed sigset_t values are valid to pass to sigemptyset/pthread_sigmask, which
        // fill them; the signals are valid.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in SIGNALS {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            SignalsBlocked(old)
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on this thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// Counts this thread in [`CREATING`] while it lives.
struct CreatingSection;

impl CreatingSection {
    fn enter() -> CreatingSection {
        CREATING.fetch_add(1, SeqCst);
        CreatingSection
    }
}

impl Drop for CreatingSection {
    fn drop(&mut self) {
        CREATING.fetch_sub(1, SeqCst);
    }
}

impl Registration {
    /// Registers `path`; an error if the path contains a NUL byte or every slot is taken.
    fn new(path: &Path) -> std::io::Result<Registration> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::other("a path with a NUL byte"))?;
        let ptr = c.into_raw();
        for (slot, cell) in PATHS.iter().enumerate() {
            if cell
                .compare_exchange(std::ptr::null_mut(), ptr, SeqCst, SeqCst)
                .is_ok()
            {
                return Ok(Registration { slot });
            }
        }
        // SAFETY: `ptr` came from `CString::into_raw` just above and was stored nowhere.
        drop(unsafe { CString::from_raw(ptr) });
        Err(std::io::Error::other(format!(
            "more than {SLOTS} temporary files at once"
        )))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let ptr = PATHS[self.slot].swap(std::ptr::null_mut(), SeqCst);
        if !ptr.is_null() && !HANDLING.load(SeqCst) {
            // SAFETY: `ptr` came from `CString::into_raw` in `new`; the slot no longer holds it,
            // and no handler had started when it was emptied (so none can have read it).
            drop(unsafe { CString::from_raw(ptr) });
        }
    }
}

fn install_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            install(i, sig);
        }
    });
}

/// Installs the handler for `sig` unless the signal is ignored; remembers the previous handler.
fn install(index: usize, sig: libc::c_int) {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `old` is a valid, writable sigaction.
    if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0
        || old.sa_sigaction == libc::SIG_IGN
    {
        return;
    }
    PREVIOUS[index].0.store(old.sa_sigaction, SeqCst);
    PREVIOUS[index].1.store(old.sa_flags as usize, SeqCst);
    // SAFETY: a zeroed sigaction is valid; the fields are set below.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as Action as usize;
    // SA_SIGINFO: a previous handler that takes a siginfo (mpiview's, which tells a launcher's
    // signal from others) gets the one the kernel gave.
    action.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO;
    // SAFETY: `sa_mask` is a valid sigset_t to fill; `handler` only makes async-signal-safe
    // calls (see the module docs).
    unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut());
    }
}

/// Nanoseconds of the monotonic clock (async-signal-safe).
fn monotonic_ns() -> i128 {
    // SAFETY: a zeroed timespec is valid; clock_gettime fills it and is async-signal-safe.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// Waits (spinning, at most [`CREATE_WAIT`]) until no thread is creating a registered file.
fn wait_for_creators() {
    let start = monotonic_ns();
    while CREATING.load(SeqCst) != 0 && monotonic_ns() - start < CREATE_WAIT.as_nanos() as i128 {
        std::hint::spin_loop();
    }
}

/// A handler installed with `SA_SIGINFO`.
type Action = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Removes every registered temporary, then lets the signal do what it did before.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    HANDLING.store(true, SeqCst);
    wait_for_creators();
    for cell in &PATHS {
        let p = cell.load(SeqCst);
        if !p.is_null() {
            // SAFETY: a registered pointer is a valid NUL-terminated string that is never
            // freed once a handler has started (see `Registration::drop`); unlink is
            // async-signal-safe.
            unsafe { libc::unlink(p) };
        }
    }
    let Some(index) = SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    let previous = PREVIOUS[index].0.load(SeqCst);
    let flags = PREVIOUS[index].1.load(SeqCst) as libc::c_int;
    if previous == libc::SIG_DFL {
        // SAFETY: signal and raise are async-signal-safe; the raised signal is delivered with
        // its default action (the process ends) once this handler returns.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    } else if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this type; it
        // gets the kernel's siginfo and context.
        let f: Action = unsafe { std::mem::transmute::<usize, Action>(previous) };
        f(sig, info, context);
    } else {
        type Plain = extern "C" fn(libc::c_int);
        // SAFETY: the previous handler was installed without SA_SIGINFO: a plain handler.
        let f: Plain = unsafe { std::mem::transmute::<usize, Plain>(previous) };
        f(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_come_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let a = Registration::new(&dir.path().join("a")).unwrap();
        let b = Registration::new(&dir.path().join("b")).unwrap();
        assert_ne!(a.slot, b.slot);
        drop((a, b));
        assert!(Registration::new(Path::new("nul\0byte")).is_err());
    }

    #[test]
    fn files_are_created_registered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("made");
        let (file, registration) =
            create_registered(&path, |p| std::fs::File::create_new(p)).unwrap();
        assert!(path.exists());
        drop((file, registration));
        // A failing create leaves nothing registered and no section open.
        let e = create_registered(&path, |p| std::fs::File::create_new(p)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    }
}
