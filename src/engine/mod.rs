//! Engines: ranks 1..N-1 serve the controller's requests until it says stop.
//!
//! [`state`] holds what a request does to an engine (shared with the in-process engine of a
//! one-rank run); [`server`] is the MPI event loop around it.

pub(crate) mod batch;
pub(crate) mod capture;
pub(crate) mod pool;
pub(crate) mod progress;
pub(crate) mod server;
pub(crate) mod state;

use crate::ids::RequestId;
use crate::protocol::{Output, OutputMode, ReplyBody, Request};
use crate::registry::{Registry, Report};
use capture::Streaming;
use progress::ProgressReporter;
use state::EngineState;

/// Runs the requests that need no MPI data movement: the reply's id, body and (for calls that
/// asked) what the call printed; `None` for the others. `reporter` takes the progress reports
/// (and streamed output) of an `Apply` or `Execute`.
pub(crate) fn handle_simple(
    state: &mut EngineState,
    registry: &Registry,
    request: &Request,
    reporter: Option<&mut ProgressReporter<'_>>,
) -> Option<(RequestId, ReplyBody, Option<Output>)> {
    Some(match request {
        Request::Apply {
            id,
            func,
            args,
            capture,
        } => {
            let (body, output) = captured(state, *capture, reporter, |s, r| {
                s.apply(registry, *func, args, r)
            });
            (*id, body, output)
        }
        Request::Execute { id, task, capture } => {
            let (body, output) = captured(state, *capture, reporter, |s, r| {
                s.execute(registry, *task, r)
            });
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

/// Runs `call` with its progress going to `reporter` and its output as `mode` says: where the
/// engine's goes, captured, or captured and streamed at its progress points.
fn captured(
    state: &mut EngineState,
    mode: OutputMode,
    reporter: Option<&mut ProgressReporter<'_>>,
    call: impl FnOnce(&mut EngineState, Option<&mut dyn Report>) -> ReplyBody,
) -> (ReplyBody, Option<Output>) {
    if mode == OutputMode::Inherit {
        return (call(state, reporter.map(|r| r as &mut dyn Report)), None);
    }
    let mut capture = std::mem::take(&mut state.capture);
    let ((body, pieces), mut output) = capture.around(|files| {
        if mode == OutputMode::Stream {
            let mut streaming = Streaming {
                reporter,
                files,
                pieces: 0,
            };
            let body = call(state, Some(&mut streaming));
            (body, streaming.pieces)
        } else {
            (call(state, reporter.map(|r| r as &mut dyn Report)), 0)
        }
    });
    state.capture = capture;
    output.pieces = pieces;
    (body, Some(output))
}
