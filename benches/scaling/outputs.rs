//! What a study writes into `--out`: the runs and the summary as CSV, the summary as HDF5,
//! the speedup chart and the per-phase chart.

use std::path::Path;

use mpiview_apps::io::hdf5::H5Writer;
use mpiview_apps::io::png::{
    LineChart, LineSeries, ScalingChart, ScalingSeries, lines_png, scaling_png,
};

use super::{Args, Mode, Run, Summary, launcher, name};

/// Writes `runs.csv`, `summary.csv`, `scaling.h5`, `scaling.png` and, where the app reports its
/// phases, `phases.png` into `out`.
pub(crate) fn write_outputs(
    args: &Args,
    out: &Path,
    runs: &[Run],
    summaries: &[Summary],
    cores: u64,
) -> Result<(), String> {
    let csv_err = |e: csv::Error| e.to_string();
    let mut w = csv::Writer::from_path(out.join("runs.csv")).map_err(csv_err)?;
    for r in runs {
        w.serialize(r).map_err(csv_err)?;
    }
    w.flush().map_err(|e| e.to_string())?;
    let mut w = csv::Writer::from_path(out.join("summary.csv")).map_err(csv_err)?;
    for s in summaries {
        w.serialize(s).map_err(csv_err)?;
    }
    w.flush().map_err(|e| e.to_string())?;

    let io = |e: mpiview_apps::io::OutputError| e.to_string();
    let h5 = H5Writer::create(out.join("scaling.h5")).map_err(io)?;
    for kind in ["mpiview", "spmd"] {
        let rows: Vec<&Summary> = summaries.iter().filter(|s| s.kind == kind).collect();
        if rows.is_empty() {
            continue;
        }
        h5.group(kind).map_err(io)?;
        for (column, of) in COUNTS {
            let values: Vec<u64> = rows.iter().map(|s| of(s)).collect();
            h5.dataset_1d(&format!("{kind}/{column}"), &values)
                .map_err(io)?;
        }
        for (column, of) in TIMINGS {
            let values: Vec<f64> = rows.iter().map(|s| of(s)).collect();
            h5.dataset_1d(&format!("{kind}/{column}"), &values)
                .map_err(io)?;
        }
        // Seconds of each phase (NaN where the app does not report them).
        for (phase, of) in PHASES {
            let seconds: Vec<f64> = rows.iter().map(|s| of(s).unwrap_or(f64::NAN)).collect();
            h5.dataset_1d(&format!("{kind}/{phase}"), &seconds)
                .map_err(io)?;
        }
        h5.dataset_1d(
            &format!("{kind}/oversubscribed"),
            &rows
                .iter()
                .map(|s| u8::from(s.oversubscribed))
                .collect::<Vec<u8>>(),
        )
        .map_err(io)?;
    }
    h5.attr_str("/", "app", &name(&args.app)).map_err(io)?;
    h5.attr_str("/", "mode", &name(&args.mode)).map_err(io)?;
    h5.attr_str("/", "launcher", &name(&launcher(args)))
        .map_err(io)?;
    h5.attr("/", "reps", args.reps).map_err(io)?;
    h5.attr("/", "cores", cores).map_err(io)?;
    h5.finish().map_err(io)?;

    let series: Vec<ScalingSeries> = ["mpiview", "spmd"]
        .iter()
        .filter_map(|&kind| {
            // The mpiview line is the controller-and-engines runs (-n 2 and up); a one-rank run
            // (in-process engine) is in the tables, not on the line.
            let rows: Vec<&Summary> = summaries
                .iter()
                .filter(|s| s.kind == kind && (kind == "spmd" || s.ranks >= 2))
                .collect();
            (!rows.is_empty()).then(|| ScalingSeries {
                label: if kind == "mpiview" {
                    format!("{} (mpiview)", name(&args.app))
                } else {
                    "raw SPMD (trapz-spmd)".into()
                },
                engines: rows.iter().map(|s| s.engines as f64).collect(),
                speedup: rows.iter().map(|s| s.speedup).collect(),
                efficiency: rows.iter().map(|s| s.efficiency).collect(),
            })
        })
        .collect();
    let (speedup_label, efficiency_label) = match args.mode {
        Mode::Strong => ("speedup T(1) / T(E)", "efficiency T(1) / (E · T(E))"),
        Mode::Weak => ("scaled speedup E · T(1) / T(E)", "efficiency T(1) / T(E)"),
    };
    let chart = ScalingChart {
        title: title(args, "", cores),
        speedup_label: speedup_label.into(),
        efficiency_label: efficiency_label.into(),
        // Ranks = engines + 1 outnumber the cores from this many engines on.
        oversubscribed_from: summaries
            .iter()
            .filter(|s| s.kind == "mpiview" && s.oversubscribed)
            .map(|s| s.engines as f64)
            .reduce(f64::min),
        ..ScalingChart::default()
    };
    scaling_png(out.join("scaling.png"), &series, &chart).map_err(io)?;
    phases_png(args, out, summaries, cores).map_err(io)?;
    Ok(())
}

/// A column of the summary in `scaling.h5`: its name, and where a summary keeps it.
type Column<T> = (&'static str, fn(&Summary) -> T);

/// The counts of each row.
const COUNTS: [Column<u64>; 3] = [
    ("ranks", |s| s.ranks),
    ("engines", |s| s.engines),
    ("size", |s| s.size),
];

/// The median seconds of each row and what follows from them.
const TIMINGS: [Column<f64>; 3] = [
    ("seconds", |s| s.seconds),
    ("speedup", |s| s.speedup),
    ("efficiency", |s| s.efficiency),
];

/// The phases an app reports in `--json`: each one's median seconds.
const PHASES: [Column<Option<f64>>; 3] = [
    ("compute", |s| s.compute),
    ("transfer", |s| s.transfer),
    ("output", |s| s.output),
];

/// `phases.png`: the median seconds of each phase against the engines, beside the app's own
/// total; nothing for an app that reports no phases.
fn phases_png(
    args: &Args,
    out: &Path,
    summaries: &[Summary],
    cores: u64,
) -> Result<(), mpiview_apps::io::OutputError> {
    let rows: Vec<&Summary> = summaries
        .iter()
        .filter(|s| s.kind == "mpiview" && s.ranks >= 2 && s.compute.is_some())
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let engines: Vec<f64> = rows.iter().map(|s| s.engines as f64).collect();
    let line = |label: &str, y: Vec<f64>| LineSeries {
        label: label.into(),
        x: engines.clone(),
        y,
    };
    let mut series = vec![line(
        "the app's seconds",
        rows.iter().map(|s| s.seconds).collect(),
    )];
    for (phase, of) in PHASES {
        // A phase that took no time anywhere (no transfer, no files) has no line.
        let y: Vec<f64> = rows.iter().map(|s| of(s).unwrap_or(f64::NAN)).collect();
        if y.iter().any(|&v| v > 0.0) {
            series.push(line(phase, y));
        }
    }
    let chart = LineChart {
        title: title(args, " by phase (medians)", cores),
        x_label: "engines".into(),
        y_label: "seconds".into(),
        log_y: true,
        ..LineChart::default()
    };
    lines_png(out.join("phases.png"), &series, &chart)?;
    Ok(())
}

/// A chart's title: the app, the mode, `what` the chart shows, the cores.
fn title(args: &Args, what: &str, cores: u64) -> String {
    format!(
        "{} {} scaling{what}, {cores} cores",
        name(&args.app),
        name(&args.mode)
    )
}
