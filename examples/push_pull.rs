//! The seed lab's first steps: put values into every engine's namespace, read them back, and
//! apply functions that use them.
//!
//! ```text
//! >>> dview["a"] = 10; dview["b"] = 5      # push
//! >>> client[0]["a"]                        # pull from one engine
//! >>> dview.apply_sync(add)                 # a + b on every engine
//! >>> dview.apply_sync(add, 3, 6)
//! ```
//!
//! Run: `bash scripts/mpirun.sh -n 5 target/release/examples/push_pull`
#![deny(warnings)]

use std::process::ExitCode;

use mpiview::{Cluster, Context, Result, remote};

/// `a + b` from the engine's namespace.
#[remote]
fn add_ab(ctx: &mut Context) -> Result<i64> {
    Ok(ctx.get::<i64>("a")? + ctx.get::<i64>("b")?)
}

/// `x + y` of its arguments.
#[remote]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

fn main() -> ExitCode {
    let cluster = Cluster::init().expect("MPI starts");

    cluster.run(|client| -> Result<()> {
        let n = client.n_engines();
        println!("client.ids = {:?}", client.ids());
        let dview = client.direct_view();

        dview.push("a", 10i64)?;
        dview.push("b", 5i64)?;
        let a0: i64 = client.engine(0)?.pull("a")?;
        let b0: i64 = client.engine(0)?.pull("b")?;
        println!("client[0]['a'] = {a0}");
        println!("client[0]['b'] = {b0}");
        assert_eq!((a0, b0), (10, 5));

        let result = dview.apply(&add_ab, ())?;
        let sums = result.get()?;
        println!("dview.apply(add).get() = {sums:?}");
        assert!(result.ready());
        assert_eq!(sums, vec![15; n]);

        let sums = dview.apply_sync(&add, (3, 6))?;
        println!("dview.apply_sync(add, 3, 6) = {sums:?}");
        assert_eq!(sums, vec![9; n]);

        let pulled: Vec<i64> = dview.pull("a")?;
        println!("dview['a'] = {pulled:?}");
        assert_eq!(pulled, vec![10; n]);
        Ok(())
    })
}
