//! Micro-benchmarks of the runtime beside raw MPI: apply round trip (also after 20 ms idle),
//! push+pull, load-balanced task throughput, scatter and gather bandwidth, peak memory, idle
//! CPU, start-up.
//!
//! ```text
//! cargo bench --bench micro                       # controller + 2 engines (mpirun -n 3)
//! cargo bench --bench micro -- --np 5 --json      # one JSON object on the last line
//! ```
//!
//! One command runs both sides, alternating, `--rounds` times: a raw rsmpi job (every rank in
//! SPMD style: `MPI_Bcast`+`MPI_Gather`, `MPI_Scatterv`, `MPI_Gatherv`, Open MPI's default
//! settings) and an mpiview job (controller + engines). Each job reports medians of many
//! repetitions; the table shows the median over rounds. Start-up is `mpirun` to the first reply
//! (mpiview) or to the first barrier after `MPI_Init` (raw).

#[path = "support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use mpi::datatype::{Partition, PartitionMut};
use mpi::traits::*;
use mpiview::{Cluster, Result};
use ndarray::{Array1, IxDyn};
use serde_json::{Value as Json, json};
use support::{median, now_epoch, peak_rss, per_call, reset_peak_rss, rss};

/// Trivial tasks of the load-balanced throughput figure.
const TASKS: u64 = 100_000;
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
#[command(about = "mpiview micro-benchmarks beside raw MPI")]
struct Args {
    /// Ranks of each job (controller + engines).
    #[arg(long, default_value_t = 3)]
    np: usize,
    /// Elements (f64) scattered and gathered.
    #[arg(long, default_value_t = 10_000_000)]
    elements: usize,
    /// Repetitions of each bandwidth measurement inside a job.
    #[arg(long, default_value_t = 11)]
    reps: usize,
    /// Rounds of (raw job, mpiview job).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Start-up launches of each kind.
    #[arg(long, default_value_t = 5)]
    startup_runs: usize,
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
        Role::Mpiview => mpiview_job(&args),
        Role::StartupRaw | Role::StartupMpiview => startup_job(&args),
    }
}

/// Runs this binary under mpirun in `role`; the JSON object it printed after `result `.
fn job(args: &Args, role: &str) -> Json {
    let a = |s: &str| s.to_string();
    support::self_job(
        args.np,
        &[
            a("--role"),
            a(role),
            a("--elements"),
            args.elements.to_string(),
            a("--reps"),
            args.reps.to_string(),
            a("--launched"),
            now_epoch().to_string(),
        ],
    )
}

