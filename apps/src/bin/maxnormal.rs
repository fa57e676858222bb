//! `maxnormal`: the distribution of X = max of N standard normals (the seed lab's Problem 5).
//!
//! ```text
//! mpirun -n 3 maxnormal                          # N = 10, 500,000 draws of X
//! mpirun -n 5 maxnormal --n 50 --draws 1e6 --out max50.h5 --png max50.png --json
//! ```
//!
//! The draws are split evenly over the engines (the block rule); draw `k` comes from random
//! stream block `k / 4096` of the seed, so the samples are bit-identical whatever the number of
//! engines. Each engine histograms its draws on edges fixed by the exact distribution; the
//! controller gathers the draws in order, adds the histograms, and measures the
//! Kolmogorov–Smirnov distance to the exact CDF Φ(x)^N.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mpiview::partition::block_range_u64;
use mpiview::{Client, Cluster, Error, Remote, Result};
use mpiview_apps::cli::{AppError, check_memory, parse_args, parse_positive_count, parse_seed};
use mpiview_apps::io::OutputError;
use mpiview_apps::io::hdf5::H5Writer;
use mpiview_apps::io::output::{Staged, check_outputs, commit_all};
use mpiview_apps::io::png::{HistogramChart, histogram_png_staged};
use mpiview_apps::kernels::maxnormal::{
    Histogram, SortedBlock, cdf, density, exact_edges, ks_distance_of_blocks, ks_pvalue, samples,
    sort_with_cdf,
};
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
                  --json prints one object on the last line of stdout with the keys: app, n, draws, \
                  seed, bins, engines, ks_distance, ks_pvalue, mean, seconds, h5, png.\n\
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

/// The controller's memory for the histograms: the edges sent to every engine, every engine's
/// histogram (edges and counts) coming back, the merged histogram and its density; bytes.
fn histogram_bytes(bins: u64, engines: u64) -> u128 {
    u128::from(bins + 1) * (32 + 64 * u128::from(engines))
}

/// One engine's share of the draws.
#[derive(Serialize, Deserialize)]
struct Share {
    seed: u64,
    n: u32,
    draws: u64,
    parts: u64,
    index: u64,
    edges: Vec<f64>,
}

fn main() -> ExitCode {
    let mut cluster = Cluster::init().expect("MPI starts");
    let draw = cluster.register_with_context("maxnormal_share", |ctx, s: Share| {
        let range = block_range_u64(s.draws, s.parts, s.index);
        let x = samples(s.seed, s.n, range);
        let mut hist = Histogram::new(s.edges);
        hist.fill(&x);
        // The engine's part of the KS distance: its draws sorted, with the exact CDF at each.
        let (sorted, f) = sort_with_cdf(&x, |v| cdf(s.n, v));
        ctx.set("samples", x);
        ctx.set("sorted", sorted);
        ctx.set("cdf", f);
        Ok(hist)
    });
    let parsed = parse_args::<Args>(cluster.rank(), std::env::args_os());
    cluster.run(|client| parsed.run(|args| run(client, &args, &draw)))
}

