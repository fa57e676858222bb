//! `#[remote]` functions at 1, 2, 3 and 5 ranks: every argument and return shape, the engine's
//! context, errors and panics that name the function, `execute` of a context-only function,
//! direct, load-balanced and parallel calls, and closures registered beside them.

mod common;

use std::time::Duration;

use mpiview::{Call, Cluster, Context, Error, RemoteErrorKind, remote};
use ndarray::Array1;

/// No argument: the engine's own id, through its context.
#[remote]
fn whoami(ctx: &mut Context) -> usize {
    ctx.engine_id()
}

/// One argument: the argument type is that argument's (maps go over `u64`s).
#[remote]
fn square(x: u64) -> u64 {
    x * x
}

/// Several arguments: a tuple; patterns in parameters work.
#[remote]
fn affine(a: i64, (b, c): (i64, i64), label: String) -> String {
    format!("{label}={}", a * b + c)
}

/// Returns nothing.
#[remote]
fn nothing() {}

/// A plain `Result` with a string error: `Err` comes back as a remote error.
#[remote]
fn checked_sqrt(x: f64) -> Result<f64, String> {
    if x < 0.0 {
        Err(format!("sqrt of {x}"))
    } else {
        Ok(x.sqrt())
    }
}

/// An `io::Result`: any error a `BoxError` is made from.
#[remote]
fn read_missing(path: String) -> std::io::Result<usize> {
    Ok(std::fs::read(path)?.len())
}

/// Panics on zero.
#[remote]
fn divide(a: u64, b: u64) -> u64 {
    a / b
}

/// Recursion calls the function itself, not the handle.
#[remote]
fn factorial(n: u64) -> u64 {
    if n <= 1 { 1 } else { n * factorial(n - 1) }
}

/// The partition's sum, from the namespace.
#[remote]
fn partition_sum(ctx: &mut Context) -> mpiview::Result<i64> {
    Ok(ctx.array::<i64>("a")?.sum())
}

/// A task for `execute`: doubles `a` in place.
#[remote]
fn double_a(ctx: &mut Context<'_>) -> mpiview::Result<()> {
    let doubled = ctx.array::<i64>("a")? * 2;
    ctx.set("a", doubled);
    Ok(())
}

/// Squares one engine's part of a sequence (for `parallel`).
#[remote]
fn square_all(xs: Vec<f64>) -> Vec<f64> {
    xs.into_iter().map(|x| x * x).collect()
}

/// Sleeps, then says where it ran.
#[remote]
fn nap(ctx: &mut Context, ms: u64) -> usize {
    std::thread::sleep(Duration::from_millis(ms));
    ctx.engine_id()
}

mod nested {
    use mpiview::remote;

    /// A function in another module: known by its own path.
    #[remote]
    pub fn square(x: u64) -> u64 {
        x * x + 1
    }
}

