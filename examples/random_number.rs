//! The blog post's load-balanced `random_number` demo: each task sleeps a random time and
//! returns its engine's process id and a random number times a factor; results print as they
//! arrive, from whichever engine was free.
//!
//! ```text
//! >>> bview.apply(random_number, 1)
//! >>> for result in bview.map(random_number, range(10)): print(result)
//! ```
//!
//! Run: `bash scripts/mpirun.sh -n 3 target/release/examples/random_number`
#![deny(warnings)]

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use mpiview::{Cluster, Result, remote};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Longest sleep of a task (the blog post uses 5 s; short here so the demo runs quickly).
const MAX_SLEEP: Duration = Duration::from_millis(300);

/// Sleeps a random time, then returns this engine's process id and `factor` times a random
/// number. The random stream is keyed by the task's input, not by the engine.
#[remote]
fn random_number(factor: u64) -> (u32, f64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(factor);
    let r: f64 = rng.random();
    std::thread::sleep(MAX_SLEEP.mul_f64(r));
    (std::process::id(), factor as f64 * r)
}

fn main() -> ExitCode {
    let cluster = Cluster::init().expect("MPI starts");

    cluster.run(|client| -> Result<()> {
        let pids: BTreeSet<u32> = client.engines().iter().map(|e| e.pid).collect();
        let bview = client.load_balanced_view();

        let one = bview.apply(&random_number, 1)?;
        let (pid, value) = one.get()?;
        println!(
            "bview.apply(random_number, 1) = ({pid}, {value:.4}) on engine {:?}",
            one.engine_id()
        );
        assert!(pids.contains(&pid));

        println!("for result in bview.map(random_number, range(10)):");
        let mut it = bview
            .chunksize(1)
            .ordered(false)
            .map(&random_number, 0..10u64)?
            .into_iter();
        let mut seen = BTreeSet::new();
        while let Some(r) = it.next_indexed() {
            let (i, (pid, value)) = r?;
            println!("  task {i}: ({pid}, {value:.4})");
            assert!(pids.contains(&pid));
            seen.insert(i);
        }
        assert_eq!(seen, (0..10).collect());
        Ok(())
    })
}
