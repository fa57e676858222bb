//! Moving values and arrays between the controller and a view's engines: push, pull, scatter,
//! gather. Over MPI, array data moves with collectives on the view's data communicator; in a
//! one-rank run the same calls act on the in-process engine's namespace. Views call these and
//! never see which.
//!
//! **Time limits.** Each call takes an optional limit. A collective cannot be taken back once
//! started, so a transfer of arrays first waits (within the limit) until every engine of the
//! view has answered everything sent to it before, and sends nothing if they do not: the call
//! returns [`Error::Timeout`] and the engines are left as they were. A gather whose engines
//! answered its first step too late is settled later: the hub tells them "no" as soon as all
//! have answered, before anything else moves on that view.

use std::rc::Rc;
use std::time::{Duration, Instant};

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::Hub;
use crate::comm::collective::{bcast_root, gatherv_root, scatterv_root};
use crate::comm::p2p::RawComm;
use crate::error::{Call, Error, Result};
use crate::ids::{EngineId, RequestId, ViewId};
use crate::partition::block_counts;
use crate::protocol::Request;
use crate::reply::{Body, remote_error};
use crate::value::{ArrayValue, Element, ElementsVisitor, TypeSpec, Value};

/// Shape and layout of a gathered array.
pub(super) use super::gather_layout::{GatherLayout, gather_layout};

