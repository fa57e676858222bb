//! The runtime as a whole: exit statuses, failures that must not hang, start-up checks, nodes,
//! oversubscription, payloads split into pieces, and idle ranks that do not burn a core.

mod common;

use std::time::Duration;

use common::{DEADLINE, launch_body};
use mpiview::{Cluster, Error};
use ndarray::{Array1, Array2};

/// CPU time this process has used.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[test]
#[ignore = "a multi-rank body: launched by driver_errors_end_every_rank"]
fn failing_driver() {
    let cluster = Cluster::init().expect("MPI");
    // Every rank (engines included) leaves with the driver's status.
    common::exit_with(
        cluster.run(|_client| -> Result<(), Error> {
            Err(Error::usage("--n must be positive, got -3"))
        }),
    );
}

#[test]
#[ignore = "a multi-rank body: launched by driver_errors_end_every_rank"]
fn panicking_driver() {
    let cluster = Cluster::init().expect("MPI");
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let _ = client.direct_view();
        panic!("driver bug");
    }));
}

#[test]
fn driver_errors_end_every_rank() {
    for np in [1, 2, 3, 5] {
        let run = launch_body(np, "failing_driver", &[], DEADLINE);
        run.assert_code(2);
        assert_eq!(
            run.stderr
                .matches("error: --n must be positive, got -3")
                .count(),
            1,
            "{}",
            run.stderr
        );
        let run = launch_body(np, "panicking_driver", &[], DEADLINE);
        run.assert_code(101);
        assert!(
            run.stderr
                .contains("error: the driver panicked: driver bug"),
            "{}",
            run.stderr
        );
    }
}

#[test]
#[ignore = "a multi-rank body: launched by a_failing_driver_does_not_wait_for_busy_engines"]
fn driver_fails_while_engines_work() {
    let mut cluster = Cluster::init().expect("MPI");
    let long = cluster.register("long", |secs: u64| {
        std::thread::sleep(Duration::from_secs(secs))
    });
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let _busy = client.direct_view().apply(&long, 120)?;
        std::thread::sleep(Duration::from_millis(200));
        Err(Error::Invalid("gave up".into()))
    }));
}

#[test]
fn a_failing_driver_does_not_wait_for_busy_engines() {
    for np in [2, 3] {
        let run = launch_body(
            np,
            "driver_fails_while_engines_work",
            &[("MPIVIEW_SHUTDOWN_GRACE_S", "1")],
            DEADLINE,
        );
        assert!(!run.success(), "{run:?}");
        assert!(
            run.elapsed < Duration::from_secs(30),
            "took {:?}: {run:?}",
            run.elapsed
        );
        assert!(run.stderr.contains("error: gave up"), "{}", run.stderr);
        assert!(run.stderr.contains("aborting the job"), "{}", run.stderr);
    }
}

#[test]
#[ignore = "a multi-rank body: launched by a_driver_that_returns_beside_a_busy_engine_ends"]
fn driver_returns_while_engine_works() {
    let mut cluster = Cluster::init().expect("MPI");
    let long = cluster.register("long_sleep", |secs: u64| {
        std::thread::sleep(Duration::from_secs(secs))
    });
    // A loop that never sleeps: the engine cannot even look at its messages.
    let spin = cluster.register("endless_loop", |secs: u64| {
        let end = std::time::Instant::now() + Duration::from_secs(secs);
        let mut x = 0u64;
        while std::time::Instant::now() < end {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    });
    let busy = std::env::var("MPIVIEW_TEST_BUSY").unwrap_or_default();
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let last = client.engine(-1)?;
        let f = if busy == "spin" { &spin } else { &long };
        let r = last.apply(f, 120)?;
        // The driver gives up on the result and returns success.
        assert!(matches!(
            r.get_timeout(Duration::from_millis(200)),
            Err(Error::Timeout(_))
        ));
        Ok(())
    }));
}

