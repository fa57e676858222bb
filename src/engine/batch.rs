//! The replies of a [`Request::Maps`](crate::protocol::Request::Maps): several load-balanced
//! chunks that came in one message, whose replies go back together.
//!
//! The controller puts several chunks in one message only when it has measured them short
//! (see [`balance`](crate::balance)): their replies wait on the engine and leave in one message
//! when the batch's last chunk is done, or earlier, when the replies waiting have taken
//! [`FLUSH_AFTER`] of engine time since the last ones left or hold [`FLUSH_BYTES`] of results.
//! A reply message stays one inline frame in the common case.
//!
//! The engine runs one call at a time and checks only between chunks: a chunk that runs far
//! longer than its job's chunks were measured holds back the replies of the chunks of its
//! message that finished before it (at most one message's worth, up to 64 chunks, a few hundred
//! µs of work) until it ends, and they cannot be aborted. Where items of one map can wait on
//! each other through the driver, or vary from microseconds to seconds, `MPIVIEW_BATCH_MAX=1`
//! sends every chunk alone.

use crate::protocol::{INLINE_MAX, Reply, ReplyBody};

/// Engine time after which the replies waiting leave, whether or not the batch is done.
pub(crate) const FLUSH_AFTER: f64 = 500e-6;

/// Result bytes after which the replies waiting leave.
pub(crate) const FLUSH_BYTES: usize = INLINE_MAX / 2;

/// Replies waiting to leave together.
pub(crate) struct ReplyBatch {
    replies: Vec<Reply>,
    bytes: usize,
    /// When the replies waiting began to collect (seconds since the epoch).
    since: f64,
}

impl ReplyBatch {
    /// An empty batch for up to `chunks` replies, collecting from `now`.
    pub(crate) fn new(now: f64, chunks: usize) -> ReplyBatch {
        ReplyBatch {
            replies: Vec::with_capacity(chunks),
            bytes: 0,
            since: now,
        }
    }

    /// Adds a chunk's reply; `true` if the replies waiting should leave now.
    pub(crate) fn push(&mut self, reply: Reply) -> bool {
        self.bytes += body_bytes(&reply.body);
        let due = reply.completed - self.since >= FLUSH_AFTER || self.bytes >= FLUSH_BYTES;
        self.replies.push(reply);
        due
    }

    /// The message for the replies waiting (one reply as itself, several as one
    /// [`ReplyBody::Batch`]), if any; collecting starts again at `now`.
    pub(crate) fn take(&mut self, now: f64) -> Option<Reply> {
        self.since = now;
        self.bytes = 0;
        match self.replies.len() {
            0 => None,
            1 => self.replies.pop(),
            _ => {
                let replies = std::mem::take(&mut self.replies);
                let (id, started) = (replies[0].id, replies[0].started);
                let completed = replies[replies.len() - 1].completed;
                Some(Reply {
                    id,
                    started,
                    completed,
                    body: ReplyBody::Batch(replies),
                    output: None,
                })
            }
        }
    }
}

/// Roughly how many bytes a chunk's reply adds to a message.
fn body_bytes(body: &ReplyBody) -> usize {
    const FRAMING: usize = 24;
    FRAMING
        + match body {
            ReplyBody::Mapped(m) => {
                m.values.len()
                    + m.failures
                        .iter()
                        .map(|(_, f)| 8 + f.message.len())
                        .sum::<usize>()
            }
            ReplyBody::Failed { function, failure } => function.len() + failure.message.len(),
            _ => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Mapped;

    fn reply(id: u64, completed: f64, value_bytes: usize) -> Reply {
        Reply {
            id,
            started: completed - 1e-6,
            completed,
            body: ReplyBody::Mapped(Mapped {
                values: vec![0; value_bytes],
                failures: Vec::new(),
            }),
            output: None,
        }
    }

    #[test]
    fn replies_leave_together_when_asked() {
        let mut b = ReplyBatch::new(10.0, 3);
        assert!(b.take(10.0).is_none(), "nothing waits");
        for id in 1..=3 {
            assert!(
                !b.push(reply(id, 10.0 + id as f64 * 1e-6, 8)),
                "short and small"
            );
        }
        let out = b.take(10.1).expect("three replies");
        assert_eq!((out.id, out.completed), (1, 10.0 + 3e-6));
        match out.body {
            ReplyBody::Batch(inner) => {
                assert_eq!(inner.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3])
            }
            other => panic!("{other:?}"),
        }
        assert!(b.take(10.2).is_none(), "taken");
        // A single reply goes as itself.
        b.push(reply(4, 10.2 + 1e-6, 8));
        let out = b.take(10.3).expect("one reply");
        assert!(matches!((out.id, out.body), (4, ReplyBody::Mapped(_))));
    }

    #[test]
    fn long_chunks_and_large_results_do_not_wait() {
        let f = FLUSH_AFTER;
        let mut b = ReplyBatch::new(0.0, 4);
        assert!(!b.push(reply(1, f / 2.0, 8)));
        assert!(b.push(reply(2, f, 8)), "due by time");
        b.take(f);
        assert!(!b.push(reply(3, f * 1.5, 8)), "the clock restarted");
        b.take(f * 1.5);
        assert!(!b.push(reply(4, f * 1.5, FLUSH_BYTES / 2)));
        assert!(b.push(reply(5, f * 1.5, FLUSH_BYTES / 2)), "due by size");
    }
}
