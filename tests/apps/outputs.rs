//! `normstats`, `maxnormal` and `julia` at 1, 2, 3 and 5 ranks: the seed's outputs,
//! reproducibility across rank counts, the files they write (read back), and bad input.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use common::{DEADLINE, Run, launch};
use serde_json::Value;

const NORMSTATS: &str = env!("CARGO_BIN_EXE_normstats");
const MAXNORMAL: &str = env!("CARGO_BIN_EXE_maxnormal");
const JULIA: &str = env!("CARGO_BIN_EXE_julia");

fn run(np: usize, app: &str, args: &[&str]) -> Run {
    launch(np, Path::new(app), args, &[], DEADLINE)
}

/// Runs with `--json`; the report.
fn report(np: usize, app: &str, args: &[&str]) -> (Value, String) {
    let mut all = args.to_vec();
    all.push("--json");
    let r = run(np, app, &all);
    r.assert_success();
    let last = r.stdout.lines().last().expect("output").to_string();
    (
        serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}")),
        r.stdout,
    )
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// No temporary files left next to the outputs.
fn assert_no_leftovers(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.contains(".tmp") && !name.contains(".check"),
            "left behind: {name}"
        );
    }
}

/// Runs `app` with `args`, writing `{label}parallel.h5` and then `{label}serial.h5` (with
/// `--serial-io`) in `dir`, and asserts that the two files (`contents`: every dataset and
/// attribute) and the two pictures are the same.
fn assert_parallel_and_serial_io_agree(
    dir: &Path,
    np: usize,
    app: &str,
    args: &[&str],
    label: &str,
    contents: fn(&Path) -> Vec<String>,
) {
    let mut files = Vec::new();
    for io in ["parallel", "serial"] {
        let h5 = dir.join(format!("{label}{io}.h5"));
        let png = dir.join(format!("{label}{io}.png"));
        let mut all = args.to_vec();
        all.extend([
            "--out",
            h5.to_str().unwrap(),
            "--png",
            png.to_str().unwrap(),
        ]);
        if io == "serial" {
            all.push("--serial-io");
        }
        let (r, _) = report(np, app, &all);
        assert_eq!(r["io"], io, "np={np} {label}");
        files.push((contents(&h5), std::fs::read(&png).unwrap()));
    }
    assert!(
        files[0].0 == files[1].0,
        "np={np} {label}: the datasets differ"
    );
    assert!(
        files[0].1 == files[1].1,
        "np={np} {label}: the pictures differ"
    );
}

