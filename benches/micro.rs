//! Micro-benchmarks of the runtime beside raw MPI, over a sweep of rank counts: apply round trip
//! (also after 20 ms idle), push+pull, load-balanced task throughput, scatter and gather
//! bandwidth (also a non-blocking scatter, and a hand-off of data to engines still busy while
//! others wait for work); at the first rank count also peak memory, idle CPU and start-up.
//!
//! ```text
//! cargo bench --bench micro                                  # mpirun -n 3 (controller + 2 engines)
//! cargo bench --bench micro -- --np 2,3,5,9,17 --png target/micro.png --json
//! OMPI_MCA_btl_vader_single_copy_mechanism=none cargo bench --bench micro -- --np 2,3,5
//! OMPI_MCA_btl=self,tcp cargo bench --bench micro -- --np 2,3,5
//! ```
//!
//! For every rank count one command runs, `--rounds` times each: a raw rsmpi job (SPMD,
//! blocking collectives, the root keeping no share of the data as the controller keeps none)
//! under each of Open MPI's yield settings (`mpi_yield_when_idle` 0 and 1; the better median of
//! the two is shown for every figure), then an mpiview job (controller + engines). Each job
//! reports medians of many repetitions; the table shows the median over rounds. The raw
//! baselines are what an MPI programmer would write for the same work:
//!
//! - apply: one `MPI_Bcast` of the request and one `MPI_Gather` of the replies;
//! - push + pull: one round trip (a push with its data, then the value back), i.e. the same
//!   `Bcast` + `Gather` (the goal is at most twice it);
//! - the task stream: rank 0 keeps two 8-byte tasks in flight per worker;
//! - scatter/gather: `MPI_Scatterv`/`MPI_Gatherv` of the same array, from and into huge-page
//!   buffers as mpiview's arrays are (and "new array": a fresh huge-page buffer every time, as
//!   `gather` allocates).

#[path = "support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::*;
use mpiview::{Cluster, Result};
use mpiview_apps::stats::median;
use ndarray::{Array1, IxDyn};
use serde_json::{Value as Json, json};
use support::{now_epoch, peak_rss, per_call, reset_peak_rss, rss};

/// Trivial tasks of the load-balanced throughput figure.
const TASKS: u64 = 100_000;
/// Trivial items of the automatic-chunk throughput figure.
const ITEMS: u64 = 10_000_000;
/// How long the driver idles before the "after idle" round trips, and how many it times.
const IDLE: Duration = Duration::from_millis(20);
const IDLE_ROUNDS: usize = 21;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Role {
    Launcher,
    Raw,
    Mpiview,
    StartupRaw,
    StartupMpiview,
}

#[derive(Parser, Debug)]
#[command(about = "mpiview micro-benchmarks beside raw MPI, over rank counts")]
struct Args {
    /// Ranks of each job (controller + engines); several, comma-separated, make a sweep.
    #[arg(long, value_delimiter = ',', default_value = "3")]
    np: Vec<usize>,
    /// Elements (f64) scattered and gathered.
    #[arg(long, default_value_t = 10_000_000)]
    elements: usize,
    /// Repetitions of each bandwidth measurement inside a job.
    #[arg(long, default_value_t = 11)]
    reps: usize,
    /// Rounds of (raw jobs, mpiview job) per rank count.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Start-up launches of each kind (at the first rank count).
    #[arg(long, default_value_t = 5)]
    startup_runs: usize,
    /// Writes a chart of apply latency against engines, mpiview beside raw.
    #[arg(long)]
    png: Option<std::path::PathBuf>,
    /// Print one JSON object on the last line.
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value_t = Role::Launcher, hide = true)]
    role: Role,
    #[arg(long, hide = true)]
    launched: Option<f64>,
    /// cargo bench passes --bench.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if args.role == Role::Launcher && !args.bench {
        // `cargo test` runs bench targets without `--bench`: a quick smoke run of the same code.
        args.elements = args.elements.min(100_000);
        args.reps = 3;
        args.rounds = 1;
        args.startup_runs = 1;
    }
    match args.role {
        Role::Launcher => launcher(&args),
        Role::Raw => raw_job(&args),
        Role::Mpiview => mpiview_job(&args, args.bench),
        Role::StartupRaw | Role::StartupMpiview => startup_job(&args),
    }
}

