//! LoadBalancedView at 1, 2, 3 and 5 ranks: ordered and unordered maps, zipped inputs, empty
//! input, one engine, failures in place, retries, abort, a direct call while tasks run, and an
//! endless imap stopped early.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mpiview::{Cluster, Error, RemoteErrorKind};

/// The seed's `random_number`-style task: sleep a (deterministic) pseudo-random time, square.
fn sleep_square(x: u64) -> u64 {
    let ms = (x * 7919) % 13;
    std::thread::sleep(Duration::from_millis(ms));
    x * x
}

mpi_test!(ordered_and_unordered_maps, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    let square = cluster.register("sleep_square", sleep_square);
    let slow_first = cluster.register("slow_first", |x: u64| {
        // Early items sleep longest, so with several engines later items overtake them.
        std::thread::sleep(Duration::from_millis(40u64.saturating_sub(x * 4)));
        x
    });
    cluster.run(|client| -> Result<(), Error> {
        let lview = client.load_balanced_view();
        let want: Vec<u64> = (0..40u64).map(|x| x * x).collect();
        // get() is in input order, whatever the chunking.
        assert_eq!(lview.map(&square, 0..40u64)?.get()?, want);
        assert_eq!(lview.chunksize(1).map_sync(&square, 0..40u64)?, want);
        assert_eq!(lview.chunksize(7).map_sync(&square, 0..40u64)?, want);
        // Ordered iteration yields in input order.
        let got: Vec<u64> = lview
            .chunksize(1)
            .map(&square, 0..40u64)?
            .into_iter()
            .collect::<Result<_, _>>()?;
        assert_eq!(got, want);
        // Unordered iteration yields every item once, in arrival order.
        let mut it = lview
            .chunksize(1)
            .ordered(false)
            .map(&slow_first, 0..10u64)?
            .into_iter();
        let mut arrived = Vec::new();
        while let Some(r) = it.next_indexed() {
            let (i, v) = r?;
            assert_eq!(i, v);
            arrived.push(v);
        }
        assert_eq!(
            arrived.iter().copied().collect::<BTreeSet<_>>(),
            (0..10).collect()
        );
        if n > 1 {
            assert_ne!(
                arrived,
                (0..10).collect::<Vec<_>>(),
                "later items overtake slow early ones"
            );
        }
        // IPython Parallel's chunk rule: 10 items, chunksize 3 → 3, 3, 2, 2.
        let r = lview.chunksize(3).map(&square, 0..10u64)?;
        r.wait(None)?;
        let mut chunks: Vec<(u64, u32)> = r.timings().iter().map(|t| (t.first, t.count)).collect();
        chunks.sort();
        assert_eq!(chunks, vec![(0, 3), (3, 3), (6, 2), (8, 2)]);
        for t in r.timings() {
            assert!(
                t.engine < n
                    && t.started <= t.completed
                    && t.completed <= t.received + Duration::from_millis(50)
            );
        }
        assert!(r.engine_of(9).is_some_and(|e| e < n));
        let (serial, wall) = (r.serial_time().unwrap(), r.wall_time().unwrap());
        assert!(serial > Duration::ZERO && wall >= serial / n as u32);
        Ok(())
    })
});

mpi_test!(zipped_empty_and_single_engine, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    let scale = cluster.register("scale", |(x, k): (u64, f64)| x as f64 * k);
    let who = cluster.register_with_context("who", |ctx, _x: u64| Ok(ctx.engine_id()));
    cluster.run(|client| -> Result<(), Error> {
        let lview = client.load_balanced_view();
        // Several inputs are zipped; the shortest ends the map.
        let xs = vec![1u64, 2, 3, 4, 5];
        let ks = vec![0.5f64, 2.0, 10.0];
        let r = lview.map(&scale, xs.into_iter().zip(ks))?;
        assert_eq!(r.len(), Some(3));
        assert_eq!(r.get()?, vec![0.5, 4.0, 30.0]);
        // Empty input.
        let r = lview.map(&scale, Vec::<(u64, f64)>::new())?;
        assert!(r.is_empty() && r.ready());
        assert!(r.get()?.is_empty());
        assert!(
            lview
                .imap(&scale, std::iter::empty::<(u64, f64)>())?
                .next()
                .is_none()
        );
        // A view of one engine runs everything there.
        let last = client.load_balanced_view_of([-1])?;
        assert!(
            last.chunksize(1)
                .map_sync(&who, 0..20u64)?
                .iter()
                .all(|&e| e == n - 1)
        );
        // With several engines, the work spreads.
        if n > 1 {
            let engines: BTreeSet<usize> = lview
                .chunksize(1)
                .map_sync(&who, 0..(20 * n as u64))?
                .into_iter()
                .collect();
            assert!(engines.len() > 1, "{engines:?}");
        }
        // One task: the result says which engine ran it.
        let t = lview.apply(&who, 0)?;
        let e = t.get()?;
        assert_eq!(t.engine_id(), Some(e));
        assert!(t.timing().is_some());
        assert!(lview.apply_sync(&scale, (3, 2.0))? == 6.0);
        Ok(())
    })
});

