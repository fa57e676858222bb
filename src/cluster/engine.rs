//! Ranks 1..N-1: greet the controller, then serve until told to stop.

use mpi::topology::{Communicator, Group, SimpleCommunicator};

use super::startup::{Comms, greet};
use crate::engine::server::{Setup, serve};
use crate::engine::state::EngineState;
use crate::registry::Registry;

/// An engine rank of an MPI run; returns the exit status the controller sent.
pub(super) fn run_engine(world: &SimpleCommunicator, comms: Comms, registry: &Registry) -> u8 {
    let shared = match greet(&comms, registry) {
        Ok(shared) => shared,
        Err(status) => return status,
    };
    let id = world.rank() as usize - 1;
    let mut state = EngineState::new(id, world.size() as usize - 1, shared.buffer_pool_bytes);
    let Comms {
        ctrl,
        factory,
        all,
        engines_parent,
        ..
    } = comms;
    // Every engine and only the engines: the controller goes on with its start-up meanwhile.
    // The group comes from the parent itself: MPICH 4.0.2 crashes in MPI_Comm_create_group
    // given an equal group made from MPI_COMM_WORLD.
    let engines = engines_parent.group().exclude(&[super::ROOT]);
    match engines_parent.split_by_subgroup_with_tag(&engines, 0) {
        Some(comm) => state.engines = Some(comm),
        None => super::abort_saying(
            world,
            1,
            &format!("error: engine {id}: MPI made no engines' communicator; aborting the job"),
        ),
    }
    let setup = Setup {
        ctrl: &ctrl,
        factory: &factory,
        all,
    };
    match serve(setup, registry, state) {
        Ok(status) => status,
        Err(e) => super::abort_saying(
            world,
            1,
            &format!("error: engine {id}: {e}; aborting the job"),
        ),
    }
}
