//! Transfers that do not block the driver (`scatter_async`, `gather_async`, `push_async`): the
//! request goes to the engines at once, so everything sent to them later runs after it; the
//! controller's side of the collective is started and tested whenever the hub pumps, which it
//! does whenever the driver calls into mpiview (any wait, any submission).
//!
//! **Order.** Collectives on one communicator must be started in the same order on every rank.
//! The engines start a view's transfers in the order of their requests; the controller starts
//! them in the order they were asked for, per view: a transfer waits until every earlier one on
//! its view has started (a gather starts only once the engines have said what they hold) and the
//! view's abandoned gathers are settled. A blocking transfer on a view first waits until the
//! view's queued ones have started ([`Hub::start_queued`]).

use std::any::Any;
use std::time::{Duration, Instant};

use super::Hub;
use super::tracking::Answer;
use crate::comm::collective::Started;
use crate::comm::p2p::RawComm;
use crate::comm::poll::TransferWait;
use crate::error::{Error, Result};
use crate::ids::{RequestId, ViewId};

/// A queued transfer's id (the handle's key).
pub(crate) type TransferId = u64;

/// What a transfer gives back once done (a gathered array; `()` for the others).
pub(crate) type Outcome = Result<Box<dyn Any>>;

/// The controller's side of a transfer in flight: its requests, what they read or write, and
/// how those buffers become the outcome. Fields drop in order: the requests complete before the
/// buffers are freed.
pub(crate) struct Flight {
    started: Started,
    buffers: Box<dyn Any>,
    finish: Box<dyn FnOnce(Box<dyn Any>) -> Outcome>,
}

impl Flight {
    /// A flight of `started`, which reads or writes `buffers`.
    ///
    /// # Safety
    /// Every buffer the requests of `started` use must be owned by `buffers` (heap memory that
    /// does not move when `buffers` does).
    pub(crate) unsafe fn new(
        started: Started,
        buffers: Box<dyn Any>,
        finish: impl FnOnce(Box<dyn Any>) -> Outcome + 'static,
    ) -> Flight {
        Flight {
            started,
            buffers,
            finish: Box::new(finish),
        }
    }

    /// The outcome once every request has completed.
    fn finished(self) -> Outcome {
        let Flight {
            started,
            buffers,
            finish,
        } = self;
        drop(started);
        finish(buffers)
    }
}

/// Starts a transfer's collective on the view's data communicator.
pub(crate) type Start = Box<dyn FnOnce(RawComm) -> Flight>;

/// Decides, from the engines' answers to a first step, what the collective is (a gather that
/// cannot be done still starts the broadcast that tells the engines "no").
pub(crate) type Decide = Box<dyn FnOnce(&Hub, Vec<Answer>, RawComm) -> Flight>;

enum Step {
    /// Waiting for its turn on the view.
    Ready(Start),
    /// Waiting for the answers to `request`, then for its turn.
    Answers {
        request: RequestId,
        decide: Decide,
    },
    Flying(Flight),
    Done(Outcome),
    /// Between two steps (never seen outside `advance_transfers`).
    Moving,
}

impl Step {
    fn is_unstarted(&self) -> bool {
        matches!(self, Step::Ready(_) | Step::Answers { .. })
    }
}

pub(crate) struct Queued {
    id: TransferId,
    view: ViewId,
    step: Step,
    /// Its handle was dropped: forget it once done.
    orphaned: bool,
}

impl Hub {
    /// Queues a transfer on `view` that starts with `start` when its turn comes (at once if the
    /// view has nothing queued before it).
    pub(crate) fn queue_transfer(&self, view: ViewId, start: Start) -> Result<TransferId> {
        self.queue(view, Step::Ready(start))
    }

    /// Queues a transfer on `view` that waits for the answers to `request`, then `decide`s.
    pub(crate) fn queue_after_answers(
        &self,
        view: ViewId,
        request: RequestId,
        decide: Decide,
    ) -> Result<TransferId> {
        self.queue(view, Step::Answers { request, decide })
    }

    /// A transfer that is already done (a one-rank run's, or one that moves no array data).
    pub(crate) fn finished_transfer(&self, outcome: Outcome) -> TransferId {
        let id = self.next_transfer_id();
        self.queued.borrow_mut().push(Queued {
            id,
            view: crate::ids::ALL_ENGINES,
            step: Step::Done(outcome),
            orphaned: false,
        });
        id
    }

    fn next_transfer_id(&self) -> TransferId {
        let id = self.transfer_ids.get() + 1;
        self.transfer_ids.set(id);
        id
    }

