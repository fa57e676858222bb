//! DirectView at 1, 2, 3 and 5 ranks: namespace values, scatter/gather, apply, execute, map,
//! clear, and the errors of each.

mod common;

use std::time::Duration;

use mpiview::partition::{block_counts, block_range};
use mpiview::value::Serde;
use mpiview::{Call, Cluster, Error, RemoteErrorKind, Targets, Value};
use ndarray::{Array1, Array2, Array3, ArrayD, IxDyn, array};
use num_complex::Complex64;

mpi_test!(push_and_pull_every_kind_of_value, [1, 2, 3, 5], {
    let cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        dview.push("i", -7i64)?;
        dview.push("u", u64::MAX)?;
        dview.push("small", 200u8)?;
        dview.push("x", 2.5f64)?;
        dview.push("f", 0.75f32)?;
        dview.push("c", Complex64::new(1.0, -2.0))?;
        dview.push("flag", true)?;
        dview.push("s", "engine text".to_string())?;
        dview.push("v", vec![1.0f64, 2.0, 3.0])?;
        dview.push("m", array![[1i32, 2, 3], [4, 5, 6]])?;
        dview.push(
            "cube",
            Array3::<u8>::from_shape_fn((2, 3, 4), |(a, b, c)| (a * 12 + b * 4 + c) as u8),
        )?;
        dview.push("zs", Array1::from_elem(5, Complex64::new(0.5, 0.25)))?;
        dview.push("f32s", vec![1.5f32; 4])?;
        dview.push("i64s", ArrayD::<i64>::zeros(IxDyn(&[0, 3])))?;
        dview.push("obj", Serde((3u32, "params".to_string())))?;

        assert_eq!(dview.pull::<i64>("i")?, vec![-7; n]);
        assert_eq!(dview.pull::<u64>("u")?, vec![u64::MAX; n]);
        assert_eq!(dview.pull::<u8>("small")?, vec![200; n]);
        assert_eq!(dview.pull::<f64>("x")?, vec![2.5; n]);
        assert_eq!(dview.pull::<f32>("f")?, vec![0.75; n]);
        assert_eq!(
            dview.pull::<Complex64>("c")?,
            vec![Complex64::new(1.0, -2.0); n]
        );
        assert_eq!(dview.pull::<bool>("flag")?, vec![true; n]);
        assert_eq!(
            dview.pull::<String>("s")?,
            vec!["engine text".to_string(); n]
        );
        assert_eq!(dview.pull::<Vec<f64>>("v")?, vec![vec![1.0, 2.0, 3.0]; n]);
        assert_eq!(
            dview.pull::<Array2<i32>>("m")?[0],
            array![[1, 2, 3], [4, 5, 6]]
        );
        let cube = dview.pull::<Array3<u8>>("cube")?;
        assert_eq!(cube[n - 1][[1, 2, 3]], 23);
        assert_eq!(
            dview.pull::<Vec<Complex64>>("zs")?[0][4],
            Complex64::new(0.5, 0.25)
        );
        assert_eq!(dview.pull::<Vec<f32>>("f32s")?[0], vec![1.5; 4]);
        assert_eq!(dview.pull::<ArrayD<i64>>("i64s")?[0].shape(), &[0, 3]);
        assert_eq!(
            dview.pull::<Serde<(u32, String)>>("obj")?[0].0,
            (3, "params".to_string())
        );

        // A single-engine view returns the value itself; values differ per engine.
        for id in client.ids() {
            client.engine(id as isize)?.push("mine", id as i64 * 10)?;
        }
        assert_eq!(client.engine(-1)?.pull::<i64>("mine")?, (n as i64 - 1) * 10);
        let all: Vec<i64> = dview.pull("mine")?;
        assert_eq!(all, (0..n as i64).map(|i| i * 10).collect::<Vec<_>>());

        // Several names at once, untyped; several values at once.
        dview.push_values(vec![
            ("p".into(), Value::Int(1)),
            ("q".into(), Value::Str("two".into())),
        ])?;
        let pq = client.engine(0)?.pull_values(&["p", "q", "x"])?;
        assert_eq!(
            pq,
            vec![Value::Int(1), Value::Str("two".into()), Value::Float(2.5)]
        );
        Ok(())
    })
});

