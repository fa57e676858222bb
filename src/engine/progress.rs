//! Progress reports and printed pieces of a running call
//! ([`Context::progress`](crate::Context::progress),
//! [`Context::flush_output`](crate::Context::flush_output)), sent to the controller as small
//! replies that do not answer the request.

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

    /// Whether a report may leave now; if so, the next may leave [`EVERY`] from now.
    pub(crate) fn due(&mut self) -> bool {
        if self.last.elapsed() < EVERY {
            return false;
        }
        self.last = Instant::now();
        true
    }

    /// Sends `body` (a report or a printed piece) to the controller; whether it could.
    pub(crate) fn send(&mut self, body: ReplyBody) -> bool {
        let reply = Reply {
            id: self.id,
            started: 0.0,
            completed: 0.0,
            body,
            output: None,
        };
        // A piece that cannot be sent (over 2 GiB encoded) is not worth failing the call for;
        // it is not counted as sent, so the answer does not wait for it.
        let sent = self.outbox.send_message(ROOT, &reply).is_ok();
        self.outbox.progress_lazily();
        sent
    }
}

impl Report for ProgressReporter<'_> {
    fn progress(&mut self, done: u64, total: u64) {
        if self.due() {
            self.send(ReplyBody::Progress { done, total });
        }
    }

    fn flush_output(&mut self) {}
}
