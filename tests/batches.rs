//! Load-balanced chunks too short to be worth a message each share messages (issue 8), while
//! results, failures, retries and abort stay item by item: at 1, 2, 3 and 5 ranks, and at 3
//! ranks with batching off (`MPIVIEW_BATCH_MAX=1`).

mod common;

use std::time::{Duration, Instant};

use mpiview::{Cluster, Error, RemoteErrorKind};

/// Set by the launching test: whether this run's chunks should share messages.
const EXPECT_BATCHES: &str = "MPIVIEW_TEST_EXPECT_BATCHES";

#[test]
#[ignore = "a multi-rank body: launched by tiny_tasks_share_messages_item_by_item"]
fn tiny_tasks_body() {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    let triple = cluster.register("triple", |x: u64| 3 * x);
    let picky = cluster.register("picky", |x: u64| {
        assert!(x % 1000 != 999, "item {x} is bad");
        x
    });
    let flaky = cluster.register_with_context("flaky", common::fails_on_one_engine);
    let spin = cluster.register("spin", |us: u64| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_micros(us) {}
        us
    });
    let expect_batches = std::env::var(EXPECT_BATCHES).is_ok_and(|v| v == "1");
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let lview = client.load_balanced_view().chunksize(1);

        // Results in input order, every chunk timed on its own.
        let r = lview.map(&triple, 0..20_000u64)?;
        assert_eq!(r.get()?, (0..20_000).map(|x| 3 * x).collect::<Vec<_>>());
        let mut timings = r.timings().to_vec();
        assert_eq!(timings.len(), 20_000);
        // A chunk that ran straight after another of the same message starts at the very
        // clock reading its predecessor ended on.
        timings.sort_by(|a, b| {
            (a.engine, a.started)
                .partial_cmp(&(b.engine, b.started))
                .unwrap()
        });
        let back_to_back = timings
            .windows(2)
            .filter(|w| w[0].engine == w[1].engine && w[1].started == w[0].completed)
            .count();
        if expect_batches {
            assert!(
                back_to_back > 10_000,
                "{back_to_back} chunks ran back to back"
            );
        }

        // Failures stay in place, each naming its item.
        let each = lview.map(&picky, 0..5000u64)?.get_each()?;
        for (i, item) in each.iter().enumerate() {
            match item {
                Ok(v) => assert_eq!(*v, i as u64),
                Err(Error::Remote(e)) => {
                    assert_eq!(i % 1000, 999, "only items 999, 1999, ... fail");
                    let e = &e.0[0];
                    assert_eq!(
                        (e.item, e.kind),
                        (Some(i as u64), RemoteErrorKind::Panicked)
                    );
                }
                Err(other) => panic!("unexpected {other}"),
            }
        }

        // A retried item goes elsewhere (or, alone, runs again) and works.
        let r = lview.retries(1).map(&flaky, 0..5000u64)?;
        assert_eq!(r.get()?, (0..5000).collect::<Vec<_>>());
        for i in 0..5000u64 {
            let engine = r.engine_of(i).expect("ran");
            assert!(
                n == 1 || engine != i as usize % n,
                "item {i} ended on its bad engine"
            );
        }

        // An abort reaches chunks queued in messages already sent.
        let r = lview.map(&spin, vec![20u64; 50_000])?;
        std::thread::sleep(Duration::from_millis(50));
        r.abort()?;
        let each = r.get_each()?;
        let (done, aborted) = common::ran_and_aborted(&each);
        assert_eq!(
            done + aborted,
            50_000,
            "every item either ran or was aborted"
        );
        assert!((1..40_000).contains(&done), "{done} ran");
        // The engines are free again.
        assert_eq!(lview.map_sync(&triple, 0..100u64)?.len(), 100);
        Ok(())
    }));
}

#[test]
fn tiny_tasks_share_messages_item_by_item() {
    // One rank runs its engine in process: nothing to batch.
    for (np, batch_max) in [(1, None), (2, None), (3, None), (5, None), (3, Some("1"))] {
        let expect = if np > 1 && batch_max.is_none() {
            "1"
        } else {
            "0"
        };
        let mut env = vec![(EXPECT_BATCHES, expect)];
        if let Some(max) = batch_max {
            env.push(("MPIVIEW_BATCH_MAX", max));
        }
        let run = common::launch_body(np, "tiny_tasks_body", &env, common::DEADLINE);
        assert!(
            run.success(),
            "{np} ranks, {env:?}: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
    }
}
