//! The seed lab's Problems 1–6 (`ipyparallel-lab.md`) in one program: busy cores, draws on
//! every engine, parallel against serial, the max of N normals, the trapezoidal rule.
//! `examples/ipyparallel_lab.py` holds the same as a notebook's Python; `tests/examples.rs`
//! runs this and compares the two programs' code lines. Like the lab, it draws unseeded
//! random numbers (each engine its own thread's generator).
//!
//! Run: `bash scripts/mpirun.sh -n 5 target/release/examples/ipyparallel_lab` (with any
//! argument, `--quick`: a shorter busy loop, for the tests)
#![deny(warnings)]

use std::{f64::consts::PI, time::Duration, time::Instant};

use mpiview::{Cluster, Context, DirectView, Result, partition::block_range, remote};
use rand::RngExt;
use rand_distr::StandardNormal;

/// Problems 1 and 2 (one engine busy, then all; watch `htop`): `reps` times, 100,000 uniform
/// numbers (summed, so that they are made).
#[remote]
fn busy(reps: usize) -> f64 {
    rand::random_iter::<f64>().take(reps * 100_000).sum()
}

/// Problems 3 and 4: the mean, max and min of `n` standard normals.
#[remote]
fn draw_stats(n: usize) -> [f64; 3] {
    let mut stats = [0.0, f64::MIN, f64::MAX];
    for x in rand::rng().sample_iter::<f64, _>(StandardNormal).take(n) {
        stats = [stats[0] + x / n as f64, stats[1].max(x), stats[2].min(x)];
    }
    stats
}

/// Problem 5: this engine's share of `draws` draws of X, the max of `n` standard normals.
#[remote]
fn draw_maxes(ctx: &mut Context, n: usize, draws: usize) -> Vec<f64> {
    let mut normals = rand::rng().sample_iter(StandardNormal);
    let mine = block_range(draws, ctx.n_engines(), ctx.engine_id());
    mine.map(|_| normals.by_ref().take(n).fold(f64::MIN, f64::max))
        .collect()
}

/// Problem 6: the trapezoidal rule for `f` (named: code does not travel, every rank has it) on
/// this engine's share of the `n - 1` intervals of [a, b].
#[remote]
fn trapezoid_share(ctx: &mut Context, f: String, a: f64, b: f64, n: usize) -> Result<f64, String> {
    let f: fn(f64) -> f64 = match f.as_str() {
        "sin" => f64::sin,
        "exp" => f64::exp,
        other => return Err(format!("no function {other}")),
    };
    let h = (b - a) / (n - 1) as f64;
    let x = |k: usize| a + k as f64 * h;
    let mine = block_range(n - 1, ctx.n_engines(), ctx.engine_id());
    Ok(mine.map(|k| h / 2.0 * (f(x(k)) + f(x(k + 1)))).sum())
}

fn parallel_trapezoidal_rule(dview: &DirectView, f: &str, a: f64, b: f64, n: usize) -> Result<f64> {
    let shares = dview.apply_sync(&trapezoid_share, (f.into(), a, b, n))?;
    Ok(shares.iter().sum())
}

/// How long `f` takes.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<Duration> {
    let start = Instant::now();
    f().map(|_| start.elapsed())
}

fn main() -> std::process::ExitCode {
    let reps = std::env::args().nth(1).map_or(10_000, |_| 10);
    let cluster = Cluster::init().expect("MPI starts");
    cluster.run(|client| -> Result<()> {
        let (dview, one) = (client.direct_view(), client.engine(0)?);
        println!("Problem 1: {:?}", timed(|| one.apply_sync(&busy, reps))?);
        println!("Problem 2: {:?}", timed(|| dview.apply_sync(&busy, reps))?);

        let stats = dview.apply_sync(&draw_stats, 1_000_000)?;
        for (k, name) in ["means", "maxs", "mins"].iter().enumerate() {
            let column: Vec<f64> = stats.iter().map(|s| s[k]).collect();
            println!("{name} = {column:?}");
        }

        for n in [1_000_000, 5_000_000, 10_000_000, 15_000_000] {
            let parallel = timed(|| dview.apply_sync(&draw_stats, n))?;
            let mut serial = Duration::ZERO;
            for _ in client.ids() {
                serial += timed(|| one.apply_sync(&draw_stats, n))?;
            }
            println!("n = {n}: parallel {parallel:.3?}, serial {serial:.3?}");
        }

        let mut counts = [0; 25]; // Problem 5's histogram as text: bins of 0.2, a # per 1,000
        for x in dview.apply_sync(&draw_maxes, (10, 500_000))?.concat() {
            counts[((x / 0.2).max(0.0) as usize).min(24)] += 1;
        }
        for (i, c) in counts.iter().enumerate() {
            println!("{:4.1} {}", i as f64 * 0.2, "#".repeat(c / 1000));
        }

        let integral = parallel_trapezoidal_rule(&dview, "sin", 0.0, PI, 1_000_000)?;
        println!("{integral}");
        Ok(())
    })
}
