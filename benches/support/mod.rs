//! Shared pieces of the MPI benchmarks: self-launch under mpirun, medians, memory peaks.

#![allow(dead_code, unreachable_pub)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Open MPI's variables for running as root and oversubscribed.
pub fn mpi_env(cmd: &mut Command) {
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1");
}

pub use mpiview_apps::stats::median_duration as median;

/// Times `reps` batches of `per_batch` calls of `f`; the median time of one call.
pub fn per_call(reps: usize, per_batch: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..per_batch.min(100) {
        f();
    }
    median((0..reps).map(|_| {
        let t = Instant::now();
        for _ in 0..per_batch {
            f();
        }
        t.elapsed() / per_batch as u32
    }))
}

/// Peak resident memory of this process (VmHWM), in bytes.
pub fn peak_rss() -> u64 {
    status_kib("VmHWM:") * 1024
}

/// Current resident memory (VmRSS), in bytes.
pub fn rss() -> u64 {
    status_kib("VmRSS:") * 1024
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak resident memory to the current one (Linux `clear_refs` 5).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Seconds since the Unix epoch.
pub fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Today's date (`date -I`).
pub fn today() -> String {
    Command::new("date")
        .arg("-I")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// CPU time this process has used, in seconds.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Prints a job's result for [`self_job`] to find: `result ` and the JSON object (rank 0).
pub fn emit(result: &serde_json::Value) {
    println!("result {result}");
}

/// Runs this benchmark binary on `np` ranks under mpirun with `options` (`--name value`, or
/// `--name` alone when the value is empty) and extra environment variables; the JSON object its
/// rank 0 printed after `result `.
pub fn self_job(
    np: usize,
    options: &[(&str, String)],
    env: &[(&str, String)],
) -> serde_json::Value {
    let mut cmd = Command::new(std::env::var("MPIEXEC").unwrap_or_else(|_| "mpirun".into()));
    cmd.arg("-n")
        .arg(np.to_string())
        .arg(std::env::current_exe().expect("own path"));
    for (name, value) in options {
        cmd.arg(name);
        if !value.is_empty() {
            cmd.arg(value);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    mpi_env(&mut cmd);
    let out = cmd.output().expect("mpirun runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_else(|| {
            panic!(
                "{options:?}: no result\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).expect("result is JSON")
}

/// How Open MPI moves data in this environment, as the variables set say: `shared memory`,
/// `shared memory without single-copy`, or `TCP`.
pub fn transport() -> String {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("OMPI_MCA_btl").contains("tcp") && !var("OMPI_MCA_btl").contains("vader") {
        "TCP".into()
    } else if var("OMPI_MCA_btl_vader_single_copy_mechanism") == "none" {
        "shared memory without single-copy".into()
    } else {
        "shared memory".into()
    }
}

/// A raw MPI task farm on `world`: rank 0 keeps two 8-byte tasks in flight per worker
/// (blocking `MPI_Send`/`MPI_Recv`), workers answer each at once. Every rank calls it; rank 0
/// gets the tasks per second.
pub fn raw_task_farm(world: &mpi::topology::SimpleCommunicator, n: u64) -> Option<f64> {
    use mpi::traits::*;
    let size = world.size();
    if world.rank() != 0 {
        loop {
            let (task, _) = world.process_at_rank(0).receive::<u64>();
            if task == u64::MAX {
                return None;
            }
            world.process_at_rank(0).send(&(task + 1));
        }
    }
    let t = Instant::now();
    let (mut sent, mut received) = (0u64, 0u64);
    // Prime two tasks per worker, then answer every reply with the next task.
    for w in 1..size {
        for _ in 0..2 {
            if sent < n {
                world.process_at_rank(w).send(&sent);
                sent += 1;
            }
        }
    }
    while received < n {
        let (_reply, status) = world.any_process().receive::<u64>();
        received += 1;
        if sent < n {
            world.process_at_rank(status.source_rank()).send(&sent);
            sent += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    for w in 1..size {
        world.process_at_rank(w).send(&u64::MAX);
    }
    Some(n as f64 / secs)
}
