//! How the controller reaches its engines: over MPI, or (in a one-rank run) by calling the
//! in-process engine directly. The hub sends and receives through a [`Link`] and never calls
//! MPI itself.

use std::collections::VecDeque;

use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;

use crate::comm::channel::{self, RootGather};
use crate::comm::collective::ROOT;
use crate::comm::doorbell;
use crate::comm::p2p::{Mailbox, Outbox, RawComm, any_source, recv_bulk};
use crate::comm::view_comms::ViewComms;
use crate::engine::handle_simple;
use crate::engine::state::{EngineState, namespace_failure};
use crate::error::Result;
use crate::ids::{EngineId, IdMap, RequestId, ViewId};
use crate::protocol::{Envelope, Frame, Output, Reply, Request, TAG_MSG, decode, unframe};
use crate::registry::Registry;
use crate::reply::Body;

/// A reply received point-to-point, and the size of its encoding.
pub(crate) struct Received {
    pub engine: EngineId,
    pub reply: Reply,
    pub bytes: usize,
}

/// The controller's side of the MPI transport.
pub(crate) struct MpiLink {
    // Field order is drop order: requests (mailbox, outbox) go before the communicators they use.
    mailbox: Mailbox,
    outbox: Outbox,
    views: IdMap<ViewId, ViewComms>,
    ctrl: SimpleCommunicator,
    /// Parent of view communicators (nothing else uses it).
    factory: SimpleCommunicator,
}

impl MpiLink {
    /// The link over the direct channel `ctrl`, with the all-engines view's communicators.
    pub(crate) fn new(
        ctrl: SimpleCommunicator,
        factory: SimpleCommunicator,
        all: ViewComms,
    ) -> MpiLink {
        let raw = RawComm(ctrl.as_raw());
        MpiLink {
            mailbox: Mailbox::post(raw, any_source(), TAG_MSG),
            outbox: Outbox::new(raw),
            views: IdMap::from_iter([(crate::ids::ALL_ENGINES, all)]),
            ctrl,
            factory,
        }
    }

    /// The direct channel's communicator.
    pub(crate) fn ctrl(&self) -> RawComm {
        RawComm(self.ctrl.as_raw())
    }

    /// Sends `envelope` to `engine` on its direct channel and rings it.
    pub(crate) fn send(&mut self, engine: EngineId, envelope: &Envelope) -> Result<()> {
        self.outbox.send_message(engine as i32 + 1, envelope)
    }

    /// Broadcasts an encoded envelope on the request communicator of `view`.
    pub(crate) fn broadcast(&mut self, view: ViewId, message: Vec<u8>) {
        let comm = self.views[&view]
            .request()
            .expect("broadcasts go to views of several engines");
        channel::broadcast(&mut self.outbox, comm, message);
    }

    /// Posts the reply gather of a broadcast request to the `engines` engines of `view`.
    pub(crate) fn post_gather(&self, view: ViewId, engines: usize, slot: usize) -> RootGather {
        let comm = self.views[&view]
            .reply()
            .expect("reply gathers belong to views of several engines");
        RootGather::post(comm, engines, slot)
    }

    /// Creates the communicators of `view` over world ranks `members` (collective over them;
    /// the engines are on their way into the same call).
    pub(crate) fn create_view(&mut self, view: ViewId, members: &[i32]) -> Result<()> {
        let comms = ViewComms::create(&self.factory, members, view)?;
        debug_assert_eq!(comms.rank(), ROOT);
        self.views.insert(view, comms);
        Ok(())
    }

    /// The data communicator of `view`.
    pub(crate) fn data(&self, view: ViewId) -> RawComm {
        self.views[&view].data()
    }

    /// The next reply that arrived point-to-point, if any.
    fn poll(&mut self) -> Result<Option<Received>> {
        self.outbox.progress_lazily();
        let ctrl = self.ctrl();
        let received = self.mailbox.poll_with(|source, bytes| -> Result<Received> {
            let (reply, size) = match unframe(bytes)? {
                Frame::Inline(body) => (decode(body)?, body.len()),
                Frame::Large(len) => (decode(&recv_bulk(ctrl, source, len, &mut || true))?, len),
            };
            Ok(Received {
                engine: (source - 1) as EngineId,
                reply,
                bytes: size,
            })
        });
        received.transpose()
    }