#[test]
fn normstats_mirrors_the_seed_and_streams_follow_engines() {
    let mut previous: Vec<f64> = Vec::new();
    for np in [1, 2, 3, 5] {
        let engines = (np - 1).max(1);
        let (r, out) = report(np, NORMSTATS, &["--n", "100_000", "--seed", "7"]);
        for key in ["means = [", "maxs = [", "mins = ["] {
            let line = out.lines().find(|l| l.starts_with(key)).expect(key);
            assert_eq!(line.matches(',').count(), engines - 1, "{line}");
        }
        let means = floats(&r["means"]);
        assert_eq!(means.len(), engines);
        assert!(means.iter().all(|m| m.abs() < 0.02));
        assert!(
            floats(&r["maxs"])
                .iter()
                .zip(floats(&r["mins"]))
                .all(|(mx, mn)| *mx > 3.0 && mn < -3.0)
        );
        // Engine i draws stream i: the engines both runs have agree bit for bit.
        let k = previous.len().min(means.len());
        assert_eq!(&means[..k], &previous[..k], "np={np}");
        previous = means;
    }
    let (r, out) = report(
        3,
        NORMSTATS,
        &["--n", "1e4", "--compare", "--sizes", "1e4,2e4"],
    );
    assert!(out.contains("parallel (s)") && out.contains("speedup"));
    assert_eq!(r["compare"].as_array().unwrap().len(), 2);
    for (args, message) in [
        (&["--n", "0"][..], "must be at least 1"),
        (&["--n", "lots"][..], "not a number"),
        (&["--sizes", "1e4,-5"][..], "--sizes"),
        (&["--seed", "1.5"][..], "not a whole number"),
    ] {
        let r = run(3, NORMSTATS, args);
        r.assert_code(2);
        assert_eq!(
            r.stderr.matches(message).count(),
            1,
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn maxnormal_samples_do_not_depend_on_the_rank_count_and_files_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut first: Option<Vec<f64>> = None;
    for np in [1, 2, 3, 5] {
        let h5 = dir.path().join(format!("max{np}.h5"));
        let png = dir.path().join(format!("max{np}.png"));
        let (r, out) = report(
            np,
            MAXNORMAL,
            &[
                "--draws",
                "100_000",
                "--n",
                "10",
                "--seed",
                "11",
                "--out",
                h5.to_str().unwrap(),
                "--png",
                png.to_str().unwrap(),
            ],
        );
        assert!(out.contains("KS distance"), "{out}");
        let ks = r["ks_distance"].as_f64().unwrap();
        assert!(ks < 0.01, "KS distance {ks} for 10^5 draws");
        assert!(r["ks_pvalue"].as_f64().unwrap() > 1e-4);
        assert_eq!(r["engines"], (np - 1).max(1) as u64);
        let engine_peak = r["engine_peak_bytes"].as_u64().unwrap();
        assert!(engine_peak > 1 << 20, "engine peak {engine_peak} bytes");
        let file = hdf5::File::open(&h5).unwrap();
        let samples: Vec<f64> = file.dataset("samples").unwrap().read_raw().unwrap();
        assert_eq!(samples.len(), 100_000);
        let counts: Vec<u64> = file
            .dataset("histogram/counts")
            .unwrap()
            .read_raw()
            .unwrap();
        let edges: Vec<f64> = file.dataset("histogram/edges").unwrap().read_raw().unwrap();
        assert_eq!(edges.len(), counts.len() + 1);
        let below: u64 = file.attr("below").unwrap().read_scalar().unwrap();
        let above: u64 = file.attr("above").unwrap().read_scalar().unwrap();
        assert_eq!(counts.iter().sum::<u64>() + below + above, 100_000);
        let n: u64 = file.attr("n").unwrap().read_scalar().unwrap();
        assert_eq!(n, 10);
        let ks_file: f64 = file.attr("ks_distance").unwrap().read_scalar().unwrap();
        assert_eq!(ks_file, ks);
        // The engines' sample sort gives the distance of all the samples in one place.
        let single = mpiview_apps::kernels::maxnormal::ks_distance(&samples, |v| {
            mpiview_apps::kernels::maxnormal::cdf(10, v)
        });
        assert_eq!(ks.to_bits(), single.to_bits(), "np={np}");
        assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
        match &first {
            None => first = Some(samples),
            Some(f) => assert!(
                f == &samples,
                "np={np}: the samples differ from the one-rank run"
            ),
        }
    }
    assert_no_leftovers(dir.path());
}

/// Every dataset and attribute of a maxnormal file, as text.
fn maxnormal_file(path: &Path) -> Vec<String> {
    let f = hdf5::File::open(path).unwrap();
    let mut out = Vec::new();
    for name in ["samples", "histogram/edges", "histogram/density"] {
        let d = f.dataset(name).unwrap();
        out.push(format!(
            "{name} {:?} {:?}",
            d.shape(),
            d.read_raw::<f64>().unwrap()
        ));
    }
    let counts = f.dataset("histogram/counts").unwrap();
    out.push(format!("counts {:?}", counts.read_raw::<u64>().unwrap()));
    for name in ["n", "draws", "seed", "engines", "bins", "below", "above"] {
        let v: u64 = f.attr(name).unwrap().read_scalar().unwrap();
        out.push(format!("{name} {v}"));
    }
    for name in ["ks_distance", "ks_pvalue"] {
        let v: f64 = f.attr(name).unwrap().read_scalar().unwrap();
        out.push(format!("{name} {:x}", v.to_bits()));
    }
    let described: hdf5::types::VarLenUnicode = f
        .dataset("samples")
        .unwrap()
        .attr("description")
        .unwrap()
        .read_scalar()
        .unwrap();
    out.push(described.to_string());
    out
}

#[test]
fn maxnormal_parallel_and_serial_io_write_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    // Draws that do not share out evenly; a histogram of many bins written by engine 0 alone.
    let common = [
        "--draws", "30011", "--n", "4", "--seed", "5", "--bins", "777",
    ];
    for np in [1, 2, 3, 5] {
        let label = format!("m{np}");
        assert_parallel_and_serial_io_agree(
            dir.path(),
            np,
            MAXNORMAL,
            &common,
            &label,
            maxnormal_file,
        );
    }
    assert_no_leftovers(dir.path());
}

#[test]
fn maxnormal_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/out.h5");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--draws".into(), "0".into()], "must be at least 1"),
        (vec!["--n".into(), "0".into()], "must be at least 1"),
        (vec!["--bins".into(), "x".into()], "not a number"),
        (
            vec!["--out".into(), missing.to_str().unwrap().into()],
            "does not exist",
        ),
        (
            vec!["--out".into(), dir.path().to_str().unwrap().into()],
            "is a directory",
        ),
        (vec!["--draws".into(), "1e15".into()], "memory"),
    ];
    for np in [1, 3] {
        for (args, message) in &cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = run(np, MAXNORMAL, &args);
            r.assert_code(2);
            assert_eq!(
                r.stderr.matches(message).count(),
                1,
                "{args:?}: {}",
                r.stderr
            );
            assert!(!r.stdout.contains("KS distance"), "no work for {args:?}");
        }
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

