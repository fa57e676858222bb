//! Progress reports of a running call ([`Context::progress`](crate::Context::progress)), sent to
//! the controller as small replies that do not answer the request.

use std::time::{Duration, Instant};

use crate::comm::collective::ROOT;
use crate::comm::p2p::Outbox;
use crate::ids::RequestId;
use crate::protocol::{Reply, ReplyBody};
use crate::registry::Report;

/// The shortest time between two reports of one call (ten a second at most).
const EVERY: Duration = Duration::from_millis(100);

/// Sends the progress of request `id` through the engine's outbox, at most every [`EVERY`].
pub(crate) struct ProgressReporter<'a> {
    outbox: &'a mut Outbox,
    id: RequestId,
    last: Instant,
}

impl<'a> ProgressReporter<'a> {
    /// A reporter for request `id`, whose call starts now (a call shorter than [`EVERY`]
    /// reports nothing).
    pub(crate) fn new(outbox: &'a mut Outbox, id: RequestId) -> Self {
        ProgressReporter {
            outbox,
            id,
            last: Instant::now(),
        }
    }
}

impl Report for ProgressReporter<'_> {
    fn report(&mut self, done: u64, total: u64) {
        if self.last.elapsed() < EVERY {
            return;
        }
        self.last = Instant::now();
        let reply = Reply {
            id: self.id,
            started: 0.0,
            completed: 0.0,
            body: ReplyBody::Progress { done, total },
            output: None,
        };
        // A report that cannot be encoded (it always can: two integers) is not worth failing
        // the call for.
        let _ = self.outbox.send_message(ROOT, &reply);
        self.outbox.progress_lazily();
    }
}
