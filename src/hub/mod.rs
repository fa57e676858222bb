//! The hub: the controller's state behind every `Client`, view and result — requests in flight
//! and their replies, views and their channels, the task stream, and the one place where replies
//! are received ([`Hub::pump`]).
//!
//! The controller is single-threaded: replies are received whenever the driver calls into
//! mpiview (waiting on a result, pushing, scattering, ...). Every wait pumps, so replies to
//! earlier asynchronous requests keep arriving, and tasks keep being dispatched, while a later
//! transfer waits.
//!
//! - [`tracking`]: requests in flight and their answers;
//! - [`channels`]: how a request reaches its engines (directly or by broadcast), views and their
//!   reply gathers, receiving replies;
//! - [`transfers`]: push, pull, scatter and gather, over MPI or on the in-process engine;
//! - [`queued_transfers`] and `transfers_async`: the same without blocking the driver, their
//!   collectives started and tested whenever the hub pumps;
//! - [`tasks`]: driving the load-balanced [`Balancer`];
//! - [`link`]: the transport (MPI, or the in-process engine of a one-rank run).

pub(crate) mod channels;
mod gather_layout;
pub(crate) mod link;
pub(crate) mod queued_transfers;
pub(crate) mod tasks;
pub(crate) mod tracking;
pub(crate) mod transfers;
mod transfers_async;
mod views;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::balance::Balancer;
use crate::error::{Error, Result};
use crate::ids::{EngineId, IdMap, RequestId};
use crate::nodes::{EngineInfo, Node};
use crate::order::Sequencer;
use crate::protocol::Request;
use crate::registry::Registry;
use link::Link;
use tracking::Tracked;
use views::Views;

#[derive(Default)]
struct State {
    next_id: RequestId,
    requests: IdMap<RequestId, Tracked>,
    /// By engine: direct and broadcast replies still expected.
    awaiting: Vec<u32>,
    /// By engine: replies received (requests and tasks), ever.
    answered: Vec<u64>,
    /// Replies filed, ever (a change means something finished).
    filed: u64,
    byes: usize,
}

/// Whether the engines of a transfer have joined it (see [`Hub::gate`]).
pub(crate) struct Gate {
    /// By target: the answers after which the engine has reached the transfer.
    need: Vec<u64>,
    open: bool,
    /// Replies filed when last checked.
    seen: Option<u64>,
}

impl Gate {
    /// Whether every engine of `targets` (as given to [`Hub::gate`]) has reached the transfer.
    pub(crate) fn is_open(&mut self, hub: &Hub, targets: &[EngineId]) -> bool {
        if self.open {
            return true;
        }
        let state = hub.state.borrow();
        if self.seen == Some(state.filed) {
            return false;
        }
        self.seen = Some(state.filed);
        self.open = targets
            .iter()
            .zip(&self.need)
            .all(|(&e, &n)| state.answered[e] >= n);
        self.open
    }
}

/// The controller's state behind every `Client`, view and result.
pub(crate) struct Hub {
    pub engines: Vec<EngineInfo>,
    pub nodes: Vec<Node>,
    pub registry: Rc<Registry>,
    link: RefCell<Link>,
    state: RefCell<State>,
    views: RefCell<Views>,
    sequencer: RefCell<Sequencer>,
    /// An error met while pumping inside a wait that could not return it.
    deferred: RefCell<Option<Error>>,
    pumping: Cell<bool>,
    /// The load-balanced task stream.
    balancer: RefCell<Balancer>,
    /// A chunk finished since the last dispatch.
    dispatch_pending: Cell<bool>,
    /// While the replies of one message are filed: when it was received (one clock reading for
    /// a batch of chunks).
    received_at: Cell<Option<f64>>,
    /// World ranks on the controller's node, ascending (the ranks its wake trees reach).
    node_ranks: Vec<i32>,
    /// Reply gathers posted and not yet complete, over all views.
    gathers_in_flight: Cell<usize>,
    /// Views of at least this many engines are broadcast to (`MPIVIEW_BROADCAST_MIN`).
    broadcast_min: usize,
    /// Gathers given up after their first step (request, view): their engines wait for a
    /// decision, sent once all have answered.
    abandoned: RefCell<Vec<(RequestId, crate::ids::ViewId)>>,
    /// Non-blocking transfers, in the order they were asked for.
    queued: RefCell<Vec<queued_transfers::Queued>>,
    transfer_ids: Cell<u64>,
}