mpi_test!(scatter_and_gather_follow_the_block_rule, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    let sum = cluster.register_with_context("sum", |ctx, name: String| {
        Ok(ctx.array::<i64>(&name)?.sum())
    });
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        let a = Array1::from_iter(0..10i64);
        dview.scatter("a", &a)?;
        for id in 0..n {
            let part: Vec<i64> = client.engine(id as isize)?.pull("a")?;
            let want: Vec<i64> = block_range(10, n, id).map(|i| i as i64).collect();
            assert_eq!(part, want, "engine {id}'s partition");
        }
        let sums: Vec<i64> = dview.apply_sync(&sum, "a".to_string())?;
        assert_eq!(sums.iter().sum::<i64>(), 45);
        let back = dview.gather::<i64>("a")?;
        assert_eq!(back.as_slice().unwrap(), a.as_slice().unwrap());

        // 2-D along axis 0, every element type.
        let m = Array2::from_shape_fn((7, 3), |(i, j)| (i * 3 + j) as f64);
        dview.scatter("m", &m)?;
        let rows: Vec<usize> = dview
            .pull::<Array2<f64>>("m")?
            .iter()
            .map(|p| p.nrows())
            .collect();
        assert_eq!(rows, block_counts(7, n));
        assert_eq!(dview.gather::<f64>("m")?, m.clone().into_dyn());
        let f = m.mapv(|x| x as f32);
        dview.scatter("f", &f)?;
        assert_eq!(dview.gather::<f32>("f")?, f.into_dyn());
        let u = Array1::from_iter(0..=255u8);
        dview.scatter("u", &u)?;
        assert_eq!(dview.gather::<u8>("u")?, u.into_dyn());
        let i32s = Array1::from_iter(-50..50i32);
        dview.scatter("i32s", i32s.view())?;
        assert_eq!(dview.gather::<i32>("i32s")?, i32s.into_dyn());
        let z = Array1::from_shape_fn(9, |i| Complex64::new(i as f64, -(i as f64)));
        dview.scatter("z", &z)?;
        assert_eq!(dview.gather::<Complex64>("z")?, z.into_dyn());
        let t = m.t();
        dview.scatter("t", &t)?; // non-standard layout: sent as its logical rows
        assert_eq!(dview.gather::<f64>("t")?, t.to_owned().into_dyn());

        // Fewer rows than engines: the last engines get empty partitions of the right shape.
        let two = array![[1.0f64, 2.0], [3.0, 4.0]];
        dview.scatter("two", &two)?;
        let parts: Vec<Array2<f64>> = dview.pull("two")?;
        assert_eq!(
            parts.iter().map(|p| p.dim()).collect::<Vec<_>>(),
            block_counts(2, n)
                .into_iter()
                .map(|r| (r, 2))
                .collect::<Vec<_>>()
        );
        assert_eq!(dview.gather::<f64>("two")?, two.into_dyn());

        // Target order decides the split: a reversed view gets the first block on the last engine.
        let reversed = client.view(Targets::slice(None, None, -1))?;
        reversed.scatter("r", &a)?;
        let first: Vec<i64> = client.engine(-1)?.pull("r")?;
        assert_eq!(
            first,
            block_range(10, n, 0).map(|i| i as i64).collect::<Vec<_>>()
        );
        assert_eq!(reversed.gather::<i64>("r")?, a.clone().into_dyn());

        // flatten: one item per engine is stored as the item itself.
        let ids = Array1::from_iter((0..n as i64).map(|i| i * 100));
        dview.scatter_flattened("k", &ids)?;
        assert_eq!(dview.pull::<i64>("k")?, ids.to_vec());
        assert_eq!(dview.gather::<i64>("k")?, ids.into_dyn());
        let rows = Array2::from_shape_fn((n, 2), |(i, j)| (i * 2 + j) as f64);
        dview.scatter_flattened("row", &rows)?;
        assert_eq!(client.engine(0)?.pull::<Vec<f64>>("row")?, vec![0.0, 1.0]);
        // Every engine holds a 1-D row now, so (as numpy.concatenate in IPython Parallel)
        // gather joins them into one 1-D array.
        assert_eq!(
            dview.gather::<f64>("row")?,
            Array1::from_iter(rows.iter().copied()).into_dyn()
        );
        // With one more row than engines, the first engine keeps a 2-D block and the single
        // rows elsewhere count as one row each: gather rebuilds the array.
        let more = Array2::from_shape_fn((n + 1, 2), |(i, j)| (i * 2 + j) as f64);
        dview.scatter_flattened("more", &more)?;
        assert_eq!(dview.gather::<f64>("more")?, more.into_dyn());

        // Gathering scalars gives the vector of them (the seed's per-engine sums).
        for id in client.ids() {
            client.engine(id as isize)?.push("b", id as i64 + 1)?;
        }
        assert_eq!(
            dview
                .gather::<i64>("b")?
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            (1..=n as i64).collect::<Vec<_>>()
        );
        Ok(())
    })
});

