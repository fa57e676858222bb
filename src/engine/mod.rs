//! Engines: ranks 1..N-1 serve the controller's requests until it says stop.
//!
//! [`state`] holds what a request does to an engine (shared with the in-process engine of a
//! one-rank run); [`server`] is the MPI event loop around it.

pub(crate) mod capture;
pub(crate) mod pool;
mod progress;
pub(crate) mod server;
pub(crate) mod state;

use crate::ids::RequestId;
use crate::protocol::{Output, ReplyBody, Request};
use crate::registry::{Registry, Report};
use state::EngineState;

/// Runs the requests that need no MPI data movement: the reply's id, body and (for calls that
/// asked) what the call printed; `None` for the others. `reporter` takes the progress reports
/// of an `Apply` or `Execute`.
pub(crate) fn handle_simple(
    state: &mut EngineState,
    registry: &Registry,
    request: &Request,
    reporter: Option<&mut dyn Report>,
) -> Option<(RequestId, ReplyBody, Option<Output>)> {
    Some(match request {
        Request::Apply {
            id,
            func,
            args,
            capture,
        } => {
            let (body, output) = captured(state, *capture, |s| {
                s.apply(registry, *func, args, reporter)
            });
            (*id, body, output)
        }
        Request::Execute { id, task, capture } => {
            let (body, output) =
                captured(state, *capture, |s| s.execute(registry, *task, reporter));
            (*id, body, output)
        }
        Request::Map { id, func, items } => (*id, state.map(registry, *func, items), None),
        Request::Clear { id, names } => {
            state.clear(names.as_deref());
            (*id, ReplyBody::Ack, None)
        }
        _ => return None,
    })
}

/// Runs `call`, with its output captured if `capture`.
fn captured(
    state: &mut EngineState,
    capture: bool,
    call: impl FnOnce(&mut EngineState) -> ReplyBody,
) -> (ReplyBody, Option<Output>) {
    if !capture {
        return (call(state), None);
    }
    let mut capture = std::mem::take(&mut state.capture);
    let (body, output) = capture.around(|| call(state));
    state.capture = capture;
    (body, Some(output))
}
