//! Non-blocking scatter, gather and push at 1, 2, 3 and 5 ranks: the same results as the
//! blocking calls, requests sent afterwards see the data, a scatter to some engines completes
//! while others compute, a transfer to busy engines does not hold up the driver, errors come
//! back through `get`, and dropped handles still complete.

mod common;

use std::time::{Duration, Instant};

use mpiview::{Cluster, Context, Error, NamespaceValue, RemoteErrorKind, remote};
use ndarray::{Array1, Array2, ArrayD, IxDyn, s};

/// Sleeps `ms`, then says which engine it was.
#[remote]
fn nap(ctx: &mut Context, ms: u64) -> usize {
    std::thread::sleep(Duration::from_millis(ms));
    ctx.engine_id()
}

/// The sum of the engine's `name` (an f64 array), and its length.
#[remote]
fn sum_of(ctx: &mut Context, name: String) -> mpiview::Result<(f64, usize)> {
    let a = ctx.array::<f64>(&name)?;
    Ok((a.sum(), a.len()))
}

/// Stores `engine id` copies of the row `[id, id]` under `y` (a ragged gather's pieces).
#[remote]
fn make_rows(ctx: &mut Context) -> mpiview::Result<()> {
    let id = ctx.engine_id();
    let rows = Array2::<f64>::from_elem((id + 1, 2), id as f64).into_dyn();
    ctx.set("y", rows);
    Ok(())
}

mpi_test!(async_transfers_match_blocking_ones, [1, 2, 3, 5], {
    let cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        let rows = 1000 * n + 7;
        let a = Array2::from_shape_fn((rows, 3), |(i, j)| (3 * i + j) as f64);
        // Scatter without waiting, and use the parts at once: the apply runs after the store.
        let sent = dview.scatter_async("a", a.clone())?;
        let sums = dview.apply_sync(&sum_of, "a".to_string())?;
        sent.get()?;
        let total: f64 = sums.iter().map(|s| s.0).sum();
        assert_eq!(total, a.sum());
        assert_eq!(sums.iter().map(|s| s.1).sum::<usize>(), 3 * rows);
        // Gather it back without waiting; a blocking gather queued behind agrees.
        let back = dview.gather_async::<f64>("a")?;
        let blocking = dview.gather::<f64>("a")?;
        let back = back.get()?;
        assert_eq!(back, a.clone().into_dyn());
        assert_eq!(blocking, back);
        // A layout that is not standard (a transposed view copied in) and a flattened scatter.
        let t = a.t().to_owned();
        let t_shared = ndarray::ArcArray::from(a.clone()).reversed_axes();
        assert!(!t_shared.is_standard_layout());
        dview.scatter_async("t", t_shared)?.get()?;
        assert_eq!(dview.gather::<f64>("t")?, t.into_dyn());
        let ids = Array1::from_iter(0..n as i64);
        dview.scatter_flattened_async("id", ids)?.get()?;
        let each: Vec<i64> = dview.pull("id")?;
        assert_eq!(each, (0..n as i64).collect::<Vec<_>>());
        // Push: a scalar (done at once) and arrays, several in one call.
        dview.push_async("k", 7i64)?.get()?;
        let big = Array1::from_iter((0..100_000).map(f64::from));
        let pushed = dview.push_values_async(vec![
            ("big".into(), big.clone().into_value()),
            (
                "small".into(),
                ArrayD::<f64>::zeros(IxDyn(&[2, 2])).into_value(),
            ),
        ])?;
        let sums = dview.apply_sync(&sum_of, "big".to_string())?;
        assert!(
            sums.iter()
                .all(|&(s, len)| s == big.sum() && len == big.len())
        );
        pushed.get()?;
        assert_eq!(dview.pull::<i64>("k")?, vec![7; n]);
        // Ragged pieces: engine i holds i + 1 rows.
        dview.execute_sync(&make_rows)?;
        let y = dview.gather_async::<f64>("y")?.get()?;
        assert_eq!(y.shape(), &[n * (n + 1) / 2, 2]);
        // Several in a row on one view: their collectives start in order.
        let g1 = dview.gather_async::<f64>("a")?;
        let s1 = dview.scatter_async("c", a.slice(s![..rows / 2, ..]).to_owned())?;
        let g2 = dview.gather_async::<f64>("c")?;
        let p1 = dview.push_async("d", big.clone())?;
        assert_eq!(g2.get()?, a.slice(s![..rows / 2, ..]).to_owned().into_dyn());
        assert_eq!(g1.get()?, a.clone().into_dyn());
        s1.get()?;
        p1.get()?;
        assert_eq!(client.engine(-1)?.pull::<Vec<f64>>("d")?.len(), big.len());
        Ok(())
    })
});

