//! The controller's bookkeeping: requests in flight, their replies, view communicators, and the
//! one place where replies are received (`pump`).
//!
//! The controller is single-threaded: replies are received whenever the driver calls into
//! mpiview (waiting on a result, pushing, scattering, ...). Every wait pumps, so replies to
//! earlier asynchronous requests keep arriving while a later collective waits.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::link::{Body, Delivery, Link};
use super::nodes::{EngineInfo, Node};
use crate::balance::Balancer;
use crate::comm::p2p::RawComm;
use crate::comm::poll::Backoff;
use crate::error::{Error, RemoteError, Result};
use crate::protocol::{CommId, Request, RequestId, SHUTDOWN_ID};
use crate::registry::{Failure, Registry};
use crate::targets::EngineId;

/// One engine's reply to a tracked request.
pub(crate) struct Slot {
    pub started: f64,
    pub completed: f64,
    pub received: f64,
    pub body: Body,
}

/// A direct request in flight or answered.
pub(crate) struct Tracked {
    pub targets: Rc<[EngineId]>,
    pub submitted: f64,
    pub slots: Vec<Option<Slot>>,
    /// Positions (into `targets`) in the order replies arrived.
    pub arrivals: Vec<usize>,
    /// Dropped by its owner: forget it once complete.
    pub orphaned: bool,
}

impl Tracked {
    pub(crate) fn is_complete(&self) -> bool {
        self.arrivals.len() == self.targets.len()
    }

    fn position(&self, engine: EngineId) -> Option<usize> {
        self.targets.iter().position(|&e| e == engine)
    }
}

#[derive(Default)]
struct State {
    next_id: RequestId,
    next_comm: CommId,
    requests: HashMap<RequestId, Tracked>,
    comms: HashMap<Vec<EngineId>, CommId>,
    byes: usize,
}

/// The controller's state behind every `Client`, view and result.
pub(crate) struct Core {
    pub engines: Vec<EngineInfo>,
    pub nodes: Vec<Node>,
    pub registry: Rc<Registry>,
    link: RefCell<Link>,
    state: RefCell<State>,
    /// An error met while pumping inside a wait that could not return it.
    deferred: RefCell<Option<Error>>,
    pumping: Cell<bool>,
    /// The load-balanced task stream.
    pub(crate) balancer: RefCell<Balancer>,
    /// A chunk finished since the last dispatch.
    pub(crate) dispatch_pending: Cell<bool>,
}

impl Core {
    pub(crate) fn new(
        engines: Vec<EngineInfo>,
        nodes: Vec<Node>,
        registry: Rc<Registry>,
        link: Link,
    ) -> Core {
        let n_engines = engines.len();
        Core {
            balancer: RefCell::new(Balancer::new(n_engines)),
            dispatch_pending: Cell::new(false),
            engines,
            nodes,
            registry,
            link: RefCell::new(link),
            state: RefCell::new(State::default()),
            deferred: RefCell::new(None),
            pumping: Cell::new(false),
        }
    }

    pub(crate) fn n_engines(&self) -> usize {
        self.engines.len()
    }

    pub(crate) fn is_local(&self) -> bool {
        matches!(*self.link.borrow(), Link::Local(_))
    }

    pub(crate) fn next_id(&self) -> RequestId {
        let mut s = self.state.borrow_mut();
        s.next_id += 1;
        s.next_id
    }

    /// Sends `request` to `engine`.
    pub(crate) fn send(&self, engine: EngineId, request: &Request) -> Result<()> {
        self.link.borrow_mut().send(&self.registry, engine, request)
    }

    /// Sends `request` (whose id is `id`) to every target and tracks the replies.
    pub(crate) fn submit(
        &self,
        targets: Rc<[EngineId]>,
        id: RequestId,
        request: &Request,
    ) -> Result<()> {
        self.track(&targets, id);
        let mut link = self.link.borrow_mut();
        for &engine in targets.iter() {
            link.send(&self.registry, engine, request)?;
        }
        Ok(())
    }

