//! Multi-rank test harness: a test re-runs its own test binary under `mpiexec -n N`, on one
//! `#[ignore]`d body test, with a deadline.
//!
//! - Open MPI's root and oversubscription variables are set here, so tests run as root and with
//!   more ranks than cores.
//! - Launches never overlap, also across test processes (an exclusive `flock` on a lock file),
//!   because overlapping jobs on 2 cores make every timing and deadline meaningless.
//! - A launch that outlives its deadline is killed (its whole process group) and the test fails.
//! - `np = 1` runs the binary directly, without `mpiexec`: the one-rank mode.
//! - `MPIEXEC` chooses the launcher (`srun` on a cluster).

#![allow(dead_code, unreachable_pub)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a launch printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the whole output unless the launch succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.success(),
            "launch failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the launch failed with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "wrong exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Default deadline of one launch.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Sets Open MPI's variables for running here (root, oversubscription, shared memory only).
pub fn mpi_env(cmd: &mut Command) -> &mut Command {
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("RUST_BACKTRACE", "1")
}

/// Runs test `body` of this test binary on `np` ranks; panics if it fails.
#[track_caller]
pub fn run_body(np: usize, body: &str) -> Run {
    let run = launch_body(np, body, &[], DEADLINE);
    assert!(
        run.success(),
        "{body} on {np} ranks failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    run
}

/// Runs test `body` of this test binary on `np` ranks with extra environment variables.
pub fn launch_body(np: usize, body: &str, env: &[(&str, &str)], deadline: Duration) -> Run {
    let exe = std::env::current_exe().expect("test binary path");
    let args = [
        "--exact",
        body,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    let mut envs: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    envs.push(("MPIVIEW_TEST_BODY".into(), "1".into()));
    launch(np, &exe, &args, &envs, deadline)
}

/// Runs `program args` on `np` ranks (`np = 1`: directly), killing it at `deadline`.
pub fn launch(
    np: usize,
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    deadline: Duration,
) -> Run {
    launch_in(None, np, program, args, env, deadline)
}

/// As [`launch`], in directory `dir` (the current one if `None`).
pub fn launch_in(
    dir: Option<&Path>,
    np: usize,
    program: &Path,
    args: &[&str],
    env: &[(String, String)],
    deadline: Duration,
) -> Run {
    let _lock = LaunchLock::acquire();
    let mut cmd = if np == 1 {
        Command::new(program)
    } else {
        let launcher = std::env::var("MPIEXEC").unwrap_or_else(|_| "mpiexec".into());
        let mut c = Command::new(launcher);
        c.arg("-n").arg(np.to_string()).arg(program);
        c
    };
    mpi_env(&mut cmd);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .expect("the MPI launcher runs (is Open MPI installed?)");
    let out = reader(child.stdout.take().expect("piped"));
    let err = reader(child.stderr.take().expect("piped"));
    let pgid = child.id() as i32;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait on launcher") {
            break status.code();
        }
        if start.elapsed() > deadline {
            // Where every process of the hung job stands, for the failure report.
            stacks_of_tree(pgid);
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
            let stdout = out.join().unwrap_or_default();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "launch of {program:?} {args:?} on {np} ranks outlived its {deadline:?} deadline and was killed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Stray ranks of a failed job must not outlive it.
    // SAFETY: signalling our own child's process group (it may be gone already).
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    Run {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

/// Prints to stderr the threads' stacks of process `root` and all its descendants (the
/// launcher, its daemons, the ranks), by `gdb` where it is installed, so that a launch killed
/// at its deadline says where it hung.
fn stacks_of_tree(root: i32) {
    let parents = parents_of_all_processes();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|&(_, &p)| p == parent)
                .map(|(&pid, _)| pid),
        );
        i += 1;
    }
    for pid in tree {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        eprintln!("=== stacks of pid {pid}: {cmdline}");
        let gdb = Command::new("timeout")
            .args(["20", "gdb", "-p", &pid.to_string(), "-batch", "-nx", "-q"])
            .args(["-ex", "thread apply all bt 40"])
            .stdin(Stdio::null())
            .output();
        match gdb {
            Ok(out) => eprintln!("{}", String::from_utf8_lossy(&out.stdout)),
            Err(e) => eprintln!("(no stacks: {e})"),
        }
    }
}

/// Every process's parent, from `/proc/PID/stat`.
fn parents_of_all_processes() -> std::collections::HashMap<i32, i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Default::default();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the parenthesised command: state, ppid, ...
            let after = &stat[stat.rfind(')')? + 1..];
            Some((pid, after.split_whitespace().nth(1)?.parse().ok()?))
        })
        .collect()
}

fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

/// An exclusive lock on a file shared by every test process of this checkout.
pub struct LaunchLock(std::fs::File);

impl LaunchLock {
    pub fn acquire() -> LaunchLock {
        let path = std::env::temp_dir().join("mpiview-test-launch.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("lock file");
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {path:?}");
        LaunchLock(file)
    }
}

/// Declares a multi-rank test: module `$name` with an `#[ignore]`d `body` (the program every
/// rank runs) and a `launches` test that runs it under `mpiexec -n N` for each N in turn.
///
/// ```ignore
/// mpi_test!(push_pull, [1, 2, 3, 5], {
///     let mut cluster = Cluster::init().unwrap();
///     cluster.run(|client| { /* asserts */ Ok::<(), Error>(()) })
/// });
/// ```
#[macro_export]
macro_rules! mpi_test {
    ($name:ident, [$($np:literal),*], $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            #[ignore = "a multi-rank body: its `launches` test runs it under mpiexec"]
            fn body() {
                $crate::common::body(|| $body)
            }

            #[test]
            fn launches() {
                for np in [$($np),*] {
                    $crate::common::run_body(np, &$crate::common::body_name(module_path!()));
                }
            }
        }
    };
}

/// The libtest name of a `mpi_test!` body, from its module path (`crate::name` → `name::body`).
pub fn body_name(module_path: &str) -> String {
    let path = module_path
        .split_once("::")
        .map_or(module_path, |(_, rest)| rest);
    format!("{path}::body")
}

/// Runs a test body (the `#[ignore]`d side). Outside the harness (`cargo test -- --ignored`) it
/// fails: a body run alone tests nothing, so it must not pass.
pub fn body(f: impl FnOnce() -> std::process::ExitCode) {
    assert!(
        std::env::var_os("MPIVIEW_TEST_BODY").is_some(),
        "this is a multi-rank test body: run its `launches` test, which starts it under mpiexec"
    );
    let code = f();
    assert_eq!(
        code,
        std::process::ExitCode::SUCCESS,
        "the job did not succeed"
    );
}

/// Exits the process with the status of `code` (for bodies whose exit status is under test).
pub fn exit_with(code: std::process::ExitCode) -> ! {
    let status = (0..=255u8)
        .find(|&k| std::process::ExitCode::from(k) == code)
        .unwrap_or(1);
    std::process::exit(i32::from(status))
}

/// A task for retry tests: with several engines, item `x` fails on engine `x % n` and works on
/// every other; with one engine, it fails the first time that engine sees it only.
pub fn fails_on_one_engine(
    ctx: &mut mpiview::Context<'_>,
    x: u64,
) -> Result<u64, mpiview::BoxError> {
    let n = ctx.n_engines();
    let fails = if n > 1 {
        ctx.engine_id() == x as usize % n
    } else {
        let key = format!("seen{x}");
        let first = !ctx.contains(&key);
        ctx.set(key, true);
        first
    };
    if fails {
        Err(format!("{x} fails on engine {}", ctx.engine_id()).into())
    } else {
        Ok(x)
    }
}

/// Of a map's outcomes (`MapResult::get_each`): how many items ran, and how many were aborted
/// before they started.
pub fn ran_and_aborted<R>(each: &[Result<R, mpiview::Error>]) -> (usize, usize) {
    let ran = each.iter().filter(|x| x.is_ok()).count();
    let aborted = each
        .iter()
        .filter(|x| match x {
            Err(mpiview::Error::Aborted(_)) => true,
            Err(mpiview::Error::Remote(e)) => e.0[0].kind == mpiview::RemoteErrorKind::Aborted,
            _ => false,
        })
        .count();
    (ran, aborted)
}
