//! Engines: ranks 1..N-1 serve the controller's requests until it says stop.
//!
//! [`state`] holds what a request does to an engine (shared with the in-process engine of a
//! one-rank run); [`server`] is the MPI event loop around it.

pub(crate) mod pool;
pub(crate) mod server;
pub(crate) mod state;

use crate::ids::RequestId;
use crate::protocol::{ReplyBody, Request};
use crate::registry::Registry;
use state::EngineState;

/// Runs the requests that need no MPI data movement: the reply's id and body; `None` for the
/// others.
pub(crate) fn handle_simple(
    state: &mut EngineState,
    registry: &Registry,
    request: &Request,
) -> Option<(RequestId, ReplyBody)> {
    Some(match request {
        Request::Apply { id, func, args } => (*id, state.apply(registry, *func, args)),
        Request::Execute { id, task } => (*id, state.execute(registry, *task)),
        Request::Map { id, func, items } => (*id, state.map(registry, *func, items)),
        Request::Clear { id, names } => {
            state.clear(names.as_deref());
            (*id, ReplyBody::Ack)
        }
        _ => return None,
    })
}
