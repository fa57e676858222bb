//! How a request reaches its engines, and how their replies come back.
//!
//! A request to one engine goes on that engine's direct channel (point-to-point); a request to
//! the engines of a view of several goes as one broadcast on the view's channel, and their
//! replies come back in one gather. Either way it carries the fences that keep every engine's
//! requests in issue order ([`order`](crate::order)). A view's channel and communicators are
//! made on its first use, in two phases (see [`Request::NewView`]); the all-engines view's exist
//! from start-up.

use std::rc::Rc;

use super::Hub;
use super::link::{Delivery, Received, ring_all};
use super::tracking::What;
use super::views::SlotKey;
use crate::comm::alloc::zeroed_vec;
use crate::comm::collective::ROOT;
use crate::comm::p2p::{RawComm, recv_slice};
use crate::error::{Call, Result};
use crate::ids::{EngineId, RequestId, ViewId};
use crate::protocol::{Envelope, Reply, ReplyBody, Request, Slot, TAG_DATA};
use crate::reply::Body;
use crate::value::{Element, Value, WireValue};
use crate::with_dtype;

impl Hub {
    /// Whether a request to `targets` goes as one broadcast (a view of many engines) rather
    /// than one message per engine. Below `MPIVIEW_BROADCAST_MIN` engines, the sends cost less
    /// than a nonblocking broadcast and gather (whose schedules MPI builds on every call): on
    /// 2 cores, one round trip to 2 engines took 5 µs point-to-point and 8 µs collectively.
    fn broadcasts(&self, targets: &[EngineId]) -> bool {
        targets.len() >= self.broadcast_min && !self.is_local()
    }

    /// Sends `make(id)` to every engine of `targets` and tracks their replies; the request's id.
    pub(crate) fn submit(
        &self,
        targets: &Rc<[EngineId]>,
        make: impl FnOnce(RequestId) -> Request,
    ) -> Result<RequestId> {
        let id = self.next_id();
        let request = make(id);
        let what = What::of(&request);
        if !self.broadcasts(targets) {
            self.track(targets, id, what, None);
            self.send_each(targets, request)?;
        } else {
            let view = self.view_of(targets)?;
            let key = SlotKey::of(&request);
            let (positions, slot) = {
                let views = self.views.borrow();
                let v = views.get(view);
                (v.positions.clone(), v.slot_size(key))
            };
            self.track(targets, id, what, Some((view, positions, key)));
            self.broadcast(view, request, slot)?;
        }
        Ok(id)
    }

    /// Submits one request with a different content for each engine of `targets`
    /// (`make(id, position)`), each sent directly: one id, tracked like [`submit`](Self::submit).
    pub(crate) fn submit_each(
        &self,
        targets: &Rc<[EngineId]>,
        mut make: impl FnMut(RequestId, usize) -> Request,
    ) -> Result<RequestId> {
        let id = self.next_id();
        let requests: Vec<Request> = (0..targets.len()).map(|pos| make(id, pos)).collect();
        self.track(targets, id, What::of(&requests[0]), None);
        for (&engine, request) in targets.iter().zip(requests) {
            self.send_direct(engine, request)?;
        }
        Ok(id)
    }

    /// Sends `request`, which expects no reply, to every engine of `targets`.
    pub(crate) fn send_untracked(&self, targets: &Rc<[EngineId]>, request: Request) -> Result<()> {
        if !self.broadcasts(targets) {
            self.send_each(targets, request)
        } else {
            let view = self.view_of(targets)?;
            self.broadcast(view, request, 0)
        }
    }

    /// Sends `request` to every engine of `targets` directly (a copy each).
    fn send_each(&self, targets: &[EngineId], request: Request) -> Result<()> {
        let (last, rest) = targets.split_last().expect("a view has an engine");
        for &e in rest {
            self.send_direct(e, request.clone())?;
        }
        self.send_direct(*last, request)
    }

    /// Sends `request` to `engine` on its direct channel.
    pub(crate) fn send_direct(&self, engine: EngineId, request: Request) -> Result<()> {
        let fences = if request.is_out_of_band() || self.is_local() {
            Vec::new()
        } else {
            self.sequencer.borrow_mut().direct(engine)
        };
        let envelope = Envelope {
            fences,
            slot: 0,
            request,
        };
        self.link
            .borrow_mut()
            .send(&self.registry, engine, &envelope)
    }