#[test]
fn a_driver_that_returns_beside_a_busy_engine_ends() {
    // At 5 ranks three idle engines have stopped when the controller aborts; had they entered
    // MPI_Finalize, Open MPI's mpirun would hang or crash in about a third of the runs.
    for (np, busy, name) in [
        (2, "sleep", "long_sleep"),
        (3, "sleep", "long_sleep"),
        (5, "sleep", "long_sleep"),
        (3, "spin", "endless_loop"),
    ] {
        let run = launch_body(
            np,
            "driver_returns_while_engine_works",
            &[
                ("MPIVIEW_SHUTDOWN_GRACE_S", "1"),
                ("MPIVIEW_TEST_BUSY", busy),
            ],
            DEADLINE,
        );
        assert!(!run.success(), "{run:?}");
        assert!(
            run.elapsed < Duration::from_secs(10),
            "took {:?}: {run:?}",
            run.elapsed
        );
        let engine = np - 2;
        let said = format!(
            "error: engines still busy 1.0 s after the driver returned: engine {engine} (rank {}",
            np - 1
        );
        assert!(run.stderr.contains(&said), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("runs `{name}`")),
            "{}",
            run.stderr
        );
    }
}

#[test]
#[ignore = "a multi-rank body: launched by blocking_calls_can_be_bounded"]
fn bounded_body() {
    let mut cluster = Cluster::init().expect("MPI");
    let long = cluster.register("long_sleep", |secs: u64| {
        std::thread::sleep(Duration::from_secs(secs))
    });
    let tick = cluster.register_task("tick", |_| Ok(()));
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let limit = Duration::from_millis(300);
        let all = client.direct_view().timeout(limit);
        let data = Array1::from_iter(0..100i64);
        all.scatter("a", &data)?;
        // Engine 0 hangs; every blocking call on a view that includes it gives up in time.
        let _hung = client.engine(0)?.apply(&long, 60)?;
        let timed_out = |what: &str, r: Result<(), Error>| {
            assert!(matches!(r, Err(Error::Timeout(_))), "{what}: {r:?}");
        };
        let t = std::time::Instant::now();
        timed_out("pull", all.pull::<Vec<i64>>("a").map(|_| ()));
        timed_out("scatter", all.scatter("a", &data));
        timed_out("gather", all.gather::<i64>("a").map(|_| ()));
        timed_out("array push", all.push("b", Array1::<f64>::zeros(10)));
        timed_out("clear", all.clear_names(&["b"]));
        timed_out("execute", all.execute_sync(&tick));
        let six = t.elapsed();
        assert!(six < Duration::from_secs(6), "six timeouts took {six:?}");
        // A scalar push is not answered: it returns at once and runs after the hang.
        all.push("c", 1i64)?;
        // The other engines are not held up: a view without engine 0 still works, and a
        // transfer on it moves (nothing of the timed-out ones was started).
        if client.n_engines() > 1 {
            let rest = client
                .view((1..client.n_engines()).collect::<Vec<_>>())?
                .timeout(Duration::from_secs(20));
            rest.scatter("d", &data)?;
            assert_eq!(rest.gather::<i64>("d")?, data.clone().into_dyn());
            assert_eq!(rest.pull::<i64>("c")?, vec![1; client.n_engines() - 1]);
        }
        Ok(())
    }));
}

#[test]
fn blocking_calls_can_be_bounded() {
    for np in [2, 3, 5] {
        let run = launch_body(
            np,
            "bounded_body",
            &[("MPIVIEW_SHUTDOWN_GRACE_S", "1")],
            DEADLINE,
        );
        // The driver succeeded; engine 0 is still asleep at the end: the job ends after the
        // grace, saying so.
        assert!(!run.success(), "{run:?}");
        assert!(
            run.elapsed < Duration::from_secs(20),
            "took {:?}: {run:?}",
            run.elapsed
        );
        assert!(
            run.stderr.contains("engine 0 (rank 1") && run.stderr.contains("runs `long_sleep`"),
            "{}",
            run.stderr
        );
    }
}

#[test]
#[ignore = "a multi-rank body: launched by a_dying_engine_ends_the_job_saying_which"]
fn engine_dies() {
    let mut cluster = Cluster::init().expect("MPI");
    let how = std::env::var("MPIVIEW_TEST_DEATH").expect("the test sets the way to die");
    let die = cluster.register_with_context("die", move |ctx, victim: usize| {
        if ctx.engine_id() == victim {
            die_by(&how);
        }
        std::thread::sleep(Duration::from_millis(100));
        Ok(())
    });
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        client.direct_view().apply_sync(&die, 1)?;
        Ok(())
    }));
}

