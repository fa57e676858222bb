//! Every sbatch script in `slurm/` on a real one-node Slurm (munge + slurmctld + slurmd brought
//! up by `scripts/slurm/up.sh` and always taken down again).
//!
//! Runs when `MPIVIEW_SLURM_TESTS=1` (CI sets it; Slurm is installed if missing), or when Slurm is
//! installed here and the test runs as root; otherwise it is skipped with a message saying so.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

fn enabled() -> Result<(), String> {
    if std::env::var("MPIVIEW_SLURM_TESTS").as_deref() == Ok("1") {
        return Ok(());
    }
    let installed = Command::new("sh")
        .args(["-c", "command -v sbatch slurmctld slurmd"])
        .output()
        .is_ok_and(|o| o.status.success());
    match (installed, is_root()) {
        (true, true) => Ok(()),
        (false, _) => {
            Err("Slurm is not installed (set MPIVIEW_SLURM_TESTS=1 to install it and run)".into())
        }
        (true, false) => Err("starting Slurm's daemons needs root".into()),
    }
}

/// The one-node cluster; dropping it takes it down, also when a test fails.
struct Cluster;

impl Cluster {
    fn up() -> Cluster {
        let status = Command::new("bash")
            .arg(root().join("scripts/slurm/up.sh"))
            .status()
            .expect("bash runs");
        let cluster = Cluster;
        assert!(status.success(), "scripts/slurm/up.sh failed");
        cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/slurm/down.sh"))
            .status();
    }
}

/// How a job ended: its state and exit code (`ExitCode=a:b` → a).
struct Ended {
    state: String,
    code: i32,
}

/// Submits `script` from `dir` with extra sbatch options and environment; waits for the end.
fn submit(
    dir: &Path,
    script: &str,
    options: &[&str],
    env: &[(&str, &str)],
    deadline: Duration,
) -> (String, Ended) {
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable")
        .arg(format!("--chdir={}", dir.display()))
        .args(options);
    cmd.arg(root().join("slurm").join(script));
    common::mpi_env(&mut cmd);
    cmd.env("MPIVIEW_BIN", bin_dir());
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
        let q = Command::new("squeue")
            .args(["-h", "-j", &id])
            .output()
            .expect("squeue runs");
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        if start.elapsed() > deadline {
            let _ = Command::new("scancel").arg(&id).status();
            panic!("job {id} ({script}) outlived {deadline:?} and was cancelled");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let show = Command::new("scontrol")
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
    (id, Ended { state, code })
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

#[test]
fn every_sbatch_script_runs_on_a_one_node_slurm() {
    if let Err(why) = enabled() {
        eprintln!("SKIPPED every_sbatch_script_runs_on_a_one_node_slurm: {why}");
        return;
    }
    let _lock = common::LaunchLock::acquire();
    let _cluster = Cluster::up();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let minutes = Duration::from_secs(300);

    // trapz with srun and with mpirun: the JSON result, named by job id.
    for (script, prefix) in [
        ("trapz.sbatch", "trapz"),
        ("trapz-mpirun.sbatch", "trapz-mpirun"),
    ] {
        let (id, end) = submit(
            d,
            script,
            &["-n", "3"],
            &[("TRAPZ_ARGS", "--n 1e6")],
            minutes,
        );
        let log = read(d.join(format!("mpiview-{prefix}-{id}.out")));
        assert_eq!(
            (end.state.as_str(), end.code),
            ("COMPLETED", 0),
            "{script}:\n{log}"
        );
        let json: serde_json::Value =
            serde_json::from_str(read(d.join(format!("{prefix}-{id}.json"))).trim()).unwrap();
        assert_eq!(json["engines"], 2, "{json}");
        assert!((json["integral"].as_f64().unwrap() - std::f64::consts::FRAC_PI_2).abs() < 1e-9);
    }

    // The other apps: their files, named by job id.
    let (id, end) = submit(
        d,
        "apps.sbatch",
        &["-n", "3"],
        &[
            ("MAXNORMAL_ARGS", "--draws 2e4"),
            ("JULIA_ARGS", "--m 64 --n 64"),
            ("NORMSTATS_ARGS", "--n 1e4 --sizes 1e4"),
        ],
        minutes,
    );
    let log = read(d.join(format!("mpiview-apps-{id}.out")));
    assert_eq!((end.state.as_str(), end.code), ("COMPLETED", 0), "{log}");
    for file in [
        format!("maxnormal-{id}.h5"),
        format!("maxnormal-{id}.png"),
        format!("julia-block-{id}.h5"),
        format!("julia-{id}.png"),
    ] {
        assert!(d.join(&file).exists(), "{file} missing:\n{log}");
    }
    assert!(
        log.contains("parallel counts equal the serial counts"),
        "{log}"
    );

    // Scaling studies through srun inside the allocation.
    for (script, env) in [
        (
            "scaling-strong.sbatch",
            vec![("RANKS", "2,3"), ("SIZE", "2e5"), ("REPS", "1")],
        ),
        (
            "scaling-weak.sbatch",
            vec![("RANKS", "2,3"), ("PER_ENGINE", "1e5"), ("REPS", "1")],
        ),
    ] {
        let (id, end) = submit(d, script, &["-n", "3"], &env, minutes);
        let name = script.trim_end_matches(".sbatch");
        let log = read(d.join(format!(
            "mpiview-{}-{id}.out",
            name.trim_start_matches("scaling-")
        )));
        assert_eq!(
            (end.state.as_str(), end.code),
            ("COMPLETED", 0),
            "{script}:\n{log}"
        );
        let out = d.join(format!("{name}-{id}"));
        for f in ["runs.csv", "summary.csv", "scaling.h5", "scaling.png"] {
            assert!(out.join(f).exists(), "{script}: {f} missing:\n{log}");
        }
    }

    // A failing app fails the job with its exit code.
    let (id, end) = submit(
        d,
        "trapz.sbatch",
        &["-n", "2"],
        &[("TRAPZ_ARGS", "--n 0")],
        minutes,
    );
    let log = read(d.join(format!("mpiview-trapz-{id}.out")));
    assert_eq!((end.state.as_str(), end.code), ("FAILED", 2), "{log}");
    assert!(log.contains("must be at least 1"), "{log}");
    for file in [
        format!("trapz-{id}.txt"),
        format!("trapz-{id}.json"),
        format!("trapz-{id}.txt.partial"),
    ] {
        assert!(!d.join(&file).exists(), "a failed job left {file}:\n{log}");
    }
}
