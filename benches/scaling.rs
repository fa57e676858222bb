//! `scaling` (the scaling harness, built as a binary so that sbatch scripts can run it):
//! strong and weak scaling studies of the apps, on a workstation (`mpirun`) or inside
//! a Slurm allocation (`srun`).
//!
//! ```text
//! scaling --app trapz --mode strong --ranks 2,3,5,9,17 --size 1e9 --spmd
//! scaling --app julia --mode weak --ranks 2,3,5 --size-per-engine 512
//! scaling --preset maxnormal-1e8 --ranks 2,3,5,9,16
//! ```
//!
//! For every rank count it runs the app several times with `--json`, takes the median of the
//! app's own timing (the computation, not the launch), and reports speedup and efficiency
//! relative to one engine (`-n 2`: the controller and one engine). With `--spmd`, the trapz
//! kernel also runs as a plain SPMD program (`trapz-spmd`, every rank computing) at equal worker
//! counts, for the framework's overhead. The apps' phases (compute, transfer, output: output
//! only with `--write-files`) and peak memory go into the tables, and the phases into a chart.
//! Writes `runs.csv`, `summary.csv`, `scaling.h5`, `scaling.png` and `phases.png` into `--out`.

#[path = "scaling/outputs.rs"]
mod outputs;
#[path = "scaling/preset.rs"]
mod preset;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, ValueEnum};
use mpiview_apps::cli::parse_positive_count;
use mpiview_apps::stats::median;
use serde::Serialize;

use outputs::write_outputs;
use preset::Preset;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum App {
    Trapz,
    Maxnormal,
    Julia,
    Normstats,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// Fixed total work.
    Strong,
    /// Fixed work per engine.
    Weak,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Launcher {
    /// `srun` inside a Slurm allocation, `mpirun` elsewhere.
    Auto,
    Mpirun,
    Srun,
}

#[derive(Parser, Debug)]
#[command(
    name = "scaling",
    about = "Strong and weak scaling of an mpiview app over a list of rank counts.",
    after_help = "Sizes: trapz points (--n), maxnormal draws (--draws), julia grid rows (--m, 1024 \
                  columns), normstats draws per engine (--n; strong mode divides --size among the \
                  engines). Efficiency is relative to one engine (-n 2); runs with more ranks than \
                  cores are flagged. Presets are large strong-scaling studies: trapz-1e9 (with \
                  --spmd), julia-8192 (8192 x 8192 grid) and maxnormal-1e8 (1e8 draws), the last \
                  two writing their files (--write-files). Outputs in --out: runs.csv (every run, \
                  with its phases and peak memory), summary.csv (medians, speedup, efficiency), \
                  scaling.h5, scaling.png (speedup and efficiency), phases.png (seconds per phase)."
)]
struct Args {
    /// A large strong-scaling study (sets the app, the mode and the size).
    #[arg(long, value_enum, conflicts_with_all = ["app", "mode", "size", "size_per_engine"])]
    preset: Option<Preset>,
    /// The app to study.
    #[arg(long, value_enum, default_value_t = App::Trapz)]
    app: App,
    /// Strong (fixed total work) or weak (fixed work per engine) scaling.
    #[arg(long, value_enum, default_value_t = Mode::Strong)]
    mode: Mode,
    /// Rank counts (controller included); default: 2, 3, then 2^k + 1 up to twice the cores.
    #[arg(long, value_delimiter = ',', value_parser = parse_positive_count)]
    ranks: Vec<u64>,
    /// Total work of strong scaling (default per app: 1e8, 5e5, 1024, 1e6).
    #[arg(long, value_parser = parse_positive_count)]
    size: Option<u64>,
    /// Work per engine of weak scaling (default per app: 5e7, 2.5e5, 512, 1e6).
    #[arg(long, value_parser = parse_positive_count)]
    size_per_engine: Option<u64>,
    /// Runs per rank count (the median is kept).
    #[arg(long, default_value = "3", value_parser = parse_positive_count)]
    reps: u64,
    /// Also run trapz as a plain SPMD program at equal worker counts (trapz only).
    #[arg(long)]
    spmd: bool,
    /// How to start jobs.
    #[arg(long, value_enum, default_value_t = Launcher::Auto)]
    launcher: Launcher,
    /// Directory of the app binaries (default: this program's directory).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Directory for the outputs (default: `results/scaling-<app>-<mode>-<job or time>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Extra arguments for the app, e.g. "--function gauss".
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    app_args: String,
    /// julia and maxnormal write their HDF5 file and picture into --out on every run (each
    /// run replaces the last), so that the output phase is timed; without it they run with
    /// --no-output.
    #[arg(long)]
    write_files: bool,
}