fn die_by(how: &str) {
    match how {
        "exit" => std::process::exit(3),
        "abort" => std::process::abort(),
        // SAFETY: none; the point is an invalid read (address 8 is never mapped).
        "segfault" => unsafe {
            std::ptr::read_volatile(8 as *const u8);
        },
        // SAFETY: signalling this very process.
        "sigterm" => unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        },
        // SAFETY: signalling this very process.
        "sigkill" => unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        },
        other => panic!("unknown way to die: {other}"),
    }
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_dying_engine_ends_the_job_saying_which() {
    let cases = [
        (3, "exit", Some("exited (a call to exit)")),
        (3, "abort", Some("ended by SIGABRT")),
        (3, "segfault", Some("ended by SIGSEGV")),
        (3, "sigterm", Some("ended by SIGTERM")),
        (5, "segfault", Some("ended by SIGSEGV")),
        // Nothing can catch SIGKILL: the launcher alone reports it, but the job still ends.
        (3, "sigkill", None),
    ];
    for (np, how, cause) in cases {
        let run = launch_body(np, "engine_dies", &[("MPIVIEW_TEST_DEATH", how)], DEADLINE);
        assert!(!run.success(), "{how}: {run:?}");
        assert!(
            run.elapsed < Duration::from_secs(10),
            "{how}: took {:?}",
            run.elapsed
        );
        if let Some(cause) = cause {
            // Engine 1 is rank 2; it says so itself, once, with what it ran.
            let said: Vec<&str> = run
                .stderr
                .lines()
                .filter(|l| l.starts_with("mpiview: "))
                .collect();
            assert_eq!(said.len(), 1, "{how}: {}", run.stderr);
            assert!(
                said[0].starts_with("mpiview: engine 1 (rank 2, host ")
                    && said[0].contains(cause)
                    && said[0].ends_with(" while running `die`"),
                "{how}: {}",
                run.stderr
            );
        }
    }
}

#[test]
#[ignore = "a multi-rank body: launched by bad_settings_end_the_run_naming_the_variable"]
fn settings_body() {
    let cluster = Cluster::init().expect("MPI");
    common::exit_with(cluster.run(|_client| -> Result<(), Error> {
        println!("the driver ran");
        Ok(())
    }));
}

#[test]
fn bad_settings_end_the_run_naming_the_variable() {
    let cases = [
        ("MPIVIEW_SHUTDOWN_GRACE_S", "-1"),
        ("MPIVIEW_SHUTDOWN_GRACE_S", "inf"),
        ("MPIVIEW_MEMORY_LIMIT", "50 parsecs"),
        ("MPIVIEW_SPIN_US", "fast"),
        ("MPIVIEW_DOORBELL", "maybe"),
        ("MPIVIEW_MAX_MESSAGE_ELEMENTS", "0"),
    ];
    for np in [1, 3] {
        for (name, value) in cases {
            let run = launch_body(np, "settings_body", &[(name, value)], DEADLINE);
            run.assert_code(2);
            let line = format!("error: {name}={value:?}:");
            assert_eq!(
                run.stderr.matches(&line).count(),
                1,
                "{np} ranks: {}",
                run.stderr
            );
            assert!(!run.stdout.contains("the driver ran"), "{}", run.stdout);
        }
        // Good values in the apps' spellings are accepted.
        let run = launch_body(
            np,
            "settings_body",
            &[("MPIVIEW_MEMORY_LIMIT", "2GiB"), ("MPIVIEW_SPIN_US", "1e2")],
            DEADLINE,
        );
        run.assert_success();
        assert!(run.stdout.contains("the driver ran"));
    }
}

#[test]
#[ignore = "a multi-rank body: launched by view_creation_waits_for_busy_members_without_spinning"]
fn creation_body() {
    let mut cluster = Cluster::init().expect("MPI");
    let nap = cluster.register("nap", |ms: u64| {
        std::thread::sleep(Duration::from_millis(ms))
    });
    let cpu = cluster.register("cpu", |()| cpu_time().as_secs_f64());
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        // Engine 0 is busy for a second; a view of engines 0 and 1 gets its communicators
        // meanwhile (its first scatter makes them).
        let before: f64 = client.engine(1)?.apply_sync(&cpu, ())?;
        let busy = client.engine(0)?.apply(&nap, 1000)?;
        let pair = client.view([0, 1])?;
        pair.scatter("x", &Array1::from_vec(vec![1.0f64, 2.0]))?;
        let after: Vec<f64> = pair.apply_sync(&cpu, ())?;
        busy.get()?;
        // Engine 1 waited for engine 0 to get ready before entering MPI_Comm_create_group,
        // asleep: it did not spin for the second.
        let spent = after[1] - before;
        assert!(spent < 0.3, "engine 1 used {spent:.2} s of CPU waiting");
        Ok(())
    }));
}