    fn track(&self, targets: &Rc<[EngineId]>, id: RequestId) {
        self.state.borrow_mut().requests.insert(
            id,
            Tracked {
                slots: (0..targets.len()).map(|_| None).collect(),
                arrivals: Vec::with_capacity(targets.len()),
                targets: targets.clone(),
                submitted: crate::clock::now(),
                orphaned: false,
            },
        );
    }

    /// Receives one reply if one is there and files it. `Ok(true)` if something arrived.
    pub(crate) fn pump(&self) -> Result<bool> {
        let delivery = self.link.borrow_mut().poll()?;
        let Some(delivery) = delivery else {
            if self.dispatch_pending.replace(false) {
                self.dispatch()?;
            }
            return Ok(false);
        };
        self.file(delivery);
        if self.dispatch_pending.replace(false) {
            self.dispatch()?;
        }
        Ok(true)
    }

    fn file(&self, d: Delivery) {
        let mut state = self.state.borrow_mut();
        if d.id == SHUTDOWN_ID {
            state.byes += 1;
            return;
        }
        let Some(t) = state.requests.get_mut(&d.id) else {
            drop(state);
            // A chunk of a map; anything else is a reply nobody waits for any more (its result
            // was dropped and forgotten), and is discarded.
            let _ = self.file_task(d);
            return;
        };
        if let Some(pos) = t.position(d.engine) {
            if t.slots[pos].is_none() {
                t.arrivals.push(pos);
            }
            t.slots[pos] = Some(Slot {
                started: d.started,
                completed: d.completed,
                received: crate::clock::now(),
                body: d.body,
            });
        }
        if t.orphaned && t.is_complete() {
            state.requests.remove(&d.id);
        }
    }