mpi_test!(apply_results_arrive_with_timings, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    let add = cluster.register("add", |(a, b): (f64, f64)| a + b);
    let nap = cluster.register_with_context("nap", |ctx, ms: u64| {
        std::thread::sleep(Duration::from_millis(ms * (ctx.engine_id() as u64 + 1)));
        Ok(ctx.engine_id())
    });
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        assert_eq!(dview.apply_sync(&add, (3.0, 6.0))?, vec![9.0; n]);
        assert_eq!(client.engine(0)?.apply_sync(&add, (1.0, 1.0))?, 2.0);
        let evens = client.view(Targets::slice(None, None, 2))?;
        assert_eq!(
            evens.apply_sync(&nap, 0)?,
            (0..n).step_by(2).collect::<Vec<_>>()
        );

        let ar = dview.apply(&nap, 30)?;
        assert_eq!(ar.engine_ids(), client.ids().as_slice());
        if !client.is_local() {
            assert!(!ar.ready(), "engines sleep 30 ms and more");
            assert!(matches!(
                ar.get_timeout(Duration::from_millis(1)),
                Err(Error::Timeout(_))
            ));
        }
        assert!(ar.wait(Some(Duration::from_secs(20)))?);
        assert!(ar.ready());
        assert_eq!(ar.get()?, client.ids());
        assert_eq!(ar.get()?, client.ids(), "get can be called again");
        assert_eq!(ar.progress(), (n, n));
        let timings: Vec<_> = ar
            .timings()
            .into_iter()
            .map(|t| t.expect("answered"))
            .collect();
        for t in &timings {
            assert!(t.duration() >= Duration::from_millis(30));
            assert!(t.started >= ar.submitted() - Duration::from_millis(50));
            assert!(t.received >= t.completed - Duration::from_millis(50));
        }
        assert!(ar.serial_time().unwrap() >= Duration::from_millis(30 * n as u64));
        assert!(ar.wall_time().unwrap() >= Duration::from_millis(30 * n as u64));
        assert!(ar.elapsed() >= Duration::from_millis(30));

        // Iteration in target order and in arrival order (the fastest engine first).
        let ar = dview.apply(&nap, 20)?;
        let ordered: Vec<usize> = ar.iter().map(|r| r.unwrap().0).collect();
        assert_eq!(ordered, client.ids());
        let ar = dview.apply(&nap, 20)?;
        let arrived: Vec<usize> = ar.iter_unordered().map(|r| r.unwrap().1).collect();
        assert_eq!(
            arrived,
            client.ids(),
            "engine i sleeps 20*(i+1) ms, so they finish in order"
        );
        // A result dropped unread does not disturb later requests.
        drop(dview.apply(&nap, 5)?);
        assert_eq!(dview.apply_sync(&add, (0.5, 0.5))?, vec![1.0; n]);
        Ok(())
    })
});