#[test]
fn view_creation_waits_for_busy_members_without_spinning() {
    launch_body(4, "creation_body", &[], DEADLINE).assert_success();
}

#[test]
#[ignore = "a multi-rank body: launched by mismatched_registrations_are_refused"]
fn mismatched_registrations() {
    let mut cluster = Cluster::init().expect("MPI");
    if cluster.rank() == 2 {
        cluster.register("extra", |x: i64| x);
    }
    let _f = cluster.register("f", |x: i64| x + 1);
    common::exit_with(
        cluster.run(|_client| -> Result<(), Error> { panic!("the driver must not run") }),
    );
}

#[test]
fn mismatched_registrations_are_refused() {
    let run = launch_body(3, "mismatched_registrations", &[], DEADLINE);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("engines [1] registered different remote functions"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("must not run"));
}

#[test]
#[ignore = "a multi-rank body: launched by nodes_come_from_shared_memory_or_the_override"]
fn nodes_body() {
    let mut cluster = Cluster::init().expect("MPI");
    let who = cluster.register_with_context("who", |ctx, ()| Ok(ctx.engine_id()));
    let host = cluster.register("host", |()| mpiview::diagnostics::host_name());
    let rings = cluster.register("rings", |()| mpiview::diagnostics::doorbell_rings());
    let pretend = std::env::var("MPIVIEW_NODES").ok();
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let n = client.n_engines();
        match pretend.as_deref() {
            None => {
                // Nodes are where MPI put the engines: on one machine one node, on the test
                // cluster one per host, each named after it, engines grouped by their host.
                let hosts: Vec<String> = client.direct_view().apply_sync(&host, ())?;
                let mut names: Vec<&String> = hosts.iter().collect();
                names.dedup();
                let mut distinct = hosts.clone();
                distinct.sort();
                distinct.dedup();
                assert_eq!(client.nodes().len(), distinct.len(), "{hosts:?}");
                for node in client.nodes() {
                    for &e in &node.engines {
                        assert_eq!(hosts[e], node.name, "engine {e} on {}", hosts[e]);
                        assert_eq!(client.engines()[e].node, node.index);
                        assert_eq!(client.engines()[e].host, hosts[e]);
                    }
                }
                // One engine per node, each on a different host.
                let heads = client.one_per_node();
                assert_eq!(heads.len(), distinct.len());
                let mut head_hosts: Vec<String> = heads.apply_sync(&host, ())?;
                head_hosts.sort();
                assert_eq!(head_hosts, distinct);
                // Doorbells never cross nodes: after idle requests (which ring), no rank has
                // rung, or may ring, a rank on another host.
                for _ in 0..3 {
                    std::thread::sleep(Duration::from_millis(30));
                    client.direct_view().apply_sync(&who, ())?;
                }
                let me = mpiview::diagnostics::host_name();
                let host_of = |rank: i32| {
                    if rank == 0 {
                        me.clone()
                    } else {
                        hosts[rank as usize - 1].clone()
                    }
                };
                let mut all: Vec<(i32, Vec<(i32, u64)>)> =
                    vec![(0, mpiview::diagnostics::doorbell_rings())];
                for (e, r) in client
                    .direct_view()
                    .apply_sync(&rings, ())?
                    .into_iter()
                    .enumerate()
                {
                    all.push((e as i32 + 1, r));
                }
                for (from, list) in &all {
                    for (to, count) in list {
                        assert_eq!(
                            host_of(*from),
                            host_of(*to),
                            "rank {from} may ring rank {to} ({count} times) on another host"
                        );
                    }
                }
                // The controller did ring the engines of its own host (there are some unless
                // every engine is elsewhere).
                let local: Vec<usize> = (0..n).filter(|&e| hosts[e] == me).collect();
                if !local.is_empty()
                    && !client.is_local()
                    && std::env::var("MPIVIEW_DOORBELL").is_err()
                {
                    let rung: u64 = all[0].1.iter().map(|(_, c)| c).sum();
                    assert!(rung > 0, "no rings to the engines on {me}");
                }
            }
            Some("2") => {
                let first = mpiview::partition::block_counts(n, 2)[0];
                assert_eq!(client.nodes().len(), 2);
                assert_eq!(client.one_per_node().targets(), &[0, first]);
                assert_eq!(
                    client.node_view(1)?.targets(),
                    (first..n).collect::<Vec<_>>().as_slice()
                );
                assert_eq!(
                    client.node_view(1)?.apply_sync(&who, ())?,
                    (first..n).collect::<Vec<_>>()
                );
                assert_eq!(client.engines()[n - 1].node, 1);
                assert_eq!(client.nodes()[1].name, "node1");
            }
            Some("1,0,1,0") => {
                assert_eq!(client.nodes()[0].engines, vec![0, 2]);
                assert_eq!(client.nodes()[1].engines, vec![1, 3]);
                assert_eq!(client.one_per_node().apply_sync(&who, ())?, vec![0, 1]);
            }
            Some(other) => panic!("unexpected MPIVIEW_NODES={other}"),
        }
        assert!(
            client
                .engines()
                .iter()
                .all(|e| e.pid > 0 && !e.host.is_empty())
        );
        Ok(())
    }));
}