    /// Broadcasts `request` on the channel of `view` (of several engines); `slot > 0` posts the
    /// reply gather with slots of that size.
    fn broadcast(&self, view: ViewId, request: Request, slot: usize) -> Result<()> {
        let mut link = self.link.borrow_mut();
        let Some(mpi) = link.mpi() else {
            unreachable!("a one-rank run has one engine: nothing is broadcast")
        };
        let fences = self.sequencer.borrow_mut().broadcast(view);
        let envelope = Envelope {
            fences,
            slot: slot as u32,
            request,
        };
        mpi.broadcast(view, postcard::to_stdvec(&envelope)?);
        let mut views = self.views.borrow_mut();
        let entry = views.get_mut(view);
        ring_all(&entry.wake);
        if slot > 0 {
            let id = request_id(&envelope.request);
            let gather = mpi.post_gather(view, entry.targets.len(), slot);
            entry.gathers.push_back((id, gather));
            self.gathers_in_flight.set(self.gathers_in_flight.get() + 1);
        }
        Ok(())
    }

    /// The view of exactly `targets`, made now if it is new: the first phase asks every engine
    /// to get ready (each answers and then runs nothing else), the second tells them all to
    /// create its communicators together, so that nobody spins in the blocking creation while
    /// another member is still busy.
    pub(crate) fn view_of(&self, targets: &Rc<[EngineId]>) -> Result<ViewId> {
        if let Some(v) = self.views.borrow().find(targets) {
            return Ok(v);
        }
        if self.is_local() {
            return Ok(self.views.borrow_mut().add(targets.clone(), Vec::new()));
        }
        let view = self.views.borrow().next_id();
        let mut members = vec![ROOT];
        members.extend(targets.iter().map(|&e| e as i32 + 1));
        // Phase 1, directly to each engine (the view has no channel yet).
        let id = self.next_id();
        self.track(targets, id, What::Operation("a view's creation"), None);
        self.send_each(
            targets,
            Request::NewView {
                id,
                view,
                members: members.clone(),
            },
        )?;
        self.wait_for(id, None)?;
        let answers: Vec<_> = self.take(id).answers.into_iter().flatten().collect();
        super::tracking::failures(Call::View, targets, &answers)?;
        // Phase 2: everyone is waiting for this.
        for &e in targets.iter() {
            self.send_direct(e, Request::CreateView { view })?;
        }
        self.link
            .borrow_mut()
            .mpi()
            .expect("MPI link")
            .create_view(view, &members)?;
        // Who a broadcast on this view rings: its engines on this node.
        let wake: Vec<i32> = members[1..]
            .iter()
            .copied()
            .filter(|r| self.node_ranks.binary_search(r).is_ok())
            .collect();
        let added = self.views.borrow_mut().add(targets.clone(), wake);
        debug_assert_eq!(added, view);
        if self.broadcasts(targets) {
            self.sequencer.borrow_mut().add_view(view, targets);
        }
        Ok(view)
    }

    /// The data communicator of `view` (MPI only).
    pub(crate) fn data_comm(&self, view: ViewId) -> RawComm {
        self.link.borrow_mut().mpi().expect("MPI link").data(view)
    }

    /// Receives one reply (and every completed reply gather) if there is one. `Ok(true)` if
    /// something arrived.
    pub(crate) fn pump(&self) -> Result<bool> {
        let delivery = self.link.borrow_mut().poll()?;
        let mut any = false;
        match delivery {
            Some(Delivery::Local(id, started, completed, body, output)) => {
                self.file(0, id, started, completed, body, output);
                any = true;
            }
            Some(Delivery::Mpi(received)) => {
                self.receive(received, None)?;
                any = true;
            }
            None => {}
        }
        if self.gathers_in_flight.get() > 0 {
            any |= self.pump_gathers()?;
        }
        if any && !self.abandoned.borrow().is_empty() {
            self.settle_answered_gathers();
        }
        if !self.queued.borrow().is_empty() {
            any |= self.advance_transfers();
        }
        if self.dispatch_pending.replace(false) {
            self.dispatch()?;
        }
        Ok(any)
    }

