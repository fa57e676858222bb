//! The scaling harness on tiny sizes at 1–3 ranks: the CSV, HDF5 and PNG are written and well
//! formed, speedups are relative to one engine, oversubscription is flagged.

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

const SCALING: &str = env!("CARGO_BIN_EXE_scaling");

fn scaling(args: &[&str]) -> (bool, String, String) {
    let _lock = common::LaunchLock::acquire();
    let mut cmd = Command::new(SCALING);
    common::mpi_env(&mut cmd);
    let out = cmd.args(args).output().expect("scaling runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn read_csv(path: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|x| x.unwrap()).collect()
}

#[test]
fn strong_scaling_with_the_spmd_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("strong");
    let (ok, stdout, stderr) = scaling(&[
        "--app",
        "trapz",
        "--mode",
        "strong",
        "--ranks",
        "1,2,3",
        "--size",
        "2e5",
        "--reps",
        "2",
        "--spmd",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    let runs = read_csv(&out.join("runs.csv"));
    assert_eq!(
        runs.len(),
        3 * 2 * 2,
        "3 rank counts × 2 reps × (mpiview, spmd)"
    );
    let summary = read_csv(&out.join("summary.csv"));
    let mpiview: Vec<_> = summary.iter().filter(|r| &r[0] == "mpiview").collect();
    assert_eq!(mpiview.len(), 3);
    // Relative to one engine with its controller (-n 2): speedup exactly 1 there.
    let two = mpiview.iter().find(|r| &r[1] == "2").unwrap();
    assert_eq!(&two[5], "1.0");
    for r in &mpiview {
        let seconds: f64 = r[4].parse().unwrap();
        assert!(seconds > 0.0);
        assert!(!r[8].is_empty(), "overhead vs SPMD at equal workers");
    }
    let cores = std::thread::available_parallelism().unwrap().get();
    let three = mpiview.iter().find(|r| &r[1] == "3").unwrap();
    assert_eq!(&three[7] == "true", 3 > cores, "oversubscription flag");

    let h5 = hdf5::File::open(out.join("scaling.h5")).unwrap();
    let engines: Vec<u64> = h5.dataset("mpiview/engines").unwrap().read_raw().unwrap();
    assert_eq!(engines, vec![1, 1, 2]);
    let eff: Vec<f64> = h5
        .dataset("mpiview/efficiency")
        .unwrap()
        .read_raw()
        .unwrap();
    assert!(eff.iter().all(|e| e.is_finite() && *e > 0.0));
    assert!(h5.dataset("spmd/seconds").is_ok());
    let mode: hdf5::types::VarLenUnicode = h5.attr("mode").unwrap().read_scalar().unwrap();
    assert_eq!(mode.as_str(), "strong");
    let png = std::fs::read(out.join("scaling.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
}

#[test]
fn weak_scaling_grows_the_work_with_the_engines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("weak");
    let (ok, stdout, stderr) = scaling(&[
        "--app",
        "maxnormal",
        "--mode",
        "weak",
        "--ranks",
        "2,3",
        "--size-per-engine",
        "2e4",
        "--reps",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    let summary = read_csv(&out.join("summary.csv"));
    let sizes: Vec<u64> = summary.iter().map(|r| r[3].parse().unwrap()).collect();
    assert_eq!(sizes, vec![20_000, 40_000]);
    assert!(out.join("scaling.png").exists() && out.join("scaling.h5").exists());
}

#[test]
fn bad_requests_are_refused() {
    let (ok, _, stderr) = scaling(&["--app", "julia", "--spmd", "--ranks", "2"]);
    assert!(!ok);
    assert!(
        stderr.contains("--spmd compares the trapz kernel only"),
        "{stderr}"
    );
    let (ok, _, stderr) = scaling(&["--ranks", "0"]);
    assert!(!ok && stderr.contains("at least 1"), "{stderr}");
    // A preset sets the app and the size: naming them too is refused before anything runs.
    for clash in [["--app", "trapz"], ["--size", "100"]] {
        let mut args = vec!["--preset", "julia-8192"];
        args.extend(clash);
        let (ok, _, stderr) = scaling(&args);
        assert!(!ok && stderr.contains("cannot be used with"), "{stderr}");
    }
    let (ok, _, stderr) = scaling(&["--preset", "julia-4096"]);
    assert!(!ok && stderr.contains("maxnormal-1e8"), "{stderr}");
}

#[test]
fn phases_and_peak_memory_with_the_files_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("phases");
    let (ok, stdout, stderr) = scaling(&[
        "--app",
        "maxnormal",
        "--ranks",
        "1,3",
        "--size",
        "3e4",
        "--reps",
        "2",
        "--write-files",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    let runs = csv::Reader::from_path(out.join("runs.csv"))
        .unwrap()
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|r| r.unwrap())
        .collect::<Vec<_>>();
    assert_eq!(runs.len(), 4);
    for r in &runs {
        let num = |k: &str| -> f64 { r[k].parse().unwrap_or_else(|_| panic!("{k} in {r:?}")) };
        assert!(
            num("output") > 0.0,
            "the files were written and timed: {r:?}"
        );
        assert!(num("compute") > 0.0 && num("transfer") >= 0.0, "{r:?}");
        assert!(
            num("engine_peak_bytes") > 1e6 && num("controller_peak_bytes") > 1e6,
            "{r:?}"
        );
    }
    let h5 = hdf5::File::open(out.join("scaling.h5")).unwrap();
    let output: Vec<f64> = h5.dataset("mpiview/output").unwrap().read_raw().unwrap();
    assert!(
        output.len() == 2 && output.iter().all(|&s| s > 0.0),
        "{output:?}"
    );
    let png = std::fs::read(out.join("phases.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    // The app's own file, from the last run.
    let samples = hdf5::File::open(out.join("maxnormal.h5")).unwrap();
    assert_eq!(samples.dataset("samples").unwrap().size(), 30_000);
}
