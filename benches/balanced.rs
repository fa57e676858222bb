//! Load-balanced view benchmarks beside a raw MPI task farm.
//!
//! ```text
//! cargo bench --bench balanced                   # controller + 2 engines (mpirun -n 3)
//! cargo bench --bench balanced -- --json
//! ```
//!
//! One command alternates, `--rounds` times, a raw rsmpi task farm (rank 0 keeps two 8-byte
//! tasks in flight per worker with `MPI_Isend`/`MPI_Irecv`, workers answer each at once) and an
//! mpiview job that measures: trivial tasks with `chunksize(1)`, trivial items with automatic
//! chunks, 10^6 tasks through one map (results in order, controller memory), and the balance of
//! 200 tasks of random length 0–20 ms.

#[path = "support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use mpiview::{Cluster, Result};
use mpiview_apps::stats::median;
use serde_json::{Value as Json, json};
use support::rss;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Role {
    Launcher,
    Raw,
    Mpiview,
}

#[derive(Parser, Debug)]
#[command(about = "LoadBalancedView benchmarks beside a raw MPI task farm")]
struct Args {
    /// Ranks of each job (controller + engines).
    #[arg(long, default_value_t = 3)]
    np: usize,
    /// Trivial tasks per throughput measurement (chunksize 1).
    #[arg(long, default_value_t = 200_000)]
    tasks: usize,
    /// Trivial items per automatic-chunk measurement.
    #[arg(long, default_value_t = 10_000_000)]
    items: usize,
    /// Tasks of the one big map (chunksize 1).
    #[arg(long, default_value_t = 1_000_000)]
    big: usize,
    /// Rounds of (raw job, mpiview job).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Print one JSON object on the last line.
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value_t = Role::Launcher, hide = true)]
    role: Role,
    /// cargo bench passes --bench.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if args.role == Role::Launcher && !args.bench {
        // `cargo test` runs bench targets without `--bench`: a quick smoke run.
        args.tasks = args.tasks.min(2_000);
        args.items = args.items.min(100_000);
        args.big = args.big.min(5_000);
        args.rounds = 1;
    }
    match args.role {
        Role::Launcher => launcher(&args),
        Role::Raw => raw_job(&args),
        Role::Mpiview => mpiview_job(&args),
    }
}

fn job(args: &Args, role: &str) -> Json {
    let options = [
        ("--role", role.to_string()),
        ("--tasks", args.tasks.to_string()),
        ("--items", args.items.to_string()),
        ("--big", args.big.to_string()),
    ];
    support::self_job(args.np, &options, &[])
}

fn launcher(args: &Args) -> ExitCode {
    let (mut raw, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        raw.push(job(args, "raw"));
        ours.push(job(args, "mpiview"));
    }
    let med = |jobs: &[Json], key: &str| median(jobs.iter().filter_map(|j| j[key].as_f64()));
    let report = json!({
        "date": support::today(),
        "ranks": args.np,
        "engines": args.np - 1,
        "rounds": args.rounds,
        "tasks_per_s_chunksize_1": med(&ours, "tasks_per_s"),
        "raw_task_farm_per_s": med(&raw, "tasks_per_s"),
        "items_per_s_auto_chunks": med(&ours, "items_per_s"),
        "big_map_tasks": args.big,
        "big_map_s": med(&ours, "big_map_s"),
        "big_map_in_order": ours.iter().all(|j| j["big_map_in_order"] == json!(true)),
        "controller_bytes_per_task": med(&ours, "controller_bytes_per_task"),
        "balance_makespan_s": med(&ours, "balance_makespan_s"),
        "balance_ideal_s": med(&ours, "balance_ideal_s"),
        "balance_ratio": med(&ours, "balance_ratio"),
    });
    let f = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "LoadBalancedView: {} ranks ({} engines), medians of {} rounds",
        args.np,
        args.np - 1,
        args.rounds
    );
    println!(
        "trivial tasks, chunksize 1      {:>12.0} tasks/s   raw MPI task farm {:>10.0} tasks/s",
        f("tasks_per_s_chunksize_1"),
        f("raw_task_farm_per_s")
    );
    println!(
        "trivial items, automatic chunks {:>12.0} items/s",
        f("items_per_s_auto_chunks")
    );
    println!(
        "{} tasks in one map         {:>12.2} s (in order: {}), controller memory {:.1} bytes/task",
        args.big,
        f("big_map_s"),
        report["big_map_in_order"],
        f("controller_bytes_per_task")
    );
    println!(
        "balance, 200 tasks of 0-20 ms   makespan {:.3} s, ideal {:.3} s, ratio {:.3}",
        f("balance_makespan_s"),
        f("balance_ideal_s"),
        f("balance_ratio")
    );
    if args.json {
        println!("{report}");
    }
    ExitCode::SUCCESS
}

/// A raw MPI task farm: the root keeps two tasks in flight per worker.
fn raw_job(args: &Args) -> ExitCode {
    let universe = mpi::initialize().expect("MPI");
    if let Some(per_s) = support::raw_task_farm(&universe.world(), args.tasks as u64) {
        support::emit(&json!({ "tasks_per_s": per_s }));
    }
    ExitCode::SUCCESS
}

fn mpiview_job(args: &Args) -> ExitCode {
    let mut cluster = Cluster::init().expect("MPI starts");
    let inc = cluster.register("inc", |x: u64| x + 1);
    let nap = cluster.register("nap", |us: u64| {
        std::thread::sleep(Duration::from_micros(us));
        us
    });
    let (tasks, items, big) = (args.tasks as u64, args.items as u64, args.big as u64);
    cluster.run(|client| -> Result<()> {
        let lview = client.load_balanced_view();
        // Trivial tasks, one per message.
        let per_s: Vec<f64> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let r = lview.chunksize(1).map_sync(&inc, 0..tasks).expect("map");
                assert_eq!(r.len() as u64, tasks);
                tasks as f64 / t.elapsed().as_secs_f64()
            })
            .collect();
        // Trivial items, automatic chunks.
        let items_per_s: Vec<f64> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let r = lview.map_sync(&inc, 0..items).expect("map");
                assert_eq!(r[r.len() - 1], items);
                items as f64 / t.elapsed().as_secs_f64()
            })
            .collect();
        // 10^6 tasks through one map: every result, in order; what the controller keeps.
        let before = rss();
        let t = Instant::now();
        let r = lview.chunksize(1).map(&inc, 0..big)?;
        r.wait(None)?;
        let big_s = t.elapsed().as_secs_f64();
        let grown = rss().saturating_sub(before);
        let values = r.get()?;
        let in_order = values.len() as u64 == big
            && values.iter().enumerate().all(|(i, &v)| v == i as u64 + 1);
        drop(values);
        drop(r);
        // Balance: 200 tasks of pseudo-random length 0–20 ms.
        let mut x = 2026u64;
        let lengths: Vec<u64> = (0..200)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % 20_001
            })
            .collect();
        let t = Instant::now();
        let r = lview.map(&nap, lengths.clone())?;
        r.wait(None)?;
        let makespan = t.elapsed().as_secs_f64();
        let work: f64 = r.timings().iter().map(|t| t.duration().as_secs_f64()).sum();
        let ideal = work / client.n_engines() as f64;
        support::emit(&json!({
            "tasks_per_s": median(per_s),
            "items_per_s": median(items_per_s),
            "big_map_s": big_s,
            "big_map_in_order": in_order,
            "controller_bytes_per_task": grown as f64 / big as f64,
            "balance_makespan_s": makespan,
            "balance_ideal_s": ideal,
            "balance_ratio": makespan / ideal,
        }));
        Ok(())
    })
}