#[test]
fn nodes_come_from_shared_memory_or_the_override() {
    for np in [1, 2, 3, 5] {
        launch_body(np, "nodes_body", &[], DEADLINE).assert_success();
    }
    for np in [3, 5] {
        launch_body(np, "nodes_body", &[("MPIVIEW_NODES", "2")], DEADLINE).assert_success();
    }
    launch_body(5, "nodes_body", &[("MPIVIEW_NODES", "1,0,1,0")], DEADLINE).assert_success();
    let run = launch_body(3, "nodes_body", &[("MPIVIEW_NODES", "7")], DEADLINE);
    run.assert_code(2);
    assert!(run.stderr.contains("MPIVIEW_NODES"), "{}", run.stderr);
}

#[test]
#[ignore = "a multi-rank body: launched by many_ranks_oversubscribed"]
fn many_body() {
    let mut cluster = Cluster::init().expect("MPI");
    let who = cluster.register_with_context("who", |ctx, ()| Ok(ctx.engine_id()));
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let n = client.n_engines();
        let dview = client.direct_view();
        assert_eq!(dview.apply_sync(&who, ())?, client.ids());
        let a = Array1::from_iter(0..1000i64);
        dview.scatter("a", &a)?;
        let lens: Vec<usize> = dview.pull::<Vec<i64>>("a")?.iter().map(Vec::len).collect();
        assert_eq!(lens, mpiview::partition::block_counts(1000, n));
        assert_eq!(dview.gather::<i64>("a")?, a.into_dyn());
        // A view of every other engine, in reverse: a channel of its own.
        let odd = client.view(mpiview::Targets::slice(None, None, -2))?;
        let ids: Vec<usize> = odd.apply_sync(&who, ())?;
        assert_eq!(ids, odd.targets());
        assert_eq!(dview.map_sync(&who, vec![(); 2 * n])?.len(), 2 * n);
        let ran = client
            .load_balanced_view()
            .chunksize(1)
            .map_sync(&who, vec![(); 4 * n])?;
        assert_eq!(ran.len(), 4 * n);
        Ok(())
    }));
}

#[test]
fn many_ranks_oversubscribed() {
    for np in [17, 65] {
        launch_body(np, "many_body", &[], Duration::from_secs(180)).assert_success();
    }
}

#[test]
#[ignore = "a multi-rank body: launched by payloads_beyond_one_message_move_in_pieces"]
fn pieces_body() {
    let mut cluster = Cluster::init().expect("MPI");
    let len = cluster.register("len", |v: Vec<u8>| v.len());
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        // 10_007 elements with at most 1000 per MPI call (set by the test): scatter and gather
        // go point to point in pieces, push broadcasts in pieces, pull sends in pieces.
        let a = Array1::from_iter((0..10_007).map(|i| i as f64 * 0.5));
        dview.scatter("a", &a)?;
        assert_eq!(dview.gather::<f64>("a")?, a.clone().into_dyn());
        let m = Array2::from_shape_fn((2003, 3), |(i, j)| (i * 3 + j) as i32);
        dview.push("m", m.clone())?;
        assert!(dview.pull::<Array2<i32>>("m")?.iter().all(|x| *x == m));
        // Control messages larger than the inline buffer travel as bulk.
        let big = vec![7u8; 100_000];
        assert_eq!(
            dview.apply_sync(&len, big)?,
            vec![100_000; client.n_engines()]
        );
        Ok(())
    }));
}

