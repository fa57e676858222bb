//! [`Cluster`]: MPI init, the function table, and the role split of [`Cluster::run`].
//!
//! [`startup`] greets the engines and finds the nodes, [`controller`] runs the driver and stops
//! the engines, [`engine`] serves.

mod controller;
mod engine;
mod farewell;
mod startup;

use std::process::ExitCode;
use std::rc::Rc;

use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use serde::{Serialize, de::DeserializeOwned};

use crate::client::Client;
use crate::comm::collective::ROOT;
use crate::error::{BoxError, Error, Result};
use crate::exit::DriverExit;
use crate::registry::{Context, Registry, Remote, Task};

/// One rank of an mpiview job. Every rank creates one with [`Cluster::init`], registers the same
/// functions in the same order, then calls [`Cluster::run`]: rank 0 runs the driver, the other
/// ranks serve as engines until it returns.
///
/// ```no_run
/// use mpiview::{Cluster, Result};
///
/// fn main() -> std::process::ExitCode {
///     let mut cluster = Cluster::init().expect("MPI starts");    // every rank
///     let add = cluster.register("add", |(a, b): (i64, i64)| a + b); // every rank, same order
///     cluster.run(|client| -> Result<()> {                       // rank 0 runs this
///         let sums: Vec<i64> = client.direct_view().apply_sync(&add, (3, 6))?;
///         println!("{sums:?}");
///         Ok(())
///     })
/// }
/// ```
pub struct Cluster {
    registry: Registry,
    world: SimpleCommunicator,
    // Dropped last: finalizes MPI.
    _universe: Universe,
}

impl Cluster {
    /// Initialises MPI (thread level `Funneled`: mpiview calls MPI from the thread that calls
    /// `init` and [`run`](Self::run) only) and returns this rank's handle.
    ///
    /// **Every rank** must call it, once, at the start of `main`. It blocks `SIGURG`, the
    /// doorbell by which ranks of a node wake each other, in this thread and the threads started
    /// after it (MPI's own among them); `MPIVIEW_DOORBELL=0` leaves signals alone. It reads every
    /// `MPIVIEW_*` setting; a bad one makes [`run`](Self::run) end the job with exit code 2.
    ///
    /// Errors if MPI was already initialised in this process, or cannot give the thread level
    /// `Funneled` (every thread may exist, but only this one calls MPI).
    pub fn init() -> Result<Cluster> {
        startup::leave_yielding_to_mpiview();
        // Read before MPI starts its threads: they must inherit the blocked signal. The strict
        // reading (with its error) is the controller's, in `run`.
        if crate::settings::get().shared.doorbell {
            crate::comm::doorbell::block_bell();
        }
        let (universe, level) = mpi::initialize_with_threading(mpi::Threading::Funneled)
            .ok_or_else(|| Error::Runtime("MPI is already initialised in this process".into()))?;
        check_thread_level(level)?;
        let world = universe.world();
        let registry = Registry::with_attributed().map_err(Error::Usage)?;
        Ok(Cluster {
            registry,
            world,
            _universe: universe,
        })
    }

    /// This rank (0 is the controller).
    pub fn rank(&self) -> i32 {
        self.world.rank()
    }

    /// Number of ranks.
    pub fn size(&self) -> i32 {
        self.world.size()
    }

    /// Whether this rank runs the driver.
    pub fn is_controller(&self) -> bool {
        self.rank() == ROOT
    }

    /// Number of engines the job has: ranks minus one, or one in-process engine for a one-rank
    /// run.
    pub fn n_engines(&self) -> usize {
        (self.size() as usize - 1).max(1)
    }

    /// `MPI_COMM_WORLD`, for code that uses MPI directly beside mpiview (before
    /// [`run`](Self::run), or inside remote functions on engines: not both sides at once).
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// Registers `f` as a remote function named `name`; returns its handle.
    ///
    /// **Every rank** must register the same functions in the same order (the controller checks
    /// at start-up and refuses to run otherwise). Arguments and results travel encoded with
    /// postcard, so `A` and `R` are serde types; several arguments are a tuple. A panic in `f`
    /// comes back to the driver as an error naming the engine; the engine keeps serving.
    pub fn register<A, R, F>(&mut self, name: &str, f: F) -> Remote<A, R>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        F: Fn(A) -> R + 'static,
    {
        self.registry.register(name, f)
    }

