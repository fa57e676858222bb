//! Progress of long app runs where people look: a bar on the launcher's terminal under
//! `mpirun` (counting the draws the engines report, not just engines), nothing for a short run
//! (the 200 ms delay), closing lines in a log with `--progress`, and the switches that silence
//! it.

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;

use common::{DEADLINE, launch};

const MAXNORMAL: &str = env!("CARGO_BIN_EXE_maxnormal");
const TRAPZ: &str = env!("CARGO_BIN_EXE_trapz");
const JULIA: &str = env!("CARGO_BIN_EXE_julia");

/// Draws that take the engines a second or two here: long enough for reports and a bar.
const LONG: &str = "2e7";

/// What a terminal showed of `mpiexec -n 3 program args` run under `script` (the launcher
/// gets a terminal; rank 0's stderr is a pipe to it).
fn on_a_terminal(program: &str, args: &str, env: &[(String, String)]) -> String {
    let launcher = std::env::var("MPIEXEC").unwrap_or_else(|_| "mpiexec".into());
    let command = format!("{launcher} -n 3 {program} {args}");
    let run = launch(
        1,
        Path::new("script"),
        &["-qfec", &command, "/dev/null"],
        env,
        DEADLINE,
    );
    run.assert_success();
    run.stdout
}

#[test]
fn long_runs_draw_a_bar_of_their_work_and_short_ones_nothing() {
    let args = format!("--draws {LONG} --no-output");
    let screen = on_a_terminal(MAXNORMAL, &args, &[]);
    assert!(screen.contains("sample mean"), "{screen}");
    // The engines' reports: draws done of all, not engines.
    assert!(screen.contains("/20000000 done"), "{screen:?}");
    assert!(screen.contains("20000000/20000000 done"), "{screen:?}");
    assert!(screen.contains("\x1b["), "{screen:?}");
    for off in ["--progress never", "--progress=off"] {
        let screen = on_a_terminal(MAXNORMAL, &format!("{args} {off}"), &[]);
        assert!(!screen.contains(" done"), "{off}: {screen:?}");
    }
    let silenced = [("MPIVIEW_PROGRESS".to_string(), "0".to_string())];
    let screen = on_a_terminal(MAXNORMAL, &args, &silenced);
    assert!(!screen.contains(" done"), "{screen:?}");
    // A run that ends within 200 ms draws nothing, even on a terminal.
    let screen = on_a_terminal(TRAPZ, "--n 1e5", &[]);
    assert!(screen.contains("integral"), "{screen}");
    assert!(!screen.contains("\x1b["), "{screen:?}");
    let screen = on_a_terminal(TRAPZ, "--n 1e5 --progress always", &[]);
    assert!(screen.contains("2/2 items"), "{screen:?}");
}

#[test]
fn logs_get_progress_lines_when_asked() {
    let args = ["--draws", LONG, "--no-output"];
    // Automatic progress writes nothing into a log.
    let run = launch(3, Path::new(MAXNORMAL), &args, &[], DEADLINE);
    run.assert_success();
    assert!(!run.stderr.contains("progress"), "{}", run.stderr);
    // `--progress` alone means always: a closing line with the draws done, summed over the
    // engines' reports (a one-rank run's engine runs the call inline: it counts engines).
    for (np, flag) in [
        (1, "--progress"),
        (2, "--progress=always"),
        (3, "--progress"),
        (5, "--progress"),
    ] {
        let mut with: Vec<&str> = args.to_vec();
        with.push(flag);
        let run = launch(np, Path::new(MAXNORMAL), &with, &[], DEADLINE);
        run.assert_success();
        let expected = if np == 1 {
            "progress: 1/1 engines"
        } else {
            "progress: 20000000/20000000 done"
        };
        assert!(
            run.stderr.contains(expected),
            "{np} ranks, {flag}: {}",
            run.stderr
        );
        let silenced = [("MPIVIEW_PROGRESS".to_string(), "0".to_string())];
        let run = launch(np, Path::new(MAXNORMAL), &with, &silenced, DEADLINE);
        run.assert_success();
        assert!(!run.stderr.contains("progress"), "{}", run.stderr);
    }
    // julia's engines report their rows.
    let julia_args = ["-m", "8192", "-n", "8192", "--no-output", "--progress"];
    let run = launch(3, Path::new(JULIA), &julia_args, &[], DEADLINE);
    run.assert_success();
    assert!(
        run.stderr.contains("progress: 8192/8192 done"),
        "{}",
        run.stderr
    );
    let run = launch(
        3,
        Path::new(MAXNORMAL),
        &["--progress", "sometimes"],
        &[],
        DEADLINE,
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains("progress is auto, always or never"),
        "{}",
        run.stderr
    );
}
