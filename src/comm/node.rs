//! Which ranks share this node, as MPI sees it: the members of this rank's
//! `MPI_COMM_TYPE_SHARED` communicator (ranks that can share memory). Host names cannot say
//! this (two hosts may have the same name; test nodes in namespaces of one machine have
//! different names but one kernel), and neither can PID namespaces.

use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::{Communicator, SimpleCommunicator};

use super::doorbell::{Bell, my_bell};
use super::request::{Pending, request_null};

/// What a rank knows of its node after start-up.
#[derive(Clone, Debug)]
pub(crate) struct NodeInfo {
    /// The lowest world rank on this node: the same on every rank of the node, different on
    /// every other node.
    pub leader: i32,
    /// The world ranks on this node, ascending.
    pub ranks: Vec<i32>,
    /// By world rank: how to ring each rank of this node (`None` for ranks elsewhere, or that
    /// cannot be rung).
    pub bells: Vec<Option<Bell>>,
}

/// Finds this rank's node-mates (collective over `world`: every rank calls it at start-up).
pub(crate) fn discover(world: &SimpleCommunicator) -> NodeInfo {
    let node = world.split_shared(world.rank());
    let bell = my_bell();
    let mine = [
        world.rank(),
        bell.map_or(0, |b| b.pid),
        bell.map_or(0, |b| b.tid),
        i32::from(bell.is_some()),
    ];
    let mut all = vec![0i32; 4 * node.size() as usize];
    let mut raw = request_null();
    // SAFETY: both buffers outlive the request, which is waited for before they are read.
    unsafe {
        ffi::MPI_Iallgather(
            mine.as_ptr().cast(),
            4,
            ffi::RSMPI_INT32_T,
            all.as_mut_ptr().cast(),
            4,
            ffi::RSMPI_INT32_T,
            node.as_raw(),
            &mut raw,
        );
        Pending::new(raw, false).wait(&mut || {});
    }
    let mut bells = vec![None; world.size() as usize];
    let mut ranks = Vec::with_capacity(node.size() as usize);
    for m in all.chunks_exact(4) {
        ranks.push(m[0]);
        if m[3] == 1 {
            bells[m[0] as usize] = Some(Bell {
                pid: m[1],
                tid: m[2],
            });
        }
    }
    ranks.sort_unstable();
    NodeInfo {
        leader: ranks[0],
        ranks,
        bells,
    }
}
