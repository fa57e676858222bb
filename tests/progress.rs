//! Progress that calls report from inside (`Context::progress`), at 1, 2, 3 and 5 ranks: the
//! driver sees it while the call runs, summed over engines, and all done once answered; maps
//! and one-rank runs ignore it; waits with a display return as plain waits do.

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
