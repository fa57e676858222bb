//! What calls report from inside, at 1, 2, 3 and 5 ranks: progress (`Context::progress`) that
//! the driver sees while the call runs, summed over engines, and all done once answered (maps
//! and one-rank runs ignore it; waits with a display return as plain waits do); and streamed
//! output, which arrives while the call runs, in order, printed by the driver as it comes.

mod common;

use std::time::{Duration, Instant};

use mpiview::{Cluster, Context, Error, ShowProgress, remote};

/// `steps` steps of 40 ms, each reported; returns the steps.
#[remote]
fn stepped(ctx: &mut Context, steps: u64) -> u64 {
    for k in 0..steps {
        std::thread::sleep(Duration::from_millis(40));
        ctx.progress(k + 1, steps);
    }
    steps
}

mpi_test!(calls_report_their_work_while_they_run, [1, 2, 3, 5], {
    let cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines() as u64;
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        let steps = 25; // a second of work, reported at most ten times a second
        let ar = dview.apply(&stepped, steps)?;
        if client.is_local() {
            // The one in-process engine ran it inline: nothing to report to.
            assert_eq!(ar.work_progress(), None);
        } else {
            // A report arrives while the call runs: part of the work done, not all.
            let deadline = Instant::now() + Duration::from_secs(20);
            let seen = loop {
                match ar.work_progress() {
                    Some((done, total)) if done > 0 && done < total => break (done, total),
                    _ if ar.ready() => panic!("the call ended before any report came"),
                    _ if Instant::now() > deadline => panic!("no progress report came"),
                    _ => std::thread::sleep(Duration::from_millis(10)),
                }
            };
            assert!(seen.1 >= steps && seen.1 <= n * steps, "{seen:?}");
        }
        ar.wait_with_progress(ShowProgress::Never)?;
        assert_eq!(ar.get()?, vec![steps; n as usize]);
        if let Some((done, total)) = ar.work_progress() {
            // Answered engines count all their work as done.
            assert_eq!(done, total);
        }
        // A view that shows progress waits as any blocking call does, time limit included.
        let shown = dview.progress(ShowProgress::Always);
        assert_eq!(shown.apply_sync(&stepped, 3)?, vec![3; n as usize]);
        if !client.is_local() {
            let limited = shown.timeout(Duration::from_millis(100));
            let err = limited.apply_sync(&stepped, 25).unwrap_err();
            assert!(matches!(err, Error::Timeout(_)), "{err}");
        }
        // Inside a map, reports are ignored (a map's progress is its items).
        let mapped = dview.map(&stepped, vec![5u64; n as usize])?;
        assert_eq!(mapped.get()?, vec![5; n as usize]);
        Ok(())
    })
});

/// Prints `lines` numbered lines on stdout and notes on stderr, each sent at once, 60 ms apart;
/// then a last line left for the answer.
#[remote]
fn chatty(ctx: &mut Context, lines: u64) -> u64 {
    for k in 0..lines {
        println!("line {k} of engine {}", ctx.engine_id());
        eprintln!("note {k}");
        ctx.flush_output();
        std::thread::sleep(Duration::from_millis(60));
    }
    print!("done");
    lines
}

/// What `chatty(lines)` prints on engine `e`: stdout and stderr.
fn chatter(e: usize, lines: u64) -> (String, String) {
    let out: String = (0..lines)
        .map(|k| format!("line {k} of engine {e}\n"))
        .collect();
    let err: String = (0..lines).map(|k| format!("note {k}\n")).collect();
    (out + "done", err)
}

mpi_test!(streamed_output_arrives_while_the_call_runs, [1, 2, 3, 5], {
    let cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    cluster.run(|client| -> Result<(), Error> {
        let streaming = client.direct_view().stream_output(true);
        let ar = streaming.apply(&chatty, 10)?;
        if !client.is_local() {
            // The first lines come while the call still runs (it takes 0.6 s).
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if ar.stdout().iter().all(|o| o.contains("line 0 of")) {
                    break;
                }
                assert!(!ar.ready(), "the calls ended before any output came");
                assert!(Instant::now() < deadline, "no output came");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(!ar.ready(), "the output came only at the end");
        }
        assert_eq!(ar.get()?, vec![10; n]);
        // Everything, in order: the pieces, then the rest that came with the answer.
        for (e, (out, err)) in ar.stdout().iter().zip(ar.stderr()).enumerate() {
            assert_eq!((out.clone(), err), chatter(e, 10));
        }
        // Captured without streaming: the same text, all with the answer.
        let captured = client
            .direct_view()
            .capture_output(true)
            .apply(&chatty, 3)?;
        captured.get()?;
        for (e, (out, err)) in captured.stdout().iter().zip(captured.stderr()).enumerate() {
            assert_eq!((out.clone(), err), chatter(e, 3));
        }
        // Flushes in a view that does not capture do nothing (the output goes to the launcher).
        assert_eq!(client.direct_view().apply_sync(&chatty, 1)?, vec![1; n]);
        Ok(())
    })
});

#[test]
#[ignore = "a multi-rank body: launched by streamed_output_is_printed_as_it_comes"]
fn stream_printing_body() {
    let cluster = Cluster::init().expect("MPI");
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let ar = client.direct_view().stream_output(true).apply(&chatty, 4)?;
        ar.get()?;
        println!("the driver goes on");
        Ok(())
    }));
}

#[test]
fn streamed_output_is_printed_as_it_comes() {
    for np in [3, 5] {
        let run = common::launch_body(np, "stream_printing_body", &[], common::DEADLINE);
        run.assert_success();
        for e in 0..np - 1 {
            // Each engine's lines, labelled and in order, before the driver goes on.
            let mut at = 0;
            for k in 0..4 {
                let line = format!("[stdout:{e}] line {k} of engine {e}\n");
                let found = run.stdout[at..].find(&line).map(|i| at + i);
                at = found.unwrap_or_else(|| panic!("{line:?} in order in {}", run.stdout));
            }
            let done = run.stdout.find(&format!("[stdout:{e}] done\n"));
            let goes_on = run.stdout.find("the driver goes on").expect("driver line");
            assert!(
                done.is_some_and(|d| d > at && d < goes_on),
                "{}",
                run.stdout
            );
            assert!(
                run.stderr.contains(&format!("[stderr:{e}] note 3\n")),
                "{}",
                run.stderr
            );
        }
    }
}
