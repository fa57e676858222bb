//! The runtime starts, answers, and stops at several rank counts.

mod common;

use mpiview::{Cluster, Error};

mpi_test!(hello, [1, 2, 3, 5], {
    let mut cluster = Cluster::init().expect("MPI");
    let add = cluster.register("add", |(a, b): (i64, i64)| a + b);
    let who = cluster.register_with_context("who", |ctx, ()| Ok(ctx.engine_id()));
    let n = cluster.n_engines();
    cluster.run(|client| -> Result<(), Error> {
        assert_eq!(client.n_engines(), n);
        let dview = client.direct_view();
        let sums: Vec<i64> = dview.apply_sync(&add, (3, 6))?;
        assert_eq!(sums, vec![9; n]);
        let ids: Vec<usize> = dview.apply_sync(&who, ())?;
        assert_eq!(ids, client.ids());
        Ok(())
    })
});
