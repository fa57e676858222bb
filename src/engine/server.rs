//! The MPI event loop of an engine rank.
//!
//! Requests arrive on the engine's direct channel (point-to-point from the controller) and on
//! the broadcast channel of every view of several engines it belongs to. Every arrived message
//! is drained into the [`Acceptor`] before the next request runs, so that an `Abort` can mark
//! load-balanced tasks that are queued but not started; the acceptor releases requests in the
//! order the driver issued them ([`order`](crate::order)). Replies to direct requests go back
//! point-to-point; replies to broadcast requests join the view's reply gather. Replies and
//! gathers leave through an [`Outbox`] and never block the loop; the data of a push, scatter,
//! gather or pull moves with the view's data communicator, keeping MPI's progress going while
//! it does ([`TransferWait`](crate::comm::poll::TransferWait)).

use mpi::topology::SimpleCommunicator;

use super::batch::ReplyBatch;
use super::handle_simple;
use super::progress::ProgressReporter;
use super::state::{EngineState, failed};
use crate::clock;
use crate::comm::channel::{Heard, Listener, join_gather};
use crate::comm::collective::{ROOT, bcast_recv, gatherv_send, scatterv_recv};
use crate::comm::doorbell;
use crate::comm::p2p::{Mailbox, Outbox, RawComm, recv_bulk, send_slice};
use crate::comm::poll::Backoff;
use crate::comm::view_comms::ViewComms;
use crate::error::{RemoteErrorKind, Result};
use crate::ids::{IdMap, IdSet, RequestId, ViewId};
use crate::order::{Acceptor, Channel};
use crate::partition::block_len;
use crate::protocol::{
    Envelope, Frame, MapChunk, Output, Reply, ReplyBody, Request, SHUTDOWN_ID, Slot, TAG_DATA,
    TAG_MSG, decode, unframe,
};
use crate::registry::{Failure, Registry};
use crate::value::{ArrayValue, Element, ElementsVisitor, Value, WireValue};
use crate::with_dtype;

/// What an engine serves with: its communicators and where it stands.
pub(crate) struct Setup<'a> {
    /// The direct channel (a duplicate of the world).
    pub ctrl: &'a SimpleCommunicator,
    /// The parent of view communicators.
    pub factory: &'a SimpleCommunicator,
    /// The communicators of the all-engines view.
    pub all: ViewComms,
}

/// Serves requests until a `Shutdown`; returns its exit status.
pub(crate) fn serve(setup: Setup<'_>, registry: &Registry, state: EngineState) -> Result<u8> {
    let raw = RawComm(mpi::raw::AsRaw::as_raw(setup.ctrl));
    let me = state.id;
    let mut server = Server {
        factory: setup.factory,
        raw,
        registry,
        state,
        views: IdMap::default(),
        mailbox: Mailbox::post(raw, ROOT, TAG_MSG),
        outbox: Outbox::new(raw),
        acceptor: Acceptor::new(me),
        aborted: IdSet::default(),
        created: IdSet::default(),
        status: None,
        listening: 0,
    };
    server.add_view(crate::ids::ALL_ENGINES, setup.all);
    server.run()
}

/// A request as it waits in the acceptor: where it came from and where its reply goes.
struct Incoming {
    request: Request,
    /// The view whose broadcast carried it (`None`: the direct channel).
    view: Option<ViewId>,
    /// Reply slot size (0: reply directly).
    slot: u32,
}

/// A view this engine belongs to.
struct View {
    comms: ViewComms,
    listener: Option<Listener>,
}

struct Server<'a> {
    factory: &'a SimpleCommunicator,
    raw: RawComm,
    registry: &'a Registry,
    state: EngineState,
    views: IdMap<ViewId, View>,
    mailbox: Mailbox,
    outbox: Outbox,
    acceptor: Acceptor<Incoming>,
    /// Tasks aborted before they ran.
    aborted: IdSet<RequestId>,
    /// Views whose second creation phase came.
    created: IdSet<ViewId>,
    /// Set by `Shutdown`: the loop ends once every view's channel is closed.
    status: Option<u8>,
    /// Views with a posted listener.
    listening: usize,
}