fn counts(path: &PathBuf) -> Vec<u16> {
    hdf5::File::open(path)
        .unwrap()
        .dataset("counts")
        .unwrap()
        .read_raw()
        .unwrap()
}

#[test]
fn julia_schedules_and_serial_agree_at_every_rank_count() {
    let dir = tempfile::tempdir().unwrap();
    let grid = ["--m", "96", "--n", "128", "--tmax", "300"];
    let mut reference: Option<Vec<u16>> = None;
    for np in [1, 2, 3, 5] {
        for schedule in ["rows", "block", "balanced"] {
            let h5 = dir.path().join(format!("j{np}{schedule}.h5"));
            let png = dir.path().join(format!("j{np}{schedule}.png"));
            let mut args = grid.to_vec();
            args.extend(["--schedule", schedule, "--check", "--rows-per-task", "5"]);
            args.extend([
                "--out",
                h5.to_str().unwrap(),
                "--png",
                png.to_str().unwrap(),
            ]);
            let (r, out) = report(np, JULIA, &args);
            assert!(
                out.contains("parallel counts equal the serial counts (0 differ)"),
                "{out}"
            );
            assert_eq!(r["equal_to_serial"], true);
            let c = counts(&h5);
            assert_eq!(c.len(), 96 * 128);
            let file = hdf5::File::open(&h5).unwrap();
            assert_eq!(file.dataset("counts").unwrap().shape(), vec![96, 128]);
            let tmax: u16 = file.attr("tmax").unwrap().read_scalar().unwrap();
            assert_eq!(tmax, 300);
            let xs: Vec<f64> = file.dataset("xs").unwrap().read_raw().unwrap();
            assert_eq!((xs[0], xs[127]), (-1.3, 1.3));
            assert!(std::fs::metadata(&png).unwrap().len() > 1000);
            match &reference {
                None => reference = Some(c),
                Some(r) => assert!(r == &c, "np={np} {schedule} differs"),
            }
        }
    }
    assert_no_leftovers(dir.path());
}

/// Every dataset of a julia file, as text (values, types and shapes), and every attribute.
fn julia_file(path: &Path) -> Vec<String> {
    let f = hdf5::File::open(path).unwrap();
    let mut out = Vec::new();
    let ds = |name: &str| f.dataset(name).unwrap();
    let counts = ds("counts");
    out.push(format!(
        "counts {:?} {:?}",
        counts.shape(),
        counts.dtype().unwrap().size()
    ));
    out.push(format!("{:?}", counts.read_raw::<u16>().unwrap()));
    for name in ["xs", "ys", "c", "zmin", "zmax"] {
        let d = ds(name);
        out.push(format!(
            "{name} {:?} {:?}",
            d.shape(),
            d.read_raw::<f64>().unwrap()
        ));
    }
    let tmax: u16 = f.attr("tmax").unwrap().read_scalar().unwrap();
    let engines: u64 = f.attr("engines").unwrap().read_scalar().unwrap();
    let schedule: hdf5::types::VarLenUnicode = f.attr("schedule").unwrap().read_scalar().unwrap();
    let described: hdf5::types::VarLenUnicode =
        counts.attr("description").unwrap().read_scalar().unwrap();
    out.push(format!(
        "tmax {tmax} engines {engines} schedule {schedule} {described}"
    ));
    let mut names = f.member_names().unwrap();
    names.sort();
    out.push(format!("members {names:?}"));
    out
}

