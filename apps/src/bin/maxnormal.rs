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
use mpiview_apps::cli::{check_memory, parse_args, parse_count, parse_positive_count};
use mpiview_apps::io::hdf5::H5Writer;
use mpiview_apps::io::output::check_output_path;
use mpiview_apps::io::png::{HistogramChart, histogram_png};
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
                  --json prints one object on the last line of stdout with the keys: app, n, draws, \
                  seed, bins, engines, ks_distance, ks_pvalue, mean, seconds, h5, png."
)]
struct Args {
    /// N: how many standard normals each draw of X is the maximum of.
    #[arg(short, long, default_value = "10", value_parser = parse_positive_count)]
    n: u64,
    /// Draws of X, split over the engines.
    #[arg(short, long, default_value = "500_000", value_parser = parse_positive_count)]
    draws: u64,
    /// Seed of the random streams.
    #[arg(long, default_value = "2026", value_parser = parse_count)]
    seed: u64,
    /// Histogram bins (between the exact distribution's 1e-5 and 1 − 1e-5 quantiles).
    #[arg(long, default_value = "100", value_parser = parse_positive_count)]
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

fn run(client: &Client, args: &Args, draw: &Remote<Share, Histogram>) -> Result<()> {
    let n =
        u32::try_from(args.n).map_err(|_| Error::usage(format!("--n {} is too large", args.n)))?;
    if !args.no_output {
        for path in [&args.out, &args.png] {
            check_output_path(path).map_err(|e| Error::usage(e.to_string()))?;
        }
    }
    // The draws, gathered, and a sorted copy for the KS distance.
    check_memory(
        u128::from(args.draws) * 16,
        &format!("{} draws", args.draws),
    )?;
    let bins = usize::try_from(args.bins).map_err(|_| Error::usage("--bins is too large"))?;
    let edges = exact_edges(n, bins);

    let dview = client.direct_view();
    let parts = dview.len() as u64;
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
        let io = |e: mpiview_apps::io::OutputError| Error::Io(std::io::Error::other(e.to_string()));
        let w = H5Writer::create(&args.out).map_err(io)?;
        w.dataset_1d("samples", x).map_err(io)?;
        w.group("histogram").map_err(io)?;
        w.dataset_1d("histogram/counts", &hist.counts).map_err(io)?;
        w.dataset_1d("histogram/edges", &hist.edges).map_err(io)?;
        w.dataset_1d("histogram/density", &hist.density())
            .map_err(io)?;
        w.attr("/", "n", args.n).map_err(io)?;
        w.attr("/", "draws", args.draws).map_err(io)?;
        w.attr("/", "seed", args.seed).map_err(io)?;
        w.attr("/", "engines", parts).map_err(io)?;
        w.attr("/", "bins", args.bins).map_err(io)?;
        w.attr("/", "ks_distance", ks).map_err(io)?;
        w.attr("/", "ks_pvalue", p).map_err(io)?;
        w.attr("/", "below", hist.below).map_err(io)?;
        w.attr("/", "above", hist.above).map_err(io)?;
        w.attr_str(
            "samples",
            "description",
            &format!("draws of the maximum of {n} standard normals, in global order"),
        )
        .map_err(io)?;
        h5 = Some(w.finish().map_err(io)?);
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
        png = Some(histogram_png(&args.png, &hist, Some(&|v| density(n, v)), &chart).map_err(io)?);
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
