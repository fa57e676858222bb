//! Start-up: communicators, which ranks share a node, the greeting every engine sends, and the
//! settings the controller sends back.
//!
//! Waits here are nonblocking calls waited for with backoff (with more ranks than cores and Open
//! MPI's own yielding turned off, blocking collectives at start-up cost 50–90 ms on 2 cores; see
//! [`leave_yielding_to_mpiview`]). The one blocking call is `MPI_Comm_split_type`, which has no
//! nonblocking form.

use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;
use serde::{Deserialize, Serialize};

use crate::comm::collective::ROOT;
use crate::comm::node::{self, NodeInfo};
use crate::comm::p2p::{Mailbox, Outbox, RawComm, any_source};
use crate::comm::poll::{self, Backoff};
use crate::comm::view_comms::{InFlight, ViewComms, duplicates};
use crate::comm::{doorbell, p2p};
use crate::error::{Error, Result};
use crate::nodes::{EngineInfo, Node, group_by_key, parse_override};
use crate::protocol::{TAG_HELLO, decode};
use crate::registry::Registry;
use crate::settings::{self, Shared};

/// When a node holds more ranks than CPUs, Open MPI makes every progress call give up the core
/// (`mpi_yield_when_idle`). mpiview's waits already yield between their tests, and the two
/// together double the yields of every wait: a trivial apply round trip on 2 engines and 2 cores
/// took 13–18 µs that way and 6–7 µs with mpiview yielding alone. So, unless the user chose
/// (`OMPI_MCA_mpi_yield_when_idle` set), Open MPI's yielding is turned off for an oversubscribed
/// launch, before `MPI_Init` reads it. Blocking MPI calls a user makes directly then spin; set
/// `OMPI_MCA_mpi_yield_when_idle=1` to get Open MPI's behaviour back. (Open MPI only: other MPIs
/// ignore the variable.)
pub(super) fn leave_yielding_to_mpiview() {
    const VAR: &str = "OMPI_MCA_mpi_yield_when_idle";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    if local_ranks().is_some_and(|n| n > crate::sysinfo::cpus_allowed()) {
        // SAFETY: `Cluster::init` runs at the start of `main`, before the program starts threads
        // that could read the environment concurrently.
        unsafe { std::env::set_var(VAR, "0") };
    }
}

/// Ranks of this job on this node, as the launcher tells them before `MPI_Init`: `mpirun`
/// (`OMPI_COMM_WORLD_LOCAL_SIZE`), `srun` (`SLURM_STEP_TASKS_PER_NODE`, e.g. `3` or `4(x2)`:
/// the largest count), MPICH's Hydra (`MPI_LOCALNRANKS`).
fn local_ranks() -> Option<usize> {
    let var = |name: &str| std::env::var(name).ok();
    if let Some(n) = var("OMPI_COMM_WORLD_LOCAL_SIZE").or_else(|| var("MPI_LOCALNRANKS")) {
        return n.trim().parse().ok();
    }
    var("SLURM_STEP_TASKS_PER_NODE").and_then(|spec| {
        spec.split(',')
            .filter_map(|part| part.split('(').next()?.trim().parse::<usize>().ok())
            .max()
    })
}

/// The communicators every rank starts with.
pub(super) struct Comms {
    /// The direct channel: control messages point-to-point.
    pub ctrl: SimpleCommunicator,
    /// The parent of view communicators (`MPI_Comm_create_group` talks on its parent with the
    /// tag it is given, which must never meet the control receives always posted on `ctrl`).
    pub factory: SimpleCommunicator,
    /// The all-engines view.
    pub all: ViewComms,
    /// Which ranks share this node.
    pub node: NodeInfo,
    /// The parent of the engines' communicator ([`Context::engines`](crate::Context::engines)),
    /// which the engines make from it at start-up, without the controller.
    pub engines_parent: SimpleCommunicator,
}

/// Makes the start-up communicators (collective over `world`).
pub(super) fn communicators(world: &SimpleCommunicator) -> Comms {
    let node = node::discover(world);
    // Every rank has made the same communicators so far (the engines make their own after the
    // greeting): the duplicates can be in flight together.
    let mut dups = duplicates(world, 3, InFlight::Together).into_iter();
    let ctrl = dups.next().expect("three duplicates");
    let factory = dups.next().expect("three duplicates");
    let engines_parent = dups.next().expect("three duplicates");
    let all = ViewComms::duplicate(world, InFlight::Together);
    Comms {
        ctrl,
        factory,
        all,
        node,
        engines_parent,
    }
}

