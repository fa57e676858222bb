//! `julia`: escape-time counts of the Julia set of f(z) = z² + c (the blog post's fractal).
//!
//! ```text
//! mpirun -n 3 julia                               # 1024×1024, c = −0.065+0.66i, tmax 256
//! mpirun -n 5 julia --schedule balanced --check   # row blocks to free engines; compare serial
//! mpirun -n 9 julia --m 4096 --n 4096 --c -0.8+0.156i --png big.png --json
//! ```
//!
//! `--schedule block` does what the blog post does: the controller builds the grid Z, scatters
//! its rows over the engines (the block rule), every engine computes the counts of its rows, and
//! the counts are gathered. Rows near the set cost far more than rows outside it, so
//! `--schedule balanced` hands blocks of rows to a load-balanced view instead. Both give the
//! same counts, bit for bit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use mpiview::{Client, Cluster, Error, Remote, Result, Task};
use mpiview_apps::cli::{AppError, check_memory, parse_args, parse_complex, parse_positive_count};
use mpiview_apps::io::OutputError;
use mpiview_apps::io::hdf5::H5Writer;
use mpiview_apps::io::output::{Staged, check_outputs, commit_all};
use mpiview_apps::io::png::{JuliaImage, julia_png_staged};
use mpiview_apps::kernels::julia::{Julia, counts_of_points};
use ndarray::{Array1, Array2};
use num_complex::Complex64;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Schedule {
    /// Scatter blocks of grid rows (the blog post's way).
    Block,
    /// Hand blocks of rows to whichever engine is free.
    Balanced,
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Schedule::Block => "block",
            Schedule::Balanced => "balanced",
        })
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "julia",
    about = "Escape-time counts of the Julia set of z² + c on an m×n grid, computed by the engines.",
    after_help = "The count of a point is the number of iterations it stays within |z| ≤ 2, at most tmax.\n\
                  Complex numbers are written like -0.065+0.66i; counts like 1024 or 1e3.\n\
                  Output (unless --no-output): an HDF5 file (datasets /counts (m×n, u16), /xs, /ys; \
                  attributes c, zmin, zmax (as [re, im]), tmax, schedule, engines) and a PNG picture. \
                  See the README for the layout. The two files are written under temporary names and \
                  renamed into place together, once both are complete; --out and --png must name two \
                  different regular files (a symbolic link is followed; a FIFO or device is refused).\n\
                  --zmin must lie below and left of --zmax (the grid must span an area).\n\
                  --json prints one object on the last line of stdout with the keys: app, m, n, c, zmin, \
                  zmax, tmax, schedule, engines, seconds, serial_seconds, equal_to_serial, \
                  never_escaped, h5, png.\n\
                  Exit codes: 0 success; 2 bad input (one message, nothing computed, no file \
                  written); 1 any other failure (e.g. a full disk: no file replaced)."
)]
struct Args {
    /// Grid rows (along the imaginary axis).
    #[arg(short, long, default_value = "1024", value_parser = parse_positive_count, allow_negative_numbers = true)]
    m: u64,
    /// Grid columns (along the real axis).
    #[arg(short, long, default_value = "1024", value_parser = parse_positive_count, allow_negative_numbers = true)]
    n: u64,
    /// The constant c of f(z) = z² + c.
    #[arg(short, long, default_value = "-0.065+0.66i", value_parser = parse_complex, allow_hyphen_values = true)]
    c: Complex64,
    /// Lower-left corner of the grid.
    #[arg(long, default_value = "-1.3-1.3i", value_parser = parse_complex, allow_hyphen_values = true)]
    zmin: Complex64,
    /// Upper-right corner of the grid.
    #[arg(long, default_value = "1.3+1.3i", value_parser = parse_complex, allow_hyphen_values = true)]
    zmax: Complex64,
    /// Most iterations per point (at most 65535).
    #[arg(long, default_value = "256", value_parser = parse_positive_count, allow_negative_numbers = true)]
    tmax: u64,
    /// How rows are shared out.
    #[arg(long, value_enum, default_value_t = Schedule::Block)]
    schedule: Schedule,
    /// Rows per task of the balanced schedule.
    #[arg(long, default_value = "8", value_parser = parse_positive_count, allow_negative_numbers = true)]
    rows_per_task: u64,
    /// Also compute the grid serially on the controller; report equality and both times.
    #[arg(long)]
    check: bool,
    /// Compute this many times and report the median time.
    #[arg(long, default_value = "1", value_parser = parse_positive_count, allow_negative_numbers = true)]
    repeat: u64,
    /// HDF5 file to write.
    #[arg(long, default_value = "julia.h5")]
    out: PathBuf,
    /// PNG picture to write.
    #[arg(long, default_value = "julia.png")]
    png: PathBuf,
    /// Write no files.
    #[arg(long)]
    no_output: bool,
    /// Print a JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
}

