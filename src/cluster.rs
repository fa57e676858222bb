//! Start-up and shutdown: MPI init, the role split, the function table, node discovery, and the
//! exit status every rank leaves with.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::raw::AsRaw;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;
use serde::{Serialize, de::DeserializeOwned};

use crate::client::Client;
use crate::client::core::Core;
use crate::client::link::{Link, LocalLink, MpiLink};
use crate::client::nodes::{EngineInfo, Node, group_by_key, parse_override};
use crate::comm::collective::ROOT;
use crate::comm::p2p::{Mailbox, Outbox, RawComm, any_source};
use crate::comm::poll::{self, Backoff};
use crate::engine::server::serve;
use crate::engine::state::EngineState;
use crate::error::{BoxError, Error, Result};
use crate::exit::{DriverExit, Outcome};
use crate::protocol::{Hello, TAG_HELLO, decode};
use crate::registry::{Context, Registry, Remote, Task};

/// How long engines get to stop after a failed driver before the job is aborted
/// (`MPIVIEW_SHUTDOWN_GRACE_S` overrides).
const DEFAULT_GRACE: Duration = Duration::from_secs(3);

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
    /// Initialises MPI (thread level `Funneled`: mpiview calls MPI from the main thread only)
    /// and returns this rank's handle.
    ///
    /// **Every rank** must call it, once. Errors if MPI was already initialised in this process.
    pub fn init() -> Result<Cluster> {
        let (universe, _level) = mpi::initialize_with_threading(mpi::Threading::Funneled)
            .ok_or_else(|| Error::Runtime("MPI is already initialised in this process".into()))?;
        let world = universe.world();
        Ok(Cluster {
            registry: Registry::default(),
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
    /// job is aborted with `MPI_Abort`. With one rank (no `mpirun`) the driver gets one
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
        let code = if world.size() == 1 {
            run_local(registry, driver)
        } else {
            // Control messages and communicator creation get communicators of their own:
            // MPI_Comm_create_group talks point-to-point on its parent with the tag it is given,
            // which must never meet the control receives that are always posted.
            let ctrl = world.duplicate();
            let factory = world.duplicate();
            let (leader, oversubscribed) = node_facts(&world);
            poll::configure(oversubscribed);
            if world.rank() == ROOT {
                run_controller(&world, ctrl, factory, registry, driver)
            } else {
                run_engine(&world, ctrl, factory, &registry, leader)
            }
        };
        drop(world);
        drop(_universe);
        ExitCode::from(code)
    }
}

/// Collective over the world: the lowest world rank on this rank's node (its node's key), and
/// whether the node holds more ranks than the CPUs they may use together (then waits do not
/// spin).
fn node_facts(world: &SimpleCommunicator) -> (i32, bool) {
    let shared = world.split_shared(world.rank());
    let mut leader = world.rank();
    shared.process_at_rank(0).broadcast_into(&mut leader);
    let mine = crate::sysinfo::affinity_mask();
    let mut union = [0u64; 16];
    shared.all_reduce_into(&mine[..], &mut union[..], SystemOperation::bitwise_or());
    let cpus: u32 = union.iter().map(|w| w.count_ones()).sum();
    (leader, shared.size() as u32 > cpus.max(1))
}

fn host_name() -> String {
    mpi::environment::processor_name().unwrap_or_else(|_| "localhost".into())
}

fn run_local<F, T>(registry: Rc<Registry>, driver: F) -> u8
where
    F: FnOnce(&Client) -> T,
    T: DriverExit,
{
    poll::configure(false);
    let host = host_name();
    let engines = vec![EngineInfo {
        id: 0,
        pid: std::process::id(),
        host: host.clone(),
        node: 0,
    }];
    let nodes = vec![Node {
        index: 0,
        name: host,
        engines: vec![0],
    }];
    let client = Client::new(Core::new(
        engines,
        nodes,
        registry,
        Link::Local(LocalLink::new()),
    ));
    let outcome = drive(&client, driver);
    report(&outcome);
    outcome.code
}

fn run_controller<F, T>(
    world: &SimpleCommunicator,
    ctrl: SimpleCommunicator,
    factory: SimpleCommunicator,
    registry: Rc<Registry>,
    driver: F,
) -> u8
where
    F: FnOnce(&Client) -> T,
    T: DriverExit,
{
    let n_engines = world.size() as usize - 1;
    let hellos = receive_hellos(&ctrl, n_engines);
    let nodes = discover_nodes(&hellos);
    let link = Link::Mpi(MpiLink::new(ctrl, factory));
    match (check_registries(&registry, &hellos), nodes) {
        (Ok(()), Ok((engines, nodes))) => {
            let client = Client::new(Core::new(engines, nodes, registry, link));
            let outcome = drive(&client, driver);
            report(&outcome);
            finish(&client, outcome.code, world)
        }
        (Err(e), _) | (_, Err(e)) => {
            let outcome = Outcome::failure(e.exit_code(), e.to_string());
            report(&outcome);
            let client = Client::new(Core::new(
                placeholder_engines(n_engines),
                Vec::new(),
                registry,
                link,
            ));
            finish(&client, outcome.code, world)
        }
    }
}

/// Stops the engines and returns the exit status; aborts the job if they do not stop in time
/// after a failure.
fn finish(client: &Client, code: u8, world: &SimpleCommunicator) -> u8 {
    let grace = (code != 0).then(|| {
        std::env::var("MPIVIEW_SHUTDOWN_GRACE_S")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(DEFAULT_GRACE, Duration::from_secs_f64)
    });
    match client.core.shutdown(code, grace) {
        Ok(true) => code,
        Ok(false) => {
            eprintln!(
                "error: engines still busy {:.1} s after the driver failed; aborting the job",
                grace.unwrap_or_default().as_secs_f64()
            );
            world.abort(i32::from(code.max(1)))
        }
        Err(e) => {
            eprintln!("error: stopping the engines failed: {e}; aborting the job");
            world.abort(i32::from(code.max(1)))
        }
    }
}

fn run_engine(
    world: &SimpleCommunicator,
    ctrl: SimpleCommunicator,
    factory: SimpleCommunicator,
    registry: &Registry,
    leader: i32,
) -> u8 {
    let hello = Hello {
        pid: std::process::id(),
        host: host_name(),
        node_leader: leader,
        registry: registry.fingerprint(),
    };
    let raw = RawComm(ctrl.as_raw());
    let mut outbox = Outbox::new(raw);
    outbox.send_bytes(
        ROOT,
        TAG_HELLO,
        postcard::to_stdvec(&hello).expect("hello encodes"),
    );
    outbox.flush(&mut || {});
    drop(outbox);
    let id = world.rank() as usize - 1;
    let state = EngineState::new(id, world.size() as usize - 1);
    match serve(&ctrl, &factory, registry, state) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("error: engine {id}: {e}; aborting the job");
            world.abort(1)
        }
    }
}

