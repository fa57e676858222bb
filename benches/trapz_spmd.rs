//! `trapz-spmd`: the baseline for mpiview's `trapz`: the same kernel as a plain SPMD rsmpi
//! program. No controller: every rank computes a block of intervals, and rank 0 combines the
//! blocks (one `MPI_Gather` of each rank's compensated partial sum, added with compensation as
//! `trapz` does; a plain `MPI_Reduce` sum would lose the compensation).
//!
//! ```text
//! mpirun -n 2 target/release/trapz-spmd --n 1e8 --json   # compare with: mpirun -n 3 trapz
//! ```

use std::time::Instant;

use clap::Parser;
use mpi::traits::*;
use mpiview_apps::cli::parse_positive_count;
use mpiview_apps::kernels::sum::CompensatedSum;
use mpiview_apps::kernels::trapz::{Grid, Integrand};
use serde_json::json;

use mpiview_apps::interval::Interval;

#[derive(Parser, Debug)]
#[command(
    name = "trapz-spmd",
    about = "The trapz kernel as a plain SPMD MPI program (baseline)."
)]
struct Args {
    /// Built-in integrand.
    #[arg(short, long, default_value = "sin2")]
    function: String,
    #[command(flatten)]
    interval: Interval,
    /// Integrate this many times and report the median time.
    #[arg(long, default_value = "1", value_parser = parse_positive_count)]
    repeat: u64,
    /// Print a JSON object on the last line.
    #[arg(long)]
    json: bool,
}

fn main() {
    let universe = mpi::initialize().expect("MPI");
    let world = universe.world();
    let rank = world.rank();
    let size = world.size() as u64;
    let args = Args::parse();
    let integrand = Integrand::builtin(&args.function).expect("a built-in function");
    let f = integrand.compile().expect("compiles");
    let grid = Grid::new(args.interval.a, args.interval.b, args.interval.n).expect("a valid grid");
    let root = world.process_at_rank(0);
    let mut times = Vec::new();
    let mut integral = 0.0;
    for _ in 0..args.repeat {
        world.barrier();
        let t = Instant::now();
        let part = f.partial(&grid, grid.block(size, rank as u64));
        let mine = [part.sum, part.compensation];
        if rank == 0 {
            let mut all = vec![0.0f64; 2 * size as usize];
            root.gather_into_root(&mine[..], &mut all[..]);
            let parts = all.chunks(2).map(|p| CompensatedSum {
                sum: p[0],
                compensation: p[1],
            });
            integral = CompensatedSum::sum_of(parts).value();
            times.push(t.elapsed().as_secs_f64());
        } else {
            root.gather_into(&mine[..]);
        }
    }
    if rank == 0 {
        let seconds = mpiview_apps::stats::median(times);
        println!(
            "trapz-spmd: {} on [{}, {}], {} points, {size} ranks: {integral:.17} in {seconds:.4} s",
            args.function, args.interval.a, args.interval.b, args.interval.n
        );
        if args.json {
            println!(
                "{}",
                json!({
                    "app": "trapz-spmd",
                    "function": args.function,
                    "n": args.interval.n,
                    "integral": integral,
                    "engines": size,
                    "ranks": size,
                    "seconds": seconds,
                    "repeat": args.repeat,
                })
            );
        }
    }
}