/// Runs this binary on `np` ranks in `role` (with Open MPI's yielding set when `yield_` is
/// given); the JSON object it printed.
fn job(args: &Args, np: usize, role: &str, yield_: Option<u8>) -> Json {
    let mut options = vec![
        ("--role", role.to_string()),
        ("--elements", args.elements.to_string()),
        ("--reps", args.reps.to_string()),
        ("--launched", now_epoch().to_string()),
    ];
    if args.bench {
        options.push(("--bench", String::new()));
    }
    let env: Vec<(&str, String)> = yield_
        .map(|y| ("OMPI_MCA_mpi_yield_when_idle", y.to_string()))
        .into_iter()
        .collect();
    support::self_job(np, &options, &env)
}

/// Figures where more is better (the better of the raw yield settings is the larger).
const HIGHER_IS_BETTER: [&str; 6] = [
    "task_farm_per_s",
    "scatterv_gb_s",
    "scatterv_plain_gb_s",
    "gatherv_gb_s",
    "scatterv_fresh_gb_s",
    "gatherv_fresh_gb_s",
];

/// One rank count's figures: the raw medians (the better yield setting for each) and mpiview's.
///
/// With more ranks than cores, only yielding is measured for raw MPI: Open MPI itself turns it
/// on then, and ranks that spin without yielding starve each other (a 3-rank Bcast + Gather loop
/// on 2 cores did not finish 20,000 round trips in 2 minutes).
fn sweep_point(args: &Args, np: usize) -> Json {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let settings: &[u8] = if np > cores { &[1] } else { &[0, 1] };
    let mut raw = [Vec::new(), Vec::new()];
    let mut ours = Vec::new();
    for _ in 0..args.rounds {
        for &y in settings {
            raw[y as usize].push(job(args, np, "raw", Some(y)));
        }
        ours.push(job(args, np, "mpiview", None));
    }
    let med = |jobs: &[Json], key: &str| median(jobs.iter().filter_map(|j| j[key].as_f64()));
    let keys: Vec<String> = raw[1][0]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let mut best = serde_json::Map::new();
    for key in keys {
        let (a, b) = (med(&raw[0], &key), med(&raw[1], &key));
        let higher = HIGHER_IS_BETTER.contains(&key.as_str());
        let pick = if a.is_nan() || (a > b) != higher {
            b
        } else {
            a
        };
        best.insert(format!("raw_{key}"), json!(pick));
        best.insert(format!("raw_yield0_{key}"), json!(a));
        best.insert(format!("raw_yield1_{key}"), json!(b));
    }
    let mut point = serde_json::Map::new();
    point.insert("ranks".into(), json!(np));
    point.insert("engines".into(), json!(np - 1));
    let first = ours.first().cloned().unwrap_or(Json::Null);
    if let Some(o) = first.as_object() {
        for (key, value) in o {
            let v = match value.as_f64() {
                Some(_) => json!(med(&ours, key)),
                None => value.clone(),
            };
            point.insert(key.clone(), v);
        }
    }
    point.extend(best);
    Json::Object(point)
}

fn launcher(args: &Args) -> ExitCode {
    let points: Vec<Json> = args.np.iter().map(|&np| sweep_point(args, np)).collect();
    let first = args.np[0];
    let mut startup_raw = Vec::new();
    let mut startup_ours = Vec::new();
    for _ in 0..args.startup_runs {
        startup_raw.push(job(args, first, "startup-raw", None)["seconds"].as_f64());
        startup_ours.push(job(args, first, "startup-mpiview", None)["seconds"].as_f64());
    }
    let report = json!({
        "date": support::today(),
        "elements": args.elements,
        "rounds": args.rounds,
        "transport": support::transport(),
        "points": points,
        "startup_ranks": first,
        "startup_s": median(startup_ours.into_iter().flatten()),
        "raw_startup_s": median(startup_raw.into_iter().flatten()),
    });
    print_table(args, &report);
    if let Some(path) = &args.png {
        match chart(path, &report) {
            Ok(p) => println!("chart: {}", p.display()),
            Err(e) => eprintln!("warning: no chart: {e}"),
        }
    }
    if args.json {
        println!("{report}");
    }
    ExitCode::SUCCESS
}