#[test]
fn julia_parallel_and_serial_io_write_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    // Rows that do not share out evenly, and a picture shrunk by 3 (cells cut by engines).
    let grid = ["--m", "2500", "--n", "61", "--tmax", "40"];
    for np in [1, 2, 3, 5] {
        for schedule in ["rows", "block"] {
            let mut args = grid.to_vec();
            args.extend(["--schedule", schedule]);
            let label = format!("j{np}{schedule}");
            assert_parallel_and_serial_io_agree(dir.path(), np, JULIA, &args, &label, julia_file);
        }
    }
    // h5py reads a file the engines wrote together.
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let out = std::process::Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/check_h5.py"))
        .arg(dir.path().join("j5rowsparallel.h5"))
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("counts uint16 (2500, 61)"), "{text}");
    assert!(text.contains("schedule = 'rows'"), "{text}");
    assert_no_leftovers(dir.path());
}

#[test]
fn julia_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let unwritable = dir.path().join("missing/j.png");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--tmax".into(), "70000".into()], "over 65535"),
        (vec!["--c".into(), "1+2".into()], "not a complex number"),
        (vec!["--m".into(), "0".into()], "must be at least 1"),
        (
            vec!["--m".into(), "1e6".into(), "--n".into(), "1e6".into()],
            "memory",
        ),
        (
            vec!["--schedule".into(), "random".into()],
            "invalid value 'random'",
        ),
        (
            vec!["--png".into(), unwritable.to_str().unwrap().into()],
            "does not exist",
        ),
    ];
    for np in [1, 3] {
        for (args, message) in &cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = run(np, JULIA, &args);
            r.assert_code(2);
            assert_eq!(
                r.stderr.matches(message).count(),
                1,
                "{args:?}: {}",
                r.stderr
            );
            assert!(
                !r.stdout.contains("points never escaped"),
                "no work for {args:?}"
            );
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// One engine's part of a parallel write fails (`MPIVIEW_FAULT_WRITE`, as a full disk would
/// make it): the run ends with exit 1 and a message on every rank count, the outputs of an
/// earlier run stay as they were, and no temporary file is left.
#[test]
fn a_write_failing_on_one_engine_leaves_the_old_files_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let (h5, png) = (dir.path().join("out.h5"), dir.path().join("out.png"));
    std::fs::write(&h5, "an earlier run's file").unwrap();
    std::fs::write(&png, "an earlier run's picture").unwrap();
    let outputs = [
        "--out",
        h5.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ];
    for np in [1, 2, 3, 5] {
        let failing = ((np - 1).max(1) / 2).to_string();
        for (app, size) in [(MAXNORMAL, ["--draws", "20000"]), (JULIA, ["--m", "300"])] {
            let args: Vec<&str> = size.iter().chain(&outputs).copied().collect();
            let env = [("MPIVIEW_FAULT_WRITE".to_string(), failing.clone())];
            let r = launch(np, Path::new(app), &args, &env, DEADLINE);
            let what = format!("{app} np={np}, engine {failing} failing");
            r.assert_code(1);
            assert!(
                r.stderr.contains("MPIVIEW_FAULT_WRITE") && r.stderr.contains("out.h5"),
                "{what}: {}",
                r.stderr
            );
            assert_eq!(
                std::fs::read_to_string(&h5).unwrap(),
                "an earlier run's file",
                "{what}"
            );
            assert_eq!(
                std::fs::read_to_string(&png).unwrap(),
                "an earlier run's picture",
                "{what}"
            );
            assert_no_leftovers(dir.path());
        }
    }
}