    /// Registers a fallible function that also reads and writes the engine's namespace through
    /// its [`Context`]. Same rules as [`register`](Self::register); an `Err` comes back to the
    /// driver as a remote error naming the engine and `name`.
    pub fn register_with_context<A, R, F>(&mut self, name: &str, f: F) -> Remote<A, R>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        F: Fn(&mut Context<'_>, A) -> std::result::Result<R, BoxError> + 'static,
    {
        self.registry.register_with_context(name, f)
    }

    /// Registers a task for [`DirectView::execute`](crate::DirectView::execute): code that works
    /// on the engine's namespace (`b = a_partition.sum()`). Same rules as
    /// [`register`](Self::register).
    pub fn register_task<F>(&mut self, name: &str, f: F) -> Task
    where
        F: Fn(&mut Context<'_>) -> std::result::Result<(), BoxError> + 'static,
    {
        self.registry.register_task(name, f)
    }

    /// Runs the job. **Every rank** calls it: rank 0 runs `driver` with a [`Client`]; ranks
    /// 1..N-1 serve as engines until the driver returns. Then every rank finalises MPI and
    /// returns the driver's exit status (return it from `main`). Code after `run` runs on every
    /// rank.
    ///
    /// A driver that fails or panics makes every rank exit non-zero: the engines are told to
    /// stop, and if one is still busy after a grace period (3 s, `MPIVIEW_SHUTDOWN_GRACE_S`) the
    /// job is aborted with `MPI_Abort`; ranks that have stopped wait for the controller's word
    /// before they finalise, so an abort never meets a rank inside `MPI_Finalize`. With one rank (no `mpirun`) the driver gets one
    /// in-process engine.
    pub fn run<F, T>(self, driver: F) -> ExitCode
    where
        F: FnOnce(&Client) -> T,
        T: DriverExit,
    {
        let Cluster {
            registry,
            world,
            _universe,
        } = self;
        let registry = Rc::new(registry);
        // This thread waits in mpiview from now on: it is the one the doorbell rings.
        if crate::settings::get().shared.doorbell {
            crate::comm::doorbell::block_bell();
        }
        let code = if world.size() == 1 {
            controller::run_local(registry, driver)
        } else {
            let comms = startup::communicators(&world);
            install_last_words(&world, &registry);
            let code = if world.rank() == ROOT {
                controller::run_controller(&world, comms, registry, driver)
            } else {
                engine::run_engine(&world, comms, &registry)
            };
            farewell::barrier(&world);
            code
        };
        drop(world);
        drop(_universe);
        ExitCode::from(code)
    }
}

/// Makes this rank say who it is and what it ran if it dies outside mpiview's shutdown.
fn install_last_words(world: &SimpleCommunicator, registry: &Registry) {
    let rank = world.rank();
    let host = crate::diagnostics::host_name();
    let who = if rank == ROOT {
        format!("the controller (rank 0, host {host})")
    } else {
        format!("engine {} (rank {rank}, host {host})", rank - 1)
    };
    crate::last_words::install(who, registry.names());
}

/// Refuses an MPI that gives less than `Funneled`: mpiview's runtime has threads of its own
/// beside the one that calls MPI (MPI's progress threads, the doorbell's waits).
fn check_thread_level(level: mpi::Threading) -> Result<()> {
    if level < mpi::Threading::Funneled {
        return Err(Error::Runtime(format!(
            "MPI gives the thread level {level:?}, and mpiview needs at least Funneled \
             (its runtime's threads exist beside the one that calls MPI); use an MPI built \
             with thread support"
        )));
    }
    Ok(())
}

/// Writes `line` and a newline to stderr in one `write(2)`: a launcher that ends the job right
/// after (an `MPI_Abort` follows) may forward what it has read and drop the rest, and
/// `eprintln!` writes a formatted line in several pieces.
fn say(line: &str) {
    use std::io::Write;
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&bytes);
}

/// How long a rank waits between its last message and `MPI_Abort`.
///
/// MPICH's hydra drops everything a rank wrote if the abort reaches it first: a C program that
/// writes one line and calls `MPI_Abort` lost all its output in 36 of 300 runs on 3 ranks
/// (2 cores, MPICH 4.0.2), and in none of 300 with a pause of 10 ms. The pause costs nothing
/// that matters on a path that ends the job.
const PAUSE_BEFORE_ABORT: std::time::Duration = std::time::Duration::from_millis(100);

/// Says `line` (see [`say`]), gives the launcher time to forward it and aborts the job with
/// `code`.
fn abort_saying(world: &mpi::topology::SimpleCommunicator, code: i32, line: &str) -> ! {
    use mpi::topology::Communicator;
    say(line);
    std::thread::sleep(PAUSE_BEFORE_ABORT);
    world.abort(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mpi_below_funneled_is_refused_with_a_message() {
        let e = check_thread_level(mpi::Threading::Single).unwrap_err();
        assert!(e.to_string().contains("thread level Single"), "{e}");
        assert!(e.to_string().contains("at least Funneled"), "{e}");
        for level in [
            mpi::Threading::Funneled,
            mpi::Threading::Serialized,
            mpi::Threading::Multiple,
        ] {
            assert!(check_thread_level(level).is_ok(), "{level:?}");
        }
    }
}