mpi_test!(
    remote_failures_name_the_engine_and_engines_keep_serving,
    [1, 2, 3, 5],
    {
        let mut cluster = Cluster::init().expect("MPI");
        let n = cluster.n_engines();
        let picky = cluster.register_with_context("picky", |ctx, bad: Vec<usize>| {
            if bad.contains(&ctx.engine_id()) {
                return Err(format!("engine {} refuses", ctx.engine_id()).into());
            }
            Ok(ctx.engine_id())
        });
        let boom = cluster.register_with_context("boom", |ctx, target: usize| {
            assert_ne!(ctx.engine_id(), target, "boom on {target}");
            Ok(())
        });
        let read =
            cluster.register_with_context("read", |ctx, name: String| Ok(ctx.get::<f64>(&name)?));
        cluster.run(|client| -> Result<(), Error> {
            let dview = client.direct_view();
            let last = n - 1;
            // A panic on one engine: an error naming that engine and the function.
            let err = dview.apply_sync(&boom, last).unwrap_err();
            let errors = err.remote_errors();
            assert_eq!(errors.len(), 1);
            assert_eq!(
                (errors[0].engine, errors[0].kind),
                (last, RemoteErrorKind::Panicked)
            );
            assert_eq!(errors[0].function, "boom");
            assert!(
                err.to_string()
                    .contains(&format!("engine {last}: apply of `boom` panicked: ")),
                "{err}"
            );
            assert!(
                err.to_string().contains(&format!("boom on {last}")),
                "{err}"
            );
            // Several engines fail: all of them are reported, in target order.
            let bad: Vec<usize> = (0..n).filter(|e| e % 2 == 0).collect();
            let err = dview.apply_sync(&picky, bad.clone()).unwrap_err();
            assert_eq!(
                err.remote_errors()
                    .iter()
                    .map(|e| e.engine)
                    .collect::<Vec<_>>(),
                bad
            );
            assert!(
                err.remote_errors()
                    .iter()
                    .all(|e| e.kind == RemoteErrorKind::Failed)
            );
            // Side by side: the others' results are there.
            let each = dview.apply(&picky, bad.clone())?.get_each()?;
            for (engine, r) in each.iter().enumerate() {
                match r {
                    Ok(id) => assert_eq!((*id, engine % 2), (engine, 1)),
                    Err(e) => {
                        let [e] = e.remote_errors() else {
                            panic!("one remote error: {e:?}")
                        };
                        assert_eq!(
                            (e.engine, engine % 2, e.message.as_str(), e.call),
                            (
                                engine,
                                0,
                                format!("engine {engine} refuses").as_str(),
                                Call::Apply
                            )
                        )
                    }
                }
            }
            // The failing engines still serve.
            assert_eq!(dview.apply_sync(&picky, vec![])?, client.ids());
            // Missing names and wrong types, through pull and inside functions.
            let err = dview.pull::<f64>("nothing").unwrap_err();
            assert_eq!(err.remote_errors().len(), n);
            assert!(
                err.remote_errors()
                    .iter()
                    .all(|e| e.kind == RemoteErrorKind::MissingName)
            );
            assert!(
                err.to_string().contains("no value named `nothing`"),
                "{err}"
            );
            dview.push("s", "text".to_string())?;
            let err = client.engine(0)?.pull::<f64>("s").unwrap_err();
            assert_eq!(err.remote_errors()[0].kind, RemoteErrorKind::WrongType);
            assert!(
                err.to_string().contains("`s` is string, not float"),
                "{err}"
            );
            let err = dview.pull::<Vec<f32>>("s").unwrap_err();
            assert_eq!(err.remote_errors().len(), n);
            let err = dview.apply_sync(&read, "s".to_string()).unwrap_err();
            assert_eq!(err.remote_errors()[0].kind, RemoteErrorKind::WrongType);
            let err = dview.apply_sync(&read, "none".to_string()).unwrap_err();
            assert_eq!(err.remote_errors()[0].kind, RemoteErrorKind::MissingName);
            // Gather errors leave the engines usable.
            client.engine(-1)?.push("g", 1.0f64)?;
            let err = dview.gather::<f64>("g");
            if n > 1 {
                assert_eq!(err.unwrap_err().remote_errors().len(), n - 1);
            }
            dview.push("g", vec![1.0f64, 2.0])?;
            client.engine(0)?.push("g", array![[1.0f64]])?;
            if n > 2 {
                let err = dview.gather::<f64>("g").unwrap_err();
                assert!(matches!(err, Error::Invalid(_)), "{err}");
            }
            let err = dview.gather::<i64>("g").unwrap_err();
            assert!(
                err.remote_errors()
                    .iter()
                    .all(|e| e.kind == RemoteErrorKind::WrongType)
            );
            let err = dview
                .scatter("zero", ndarray::arr0(1.0f64).view())
                .unwrap_err();
            assert!(matches!(err, Error::Invalid(_)));
            assert_eq!(dview.apply_sync(&picky, vec![])?, client.ids());
            // Bad targets are errors at the controller, each saying what is wrong.
            use mpiview::TargetsError as T;
            let err = |r: mpiview::Result<mpiview::DirectView<mpiview::One>>| match r {
                Err(Error::Targets(t)) => t,
                other => panic!("{other:?}"),
            };
            assert_eq!(
                err(client.engine(n as isize)),
                T::OutOfRange {
                    index: n as isize,
                    engines: n
                }
            );
            assert!(matches!(
                err(client.engine(-(n as isize) - 1)),
                T::OutOfRange { .. }
            ));
            assert!(matches!(
                client.view(Targets::slice(Some(n as isize), None, 1)),
                Err(Error::Targets(T::Empty { .. }))
            ));
            assert!(matches!(
                client.view(vec![0, 0]),
                Err(Error::Targets(T::Repeated { engine: 0 }))
            ));
            assert!(matches!(
                client.view(Vec::<usize>::new()),
                Err(Error::Targets(T::Empty { .. }))
            ));
            assert!(matches!(
                client.node_view(99),
                Err(Error::Targets(T::NoSuchNode { node: 99, .. }))
            ));
            assert!(matches!(
                client.view(Targets::slice(None, None, 0)),
                Err(Error::Targets(T::ZeroStep))
            ));
            Ok(())
        })
    }
);