mpi_test!(failures_in_place_and_retries, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    let picky = cluster.register("picky", |x: u64| {
        assert!(x % 5 != 3, "item {x} is bad");
        x + 1
    });
    let flaky = cluster.register_with_context("flaky", common::fails_on_one_engine);
    cluster.run(|client| -> Result<(), Error> {
        let lview = client.load_balanced_view();
        let r = lview.chunksize(2).map(&picky, 0..20u64)?;
        let each = r.get_each()?;
        assert_eq!(each.len(), 20);
        for (i, item) in each.iter().enumerate() {
            match item {
                Ok(v) => assert_eq!(*v, i as u64 + 1),
                Err(Error::Remote(e)) => {
                    assert_eq!(i % 5, 3, "only items 3, 8, 13, 18 fail");
                    let e = &e.0[0];
                    assert_eq!(
                        (e.item, e.kind, e.function.as_str()),
                        (Some(i as u64), RemoteErrorKind::Panicked, "picky")
                    );
                    assert!(e.engine < n);
                    assert!(
                        e.message.contains(&format!("item {i} is bad")),
                        "{}",
                        e.message
                    );
                }
                Err(other) => panic!("unexpected {other}"),
            }
        }
        let err = r.get().unwrap_err();
        assert_eq!(
            err.remote_errors()
                .iter()
                .map(|e| e.item.unwrap())
                .collect::<Vec<_>>(),
            vec![3, 8, 13, 18]
        );
        // Iterating yields the failures in place and goes on.
        let outcomes: Vec<bool> = lview
            .chunksize(3)
            .map(&picky, 0..10u64)?
            .into_iter()
            .map(|r| r.is_ok())
            .collect();
        assert_eq!(outcomes, (0..10).map(|i| i % 5 != 3).collect::<Vec<_>>());

        // Without retries, items fail where they fail.
        let each = lview.chunksize(1).map(&flaky, 100..140u64)?.get_each()?;
        for (i, r) in each.iter().enumerate() {
            if let Err(Error::Remote(e)) = r {
                let x = 100 + i;
                assert!(n == 1 || e.0[0].engine == x % n, "{}", e.0[0]);
            }
        }
        if n == 1 {
            assert!(each.iter().all(|r| r.is_err()));
        }
        // With one retry, a failed item goes to another engine (or, alone, tries again) and works.
        let r = lview.chunksize(1).retries(1).map(&flaky, 200..240u64)?;
        assert_eq!(r.get()?, (200..240).collect::<Vec<_>>());
        for i in 0..40u64 {
            let engine = r.engine_of(i).expect("ran");
            assert!(
                n == 1 || engine != (200 + i as usize) % n,
                "item {i} ended on its bad engine"
            );
        }
        let r = lview.chunksize(4).retries(1).map(&flaky, 300..340u64)?;
        assert_eq!(
            r.get()?,
            (300..340).collect::<Vec<_>>(),
            "items of a chunk are retried alone"
        );
        // Retries run out: the error is reported.
        if n > 1 {
            let only_bad = client.load_balanced_view_of([0])?;
            let err = only_bad.retries(3).map_sync(&flaky, [0u64]).unwrap_err();
            assert_eq!(err.remote_errors()[0].engine, 0);
        }
        Ok(())
    })
});