fn print_table(args: &Args, report: &Json) {
    let f = |p: &Json, k: &str| p[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "mpiview micro-benchmarks ({}), medians of {} rounds; raw MPI: the better of Open MPI's yield settings",
        report["transport"].as_str().unwrap_or(""),
        args.rounds
    );
    println!(
        "{:>5} | {:>17} | {:>11} | {:>17} | {:>17} | {:>22} | {:>9} | {:>17} | {:>17} | {:>17}",
        "ranks",
        "apply us (x raw)",
        "captured us",
        "idle apply us",
        "push+pull us (x)",
        "tasks/s (x farm)",
        "auto M/s",
        "scatter GB/s (x)",
        "gather_into (x)",
        "gather new (x)",
    );
    for p in report["points"].as_array().into_iter().flatten() {
        let ratio = |a: f64, b: f64| a / b;
        println!(
            "{:>5} | {:>8.2} ({:>5.2}x) | {:>11.2} | {:>7.1} / {:>5.1}  | {:>8.2} ({:>5.2}x) | {:>10.0} ({:>5.2}x) | {:>9.1} | {:>7.2} ({:>5.2}x) | {:>7.2} ({:>5.2}x) | {:>7.2} ({:>5.2}x)",
            p["ranks"],
            f(p, "apply_sync_us"),
            ratio(f(p, "apply_sync_us"), f(p, "raw_bcast_gather_us")),
            f(p, "apply_captured_us"),
            f(p, "idle_apply_sync_us"),
            f(p, "raw_idle_bcast_gather_us"),
            f(p, "push_pull_us"),
            ratio(f(p, "push_pull_us"), f(p, "raw_bcast_gather_us")),
            f(p, "lb_tasks_per_s"),
            ratio(f(p, "lb_tasks_per_s"), f(p, "raw_task_farm_per_s")),
            f(p, "auto_items_per_s") / 1e6,
            f(p, "scatter_gb_s"),
            ratio(f(p, "scatter_gb_s"), f(p, "raw_scatterv_gb_s")),
            f(p, "gather_into_gb_s"),
            ratio(f(p, "gather_into_gb_s"), f(p, "raw_gatherv_gb_s")),
            f(p, "gather_gb_s"),
            ratio(f(p, "gather_gb_s"), f(p, "raw_gatherv_fresh_gb_s")),
        );
    }
    if let Some(p) = report["points"].as_array().and_then(|a| a.first()) {
        let list = |k: &str| {
            p[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_f64)
                        .map(|x| format!("{x:.2}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        for p in report["points"].as_array().into_iter().flatten() {
            println!(
                "at {} ranks: scatter_async {:.2} GB/s (blocking {:.2}, from plain memory {:.2}); \
                 hand-off to a busy half: blocking {:.0} ms, non-blocking {:.0} ms, ideal {:.0} ms",
                p["ranks"],
                f(p, "scatter_async_gb_s"),
                f(p, "scatter_gb_s"),
                f(p, "scatter_plain_gb_s"),
                f(p, "handoff_blocking_ms"),
                f(p, "handoff_async_ms"),
                f(p, "handoff_ideal_ms"),
            );
        }
        println!(
            "at {} ranks: a scatter added {:.1} MB on the controller and [{}] MB on the engines (partition {:.1} MB); \
             the controller used {:.3} s of CPU while engines computed 1 s ({:.2} s wall; engines got [{}] s); \
             start-up to the first reply {:.3} s (raw, to the first barrier: {:.3} s)",
            p["ranks"],
            f(p, "controller_extra_mb_during_scatter"),
            list("engine_peak_growth_mb_during_scatter"),
            f(p, "engine_partition_mb"),
            f(p, "idle_controller_cpu_s"),
            f(p, "busy_wall_s"),
            list("busy_engines_cpu_s"),
            f(report, "startup_s"),
            f(report, "raw_startup_s"),
        );
    }
}

/// The apply latency against engines, mpiview beside raw MPI.
fn chart(path: &std::path::Path, report: &Json) -> std::result::Result<std::path::PathBuf, String> {
    use mpiview_apps::io::png::{LineChart, LineSeries, lines_png};
    let points = report["points"].as_array().cloned().unwrap_or_default();
    let series = |label: &str, key: &str| LineSeries {
        label: label.into(),
        x: points
            .iter()
            .map(|p| p["engines"].as_f64().unwrap_or(f64::NAN))
            .collect(),
        y: points
            .iter()
            .map(|p| p[key].as_f64().unwrap_or(f64::NAN))
            .collect(),
    };
    let chart = LineChart {
        title: format!(
            "apply on all engines ({})",
            report["transport"].as_str().unwrap_or("")
        ),
        x_label: "engines".into(),
        y_label: "round trip (µs)".into(),
        ..LineChart::default()
    };
    lines_png(
        path,
        &[
            series("mpiview apply_sync", "apply_sync_us"),
            series("raw MPI Bcast + Gather", "raw_bcast_gather_us"),
        ],
        &chart,
    )
    .map_err(|e| e.to_string())
}

/// Raw rsmpi on `MPI_COMM_WORLD`, every rank taking part; the root keeps no share of the data,
/// as the controller keeps none.
fn raw_job(args: &Args) -> ExitCode {
    let universe = mpi::initialize().expect("MPI");
    let world = universe.world();
    let rank = world.rank();
    let size = world.size() as usize;
    let root = world.process_at_rank(0);
    // One request broadcast, one reply from every rank gathered: what `apply_sync` does, and
    // the round trip a push followed by a pull makes at least.
    let round_trip = || {
        let mut request = [0u8; 8];
        root.broadcast_into(&mut request);
        let reply = [rank as u8; 8];
        if rank == 0 {
            let mut replies = vec![0u8; 8 * size];
            root.gather_into_root(&reply[..], &mut replies[..]);
        } else {
            root.gather_into(&reply[..]);
        }
    };
    let bcast_gather = per_call(21, 1000, &round_trip);
    // The same round trip after the root slept: the other ranks wait inside MPI_Bcast (which
    // busy-polls, or yields with mpi_yield_when_idle).
    let after_idle = mpiview_apps::stats::median_duration((0..IDLE_ROUNDS).map(|_| {
        if rank == 0 {
            std::thread::sleep(IDLE);
        }
        let t = Instant::now();
        round_trip();
        t.elapsed()
    }));
    let n = args.elements;
    let engines = size - 1;
    let counts: Vec<i32> = std::iter::once(0)
        .chain((0..engines).map(|i| mpiview::partition::block_len(n, engines, i) as i32))
        .collect();
    let displs: Vec<i32> =
        mpiview::partition::offsets(&counts.iter().map(|&c| c as usize).collect::<Vec<_>>())
            .into_iter()
            .map(|d| d as i32)
            .collect();
    let mine = counts[rank as usize] as usize;
    let huge = |len: usize| {
        mpiview::arrays::from_fn(len, |i| i as f64)
            .into_raw_vec_and_offset()
            .0
    };
    let data: Vec<f64> = if rank == 0 { huge(n) } else { Vec::new() };
    let plain: Vec<f64> = if rank == 0 {
        (0..n).map(|i| i as f64).collect()
    } else {
        Vec::new()
    };
    let time = |f: &mut dyn FnMut()| -> Duration {
        mpiview_apps::stats::median_duration((0..args.reps).map(|_| {
            world.barrier();
            let t = Instant::now();
            f();
            world.barrier();
            t.elapsed()
        }))
    };
    let mut part = huge(mine);
    let mut all = if rank == 0 { huge(n) } else { Vec::new() };
    let scatter_from = |source: &[f64], part: &mut [f64]| {
        if rank == 0 {
            root.scatter_varcount_into_root(
                &Partition::new(source, &counts[..], &displs[..]),
                part,
            );
        } else {
            root.scatter_varcount_into(part);
        }
    };
    let scatter = |part: &mut [f64]| scatter_from(&data, part);
    let gather = |part: &[f64], all: &mut [f64]| {
        if rank == 0 {
            root.gather_varcount_into_root(
                part,
                &mut PartitionMut::new(all, &counts[..], &displs[..]),
            );
        } else {
            root.gather_varcount_into(part);
        }
    };
    let reused_scatter = time(&mut || scatter(&mut part));
    let plain_scatter = time(&mut || scatter_from(&plain, &mut part));
    let reused_gather = time(&mut || gather(&part, &mut all));
    // Into fresh memory every time: huge-page buffers, as mpiview's receives are.
    let fresh_scatter = time(&mut || {
        let mut p = huge(mine);
        scatter(&mut p);
        std::hint::black_box(&p);
    });
    let fresh_gather = time(&mut || {
        let mut a = if rank == 0 {
            mpiview::arrays::zeros::<f64, _, _>(n)
                .into_raw_vec_and_offset()
                .0
        } else {
            Vec::new()
        };
        gather(&part, &mut a);
        std::hint::black_box(&a);
    });
    let farm = support::raw_task_farm(&world, TASKS);
    if rank == 0 {
        let gbs = |d: Duration| (n * 8) as f64 / d.as_secs_f64() / 1e9;
        support::emit(&json!({
            "task_farm_per_s": farm,
            "bcast_gather_us": bcast_gather.as_secs_f64() * 1e6,
            "idle_bcast_gather_us": after_idle.as_secs_f64() * 1e6,
            "scatterv_gb_s": gbs(reused_scatter),
            "scatterv_plain_gb_s": gbs(plain_scatter),
            "gatherv_gb_s": gbs(reused_gather),
            "scatterv_fresh_gb_s": gbs(fresh_scatter),
            "gatherv_fresh_gb_s": gbs(fresh_gather),
        }));
    }
    ExitCode::SUCCESS
}

fn mpiview_job(args: &Args, full: bool) -> ExitCode {
    let mut cluster = Cluster::init().expect("MPI starts");
    let trivial = cluster.register("trivial", |x: u64| x);
    let memory = cluster.register("memory", |reset: bool| {
        let now = (rss(), peak_rss());
        if reset {
            reset_peak_rss();
        }
        now
    });
    let spin = cluster.register("spin", |ms: u64| {
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(ms) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        (x > 0, support::cpu_seconds())
    });
    let nap = cluster.register("nap", |d: Duration| std::thread::sleep(d));
    let n = args.elements;
    let reps = args.reps;
    let (tasks, items) = if full {
        (TASKS, ITEMS)
    } else {
        (2_000, 20_000)
    };
    cluster.run(|client| -> Result<()> {
        let dview = client.direct_view();
        let engines = client.n_engines();
        let apply = per_call(21, 1000, || {
            let r: Vec<u64> = dview.apply_sync(&trivial, 7).expect("apply");
            assert_eq!(r.len(), engines);
        });
        // The same with what the call prints captured on the engines and brought back.
        let capturing = dview.capture_output(true);
        let apply_captured = per_call(21, 1000, || {
            let r: Vec<u64> = capturing.apply_sync(&trivial, 7).expect("apply");
            assert_eq!(r.len(), engines);
        });
        // The round trip to engines that have been idle (asleep between tests) for a while.
        let after_idle = mpiview_apps::stats::median_duration((0..IDLE_ROUNDS).map(|_| {
            std::thread::sleep(IDLE);
            let t = Instant::now();
            let r: Vec<u64> = dview.apply_sync(&trivial, 7).expect("apply");
            assert_eq!(r.len(), engines);
            t.elapsed()
        }));
        let push_pull = per_call(21, 1000, || {
            dview.push("x", 1.5f64).expect("push");
            let _: Vec<f64> = dview.pull("x").expect("pull");
        });
        // The load-balanced task stream: trivial tasks one per message, then automatic chunks.
        let lview = client.load_balanced_view();
        let tasks_per_s = median((0..3).map(|_| {
            let t = Instant::now();
            let r = lview
                .chunksize(1)
                .map_sync(&trivial, 0..tasks)
                .expect("map");
            assert_eq!(r.len() as u64, tasks);
            tasks as f64 / t.elapsed().as_secs_f64()
        }));
        let auto_items_per_s = median((0..3).map(|_| {
            let t = Instant::now();
            let r = lview.map_sync(&trivial, 0..items).expect("map");
            assert_eq!(r.len() as u64, items);
            items as f64 / t.elapsed().as_secs_f64()
        }));

        // CPU the waiting controller uses while the engines compute for 1 s, and what the
        // engines got.
        let before = support::cpu_seconds();
        let t = Instant::now();
        let engine_cpu_before: Vec<(bool, f64)> = dview.apply_sync(&spin, 0)?;
        let done: Vec<(bool, f64)> = dview.apply_sync(&spin, 1000)?;
        let wall = t.elapsed().as_secs_f64();
        let controller_cpu = support::cpu_seconds() - before;
        let engine_cpu: Vec<f64> = done
            .iter()
            .zip(&engine_cpu_before)
            .map(|(a, b)| a.1 - b.1)
            .collect();

        // Memory: what a scatter adds on the controller and on the engines.
        let data = mpiview::arrays::from_fn(n, |i| i as f64);
        let plain = Array1::from_shape_fn(n, |i| i as f64);
        let before: Vec<(u64, u64)> = dview.apply_sync(&memory, true)?;
        reset_peak_rss();
        let controller_before = rss();
        dview.scatter("a", &data)?;
        let controller_extra = peak_rss().saturating_sub(controller_before);
        let after: Vec<(u64, u64)> = dview.apply_sync(&memory, false)?;
        let growth: Vec<f64> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| (a.1.saturating_sub(b.0)) as f64 / 1e6)
            .collect();

        let mut scatter = Vec::new();
        let mut scatter_plain = Vec::new();
        let mut gather = Vec::new();
        let mut gather_into = Vec::new();
        let mut out = mpiview::arrays::zeros::<f64, _, _>(IxDyn(&[n]));
        for _ in 0..reps {
            let t = Instant::now();
            dview.scatter("a", &plain)?;
            scatter_plain.push(t.elapsed());
            let t = Instant::now();
            dview.scatter("a", &data)?;
            scatter.push(t.elapsed());
            let t = Instant::now();
            let back = dview.gather::<f64>("a")?;
            gather.push(t.elapsed());
            assert_eq!(back.len(), n);
            drop(back);
            let t = Instant::now();
            dview.gather_into("a", &mut out)?;
            gather_into.push(t.elapsed());
        }
        assert_eq!(out[n - 1], (n - 1) as f64);
        // The same scatter (from the same huge-page buffer) without blocking, waited for at
        // once: what the queue costs.
        let shared = data.into_shared();
        let mut scatter_async = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            dview.scatter_async("a", shared.clone())?.get()?;
            scatter_async.push(t.elapsed());
        }
        // A hand-off: half B is busy for HANDOFF, and gets its next input; half A then computes
        // for HANDOFF. A blocking scatter holds the driver until B is free, so A starts late;
        // a non-blocking one lets A start at once. Ideal: HANDOFF + one scatter to B.
        let handoff = handoff_times(client, &nap, &plain, reps)?;
        let gbs = |d: Vec<Duration>| {
            (n * 8) as f64 / mpiview_apps::stats::median_duration(d).as_secs_f64() / 1e9
        };
        support::emit(&json!({
            "apply_sync_us": apply.as_secs_f64() * 1e6,
            "apply_captured_us": apply_captured.as_secs_f64() * 1e6,
            "idle_apply_sync_us": after_idle.as_secs_f64() * 1e6,
            "push_pull_us": push_pull.as_secs_f64() * 1e6,
            "lb_tasks_per_s": tasks_per_s,
            "auto_items_per_s": auto_items_per_s,
            "scatter_gb_s": gbs(scatter),
            "scatter_plain_gb_s": gbs(scatter_plain),
            "scatter_async_gb_s": gbs(scatter_async),
            "handoff_blocking_ms": handoff.map(|h| h.0 * 1e3),
            "handoff_async_ms": handoff.map(|h| h.1 * 1e3),
            "handoff_ideal_ms": handoff.map(|h| h.2 * 1e3),
            "gather_gb_s": gbs(gather),
            "gather_into_gb_s": gbs(gather_into),
            "controller_extra_mb_during_scatter": controller_extra as f64 / 1e6,
            "engine_peak_growth_mb_during_scatter": growth,
            "engine_partition_mb": (n * 8) as f64 / engines as f64 / 1e6,
            "idle_controller_cpu_s": controller_cpu,
            "busy_engines_cpu_s": engine_cpu,
            "busy_wall_s": wall,
        }));
        Ok(())
    })
}

