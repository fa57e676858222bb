//! `julia`: escape-time counts of the Julia set of f(z) = z² + c (the blog post's fractal).
//!
//! ```text
//! mpirun -n 3 julia                               # 1024×1024, c = −0.065+0.66i, tmax 256
//! mpirun -n 5 julia --schedule balanced --check   # row blocks to free engines; compare serial
//! mpirun -n 9 julia --m 4096 --n 4096 --c -0.8+0.156i --png big.png --json
//! ```
//!
//! `--schedule rows` (the default, the one that scales): every engine computes the counts of its
//! own block of rows (the block rule) from the problem's parameters alone, keeps them, and
//! writes them into the HDF5 file itself, all engines together through MPI-IO; the controller
//! never holds the grid or the counts, only a picture of at most 2048 pixels a side that the
//! engines reduce their rows into. `--schedule block` does what the blog post does: the
//! controller builds the grid Z, scatters its rows over the engines, every engine computes the
//! counts of its rows, and the counts are gathered. Rows near the set cost far more than rows
//! outside it, so `--schedule balanced` hands blocks of rows to a load-balanced view instead.
//! All three give the same counts, bit for bit. `--serial-io` has the controller gather the
//! counts and write the file alone (for file systems without MPI-IO); the datasets are the same.

use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use mpiview::{Client, Cluster, Error, Remote, Result, Task};
use mpiview_apps::cli::{
    AppError, check_node_memory, parse_args, parse_complex, parse_positive_count,
};
use mpiview_apps::io::OutputError;
use mpiview_apps::io::hdf5::{H5Writer, SharedH5};
use mpiview_apps::io::output::{Staged, check_outputs, commit_all};
use mpiview_apps::io::png::{JuliaImage, julia_png_staged};
use mpiview_apps::kernels::julia::{Julia, PartialSums, Picture, counts_of_points};
use mpiview_apps::stats::{Phases, engines_peak_memory, register_engine_peak};
use ndarray::{Array1, Array2};
use num_complex::Complex64;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Schedule {
    /// Engines compute and write their own rows (scales: nothing passes through the controller).
    Rows,
    /// Scatter the grid's rows from the controller, gather the counts (the blog post's way).
    Block,
    /// Hand blocks of rows to whichever engine is free.
    Balanced,
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Schedule::Rows => "rows",
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
                  different regular files (a symbolic link is followed; a FIFO or device is refused). \
                  The engines write the HDF5 file together through MPI-IO (parallel HDF5) unless \
                  --serial-io or --schedule balanced, where the controller writes it; the datasets \
                  are the same. The picture has at most 2048 pixels a side: a larger grid is shrunk \
                  by a whole factor, each pixel the mean count of its cell.\n\
                  Scaling: --schedule rows keeps the grid and the counts on the engines (the \
                  controller holds only the picture); block and balanced pass every count, and \
                  block also the whole grid, through the controller.\n\
                  --zmin must lie below and left of --zmax (the grid must span an area).\n\
                  --json prints one object on the last line of stdout with the keys: app, m, n, c, zmin, \
                  zmax, tmax, schedule, engines, seconds, serial_seconds, equal_to_serial, \
                  never_escaped, h5, png, io (parallel or serial), phases (seconds of compute, \
                  transfer and output in the last repeat), controller_peak_bytes, engine_peak_bytes (the largest of the \
                  engines').\n\
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
    #[arg(long, value_enum, default_value_t = Schedule::Rows)]
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
    /// The controller writes the HDF5 file alone (for file systems without MPI-IO).
    #[arg(long)]
    serial_io: bool,
    /// Progress on stderr: `auto` (a bar when the launcher's output is a terminal, once the
    /// wait has lasted 0.2 s), `always` (`--progress` alone; a line every 5 s in a log) or
    /// `never`. `MPIVIEW_PROGRESS=0` or `1` sets the default.
    #[arg(long, value_name = "WHEN", default_value = "auto", num_args = 0..=1, default_missing_value = "always", value_parser = mpiview_apps::cli::parse_progress)]
    progress: mpiview::ShowProgress,
    /// Print a JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
}

/// Pieces each engine's rows are computed in, reporting progress after each.
const PROGRESS_PARTS: usize = 64;

/// The remote functions of this app.
struct Remotes {
    /// Rows schedule: counts of this engine's rows, stored as `J`; how many never escaped.
    here: Remote<Julia, u64>,
    /// Block schedule: counts of the scattered rows `Z`, stored as `J`.
    block: Remote<(Complex64, u16), ()>,
    /// Balanced schedule: counts of a block of rows (u16, little-endian bytes).
    rows: Remote<(Julia, u64, u64), serde_bytes::ByteBuf>,
    /// Parallel HDF5: every engine writes its rows `J` into the shared temporary file.
    write: Remote<SharedWrite, ()>,
    /// The picture's sums over this engine's rows `J`.
    picture: Remote<(Julia, Picture), PartialSums>,
    /// Frees the engines' copies.
    clear: Task,
    /// An engine's peak memory, for `--json`.
    peak: Remote<(), Option<u64>>,
}

/// What the engines need to write the HDF5 file together.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedWrite {
    julia: Julia,
    /// The temporary file the controller reserved.
    temp: PathBuf,
    /// The output path as given (for messages).
    target: PathBuf,
    schedule: String,
}

