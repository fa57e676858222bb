//! `trapz`: the trapezoidal rule in parallel (the seed lab's Problem 6).
//!
//! ```text
//! mpirun -n 16 trapz                          # sin²x on [0, π], 10^8 points, 15 engines
//! mpirun -n 3 trapz --function gauss -a -2 -b 2 --n 1e9 --serial
//! mpirun -n 5 trapz --expr "x^3 - 2*x" -a 0 -b 1 --json
//! ```
//!
//! Every engine sums a contiguous block of the n−1 intervals (the block rule); the controller
//! adds the blocks with compensated summation, so the result depends on the engine count only
//! through rounding. A result that is not a finite number is a failure (exit code 3) whose
//! message names the first grid point where the integrand is not finite.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mpiview::{Client, Cluster, Error, Remote};
use mpiview_apps::cli::{AppError, parse_args, parse_positive_count};
use mpiview_apps::kernels::sum::CompensatedSum;
use mpiview_apps::kernels::trapz::{Builtin, CheckedSum, Grid, Integrand, IntegrandError};
use mpiview_apps::stats::median;
use serde::{Deserialize, Serialize};
use serde_json::json;

use mpiview_apps::interval::Interval;

#[derive(Parser, Debug)]
#[command(
    name = "trapz",
    about = "Integrate f over [a, b] with the trapezoidal rule on n evenly spaced points, split over the engines.",
    long_about = None,
    after_help = format!(
        "Built-in functions (--function):\n{}\n\nNumbers accept 1e8 and 100_000_000; bounds also accept pi, -pi, pi/2, 3pi/4.\n\
         Run with mpirun -n N trapz: rank 0 is the controller, ranks 1..N-1 compute (one rank: one in-process engine).\n\
         --json prints one object on the last line of stdout with the keys: app, function, a, b, n, intervals,\n\
         integral, exact, abs_error, rel_error, engines, ranks, seconds, serial_integral, serial_seconds, speedup, repeat.\n\n\
         Exit codes: 0 success; 2 bad input (one message, nothing computed); 3 the integral is not a finite\n\
         number: the integrand is infinite or NaN at a grid point (the message names the first), the\n\
         interval's width b - a overflows, or the sum overflows; 1 any other failure.",
        Builtin::help()
    )
)]
struct Args {
    /// Built-in integrand, by name (see the list below).
    #[arg(short, long, default_value = "sin2", conflicts_with = "expr")]
    function: String,
    /// An expression in x to integrate instead of a built-in, e.g. "exp(-x^2)*cos(3*x)".
    #[arg(short, long)]
    expr: Option<String>,
    #[command(flatten)]
    interval: Interval,
    /// Also run the same kernel on one engine, for a side-by-side time and the speedup.
    #[arg(long)]
    serial: bool,
    /// Integrate this many times and report the median time.
    #[arg(long, default_value = "1", value_parser = parse_positive_count, allow_negative_numbers = true)]
    repeat: u64,
    /// Progress on stderr: `auto` (a bar when the launcher's output is a terminal, once the
    /// wait has lasted 0.2 s), `always` (`--progress` alone; a line every 5 s in a log) or
    /// `never`. `MPIVIEW_PROGRESS=0` or `1` sets the default.
    #[arg(long, value_name = "WHEN", default_value = "auto", num_args = 0..=1, default_missing_value = "always", value_parser = mpiview_apps::cli::parse_progress)]
    progress: mpiview::ShowProgress,
    /// Print a JSON object with the inputs and results on the last line of stdout.
    #[arg(long)]
    json: bool,
}

/// One engine's share: the blocks of intervals `index` of `parts`.
#[derive(Serialize, Deserialize, Clone)]
struct Block {
    integrand: Integrand,
    grid: Grid,
    parts: u64,
    index: u64,
}

fn main() -> ExitCode {
    let mut cluster = Cluster::init().expect("MPI starts");
    let block_sum = cluster.register_with_context("trapz_block", |_ctx, b: Block| {
        let f = b.integrand.compile()?;
        Ok(f.partial_checked(&b.grid, b.grid.block(b.parts, b.index)))
    });
    let parsed = parse_args::<Args>(cluster.rank(), std::env::args_os());
    cluster.run(|client| parsed.run(|args| run(client, &args, &block_sum)))
}

/// The inputs, checked before any work starts: bad input is a usage error (exit code 2); an
/// interval too wide for `f64`, or an integrand that is not finite at `a`, is a result that
/// cannot be finite (exit code 3).
fn problem(args: &Args) -> Result<(Integrand, Grid), AppError> {
    let usage = |e: IntegrandError| match e {
        IntegrandError::WidthOverflow { .. } => AppError::NotFinite(e.to_string()),
        e => Error::usage(e.to_string()).into(),
    };
    let integrand = match &args.expr {
        Some(text) => Integrand::expr(text).map_err(usage)?,
        None => Integrand::builtin(&args.function).map_err(usage)?,
    };
    let grid = Grid::new(args.interval.a, args.interval.b, args.interval.n).map_err(usage)?;
    integrand
        .check_interval(args.interval.a, args.interval.b)
        .map_err(usage)?;
    // The first point, on the controller, before any engine works.
    if !integrand
        .compile()
        .map_err(usage)?
        .eval(grid.a())
        .is_finite()
    {
        return Err(not_finite_at(&integrand, &grid, 0));
    }
    Ok((integrand, grid))
}