fn launcher(args: &Args) -> ExitCode {
    let mut raw = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..args.rounds {
        raw.push(job(args, "raw"));
        ours.push(job(args, "mpiview"));
    }
    let mut startup_raw = Vec::new();
    let mut startup_ours = Vec::new();
    for _ in 0..args.startup_runs {
        startup_raw.push(
            job(args, "startup-raw")["seconds"]
                .as_f64()
                .unwrap_or(f64::NAN),
        );
        startup_ours.push(
            job(args, "startup-mpiview")["seconds"]
                .as_f64()
                .unwrap_or(f64::NAN),
        );
    }
    let med = |jobs: &[Json], key: &str| {
        mpiview_apps::stats::median(jobs.iter().filter_map(|j| j[key].as_f64()))
    };
    let med_f = mpiview_apps::stats::median;
    let last = ours.last().expect("one round at least");
    let report = json!({
        "date": support::today(),
        "ranks": args.np,
        "engines": args.np - 1,
        "elements": args.elements,
        "rounds": args.rounds,
        "apply_sync_us": med(&ours, "apply_sync_us"),
        "raw_bcast_gather_us": med(&raw, "bcast_gather_us"),
        "idle_apply_sync_us": med(&ours, "idle_apply_sync_us"),
        "raw_idle_bcast_gather_us": med(&raw, "idle_bcast_gather_us"),
        "push_pull_us": med(&ours, "push_pull_us"),
        "raw_two_bcast_gather_us": 2.0 * med(&raw, "bcast_gather_us"),
        "lb_tasks_per_s": med(&ours, "lb_tasks_per_s"),
        "raw_task_farm_per_s": med(&raw, "task_farm_per_s"),
        "scatter_gb_s": med(&ours, "scatter_gb_s"),
        "scatter_plain_gb_s": med(&ours, "scatter_plain_gb_s"),
        "raw_scatterv_plain_gb_s": med(&raw, "scatterv_plain_gb_s"),
        "gather_gb_s": med(&ours, "gather_gb_s"),
        "gather_into_gb_s": med(&ours, "gather_into_gb_s"),
        "raw_scatterv_gb_s": med(&raw, "scatterv_gb_s"),
        "raw_gatherv_gb_s": med(&raw, "gatherv_gb_s"),
        "raw_scatterv_fresh_gb_s": med(&raw, "scatterv_fresh_gb_s"),
        "raw_gatherv_fresh_gb_s": med(&raw, "gatherv_fresh_gb_s"),
        "controller_extra_mb_during_scatter": last["controller_extra_mb_during_scatter"],
        "engine_peak_growth_mb_during_scatter": last["engine_peak_growth_mb_during_scatter"],
        "engine_partition_mb": last["engine_partition_mb"],
        "idle_controller_cpu_s": med(&ours, "idle_controller_cpu_s"),
        "busy_engines_cpu_s": last["busy_engines_cpu_s"],
        "busy_wall_s": med(&ours, "busy_wall_s"),
        "startup_s": med_f(startup_ours),
        "raw_startup_s": med_f(startup_raw),
    });
    let f = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "mpiview micro-benchmarks: {} ranks ({} engines), medians of {} rounds",
        args.np,
        args.np - 1,
        args.rounds
    );
    println!("{:<38} {:>10} {:>14}", "", "mpiview", "raw MPI");
    println!(
        "{:<38} {:>8.2} us {:>11.2} us",
        "apply_sync, trivial, all engines",
        f("apply_sync_us"),
        f("raw_bcast_gather_us")
    );
    println!(
        "{:<38} {:>8.2} us {:>11.2} us",
        format!("the same after {} ms idle", IDLE.as_millis()),
        f("idle_apply_sync_us"),
        f("raw_idle_bcast_gather_us")
    );
    println!(
        "{:<38} {:>8.2} us {:>11.2} us",
        "push + pull of a scalar",
        f("push_pull_us"),
        f("raw_two_bcast_gather_us")
    );
    println!(
        "{:<38} {:>8.0}/s {:>11.0}/s",
        "load-balanced trivial tasks, chunksize 1",
        f("lb_tasks_per_s"),
        f("raw_task_farm_per_s")
    );
    println!(
        "{:<38} {:>6.2} GB/s {:>9.2} GB/s",
        format!("scatter {} f64 (huge pages)", args.elements),
        f("scatter_gb_s"),
        f("raw_scatterv_gb_s")
    );
    println!(
        "{:<38} {:>6.2} GB/s {:>9.2} GB/s",
        "scatter from a plain Vec",
        f("scatter_plain_gb_s"),
        f("raw_scatterv_plain_gb_s")
    );
    println!(
        "{:<38} {:>6.2} GB/s {:>9.2} GB/s",
        "gather (new array each time)",
        f("gather_gb_s"),
        f("raw_gatherv_fresh_gb_s")
    );
    println!(
        "{:<38} {:>6.2} GB/s {:>9.2} GB/s",
        "gather_into (reused array)",
        f("gather_into_gb_s"),
        f("raw_gatherv_gb_s")
    );
    println!(
        "{:<38} {:>9.3} s {:>12.3} s",
        "start-up to first reply",
        f("startup_s"),
        f("raw_startup_s")
    );
    let growth: Vec<String> = report["engine_peak_growth_mb_during_scatter"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Json::as_f64)
                .map(|x| format!("{x:.1}"))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "memory: a scatter added {:.1} MB on the controller; engine peaks grew by [{}] MB (partition {:.1} MB)",
        f("controller_extra_mb_during_scatter"),
        growth.join(", "),
        f("engine_partition_mb")
    );
    let busy: Vec<String> = report["busy_engines_cpu_s"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Json::as_f64)
                .map(|x| format!("{x:.2}"))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "engines computing 1 s ({:.2} s wall): the waiting controller used {:.3} s of CPU, the engines [{}] s",
        f("busy_wall_s"),
        f("idle_controller_cpu_s"),
        busy.join(", ")
    );
    if args.json {
        println!("{report}");
    }
    ExitCode::SUCCESS
}

