//! Start-up: communicators, the greeting every engine sends, node discovery, and how waits poll.
//!
//! Everything here is nonblocking and waited for with backoff. (With more ranks than cores and
//! Open MPI's own yielding turned off, blocking collectives at start-up cost 50–90 ms on 2 cores;
//! see [`leave_yielding_to_mpiview`].)

use mpi::ffi;
use mpi::raw::{AsRaw, FromRaw};
use mpi::topology::{Communicator, SimpleCommunicator};

use crate::client::nodes::{EngineInfo, Node, group_by_key, parse_override};
use crate::comm::collective::ROOT;
use crate::comm::doorbell;
use crate::comm::p2p::{Mailbox, Outbox, RawComm, any_source};
use crate::comm::poll::{self, Backoff};
use crate::comm::request::{Pending, request_null};
use crate::error::{Error, Result};
use crate::protocol::{Hello, TAG_HELLO, Welcome, decode};
use crate::registry::Registry;

/// When a node holds more ranks than CPUs, Open MPI makes every progress call give up the core
/// (`mpi_yield_when_idle`). mpiview's waits already yield between their tests, and the two
/// together double the yields of every wait: a trivial apply round trip on 2 engines and 2 cores
/// took 13–18 µs that way and 6–7 µs with mpiview yielding alone. So, unless the user chose
/// (`OMPI_MCA_mpi_yield_when_idle` set), Open MPI's yielding is turned off for an oversubscribed
/// launch, before `MPI_Init` reads it. Blocking MPI calls a user makes directly then spin; set
/// `OMPI_MCA_mpi_yield_when_idle=1` to get Open MPI's behaviour back.
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

/// A duplicate of `comm` (collective over it; nonblocking `MPI_Comm_idup`, waited for with
/// backoff).
pub(super) fn duplicate(comm: &SimpleCommunicator) -> SimpleCommunicator {
    let mut new = std::mem::MaybeUninit::<ffi::MPI_Comm>::uninit();
    let mut raw = request_null();
    // SAFETY: MPI_Comm_idup writes the new handle when the request completes; we wait for that
    // before reading it, and `comm` outlives the call.
    unsafe {
        ffi::MPI_Comm_idup(comm.as_raw(), new.as_mut_ptr(), &mut raw);
        Pending::new(raw, false).wait(&mut || {});
        SimpleCommunicator::from_raw(new.assume_init())
    }
}

pub(super) fn host_name() -> String {
    mpi::environment::processor_name().unwrap_or_else(|_| "localhost".into())
}