    /// Files the slots of every reply gather that has completed (oldest first per view).
    fn pump_gathers(&self) -> Result<bool> {
        let mut any = false;
        let views = self.views.borrow().with_gathers();
        for view in views {
            loop {
                let done = {
                    let mut views = self.views.borrow_mut();
                    let entry = views.get_mut(view);
                    let complete = entry.gathers.front_mut().is_some_and(|(_, g)| g.test());
                    if complete {
                        entry.gathers.pop_front()
                    } else {
                        None
                    }
                };
                let Some((_, gather)) = done else { break };
                self.gathers_in_flight.set(self.gathers_in_flight.get() - 1);
                any = true;
                let targets = self.views.borrow().get(view).targets.clone();
                for (pos, slot) in gather.slots().enumerate() {
                    // `None`: the reply did not fit and comes point-to-point.
                    if let Some(reply) = Slot::decode(slot)? {
                        let received = Received {
                            engine: targets[pos],
                            reply,
                            bytes: 0,
                        };
                        self.receive(received, Some(pos))?;
                    }
                }
            }
        }
        Ok(any)
    }

    /// Completes a reply (receives its pulled arrays) and files it. `position`: where it came
    /// from in its view's gather (`None`: point-to-point).
    fn receive(&self, received: Received, position: Option<usize>) -> Result<()> {
        let Received {
            engine,
            reply,
            bytes,
        } = received;
        let Reply {
            id,
            started,
            completed,
            body,
            output,
        } = reply;
        // Where a pulled array's data comes from: the view's data communicator for a broadcast
        // request, the direct channel otherwise. (Task replies, the most frequent, skip this.)
        let route = || {
            let state = self.state.borrow();
            state
                .requests
                .get(&id)
                .and_then(|t| Some((t.view?, t.position(engine)?, t.slot_key)))
        };
        if position.is_none()
            && bytes > Slot::MIN
            && let Some((view, _, Some(key))) = route()
        {
            // Sent point-to-point although broadcast: it did not fit its slot.
            self.views.borrow_mut().get_mut(view).learn(key, bytes);
        }
        let body = match body {
            ReplyBody::Progress { done, total } => {
                self.note_progress(engine, id, done, total);
                return Ok(());
            }
            ReplyBody::Printed(piece) => {
                self.note_printed(engine, id, piece);
                return Ok(());
            }
            ReplyBody::Batch(replies) => {
                // Chunks of a `Maps`: each is filed as if it had come alone, all received now.
                self.received_at.set(Some(crate::clock::now()));
                let filed = replies.into_iter().try_for_each(|reply| {
                    let one = Received {
                        engine,
                        reply,
                        bytes: 0,
                    };
                    self.receive(one, None)
                });
                self.received_at.set(None);
                return filed;
            }
            ReplyBody::Pulled(items) => {
                let route = route();
                let (comm, source) = match route {
                    Some((view, pos, _)) => (self.data_comm(view), pos as i32 + 1),
                    None => (
                        self.link.borrow_mut().mpi().expect("MPI link").ctrl(),
                        engine as i32 + 1,
                    ),
                };
                Body::Pulled(
                    items
                        .into_iter()
                        .map(|item| item.map(|wire| receive_value(comm, source, wire)))
                        .collect(),
                )
            }
            other => Body::from_plain(other),
        };
        self.file(engine, id, started, completed, body, output);
        Ok(())
    }
}

/// The id of a request that expects a reply.
fn request_id(request: &Request) -> RequestId {
    match request {
        Request::Apply { id, .. }
        | Request::Execute { id, .. }
        | Request::Map { id, .. }
        | Request::Pull { id, .. }
        | Request::Gather { id, .. }
        | Request::Clear { id, .. }
        | Request::NewView { id, .. } => *id,
        Request::Scatter { .. }
        | Request::Maps { .. }
        | Request::Push { .. }
        | Request::CreateView { .. }
        | Request::Abort { .. }
        | Request::Shutdown { .. } => unreachable!("no reply is gathered for {request:?}"),
    }
}

/// Completes a pulled value: inline values decode, array data is received on `TAG_DATA`.
fn receive_value(comm: RawComm, source: i32, wire: WireValue) -> Value {
    match wire {
        WireValue::Inline(v) => v.into_value(),
        WireValue::Array(h) => {
            let dims = h.dims().expect("an engine's array has a valid shape");
            let len = h
                .element_count()
                .expect("an engine's array has a valid length");
            with_dtype!(h.dtype, T => {
                let mut data = zeroed_vec::<T>(len);
                recv_slice(comm, source, TAG_DATA, &mut data, &mut || true);
                Value::Array(T::wrap(ndarray::ArrayD::from_shape_vec(dims, data).expect("length matches shape")))
            })
        }
    }
}