impl Hub {
    /// The hub over `link`. With MPI, the all-engines view's communicators are the link's from
    /// start-up; `node_ranks` are the world ranks on the controller's node.
    pub(crate) fn new(
        engines: Vec<EngineInfo>,
        nodes: Vec<Node>,
        registry: Rc<Registry>,
        link: Link,
        node_ranks: Vec<i32>,
    ) -> Hub {
        let n = engines.len();
        let settings = crate::settings::get();
        let mut sequencer = Sequencer::new(n);
        let all: Rc<[EngineId]> = (0..n).collect();
        // Who a broadcast to every engine rings: every engine on this node.
        let wake: Vec<i32> = node_ranks.iter().copied().filter(|&r| r != 0).collect();
        let views = Views::new(all.clone(), wake);
        if n >= settings.broadcast_min {
            sequencer.add_view(crate::ids::ALL_ENGINES, &all);
        }
        // The in-process engine of a one-rank run gets no messages: nothing to batch.
        let batch = match link {
            Link::Mpi(_) => settings.batch,
            Link::Local(_) => crate::balance::BatchRule::SINGLE,
        };
        Hub {
            balancer: RefCell::new(Balancer::new(n, settings.prefetch, batch)),
            dispatch_pending: Cell::new(false),
            received_at: Cell::new(None),
            engines,
            nodes,
            registry,
            link: RefCell::new(link),
            state: RefCell::new(State {
                awaiting: vec![0; n],
                answered: vec![0; n],
                ..State::default()
            }),
            views: RefCell::new(views),
            sequencer: RefCell::new(sequencer),
            deferred: RefCell::new(None),
            pumping: Cell::new(false),
            node_ranks,
            gathers_in_flight: Cell::new(0),
            broadcast_min: settings.broadcast_min,
            abandoned: RefCell::new(Vec::new()),
            queued: RefCell::new(Vec::new()),
            transfer_ids: Cell::new(0),
        }
    }

    /// When the reply being filed was received: the time of its message, or now.
    pub(crate) fn receipt_time(&self) -> f64 {
        self.received_at.get().unwrap_or_else(crate::clock::now)
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
        mut done: impl FnMut(&Hub) -> bool,
        deadline: Option<Instant>,
    ) -> Result<bool> {
        let mut backoff = crate::comm::poll::Backoff::new();
        // `done` can only change when something arrives: it is asked again after each arrival.
        let mut changed = true;
        loop {
            self.take_deferred()?;
            if changed && done(self) {
                return Ok(true);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            changed = self.pump()?;
            if changed {
                backoff.reset();
            } else {
                backoff.pause_for_messages(|| self.link.borrow_mut().sends_in_flight(), deadline);
            }
        }
    }

    /// A gate that opens once every engine of `targets` has answered everything sent to it so
    /// far, but for `allowance` replies each (the request now being waited for): then none of
    /// them is still computing, and a transfer with them moves as fast as both sides drive it.
    pub(crate) fn gate(&self, targets: &[EngineId], allowance: u32) -> Gate {
        let state = self.state.borrow();
        let balancer = self.balancer.borrow();
        let need = targets
            .iter()
            .map(|&e| {
                let pending = u64::from(state.awaiting[e].saturating_sub(allowance));
                state.answered[e] + pending + balancer.load(e) as u64
            })
            .collect();
        Gate {
            need,
            open: false,
            seen: None,
        }
    }

    /// Tells every engine to stop with `status` and waits for them to say goodbye, at most
    /// `grace` (forever if `None`). `true` if every engine answered.
    pub(crate) fn shutdown(&self, status: u8, grace: Option<Duration>) -> Result<bool> {
        if self.is_local() {
            return Ok(true);
        }
        let deadline = grace.map(|g| Instant::now() + g);
        // Transfers whose handles were dropped still finish first: their engines may be waiting
        // in a collective for the controller, or for a gather's decision.
        if self.transfers_in_flight() {
            self.wait_until(|hub| !hub.transfers_in_flight(), deadline)?;
        }
        self.link.borrow_mut().close_channels();
        for engine in 0..self.n_engines() {
            self.send_direct(engine, Request::Shutdown { status })?;
        }
        let n = self.n_engines();
        let all = self.wait_until(|hub| hub.state.borrow().byes == n, deadline)?;
        if all {
            self.link.borrow_mut().flush();
        }
        Ok(all)
    }
}