fn run(client: &Client, args: &Args, draw: &Remote<Share, Histogram>) -> Result<(), AppError> {
    let n =
        u32::try_from(args.n).map_err(|_| Error::usage(format!("--n {} is too large", args.n)))?;
    if !args.no_output {
        check_outputs(&[("--out", &args.out), ("--png", &args.png)])
            .map_err(|e| Error::usage(e.to_string()))?;
    }
    // The draws, gathered, and a sorted copy for the KS distance.
    check_memory(
        u128::from(args.draws) * 16,
        &format!("{} draws", args.draws),
    )?;
    let dview = client.direct_view();
    let parts = dview.len() as u64;
    check_memory(
        histogram_bytes(args.bins, parts),
        &format!("--bins {} on {parts} engine(s)", args.bins),
    )?;
    let bins = usize::try_from(args.bins).map_err(|_| Error::usage("--bins is too large"))?;
    let edges = exact_edges(n, bins);

    let t = Instant::now();
    let shares = (0..parts).map(|index| Share {
        seed: args.seed,
        n,
        draws: args.draws,
        parts,
        index,
        edges: edges.clone(),
    });
    let hists = dview.map_sync(draw, shares)?;
    let x = dview.gather::<f64>("samples")?;
    let x = x.as_slice().expect("a gathered array is contiguous");
    let sorted = dview.gather::<f64>("sorted")?;
    let f = dview.gather::<f64>("cdf")?;
    let (sorted, f) = (
        sorted.as_slice().expect("contiguous"),
        f.as_slice().expect("contiguous"),
    );
    let mut hist = Histogram::new(edges);
    for h in &hists {
        hist.merge(h);
    }
    // Each engine's block is sorted: the controller only merges them.
    let blocks: Vec<SortedBlock<'_>> = (0..parts)
        .map(|i| {
            let r = block_range_u64(args.draws, parts, i);
            let r = r.start as usize..r.end as usize;
            SortedBlock {
                x: &sorted[r.clone()],
                cdf: &f[r],
            }
        })
        .collect();
    let ks = ks_distance_of_blocks(&blocks);
    let seconds = t.elapsed().as_secs_f64();
    dview.clear_names(&["samples", "sorted", "cdf"])?;
    let p = ks_pvalue(ks, args.draws);
    let mean = x.iter().sum::<f64>() / x.len() as f64;

    println!(
        "maxnormal: {} draws of the max of {n} standard normals on {} engine(s), seed {}",
        args.draws, parts, args.seed
    );
    println!("sample mean = {mean:.6}");
    println!("KS distance to the exact CDF Φ(x)^{n} = {ks:.6} (p-value {p:.3})");
    println!("time = {seconds:.4} s (draws, histogram, gather, KS)");
    println!(
        "outside the histogram: {} below, {} above",
        hist.below, hist.above
    );

    let (mut h5, mut png) = (None, None);
    if !args.no_output {
        let run = Run {
            n,
            parts,
            ks,
            p,
            x,
            hist: &hist,
        };
        // Both files complete before either replaces an old one.
        let staged = vec![stage_h5(args, &run)?, stage_png(args, &run)?];
        let paths = commit_all(staged)?;
        (h5, png) = (Some(paths[0].clone()), Some(paths[1].clone()));
        println!("wrote {} and {}", args.out.display(), args.png.display());
    }
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
            })
        );
    }
    Ok(())
}

/// What the output files show.
struct Run<'a> {
    n: u32,
    parts: u64,
    ks: f64,
    p: f64,
    x: &'a [f64],
    hist: &'a Histogram,
}

/// The HDF5 file, complete under its temporary name.
fn stage_h5(args: &Args, r: &Run<'_>) -> Result<Staged, OutputError> {
    let w = H5Writer::create(&args.out)?;
    w.dataset_1d("samples", r.x)?;
    w.group("histogram")?;
    w.dataset_1d("histogram/counts", &r.hist.counts)?;
    w.dataset_1d("histogram/edges", &r.hist.edges)?;
    w.dataset_1d("histogram/density", &r.hist.density())?;
    w.attr("/", "n", args.n)?;
    w.attr("/", "draws", args.draws)?;
    w.attr("/", "seed", args.seed)?;
    w.attr("/", "engines", r.parts)?;
    w.attr("/", "bins", args.bins)?;
    w.attr("/", "ks_distance", r.ks)?;
    w.attr("/", "ks_pvalue", r.p)?;
    w.attr("/", "below", r.hist.below)?;
    w.attr("/", "above", r.hist.above)?;
    w.attr_str(
        "samples",
        "description",
        &format!(
            "draws of the maximum of {} standard normals, in global order",
            r.n
        ),
    )?;
    w.stage()
}

/// The PNG chart, complete under its temporary name.
fn stage_png(args: &Args, r: &Run<'_>) -> Result<Staged, OutputError> {
    let n = r.n;
    let chart = HistogramChart {
        title: format!(
            "Maximum of {n} standard normals: {} draws (KS distance {:.4})",
            args.draws, r.ks
        ),
        x_label: format!("x = max of {n} draws from N(0, 1)"),
        y_label: "probability density".into(),
        bars_label: "histogram of the draws".into(),
        curve_label: format!("exact density {n}·φ(x)·Φ(x)^{}", n - 1),
        ..HistogramChart::default()
    };
    histogram_png_staged(&args.png, r.hist, Some(&|v| density(n, v)), &chart)
}
