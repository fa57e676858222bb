//! `maxnormal`: the distribution of X = max of N standard normals (the seed lab's Problem 5).
//!
//! ```text
//! mpirun -n 3 maxnormal                          # N = 10, 500,000 draws of X
//! mpirun -n 5 maxnormal --n 50 --draws 1e6 --out max50.h5 --png max50.png --json
//! ```
//!
//! The draws are split evenly over the engines (the block rule); draw `k` comes from random
//! stream block `k / 4096` of the seed, so the samples are bit-identical whatever the number of
//! engines. Everything per sample stays on the engines: each histograms its draws on edges fixed
//! by the exact distribution and the histograms are summed by an MPI reduction; the exact
//! Kolmogorov–Smirnov distance to Φ(x)^N comes from a sample sort among the engines (the same
//! value, bit for bit, as from all the samples in one place); the engines write their samples
//! into the HDF5 file together (parallel HDF5, in global order). The controller holds the
//! histogram and a few numbers. `--serial-io` gathers the samples and writes from the
//! controller instead.

use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mpiview::partition::block_range_u64;
use mpiview::{Client, Cluster, Error, Remote, Result, Task};
use mpiview_apps::cli::{
    AppError, check_memory, check_node_memory, parse_args, parse_positive_count, parse_seed,
};
use mpiview_apps::io::OutputError;
use mpiview_apps::io::hdf5::{H5Writer, SharedH5};
use mpiview_apps::io::output::{Staged, check_outputs, commit_all};
use mpiview_apps::io::png::{HistogramChart, histogram_png_staged};
use mpiview_apps::kernels::maxnormal::{
    Histogram, KS_PEAK_BYTES_PER_SAMPLE, cdf, density, exact_edges, histogram_among,
    ks_distance_among, ks_pvalue, samples_reporting,
};
use mpiview_apps::kernels::sum::CompensatedSum;
use mpiview_apps::stats::{Phases, engines_peak_memory, register_engine_peak};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "maxnormal",
    about = "Samples X = max of N standard normals on the engines; histogram, exact density and KS distance.",
    after_help = "Numbers accept 5e5 and 500_000.\n\
                  Output (unless --no-output): an HDF5 file (datasets /samples, /histogram/counts, \
                  /histogram/edges, /histogram/density; attributes n, draws, seed, engines, bins, \
                  ks_distance, ks_pvalue, below, above) and a PNG of the histogram as a density with \
                  the exact density N·φ(x)·Φ(x)^(N−1) over it. See the README for the layout.\n\
                  The two files are written under temporary names and renamed into place together, \
                  once both are complete; --out and --png must name two different regular files (a \
                  symbolic link is followed; a FIFO or device is refused).\n\
                  The engines write the HDF5 file together through MPI-IO (parallel HDF5) unless \
                  --serial-io; the datasets are the same.\n\
                  --json prints one object on the last line of stdout with the keys: app, n, draws, \
                  seed, bins, engines, ks_distance, ks_pvalue, mean, seconds, h5, png, io (parallel \
                  or serial), phases (seconds of compute, transfer and output), \
                  controller_peak_bytes, engine_peak_bytes (the largest of the \
                  engines').\n\
                  Exit codes: 0 success; 2 bad input (one message, nothing computed, no file \
                  written); 1 any other failure (e.g. a full disk: no file replaced)."
)]
struct Args {
    /// N: how many standard normals each draw of X is the maximum of.
    #[arg(short, long, default_value = "10", value_parser = parse_positive_count, allow_negative_numbers = true)]
    n: u64,
    /// Draws of X, split over the engines.
    #[arg(short, long, default_value = "500_000", value_parser = parse_positive_count, allow_negative_numbers = true)]
    draws: u64,
    /// Seed of the random streams.
    #[arg(long, default_value = "2026", value_parser = parse_seed, allow_negative_numbers = true)]
    seed: u64,
    /// Histogram bins (between the exact distribution's 1e-5 and 1 − 1e-5 quantiles), at most
    /// 10^6.
    #[arg(long, default_value = "100", value_parser = parse_bins, allow_negative_numbers = true)]
    bins: u64,
    /// HDF5 file to write.
    #[arg(long, default_value = "maxnormal.h5")]
    out: PathBuf,
    /// PNG picture to write.
    #[arg(long, default_value = "maxnormal.png")]
    png: PathBuf,
    /// Write no files.
    #[arg(long)]
    no_output: bool,
    /// The controller gathers the samples and writes the HDF5 file alone (for file systems
    /// without MPI-IO).
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

/// Most histogram bins: a million bins already leave fewer than one draw in most of them for
/// draws up to 10^6, and the chart is 1000 pixels wide.
const MAX_BINS: u64 = 1_000_000;

/// Parses `--bins`: a positive count up to [`MAX_BINS`].
fn parse_bins(s: &str) -> Result<u64, String> {
    match parse_positive_count(s)? {
        n if n > MAX_BINS => Err(format!(
            "`{s}` bins is too many: at most {MAX_BINS} (the chart is 1000 pixels wide)"
        )),
        n => Ok(n),
    }
}

/// The controller's memory for the histograms: the edges sent to every engine, the summed
/// histogram coming back from one engine and its density; bytes.
fn histogram_bytes(bins: u64, engines: u64) -> u128 {
    u128::from(bins + 1) * (8 * u128::from(engines) + 32)
}

/// What every engine is asked.
#[derive(Serialize, Deserialize)]
struct Share {
    seed: u64,
    n: u32,
    draws: u64,
    edges: Vec<f64>,
}

/// What an engine answers: the summed histogram (engine 0 only), the KS distance (every
/// engine computes the same), and the sum of its own draws.
#[derive(Serialize, Deserialize)]
struct Answer {
    hist: Option<Histogram>,
    ks: f64,
    sum: CompensatedSum,
}

/// The numbers the HDF5 file records (the same on every writer).
#[derive(Clone, Serialize, Deserialize)]
struct Meta {
    n: u32,
    draws: u64,
    seed: u64,
    engines: u64,
    bins: u64,
    ks: f64,
    p: f64,
}

/// What the engines need to write the HDF5 file together.
#[derive(Serialize, Deserialize)]
struct SharedWrite {
    temp: PathBuf,
    target: PathBuf,
    meta: Meta,
    hist: Histogram,
}

/// Pieces each engine's draws are made in, reporting progress after each.
const PROGRESS_PARTS: u64 = 100;

/// The remote functions of this app.
struct Remotes {
    draw: Remote<Share, Answer>,
    write: Remote<SharedWrite, ()>,
    clear: Task,
    /// An engine's peak memory, for `--json`.
    peak: Remote<(), Option<u64>>,
}

/// The draws engine `id` of `n` makes (the block rule).
fn my_draws(draws: u64, n: usize, id: usize) -> Range<u64> {
    block_range_u64(draws, n as u64, id as u64)
}

fn main() -> ExitCode {
    let mut cluster = Cluster::init().expect("MPI starts");
    let remotes = Remotes {
        draw: cluster.register_with_context("maxnormal_share", |ctx, s: Share| {
            let range = my_draws(s.draws, ctx.n_engines(), ctx.engine_id());
            // The draws in pieces, each reported: a progress display for long runs.
            let x = samples_reporting(s.seed, s.n, range, PROGRESS_PARTS, |done, total| {
                ctx.progress(done, total)
            });
            let mut hist = Histogram::new(s.edges);
            hist.fill(&x);
            let comm = ctx.engines();
            let total = histogram_among(comm, &hist);
            let mut sum = CompensatedSum::default();
            for &v in &x {
                sum.add(v);
            }
            let ks = ks_distance_among(comm, &x, s.draws, |v| cdf(s.n, v));
            ctx.set("samples", x);
            Ok(Answer {
                hist: (ctx.engine_id() == 0).then_some(total),
                ks,
                sum,
            })
        }),
        write: cluster.register_with_context(
            "write samples (parallel HDF5)",
            |ctx, w: SharedWrite| {
                let mine = my_draws(w.meta.draws, ctx.n_engines(), ctx.engine_id());
                let x = ctx.array::<f64>("samples");
                let ready = match &x {
                    Ok(x) if x.len() as u64 == mine.end - mine.start && x.as_slice().is_some() => {
                        Ok(())
                    }
                    Ok(x) => Err(format!(
                        "this engine holds {} samples, not draws {mine:?}",
                        x.len()
                    )),
                    Err(e) => Err(e.to_string()),
                };
                let file = H5Writer::collective(&w.temp, &w.target, ctx.engines(), ready)?;
                let x = x?;
                let x = x.as_slice().ok_or("samples are not contiguous")?;
                let small = ctx.engine_id() == 0;
                write_maxnormal(&file, &w.meta, mine, x, &w.hist, small)?;
                file.close()?;
                Ok(())
            },
        ),
        clear: cluster.register_task("del samples", |ctx| {
            ctx.remove("samples");
            Ok(())
        }),
        peak: register_engine_peak(&mut cluster),
    };
    let parsed = parse_args::<Args>(cluster.rank(), std::env::args_os());
    cluster.run(|client| parsed.run(|args| run(client, &args, &remotes)))
}

/// Checks, before any work, that the busiest node can hold what its ranks will: each engine
/// keeps its draws and, in each round of the sample sort, a bucket it sends and the stretch it
/// receives ([`KS_PEAK_BYTES_PER_SAMPLE`] bytes a draw); the controller gathers the draws for a
/// serial write.
fn check_draws_memory(client: &Client, args: &Args) -> Result<()> {
    let draws = u128::from(args.draws);
    let gathered = if args.serial_io && !args.no_output {
        8 * draws
    } else {
        0
    };
    check_node_memory(
        client,
        gathered,
        u128::from(KS_PEAK_BYTES_PER_SAMPLE) * draws,
        &format!("{} draws", args.draws),
    )
}

fn run(client: &Client, args: &Args, r: &Remotes) -> Result<(), AppError> {
    let n =
        u32::try_from(args.n).map_err(|_| Error::usage(format!("--n {} is too large", args.n)))?;
    if !args.no_output {
        check_outputs(&[("--out", &args.out), ("--png", &args.png)])
            .map_err(|e| Error::usage(e.to_string()))?;
    }
    let dview = client.direct_view();
    // The long calls show progress as asked (the short ones never need to).
    let shown = dview.progress(args.progress);
    let parts = dview.len() as u64;
    check_memory(
        histogram_bytes(args.bins, parts),
        &format!("--bins {} on {parts} engine(s)", args.bins),
    )?;
    check_draws_memory(client, args)?;
    let bins = usize::try_from(args.bins).map_err(|_| Error::usage("--bins is too large"))?;
    let edges = exact_edges(n, bins);

    let mut phases = Phases::default();
    let t = Instant::now();
    let share = Share {
        seed: args.seed,
        n,
        draws: args.draws,
        edges,
    };
    let mut answers = shown.apply_sync(&r.draw, share)?;
    let ks = answers[0].ks;
    if let Some(k) = answers.iter().position(|a| a.ks.to_bits() != ks.to_bits()) {
        return Err(Error::Invalid(format!(
            "the engines disagree on the KS distance: {ks} on engine 0, {} on engine {k}",
            answers[k].ks
        ))
        .into());
    }
    let hist = answers[0]
        .hist
        .take()
        .ok_or_else(|| Error::Invalid("engine 0 sent no histogram".into()))?;
    let sum = CompensatedSum::sum_of(answers.iter().map(|a| a.sum));
    let seconds = t.elapsed().as_secs_f64();
    phases.compute = seconds;
    let p = ks_pvalue(ks, args.draws);
    let mean = sum.value() / args.draws as f64;

    println!(
        "maxnormal: {} draws of the max of {n} standard normals on {} engine(s), seed {}",
        args.draws, parts, args.seed
    );
    println!("sample mean = {mean:.6}");
    println!("KS distance to the exact CDF Φ(x)^{n} = {ks:.6} (p-value {p:.3})");
    println!("time = {seconds:.4} s (draws, histogram, KS)");
    println!(
        "outside the histogram: {} below, {} above",
        hist.below, hist.above
    );

    let (mut h5, mut png) = (None, None);
    if !args.no_output {
        let meta = Meta {
            n,
            draws: args.draws,
            seed: args.seed,
            engines: parts,
            bins: args.bins,
            ks,
            p,
        };
        let t = Instant::now();
        let staged = if args.serial_io {
            let x = dview.gather::<f64>("samples")?;
            phases.transfer = t.elapsed().as_secs_f64();
            let x = x.as_slice().expect("a gathered array is contiguous");
            let w = H5Writer::create(&args.out)?;
            write_maxnormal(&w, &meta, 0..args.draws, x, &hist, true)?;
            w.stage()?
        } else {
            // The samples and the histogram (counts, edges, density).
            let bytes = args.draws * 8 + (args.bins + 1) * 24;
            let shared = SharedH5::reserve(&args.out, bytes)?;
            let write = SharedWrite {
                temp: shared.temp_path().to_path_buf(),
                target: args.out.clone(),
                meta: meta.clone(),
                hist: hist.clone(),
            };
            shown
                .apply_sync(&r.write, write)
                .map_err(|e| shared.engines_failed(e))?;
            shared.stage()?
        };
        // Both files complete before either replaces an old one.
        let paths = commit_all(vec![staged, stage_png(args, n, ks, &hist)?])?;
        phases.output = t.elapsed().as_secs_f64() - phases.transfer;
        (h5, png) = (Some(paths[0].clone()), Some(paths[1].clone()));
        println!("wrote {} and {}", args.out.display(), args.png.display());
    }
    dview.execute_sync(&r.clear)?;
    // Before the json, after every phase: what the engines held at most.
    let engine_peak = if args.json {
        engines_peak_memory(&client.direct_view(), &r.peak)?
    } else {
        None
    };
    if args.json {
        println!(
            "{}",
            json!({
                "app": "maxnormal",
                "n": args.n,
                "draws": args.draws,
                "seed": args.seed,
                "bins": args.bins,
                "engines": parts,
                "ks_distance": ks,
                "ks_pvalue": p,
                "mean": mean,
                "seconds": seconds,
                "h5": h5.map(|p| p.display().to_string()),
                "png": png.map(|p| p.display().to_string()),
                "io": if args.serial_io { "serial" } else { "parallel" },
                "phases": phases,
                "controller_peak_bytes": mpiview_apps::stats::peak_memory_bytes(),
                "engine_peak_bytes": engine_peak,
            })
        );
    }
    Ok(())
}

/// The HDF5 file's contents: draws `mine` of the samples from `x`, and the histogram if
/// `small` (the one writer of the small datasets in a collective write; every writer passes
/// the same `meta`).
fn write_maxnormal(
    w: &H5Writer,
    meta: &Meta,
    mine: Range<u64>,
    x: &[f64],
    hist: &Histogram,
    small: bool,
) -> Result<(), OutputError> {
    let all = |len: usize| if small { 0..len } else { 0..0 };
    let part = |data: &[f64]| -> Vec<f64> { data[all(data.len())].to_vec() };
    let mine = mine.start as usize..mine.end as usize;
    w.dataset_part_1d("samples", meta.draws as usize, mine, x)?;
    w.group("histogram")?;
    let counts = &hist.counts[all(hist.counts.len())];
    w.dataset_part_1d(
        "histogram/counts",
        hist.counts.len(),
        all(hist.counts.len()),
        counts,
    )?;
    let edges = part(&hist.edges);
    w.dataset_part_1d(
        "histogram/edges",
        hist.edges.len(),
        all(hist.edges.len()),
        &edges,
    )?;
    let density = hist.density();
    let d = part(&density);
    w.dataset_part_1d("histogram/density", density.len(), all(density.len()), &d)?;
    w.attr("/", "n", u64::from(meta.n))?;
    w.attr("/", "draws", meta.draws)?;
    w.attr("/", "seed", meta.seed)?;
    w.attr("/", "engines", meta.engines)?;
    w.attr("/", "bins", meta.bins)?;
    w.attr("/", "ks_distance", meta.ks)?;
    w.attr("/", "ks_pvalue", meta.p)?;
    w.attr("/", "below", hist.below)?;
    w.attr("/", "above", hist.above)?;
    w.attr_str(
        "samples",
        "description",
        &format!(
            "draws of the maximum of {} standard normals, in global order",
            meta.n
        ),
    )
}

/// The PNG chart, complete under its temporary name.
fn stage_png(args: &Args, n: u32, ks: f64, hist: &Histogram) -> Result<Staged, OutputError> {
    let chart = HistogramChart {
        title: format!(
            "Maximum of {n} standard normals: {} draws (KS distance {ks:.4})",
            args.draws
        ),
        x_label: format!("x = max of {n} draws from N(0, 1)"),
        y_label: "probability density".into(),
        bars_label: "histogram of the draws".into(),
        curve_label: format!("exact density {n}·φ(x)·Φ(x)^{}", n - 1),
        ..HistogramChart::default()
    };
    histogram_png_staged(&args.png, hist, Some(&|v| density(n, v)), &chart)
}
