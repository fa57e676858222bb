//! The apps' speed goals, measured by running the app binaries as users do (`mpirun -n 3`:
//! the controller and 2 engines on 2 cores), several rounds, medians.
//!
//! ```text
//! cargo bench --bench apps                # all
//! cargo bench --bench apps -- --json
//! ```
//!
//! - trapz: sin² on [0, π], 10^8 points, beside `trapz-spmd` (the same kernel as a plain SPMD
//!   rsmpi program) on 2 ranks: equal workers, no controller;
//! - normstats: 10^6 draws per engine (ns per draw per engine);
//! - julia: the default grid with each schedule;
//! - maxnormal: the defaults, files off.

#[path = "support/mod.rs"]
mod support;

use std::process::{Command, ExitCode};

use clap::Parser;
use serde_json::{Value as Json, json};

#[derive(Parser, Debug)]
#[command(about = "The apps' speed goals")]
struct Args {
    /// Rounds (each app runs once per round, with --repeat inside).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Print one JSON object on the last line.
    #[arg(long)]
    json: bool,
    /// cargo bench passes --bench.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Runs `np` ranks of `exe` with `args` and `--json`; its report.
fn app(np: usize, exe: &str, args: &[&str]) -> Json {
    let mut cmd = Command::new(std::env::var("MPIEXEC").unwrap_or_else(|_| "mpirun".into()));
    cmd.arg("-n")
        .arg(np.to_string())
        .arg(exe)
        .args(args)
        .arg("--json");
    support::mpi_env(&mut cmd);
    let out = cmd.output().expect("mpirun runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "{exe} {args:?}: no JSON\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    let (n, repeat) = if args.bench {
        ("1e8", "5")
    } else {
        ("1e6", "1")
    };
    if !args.bench {
        // `cargo test` runs bench targets without `--bench`: a quick smoke run.
        args.rounds = 1;
    }
    let trapz = env!("CARGO_BIN_EXE_trapz");
    let spmd = env!("CARGO_BIN_EXE_trapz-spmd");
    let normstats = env!("CARGO_BIN_EXE_normstats");
    let julia = env!("CARGO_BIN_EXE_julia");
    let maxnormal = env!("CARGO_BIN_EXE_maxnormal");
    let mut rows: Vec<(&str, Vec<f64>)> = [
        "trapz",
        "trapz_serial",
        "trapz_spmd",
        "normstats_ns",
        "julia_block",
        "julia_balanced",
        "maxnormal",
    ]
    .into_iter()
    .map(|k| (k, Vec::new()))
    .collect();
    let mut push = |k: &str, v: f64| rows.iter_mut().find(|r| r.0 == k).expect("row").1.push(v);
    for _ in 0..args.rounds {
        let t = app(3, trapz, &["--n", n, "--repeat", repeat, "--serial"]);
        push("trapz", t["seconds"].as_f64().unwrap());
        push("trapz_serial", t["serial_seconds"].as_f64().unwrap());
        let s = app(2, spmd, &["--n", n, "--repeat", repeat]);
        push("trapz_spmd", s["seconds"].as_f64().unwrap());
        let ns = app(3, normstats, &["--n", "1e6"]);
        push("normstats_ns", ns["seconds"].as_f64().unwrap() * 1e9 / 1e6);
        for schedule in ["block", "balanced"] {
            let j = app(
                3,
                julia,
                &["--schedule", schedule, "--repeat", repeat, "--no-output"],
            );
            push(&format!("julia_{schedule}"), j["seconds"].as_f64().unwrap());
        }
        let m = app(3, maxnormal, &["--no-output"]);
        push("maxnormal", m["seconds"].as_f64().unwrap());
    }
    let med: Vec<(&str, f64)> = rows
        .iter()
        .map(|(k, v)| (*k, mpiview_apps::stats::median(v.iter().copied())))
        .collect();
    let get = |k: &str| med.iter().find(|r| r.0 == k).map_or(f64::NAN, |r| r.1);
    let points: f64 = n.parse().unwrap();
    println!(
        "apps: mpirun -n 3 (controller + 2 engines), medians of {} rounds",
        args.rounds
    );
    println!(
        "trapz sin2, {n} points      {:>8.1} ms on 2 engines; 1 engine {:.1} ms ({:.3} ns/point); raw SPMD on 2 ranks {:.1} ms; ratio {:.3}",
        get("trapz") * 1e3,
        get("trapz_serial") * 1e3,
        get("trapz_serial") * 1e9 / points,
        get("trapz_spmd") * 1e3,
        get("trapz") / get("trapz_spmd")
    );
    println!(
        "normstats 10^6 draws/engine {:>8.2} ns per draw per engine ({:.1}x NumPy's 34 ns)",
        get("normstats_ns"),
        34.0 / get("normstats_ns")
    );
    println!(
        "julia 1024x1024             {:>8.1} ms block, {:.1} ms balanced",
        get("julia_block") * 1e3,
        get("julia_balanced") * 1e3
    );
    println!(
        "maxnormal defaults          {:>8.1} ms",
        get("maxnormal") * 1e3
    );
    if args.json {
        let mut report = json!({ "date": support::today(), "ranks": 3, "rounds": args.rounds, "trapz_points": points });
        for (k, v) in &med {
            report[*k] = json!(v);
        }
        println!("{report}");
    }
    ExitCode::SUCCESS
}
