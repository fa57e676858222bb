//! Ranks 1..N-1: greet the controller, then serve until told to stop.

use mpi::topology::{Communicator, SimpleCommunicator};

use super::startup::greet;
use crate::engine::server::serve;
use crate::engine::state::EngineState;
use crate::registry::Registry;

/// An engine rank of an MPI run; returns the exit status the controller sent.
pub(super) fn run_engine(
    world: &SimpleCommunicator,
    ctrl: SimpleCommunicator,
    factory: SimpleCommunicator,
    registry: &Registry,
) -> u8 {
    greet(&ctrl, registry);
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