mpi_test!(execute_map_and_clear, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    let square = cluster.register("square", |x: i64| x * x);
    let inv = cluster.register("inv", |x: i64| 100 / x);
    let total = cluster.register_task("total = sum(a)", |ctx| {
        let t = ctx.array::<i64>("a")?.sum();
        ctx.set("total", t);
        Ok(())
    });
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        dview.scatter("a", &Array1::from_iter(1..=100i64))?;
        dview.execute_sync(&total)?;
        assert_eq!(dview.gather::<i64>("total")?.sum(), 5050);
        let ar = dview.execute(&total)?;
        ar.get()?;
        dview.clear_names(&["a"])?;
        let err = dview.execute_sync(&total).unwrap_err();
        assert!(
            err.remote_errors()
                .iter()
                .all(|e| e.kind == RemoteErrorKind::MissingName && e.function == "total = sum(a)")
        );

        let squares = dview.map_sync(&square, 0..100i64)?;
        assert_eq!(squares, (0..100i64).map(|x| x * x).collect::<Vec<_>>());
        assert!(dview.map_sync(&square, Vec::<i64>::new())?.is_empty());
        assert_eq!(client.engine(-1)?.map_sync(&square, [3, 4])?, vec![9, 16]);
        let err = dview
            .map_sync(&inv, (-3..7i64).collect::<Vec<_>>())
            .unwrap_err();
        let errors = err.remote_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].item, Some(3), "the zero is item 3");
        assert_eq!(
            errors[0].engine,
            mpiview::partition::block_counts(10, n)
                .iter()
                .scan(0, |s, c| {
                    *s += c;
                    Some(*s)
                })
                .position(|end| end > 3)
                .unwrap()
        );

        dview.push("x", 1i64)?;
        dview.clear()?;
        assert!(dview.pull::<i64>("x").is_err());
        assert!(dview.pull::<i64>("total").is_err());
        Ok(())
    })
});

mpi_test!(gather_too_large_for_memory_is_refused, [1, 3], {
    // SAFETY: set before anything reads the environment (the driver has not started).
    unsafe { std::env::set_var("MPIVIEW_MEMORY_LIMIT", "4kB") };
    let cluster = Cluster::init().expect("MPI");
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        dview.scatter("big", &Array1::<f64>::zeros(10_000))?;
        let err = dview.gather::<f64>("big").unwrap_err();
        // 80,000 bytes against a 4kB limit (the limit's units are honoured).
        assert!(
            matches!(
                err,
                Error::OutOfMemory {
                    needed: 80_000,
                    available: 4_000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("memory available"), "{err}");
        dview.scatter("small", &Array1::<f64>::ones(100))?;
        assert_eq!(dview.gather::<f64>("small")?.sum(), 100.0);
        Ok(())
    })
});
