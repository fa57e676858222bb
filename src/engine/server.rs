//! The MPI event loop of an engine rank.
//!
//! Arrived requests are drained into a local queue before each one runs, so that an `Abort` can
//! remove load-balanced tasks that are queued but not started. Requests run strictly in arrival
//! order; a direct request behind queued tasks waits its turn. Replies leave through an
//! [`Outbox`] and never block the loop; array data of a pull and the collective steps of push,
//! scatter and gather wait with backoff, so an idle or waiting engine does not burn its core.

use std::collections::{HashMap, VecDeque};

use mpi::raw::AsRaw;
use mpi::topology::{Communicator, Group, SimpleCommunicator};

use super::handle_simple;
use super::state::{EngineState, failed};
use crate::clock;
use crate::comm::collective::{ROOT, bcast_recv, gatherv_send, scatterv_recv};
use crate::comm::p2p::{Mailbox, Outbox, RawComm, recv_bulk, send_slice};
use crate::comm::poll::Backoff;
use crate::error::{RemoteErrorKind, Result};
use crate::partition::block_len;
use crate::protocol::{
    CommId, Frame, Reply, ReplyBody, Request, RequestId, SHUTDOWN_ID, TAG_DATA, TAG_MSG, decode,
    unframe,
};
use crate::registry::{Failure, Registry};
use crate::value::{ArrayValue, Element, ElementsVisitor, Value, WireValue};
use crate::with_dtype;

/// Serves requests on `ctrl` until a `Shutdown`; returns its exit status.
pub(crate) fn serve(
    ctrl: &SimpleCommunicator,
    factory: &SimpleCommunicator,
    registry: &Registry,
    state: EngineState,
) -> Result<u8> {
    let raw = RawComm(ctrl.as_raw());
    let mut server = Server {
        factory,
        raw,
        registry,
        state,
        comms: HashMap::new(),
        mailbox: Mailbox::post(raw, ROOT, TAG_MSG),
        outbox: Outbox::new(raw),
        queue: VecDeque::new(),
    };
    server.run()
}

struct Server<'a> {
    /// Parent of view communicators.
    factory: &'a SimpleCommunicator,
    raw: RawComm,
    registry: &'a Registry,
    state: EngineState,
    comms: HashMap<CommId, SimpleCommunicator>,
    mailbox: Mailbox,
    outbox: Outbox,
    queue: VecDeque<Request>,
}

