//! [`DirectView`]: requests to a fixed list of engines.

use std::marker::PhantomData;
use std::rc::Rc;

use ndarray::{ArrayD, ArrayView, ArrayViewD, Dimension, IxDyn};
use serde::{Serialize, de::DeserializeOwned};

use super::gather_layout::{GatherLayout, gather_layout};
use crate::balance::chunking::Chunking;
use crate::balance::job::MapSpec;
use crate::balance::start_map;
use crate::client::core::{Core, failures, remote_error};
use crate::client::link::Body;
use crate::comm::alloc::zeroed_vec;
use crate::comm::collective::{bcast_root, gatherv_root, scatterv_root};
use crate::comm::p2p::RawComm;
use crate::error::{Error, RemoteError, RemoteErrorKind, Result};
use crate::partition::block_counts;
use crate::protocol::Request;
use crate::registry::{Remote, Task};
use crate::result::{
    AsyncResult, Many, MapResult, Multiplicity, ShowProgress, decode_ack, decode_value,
};
use crate::targets::EngineId;
use crate::value::{ArrayValue, Element, ElementsVisitor, NamespaceValue, TypeSpec, Value};

/// A view of a fixed list of engines, in target order: push and pull named values, scatter and
/// gather arrays, apply functions, execute tasks, map.
///
/// Every method is **controller only** (call it inside the driver). `M` is [`Many`] for views
/// made from a range, slice or list (results are a `Vec` in target order) and
/// [`One`](crate::One) for a view of one engine made from an index (results are the value).
///
/// Numeric arrays move as native MPI data with `MPI_Bcast` (push), `MPI_Scatterv` (scatter) and
/// `MPI_Gatherv` (gather) over a communicator of the controller and this view's engines,
/// created on first use and cached for the target list.
///
/// ```no_run
/// use mpiview::{Cluster, Result};
/// use ndarray::Array1;
///
/// fn main() -> std::process::ExitCode {
///     let mut cluster = Cluster::init().expect("MPI starts");
///     let sum = cluster.register_with_context("sum", |ctx, ()| {
///         Ok(ctx.array::<i64>("a_partition")?.sum())
///     });
///     cluster.run(|client| -> Result<()> {
///         let dview = client.direct_view();
///         dview.scatter("a_partition", &Array1::from_iter(0..10i64))?;
///         let sums: Vec<i64> = dview.apply_sync(&sum, ())?;
///         assert_eq!(sums.iter().sum::<i64>(), 45);
///         Ok(())
///     })
/// }
/// ```
pub struct DirectView<M: Multiplicity = Many> {
    core: Rc<Core>,
    targets: Rc<[EngineId]>,
    _shape: PhantomData<M>,
}

impl<M: Multiplicity> Clone for DirectView<M> {
    fn clone(&self) -> Self {
        DirectView {
            core: self.core.clone(),
            targets: self.targets.clone(),
            _shape: PhantomData,
        }
    }
}

impl<M: Multiplicity> std::fmt::Debug for DirectView<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DirectView{:?}", &self.targets[..])
    }
}

impl<M: Multiplicity> DirectView<M> {
    pub(crate) fn new(core: Rc<Core>, targets: Vec<EngineId>) -> Self {
        DirectView {
            core,
            targets: targets.into(),
            _shape: PhantomData,
        }
    }

    /// The engines of this view, in target order.
    pub fn targets(&self) -> &[EngineId] {
        &self.targets
    }

    /// Number of engines.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Always false: a view has at least one engine.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    // ----- namespace -----