impl Server<'_> {
    fn run(&mut self) -> Result<u8> {
        let mut backoff = Backoff::new();
        loop {
            self.drain()?;
            self.outbox.progress_lazily();
            if let Some(status) = self.status
                && self.listening == 0
            {
                self.outbox.flush();
                return Ok(status);
            }
            let Some(incoming) = self.acceptor.next() else {
                backoff.pause_for_messages(|| self.outbox.in_flight(), None);
                continue;
            };
            self.handle(incoming)?;
            backoff.reset();
        }
    }

    /// Moves every arrived message into the acceptor; acts on out-of-band ones at once.
    fn drain(&mut self) -> Result<()> {
        let raw = self.raw;
        while let Some(envelope) = self.mailbox.poll_with(|_, bytes| -> Result<Envelope> {
            match unframe(bytes)? {
                Frame::Inline(body) => decode(body),
                Frame::Large(len) => decode(&recv_bulk(raw, ROOT, len, &mut || true)),
            }
        }) {
            self.arrive(Channel::Direct, envelope?);
        }
        if self.listening == 0 {
            return Ok(());
        }
        let mut heard = Vec::new();
        for (&id, view) in self.views.iter_mut() {
            let Some(listener) = &mut view.listener else {
                continue;
            };
            while let Some(h) = listener.poll()? {
                match h {
                    Heard::Message(bytes) => heard.push((id, bytes)),
                    Heard::Closed => {
                        view.listener = None;
                        self.listening -= 1;
                        break;
                    }
                }
            }
        }
        for (view, bytes) in heard {
            let envelope: Envelope = decode(&bytes)?;
            self.arrive(Channel::View(view), envelope);
        }
        Ok(())
    }

    fn arrive(&mut self, channel: Channel, envelope: Envelope) {
        let Envelope {
            fences,
            slot,
            request,
        } = envelope;
        match request {
            Request::Abort { ids } => self.aborted.extend(ids),
            Request::CreateView { view } => {
                self.created.insert(view);
            }
            request => {
                let view = match channel {
                    Channel::Direct => None,
                    Channel::View(v) => Some(v),
                };
                self.acceptor.arrive(
                    channel,
                    fences,
                    Incoming {
                        request,
                        view,
                        slot,
                    },
                );
            }
        }
    }

    /// Sends `body` as the reply to `incoming`: directly, or into its view's reply gather.
    fn answer(&mut self, incoming: &Incoming, id: RequestId, started: f64, body: ReplyBody) {
        self.answer_with(incoming, id, started, body, None);
    }

    /// [`answer`](Self::answer), with what the call printed.
    fn answer_with(
        &mut self,
        incoming: &Incoming,
        id: RequestId,
        started: f64,
        body: ReplyBody,
        output: Option<Output>,
    ) {
        let reply = Reply {
            id,
            started,
            completed: clock::now(),
            body,
            output,
        };
        let result = self.send_reply(incoming, &reply);
        if let Err(e) = result {
            // A reply that cannot be encoded is the engine's bug, not the request's: say so.
            let body = failed("reply", Failure::bad_payload(e));
            let _ = self.send_reply(incoming, &Reply { body, ..reply });
        }
    }

    fn send_reply(&mut self, incoming: &Incoming, reply: &Reply) -> Result<()> {
        let Some(view) = incoming.view.filter(|_| incoming.slot > 0) else {
            return self.outbox.send_message(ROOT, reply);
        };
        let size = incoming.slot as usize;
        let slot = match Slot::encode(reply, size)? {
            Some(slot) => slot,
            None => {
                self.outbox.send_message(ROOT, reply)?;
                Slot::direct(size)
            }
        };
        let comm = self.views[&view]
            .comms
            .reply()
            .expect("broadcast views have a reply communicator");
        join_gather(&mut self.outbox, comm, slot);
        doorbell::ring(ROOT);
        Ok(())
    }

    /// The data communicator for a request: its view's, or (direct requests) the one named.
    fn data(&self, view: ViewId) -> RawComm {
        self.views
            .get(&view)
            .expect("the controller creates a view before using it")
            .comms
            .data()
    }

    fn handle(&mut self, incoming: Incoming) -> Result<()> {
        // Calls of registered code can be aborted until they start.
        let abortable = match &incoming.request {
            Request::Map { id, func, .. } | Request::Apply { id, func, .. } => Some((*id, *func)),
            Request::Execute { id, task, .. } => Some((*id, *task)),
            _ => None,
        };
        if let Some((id, code)) = abortable
            && self.aborted.remove(&id)
        {
            let body = self.aborted_body(code);
            self.answer(&incoming, id, clock::now(), body);
            return Ok(());
        }
        let started = clock::now();
        let simple = {
            // Only a direct call reports progress (a map's progress is its items): a task stream
            // pays no clock read per chunk.
            let reports = match &incoming.request {
                Request::Apply { id, .. } | Request::Execute { id, .. } => Some(*id),
                _ => None,
            };
            let mut reporter = reports.map(|id| ProgressReporter::new(&mut self.outbox, id));
            handle_simple(
                &mut self.state,
                self.registry,
                &incoming.request,
                reporter.as_mut(),
            )
        };
        if let Some((id, body, output)) = simple {
            self.answer_with(&incoming, id, started, body, output);
            return Ok(());
        }
        match &incoming.request {
            Request::Push { view, values } => {
                for (name, wire) in values {
                    let value = match wire {
                        WireValue::Inline(v) => v.clone().into_value(),
                        WireValue::Array(header) => {
                            let raw = self.data(view.expect("arrays come with a view"));
                            let dims = header.dims().expect("header checked by the controller");
                            let len = header
                                .element_count()
                                .expect("header checked by the controller");
                            with_dtype!(header.dtype, T => {
                                let mut data = self.state.receive_buffer::<T>(name, len);
                                bcast_recv(raw, &mut data);
                                let a = ndarray::ArrayD::from_shape_vec(dims, data).expect("length matches shape");
                                Value::Array(<T as crate::value::Element>::wrap(a))
                            })
                        }
                    };
                    self.state.store(name.clone(), value);
                }
            }
            Request::Pull { id, names } => {
                let pulled = self.state.pull(names);
                self.answer(&incoming, *id, started, ReplyBody::Pulled(pulled));
                // The arrays' data follows: on the view's data communicator for a broadcast
                // pull, on the direct channel's otherwise.
                let raw = incoming.view.map_or(self.raw, |v| self.data(v));
                let arrays: Vec<&ArrayValue> = self.state.pulled_arrays(names).collect();
                for a in arrays {
                    send_array(raw, a);
                }
            }
            Request::Scatter {
                name,
                view,
                dtype,
                item_shape,
                rows,
                flatten,
            } => {
                let comms = &self.views[view].comms;
                let (me, members) = ((comms.rank() - 1) as usize, (comms.size() - 1) as usize);
                let raw = comms.data();
                let item_shape: Vec<usize> = item_shape.iter().map(|&d| d as usize).collect();
                let item_len: usize = item_shape.iter().product();
                let rows = *rows as usize;
                let my_rows = block_len(rows, members, me);
                with_dtype!(*dtype, T => {
                    let mut data = self.state.receive_buffer::<T>(name, my_rows * item_len);
                    scatterv_recv(raw, &mut data, rows * item_len);
                    self.state.store_partition(name.clone(), data, my_rows, &item_shape, *flatten);
                });
            }
            Request::Gather {
                id,
                name,
                view,
                dtype,
            } => {
                let shape = self.state.gather_shape(name, *dtype);
                self.answer(&incoming, *id, started, ReplyBody::Shape(shape));
                let raw = self.data(*view);
                let mut decision = [0u64; 2];
                bcast_recv(raw, &mut decision);
                if decision[0] == 1 {
                    with_dtype!(*dtype, T => {
                        let data = self.state.gather_data::<T>(name);
                        gatherv_send(raw, &data, decision[1] as usize);
                    });
                }
            }
            Request::NewView { id, view, members } => {
                self.answer(&incoming, *id, started, ReplyBody::Ack);
                self.create_view(*view, members)?;
            }
            Request::Shutdown { status } => {
                self.answer(&incoming, SHUTDOWN_ID, started, ReplyBody::Ack);
                self.status = Some(*status);
            }
            Request::Maps { func, chunks } => self.run_maps(*func, chunks, started)?,
            Request::Abort { .. }
            | Request::CreateView { .. }
            | Request::Apply { .. }
            | Request::Execute { .. }
            | Request::Map { .. }
            | Request::Clear { .. } => unreachable!("handled above"),
        }
        Ok(())
    }

    /// The answer to a call aborted before it started.
    fn aborted_body(&self, code: u32) -> ReplyBody {
        let failure = Failure {
            kind: RemoteErrorKind::Aborted,
            message: "aborted before it started".into(),
        };
        failed(self.registry.name(code), failure)
    }

    /// Runs the chunks of a `Maps` in order (each can be aborted until it starts); their replies
    /// leave together, or in several messages as [`ReplyBatch`] says.
    fn run_maps(&mut self, func: u32, chunks: &[MapChunk], mut started: f64) -> Result<()> {
        let mut batch = ReplyBatch::new(started, chunks.len());
        for chunk in chunks {
            let body = if self.aborted.remove(&chunk.id) {
                self.aborted_body(func)
            } else {
                self.state.map(self.registry, func, &chunk.items)
            };
            // One clock read per chunk: a chunk starts when the one before it ended.
            let completed = clock::now();
            let due = batch.push(Reply {
                id: chunk.id,
                started,
                completed,
                body,
                output: None,
            });
            started = completed;
            if due {
                self.send_replies(batch.take(completed));
                // An abort sent meanwhile reaches the chunks not yet started.
                self.drain()?;
                // The next chunk's time does not include this sending and draining.
                started = clock::now();
            }
        }
        self.send_replies(batch.take(started));
        Ok(())
    }

    /// Sends a chunk's reply or a batch of them to the controller; one that cannot be encoded
    /// (an engine bug, not the chunk's) is answered as failed, each chunk on its own.
    fn send_replies(&mut self, reply: Option<Reply>) {
        let Some(reply) = reply else { return };
        let Err(e) = self.outbox.send_message(ROOT, &reply) else {
            return;
        };
        let failure = Failure::bad_payload(e);
        let replies = match reply.body {
            ReplyBody::Batch(replies) => replies,
            body => vec![Reply { body, ..reply }],
        };
        for r in replies {
            let body = failed("reply", failure.clone());
            let _ = self.outbox.send_message(ROOT, &Reply { body, ..r });
        }
    }

    /// The second phase of a view's creation: waits (running nothing else) until the controller
    /// says every member is ready, then creates the view's communicators with them.
    fn create_view(&mut self, view: ViewId, members: &[i32]) -> Result<()> {
        let mut backoff = Backoff::new();
        while !self.created.contains(&view) {
            self.drain()?;
            backoff.pause_for_messages(|| self.outbox.in_flight(), None);
        }
        self.created.remove(&view);
        let comms = ViewComms::create(self.factory, members, view)?;
        self.add_view(view, comms);
        Ok(())
    }

    fn add_view(&mut self, view: ViewId, comms: ViewComms) {
        let listener = comms.request().map(Listener::post);
        if listener.is_some() {
            self.acceptor.add_view(view);
            self.listening += 1;
        }
        self.views.insert(view, View { comms, listener });
    }
}

/// Sends an array's elements to the view's rank 0 (the controller) on `TAG_DATA` (contiguously;
/// a non-standard layout is copied first).
fn send_array(comm: RawComm, a: &ArrayValue) {
    struct Send(RawComm);
    impl ElementsVisitor for Send {
        fn visit<T: Element>(self, data: &[T]) {
            send_slice(self.0, ROOT, TAG_DATA, data, &mut || true);
        }
    }
    a.visit_elements(Send(comm));
}
