//! How the controller reaches its engines: over MPI, or (in a one-rank run) by calling the
//! in-process engine directly. Both deliver the same [`Delivery`] values to the client core.

use std::collections::{HashMap, VecDeque};

use mpi::raw::AsRaw;
use mpi::topology::{Communicator, Group, SimpleCommunicator};

use crate::comm::alloc::zeroed_vec;
use crate::comm::collective::ROOT;
use crate::comm::p2p::{Mailbox, Outbox, RawComm, any_source, recv_bulk, recv_slice};
use crate::engine::handle_simple;
use crate::engine::state::EngineState;
use crate::error::{Error, Result};
use crate::protocol::{
    CommId, Frame, Reply, ReplyBody, Request, RequestId, TAG_DATA, TAG_MSG, decode, unframe,
};
use crate::registry::{Failure, Mapped, Registry};
use crate::targets::EngineId;
use crate::value::{Element, Value, WireValue};
use crate::with_dtype;

/// A reply as the client core sees it: pulled arrays already received.
pub(crate) struct Delivery {
    pub engine: EngineId,
    pub id: RequestId,
    pub started: f64,
    pub completed: f64,
    pub body: Body,
}

/// A reply's content.
pub(crate) enum Body {
    Ack,
    Value(Vec<u8>),
    Mapped(Mapped),
    Pulled(Vec<Result<Value, Failure>>),
    Shape(Result<Vec<u64>, Failure>),
    Failed { function: String, failure: Failure },
}

/// The controller's side of the MPI transport.
pub(crate) struct MpiLink {
    // Field order is drop order: requests (mailbox, outbox) go before the communicators they use.
    mailbox: Mailbox,
    outbox: Outbox,
    views: HashMap<CommId, SimpleCommunicator>,
    ctrl: SimpleCommunicator,
    /// Parent of view communicators (nothing else uses it).
    factory: SimpleCommunicator,
}

impl MpiLink {
    pub(crate) fn new(ctrl: SimpleCommunicator, factory: SimpleCommunicator) -> MpiLink {
        let raw = RawComm(ctrl.as_raw());
        MpiLink {
            mailbox: Mailbox::post(raw, any_source(), TAG_MSG),
            outbox: Outbox::new(raw),
            views: HashMap::new(),
            ctrl,
            factory,
        }
    }

    fn raw(&self) -> RawComm {
        RawComm(self.ctrl.as_raw())
    }

    /// Creates view communicator `comm` over world ranks `members` (collective over them; the
    /// engines must already be on their way into the same call).
    pub(crate) fn create_view(&mut self, comm: CommId, members: &[i32]) -> Result<()> {
        let group = self.factory.group().include(members);
        let new = self
            .factory
            .split_by_subgroup_with_tag(&group, comm as i32)
            .ok_or_else(|| Error::Runtime("MPI_Comm_create_group gave no communicator".into()))?;
        debug_assert_eq!(new.rank(), ROOT);
        self.views.insert(comm, new);
        Ok(())
    }

    pub(crate) fn view_raw(&self, comm: CommId) -> RawComm {
        RawComm(self.views[&comm].as_raw())
    }

    fn poll(&mut self) -> Result<Option<Delivery>> {
        self.outbox.progress();
        let Some((source, bytes)) = self.mailbox.poll() else {
            return Ok(None);
        };
        let raw = self.raw();
        let reply: Reply = match unframe(&bytes)? {
            Frame::Inline(body) => decode(body)?,
            Frame::Large(len) => decode(&recv_bulk(raw, source, len, &mut || {}))?,
        };
        let body = match reply.body {
            ReplyBody::Pulled(items) => Body::Pulled(
                items
                    .into_iter()
                    .map(|item| item.map(|wire| receive_value(raw, source, wire)))
                    .collect(),
            ),
            other => Body::from_plain(other),
        };
        Ok(Some(Delivery {
            engine: (source - 1) as EngineId,
            id: reply.id,
            started: reply.started,
            completed: reply.completed,
            body,
        }))
    }
}