#[derive(Serialize, Clone)]
struct Run {
    kind: &'static str,
    app: App,
    mode: Mode,
    ranks: u64,
    engines: u64,
    size: u64,
    rep: u64,
    seconds: f64,
    oversubscribed: bool,
    /// The app's phases (`--json`'s `phases`), where it reports them.
    compute: Option<f64>,
    transfer: Option<f64>,
    output: Option<f64>,
    controller_peak_bytes: Option<u64>,
    /// The largest of the engines' peaks.
    engine_peak_bytes: Option<u64>,
}

#[derive(Serialize, Clone)]
struct Summary {
    kind: &'static str,
    ranks: u64,
    engines: u64,
    size: u64,
    seconds: f64,
    speedup: f64,
    efficiency: f64,
    oversubscribed: bool,
    /// mpiview time / SPMD time at equal workers (mpiview rows with --spmd).
    overhead_vs_spmd: Option<f64>,
    /// Median seconds of each phase, where the app reports them.
    compute: Option<f64>,
    transfer: Option<f64>,
    output: Option<f64>,
    /// The largest controller and engine peaks of the runs.
    controller_peak_bytes: Option<u64>,
    engine_peak_bytes: Option<u64>,
}

/// What one run's `--json` report says.
struct Report {
    seconds: f64,
    /// Compute, transfer and output seconds.
    phases: Option<[f64; 3]>,
    controller_peak_bytes: Option<u64>,
    engine_peak_bytes: Option<u64>,
}

fn cores() -> u64 {
    std::env::var("SLURM_CPUS_ON_NODE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64))
}

fn default_ranks(cores: u64) -> Vec<u64> {
    let mut ranks = vec![2, 3];
    let mut engines = 4;
    while engines <= 2 * cores {
        ranks.push(engines + 1);
        engines *= 2;
    }
    ranks
}

fn engines_of(ranks: u64) -> u64 {
    ranks.saturating_sub(1).max(1)
}

/// The app's size flag and the size for a run on `engines` engines.
fn size_for(args: &Args, engines: u64) -> (&'static str, u64) {
    let (flag, strong, weak) = match args.app {
        App::Trapz => ("--n", 100_000_000, 50_000_000),
        App::Maxnormal => ("--draws", 500_000, 250_000),
        App::Julia => ("--m", 1024, 512),
        App::Normstats => ("--n", 1_000_000, 1_000_000),
    };
    let size = match args.mode {
        Mode::Strong => {
            let total = args.size.unwrap_or(strong);
            if args.app == App::Normstats {
                (total / engines).max(1)
            } else {
                total
            }
        }
        Mode::Weak => {
            args.size_per_engine.unwrap_or(weak)
                * if args.app == App::Normstats {
                    1
                } else {
                    engines
                }
        }
    };
    (flag, size)
}

fn launcher(args: &Args) -> Launcher {
    match args.launcher {
        Launcher::Auto if std::env::var_os("SLURM_JOB_ID").is_some() => Launcher::Srun,
        Launcher::Auto => Launcher::Mpirun,
        other => other,
    }
}

/// Runs `bin` on `ranks` ranks with `--json`; what it reports.
fn run_once(args: &Args, bin: &Path, ranks: u64, extra: &[String]) -> Result<Report, String> {
    let mut cmd = match launcher(args) {
        Launcher::Srun => {
            let mut c = Command::new("srun");
            // A rank that dies ends the run at once (srun's default leaves the others waiting).
            c.args([
                "--mpi=pmix",
                "--kill-on-bad-exit=1",
                "--overcommit",
                "-n",
                &ranks.to_string(),
            ]);
            c
        }
        _ => {
            let mut c = Command::new(std::env::var("MPIEXEC").unwrap_or_else(|_| "mpirun".into()));
            c.args(["-n", &ranks.to_string()]);
            c.env("OMPI_MCA_rmaps_base_oversubscribe", "1");
            if nix_is_root() {
                c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                    .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
            }
            c
        }
    };
    cmd.arg(bin).args(extra).arg("--json");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {bin:?}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} on {ranks} ranks failed ({}):\n{}{}",
            bin.display(),
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let last = text.lines().last().unwrap_or_default();
    let report: serde_json::Value = serde_json::from_str(last)
        .map_err(|e| format!("{}: no JSON report ({e}): {last}", bin.display()))?;
    let seconds = report["seconds"]
        .as_f64()
        .ok_or_else(|| format!("{}: no seconds in {last}", bin.display()))?;
    let phase = |name: &str| report["phases"][name].as_f64();
    Ok(Report {
        seconds,
        phases: (|| Some([phase("compute")?, phase("transfer")?, phase("output")?]))(),
        controller_peak_bytes: report["controller_peak_bytes"].as_u64(),
        engine_peak_bytes: report["engine_peak_bytes"].as_u64(),
    })
}