pub(super) fn host_name() -> String {
    mpi::environment::processor_name().unwrap_or_else(|_| "localhost".into())
}

/// What an engine tells the controller at start-up (on `TAG_HELLO`).
#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    /// `MPI_Get_processor_name`.
    host: String,
    pid: u32,
    /// The lowest world rank on this engine's node (`MPI_COMM_TYPE_SHARED`).
    node_leader: i32,
    /// The CPUs this rank may run on (a 1024-bit mask).
    cpus: Vec<u64>,
    /// Fingerprint of the remote-function table.
    registry: u64,
}

/// The controller's answer to a `Hello` (on `TAG_HELLO`).
#[derive(Debug, Serialize, Deserialize)]
enum Welcome {
    /// Serve, with these settings.
    Serve {
        shared: Shared,
        /// The engine's node holds more ranks than CPUs: waits yield the core.
        oversubscribed: bool,
    },
    /// Do not serve: exit with this status (bad settings, mismatched functions).
    Exit { status: u8 },
}

/// Applies the settings every rank shares; turns doorbells on among this node's ranks.
fn configure(shared: &Shared, oversubscribed: bool, node: &NodeInfo, covered: bool) {
    poll::configure(&shared.polling, oversubscribed);
    poll::configure_transfers(shared.transfer_spin);
    p2p::set_max_count(shared.max_message_elements);
    if shared.doorbell {
        doorbell::enable(node.bells.clone(), covered, poll::config().spin);
    }
}

/// Engine side: greets the controller and waits for its welcome; applies the settings it sends.
/// `Err(status)`: the controller refused to start (it has said why); exit with `status`.
pub(super) fn greet(comms: &Comms, registry: &Registry) -> std::result::Result<Shared, u8> {
    let raw = RawComm(comms.ctrl.as_raw());
    let mut welcome = Mailbox::post(raw, ROOT, TAG_HELLO);
    let hello = Hello {
        host: host_name(),
        pid: std::process::id(),
        node_leader: comms.node.leader,
        cpus: crate::sysinfo::affinity_mask().to_vec(),
        registry: registry.fingerprint(),
    };
    let mut outbox = Outbox::new(raw);
    outbox.send_bytes(
        ROOT,
        TAG_HELLO,
        postcard::to_stdvec(&hello).expect("hello encodes"),
    );
    let mut backoff = Backoff::new();
    let bytes = loop {
        outbox.progress();
        if let Some((_, bytes)) = welcome.poll() {
            break bytes;
        }
        backoff.pause();
    };
    outbox.flush();
    match decode(&bytes).expect("the controller sends a well-formed welcome") {
        Welcome::Exit { status } => Err(status),
        Welcome::Serve {
            shared,
            oversubscribed,
        } => {
            // Only the controller sends this engine control messages: a ring from it (when it
            // shares this node) covers every wait.
            let covered = comms.node.bells[ROOT as usize].is_some();
            configure(&shared, oversubscribed, &comms.node, covered);
            Ok(shared)
        }
    }
}

/// What the controller learns at start-up.
pub(super) struct Roster {
    pub engines: Vec<EngineInfo>,
    pub nodes: Vec<Node>,
}