#[test]
fn payloads_beyond_one_message_move_in_pieces() {
    for np in [1, 2, 3, 5] {
        launch_body(
            np,
            "pieces_body",
            &[("MPIVIEW_MAX_MESSAGE_ELEMENTS", "1000")],
            DEADLINE,
        )
        .assert_success();
    }
}

#[test]
#[ignore = "a multi-rank body: launched by idle_ranks_do_not_burn_a_core"]
fn idle_body() {
    let mut cluster = Cluster::init().expect("MPI");
    let spin = cluster.register("spin", |ms: u64| {
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(ms) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        x > 0
    });
    let cpu = cluster.register("cpu", |()| cpu_time().as_secs_f64());
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        // The controller waits 1.5 s for busy engines: it must sleep, not spin.
        let before = cpu_time();
        dview.apply_sync(&spin, 1500)?;
        let controller = cpu_time() - before;
        assert!(
            controller < Duration::from_millis(300),
            "the waiting controller used {controller:?} of CPU"
        );
        // Engines wait 1.5 s for the next request: they must sleep too.
        let before: Vec<f64> = dview.apply_sync(&cpu, ())?;
        std::thread::sleep(Duration::from_millis(1500));
        let after: Vec<f64> = dview.apply_sync(&cpu, ())?;
        for (b, a) in before.iter().zip(&after) {
            assert!(a - b < 0.3, "an idle engine used {:.3} s of CPU", a - b);
        }
        Ok(())
    }));
}

#[test]
fn idle_ranks_do_not_burn_a_core() {
    for np in [2, 3] {
        launch_body(np, "idle_body", &[], DEADLINE).assert_success();
    }
}

#[test]
#[ignore = "a multi-rank body: launched by arrays_over_2_31_elements_move"]
fn huge_body() {
    let cluster = Cluster::init().expect("MPI");
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        // 2^31 + 5 bytes: counts and displacements no longer fit a C int.
        let n = (1usize << 31) + 5;
        let mut a = mpiview::arrays::zeros::<u8, _, _>(n);
        let marks = [0, 1 << 20, (1 << 30) + 7, n / 2, n - 1];
        for (k, &i) in marks.iter().enumerate() {
            a[i] = k as u8 + 1;
        }
        let dview = client.direct_view();
        dview.scatter("a", &a)?;
        drop(a);
        let back = dview.gather::<u8>("a")?;
        assert_eq!(back.len(), n);
        for (k, &i) in marks.iter().enumerate() {
            assert_eq!(back[[i]], k as u8 + 1, "mark at {i}");
        }
        Ok(())
    }));
}

#[test]
fn arrays_over_2_31_elements_move() {
    launch_body(3, "huge_body", &[], Duration::from_secs(180)).assert_success();
}

#[test]
#[ignore = "a multi-rank body: launched by engines_share_a_communicator_without_the_controller"]
fn engines_comm_body() {
    use mpi::collective::SystemOperation;
    use mpi::traits::*;
    let mut cluster = Cluster::init().expect("MPI");
    let about = cluster.register_with_context("about_the_engines", |ctx, ()| {
        let comm = ctx.engines();
        let mine = ctx.engine_id() as u64;
        let mut sum = 0u64;
        comm.all_reduce_into(&mine, &mut sum, SystemOperation::sum());
        Ok((comm.rank() as usize, comm.size() as usize, sum))
    });
    let slow = cluster.register("slow", |ms: u64| {
        std::thread::sleep(Duration::from_millis(ms))
    });
    common::exit_with(cluster.run(|client| -> Result<(), Error> {
        let n = client.n_engines();
        let all = client.direct_view();
        // One engine is still busy when the collective starts everywhere: the others wait for
        // it inside MPI, and the answers are the same.
        let _busy = client.engine(-1)?.apply(&slow, 300)?;
        for (id, (rank, size, sum)) in all.apply_sync(&about, ())?.into_iter().enumerate() {
            assert_eq!(rank, id, "engine {id}'s rank among the engines");
            assert_eq!(
                size, n,
                "engine {id}: the communicator holds every engine, no more"
            );
            assert_eq!(sum as usize, n * (n - 1) / 2, "engine {id}: the reduction");
        }
        Ok(())
    }));
}

#[test]
fn engines_share_a_communicator_without_the_controller() {
    for np in [1, 2, 3, 5] {
        common::run_body(np, "engines_comm_body");
    }
}