/// The rows of the grid engine `id` of `n` holds (the block rule, as a scatter shares them).
fn my_rows(julia: &Julia, n: usize, id: usize) -> Range<usize> {
    mpiview::partition::block_range(julia.rows, n, id)
}

/// This engine's counts `J` and its rows, checked against the block rule.
fn my_counts<'a>(
    ctx: &'a mpiview::Context<'_>,
    julia: &Julia,
) -> std::result::Result<(Range<usize>, &'a [u16]), mpiview::BoxError> {
    let rows = my_rows(julia, ctx.n_engines(), ctx.engine_id());
    let j = ctx.array::<u16>("J")?;
    let counts = j.as_slice().ok_or("J is not contiguous")?;
    if counts.len() != rows.len() * julia.cols {
        return Err(format!(
            "J holds {} counts, not rows {rows:?} of {} columns",
            counts.len(),
            julia.cols
        )
        .into());
    }
    Ok((rows, counts))
}

fn main() -> ExitCode {
    let mut cluster = Cluster::init().expect("MPI starts");
    let remotes = Remotes {
        here: cluster.register_with_context("J = julia(my rows)", |ctx, julia: Julia| {
            let rows = my_rows(&julia, ctx.n_engines(), ctx.engine_id());
            // A repeat's old counts go first: the engine never holds two grids.
            ctx.remove("J");
            // The rows in pieces, each reported: a progress display for long runs.
            let counts = julia.rows_reporting(rows.clone(), PROGRESS_PARTS, |done, total| {
                ctx.progress(done, total)
            });
            let never = counts.iter().filter(|&&k| k == julia.tmax).count() as u64;
            ctx.set(
                "J",
                Array2::from_shape_vec((rows.len(), julia.cols), counts)?,
            );
            Ok(never)
        }),
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
        write: cluster.register_with_context("write J (parallel HDF5)", |ctx, w: SharedWrite| {
            let mine = my_counts(ctx, &w.julia);
            let ready = mine.as_ref().map(drop).map_err(|e| e.to_string());
            let file = H5Writer::collective(&w.temp, &w.target, ctx.engines(), ready)?;
            let (rows, counts) = mine?;
            write_julia(&file, &w.julia, rows, counts, ctx.n_engines(), &w.schedule)?;
            file.close()?;
            Ok(())
        }),
        picture: cluster.register_with_context(
            "picture of J",
            |ctx, (julia, picture): (Julia, Picture)| {
                let (rows, counts) = my_counts(ctx, &julia)?;
                Ok(picture.partial(rows, counts))
            },
        ),
        clear: cluster.register_task("del Z, J", |ctx| {
            ctx.remove("Z");
            ctx.remove("J");
            Ok(())
        }),
        peak: register_engine_peak(&mut cluster),
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

/// The longest side of the picture, in pixels.
const PICTURE_MAX_SIDE: usize = 2048;

/// Where the counts are after a computation.
enum Counts {
    /// On the controller, row-major.
    Here(Vec<u16>),
    /// On the engines (`J`, each its rows by the block rule); how many never escaped.
    OnEngines { never_escaped: u64 },
}

/// Checks, before any work, that the busiest node can hold what its ranks will.
fn check_julia_memory(client: &Client, args: &Args, julia: &Julia, gather: bool) -> Result<()> {
    let points = julia.rows as u128 * julia.cols as u128;
    let gathered = if gather { 2 * points } else { 0 };
    // Bytes a point: the grid Z is 16, a count 2.
    let (controller, engines) = match args.schedule {
        Schedule::Rows => (gathered, 2 * points),
        Schedule::Block => (18 * points, 18 * points),
        Schedule::Balanced => (2 * points, 0),
    };
    let picture = Picture::fitting(julia.rows, julia.cols, PICTURE_MAX_SIDE);
    // Sums, means and RGB pixels of the picture.
    let picture_bytes = (picture.rows * picture.cols) as u128 * (8 + 2 + 3);
    check_node_memory(
        client,
        controller + picture_bytes,
        engines,
        &format!("a {}×{} grid", julia.rows, julia.cols),
    )
}

/// One parallel computation: where the counts are, and how long it took.
fn compute(
    client: &Client,
    args: &Args,
    julia: &Julia,
    r: &Remotes,
    gather: bool,
) -> Result<(Counts, Phases)> {
    let mut phases = Phases::default();
    let mut timed = |slot: fn(&mut Phases) -> &mut f64, t: Instant| {
        *slot(&mut phases) += t.elapsed().as_secs_f64();
    };
    let dview = client.direct_view().progress(args.progress);
    let counts = match args.schedule {
        Schedule::Rows => {
            let t = Instant::now();
            let never: u64 = dview.apply_sync(&r.here, *julia)?.into_iter().sum();
            timed(|p| &mut p.compute, t);
            if gather {
                let t = Instant::now();
                let j = dview.gather::<u16>("J")?;
                timed(|p| &mut p.transfer, t);
                Counts::Here(j.into_raw_vec_and_offset().0)
            } else {
                Counts::OnEngines {
                    never_escaped: never,
                }
            }
        }
        Schedule::Block => {
            let t = Instant::now();
            let z =
                Array2::from_shape_vec((julia.rows, julia.cols), julia.grid()).expect("grid shape");
            dview.scatter("Z", &z)?;
            drop(z);
            timed(|p| &mut p.transfer, t);
            let t = Instant::now();
            dview.apply_sync(&r.block, (julia.c, julia.tmax))?;
            timed(|p| &mut p.compute, t);
            let t = Instant::now();
            let j = dview.gather::<u16>("J")?;
            timed(|p| &mut p.transfer, t);
            Counts::Here(j.into_raw_vec_and_offset().0)
        }
        Schedule::Balanced => {
            let t = Instant::now();
            let per = args.rows_per_task;
            let m = julia.rows as u64;
            let tasks = (0..m.div_ceil(per)).map(|k| (*julia, k * per, ((k + 1) * per).min(m)));
            let blocks = client
                .load_balanced_view()
                .progress(args.progress)
                .chunksize(1)
                .map_sync(&r.rows, tasks)?;
            let mut counts = Vec::with_capacity(julia.rows * julia.cols);
            for b in &blocks {
                counts.extend(b.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])));
            }
            // Computing and moving the counts overlap: all of it is the computation.
            timed(|p| &mut p.compute, t);
            Counts::Here(counts)
        }
    };
    Ok((counts, phases))
}