/// How long a busy half of the engines sleeps in the hand-off figure.
const HANDOFF: Duration = Duration::from_millis(200);

/// Medians of the hand-off (blocking, non-blocking) and its ideal (`HANDOFF` plus a blocking
/// scatter to half B alone), in seconds; `None` with fewer than 2 engines.
fn handoff_times(
    client: &mpiview::Client,
    nap: &mpiview::Remote<Duration, ()>,
    data: &Array1<f64>,
    reps: usize,
) -> Result<Option<(f64, f64, f64)>> {
    let engines = client.n_engines();
    if engines < 2 {
        return Ok(None);
    }
    let half = (engines / 2) as isize;
    let (a, b) = (client.view(..half)?, client.view(half..)?);
    let shared = data.clone().into_shared();
    let (mut blocking, mut overlapped, mut alone) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = Instant::now();
        let busy = b.apply(nap, HANDOFF)?;
        b.scatter("next", data)?;
        let work = a.apply(nap, HANDOFF)?;
        busy.get()?;
        work.get()?;
        blocking.push(t.elapsed());

        let t = Instant::now();
        let busy = b.apply(nap, HANDOFF)?;
        let sent = b.scatter_async("next", shared.clone())?;
        let work = a.apply(nap, HANDOFF)?;
        busy.get()?;
        work.get()?;
        sent.get()?;
        overlapped.push(t.elapsed());

        let t = Instant::now();
        b.scatter("next", data)?;
        alone.push(t.elapsed() + HANDOFF);
    }
    let secs = |d: Vec<Duration>| mpiview_apps::stats::median_duration(d).as_secs_f64();
    Ok(Some((secs(blocking), secs(overlapped), secs(alone))))
}

fn startup_job(args: &Args) -> ExitCode {
    let launched = args.launched.expect("the launcher passes --launched");
    if args.role == Role::StartupRaw {
        let universe = mpi::initialize().expect("MPI");
        let world = universe.world();
        world.barrier();
        if world.rank() == 0 {
            support::emit(&json!({ "seconds": now_epoch() - launched }));
        }
        return ExitCode::SUCCESS;
    }
    let mut cluster = Cluster::init().expect("MPI starts");
    let trivial = cluster.register("trivial", |x: u64| x);
    cluster.run(|client| -> Result<()> {
        let _: Vec<u64> = client.direct_view().apply_sync(&trivial, 1)?;
        support::emit(&json!({ "seconds": now_epoch() - launched }));
        Ok(())
    })
}
