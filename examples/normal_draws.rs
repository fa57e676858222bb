//! The seed lab's `draw()` and Problem 3: every engine draws standard normals and reports them
//! (or their mean, max and min).
//!
//! ```text
//! >>> dview.apply_sync(draw)            # four N(0,1) samples per engine
//! means = [...]; maxs = [...]; mins = [...]
//! ```
//!
//! Each engine's stream is seeded by its engine id, so a run is reproducible.
//!
//! Run: `bash scripts/mpirun.sh -n 5 target/release/examples/normal_draws`
#![deny(warnings)]

use std::process::ExitCode;

use mpiview::{Cluster, Context, Result, remote};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u64 = 2026;

/// This engine's stream: seeded by its engine id.
fn engine_stream(ctx: &Context) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(SEED ^ ctx.engine_id() as u64)
}

/// `n` standard normals.
#[remote]
fn draw(ctx: &mut Context, n: usize) -> Vec<f64> {
    let mut rng = engine_stream(ctx);
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

/// The mean, max and min of `n` standard normals (Problem 3).
#[remote]
fn stats(ctx: &mut Context, n: usize) -> (f64, f64, f64) {
    let mut rng = engine_stream(ctx);
    let (mut sum, mut max, mut min) = (0.0f64, f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..n {
        let x: f64 = rng.sample(StandardNormal);
        sum += x;
        max = max.max(x);
        min = min.min(x);
    }
    (sum / n as f64, max, min)
}

fn main() -> ExitCode {
    let cluster = Cluster::init().expect("MPI starts");

    cluster.run(|client| -> Result<()> {
        let dview = client.direct_view();
        let draws: Vec<Vec<f64>> = dview.apply_sync(&draw, 4)?;
        println!("dview.apply_sync(draw) =");
        for d in &draws {
            println!("  {d:?}");
            assert_eq!(d.len(), 4);
        }
        if draws.len() > 1 {
            assert_ne!(draws[0], draws[1], "engines draw different streams");
        }

        let n = 1_000_000;
        let s: Vec<(f64, f64, f64)> = dview.apply_sync(&stats, n)?;
        let means: Vec<f64> = s.iter().map(|t| t.0).collect();
        let maxs: Vec<f64> = s.iter().map(|t| t.1).collect();
        let mins: Vec<f64> = s.iter().map(|t| t.2).collect();
        println!("means = {means:?}");
        println!("maxs = {maxs:?}");
        println!("mins = {mins:?}");
        for (mean, (max, min)) in means.iter().zip(maxs.iter().zip(&mins)) {
            assert!(mean.abs() < 0.01, "the mean of 10^6 N(0,1) draws is near 0");
            assert!((3.5..6.5).contains(max) && (-6.5..-3.5).contains(min));
        }
        Ok(())
    })
}