fn receive_hellos(ctrl: &SimpleCommunicator, n: usize) -> Vec<Hello> {
    let mut mailbox = Mailbox::post(RawComm(ctrl.as_raw()), any_source(), TAG_HELLO);
    let mut hellos: Vec<Option<Hello>> = (0..n).map(|_| None).collect();
    let mut received = 0;
    let mut backoff = Backoff::new();
    while received < n {
        match mailbox.poll() {
            Some((source, bytes)) => {
                let hello: Hello = decode(&bytes).expect("engines send well-formed greetings");
                hellos[source as usize - 1] = Some(hello);
                received += 1;
            }
            None => backoff.pause(),
        }
    }
    hellos
        .into_iter()
        .map(|h| h.expect("every engine greeted"))
        .collect()
}

fn check_registries(registry: &Registry, hellos: &[Hello]) -> Result<()> {
    let mine = registry.fingerprint();
    let differing: Vec<usize> = hellos
        .iter()
        .enumerate()
        .filter(|(_, h)| h.registry != mine)
        .map(|(i, _)| i)
        .collect();
    if differing.is_empty() {
        Ok(())
    } else {
        Err(Error::Runtime(format!(
            "engines {differing:?} registered different remote functions than the controller \
             ({} registered here); every rank must register the same functions in the same order",
            registry.len()
        )))
    }
}

fn discover_nodes(hellos: &[Hello]) -> Result<(Vec<EngineInfo>, Vec<Node>)> {
    let (node_of, nodes) = match std::env::var("MPIVIEW_NODES") {
        Ok(spec) => {
            let keys = parse_override(&spec, hellos.len())?;
            group_by_key(&keys, |k, _| format!("node{k}"))
        }
        Err(_) => {
            let keys: Vec<i32> = hellos.iter().map(|h| h.node_leader).collect();
            group_by_key(&keys, |_, engine| hellos[engine].host.clone())
        }
    };
    let engines = hellos
        .iter()
        .enumerate()
        .map(|(id, h)| EngineInfo {
            id,
            pid: h.pid,
            host: h.host.clone(),
            node: node_of[id],
        })
        .collect();
    Ok((engines, nodes))
}

fn placeholder_engines(n: usize) -> Vec<EngineInfo> {
    (0..n)
        .map(|id| EngineInfo {
            id,
            pid: 0,
            host: String::new(),
            node: 0,
        })
        .collect()
}

/// Runs the driver; a panic becomes a failure (exit code 101, like an uncaught Rust panic).
fn drive<F, T>(client: &Client, driver: F) -> Outcome
where
    F: FnOnce(&Client) -> T,
    T: DriverExit,
{
    match catch_unwind(AssertUnwindSafe(|| driver(client))) {
        Ok(value) => value.into_outcome(),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            Outcome::failure(101, format!("the driver panicked: {message}"))
        }
    }
}

fn report(outcome: &Outcome) {
    if let Some(message) = &outcome.message {
        eprintln!("error: {message}");
    }
}