/// The remote functions of this app.
struct Remotes {
    /// Block schedule: counts of the scattered rows `Z`, stored as `J`.
    block: Remote<(Complex64, u16), ()>,
    /// Balanced schedule: counts of a block of rows (u16, little-endian bytes).
    rows: Remote<(Julia, u64, u64), serde_bytes::ByteBuf>,
    /// Frees the engines' copies.
    clear: Task,
}

fn main() -> ExitCode {
    let mut cluster = Cluster::init().expect("MPI starts");
    let remotes = Remotes {
        block: cluster.register_with_context("J = julia(Z)", |ctx, (c, tmax): (Complex64, u16)| {
            let z = ctx.array::<Complex64>("Z")?;
            let (rows, cols) = match z.shape() {
                [r, c] => (*r, *c),
                other => return Err(format!("Z has shape {other:?}, not rows × columns").into()),
            };
            let zs = z.as_slice().ok_or("Z is not contiguous")?;
            let j = Array2::from_shape_vec((rows, cols), counts_of_points(zs, cols, c, tmax))?;
            ctx.set("J", j);
            Ok(())
        }),
        rows: cluster.register("julia_rows", |(j, start, end): (Julia, u64, u64)| {
            // Counts travel as raw bytes: encoding a million u16 one by one costs the
            // controller milliseconds.
            let counts = j.rows(start as usize..end as usize);
            serde_bytes::ByteBuf::from(
                counts
                    .iter()
                    .flat_map(|k| k.to_le_bytes())
                    .collect::<Vec<u8>>(),
            )
        }),
        clear: cluster.register_task("del Z, J", |ctx| {
            ctx.remove("Z");
            ctx.remove("J");
            Ok(())
        }),
    };
    let parsed = parse_args::<Args>(cluster.rank(), std::env::args_os());
    cluster.run(|client| parsed.run(|args| run(client, &args, &remotes)))
}

/// Checks that the corners `zmin` (lower left) and `zmax` (upper right) span an area whose
/// width and height are finite.
fn check_area(zmin: Complex64, zmax: Complex64) -> Result<()> {
    let (width, height) = (zmax.re - zmin.re, zmax.im - zmin.im);
    if !(width > 0.0 && height > 0.0) {
        return Err(Error::usage(format!(
            "--zmin {zmin} and --zmax {zmax} span no area: zmin must lie below and to the left of zmax (width {width}, height {height})"
        )));
    }
    if !(width.is_finite() && height.is_finite()) {
        return Err(Error::usage(format!(
            "--zmin {zmin} and --zmax {zmax} are too far apart: the width or height overflows"
        )));
    }
    Ok(())
}

/// The problem, checked before any work starts.
fn problem(args: &Args) -> Result<Julia> {
    let tmax = u16::try_from(args.tmax)
        .map_err(|_| Error::usage(format!("--tmax {} is over 65535", args.tmax)))?;
    check_area(args.zmin, args.zmax)?;
    let rows = usize::try_from(args.m).map_err(|_| Error::usage("--m is too large"))?;
    let cols = usize::try_from(args.n).map_err(|_| Error::usage("--n is too large"))?;
    let points = u128::from(args.m) * u128::from(args.n);
    // The grid Z (16 bytes a point, scattered from the controller) and the counts (2 bytes).
    check_memory(points * 18, &format!("a {}×{} grid", args.m, args.n))?;
    if !args.no_output {
        check_outputs(&[("--out", &args.out), ("--png", &args.png)])
            .map_err(|e| Error::usage(e.to_string()))?;
    }
    Ok(Julia {
        rows,
        cols,
        c: args.c,
        zmin: args.zmin,
        zmax: args.zmax,
        tmax,
    })
}

/// One parallel computation: the counts (row-major) and the seconds it took.
fn compute(client: &Client, args: &Args, julia: &Julia, r: &Remotes) -> Result<(Vec<u16>, f64)> {
    let t = Instant::now();
    let counts = match args.schedule {
        Schedule::Block => {
            let dview = client.direct_view();
            let z =
                Array2::from_shape_vec((julia.rows, julia.cols), julia.grid()).expect("grid shape");
            dview.scatter("Z", &z)?;
            dview.apply_sync(&r.block, (julia.c, julia.tmax))?;
            let j = dview.gather::<u16>("J")?;
            j.into_raw_vec_and_offset().0
        }
        Schedule::Balanced => {
            let per = args.rows_per_task;
            let m = julia.rows as u64;
            let tasks = (0..m.div_ceil(per)).map(|k| (*julia, k * per, ((k + 1) * per).min(m)));
            let blocks = client
                .load_balanced_view()
                .chunksize(1)
                .map_sync(&r.rows, tasks)?;
            let mut counts = Vec::with_capacity(julia.rows * julia.cols);
            for b in &blocks {
                counts.extend(b.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])));
            }
            counts
        }
    };
    Ok((counts, t.elapsed().as_secs_f64()))
}

