//! Push, scatter and gather without blocking the driver: the request leaves at once, the
//! controller's side of the collective is queued ([`queued_transfers`](super::queued_transfers))
//! and moves whenever the hub pumps. In a one-rank run they act on the in-process engine at once.

use std::any::Any;
use std::rc::Rc;

use ndarray::{ArcArray, ArrayD, IxDyn};

use super::Hub;
use super::queued_transfers::{Flight, TransferId};
use super::transfers::gather_decision;
use crate::comm::collective::{Started, start_bcast_root, start_gatherv_root, start_scatterv_root};
use crate::comm::p2p::RawComm;
use crate::error::{Error, Result};
use crate::ids::EngineId;
use crate::protocol::Request;
use crate::value::{ArrayValue, Element, ElementsVisitor, Value};

impl Hub {
    /// Stores `values` on every engine of `targets`; arrays are broadcast when their turn on
    /// the view comes.
    pub(crate) fn push_async(
        &self,
        targets: &Rc<[EngineId]>,
        values: Vec<(String, Value)>,
    ) -> Result<TransferId> {
        let has_arrays = values.iter().any(|(_, v)| matches!(v, Value::Array(_)));
        if self.is_local() || !has_arrays {
            // Nothing waits on an engine: the blocking push returns as soon as it is sent.
            self.push(targets, values, None)?;
            return Ok(self.finished_transfer(Ok(Box::new(()))));
        }
        let view = self.view_of(targets)?;
        let values: Vec<(String, Value)> = values
            .into_iter()
            .map(|(n, v)| (n, in_standard_layout(v)))
            .collect();
        let wire = values
            .iter()
            .map(|(n, v)| (n.clone(), v.to_wire().0))
            .collect();
        self.send_untracked(
            targets,
            Request::Push {
                view: Some(view),
                values: wire,
            },
        )?;
        self.queue_transfer(
            view,
            Box::new(move |raw| {
                let mut started: Option<Started> = None;
                for (_, value) in &values {
                    if let Value::Array(a) = value {
                        let next = start_bcast_array(raw, a);
                        started = Some(match started {
                            Some(s) => s.then(next),
                            None => next,
                        });
                    }
                }
                let started = started.expect("a push with arrays");
                // SAFETY: the broadcasts read the arrays of `values` in place (standard layout,
                // so no copy was made), which the flight owns until they complete.
                unsafe { Flight::new(started, Box::new(values), |_| Ok(Box::new(()))) }
            }),
        )
    }

    /// Splits `data` along axis 0 by the block rule over `targets` and stores each part under
    /// `name`; the controller sends straight from `data`, which it keeps until the scatter is
    /// done.
    pub(crate) fn scatter_async<T: Element>(
        &self,
        targets: &Rc<[EngineId]>,
        name: &str,
        data: ArcArray<T, IxDyn>,
        flatten: bool,
    ) -> Result<TransferId> {
        let data = if data.is_standard_layout() {
            data
        } else {
            data.as_standard_layout().into_owned().into_shared()
        };
        if self.is_local() {
            self.scatter(targets, name, data.view(), flatten, None)?;
            return Ok(self.finished_transfer(Ok(Box::new(()))));
        }
        let view = self.view_of(targets)?;
        let counts = self.announce_scatter::<T>(targets, view, name, data.shape(), flatten)?;
        self.queue_transfer(
            view,
            Box::new(move |raw| {
                let flat = data.as_slice().expect("standard layout is contiguous");
                // SAFETY: `flat` is the heap data of `data` (an Arc-shared array, which its
                // other holders can only change by copying), owned by the flight.
                unsafe {
                    let started = start_scatterv_root(raw, flat, &counts);
                    Flight::new(started, Box::new(data), |_| Ok(Box::new(())))
                }
            }),
        )
    }

    /// Concatenates the engines' values of `name` along axis 0 in target order (the outcome:
    /// an `ArrayD<T>`). The first step (what each engine holds) is sent at once; the data moves
    /// once every engine has answered it and the gather's turn on the view has come.
    pub(crate) fn gather_async<T: Element>(
        &self,
        targets: &Rc<[EngineId]>,
        name: &str,
    ) -> Result<TransferId> {
        if self.is_local() {
            let outcome = self
                .gather_with(targets, name, crate::comm::alloc::zeroed_vec::<T>, None)
                .map(|a| Box::new(a) as Box<dyn Any>);
            return Ok(self.finished_transfer(outcome));
        }
        let view = self.view_of(targets)?;
        // Its first step may not start before the view's queued transfers have started: the
        // engines answer it only after those (they run requests in order), so it cannot
        // overtake them anyway; its data moves in queue order.
        let request = self.submit(targets, |id| Request::Gather {
            id,
            name: name.to_string(),
            view,
            dtype: T::DTYPE,
        })?;
        let name = name.to_string();
        let targets = targets.clone();
        self.queue_after_answers(
            view,
            request,
            Box::new(move |_hub, answers, raw| {
                match gather_decision::<T>(&name, &targets, answers) {
                    Err(e) => say_no(raw, e),
                    Ok(layout) => {
                        let total = layout.total();
                        let decision = Box::new([1u64, total as u64]);
                        let mut data = crate::comm::alloc::zeroed_vec::<T>(total);
                        // SAFETY: the broadcast reads `decision` and the gather writes `data`,
                        // both heap memory the flight owns (moving a Box or a Vec does not move
                        // it) and nobody touches until they complete.
                        unsafe {
                            let started = start_bcast_root(raw, &decision[..])
                                .then(start_gatherv_root(raw, &mut data, &layout.counts));
                            let shape = layout.shape.clone();
                            Flight::new(started, Box::new((decision, data)), move |buffers| {
                                let (_, data) = *buffers
                                    .downcast::<(Box<[u64; 2]>, Vec<T>)>()
                                    .expect("the gather's own buffers");
                                let array = ArrayD::from_shape_vec(IxDyn(&shape), data)
                                    .expect("layout matches data");
                                Ok(Box::new(array) as Box<dyn Any>)
                            })
                        }
                    }
                }
            }),
        )
    }
}

/// Tells a gather's engines "no" (they wait for the decision), then fails with `error`.
fn say_no(raw: RawComm, error: Error) -> Flight {
    let decision = Box::new([0u64, 0]);
    // SAFETY: the broadcast reads `decision`, heap memory the flight owns.
    unsafe {
        let started = start_bcast_root(raw, &decision[..]);
        Flight::new(started, Box::new(decision), move |_| Err(error))
    }
}

/// The value with its array (if any) in standard layout, so that it can be sent in place.
fn in_standard_layout(value: Value) -> Value {
    match value {
        Value::Array(a) => Value::Array(a.into_standard_layout()),
        other => other,
    }
}

/// Starts broadcasting an array's elements (in standard layout: read in place).
fn start_bcast_array(raw: RawComm, a: &ArrayValue) -> Started {
    struct StartBcast<'a>(RawComm, &'a mut Option<Started>);
    impl ElementsVisitor for StartBcast<'_> {
        fn visit<T: Element>(self, data: &[T]) {
            // SAFETY: `data` is the array's own memory (standard layout: not a copy); the
            // caller keeps the array until the broadcast completes.
            *self.1 = Some(unsafe { start_bcast_root(self.0, data) });
        }
    }
    let mut started = None;
    a.visit_elements(StartBcast(raw, &mut started));
    started.expect("visited")
}