fn nix_is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if let Some(preset) = args.preset {
        preset.apply(&mut args);
    }
    match study(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn study(args: &Args) -> Result<(), String> {
    if args.spmd && args.app != App::Trapz {
        return Err("--spmd compares the trapz kernel only (--app trapz)".into());
    }
    let cores = cores();
    let ranks = if args.ranks.is_empty() {
        default_ranks(cores)
    } else {
        args.ranks.clone()
    };
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .parent()
            .ok_or("no binary directory")?
            .to_path_buf(),
    };
    let app_name = name(&args.app);
    let app_bin = bin_dir.join(&app_name);
    let spmd_bin = bin_dir.join("trapz-spmd");
    for b in std::iter::once(&app_bin).chain(args.spmd.then_some(&spmd_bin)) {
        if !b.exists() {
            return Err(format!(
                "{} not found (build with cargo build --release, or give --bin-dir)",
                b.display()
            ));
        }
    }
    let stamp = std::env::var("SLURM_JOB_ID").unwrap_or_else(|_| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("t{secs}")
    });
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "results/scaling-{app_name}-{}-{stamp}",
            name(&args.mode)
        ))
    });
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let user_args: Vec<String> = args.app_args.split_whitespace().map(String::from).collect();
    let repeat_args: Vec<String> = match args.app {
        App::Trapz | App::Julia => vec!["--repeat".into(), "3".into()],
        _ => Vec::new(),
    };
    let files: Vec<String> = match args.app {
        App::Maxnormal | App::Julia if args.write_files => {
            let file = |ext: &str| out.join(format!("{app_name}.{ext}")).display().to_string();
            vec!["--out".into(), file("h5"), "--png".into(), file("png")]
        }
        App::Maxnormal | App::Julia => vec!["--no-output".into()],
        _ => Vec::new(),
    };

    println!(
        "scaling: {app_name}, {} scaling, ranks {ranks:?}, {} reps, {cores} cores, launcher {}",
        name(&args.mode),
        args.reps,
        name(&launcher(args))
    );
    let mut runs = Vec::new();
    for &r in &ranks {
        let engines = engines_of(r);
        let (flag, size) = size_for(args, engines);
        let mut extra = vec![flag.to_string(), size.to_string()];
        extra.extend(repeat_args.iter().cloned());
        extra.extend(files.iter().cloned());
        extra.extend(user_args.iter().cloned());
        for rep in 0..args.reps {
            let report = run_once(args, &app_bin, r, &extra)?;
            let phase = |k: usize| report.phases.map(|p| p[k]);
            runs.push(Run {
                kind: "mpiview",
                app: args.app,
                mode: args.mode,
                ranks: r,
                engines,
                size,
                rep,
                seconds: report.seconds,
                oversubscribed: r > cores,
                compute: phase(0),
                transfer: phase(1),
                output: phase(2),
                controller_peak_bytes: report.controller_peak_bytes,
                engine_peak_bytes: report.engine_peak_bytes,
            });
            if args.spmd {
                // Equal workers: `engines` ranks that all compute.
                let mut spmd_extra = vec!["--n".to_string(), size.to_string()];
                spmd_extra.extend(repeat_args.iter().cloned());
                let s = run_once(args, &spmd_bin, engines, &spmd_extra)?;
                runs.push(Run {
                    kind: "spmd",
                    app: args.app,
                    mode: args.mode,
                    ranks: engines,
                    engines,
                    size,
                    rep,
                    seconds: s.seconds,
                    oversubscribed: engines > cores,
                    compute: None,
                    transfer: None,
                    output: None,
                    controller_peak_bytes: s.controller_peak_bytes,
                    engine_peak_bytes: None,
                });
            }
        }
    }
    let summaries = summarize(&runs, args.mode);
    write_outputs(args, &out, &runs, &summaries, cores)?;
    println!(
        "{:<8} {:>6} {:>8} {:>14} {:>12} {:>9} {:>11} {:>9}",
        "kind", "ranks", "engines", "size", "seconds", "speedup", "efficiency", "vs SPMD"
    );
    for s in &summaries {
        println!(
            "{:<8} {:>6} {:>8} {:>14} {:>12.5} {:>9.3} {:>11.3} {:>9}{}",
            s.kind,
            s.ranks,
            s.engines,
            s.size,
            s.seconds,
            s.speedup,
            s.efficiency,
            s.overhead_vs_spmd.map_or("".into(), |o| format!("{o:.3}")),
            if s.oversubscribed {
                "  (more ranks than cores)"
            } else {
                ""
            }
        );
    }
    println!(
        "wrote {}/{{runs.csv, summary.csv, scaling.h5, scaling.png, phases.png}}",
        out.display()
    );
    Ok(())
}