    /// Stores `value` under `name` on every engine of the view (`dview["a"] = 5`).
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client) -> mpiview::Result<()> {
    /// let dview = client.direct_view();
    /// dview.push("a", 10i64)?;
    /// dview.push("xs", vec![1.0f64, 2.0])?;
    /// assert_eq!(client.engine(0)?.pull::<i64>("a")?, 10);
    /// # Ok(()) }
    /// ```
    pub fn push(&self, name: &str, value: impl NamespaceValue) -> Result<()> {
        self.push_values(vec![(name.to_string(), value.into_value())])
    }

    /// Stores several values at once (`dview.push({'a': a, 'b': b})`).
    pub fn push_values(&self, values: Vec<(String, Value)>) -> Result<()> {
        let local = self.core.with_local(|s| {
            for (name, value) in &values {
                s.store(name.clone(), value.clone());
            }
        });
        if local.is_some() {
            return Ok(());
        }
        let has_arrays = values.iter().any(|(_, v)| matches!(v, Value::Array(_)));
        let comm = if has_arrays {
            Some(self.core.view_comm(&self.targets)?)
        } else {
            None
        };
        let wire = values
            .iter()
            .map(|(n, v)| (n.clone(), v.to_wire().0))
            .collect();
        let id = self.core.next_id();
        let request = Request::Push {
            id,
            comm: comm.map(|(c, _)| c),
            values: wire,
        };
        self.core.submit(self.targets.clone(), id, &request)?;
        if let Some((_, raw)) = comm {
            for (_, value) in &values {
                if let Value::Array(a) = value {
                    bcast_array(raw, a, &mut || self.core.pump_available());
                }
            }
        }
        self.core.take_deferred()?;
        self.core.wait_for(id, None)?;
        let t = self.core.take(id);
        let slots: Vec<_> = t.slots.into_iter().flatten().collect();
        failures(&self.targets, &slots)
    }

    /// The value of `name` on each engine, as `T` (`dview["a"]`, `dview.pull("a")`).
    ///
    /// A missing name or a value of another type is a remote error naming the engine; the
    /// errors of all engines come back together.
    pub fn pull<T: NamespaceValue>(&self, name: &str) -> Result<M::Out<T>> {
        let per_engine = self.pull_specs(vec![(name.to_string(), T::spec())])?;
        let mut values = Vec::with_capacity(per_engine.len());
        let mut errors = Vec::new();
        for (&engine, mut vs) in self.targets.iter().zip(per_engine) {
            let v = vs.pop().expect("one value per name");
            match T::from_value(v) {
                Ok(t) => values.push(t),
                Err(why) => errors.push(RemoteError {
                    engine,
                    function: "pull".into(),
                    kind: RemoteErrorKind::WrongType,
                    message: format!("`{name}`: {why}"),
                    item: None,
                }),
            }
        }
        if errors.is_empty() {
            Ok(M::collect(values))
        } else {
            Err(errors.into())
        }
    }

    /// Several values at once, untyped (`dview.pull(('a', 'b'))`): per engine, one value per
    /// name in the order given.
    pub fn pull_values(&self, names: &[&str]) -> Result<M::Out<Vec<Value>>> {
        let specs = names
            .iter()
            .map(|n| (n.to_string(), TypeSpec::Any))
            .collect();
        Ok(M::collect(self.pull_specs(specs)?))
    }

    fn pull_specs(&self, names: Vec<(String, TypeSpec)>) -> Result<Vec<Vec<Value>>> {
        let slots = self
            .core
            .round_trip(self.targets.clone(), |id| Request::Pull { id, names })?;
        let mut per_engine = Vec::with_capacity(slots.len());
        let mut errors = Vec::new();
        for (&engine, slot) in self.targets.iter().zip(slots) {
            match slot.body {
                Body::Pulled(items) => {
                    let mut values = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Ok(v) => values.push(v),
                            Err(f) => errors.push(remote_error(engine, "pull", f, None)),
                        }
                    }
                    per_engine.push(values);
                }
                Body::Failed { function, failure } => {
                    errors.push(remote_error(engine, &function, failure, None))
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

    /// Removes every value from the engines' namespaces.
    pub fn clear(&self) -> Result<()> {
        self.clear_request(None)
    }

    /// Removes the given names from the engines' namespaces (absent names are ignored).
    pub fn clear_names(&self, names: &[&str]) -> Result<()> {
        self.clear_request(Some(names.iter().map(|s| s.to_string()).collect()))
    }

    fn clear_request(&self, names: Option<Vec<String>>) -> Result<()> {
        let slots = self
            .core
            .round_trip(self.targets.clone(), |id| Request::Clear { id, names })?;
        failures(&self.targets, &slots)
    }

    // ----- arrays -----

    /// Splits `data` along axis 0 by the block rule over this view's engines, in target order,
    /// and stores each part under `name` (10 rows over 4 engines → 3, 3, 2, 2; an engine with no
    /// rows gets an empty array of the right trailing shape).
    ///
    /// The controller sends straight from `data` (no copy when it is in standard layout); each
    /// engine receives into its partition. Returns when every engine has its part.
    pub fn scatter<'a, T: Element, D: Dimension>(
        &self,
        name: &str,
        data: impl Into<ArrayView<'a, T, D>>,
    ) -> Result<()> {
        self.scatter_impl(name, data.into().into_dyn(), false)
    }

    /// Like [`scatter`](Self::scatter), but an engine that gets exactly one row stores the row
    /// itself (a scalar for 1-D data) rather than an array of one row, as IPython Parallel's
    /// `scatter(..., flatten=True)` does.
    pub fn scatter_flattened<'a, T: Element, D: Dimension>(
        &self,
        name: &str,
        data: impl Into<ArrayView<'a, T, D>>,
    ) -> Result<()> {
        self.scatter_impl(name, data.into().into_dyn(), true)
    }

    fn scatter_impl<T: Element>(
        &self,
        name: &str,
        data: ArrayViewD<'_, T>,
        flatten: bool,
    ) -> Result<()> {
        if data.ndim() == 0 {
            return Err(Error::Invalid(format!(
                "cannot scatter `{name}`: a 0-d array has no axis to split (push it instead)"
            )));
        }
        let rows = data.shape()[0];
        let item_shape: Vec<usize> = data.shape()[1..].to_vec();
        let item_len: usize = item_shape.iter().product();
        let contiguous = data.as_standard_layout();
        let flat = contiguous
            .as_slice()
            .expect("standard layout is contiguous");
        let local = self.core.with_local(|s| {
            s.store_partition(name.to_string(), flat.to_vec(), rows, &item_shape, flatten)
        });
        if local.is_some() {
            return Ok(());
        }
        let (comm, raw) = self.core.view_comm(&self.targets)?;
        let request = Request::Scatter {
            name: name.to_string(),
            comm,
            dtype: T::DTYPE,
            item_shape: item_shape.iter().map(|&d| d as u64).collect(),
            rows: rows as u64,
            flatten,
        };
        for &engine in self.targets.iter() {
            self.core.send(engine, &request)?;
        }
        let counts: Vec<usize> = block_counts(rows, self.targets.len())
            .into_iter()
            .map(|r| r * item_len)
            .collect();
        scatterv_root(raw, flat, &counts, &mut || self.core.pump_available());
        self.core.take_deferred()
    }

    /// Concatenates the engines' values of `name` along axis 0, in target order
    /// (`dview.gather("a")`). Scalars count as one item each, so gathering per-engine sums gives
    /// the 1-D array of sums; a value with one dimension fewer than the others (a single row
    /// left by [`scatter_flattened`](Self::scatter_flattened)) counts as one row. When every
    /// engine holds such a row, nothing says they were rows: they are joined along their own
    /// axis 0, as `numpy.concatenate` does in IPython Parallel.
    ///
    /// Errors (before any data moves, leaving the engines as they were): a name missing or of
    /// another type on some engine, pieces that do not fit together, or a result larger than
    /// the controller's available memory.
    pub fn gather<T: Element>(&self, name: &str) -> Result<ArrayD<T>> {
        self.gather_with(name, zeroed_vec::<T>)
    }

    /// Like [`gather`](Self::gather), but into `out`, reusing its memory when it is large
    /// enough (the result replaces `out`, whatever its shape was). Iterative codes that gather
    /// the same array again and again avoid a fresh allocation, and its page faults, every time.
    /// On error `out` is left as it was.
    pub fn gather_into<T: Element>(&self, name: &str, out: &mut ArrayD<T>) -> Result<()> {
        let result = self.gather_with(name, |n| {
            let old = std::mem::replace(
                out,
                ArrayD::from_shape_vec(IxDyn(&[0]), Vec::new()).expect("empty"),
            );
            let (mut v, offset) = old.into_raw_vec_and_offset();
            if offset.is_some_and(|o| o != 0) || v.capacity() < n {
                return zeroed_vec(n);
            }
            v.resize(n, T::default());
            v
        })?;
        *out = result;
        Ok(())
    }

    /// The gather, with `alloc(n)` giving the receive buffer once the engines' pieces are known
    /// to fit (nothing can fail after it is called).
    fn gather_with<T: Element>(
        &self,
        name: &str,
        alloc: impl FnOnce(usize) -> Vec<T>,
    ) -> Result<ArrayD<T>> {
        let local = self.core.with_local(|s| -> Result<(GatherLayout, Vec<T>)> {
            let shape = s
                .gather_shape(name, T::DTYPE)
                .map_err(|f| Error::from(remote_error(0, "gather", f, None)))?;
            let layout = gather_layout(&[shape]).map_err(Error::Invalid)?;
            fits_in_memory::<T>(name, &layout)?;
            let data = s.gather_data::<T>(name).into_owned();
            Ok((layout, data))
        });
        if let Some(result) = local {
            let (layout, data) = result?;
            let mut buf = alloc(layout.total());
            buf.copy_from_slice(&data);
            return Ok(
                ArrayD::from_shape_vec(IxDyn(&layout.shape), buf).expect("layout matches data")
            );
        }
        let (comm, raw) = self.core.view_comm(&self.targets)?;
        let slots = self
            .core
            .round_trip(self.targets.clone(), |id| Request::Gather {
                id,
                name: name.to_string(),
                comm,
                dtype: T::DTYPE,
            })?;
        let mut shapes = Vec::with_capacity(slots.len());
        let mut errors = Vec::new();
        for (&engine, slot) in self.targets.iter().zip(slots) {
            match slot.body {
                Body::Shape(Ok(s)) => shapes.push(s),
                Body::Shape(Err(f)) => errors.push(remote_error(engine, "gather", f, None)),
                _ => return Err(Error::Runtime("unexpected reply to a gather".into())),
            }
        }
        let decision = if errors.is_empty() {
            gather_layout(&shapes)
                .map_err(|why| Error::Invalid(format!("cannot gather `{name}`: {why}")))
                .and_then(|layout| fits_in_memory::<T>(name, &layout).map(|()| layout))
        } else {
            Err(errors.into())
        };
        let idle = &mut || self.core.pump_available();
        match decision {
            Err(e) => {
                bcast_root(raw, &[0u64, 0], idle);
                self.core.take_deferred()?;
                Err(e)
            }
            Ok(layout) => {
                let total = layout.total();
                bcast_root(raw, &[1u64, total as u64], idle);
                let mut data = alloc(total);
                gatherv_root(raw, &mut data, &layout.counts, idle);
                self.core.take_deferred()?;
                Ok(
                    ArrayD::from_shape_vec(IxDyn(&layout.shape), data)
                        .expect("layout matches data"),
                )
            }
        }
    }

    // ----- functions -----

    /// Calls `f(args)` on every engine of the view without waiting (`dview.apply(f, ...)`).
    pub fn apply<A: Serialize, R: DeserializeOwned>(
        &self,
        f: &Remote<A, R>,
        args: A,
    ) -> Result<AsyncResult<R, M>> {
        let id = self.core.next_id();
        let request = Request::Apply {
            id,
            func: f.index(),
            args: postcard::to_stdvec(&args)?,
        };
        self.core.submit(self.targets.clone(), id, &request)?;
        Ok(AsyncResult::new(
            self.core.clone(),
            id,
            self.targets.clone(),
            decode_value::<R>,
        ))
    }

    /// Same as [`apply`](Self::apply) (IPython Parallel's name for the non-blocking form).
    pub fn apply_async<A: Serialize, R: DeserializeOwned>(
        &self,
        f: &Remote<A, R>,
        args: A,
    ) -> Result<AsyncResult<R, M>> {
        self.apply(f, args)
    }

    /// Calls `f(args)` on every engine and waits: one value for a single-engine view, a `Vec`
    /// in target order otherwise; every engine's error together if any failed.
    pub fn apply_sync<A: Serialize, R: DeserializeOwned>(
        &self,
        f: &Remote<A, R>,
        args: A,
    ) -> Result<M::Out<R>> {
        self.apply(f, args)?.get()
    }

    /// Runs a registered task on every engine's namespace without waiting
    /// (`dview.execute(...)`).
    pub fn execute(&self, task: &Task) -> Result<AsyncResult<(), M>> {
        let id = self.core.next_id();
        self.core.submit(
            self.targets.clone(),
            id,
            &Request::Execute {
                id,
                task: task.index(),
            },
        )?;
        Ok(AsyncResult::new(
            self.core.clone(),
            id,
            self.targets.clone(),
            decode_ack,
        ))
    }

    /// Runs a registered task on every engine and waits.
    pub fn execute_sync(&self, task: &Task) -> Result<()> {
        self.execute(task)?.get().map(|_| ())
    }

    /// Maps `f` over `items` without waiting: one block per engine by the block rule, in target
    /// order (10 items over 4 engines: 3, 3, 2, 2); results come back in input order in a
    /// [`MapResult`]. A failing item is a remote error naming the engine and the item's index.
    pub fn map<A, R>(
        &self,
        f: &Remote<A, R>,
        items: impl IntoIterator<Item = A>,
    ) -> Result<MapResult<R>>
    where
        A: Serialize + 'static,
        R: DeserializeOwned + 'static,
    {
        let items: Vec<A> = items.into_iter().collect();
        let spec = MapSpec {
            func: f.index(),
            name: self.core.registry.name(f.index()).to_string(),
            targets: self.targets.clone(),
            total: Some(items.len()),
            retries: 0,
            max_outstanding: None,
            unordered: false,
            pinned: true,
        };
        start_map(
            &self.core,
            spec,
            Chunking::Auto,
            items.into_iter(),
            ShowProgress::Auto,
        )
    }

    /// Maps and waits: the results in input order, or every failure together.
    pub fn map_sync<A, R>(
        &self,
        f: &Remote<A, R>,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>>
    where
        A: Serialize + 'static,
        R: DeserializeOwned + 'static,
    {
        self.map(f, items)?.into_vec()
    }
}

/// Checks that a gathered array fits in the controller's available memory.
fn fits_in_memory<T: Element>(name: &str, layout: &GatherLayout) -> Result<()> {
    let bytes = (layout.total() as u128) * (std::mem::size_of::<T>() as u128);
    if bytes > isize::MAX as u128 {
        return Err(Error::Invalid(format!(
            "cannot gather `{name}`: {bytes} bytes exceed the address space"
        )));
    }
    if let Some(available) = crate::sysinfo::memory_for_results()
        && bytes > available as u128
    {
        return Err(Error::Invalid(format!(
            "cannot gather `{name}`: the result needs {:.2} GB but the controller has {:.2} GB of memory available",
            bytes as f64 / 1e9,
            available as f64 / 1e9
        )));
    }
    Ok(())
}

/// Broadcasts an array's elements from the controller (contiguously; a non-standard layout is
/// copied first).
fn bcast_array(raw: RawComm, a: &ArrayValue, idle: &mut dyn FnMut()) {
    struct Bcast<'a>(RawComm, &'a mut dyn FnMut());
    impl ElementsVisitor for Bcast<'_> {
        fn visit<T: Element>(self, data: &[T]) {
            bcast_root(self.0, data, self.1);
        }
    }
    a.visit_elements(Bcast(raw, idle));
}