fn run(client: &Client, args: &Args, r: &Remotes) -> Result<(), AppError> {
    let julia = problem(args)?;
    // The counts come to the controller for the serial check and a serial write.
    let serial_io = args.serial_io || args.schedule == Schedule::Balanced;
    let gather = args.check || (serial_io && !args.no_output);
    check_julia_memory(client, args, &julia, gather)?;
    let mut counts = Counts::OnEngines { never_escaped: 0 };
    let mut times = Vec::new();
    let mut phases = Phases::default();
    for _ in 0..args.repeat {
        let (c, p) = compute(client, args, &julia, r, gather)?;
        counts = c;
        times.push(p.compute + p.transfer);
        phases = p;
    }
    let seconds = mpiview_apps::stats::median(times);
    let engines = client.n_engines();
    let never_escaped = match &counts {
        Counts::Here(c) => c.iter().filter(|&&k| k == julia.tmax).count() as u64,
        Counts::OnEngines { never_escaped } => *never_escaped,
    };
    println!(
        "julia: {}×{} grid, c = {}, z in [{}, {}], tmax {}, schedule {}, {engines} engine(s)",
        julia.rows, julia.cols, args.c, args.zmin, args.zmax, julia.tmax, args.schedule
    );
    println!(
        "time = {seconds:.4} s; {never_escaped} of {} points never escaped",
        julia.rows * julia.cols
    );
    let check = match &counts {
        Counts::Here(counts) if args.check => Some(check_serial(&julia, counts, seconds)?),
        _ => None,
    };
    let (mut h5, mut png) = (None, None);
    if !args.no_output {
        let t = Instant::now();
        let paths = write_outputs(client, args, &julia, &counts, r, serial_io)?;
        phases.output = t.elapsed().as_secs_f64();
        (h5, png) = (Some(paths[0].clone()), Some(paths[1].clone()));
        println!("wrote {} and {}", args.out.display(), args.png.display());
    }
    if args.schedule != Schedule::Balanced {
        client.direct_view().execute_sync(&r.clear)?;
    }
    // Before the json, after every phase: what the engines held at most.
    let engine_peak = if args.json {
        engines_peak_memory(&client.direct_view(), &r.peak)?
    } else {
        None
    };
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
                "io": if serial_io { "serial" } else { "parallel" },
                "phases": phases,
                "controller_peak_bytes": mpiview_apps::stats::peak_memory_bytes(),
                "engine_peak_bytes": engine_peak,
            })
        );
    }
    Ok(())
}