/// Completes a pulled value: inline values decode, array data is received on `TAG_DATA`.
fn receive_value(raw: RawComm, source: i32, wire: WireValue) -> Value {
    match wire {
        WireValue::Inline(v) => v.into_value(),
        WireValue::Array(h) => {
            let dims = h.dims().expect("an engine's array has a valid shape");
            let len = h
                .element_count()
                .expect("an engine's array has a valid length");
            with_dtype!(h.dtype, T => {
                let mut data = zeroed_vec::<T>(len);
                recv_slice(raw, source, TAG_DATA, &mut data, &mut || {});
                Value::Array(T::wrap(ndarray::ArrayD::from_shape_vec(dims, data).expect("length matches shape")))
            })
        }
    }
}

impl Body {
    fn from_plain(body: ReplyBody) -> Body {
        match body {
            ReplyBody::Ack => Body::Ack,
            ReplyBody::Value(v) => Body::Value(v),
            ReplyBody::Mapped(m) => Body::Mapped(m),
            ReplyBody::Shape(s) => Body::Shape(s),
            ReplyBody::Failed { function, failure } => Body::Failed { function, failure },
            ReplyBody::Pulled(_) => unreachable!("pulled values need their data received"),
        }
    }
}

/// The in-process engine of a one-rank run: requests run when they are sent.
pub(crate) struct LocalLink {
    pub state: EngineState,
    replies: VecDeque<Delivery>,
}

impl LocalLink {
    pub(crate) fn new() -> LocalLink {
        LocalLink {
            state: EngineState::new(0, 1),
            replies: VecDeque::new(),
        }
    }

    fn send(&mut self, registry: &Registry, request: &Request) {
        let started = crate::clock::now();
        let (id, body) = match request {
            Request::Pull { id, names } => {
                let values = names
                    .iter()
                    .map(|(name, spec)| {
                        self.state
                            .namespace
                            .checked(name, spec)
                            .cloned()
                            .map_err(crate::engine::state::namespace_failure)
                    })
                    .collect();
                (*id, Body::Pulled(values))
            }
            Request::Abort { .. } | Request::Shutdown { .. } => return,
            other => {
                let reply = handle_simple(&mut self.state, registry, other)
                    .expect("the local link handles data movement itself");
                self.replies.push_back(Delivery {
                    engine: 0,
                    id: reply.id,
                    started: reply.started,
                    completed: reply.completed,
                    body: Body::from_plain(reply.body),
                });
                return;
            }
        };
        self.replies.push_back(Delivery {
            engine: 0,
            id,
            started,
            completed: crate::clock::now(),
            body,
        });
    }
}

/// The controller's transport.
pub(crate) enum Link {
    Mpi(MpiLink),
    Local(LocalLink),
}

impl Link {
    /// Sends `request` to `engine` (MPI), or runs it (local).
    pub(crate) fn send(
        &mut self,
        registry: &Registry,
        engine: EngineId,
        request: &Request,
    ) -> Result<()> {
        match self {
            Link::Mpi(m) => m.outbox.send_message(engine as i32 + 1, request),
            Link::Local(l) => {
                l.send(registry, request);
                Ok(())
            }
        }
    }

    /// The next reply, if one is there.
    pub(crate) fn poll(&mut self) -> Result<Option<Delivery>> {
        match self {
            Link::Mpi(m) => m.poll(),
            Link::Local(l) => Ok(l.replies.pop_front()),
        }
    }

    /// Whether sent requests are still leaving (as of the last poll).
    pub(crate) fn sends_in_flight(&self) -> bool {
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

    /// Waits until every send has left (at shutdown).
    pub(crate) fn flush(&mut self) {
        if let Link::Mpi(m) = self {
            m.outbox.flush(&mut || {});
        }
    }
}