mpi_test!(abort_stops_what_has_not_started, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    let nap = cluster.register("nap", |ms: u64| {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    });
    cluster.run(|client| -> Result<(), Error> {
        let lview = client.load_balanced_view().chunksize(1);
        let t = Instant::now();
        let r = lview.map(&nap, vec![50u64; 60])?;
        std::thread::sleep(Duration::from_millis(120));
        r.abort()?;
        let each = r.get_each()?;
        let (done, aborted) = common::ran_and_aborted(&each);
        assert_eq!(done + aborted, 60, "every item either ran or was aborted");
        assert!((1..60).contains(&done), "{done} ran");
        assert!(
            t.elapsed() < Duration::from_millis(60 * 50 / n as u64),
            "abort saved time: {:?}",
            t.elapsed()
        );
        assert!(r.get().is_err());
        // The engines are free again.
        assert_eq!(lview.map_sync(&nap, vec![1u64; 4])?, vec![1; 4]);
        Ok(())
    })
});

mpi_test!(direct_calls_while_tasks_are_in_flight, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let nap = cluster.register("nap", |ms: u64| {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    });
    let who = cluster.register_with_context("who", |ctx, ()| Ok(ctx.engine_id()));
    cluster.run(|client| -> Result<(), Error> {
        let lview = client.load_balanced_view().chunksize(1);
        let r = lview.map(&nap, vec![20u64; 30])?;
        // A direct request to engines busy with tasks waits its turn, then runs.
        let dview = client.direct_view();
        assert_eq!(dview.apply_sync(&who, ())?, client.ids());
        dview.push("x", 1.5f64)?;
        dview.scatter("a", &ndarray::Array1::from_iter(0..100i64))?;
        assert_eq!(dview.gather::<i64>("a")?.sum(), 4950);
        assert_eq!(r.get()?, vec![20; 30]);
        // And the other way round: tasks submitted while a direct request runs.
        let slow = dview.apply(&nap, 100)?;
        assert_eq!(lview.map_sync(&nap, vec![5u64; 8])?, vec![5; 8]);
        assert_eq!(slow.get()?.len(), client.n_engines());
        Ok(())
    })
});

mpi_test!(imap_over_an_endless_iterator_stops_early, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let square = cluster.register("square", |x: u64| x * x);
    let nap = cluster.register("nap", |ms: u64| {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    });
    cluster.run(|client| -> Result<(), Error> {
        let lview = client.load_balanced_view();
        let first: Vec<u64> = lview
            .imap(&square, 0u64..)?
            .take(1000)
            .collect::<Result<_, _>>()?;
        assert_eq!(first, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
        let unordered: BTreeSet<u64> = lview
            .ordered(false)
            .chunksize(4)
            .imap(&square, 0u64..)?
            .take(100)
            .collect::<Result<_, _>>()?;
        assert_eq!(unordered.len(), 100);
        // A bound on outstanding items: an endless stream of 10 ms tasks, read slowly, does not
        // run ahead.
        let mut it = lview
            .chunksize(1)
            .max_outstanding(6)
            .imap(&nap, std::iter::repeat(10u64))?;
        for _ in 0..5 {
            assert_eq!(it.next().unwrap()?, 10);
        }
        let (done, total) = it.result().progress();
        assert!(total.is_none());
        assert!(done <= 5 + 6, "{done} items ran ahead of the reader");
        drop(it);
        // Nothing of it is left running: a new map is not held up.
        let t = Instant::now();
        assert_eq!(lview.map_sync(&square, 0..10u64)?.len(), 10);
        assert!(t.elapsed() < Duration::from_secs(5));
        Ok(())
    })
});

#[test]
#[ignore = "a multi-rank body: launched by progress_is_reported_when_asked"]
fn progress_body() {
    let mut cluster = Cluster::init().expect("MPI");
    let square = cluster.register("square", |x: u64| x * x);
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let lview = client
            .load_balanced_view()
            .progress(mpiview::ShowProgress::Always);
        assert_eq!(lview.map(&square, 0..20u64)?.get()?.len(), 20);
        let quiet = client
            .load_balanced_view()
            .progress(mpiview::ShowProgress::Never);
        assert_eq!(quiet.map(&square, 0..30u64)?.get()?.len(), 30);
        Ok(())
    }));
}

#[test]
fn progress_is_reported_when_asked() {
    for np in [1, 3] {
        let run = common::launch_body(np, "progress_body", &[], common::DEADLINE);
        run.assert_success();
        // stderr is a pipe here: a bar that was asked for prints plain progress lines.
        assert!(
            run.stderr.contains("progress: 20/20 items"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("/30 items"), "{}", run.stderr);
    }
}