/// Raw rsmpi on `MPI_COMM_WORLD`, every rank taking part; the root keeps no share of the data,
/// as the controller keeps none.
fn raw_job(args: &Args) -> ExitCode {
    let universe = mpi::initialize().expect("MPI");
    let world = universe.world();
    let rank = world.rank();
    let size = world.size() as usize;
    let root = world.process_at_rank(0);
    // One request broadcast, one reply from every rank gathered: what `apply_sync` does.
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
    // The same round trip after the root slept: the other ranks wait inside MPI_Bcast, which
    // busy-polls (their cores stay busy the whole time).
    let after_idle = median(
        (0..IDLE_ROUNDS)
            .map(|_| {
                if rank == 0 {
                    std::thread::sleep(IDLE);
                }
                let t = Instant::now();
                round_trip();
                t.elapsed()
            })
            .collect::<Vec<_>>(),
    );
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
        median(
            (0..args.reps)
                .map(|_| {
                    world.barrier();
                    let t = Instant::now();
                    f();
                    world.barrier();
                    t.elapsed()
                })
                .collect::<Vec<_>>(),
        )
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
    let fresh_scatter = time(&mut || {
        let mut p = vec![0.0f64; mine];
        scatter(&mut p);
        std::hint::black_box(&p);
    });
    let fresh_gather = time(&mut || {
        let mut a = if rank == 0 {
            vec![0.0f64; n]
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

fn mpiview_job(args: &Args) -> ExitCode {
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
    let n = args.elements;
    let reps = args.reps;
    cluster.run(|client| -> Result<()> {
        let dview = client.direct_view();
        let engines = client.n_engines();
        let apply = per_call(21, 1000, || {
            let r: Vec<u64> = dview.apply_sync(&trivial, 7).expect("apply");
            assert_eq!(r.len(), engines);
        });
        // The round trip to engines that have been idle (asleep between tests) for a while.
        let after_idle = median(
            (0..IDLE_ROUNDS)
                .map(|_| {
                    std::thread::sleep(IDLE);
                    let t = Instant::now();
                    let r: Vec<u64> = dview.apply_sync(&trivial, 7).expect("apply");
                    assert_eq!(r.len(), engines);
                    t.elapsed()
                })
                .collect::<Vec<_>>(),
        );
        let push_pull = per_call(21, 1000, || {
            dview.push("x", 1.5f64).expect("push");
            let _: Vec<f64> = dview.pull("x").expect("pull");
        });
        // The load-balanced task stream: trivial tasks one per message.
        let lview = client.load_balanced_view().chunksize(1);
        let tasks_per_s = median(
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    let r = lview.map_sync(&trivial, 0..TASKS).expect("map");
                    assert_eq!(r.len() as u64, TASKS);
                    Duration::from_secs_f64(t.elapsed().as_secs_f64() / TASKS as f64)
                })
                .collect::<Vec<_>>(),
        );

        // CPU the waiting controller uses while the engines compute for 1 s, and what the
        // engines got (two engines on two cores should get both).
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
        let gbs = |d: Duration| (n * 8) as f64 / d.as_secs_f64() / 1e9;
        support::emit(&json!({
            "apply_sync_us": apply.as_secs_f64() * 1e6,
            "idle_apply_sync_us": after_idle.as_secs_f64() * 1e6,
            "push_pull_us": push_pull.as_secs_f64() * 1e6,
            "lb_tasks_per_s": 1.0 / tasks_per_s.as_secs_f64(),
            "scatter_gb_s": gbs(median(scatter)),
            "scatter_plain_gb_s": gbs(median(scatter_plain)),
            "gather_gb_s": gbs(median(gather)),
            "gather_into_gb_s": gbs(median(gather_into)),
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
