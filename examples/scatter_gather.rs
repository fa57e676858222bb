//! The seed lab's scatter/gather sum: scatter `arange(10)`, sum each partition on its engine,
//! gather the sums.
//!
//! ```text
//! >>> dview.scatter("a_partition", np.arange(10))
//! >>> client[0]["a_partition"]  ->  array([0, 1, 2])   (4 engines: 3, 3, 2, 2 items)
//! >>> dview.execute("b = a_partition.sum()")
//! >>> dview.gather("b")         ->  [3, 12, 13, 17];  sum 45
//! ```
//!
//! Run: `bash scripts/mpirun.sh -n 5 target/release/examples/scatter_gather`
#![deny(warnings)]

use std::process::ExitCode;

use mpiview::partition::block_range;
use mpiview::{Cluster, Context, Result, remote};
use ndarray::Array1;

/// `b = a_partition.sum()`, on each engine's namespace.
#[remote]
fn sum_partition(ctx: &mut Context) -> Result<()> {
    let b = ctx.array::<i64>("a_partition")?.sum();
    ctx.set("b", b);
    Ok(())
}

fn main() -> ExitCode {
    let cluster = Cluster::init().expect("MPI starts");
    cluster.run(|client| -> Result<()> {
        let n = client.n_engines();
        let a = Array1::from_iter(0..10i64);
        let dview = client.direct_view();
        dview.scatter("a_partition", &a)?;
        for id in client.ids() {
            let part: Vec<i64> = client.engine(id)?.pull("a_partition")?;
            println!("client[{id}]['a_partition'] = {part:?}");
            let expected: Vec<i64> = block_range(10, n, id).map(|i| i as i64).collect();
            assert_eq!(part, expected);
        }
        dview.execute_sync(&sum_partition)?;
        let b_list = dview.gather::<i64>("b")?;
        println!("dview.gather('b') = {:?}", b_list.as_slice().expect("1-D"));
        let total: i64 = b_list.sum();
        println!("sum = {total}");
        assert_eq!(b_list.len(), n);
        assert_eq!(total, 45);
        Ok(())
    })
}