impl Hub {
    /// What a transfer with `targets` does between its tests: receive what has arrived, and say
    /// whether every engine has joined it (answered everything sent before, but for `allowance`
    /// replies each).
    fn transfer_idle<'a>(
        &'a self,
        targets: &'a [EngineId],
        allowance: u32,
    ) -> impl FnMut() -> bool + 'a {
        let mut gate = self.gate(targets, allowance);
        move || {
            self.pump_available();
            gate.is_open(self, targets)
        }
    }

    /// Waits, within `limit`, until the view's queued transfers have started, the engines of
    /// `targets` have answered everything sent to them and the view's earlier abandoned gathers
    /// are settled: then a transfer with them can
    /// start without waiting on anyone's computation. `Error::Timeout` otherwise (nothing sent).
    fn ready_for_transfer(
        &self,
        view: ViewId,
        targets: &[EngineId],
        limit: Option<Duration>,
    ) -> Result<()> {
        let Some(limit) = limit else {
            self.start_queued(view, None)?;
            return self.settle_abandoned(view, None);
        };
        let deadline = Instant::now() + limit;
        self.start_queued(view, Some(deadline))?;
        self.settle_abandoned(view, Some(deadline))?;
        let mut gate = self.gate(targets, 0);
        if !self.wait_until(|hub| gate.is_open(hub, targets), Some(deadline))? {
            return Err(Error::Timeout(limit));
        }
        Ok(())
    }

    /// Answers "no" to the engines of gathers abandoned on `view` (their first step timed out),
    /// waiting until `deadline` for them to answer it (`None`: as long as it takes).
    fn settle_abandoned(&self, view: ViewId, deadline: Option<Instant>) -> Result<()> {
        loop {
            let next = self
                .abandoned
                .borrow()
                .iter()
                .find(|(_, v)| *v == view)
                .copied();
            let Some((id, _)) = next else {
                return Ok(());
            };
            if !self.wait_until(|hub| hub.is_complete(id), deadline)? {
                return Err(Error::Timeout(deadline.map_or(Duration::ZERO, |d| {
                    d.saturating_duration_since(Instant::now())
                })));
            }
            self.abandoned.borrow_mut().retain(|(i, _)| *i != id);
            self.take(id);
            bcast_root(self.data_comm(view), &[0u64, 0], &mut || true);
        }
    }

    /// Settles every abandoned gather whose engines have all answered (from `pump`, so that
    /// engines waiting for the "no" are not left waiting).
    pub(crate) fn settle_answered_gathers(&self) {
        let done: Vec<(RequestId, ViewId)> = self
            .abandoned
            .borrow()
            .iter()
            .copied()
            .filter(|(id, _)| self.is_complete(*id))
            .collect();
        for (id, view) in done {
            self.abandoned.borrow_mut().retain(|(i, _)| *i != id);
            self.take(id);
            bcast_root(self.data_comm(view), &[0u64, 0], &mut || true);
        }
    }

    /// Stores `values` under their names on every engine of `targets`.
    pub(crate) fn push(
        &self,
        targets: &Rc<[EngineId]>,
        values: Vec<(String, Value)>,
        limit: Option<Duration>,
    ) -> Result<()> {
        if let Some(local) = self.link.borrow_mut().local() {
            for (name, value) in values {
                local.state.store(name, value);
            }
            return Ok(());
        }
        let has_arrays = values.iter().any(|(_, v)| matches!(v, Value::Array(_)));
        let view = if has_arrays {
            let view = self.view_of(targets)?;
            self.ready_for_transfer(view, targets, limit)?;
            Some(view)
        } else {
            None
        };
        let wire = values
            .iter()
            .map(|(n, v)| (n.clone(), v.to_wire().0))
            .collect();
        // Storing a value cannot fail on an engine, so a push is not answered: it is done once
        // its data has left, and every later request to these engines runs after it (fences).
        self.send_untracked(targets, Request::Push { view, values: wire })?;
        if let Some(view) = view {
            let raw = self.data_comm(view);
            let mut idle = self.transfer_idle(targets, 0);
            for (_, value) in &values {
                if let Value::Array(a) = value {
                    bcast_array(raw, a, &mut idle);
                }
            }
        }
        self.take_deferred()
    }

    /// The values of `names` (each checked against its type on the engine) on every engine of
    /// `targets`, in target order; every failure together.
    pub(crate) fn pull(
        &self,
        targets: &Rc<[EngineId]>,
        names: Vec<(String, TypeSpec)>,
        limit: Option<Duration>,
    ) -> Result<Vec<Vec<Value>>> {
        let answers = self.round_trip(targets, limit, |id| Request::Pull { id, names })?;
        let mut per_engine = Vec::with_capacity(answers.len());
        let mut errors = Vec::new();
        for (&engine, answer) in targets.iter().zip(answers) {
            match answer.body {
                Body::Pulled(items) => {
                    let mut values = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Ok(v) => values.push(v),
                            Err(f) => {
                                errors.push(remote_error(engine, Call::Pull, "pull", f, None))
                            }
                        }
                    }
                    per_engine.push(values);
                }
                Body::Failed { function, failure } => {
                    errors.push(remote_error(engine, Call::Pull, &function, failure, None))
                }
                _ => return Err(Error::Runtime("unexpected reply to a pull".into())),
            }
        }
        if errors.is_empty() {
            Ok(per_engine)
        } else {
            Err(errors.into())
        }
    }

    /// Splits `data` (at least 1-d) along axis 0 by the block rule over `targets` and stores
    /// each part under `name` (a single row as itself if `flatten`).
    pub(crate) fn scatter<T: Element>(
        &self,
        targets: &Rc<[EngineId]>,
        name: &str,
        data: ArrayViewD<'_, T>,
        flatten: bool,
        limit: Option<Duration>,
    ) -> Result<()> {
        let rows = data.shape()[0];
        let item_shape = &data.shape()[1..];
        let contiguous = data.as_standard_layout();
        let flat = contiguous
            .as_slice()
            .expect("standard layout is contiguous");
        if let Some(local) = self.link.borrow_mut().local() {
            local
                .state
                .store_partition(name.to_string(), flat.to_vec(), rows, item_shape, flatten);
            return Ok(());
        }
        let view = self.view_of(targets)?;
        self.ready_for_transfer(view, targets, limit)?;
        let counts = self.announce_scatter::<T>(targets, view, name, data.shape(), flatten)?;
        let raw = self.data_comm(view);
        scatterv_root(raw, flat, &counts, &mut self.transfer_idle(targets, 0));
        self.take_deferred()
    }

    /// Tells the engines of `targets` that a scatter of an array of `shape` to `name` comes on
    /// `view`'s data communicator; the elements each engine gets, in target order.
    pub(super) fn announce_scatter<T: Element>(
        &self,
        targets: &Rc<[EngineId]>,
        view: ViewId,
        name: &str,
        shape: &[usize],
        flatten: bool,
    ) -> Result<Vec<usize>> {
        let (rows, item_shape) = (shape[0], &shape[1..]);
        self.send_untracked(
            targets,
            Request::Scatter {
                name: name.to_string(),
                view,
                dtype: T::DTYPE,
                item_shape: item_shape.iter().map(|&d| d as u64).collect(),
                rows: rows as u64,
                flatten,
            },
        )?;
        let item_len: usize = item_shape.iter().product();
        Ok(block_counts(rows, targets.len())
            .into_iter()
            .map(|r| r * item_len)
            .collect())
    }

    /// Concatenates the engines' values of `name` along axis 0 in target order, into memory
    /// from `alloc(n)` (called once the pieces are known to fit; nothing fails after it).
    pub(crate) fn gather_with<T: Element>(
        &self,
        targets: &Rc<[EngineId]>,
        name: &str,
        alloc: impl FnOnce(usize) -> Vec<T>,
        limit: Option<Duration>,
    ) -> Result<ArrayD<T>> {
        if let Some(local) = self.link.borrow_mut().local() {
            let s = &local.state;
            let shape = s
                .gather_shape(name, T::DTYPE)
                .map_err(|f| Error::from(remote_error(0, Call::Gather, "gather", f, None)))?;
            let layout = gather_layout(&[shape]).map_err(Error::Invalid)?;
            fits_in_memory::<T>(name, &layout)?;
            let data = s.gather_data::<T>(name);
            let mut buf = alloc(layout.total());
            buf.copy_from_slice(&data);
            return Ok(
                ArrayD::from_shape_vec(IxDyn(&layout.shape), buf).expect("layout matches data")
            );
        }
        let view = self.view_of(targets)?;
        let started = Instant::now();
        self.ready_for_transfer(view, targets, limit)?;
        // The engines are idle: the first step answers at once, unless one hangs.
        let id = self.submit(targets, |id| Request::Gather {
            id,
            name: name.to_string(),
            view,
            dtype: T::DTYPE,
        })?;
        let rest = limit.map(|l| l.saturating_sub(started.elapsed()));
        if !self.wait_for(id, rest)? {
            // Engines that answered now wait for the decision: it is sent ("no") once all have.
            self.abandoned.borrow_mut().push((id, view));
            return Err(Error::Timeout(limit.unwrap_or_default()));
        }
        let decision = gather_decision::<T>(name, targets, self.take_answers(id));
        let raw = self.data_comm(view);
        let mut idle = self.transfer_idle(targets, 0);
        match decision {
            Err(e) => {
                bcast_root(raw, &[0u64, 0], &mut idle);
                self.take_deferred()?;
                Err(e)
            }
            Ok(layout) => {
                let total = layout.total();
                bcast_root(raw, &[1u64, total as u64], &mut idle);
                let mut data = alloc(total);
                gatherv_root(raw, &mut data, &layout.counts, &mut idle);
                self.take_deferred()?;
                Ok(
                    ArrayD::from_shape_vec(IxDyn(&layout.shape), data)
                        .expect("layout matches data"),
                )
            }
        }
    }
}