/// Engine side: greets the controller and waits for its welcome; sets how waits poll.
pub(super) fn greet(ctrl: &SimpleCommunicator, registry: &Registry) {
    let raw = RawComm(ctrl.as_raw());
    let mut welcome = Mailbox::post(raw, ROOT, TAG_HELLO);
    let hello = Hello {
        pid: std::process::id(),
        host: host_name(),
        cpus: crate::sysinfo::affinity_mask().to_vec(),
        registry: registry.fingerprint(),
        pid_ns: doorbell::pid_namespace(),
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
    outbox.flush(&mut || {});
    let welcome: Welcome = decode(&bytes).expect("the controller sends a well-formed welcome");
    poll::configure(welcome.oversubscribed);
    // Engines send each other no control messages: the controller (rank 0) is the only peer.
    doorbell::enable(
        &[welcome.controller_pid],
        ctrl.rank() as usize,
        poll::config().spin,
    );
}

/// What the controller learns at start-up.
pub(super) struct Roster {
    pub engines: Vec<EngineInfo>,
    pub nodes: Vec<Node>,
}

/// Controller side: receives every engine's greeting, sets how waits poll on each node, and
/// checks that every rank registered the same functions.
pub(super) fn welcome_engines(
    ctrl: &SimpleCommunicator,
    n_engines: usize,
    registry: &Registry,
) -> Result<Roster> {
    let raw = RawComm(ctrl.as_raw());
    let hellos = receive_hellos(raw, n_engines);
    let my_host = host_name();
    let my_cpus = crate::sysinfo::affinity_mask();
    let my_ns = doorbell::pid_namespace();
    // By rank of `ctrl`: the engines this rank can ring (and that can ring it).
    let bells: Vec<Option<u32>> = std::iter::once(None)
        .chain(
            hellos
                .iter()
                .map(|h| (h.host == my_host && my_ns != 0 && h.pid_ns == my_ns).then_some(h.pid)),
        )
        .collect();
    let mut outbox = Outbox::new(raw);
    for (engine, hello) in hellos.iter().enumerate() {
        let welcome = Welcome {
            oversubscribed: oversubscribed(&hello.host, &hellos, &my_host, &my_cpus),
            controller_pid: bells[engine + 1].map(|_| std::process::id()),
        };
        outbox.send_bytes(engine as i32 + 1, TAG_HELLO, postcard::to_stdvec(&welcome)?);
    }
    outbox.flush(&mut || {});
    poll::configure(oversubscribed(&my_host, &hellos, &my_host, &my_cpus));
    doorbell::enable(&bells, ROOT as usize, poll::config().spin);
    check_registries(registry, &hellos)?;
    discover_nodes(&hellos)
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

/// Whether `host` holds more ranks (engines there, and the controller if it is there) than the
/// CPUs those ranks may use together.
fn oversubscribed(host: &str, hellos: &[Hello], my_host: &str, my_cpus: &[u64; 16]) -> bool {
    let mut cpus = [0u64; 16];
    let mut ranks = 0usize;
    for h in hellos.iter().filter(|h| h.host == host) {
        ranks += 1;
        for (c, w) in cpus.iter_mut().zip(&h.cpus) {
            *c |= w;
        }
    }
    if host == my_host {
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

/// Nodes from the processor names, or from the `MPIVIEW_NODES` override.
fn discover_nodes(hellos: &[Hello]) -> Result<Roster> {
    let (node_of, nodes) = match std::env::var("MPIVIEW_NODES") {
        Ok(spec) => {
            let keys = parse_override(&spec, hellos.len())?;
            group_by_key(&keys, |k, _| format!("node{k}"))
        }
        Err(_) => {
            let keys: Vec<&str> = hellos.iter().map(|h| h.host.as_str()).collect();
            group_by_key(&keys, |host, _| host.to_string())
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

    fn hello(host: &str, cpus: u64) -> Hello {
        Hello {
            pid: 1,
            host: host.into(),
            cpus: vec![cpus],
            registry: 0,
            pid_ns: 1,
        }
    }

    #[test]
    fn oversubscription_counts_ranks_against_their_cpus() {
        let mut mine = [0u64; 16];
        mine[0] = 0b11;
        // Two engines and the controller on two CPUs.
        let hellos = [hello("a", 0b11), hello("a", 0b11)];
        assert!(oversubscribed("a", &hellos, "a", &mine));
        // Each rank bound to its own CPU of four.
        mine[0] = 0b0001;
        let hellos = [hello("a", 0b0010), hello("a", 0b0100), hello("b", 0b1)];
        assert!(!oversubscribed("a", &hellos, "a", &mine));
        assert!(!oversubscribed("b", &hellos, "a", &mine));
        let hellos = [hello("b", 0b1), hello("b", 0b1)];
        assert!(oversubscribed("b", &hellos, "a", &mine));
    }

    #[test]
    fn nodes_group_by_host() {
        let hellos = [hello("x", 1), hello("y", 1), hello("x", 1)];
        let roster = discover_nodes(&hellos).unwrap();
        assert_eq!(roster.nodes.len(), 2);
        assert_eq!(roster.nodes[0].engines, vec![0, 2]);
        assert_eq!(roster.nodes[1].name, "y");
        assert_eq!(roster.engines[2].node, 0);
    }
}
