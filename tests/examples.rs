//! The seed-lab examples at 1, 2, 3 and 5 ranks: each asserts on its own results; here their
//! printed output is checked too.

mod common;

use std::path::PathBuf;

use common::{DEADLINE, launch};
use mpiview::partition::block_range;

/// `target/<profile>/examples/<name>`, built by `cargo test` beside the test binaries.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{path:?} is missing: `cargo test` builds examples, `cargo test --test` alone does not"
    );
    path
}

fn run(np: usize, name: &str) -> String {
    let run = launch(np, &example(name), &[], &[], DEADLINE);
    run.assert_success();
    run.stdout
}

#[test]
fn push_pull_prints_the_seed_values() {
    for np in [1, 2, 3, 5] {
        let n = (np - 1).max(1);
        let out = run(np, "push_pull");
        assert!(out.contains("client[0]['a'] = 10"), "{out}");
        assert!(
            out.contains(&format!("dview.apply(add).get() = {:?}", vec![15; n])),
            "{out}"
        );
        assert!(
            out.contains(&format!("dview.apply_sync(add, 3, 6) = {:?}", vec![9; n])),
            "{out}"
        );
    }
}

#[test]
fn normal_draws_print_four_draws_and_stats_per_engine() {
    for np in [1, 2, 3, 5] {
        let n = (np - 1).max(1);
        let out = run(np, "normal_draws");
        let rows = out.lines().filter(|l| l.starts_with("  [")).count();
        assert_eq!(rows, n, "{out}");
        for key in ["means = [", "maxs = [", "mins = ["] {
            let line = out.lines().find(|l| l.starts_with(key)).expect(key);
            assert_eq!(line.matches(',').count(), n - 1, "{line}");
        }
    }
}

#[test]
fn scatter_gather_prints_partitions_and_sums() {
    for np in [1, 2, 3, 5] {
        let n = (np - 1).max(1);
        let out = run(np, "scatter_gather");
        for id in 0..n {
            let part: Vec<usize> = block_range(10, n, id).collect();
            assert!(
                out.contains(&format!("client[{id}]['a_partition'] = {part:?}")),
                "{out}"
            );
        }
        let sums: Vec<usize> = (0..n).map(|id| block_range(10, n, id).sum()).collect();
        assert!(
            out.contains(&format!("dview.gather('b') = {sums:?}")),
            "{out}"
        );
        assert!(out.contains("sum = 45"), "{out}");
    }
}

#[test]
fn random_number_prints_every_task_as_it_arrives() {
    for np in [1, 2, 3, 5] {
        let out = run(np, "random_number");
        assert!(out.contains("bview.apply(random_number, 1) = ("), "{out}");
        let tasks: Vec<&str> = out
            .lines()
            .filter(|l| l.trim_start().starts_with("task "))
            .collect();
        assert_eq!(tasks.len(), 10, "{out}");
        for i in 0..10 {
            assert!(
                tasks
                    .iter()
                    .any(|l| l.trim_start().starts_with(&format!("task {i}:"))),
                "{out}"
            );
        }
    }
}

#[test]
fn progress_bars_reach_the_terminal_the_launcher_writes_to() {
    // An interactive `mpirun -n 3 app`: `script` gives the launcher a terminal; rank 0's stderr
    // is still a pipe to the launcher.
    let launcher = std::env::var("MPIEXEC").unwrap_or_else(|_| "mpiexec".into());
    let exe = example("random_number");
    let command = format!("{launcher} -n 3 {}", exe.display());
    let script = std::path::Path::new("script");
    for (setting, shown) in [("auto", true), ("0", false)] {
        let env = [("MPIVIEW_PROGRESS".to_string(), setting.to_string())];
        let run = launch(1, script, &["-qfec", &command, "/dev/null"], &env, DEADLINE);
        run.assert_success();
        // What the terminal showed: the bar is drawn with escape sequences.
        let screen = run.stdout;
        assert!(screen.contains("task 9:"), "{screen}");
        assert_eq!(
            screen.contains("10/10 items") && screen.contains("\x1b["),
            shown,
            "MPIVIEW_PROGRESS={setting}: {screen:?}"
        );
    }
    // Without a terminal (a batch job's log), nothing is drawn.
    let run = launch(3, &exe, &[], &[], DEADLINE);
    run.assert_success();
    assert!(!run.stderr.contains("items"), "{}", run.stderr);
}

/// Lines of code: not blank, not a comment (`//` for Rust, `#` for Python, at the line's start).
fn code_lines(path: &str, comment: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(comment))
        .count()
}

#[test]
fn the_lab_runs_all_six_problems_in_little_more_code_than_python() {
    for np in [1, 3, 5] {
        let n = (np - 1).max(1);
        let run = launch(np, &example("ipyparallel_lab"), &["--quick"], &[], DEADLINE);
        run.assert_success();
        let out = run.stdout;
        assert!(out.contains("Problem 1: "), "{out}");
        assert!(out.contains("Problem 2: "), "{out}");
        for key in ["means = [", "maxs = [", "mins = ["] {
            let line = out.lines().find(|l| l.starts_with(key)).expect(key);
            assert_eq!(line.matches(',').count(), n - 1, "{line}");
        }
        for size in ["1000000", "5000000", "10000000", "15000000"] {
            assert!(out.contains(&format!("n = {size}: parallel ")), "{out}");
        }
        // The histogram of the max of 10 normals peaks between 1.4 and 1.8.
        let bars: Vec<(f64, usize)> = out
            .lines()
            .filter_map(|l| {
                let (x, bar) = l.trim_start().split_once(' ')?;
                Some((x.parse().ok()?, bar.chars().filter(|&c| c == '#').count()))
            })
            .collect();
        assert_eq!(bars.len(), 25, "{out}");
        let peak = bars.iter().max_by_key(|b| b.1).expect("bars").0;
        assert!((1.4..=1.8).contains(&peak), "peak at {peak}: {out}");
        // ∫ sin over [0, π] = 2, on 10^6 points.
        let integral: f64 = out
            .lines()
            .last()
            .expect("output")
            .parse()
            .expect("a number");
        assert!((integral - 2.0).abs() < 1e-10, "{integral}");
    }
    let rust = code_lines("examples/ipyparallel_lab.rs", "//");
    let python = code_lines("examples/ipyparallel_lab.py", "#");
    println!("code lines: Rust {rust}, Python {python}");
    assert!(
        rust as f64 <= 1.5 * python as f64,
        "the lab in Rust has {rust} code lines, more than 1.5 × Python's {python}"
    );
}