impl Server<'_> {
    fn run(&mut self) -> Result<u8> {
        let mut backoff = Backoff::new();
        loop {
            self.drain()?;
            self.outbox.progress();
            let Some(request) = self.queue.pop_front() else {
                backoff.pause_for_messages(self.outbox.in_flight(), None);
                continue;
            };
            if let Some(status) = self.handle(request)? {
                return Ok(status);
            }
            backoff.reset();
        }
    }

    /// Moves every arrived request into the queue; applies aborts at once.
    fn drain(&mut self) -> Result<()> {
        while let Some((_, bytes)) = self.mailbox.poll() {
            let request: Request = match unframe(&bytes)? {
                Frame::Inline(body) => decode(body)?,
                Frame::Large(len) => decode(&recv_bulk(self.raw, ROOT, len, &mut || {}))?,
            };
            match request {
                Request::Abort { ids } => self.abort(&ids)?,
                other => self.queue.push_back(other),
            }
        }
        Ok(())
    }

    fn abort(&mut self, ids: &[RequestId]) -> Result<()> {
        let mut kept = VecDeque::with_capacity(self.queue.len());
        for request in self.queue.drain(..) {
            match request {
                Request::Map { id, func, .. } if ids.contains(&id) => {
                    let now = clock::now();
                    let failure = Failure {
                        kind: RemoteErrorKind::Aborted,
                        message: "aborted before it started".into(),
                    };
                    let reply = Reply {
                        id,
                        started: now,
                        completed: now,
                        body: failed(self.registry.name(func), failure),
                    };
                    self.outbox.send_message(ROOT, &reply)?;
                }
                other => kept.push_back(other),
            }
        }
        self.queue = kept;
        Ok(())
    }

    fn reply(&mut self, id: RequestId, started: f64, body: ReplyBody) -> Result<()> {
        let reply = Reply {
            id,
            started,
            completed: clock::now(),
            body,
        };
        self.outbox.send_message(ROOT, &reply)
    }

    fn view_comm(&self, comm: CommId) -> RawComm {
        RawComm(
            self.comms
                .get(&comm)
                .expect("the controller creates a communicator before using it")
                .as_raw(),
        )
    }

    /// Runs one request; `Some(status)` when it was the shutdown.
    fn handle(&mut self, request: Request) -> Result<Option<u8>> {
        if let Some(reply) = handle_simple(&mut self.state, self.registry, &request) {
            self.outbox.send_message(ROOT, &reply)?;
            return Ok(None);
        }
        let started = clock::now();
        match request {
            Request::Push { id, comm, values } => {
                for (name, wire) in values {
                    let value = match wire {
                        WireValue::Inline(v) => v.into_value(),
                        WireValue::Array(header) => {
                            let raw =
                                self.view_comm(comm.expect("arrays come with a communicator"));
                            let dims = header.dims().expect("header checked by the controller");
                            let len = header
                                .element_count()
                                .expect("header checked by the controller");
                            with_dtype!(header.dtype, T => {
                                let mut data = self.state.receive_buffer::<T>(&name, len);
                                bcast_recv(raw, &mut data);
                                let a = ndarray::ArrayD::from_shape_vec(dims, data).expect("length matches shape");
                                Value::Array(<T as crate::value::Element>::wrap(a))
                            })
                        }
                    };
                    self.state.store(name, value);
                }
                self.reply(id, started, ReplyBody::Ack)?;
            }
            Request::Pull { id, names } => {
                let pulled = self.state.pull(&names);
                self.reply(id, started, ReplyBody::Pulled(pulled))?;
                let arrays: Vec<&ArrayValue> = self.state.pulled_arrays(&names).collect();
                for a in arrays {
                    send_array(self.raw, a);
                }
            }
            Request::Scatter {
                name,
                comm,
                dtype,
                item_shape,
                rows,
                flatten,
            } => {
                let view = self.comms.get(&comm).expect("communicator exists");
                let (me, members) = ((view.rank() - 1) as usize, (view.size() - 1) as usize);
                let raw = RawComm(view.as_raw());
                let item_shape: Vec<usize> = item_shape.iter().map(|&d| d as usize).collect();
                let item_len: usize = item_shape.iter().product();
                let rows = rows as usize;
                let my_rows = block_len(rows, members, me);
                with_dtype!(dtype, T => {
                    let mut data = self.state.receive_buffer::<T>(&name, my_rows * item_len);
                    scatterv_recv(raw, &mut data, rows * item_len);
                    self.state.store_partition(name, data, my_rows, &item_shape, flatten);
                });
            }
            Request::Gather {
                id,
                name,
                comm,
                dtype,
            } => {
                let shape = self.state.gather_shape(&name, dtype);
                self.reply(id, started, ReplyBody::Shape(shape))?;
                let raw = self.view_comm(comm);
                let mut decision = [0u64; 2];
                bcast_recv(raw, &mut decision);
                if decision[0] == 1 {
                    with_dtype!(dtype, T => {
                        let data = self.state.gather_data::<T>(&name);
                        gatherv_send(raw, &data, decision[1] as usize);
                    });
                }
            }
            Request::NewComm { id, comm, members } => {
                self.reply(id, started, ReplyBody::Ack)?;
                let group = self.factory.group().include(&members);
                let new = self
                    .factory
                    .split_by_subgroup_with_tag(&group, comm as i32)
                    .expect("this engine is a member");
                self.comms.insert(comm, new);
            }
            Request::Shutdown { status } => {
                self.reply(SHUTDOWN_ID, started, ReplyBody::Ack)?;
                self.outbox.flush(&mut || {});
                return Ok(Some(status));
            }
            Request::Abort { .. }
            | Request::Apply { .. }
            | Request::Execute { .. }
            | Request::Map { .. }
            | Request::Clear { .. } => unreachable!("handled above"),
        }
        Ok(None)
    }
}

/// Sends an array's elements to the controller on `TAG_DATA` (contiguously; a non-standard
/// layout is copied first).
fn send_array(ctrl: RawComm, a: &ArrayValue) {
    struct Send(RawComm);
    impl ElementsVisitor for Send {
        fn visit<T: Element>(self, data: &[T]) {
            send_slice(self.0, ROOT, TAG_DATA, data, &mut || {});
        }
    }
    a.visit_elements(Send(ctrl));
}