/// The failure of an integrand that is not finite at grid point `k`.
fn not_finite_at(integrand: &Integrand, grid: &Grid, k: u64) -> AppError {
    let x = grid.x(k);
    let fx = integrand.compile().map_or(f64::NAN, |f| f.eval(x));
    AppError::NotFinite(format!(
        "the integrand {integrand} is not finite at x = {x} (grid point {k} of {}): f(x) = {fx}; the integral would not be a number",
        grid.points()
    ))
}

/// The total of the blocks, or the failure that says why it is not a finite number.
fn total(integrand: &Integrand, grid: &Grid, sums: &[CheckedSum]) -> Result<f64, AppError> {
    let value = CompensatedSum::sum_of(sums.iter().map(|s| s.sum)).value();
    if value.is_finite() {
        return Ok(value);
    }
    // The blocks come back in grid order: the first block naming a point has the first point.
    match sums.iter().find_map(|s| s.first_non_finite) {
        Some(k) => Err(not_finite_at(integrand, grid, k)),
        None => Err(AppError::NotFinite(format!(
            "the integral of {integrand} over [{}, {}] overflows: the integrand is finite at every grid point, but the sum of its values (added before multiplying by h = {:e}) exceeds the largest f64, about 1.8e308",
            grid.a(),
            grid.b(),
            grid.h()
        ))),
    }
}

/// Integrates on `engines` (a view's map: one block each); the integral and the seconds it took.
fn integrate<M: mpiview::Multiplicity>(
    view: &mpiview::DirectView<M>,
    f: &Remote<Block, CheckedSum>,
    integrand: &Integrand,
    grid: Grid,
) -> Result<(f64, f64), AppError> {
    let parts = view.len() as u64;
    let blocks = (0..parts).map(|index| Block {
        integrand: integrand.clone(),
        grid,
        parts,
        index,
    });
    let t = Instant::now();
    let sums = view.map_sync(f, blocks)?;
    let seconds = t.elapsed().as_secs_f64();
    Ok((total(integrand, &grid, &sums)?, seconds))
}

fn run(client: &Client, args: &Args, f: &Remote<Block, CheckedSum>) -> Result<(), AppError> {
    let (integrand, grid) = problem(args)?;
    let all = client.direct_view().progress(args.progress);
    let engines = client.n_engines();
    let mut integral = 0.0;
    let mut times = Vec::new();
    for _ in 0..args.repeat {
        let (value, seconds) = integrate(&all, f, &integrand, grid)?;
        integral = value;
        times.push(seconds);
    }
    let seconds = median(times);
    let serial = if args.serial {
        let one = client.engine(0)?.progress(args.progress);
        let mut times = Vec::new();
        let mut value = 0.0;
        for _ in 0..args.repeat {
            let (v, s) = integrate(&one, f, &integrand, grid)?;
            value = v;
            times.push(s);
        }
        Some((value, median(times)))
    } else {
        None
    };
    let exact = integrand.exact(args.interval.a, args.interval.b);
    let abs_error = exact.map(|e| (integral - e).abs());
    let rel_error = exact.and_then(|e| abs_error.map(|d| if e != 0.0 { d / e.abs() } else { d }));

    println!(
        "trapz: ∫ {integrand} over [{}, {}] with {} points on {engines} engine(s)",
        args.interval.a, args.interval.b, args.interval.n
    );
    println!("integral  = {integral:.17}");
    match (exact, abs_error, rel_error) {
        (Some(e), Some(d), Some(r)) => {
            println!("exact     = {e:.17}");
            println!("error     = {d:.3e} (relative {r:.3e})");
        }
        _ => println!("exact     = unknown for this integrand"),
    }
    println!(
        "time      = {seconds:.4} s on {engines} engine(s), {:.3} ns per point per engine",
        seconds * 1e9 * engines as f64 / args.interval.n as f64
    );
    if let Some((value, s)) = serial {
        println!(
            "serial    = {s:.4} s on 1 engine (integral {value:.17}), speedup {:.2}x",
            s / seconds
        );
    }
    if args.json {
        let report = json!({
            "app": "trapz",
            "function": integrand.to_string(),
            "a": args.interval.a,
            "b": args.interval.b,
            "n": args.interval.n,
            "intervals": grid.intervals(),
            "integral": integral,
            "exact": exact,
            "abs_error": abs_error,
            "rel_error": rel_error,
            "engines": engines,
            "ranks": if client.is_local() { 1 } else { engines + 1 },
            "seconds": seconds,
            "serial_integral": serial.map(|s| s.0),
            "serial_seconds": serial.map(|s| s.1),
            "speedup": serial.map(|s| s.1 / seconds),
            "repeat": args.repeat,
        });
        println!("{report}");
    }
    Ok(())
}