    fn queue(&self, view: ViewId, step: Step) -> Result<TransferId> {
        let id = self.next_transfer_id();
        self.queued.borrow_mut().push(Queued {
            id,
            view,
            step,
            orphaned: false,
        });
        self.advance_transfers();
        if let Err(e) = self.take_deferred() {
            // No handle will take it: it completes and is forgotten.
            self.orphan_transfer(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Starts what may start and tests what flies; `true` if anything changed. From `pump`.
    pub(crate) fn advance_transfers(&self) -> bool {
        let mut queued = self.queued.borrow_mut();
        let mut changed = false;
        // Views with a transfer not yet started: later ones on them wait.
        let mut waiting: Vec<ViewId> = Vec::new();
        for q in queued.iter_mut() {
            if q.step.is_unstarted()
                && (waiting.contains(&q.view) || self.has_abandoned_gather(q.view))
            {
                waiting.push(q.view);
                continue;
            }
            match std::mem::replace(&mut q.step, Step::Moving) {
                Step::Ready(start) => {
                    q.step = Step::Flying(start(self.data_comm(q.view)));
                    changed = true;
                }
                Step::Answers { request, decide } if self.is_complete(request) => {
                    let answers = self.take_answers(request);
                    q.step = Step::Flying(decide(self, answers, self.data_comm(q.view)));
                    changed = true;
                }
                step @ Step::Answers { .. } => {
                    q.step = step;
                    waiting.push(q.view);
                }
                step => q.step = step,
            }
            if let Step::Flying(flight) = &mut q.step
                && flight.started.test()
            {
                let Step::Flying(flight) = std::mem::replace(&mut q.step, Step::Moving) else {
                    unreachable!("matched above")
                };
                q.step = Step::Done(flight.finished());
                changed = true;
            }
        }
        queued.retain(|q| !(q.orphaned && matches!(q.step, Step::Done(_))));
        changed
    }

    fn has_abandoned_gather(&self, view: ViewId) -> bool {
        self.abandoned.borrow().iter().any(|(_, v)| *v == view)
    }

    /// Whether `view` has a queued transfer that has not started.
    fn has_unstarted(&self, view: ViewId) -> bool {
        self.queued
            .borrow()
            .iter()
            .any(|q| q.view == view && q.step.is_unstarted())
    }

    /// Waits, until `deadline`, for every queued transfer of `view` to start: a blocking
    /// transfer on the view may start its collective then. `Error::Timeout` otherwise.
    pub(crate) fn start_queued(&self, view: ViewId, deadline: Option<Instant>) -> Result<()> {
        if self.queued.borrow().is_empty() {
            return Ok(());
        }
        if self.wait_until(|hub| !hub.has_unstarted(view), deadline)? {
            Ok(())
        } else {
            Err(Error::Timeout(deadline.map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            })))
        }
    }

    /// Whether transfer `id` is done (or unknown: taken already).
    pub(crate) fn transfer_done(&self, id: TransferId) -> bool {
        self.queued
            .borrow()
            .iter()
            .find(|q| q.id == id)
            .is_none_or(|q| matches!(q.step, Step::Done(_)))
    }

    /// Waits until transfer `id` is done, or `deadline`; `Ok(false)` on timeout. While its data
    /// moves, the wait is paced as a blocking transfer's is ([`TransferWait`]: it keeps testing
    /// for as long as the data should take), so that a controller whose MPI needs it to make
    /// progress (no single-copy path) keeps the data moving; before, it waits as for replies.
    pub(crate) fn wait_transfer(&self, id: TransferId, deadline: Option<Instant>) -> Result<bool> {
        let mut backoff = crate::comm::poll::Backoff::new();
        let mut moving: Option<TransferWait> = None;
        loop {
            self.take_deferred()?;
            let changed = self.pump()?;
            if self.transfer_done(id) {
                return Ok(true);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            if let Some(bytes) = self.bytes_in_flight(id) {
                moving
                    .get_or_insert_with(|| TransferWait::new(bytes))
                    .pause(true);
            } else if changed {
                backoff.reset();
            } else {
                backoff.pause_for_messages(|| self.link.borrow_mut().sends_in_flight(), deadline);
            }
        }
    }

    /// The bytes transfer `id` moves, while its data is moving.
    fn bytes_in_flight(&self, id: TransferId) -> Option<usize> {
        self.queued
            .borrow()
            .iter()
            .find(|q| q.id == id)
            .and_then(|q| match &q.step {
                Step::Flying(flight) => Some(flight.started.bytes()),
                _ => None,
            })
    }

    /// The outcome of a done transfer, removed from the queue.
    pub(crate) fn take_transfer(&self, id: TransferId) -> Outcome {
        let mut queued = self.queued.borrow_mut();
        let at = queued
            .iter()
            .position(|q| q.id == id)
            .ok_or_else(|| Error::Runtime(format!("transfer {id} is unknown (taken already?)")))?;
        match queued.remove(at).step {
            Step::Done(outcome) => outcome,
            _ => Err(Error::Runtime(format!("transfer {id} is not done"))),
        }
    }

    /// The handle of transfer `id` was dropped: it still completes; its outcome is discarded.
    pub(crate) fn orphan_transfer(&self, id: TransferId) {
        let mut queued = self.queued.borrow_mut();
        if let Some(at) = queued.iter().position(|q| q.id == id) {
            if matches!(queued[at].step, Step::Done(_)) {
                queued.remove(at);
            } else {
                queued[at].orphaned = true;
            }
        }
    }

    /// Whether any transfer is still to start or in flight.
    pub(crate) fn transfers_in_flight(&self) -> bool {
        self.queued
            .borrow()
            .iter()
            .any(|q| !matches!(q.step, Step::Done(_)))
    }
}