/// Computes the grid serially on the controller and compares; the serial seconds.
fn check_serial(julia: &Julia, counts: &[u16], seconds: f64) -> Result<f64> {
    let t = Instant::now();
    let serial = julia.counts();
    let serial_seconds = t.elapsed().as_secs_f64();
    let equal = serial == counts;
    let differing = serial.iter().zip(counts).filter(|(a, b)| a != b).count();
    println!(
        "check: parallel counts {} the serial counts ({differing} differ); serial {serial_seconds:.4} s, parallel {seconds:.4} s, speedup {:.2}x",
        if equal { "equal" } else { "DIFFER FROM" },
        serial_seconds / seconds
    );
    if !equal {
        return Err(Error::Invalid(format!(
            "{differing} counts differ from the serial computation"
        )));
    }
    Ok(serial_seconds)
}

/// Writes the HDF5 file and the picture, both complete before either replaces an old file;
/// their paths.
fn write_outputs(
    client: &Client,
    args: &Args,
    julia: &Julia,
    counts: &Counts,
    r: &Remotes,
    serial_io: bool,
) -> Result<Vec<PathBuf>, AppError> {
    let picture = Picture::fitting(julia.rows, julia.cols, PICTURE_MAX_SIDE);
    let schedule = args.schedule.to_string();
    let engines = client.n_engines();
    let h5 = match counts {
        Counts::Here(counts) if serial_io => {
            let w = H5Writer::create(&args.out)?;
            write_julia(&w, julia, 0..julia.rows, counts, engines, &schedule)?;
            w.stage()?
        }
        _ => {
            // The counts and the coordinates.
            let bytes = julia.rows * julia.cols * 2 + (julia.rows + julia.cols) * 8;
            let shared = SharedH5::reserve(&args.out, bytes as u64)?;
            let write = SharedWrite {
                julia: *julia,
                temp: shared.temp_path().to_path_buf(),
                target: args.out.clone(),
                schedule,
            };
            client
                .direct_view()
                .apply_sync(&r.write, write)
                .map_err(|e| shared.engines_failed(e))?;
            shared.stage()?
        }
    };
    let means = match counts {
        Counts::Here(counts) => picture.means_of(counts),
        Counts::OnEngines { .. } => {
            let mut total = picture.empty();
            for part in client
                .direct_view()
                .apply_sync(&r.picture, (*julia, picture))?
            {
                picture.add(&mut total, &part);
            }
            picture.means(&total)
        }
    };
    let png = stage_png(args, julia, &picture, &means)?;
    Ok(commit_all(vec![h5, png])?)
}

/// The HDF5 file's contents: rows `mine` of the counts from `counts`, and everything else
/// (the same on every rank of a collective write).
fn write_julia(
    w: &H5Writer,
    julia: &Julia,
    mine: Range<usize>,
    counts: &[u16],
    engines: usize,
    schedule: &str,
) -> Result<(), OutputError> {
    w.dataset_rows("counts", (julia.rows, julia.cols), mine, counts)?;
    w.dataset_1d("xs", &julia.xs())?;
    w.dataset_1d("ys", &julia.ys())?;
    let pair = |z: Complex64| Array1::from(vec![z.re, z.im]);
    w.dataset("c", pair(julia.c).view())?;
    w.dataset("zmin", pair(julia.zmin).view())?;
    w.dataset("zmax", pair(julia.zmax).view())?;
    w.attr("/", "tmax", julia.tmax)?;
    w.attr("/", "engines", engines as u64)?;
    w.attr_str("/", "schedule", schedule)?;
    w.attr_str(
        "counts",
        "description",
        "iterations each point stays within |z| <= 2, at most tmax; rows along Im z (ys), columns along Re z (xs)",
    )
}

/// The PNG picture of `means` (the counts shrunk to `picture`), complete under its temporary
/// name.
fn stage_png(
    args: &Args,
    julia: &Julia,
    picture: &Picture,
    means: &[u16],
) -> Result<Staged, OutputError> {
    let shrunk = if picture.factor > 1 {
        format!(", shown {}×{}", picture.rows, picture.cols)
    } else {
        String::new()
    };
    let image = JuliaImage {
        title: Some(format!(
            "Julia set of z² + c, c = {}, {}×{}{shrunk}, tmax {}",
            args.c, julia.rows, julia.cols, julia.tmax
        )),
        tmax: julia.tmax,
    };
    julia_png_staged(&args.png, means, picture.rows, picture.cols, &image)
}
