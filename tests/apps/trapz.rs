//! `trapz` at 1, 2, 3 and 5 ranks: known integrals, the rule's exact error on x², independence
//! of the engine count, and every kind of bad input.

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;

use common::{DEADLINE, launch};
use serde_json::Value;

const TRAPZ: &str = env!("CARGO_BIN_EXE_trapz");

/// Runs trapz on `np` ranks with `args` (plus `--json`); the JSON report.
fn trapz(np: usize, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let run = launch(np, Path::new(TRAPZ), &all, &[], DEADLINE);
    run.assert_success();
    let last = run.stdout.lines().last().expect("output");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"))
}

fn integral(report: &Value) -> f64 {
    report["integral"].as_f64().expect("integral")
}

#[test]
fn known_integrals_at_every_rank_count() {
    let pi = std::f64::consts::PI;
    for np in [1, 2, 3, 5] {
        let engines = (np - 1).max(1) as u64;
        // sin on [0, π] = 2; the rule's error is about (b−a)h²/12·max|f''| ≈ 1e-11 here.
        let r = trapz(
            np,
            &["--function", "sin", "-a", "0", "-b", "pi", "--n", "1e6"],
        );
        assert!((integral(&r) - 2.0).abs() < 2e-12, "{r}");
        assert_eq!(r["engines"], engines);
        assert_eq!(r["exact"].as_f64(), Some(2.0));
        // x² on [0, 3]: the trapezoid's error is exactly (b−a)h²/6.
        let n = 1000u64;
        let h = 3.0 / (n - 1) as f64;
        let r = trapz(
            np,
            &["--function", "x2", "-a", "0", "-b", "3", "--n", "1000"],
        );
        let want = 9.0 + 3.0 * h * h / 6.0;
        assert!(
            (integral(&r) - want).abs() <= 1e-13 * want,
            "{} vs {want}",
            integral(&r)
        );
        // gauss against erf: √π/2·(erf 2 − erf(−2)).
        let r = trapz(
            np,
            &[
                "--function",
                "gauss",
                "-a",
                "-2",
                "-b",
                "2",
                "--n",
                "1_000_000",
            ],
        );
        let exact = r["exact"].as_f64().unwrap();
        assert!((exact - 1.764162781524843).abs() < 1e-14, "{exact}");
        assert!((integral(&r) - exact).abs() < 1e-11);
        // semicircle: π/4 on [0, 1] and π/2 on [−1, 1] (an endpoint singularity: slower).
        let r = trapz(
            np,
            &[
                "--function",
                "semicircle",
                "-a",
                "0",
                "-b",
                "1",
                "--n",
                "1e6",
            ],
        );
        assert!((integral(&r) - pi / 4.0).abs() < 1e-8, "{r}");
        let r = trapz(
            np,
            &[
                "--function",
                "semicircle",
                "-a",
                "-1",
                "-b",
                "1",
                "--n",
                "1e6",
            ],
        );
        assert!((integral(&r) - pi / 2.0).abs() < 1e-8, "{r}");
        // An expression: ∫₀¹ x³ − 2x = −3/4 (the rule's error: h²/4 · ... tiny at 10^6 points).
        let r = trapz(
            np,
            &["--expr", "x^3 - 2*x", "-a", "0", "-b", "1", "--n", "1e6"],
        );
        assert!((integral(&r) + 0.75).abs() < 1e-11, "{r}");
        assert!(r["exact"].is_null());
    }
}

#[test]
fn the_engine_count_changes_the_result_only_by_rounding() {
    for args in [
        &["--function", "sin2", "--n", "1_000_003"][..],
        &[
            "--function",
            "runge",
            "-a",
            "-1",
            "-b",
            "1",
            "--n",
            "999_999",
        ][..],
        &[
            "--expr",
            "cos(x)*exp(x)",
            "-a",
            "0",
            "-b",
            "2",
            "--n",
            "500_001",
        ][..],
    ] {
        let results: Vec<f64> = [1, 2, 3, 5]
            .iter()
            .map(|&np| integral(&trapz(np, args)))
            .collect();
        for r in &results {
            assert!(
                (r - results[0]).abs() <= 1e-12 * results[0].abs(),
                "{args:?}: {results:?}"
            );
        }
    }
}

#[test]
fn serial_runs_the_same_kernel_on_one_engine() {
    let r = trapz(3, &["--n", "1e6", "--serial"]);
    // The same sum on one engine: equal up to the rounding of how the blocks were added.
    let (parallel, serial) = (integral(&r), r["serial_integral"].as_f64().unwrap());
    assert!((serial - parallel).abs() <= 1e-14 * parallel.abs(), "{r}");
    assert!((serial - std::f64::consts::FRAC_PI_2).abs() < 1e-12, "{r}");
    // The speedup is the ratio of the two times it reports.
    let (seconds, serial_seconds) = (
        r["seconds"].as_f64().unwrap(),
        r["serial_seconds"].as_f64().unwrap(),
    );
    assert!(seconds > 0.0 && serial_seconds > 0.0, "{r}");
    let speedup = r["speedup"].as_f64().unwrap();
    assert!(
        (speedup - serial_seconds / seconds).abs() <= 1e-12 * speedup,
        "{r}"
    );
    // Without --serial there is no serial figure.
    let r = trapz(3, &["--n", "1e6"]);
    assert!(
        r["serial_integral"].is_null() && r["speedup"].is_null(),
        "{r}"
    );
}

#[test]
fn bad_input_is_one_message_and_exit_code_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--function", "tan"], "unknown function 'tan'"),
        (&["--expr", "x +* 2"], "cannot parse expression"),
        (&["--expr", "y * 2"], "unknown variable"),
        (&["-a", "inf"], "not a finite number"),
        (&["-b", "nan"], "not a finite number"),
        (&["--n", "1"], "at least 2 points"),
        (&["--n", "0"], "must be at least 1"),
        (&["--n", "1.5e3x"], "not a number"),
        (
            &["--function", "semicircle", "-a", "0", "-b", "2"],
            "defined on [-1, 1] only",
        ),
        (&["--bogus"], "unexpected argument"),
    ];
    for np in [1, 3] {
        for (args, message) in cases {
            let run = launch(np, Path::new(TRAPZ), args, &[], DEADLINE);
            run.assert_code(2);
            assert_eq!(
                run.stderr.matches(message).count(),
                1,
                "{args:?} on {np} ranks:\n{}",
                run.stderr
            );
            assert!(
                !run.stdout.contains("integral"),
                "no work was done for {args:?}"
            );
        }
    }
    let help = launch(3, Path::new(TRAPZ), &["--help"], &[], DEADLINE);
    help.assert_success();
    assert_eq!(
        help.stdout.matches("Usage: trapz").count(),
        1,
        "help once: {}",
        help.stdout
    );
    assert!(help.stdout.contains("semicircle"));
}

#[test]
fn sums_stay_accurate_at_ten_billion_points() {
    // x² on [0, 1]: the rule's own error (b−a)h²/6 ≈ 1.7e-21 is far below rounding, so the
    // result must be 1/3 to the last bits; an uncompensated sum of 10^10 terms would lose about
    // six digits.
    let r = trapz(
        3,
        &["--function", "x2", "-a", "0", "-b", "1", "--n", "1e10"],
    );
    let third = 1.0 / 3.0;
    assert!((integral(&r) - third).abs() <= 2e-16, "{}", integral(&r));
}
