//! Every sbatch script in `slurm/` on a real Slurm of 3 nodes: the test cluster of
//! `scripts/cluster/` (network and UTS namespaces on this machine: node1..node3 at
//! 198.18.0.11-13) with a slurmd in each node and slurmctld, slurmdbd and MariaDB in node1, all
//! brought up by `scripts/slurm/up.sh` (`MPIVIEW_SLURM_NODES=3`) and always taken down again by
//! `scripts/slurm/down.sh`, cluster included. Each script runs with `-N 3` and `-N 1`, under
//! `srun` and under `mpirun`; apps that fail must fail their job with their exit code, and
//! `sacct` must show a job's State and ExitCode.
//!
//! Runs only when asked, with `MPIVIEW_SLURM_TESTS=1` and as root (CI does; Slurm and MariaDB
//! are installed if missing); otherwise it is skipped with a message saying so. `MPIVIEW_SLURM_NODES=1` runs the same on a one-node Slurm on this machine instead.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The test's own Slurm and test cluster (their state directories), so that a Slurm or a cluster
/// someone uses on this machine is left alone (a one-node Slurm shares this machine's ports).
const SLURM_BASE: &str = "/var/spool/mpiview-slurm-test";
const CLUSTER_BASE: &str = "/run/mpiview-slurm-test";

/// Deadlines: bringing Slurm up (it may install packages first), taking it down, one Slurm
/// command, one job, and a job's record reaching `sacct`.
const UP: Duration = Duration::from_secs(900);
const DOWN: Duration = Duration::from_secs(120);
const COMMAND: Duration = Duration::from_secs(60);
const JOB: Duration = Duration::from_secs(300);
const ACCOUNTING: Duration = Duration::from_secs(60);

/// The repository root (the apps crate is its `apps/` folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Where the app binaries of this build are.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_trapz"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// Whether to run: only when asked (`MPIVIEW_SLURM_TESTS=1`), since it starts daemons as root
/// and installs Slurm and MariaDB where they are missing.
fn enabled() -> Result<(), String> {
    if std::env::var("MPIVIEW_SLURM_TESTS").as_deref() != Ok("1") {
        return Err("set MPIVIEW_SLURM_TESTS=1 to run it (CI does)".into());
    }
    if !is_root() {
        return Err("starting Slurm's daemons needs root".into());
    }
    Ok(())
}

/// Nodes of the test Slurm: `MPIVIEW_SLURM_NODES`, 3 by default (the test cluster); 1 is this
/// machine.
fn nodes() -> u32 {
    match std::env::var("MPIVIEW_SLURM_NODES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("MPIVIEW_SLURM_NODES must be a number, not {v:?}")),
        Err(_) => 3,
    }
}

/// `bash scripts/slurm/<name>` for the test's Slurm, under coreutils' `timeout` (TERM after
/// `limit`, KILL 10 s later), so that no call can hang the test.
fn slurm_script(name: &str, limit: Duration) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg("-k")
        .arg("10")
        .arg(limit.as_secs().to_string())
        .arg("bash")
        .arg(root().join("scripts/slurm").join(name))
        .env("MPIVIEW_SLURM_BASE", SLURM_BASE)
        .env("MPIVIEW_CLUSTER_BASE", CLUSTER_BASE)
        .env("MPIVIEW_SLURM_NODES", nodes().to_string());
    cmd
}

/// A Slurm command (`sbatch`, `squeue`, ...) run where it reaches the controller: in node1 of
/// the test cluster, with `SLURM_CONF` set (`scripts/slurm/exec.sh`).
fn slurm(program: &str) -> Command {
    let mut cmd = slurm_script("exec.sh", COMMAND);
    cmd.arg(program);
    cmd
}

/// The test Slurm; dropping it takes it (and the test cluster) down, also when a test fails.
struct Slurm;