fn run(client: &Client, args: &Args, r: &Remotes) -> Result<(), AppError> {
    let julia = problem(args)?;
    let mut counts = Vec::new();
    let mut times = Vec::new();
    for _ in 0..args.repeat {
        let (c, s) = compute(client, args, &julia, r)?;
        counts = c;
        times.push(s);
    }
    if args.schedule == Schedule::Block {
        client.direct_view().execute_sync(&r.clear)?;
    }
    let seconds = mpiview_apps::stats::median(times);
    let engines = client.n_engines();
    let never_escaped = counts.iter().filter(|&&k| k == julia.tmax).count();
    println!(
        "julia: {}×{} grid, c = {}, z in [{}, {}], tmax {}, schedule {}, {engines} engine(s)",
        julia.rows, julia.cols, args.c, args.zmin, args.zmax, julia.tmax, args.schedule
    );
    println!(
        "time = {seconds:.4} s; {never_escaped} of {} points never escaped",
        counts.len()
    );
    let check = if args.check {
        let t = Instant::now();
        let serial = julia.counts();
        let serial_seconds = t.elapsed().as_secs_f64();
        let equal = serial == counts;
        let differing = serial.iter().zip(&counts).filter(|(a, b)| a != b).count();
        println!(
            "check: parallel counts {} the serial counts ({differing} differ); serial {serial_seconds:.4} s, parallel {seconds:.4} s, speedup {:.2}x",
            if equal { "equal" } else { "DIFFER FROM" },
            serial_seconds / seconds
        );
        if !equal {
            return Err(Error::Invalid(format!(
                "{differing} counts differ from the serial computation"
            ))
            .into());
        }
        Some(serial_seconds)
    } else {
        None
    };
    let (mut h5, mut png) = (None, None);
    if !args.no_output {
        // Both files complete before either replaces an old one.
        let staged = vec![
            stage_h5(args, &julia, &counts, engines)?,
            stage_png(args, &julia, &counts)?,
        ];
        let paths = commit_all(staged)?;
        (h5, png) = (Some(paths[0].clone()), Some(paths[1].clone()));
        println!("wrote {} and {}", args.out.display(), args.png.display());
    }
    if args.json {
        let pair = |z: Complex64| json!([z.re, z.im]);
        println!(
            "{}",
            json!({
                "app": "julia",
                "m": julia.rows,
                "n": julia.cols,
                "c": pair(julia.c),
                "zmin": pair(julia.zmin),
                "zmax": pair(julia.zmax),
                "tmax": julia.tmax,
                "schedule": args.schedule.to_string(),
                "engines": engines,
                "seconds": seconds,
                "serial_seconds": check,
                "equal_to_serial": check.map(|_| true),
                "never_escaped": never_escaped,
                "h5": h5.map(|p| p.display().to_string()),
                "png": png.map(|p| p.display().to_string()),
            })
        );
    }
    Ok(())
}

/// The HDF5 file, complete under its temporary name.
fn stage_h5(
    args: &Args,
    julia: &Julia,
    counts: &[u16],
    engines: usize,
) -> Result<Staged, OutputError> {
    let w = H5Writer::create(&args.out)?;
    w.dataset_2d("counts", counts, julia.rows, julia.cols)?;
    w.dataset_1d("xs", &julia.xs())?;
    w.dataset_1d("ys", &julia.ys())?;
    let pair = |z: Complex64| Array1::from(vec![z.re, z.im]);
    w.dataset("c", pair(julia.c).view())?;
    w.dataset("zmin", pair(julia.zmin).view())?;
    w.dataset("zmax", pair(julia.zmax).view())?;
    w.attr("/", "tmax", julia.tmax)?;
    w.attr("/", "engines", engines as u64)?;
    w.attr_str("/", "schedule", &args.schedule.to_string())?;
    w.attr_str(
        "counts",
        "description",
        "iterations each point stays within |z| <= 2, at most tmax; rows along Im z (ys), columns along Re z (xs)",
    )?;
    w.stage()
}

/// The PNG picture, complete under its temporary name.
fn stage_png(args: &Args, julia: &Julia, counts: &[u16]) -> Result<Staged, OutputError> {
    let image = JuliaImage {
        title: Some(format!(
            "Julia set of z² + c, c = {}, {}×{}, tmax {}",
            args.c, julia.rows, julia.cols, julia.tmax
        )),
        tmax: julia.tmax,
    };
    julia_png_staged(&args.png, counts, julia.rows, julia.cols, &image)
}
