//! `normstats`: every engine draws standard normals and reports their mean, max and min (the
//! seed lab's Problems 3 and 4).
//!
//! ```text
//! mpirun -n 5 normstats                 # 10^6 draws per engine
//! mpirun -n 5 normstats --compare       # all engines at once vs one engine in a loop
//! ```
//!
//! Engine `i` draws from random stream `i` of the seed, so an engine's numbers are the same in a
//! run with any number of engines.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mpiview::{Client, Cluster, Remote, Result};
use mpiview_apps::cli::{parse_args, parse_positive_count, parse_seed};
use mpiview_apps::kernels::normal::{NormalStats, normal_stats};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "normstats",
    about = "Each engine draws n standard normals and reports mean, max and min.",
    after_help = "Numbers accept 1e6 and 1_000_000. Engine i draws from stream i of --seed, so its \
                  numbers do not depend on how many engines run.\n\
                  --json prints one object on the last line of stdout with the keys: app, n, seed, \
                  engines, means, maxs, mins, seconds, and with --compare also compare: a list of \
                  {n, parallel_s, serial_s, speedup}.\n\
                  Exit codes: 0 success; 2 bad input (one message, nothing computed); 1 any other \
                  failure."
)]
struct Args {
    /// Standard normal draws per engine.
    #[arg(short, long, default_value = "1e6", value_parser = parse_positive_count, allow_negative_numbers = true)]
    n: u64,
    /// Seed of the random streams.
    #[arg(long, default_value = "2026", value_parser = parse_seed, allow_negative_numbers = true)]
    seed: u64,
    /// Also print the seed lab's table: for each size, the time of all engines drawing at once
    /// against one engine drawing the same amounts in turn.
    #[arg(long)]
    compare: bool,
    /// The draw counts of --compare.
    #[arg(long, value_delimiter = ',', default_value = "1e6,5e6,1e7,1.5e7", value_parser = parse_positive_count, allow_negative_numbers = true)]
    sizes: Vec<u64>,
    /// Progress on stderr: `auto` (a bar when the launcher's output is a terminal, once the
    /// wait has lasted 0.2 s), `always` (`--progress` alone; a line every 5 s in a log) or
    /// `never`. `MPIVIEW_PROGRESS=0` or `1` sets the default.
    #[arg(long, value_name = "WHEN", default_value = "auto", num_args = 0..=1, default_missing_value = "always", value_parser = mpiview_apps::cli::parse_progress)]
    progress: mpiview::ShowProgress,
    /// Print a JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
}

/// Draws of one stream.
type Draw = (u64, u64, u64); // (seed, stream, n)

fn main() -> ExitCode {
    let mut cluster = Cluster::init().expect("MPI starts");
    let draw = cluster.register("normal_stats", |(seed, stream, n): Draw| {
        normal_stats(seed, stream, n)
    });
    let parsed = parse_args::<Args>(cluster.rank(), std::env::args_os());
    cluster.run(|client| parsed.run(|args| run(client, &args, &draw)))
}

/// Every engine of `view` draws its streams; the stats in stream order and the seconds taken.
fn draw_on<M: mpiview::Multiplicity>(
    view: &mpiview::DirectView<M>,
    f: &Remote<Draw, NormalStats>,
    seed: u64,
    streams: u64,
    n: u64,
) -> Result<(Vec<NormalStats>, f64)> {
    let t = Instant::now();
    let stats = view.map_sync(f, (0..streams).map(|s| (seed, s, n)))?;
    Ok((stats, t.elapsed().as_secs_f64()))
}

fn run(client: &Client, args: &Args, f: &Remote<Draw, NormalStats>) -> Result<()> {
    let all = client.direct_view().progress(args.progress);
    let engines = client.n_engines() as u64;
    let (stats, seconds) = draw_on(&all, f, args.seed, engines, args.n)?;
    let list = |pick: fn(&NormalStats) -> f64| stats.iter().map(pick).collect::<Vec<f64>>();
    let (means, maxs, mins) = (list(|s| s.mean), list(|s| s.max), list(|s| s.min));
    let show = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.10}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("means = [{}]", show(&means));
    println!("maxs = [{}]", show(&maxs));
    println!("mins = [{}]", show(&mins));
    println!(
        "{} draws on each of {engines} engine(s) in {seconds:.4} s ({:.2} ns per draw per engine)",
        args.n,
        seconds * 1e9 / args.n as f64
    );

    let mut table = Vec::new();
    if args.compare {
        let one = client.engine(0)?.progress(args.progress);
        println!();
        println!(
            "{:>12} {:>14} {:>14} {:>9}",
            "n", "parallel (s)", "serial (s)", "speedup"
        );
        for &n in &args.sizes {
            let (_, parallel) = draw_on(&all, f, args.seed, engines, n)?;
            let (_, serial) = draw_on(&one, f, args.seed, engines, n)?;
            println!(
                "{n:>12} {parallel:>14.4} {serial:>14.4} {:>9.2}",
                serial / parallel
            );
            table.push(json!({ "n": n, "parallel_s": parallel, "serial_s": serial, "speedup": serial / parallel }));
        }
    }
    if args.json {
        let mut report = json!({
            "app": "normstats",
            "n": args.n,
            "seed": args.seed,
            "engines": engines,
            "means": means,
            "maxs": maxs,
            "mins": mins,
            "seconds": seconds,
        });
        if args.compare {
            report["compare"] = json!(table);
        }
        println!("{report}");
    }
    Ok(())
}