impl Slurm {
    fn up() -> Slurm {
        // Made first: down.sh also cleans up after an up.sh that failed half-way.
        let slurm = Slurm;
        let status = slurm_script("up.sh", UP).status().expect("bash runs");
        assert!(status.success(), "scripts/slurm/up.sh failed ({status})");
        slurm
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // down.sh removes the daemons' logs: show their ends first.
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!("tail -n 25 {SLURM_BASE}/log/*.log >&2"))
                .status();
        }
        let _ = slurm_script("down.sh", DOWN).status();
    }
}

/// How a job ended (`scontrol show job`): its state, its exit code (`ExitCode=a:b` → a) and the
/// number of nodes it had.
#[derive(Debug)]
struct Ended {
    state: String,
    code: i32,
    nodes: u32,
}

/// Submits `script` from `dir` on `nodes` nodes and 3 tasks, with extra environment (sbatch
/// passes it on to the job); waits for the job's end.
fn submit(dir: &Path, script: &str, nodes: u32, env: &[(&str, &str)]) -> (String, Ended) {
    let mut cmd = slurm("sbatch");
    cmd.arg("--parsable")
        .arg(format!("--chdir={}", dir.display()))
        .arg(format!("--nodes={nodes}"))
        .arg("--ntasks=3")
        .arg(root().join("slurm").join(script));
    common::mpi_env(&mut cmd);
    // The nodes share 2 cores: ranks waiting in MPI or in mpiview yield instead of spinning.
    cmd.env("MPIVIEW_BIN", bin_dir())
        .env("OMPI_MCA_mpi_yield_when_idle", "1")
        .env("MPIVIEW_YIELD", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("sbatch runs");
    assert!(
        out.status.success(),
        "sbatch {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let start = Instant::now();
    loop {
        let q = slurm("squeue")
            .args(["-h", "-j", &id])
            .output()
            .expect("squeue runs");
        assert!(
            q.status.success(),
            "squeue -j {id}: {}",
            String::from_utf8_lossy(&q.stderr)
        );
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        if start.elapsed() > JOB {
            let _ = slurm("scancel").arg(&id).status();
            panic!("job {id} ({script}, -N {nodes}) outlived {JOB:?} and was cancelled");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let show = slurm("scontrol")
        .args(["show", "job", "-o", &id])
        .output()
        .expect("scontrol runs");
    let text = String::from_utf8_lossy(&show.stdout).to_string();
    let field = |key: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in: {text}"))
            .to_string()
    };
    let state = field("JobState=");
    let code = field("ExitCode=")
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // NumNodes=3, or a range (NumNodes=3-3) for some jobs.
    let nodes = field("NumNodes=")
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (id, Ended { state, code, nodes })
}

/// The job's State and ExitCode (`2:0`) as `sacct` shows them, once its record there is final
/// (records reach slurmdbd shortly after the job ends).
fn sacct(id: &str) -> (String, String) {
    let start = Instant::now();
    loop {
        let out = slurm("sacct")
            .args(["-n", "-X", "-P", "-o", "State,ExitCode", "-j", id])
            .output()
            .expect("sacct runs");
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if let Some((state, code)) = text.split_once('|')
            && !["PENDING", "RUNNING", "COMPLETING"].contains(&state)
        {
            return (state.to_string(), code.to_string());
        }
        assert!(
            start.elapsed() < ACCOUNTING,
            "job {id}: no final record in sacct after {ACCOUNTING:?}: {text:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs an sbatch script with bash, outside Slurm: `srun` and `mpirun` are stubs that run the
/// program once (one rank), and the job's variables are set by hand.
fn run_script_here(script: &str, dir: &Path, trapz_args: &str) -> std::process::Output {
    let stubs = dir.join("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    for launcher in ["srun", "mpirun"] {
        let stub = stubs.join(launcher);
        // Drops the launcher's own options (--mpi=pmix), runs the program.
        std::fs::write(
            &stub,
            "#!/bin/sh\nwhile [ \"${1#--}\" != \"$1\" ]; do shift; done\nexec \"$@\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let path = format!(
        "{}:{}",
        stubs.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("slurm").join(script))
        .current_dir(&work)
        .env("PATH", path)
        .env("SLURM_JOB_ID", "42")
        .env("SLURM_NTASKS", "1")
        .env("MPIVIEW_BIN", bin_dir())
        .env("TRAPZ_ARGS", trapz_args);
    common::mpi_env(&mut cmd);
    let _lock = common::LaunchLock::acquire();
    cmd.output().expect("bash runs")
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failing_trapz_job_leaves_no_result_file() {
    for (script, prefix) in [
        ("trapz.sbatch", "trapz"),
        ("trapz-mpirun.sbatch", "trapz-mpirun"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run_script_here(script, dir.path(), "--n 0");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{script}: trapz's exit code\n{log}"
        );
        assert!(
            log.contains("must be at least 1"),
            "{script}: the app's message\n{log}"
        );
        let work = dir.path().join("work");
        assert_eq!(
            listing(&work),
            Vec::<String>::new(),
            "{script}: no result file\n{log}"
        );

        let out = run_script_here(script, dir.path(), "--n 1e4");
        assert!(out.status.success(), "{script}: {out:?}");
        assert_eq!(
            listing(&work),
            [format!("{prefix}-42.json"), format!("{prefix}-42.txt")],
            "{script}"
        );
        let json: serde_json::Value = serde_json::from_str(
            std::fs::read_to_string(work.join(format!("{prefix}-42.json")))
                .unwrap()
                .trim(),
        )
        .unwrap();
        assert_eq!(json["n"], 10_000, "{json}");
    }
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Panics with the job's log unless it ended in `state` with `code` on `nodes` nodes.
#[track_caller]
fn assert_ended(end: &Ended, state: &str, code: i32, nodes: u32, what: &str, log: &str) {
    assert_eq!(
        (end.state.as_str(), end.code, end.nodes),
        (state, code, nodes),
        "{what}:\n{log}"
    );
}

#[test]
fn every_sbatch_script_runs_on_a_multi_node_slurm() {
    if let Err(why) = enabled() {
        eprintln!("SKIPPED every_sbatch_script_runs_on_a_multi_node_slurm: {why}");
        return;
    }
    let _lock = common::LaunchLock::acquire();
    let nodes = nodes();
    let _slurm = Slurm::up();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Every node (3 tasks: one rank a node), then one node (3 ranks on it).
    let node_counts = if nodes > 1 { vec![nodes, 1] } else { vec![1] };
    let mut succeeded = None;

    for &n in &node_counts {
        // trapz with srun and with mpirun: the JSON result, named by job id.
        for (script, prefix) in [
            ("trapz.sbatch", "trapz"),
            ("trapz-mpirun.sbatch", "trapz-mpirun"),
        ] {
            let (id, end) = submit(d, script, n, &[("TRAPZ_ARGS", "--n 1e6")]);
            let log = read(d.join(format!("mpiview-{prefix}-{id}.out")));
            assert_ended(&end, "COMPLETED", 0, n, &format!("{script} -N {n}"), &log);
            let json: serde_json::Value =
                serde_json::from_str(read(d.join(format!("{prefix}-{id}.json"))).trim()).unwrap();
            assert_eq!(json["engines"], 2, "{json}");
            assert!(
                (json["integral"].as_f64().unwrap() - std::f64::consts::FRAC_PI_2).abs() < 1e-9
            );
            if succeeded.is_none() {
                succeeded = Some(id);
            }
        }

        for launcher in ["srun", "mpirun"] {
            // The other apps: their files, named by job id.
            let (id, end) = submit(
                d,
                "apps.sbatch",
                n,
                &[
                    ("LAUNCHER", launcher),
                    ("MAXNORMAL_ARGS", "--draws 2e4"),
                    ("JULIA_ARGS", "--m 64 --n 64"),
                    ("NORMSTATS_ARGS", "--n 1e4 --sizes 1e4"),
                ],
            );
            let log = read(d.join(format!("mpiview-apps-{id}.out")));
            let what = format!("apps.sbatch with {launcher}, -N {n}");
            assert_ended(&end, "COMPLETED", 0, n, &what, &log);
            assert!(
                log.contains(&format!("apps with {launcher} on 3 ranks, {n} node(s)")),
                "{what}:\n{log}"
            );
            for file in [
                format!("maxnormal-{id}.h5"),
                format!("maxnormal-{id}.png"),
                format!("julia-block-{id}.h5"),
                format!("julia-{id}.png"),
            ] {
                assert!(d.join(&file).exists(), "{what}: {file} missing:\n{log}");
            }
            assert!(
                log.contains("parallel counts equal the serial counts"),
                "{what}:\n{log}"
            );

            // Scaling studies, their runs started by srun or mpirun inside the allocation.
            for (script, env) in [
                (
                    "scaling-strong.sbatch",
                    [("RANKS", "2,3"), ("SIZE", "2e5"), ("REPS", "1")],
                ),
                (
                    "scaling-weak.sbatch",
                    [("RANKS", "2,3"), ("PER_ENGINE", "1e5"), ("REPS", "1")],
                ),
            ] {
                let mut env = env.to_vec();
                env.push(("LAUNCHER", launcher));
                let (id, end) = submit(d, script, n, &env);
                let name = script.trim_end_matches(".sbatch");
                let log = read(d.join(format!(
                    "mpiview-{}-{id}.out",
                    name.trim_start_matches("scaling-")
                )));
                let what = format!("{script} with {launcher}, -N {n}");
                assert_ended(&end, "COMPLETED", 0, n, &what, &log);
                assert!(
                    log.contains(&format!("launcher {launcher}")),
                    "{what}:\n{log}"
                );
                let out = d.join(format!("{name}-{id}"));
                for f in ["runs.csv", "summary.csv", "scaling.h5", "scaling.png"] {
                    assert!(out.join(f).exists(), "{what}: {f} missing:\n{log}");
                }
            }
        }
    }

    // A failing app (a bad argument: exit 2 on every rank) fails the job with its exit code,
    // under srun and under mpirun, on every node.
    let mut failed = None;
    for (script, prefix, env) in [
        (
            "trapz.sbatch",
            "trapz",
            [("TRAPZ_ARGS", "--n 0"), ("LAUNCHER", "srun")],
        ),
        (
            "trapz-mpirun.sbatch",
            "trapz-mpirun",
            [("TRAPZ_ARGS", "--n 0"), ("LAUNCHER", "mpirun")],
        ),
        (
            "apps.sbatch",
            "apps",
            [("MAXNORMAL_ARGS", "--draws 0"), ("LAUNCHER", "mpirun")],
        ),
    ] {
        let (id, end) = submit(d, script, nodes, &env);
        let log = read(d.join(format!("mpiview-{prefix}-{id}.out")));
        assert_ended(&end, "FAILED", 2, nodes, &format!("{script} failing"), &log);
        assert!(log.contains("must be at least 1"), "{script}:\n{log}");
        // A failed job leaves no result file, finished or partial.
        for file in [
            format!("{prefix}-{id}.txt"),
            format!("{prefix}-{id}.json"),
            format!("{prefix}-{id}.txt.partial"),
        ] {
            assert!(
                !d.join(&file).exists(),
                "{script}: a failed job left {file}:\n{log}"
            );
        }
        if failed.is_none() {
            failed = Some(id);
        }
    }

    // sacct (how users read a job's state) has both: a job that succeeded, one that failed.
    let succeeded = succeeded.expect("a job succeeded");
    assert_eq!(
        sacct(&succeeded),
        ("COMPLETED".to_string(), "0:0".to_string()),
        "sacct, job {succeeded}"
    );
    let failed = failed.expect("a job failed");
    assert_eq!(
        sacct(&failed),
        ("FAILED".to_string(), "2:0".to_string()),
        "sacct, job {failed}"
    );
}