mpi_test!(attribute_functions_of_every_shape, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    // A closure registered the old way, beside the attribute functions.
    let triple = cluster.register("triple", |x: u64| 3 * x);
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        assert_eq!(dview.apply_sync(&whoami, ())?, client.ids());
        assert_eq!(dview.apply_sync(&square, 7)?, vec![49; n]);
        assert_eq!(dview.apply_sync(&nested::square, 7)?, vec![50; n]);
        assert_eq!(
            dview.apply_sync(&affine, (2, (3, 4), "y".to_string()))?,
            vec!["y=10".to_string(); n]
        );
        assert_eq!(dview.apply_sync(&nothing, ())?, vec![(); n]);
        assert_eq!(dview.apply_sync(&checked_sqrt, 16.0)?, vec![4.0; n]);
        assert_eq!(dview.apply_sync(&factorial, 10)?, vec![3_628_800; n]);
        assert_eq!(dview.apply_sync(&triple, 5)?, vec![15; n]);
        // Each engine its own argument; a handle held in a variable.
        let f = square;
        let each: Vec<u64> = (0..n as u64).collect();
        let squares = dview.apply_each(&f, each.clone())?.get()?;
        assert_eq!(squares, each.iter().map(|x| x * x).collect::<Vec<_>>());
        // The namespace: scatter, execute a context-only function, apply another.
        dview.scatter("a", &Array1::from_iter(0..20i64))?;
        dview.execute_sync(&double_a)?;
        let sums = dview.apply_sync(&partition_sum, ())?;
        assert_eq!(sums.iter().sum::<i64>(), 2 * (0..20).sum::<i64>());
        // Maps: direct and load-balanced, in order.
        let items: Vec<u64> = (0..3 * n as u64 + 1).collect();
        let expected: Vec<u64> = items.iter().map(|x| x * x).collect();
        assert_eq!(dview.map_sync(&square, items.clone())?, expected);
        let lview = client.load_balanced_view();
        assert_eq!(lview.map_sync(&square, items.clone())?, expected);
        assert_eq!(lview.apply_sync(&factorial, 5)?, 120);
        let pairs = vec![(1, (2, 3), "a".to_string()), (4, (5, 6), "b".to_string())];
        assert_eq!(lview.map_sync(&affine, pairs)?, vec!["a=5", "b=26"]);
        // parallel and remote bind an attribute function to the view.
        let parts = dview.parallel(&square_all);
        let xs: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(
            parts.call(xs.clone())?,
            xs.iter().map(|x| x * x).collect::<Vec<_>>()
        );
        assert_eq!(dview.remote(&whoami).call(())?, client.ids());
        // Waits and timings work as for registered closures.
        let slow = lview.apply(&nap, 50)?;
        let engine = slow.get()?;
        assert!(engine < n);
        assert!(slow.serial_time().unwrap() >= Duration::from_millis(50));
        Ok(())
    })
});

mpi_test!(attribute_functions_fail_by_name, [1, 2, 3, 5], {
    let cluster = Cluster::init().expect("MPI");
    let n = cluster.n_engines();
    cluster.run(|client| -> Result<(), Error> {
        let dview = client.direct_view();
        let err = dview.apply_sync(&checked_sqrt, -4.0).unwrap_err();
        assert_eq!(err.remote_errors().len(), n);
        for (engine, e) in err.remote_errors().iter().enumerate() {
            assert_eq!(
                (e.engine, e.call, e.kind, e.function.as_str()),
                (engine, Call::Apply, RemoteErrorKind::Failed, "checked_sqrt")
            );
            assert_eq!(e.message, "sqrt of -4");
        }
        let err = dview
            .apply_sync(&read_missing, "/nonexistent/mpiview".to_string())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("apply of `read_missing` failed: No such file"),
            "{err}"
        );
        let err = dview.apply_sync(&divide, (1, 0)).unwrap_err();
        let e = &err.remote_errors()[0];
        assert_eq!(
            (e.kind, e.function.as_str()),
            (RemoteErrorKind::Panicked, "divide")
        );
        assert!(e.message.contains("divide by zero"), "{}", e.message);
        // A missing name from a context function keeps its kind; the engines keep serving.
        let err = dview.apply_sync(&partition_sum, ()).unwrap_err();
        assert!(
            err.remote_errors()
                .iter()
                .all(|e| e.kind == RemoteErrorKind::MissingName),
            "{err}"
        );
        let err = dview.execute_sync(&double_a).unwrap_err();
        assert!(err.remote_errors().iter().all(|e| e.call == Call::Execute));
        let got = client
            .load_balanced_view()
            .map(&checked_sqrt, vec![1.0, -1.0, 9.0])?
            .get_each()?;
        assert_eq!(got[0].as_ref().ok(), Some(&1.0));
        assert!(
            got[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("map of `checked_sqrt` on item 1")
        );
        assert_eq!(got[2].as_ref().ok(), Some(&3.0));
        assert_eq!(dview.apply_sync(&square, 3)?, vec![9; n]);
        Ok(())
    })
});