/// Medians per (kind, ranks); speedup and efficiency relative to the one-engine median.
fn summarize(runs: &[Run], mode: Mode) -> Vec<Summary> {
    let mut out = Vec::new();
    for kind in ["mpiview", "spmd"] {
        let mut keys: Vec<u64> = runs
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.ranks)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let med = |ranks: u64| {
            median(
                runs.iter()
                    .filter(|r| r.kind == kind && r.ranks == ranks)
                    .map(|r| r.seconds),
            )
        };
        // One engine: for mpiview the controller and one engine (-n 2) where it ran, else the
        // one-rank run; for SPMD one rank.
        let engines = |ranks: u64| {
            runs.iter()
                .find(|r| r.kind == kind && r.ranks == ranks)
                .map_or(0, |r| r.engines)
        };
        let one = keys
            .iter()
            .copied()
            .filter(|&r| engines(r) == 1)
            .max()
            .map(med);
        for ranks in keys {
            let any = runs
                .iter()
                .find(|r| r.kind == kind && r.ranks == ranks)
                .expect("a run");
            let seconds = med(ranks);
            let these = || runs.iter().filter(|r| r.kind == kind && r.ranks == ranks);
            let phase = |f: fn(&Run) -> Option<f64>| {
                let all: Option<Vec<f64>> = these().map(f).collect();
                all.map(median)
            };
            let e = any.engines as f64;
            let (speedup, efficiency) = match (one, mode) {
                (Some(t1), Mode::Strong) => (t1 / seconds, t1 / seconds / e),
                (Some(t1), Mode::Weak) => (e * t1 / seconds, t1 / seconds),
                (None, _) => (f64::NAN, f64::NAN),
            };
            out.push(Summary {
                kind,
                ranks,
                engines: any.engines,
                size: any.size,
                seconds,
                speedup,
                efficiency,
                oversubscribed: any.oversubscribed,
                overhead_vs_spmd: None,
                compute: phase(|r| r.compute),
                transfer: phase(|r| r.transfer),
                output: phase(|r| r.output),
                controller_peak_bytes: these().filter_map(|r| r.controller_peak_bytes).max(),
                engine_peak_bytes: these().filter_map(|r| r.engine_peak_bytes).max(),
            });
        }
    }
    let spmd: Vec<(u64, f64)> = out
        .iter()
        .filter(|s| s.kind == "spmd")
        .map(|s| (s.engines, s.seconds))
        .collect();
    for s in out.iter_mut().filter(|s| s.kind == "mpiview") {
        s.overhead_vs_spmd = spmd
            .iter()
            .find(|(e, _)| *e == s.engines)
            .map(|(_, t)| s.seconds / t);
    }
    out
}

/// The lowercase name of an option's value (`trapz`, `strong`, `srun`).
fn name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}
