//! Engines: ranks 1..N-1 serve the controller's requests until it says stop.
//!
//! [`state`] holds what a request does to an engine (shared with the in-process engine of a
//! one-rank run); [`server`] is the MPI event loop around it.

pub(crate) mod pool;
pub(crate) mod server;
pub(crate) mod state;

use crate::protocol::{Reply, ReplyBody, Request};
use crate::registry::Registry;
use state::EngineState;

/// Handles the requests that need no MPI data movement; `None` for the others.
pub(crate) fn handle_simple(
    state: &mut EngineState,
    registry: &Registry,
    request: &Request,
) -> Option<Reply> {
    let started = crate::clock::now();
    let (id, body) = match request {
        Request::Apply { id, func, args } => (*id, state.apply(registry, *func, args)),
        Request::Execute { id, task } => (*id, state.execute(registry, *task)),
        Request::Map { id, func, items } => (*id, state.map(registry, *func, items)),
        Request::Clear { id, names } => {
            state.clear(names.as_deref());
            (*id, ReplyBody::Ack)
        }
        _ => return None,
    };
    Some(Reply {
        id,
        started,
        completed: crate::clock::now(),
        body,
    })
}