    /// Completes every engine's posted request broadcast (at shutdown).
    fn close_channels(&mut self) {
        for comms in self.views.values() {
            if let Some(comm) = comms.request() {
                channel::close(&mut self.outbox, comm);
            }
        }
    }
}

/// The in-process engine of a one-rank run: requests run when they are sent.
pub(crate) struct LocalLink {
    pub state: EngineState,
    replies: VecDeque<(RequestId, f64, f64, Body, Option<Output>)>,
}

impl LocalLink {
    pub(crate) fn new(pool_bytes: u64) -> LocalLink {
        LocalLink {
            state: EngineState {
                engines: Some(mpi::topology::SimpleCommunicator::self_comm()),
                ..EngineState::new(0, 1, pool_bytes)
            },
            replies: VecDeque::new(),
        }
    }

    /// Runs `request` now; its reply waits to be polled.
    fn run(&mut self, registry: &Registry, request: &Request) {
        if let Request::Maps { func, chunks } = request {
            // Not sent by a one-rank hub (it batches nothing), but served all the same.
            for chunk in chunks {
                let one = Request::Map {
                    id: chunk.id,
                    func: *func,
                    items: chunk.items.clone(),
                };
                self.run(registry, &one);
            }
            return;
        }
        let started = crate::clock::now();
        let (id, body, output) = match request {
            Request::Pull { id, names } => {
                let values = names
                    .iter()
                    .map(|(name, spec)| {
                        self.state
                            .namespace
                            .checked(name, spec)
                            .cloned()
                            .map_err(namespace_failure)
                    })
                    .collect();
                (*id, Body::Pulled(values), None)
            }
            other => match handle_simple(&mut self.state, registry, other, None) {
                Some((id, body, output)) => (id, Body::from_plain(body), output),
                // Control messages (abort, shutdown) mean nothing to the in-process engine, and
                // data moves are done by the hub directly on its state.
                None => return,
            },
        };
        self.replies
            .push_back((id, started, crate::clock::now(), body, output));
    }
}

/// A reply as the link delivers it.
pub(crate) enum Delivery {
    /// From an MPI engine, still to be completed (pulled arrays received).
    Mpi(Received),
    /// From the in-process engine: its id, start and end times, content and captured output.
    Local(RequestId, f64, f64, Body, Option<Output>),
}

/// The controller's transport.
pub(crate) enum Link {
    Mpi(MpiLink),
    Local(LocalLink),
}

impl Link {
    /// Sends `envelope` to `engine` directly (MPI), or runs its request (local).
    pub(crate) fn send(
        &mut self,
        registry: &Registry,
        engine: EngineId,
        envelope: &Envelope,
    ) -> Result<()> {
        match self {
            Link::Mpi(m) => m.send(engine, envelope),
            Link::Local(l) => {
                l.run(registry, &envelope.request);
                Ok(())
            }
        }
    }

    /// The next reply, if one is there.
    pub(crate) fn poll(&mut self) -> Result<Option<Delivery>> {
        match self {
            Link::Mpi(m) => Ok(m.poll()?.map(Delivery::Mpi)),
            Link::Local(l) => Ok(l
                .replies
                .pop_front()
                .map(|(id, s, c, b, o)| Delivery::Local(id, s, c, b, o))),
        }
    }

    /// Whether sent requests are still leaving (as of the last poll).
    pub(crate) fn sends_in_flight(&mut self) -> bool {
        match self {
            Link::Mpi(m) => m.outbox.in_flight(),
            Link::Local(_) => false,
        }
    }

    pub(crate) fn mpi(&mut self) -> Option<&mut MpiLink> {
        match self {
            Link::Mpi(m) => Some(m),
            Link::Local(_) => None,
        }
    }

    pub(crate) fn local(&mut self) -> Option<&mut LocalLink> {
        match self {
            Link::Local(l) => Some(l),
            Link::Mpi(_) => None,
        }
    }

    /// Closes every broadcast channel (MPI, at shutdown).
    pub(crate) fn close_channels(&mut self) {
        if let Link::Mpi(m) = self {
            m.close_channels();
        }
    }

    /// Waits until every send has left (at shutdown).
    pub(crate) fn flush(&mut self) {
        if let Link::Mpi(m) = self {
            m.outbox.flush();
        }
    }
}

/// Rings the engines at the top of a view's wake tree after a broadcast.
pub(crate) fn ring_all(ranks: &[i32]) {
    for &r in ranks {
        doorbell::ring(r);
    }
}