mpi_test!(async_transfers_overlap_computation, [1, 2, 3, 5], {
    let cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    cluster.run(|client| -> Result<(), Error> {
        let data = Array2::from_shape_fn((20_000, 16), |(i, j)| (i * 16 + j) as f64);
        // A transfer to engines that are busy does not hold up the driver.
        let dview = client.direct_view();
        let busy = dview.apply(&nap, 1_000)?;
        let started = Instant::now();
        let sent = dview.scatter_async("x", data.clone())?;
        let gathered = dview.gather_async::<f64>("x")?;
        let returned = started.elapsed();
        if !client.is_local() {
            assert!(returned < Duration::from_millis(500), "{returned:?}");
            assert!(!sent.ready() && !busy.ready());
        }
        busy.get()?;
        sent.get()?;
        assert_eq!(gathered.get()?, data.clone().into_dyn());
        // A scatter to some engines completes while the others compute.
        if n >= 2 {
            let half = (n / 2) as isize;
            let (left, right) = (client.view(..half)?, client.view(half..)?);
            let busy = right.apply(&nap, 2_000)?;
            let sent = left.scatter_async("x", data.clone())?;
            assert!(
                sent.wait(Some(Duration::from_millis(1_500)))?,
                "the scatter waited"
            );
            assert!(!busy.ready(), "the other engines were still computing");
            let sums = left.apply_sync(&sum_of, "x".to_string())?;
            let total: f64 = sums.iter().map(|s| s.0).sum();
            assert_eq!(total, data.sum());
            busy.get()?;
            // And a gather from them while the others compute again.
            let busy = right.apply(&nap, 2_000)?;
            let back = left.gather_async::<f64>("x")?;
            assert!(
                back.wait(Some(Duration::from_millis(1_500)))?,
                "the gather waited"
            );
            assert!(!busy.ready());
            assert_eq!(back.get()?, data.clone().into_dyn());
            busy.get()?;
        }
        Ok(())
    })
});

mpi_test!(async_transfer_errors_and_dropped_handles, [1, 2, 3, 5], {
    let cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        // A missing name: every engine's error, through get; the view keeps working.
        let err = dview.gather_async::<f64>("nothing")?.get().unwrap_err();
        assert_eq!(err.remote_errors().len(), n, "{err}");
        assert!(
            err.remote_errors()
                .iter()
                .all(|e| e.kind == RemoteErrorKind::MissingName),
            "{err}"
        );
        // Pieces that do not fit together (engine 0 holds 3 columns, the others 2).
        dview.push("z", Array2::<f64>::zeros((1, 2)))?;
        client.engine(0)?.push("z", Array2::<f64>::zeros((1, 3)))?;
        if n > 1 {
            let err = dview.gather_async::<f64>("z")?.get().unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{err}");
        }
        let err = dview
            .scatter_async("zero_d", ndarray::arr0(1.0f64))
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err}");
        // Dropped handles: the transfers still complete, in order, and later calls see them.
        drop(dview.scatter_async("w", Array1::from_elem(10 * n, 2.0f64))?);
        drop(dview.gather_async::<f64>("w")?);
        drop(dview.push_async("v", Array1::from_elem(5, 1.0f64))?);
        let sums = dview.apply_sync(&sum_of, "w".to_string())?;
        assert_eq!(sums.iter().map(|s| s.0).sum::<f64>(), 20.0 * n as f64);
        assert_eq!(dview.pull::<Vec<f64>>("v")?, vec![vec![1.0; 5]; n]);
        // Left in flight at the end: the job still ends cleanly.
        drop(dview.gather_async::<f64>("w")?);
        let _pending = dview.scatter_async("w2", Array1::from_elem(n, 1.0f64))?;
        Ok(())
    })
});