/// What a gather of `name` does, from the engines' answers to its first step (in target order):
/// the layout of the result, or why it cannot be done (every engine's failure together).
pub(super) fn gather_decision<T: Element>(
    name: &str,
    targets: &[EngineId],
    answers: Vec<super::tracking::Answer>,
) -> Result<GatherLayout> {
    let mut shapes = Vec::with_capacity(answers.len());
    let mut errors = Vec::new();
    for (&engine, answer) in targets.iter().zip(answers) {
        match answer.body {
            Body::Shape(Ok(s)) => shapes.push(s),
            Body::Shape(Err(f)) => {
                errors.push(remote_error(engine, Call::Gather, "gather", f, None))
            }
            Body::Failed { function, failure } => {
                errors.push(remote_error(engine, Call::Gather, &function, failure, None))
            }
            _ => return Err(Error::Runtime("unexpected reply to a gather".into())),
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let layout = gather_layout(&shapes)
        .map_err(|why| Error::Invalid(format!("cannot gather `{name}`: {why}")))?;
    fits_in_memory::<T>(name, &layout)?;
    Ok(layout)
}

/// Checks that a gathered array fits in the controller's available memory.
pub(super) fn fits_in_memory<T: Element>(name: &str, layout: &GatherLayout) -> Result<()> {
    let bytes = (layout.total() as u128) * (std::mem::size_of::<T>() as u128);
    if bytes > isize::MAX as u128 {
        return Err(Error::Invalid(format!(
            "cannot gather `{name}`: {bytes} bytes exceed the address space"
        )));
    }
    if let Some(available) = crate::sysinfo::memory_for_results()
        && bytes > u128::from(available)
    {
        return Err(Error::OutOfMemory {
            what: format!("a gather of `{name}`"),
            needed: bytes,
            available: u128::from(available),
        });
    }
    Ok(())
}

/// Broadcasts an array's elements from the controller (contiguously; a non-standard layout is
/// copied first).
fn bcast_array(raw: RawComm, a: &ArrayValue, idle: &mut dyn FnMut() -> bool) {
    struct Bcast<'a>(RawComm, &'a mut dyn FnMut() -> bool);
    impl ElementsVisitor for Bcast<'_> {
        fn visit<T: Element>(self, data: &[T]) {
            bcast_root(self.0, data, self.1);
        }
    }
    a.visit_elements(Bcast(raw, idle));
}