    /// Receives everything that has arrived; for use inside other waits. An error is kept for
    /// [`take_deferred`](Self::take_deferred).
    pub(crate) fn pump_available(&self) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            match self.pump() {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    self.deferred.borrow_mut().get_or_insert(e);
                    break;
                }
            }
        }
        self.pumping.set(false);
    }

    /// The first error met by [`pump_available`](Self::pump_available), if any.
    pub(crate) fn take_deferred(&self) -> Result<()> {
        match self.deferred.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Pumps until `done()` or the deadline; `Ok(false)` on timeout.
    pub(crate) fn wait_until(
        &self,
        mut done: impl FnMut(&Core) -> bool,
        deadline: Option<Instant>,
    ) -> Result<bool> {
        let mut backoff = Backoff::new();
        loop {
            self.take_deferred()?;
            if done(self) {
                return Ok(true);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            if self.pump()? {
                backoff.reset();
            } else {
                let sending = self.link.borrow().sends_in_flight();
                backoff.pause_for_messages(sending, deadline);
            }
        }
    }

    /// Runs `f` on tracked request `id`.
    pub(crate) fn with_tracked<R>(&self, id: RequestId, f: impl FnOnce(&Tracked) -> R) -> R {
        let state = self.state.borrow();
        f(state
            .requests
            .get(&id)
            .expect("a result's request is tracked until the result is dropped"))
    }

    pub(crate) fn is_complete(&self, id: RequestId) -> bool {
        self.with_tracked(id, Tracked::is_complete)
    }

    /// Waits for request `id` to complete.
    pub(crate) fn wait_for(&self, id: RequestId, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.wait_until(|core| core.is_complete(id), deadline)
    }

    /// Forgets request `id` (its owner was dropped); replies still on the way are discarded.
    pub(crate) fn release(&self, id: RequestId) {
        let mut state = self.state.borrow_mut();
        if let Some(t) = state.requests.get_mut(&id) {
            if t.is_complete() {
                state.requests.remove(&id);
            } else {
                t.orphaned = true;
            }
        }
    }

    /// Removes a completed request and returns it.
    pub(crate) fn take(&self, id: RequestId) -> Tracked {
        self.state
            .borrow_mut()
            .requests
            .remove(&id)
            .expect("tracked")
    }

    /// Submits, waits for every reply, and returns them in target order.
    pub(crate) fn round_trip(
        &self,
        targets: Rc<[EngineId]>,
        request: impl FnOnce(RequestId) -> Request,
    ) -> Result<Vec<Slot>> {
        let id = self.next_id();
        self.submit(targets, id, &request(id))?;
        self.wait_for(id, None)?;
        Ok(self
            .take(id)
            .slots
            .into_iter()
            .map(|s| s.expect("complete"))
            .collect())
    }

    /// The view communicator of `targets` (controller first, then the targets in order),
    /// created on first use and cached.
    pub(crate) fn view_comm(&self, targets: &Rc<[EngineId]>) -> Result<(CommId, RawComm)> {
        let key: Vec<EngineId> = targets.to_vec();
        let existing = self.state.borrow().comms.get(&key).copied();
        let comm = match existing {
            Some(c) => c,
            None => {
                let comm = {
                    let mut s = self.state.borrow_mut();
                    s.next_comm += 1;
                    s.next_comm
                };
                let mut members = vec![0i32];
                members.extend(targets.iter().map(|&e| e as i32 + 1));
                let acks = self.round_trip(targets.clone(), |id| Request::NewComm {
                    id,
                    comm,
                    members: members.clone(),
                })?;
                debug_assert!(acks.iter().all(|s| matches!(s.body, Body::Ack)));
                self.link
                    .borrow_mut()
                    .mpi()
                    .expect("view communicators exist only over MPI")
                    .create_view(comm, &members)?;
                self.state.borrow_mut().comms.insert(key, comm);
                comm
            }
        };
        Ok((
            comm,
            self.link
                .borrow_mut()
                .mpi()
                .expect("MPI link")
                .view_raw(comm),
        ))
    }

    /// Runs `f` with the in-process engine of a one-rank run; `None` over MPI.
    pub(crate) fn with_local<R>(
        &self,
        f: impl FnOnce(&mut crate::engine::state::EngineState) -> R,
    ) -> Option<R> {
        match &mut *self.link.borrow_mut() {
            Link::Local(l) => Some(f(&mut l.state)),
            Link::Mpi(_) => None,
        }
    }

    /// Tells every engine to stop with `status` and waits for them to say goodbye, at most
    /// `grace` (forever if `None`). `true` if every engine answered.
    pub(crate) fn shutdown(&self, status: u8, grace: Option<Duration>) -> Result<bool> {
        if self.is_local() {
            return Ok(true);
        }
        for engine in 0..self.n_engines() {
            self.send(engine, &Request::Shutdown { status })?;
        }
        let n = self.n_engines();
        let all = self.wait_until(
            |core| core.state.borrow().byes == n,
            grace.map(|g| Instant::now() + g),
        )?;
        if all {
            self.link.borrow_mut().flush();
        }
        Ok(all)
    }
}

/// Turns a failure reply into the error of `engine`.
pub(crate) fn remote_error(
    engine: EngineId,
    function: &str,
    failure: Failure,
    item: Option<u64>,
) -> RemoteError {
    RemoteError {
        engine,
        function: function.to_string(),
        kind: failure.kind,
        message: failure.message,
        item,
    }
}

/// Collects the failures of a round trip's replies (all of them, in target order).
pub(crate) fn failures(targets: &[EngineId], slots: &[Slot]) -> Result<()> {
    let errors: Vec<RemoteError> = targets
        .iter()
        .zip(slots)
        .filter_map(|(&engine, s)| match &s.body {
            Body::Failed { function, failure } => {
                Some(remote_error(engine, function, failure.clone(), None))
            }
            _ => None,
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.into())
    }
}