/// Controller side: receives every engine's greeting, checks the settings and that every rank
/// registered the same functions, and welcomes the engines with the shared settings (or tells
/// them to exit). `Err` (already sent to the engines as an exit status): the job must end with
/// that error.
pub(super) fn welcome_engines(
    comms: &Comms,
    n_engines: usize,
    registry: &Registry,
) -> Result<Roster> {
    let raw = RawComm(comms.ctrl.as_raw());
    let hellos = receive_hellos(raw, n_engines);
    let settings = settings::get();
    let verdict = match settings::error() {
        Some(e) => Err(Error::Usage(e.to_string())),
        None => check_registries(registry, &hellos).and_then(|()| discover_nodes(&hellos)),
    };
    let my_cpus = crate::sysinfo::affinity_mask();
    let shared = &settings.shared;
    let mut outbox = Outbox::new(raw);
    for (engine, hello) in hellos.iter().enumerate() {
        let welcome = match &verdict {
            Ok(_) => Welcome::Serve {
                shared: shared.clone(),
                oversubscribed: oversubscribed(hello.node_leader, &hellos, &my_cpus),
            },
            Err(e) => Welcome::Exit {
                status: e.exit_code(),
            },
        };
        outbox.send_bytes(engine as i32 + 1, TAG_HELLO, postcard::to_stdvec(&welcome)?);
    }
    outbox.flush();
    // The controller hears from every engine: a ring covers its waits when all share its node.
    let node = &comms.node;
    let covered = (1..=n_engines as i32).all(|r| node.bells[r as usize].is_some());
    configure(
        shared,
        oversubscribed(ROOT, &hellos, &my_cpus),
        node,
        covered,
    );
    verdict
}

fn receive_hellos(raw: RawComm, n: usize) -> Vec<Hello> {
    let mut mailbox = Mailbox::post(raw, any_source(), TAG_HELLO);
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

/// Whether the node of `leader` holds more ranks (engines there, and the controller if it is
/// there) than the CPUs those ranks may use together.
fn oversubscribed(leader: i32, hellos: &[Hello], my_cpus: &[u64; 16]) -> bool {
    let mut cpus = [0u64; 16];
    let mut ranks = 0usize;
    for h in hellos.iter().filter(|h| h.node_leader == leader) {
        ranks += 1;
        for (c, w) in cpus.iter_mut().zip(&h.cpus) {
            *c |= w;
        }
    }
    // The controller is world rank 0, so it leads its node.
    if leader == ROOT {
        ranks += 1;
        for (c, w) in cpus.iter_mut().zip(my_cpus) {
            *c |= w;
        }
    }
    let n_cpus: u32 = cpus.iter().map(|w| w.count_ones()).sum();
    ranks > n_cpus.max(1) as usize
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

/// Nodes from MPI's shared-memory domains, or from the `MPIVIEW_NODES` override; each node is
/// named after the host of its first engine.
fn discover_nodes(hellos: &[Hello]) -> Result<Roster> {
    let (node_of, nodes) = match &settings::get().nodes {
        Some(spec) => {
            let keys = parse_override(spec, hellos.len())?;
            group_by_key(&keys, |k, _| format!("node{k}"))
        }
        None => {
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
    Ok(Roster { engines, nodes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(leader: i32, host: &str, cpus: u64) -> Hello {
        Hello {
            host: host.into(),
            pid: 1,
            node_leader: leader,
            cpus: vec![cpus],
            registry: 0,
        }
    }

    #[test]
    fn oversubscription_counts_ranks_against_their_cpus() {
        let mut mine = [0u64; 16];
        mine[0] = 0b11;
        // Two engines and the controller on two CPUs.
        let hellos = [hello(0, "a", 0b11), hello(0, "a", 0b11)];
        assert!(oversubscribed(0, &hellos, &mine));
        // Each rank bound to its own CPU of four; one engine on another node.
        mine[0] = 0b0001;
        let hellos = [
            hello(0, "a", 0b0010),
            hello(0, "a", 0b0100),
            hello(3, "b", 0b1),
        ];
        assert!(!oversubscribed(0, &hellos, &mine));
        assert!(!oversubscribed(3, &hellos, &mine));
        let hellos = [hello(1, "b", 0b1), hello(1, "b", 0b1)];
        assert!(oversubscribed(1, &hellos, &mine));
    }

    #[test]
    fn nodes_group_by_shared_memory_domain_not_by_name() {
        // Engines 0 and 2 share a node; engine 1 is elsewhere although its host has the same
        // name.
        let hellos = [hello(0, "x", 1), hello(2, "x", 1), hello(0, "x", 1)];
        let roster = discover_nodes(&hellos).unwrap();
        assert_eq!(roster.nodes.len(), 2);
        assert_eq!(roster.nodes[0].engines, vec![0, 2]);
        assert_eq!(roster.nodes[1].engines, vec![1]);
        assert_eq!(roster.nodes[1].name, "x");
        assert_eq!(roster.engines[2].node, 0);
    }
}
