//! [`DirectView`]: requests to a fixed list of engines.

use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

use ndarray::{ArrayD, ArrayView, ArrayViewD, Dimension, IxDyn};
use serde::{Serialize, de::DeserializeOwned};

use super::start_map;
use crate::balance::chunking::Chunking;
use crate::balance::job::MapSpec;
use crate::error::{Call, Error, RemoteError, RemoteErrorKind, Result};
use crate::hub::Hub;
use crate::hub::tracking::failures;
use crate::ids::{EngineId, RequestId};
use crate::protocol::{OutputMode, Request};
use crate::registry::{Executable, Remote};
use crate::result::{
    AsyncResult, Many, MapResult, Multiplicity, ShowProgress, decode_ack, decode_pulled,
    decode_value,
};
use crate::value::{Element, NamespaceValue, TypeSpec, Value};

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
    pub(super) hub: Rc<Hub>,
    pub(super) targets: Rc<[EngineId]>,
    /// How long blocking calls wait (`None`: as long as it takes).
    pub(super) limit: Option<Duration>,
    /// What `apply` and `execute` do with what the call prints on the engines.
    pub(super) capture: OutputMode,
    /// How blocking calls and maps show progress (`None`: maps automatically, calls not).
    pub(super) show: Option<ShowProgress>,
    _shape: PhantomData<M>,
}

impl<M: Multiplicity> Clone for DirectView<M> {
    fn clone(&self) -> Self {
        DirectView {
            hub: self.hub.clone(),
            targets: self.targets.clone(),
            limit: self.limit,
            capture: self.capture,
            show: self.show,
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
    pub(crate) fn new(hub: Rc<Hub>, targets: Vec<EngineId>) -> Self {
        DirectView {
            hub,
            targets: targets.into(),
            limit: None,
            capture: OutputMode::Inherit,
            show: None,
            _shape: PhantomData,
        }
    }

    /// A copy of this view whose blocking calls give up after `limit` with
    /// [`Error::Timeout`]: `push`, `pull`, `scatter`, `gather`, `gather_into`, `clear`,
    /// `apply_sync`, `execute_sync` and `map_sync`. (Results of the non-blocking calls have
    /// their own: `AsyncResult::get_timeout`.)
    ///
    /// What a timeout leaves: a request that was sent goes on, and its answer is dropped; a
    /// transfer of arrays is not started unless every engine of the view has finished what was
    /// sent to it before, so a timed-out `scatter`, `gather` or array `push` moved nothing. In a
    /// one-rank run (no `mpirun`) remote functions run inline, in the caller's thread, and
    /// cannot be timed out.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client) -> mpiview::Result<()> {
    /// use std::time::Duration;
    /// let dview = client.direct_view().timeout(Duration::from_secs(10));
    /// match dview.pull::<f64>("x") {
    ///     Err(mpiview::Error::Timeout(_)) => eprintln!("an engine is stuck"),
    ///     other => println!("{:?}", other?),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn timeout(&self, limit: Duration) -> Self {
        DirectView {
            limit: Some(limit),
            ..self.clone()
        }
    }

    /// A copy of this view whose `apply` and `execute` capture what the call prints on each
    /// engine (stdout and stderr, C libraries' included) and bring it back with the result:
    /// [`AsyncResult::stdout`], [`AsyncResult::stderr`], [`AsyncResult::display_outputs`], as
    /// IPython Parallel does. Without it (the default) engines print straight to the launcher's
    /// output, as any MPI program does; so does everything printed outside captured calls.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<(), ()>) -> mpiview::Result<()> {
    /// let ar = client.direct_view().capture_output(true).apply(f, ())?;
    /// ar.wait(None)?;
    /// ar.display_outputs(); // [stdout:0] ... per engine, in target order
    /// # Ok(()) }
    /// ```
    pub fn capture_output(&self, capture: bool) -> Self {
        DirectView {
            capture: if capture {
                OutputMode::Capture
            } else {
                OutputMode::Inherit
            },
            ..self.clone()
        }
    }

    /// A copy of this view whose `apply` and `execute` capture what the call prints, as
    /// [`capture_output`](Self::capture_output) does, and also print it here while the call
    /// runs: `[stdout:ID] line` on the driver's stdout, `[stderr:ID] line` on its stderr, as
    /// IPython Parallel streams output. The engines send what a call has printed whenever it
    /// reports progress ([`Context::progress`](crate::Context::progress), at most ten times a
    /// second) or calls [`Context::flush_output`](crate::Context::flush_output), and the rest
    /// with the answer (an engine runs one call at a time and cannot send while the call is
    /// busy elsewhere). The driver prints whenever it calls into mpiview (any wait).
    /// [`AsyncResult::stdout`] has everything received so far. In a one-rank run the output
    /// comes with the answer.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<(), ()>) -> mpiview::Result<()> {
    /// let ar = client.direct_view().stream_output(true).apply(f, ())?;
    /// ar.get()?; // [stdout:0] ... printed as the engines' calls print
    /// # Ok(()) }
    /// ```
    pub fn stream_output(&self, stream: bool) -> Self {
        DirectView {
            capture: if stream {
                OutputMode::Stream
            } else {
                OutputMode::Inherit
            },
            ..self.clone()
        }
    }

    /// A copy of this view whose blocking calls (`apply_sync`, `execute_sync`, `map_sync`) and
    /// maps show progress as `show` says: engines done, or the work the engines report with
    /// [`Context::progress`](crate::Context::progress) (see
    /// [`AsyncResult::wait_with_progress`]). By default maps show it automatically (a bar when
    /// the launcher's output is a terminal, once a wait has lasted 200 ms) and blocking calls
    /// show none.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<u64, u64>) -> mpiview::Result<()> {
    /// use mpiview::ShowProgress;
    /// let dview = client.direct_view().progress(ShowProgress::Auto);
    /// let counts = dview.apply_sync(f, 8192)?; // a bar while it runs, on a terminal
    /// # Ok(()) }
    /// ```
    pub fn progress(&self, show: ShowProgress) -> Self {
        DirectView {
            show: Some(show),
            ..self.clone()
        }
    }

    /// Waits for `result` as this view's blocking calls do: within its time limit, showing
    /// progress if the view says so.
    fn wait_blocking<R>(&self, result: &AsyncResult<R, M>) -> Result<()> {
        let ready = match self.show {
            Some(show) => result.wait_showing(show, self.limit)?,
            None => result.wait(self.limit)?,
        };
        match (ready, self.limit) {
            (false, Some(limit)) => Err(Error::Timeout(limit)),
            _ => Ok(()),
        }
    }

    /// The time limit of this view's blocking calls, if any.
    pub fn time_limit(&self) -> Option<Duration> {
        self.limit
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
    /// Returns once the value has left the controller (an array: once its broadcast is done);
    /// every request sent to these engines afterwards, through any view, runs after the store.
    /// Storing cannot fail on an engine, so no answer is waited for, and a push never blocks on
    /// an engine busy with earlier work unless it carries arrays.
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
        self.hub.push(&self.targets, values, self.limit)
    }

    /// [`pull`](Self::pull) without waiting (IPython Parallel's `pull(..., block=False)`): the
    /// values arrive while the driver does other work (arrays included: their data is received
    /// whenever the controller waits for anything). Each `get` decodes afresh, copying arrays:
    /// read a large array once.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client) -> mpiview::Result<()> {
    /// let dview = client.direct_view();
    /// let pending = dview.pull_async::<f64>("x")?;
    /// // ... submit other work ...
    /// let xs: Vec<f64> = pending.get()?;
    /// # Ok(()) }
    /// ```
    pub fn pull_async<T: NamespaceValue>(&self, name: &str) -> Result<AsyncResult<T, M>> {
        let names = vec![(name.to_string(), T::spec())];
        let id = self
            .hub
            .submit(&self.targets, |id| Request::Pull { id, names })?;
        Ok(AsyncResult::new(
            self.hub.clone(),
            id,
            self.targets.clone(),
            decode_pulled::<T>,
            (Call::Pull, "pull".to_string()),
        ))
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
                    call: Call::Pull,
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
        self.hub.pull(&self.targets, names, self.limit)
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
        let answers = self
            .hub
            .round_trip(&self.targets, self.limit, |id| Request::Clear { id, names })?;
        failures(Call::Clear, &self.targets, &answers)
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
        self.hub
            .scatter(&self.targets, name, data, flatten, self.limit)
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
        self.hub.gather_with(
            &self.targets,
            name,
            crate::comm::alloc::zeroed_vec::<T>,
            self.limit,
        )
    }

    /// Like [`gather`](Self::gather), but into `out`, reusing its memory when it is large
    /// enough (the result replaces `out`, whatever its shape was). Iterative codes that gather
    /// the same array again and again avoid a fresh allocation, and its page faults, every time.
    /// On error `out` is left as it was.
    pub fn gather_into<T: Element>(&self, name: &str, out: &mut ArrayD<T>) -> Result<()> {
        let result = self.hub.gather_with(
            &self.targets,
            name,
            |n| {
                let old = std::mem::replace(
                    out,
                    ArrayD::from_shape_vec(IxDyn(&[0]), Vec::new()).expect("empty"),
                );
                let (mut v, offset) = old.into_raw_vec_and_offset();
                if offset.is_some_and(|o| o != 0) || v.capacity() < n {
                    return crate::comm::alloc::zeroed_vec(n);
                }
                v.resize(n, T::default());
                v
            },
            self.limit,
        )?;
        *out = result;
        Ok(())
    }

    // ----- functions -----

    /// Calls `f(args)` on every engine of the view without waiting (`dview.apply(f, ...)`).
    pub fn apply<A: Serialize, R: DeserializeOwned>(
        &self,
        f: &Remote<A, R>,
        args: A,
    ) -> Result<AsyncResult<R, M>> {
        let args = postcard::to_stdvec(&args)?;
        let func = self.hub.registry.resolve(f.key())?;
        let id = self.hub.submit(&self.targets, |id| Request::Apply {
            id,
            func,
            args,
            capture: self.capture,
        })?;
        Ok(self.applied(id, func))
    }

    /// The result of apply request `id` of function `func` on this view's engines.
    pub(super) fn applied<R: DeserializeOwned>(
        &self,
        id: RequestId,
        func: u32,
    ) -> AsyncResult<R, M> {
        if self.capture == OutputMode::Stream {
            self.hub.stream_output_of(id);
        }
        AsyncResult::new(
            self.hub.clone(),
            id,
            self.targets.clone(),
            decode_value::<R>,
            (Call::Apply, self.hub.registry.name(func).to_string()),
        )
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
        let result = self.apply(f, args)?;
        self.wait_blocking(&result)?;
        result.get()
    }

    /// Runs a registered task on every engine's namespace without waiting
    /// (`dview.execute(...)`).
    pub fn execute(&self, task: &impl Executable) -> Result<AsyncResult<(), M>> {
        let task = self.hub.registry.resolve(task.task().key())?;
        let id = self.hub.submit(&self.targets, |id| Request::Execute {
            id,
            task,
            capture: self.capture,
        })?;
        if self.capture == OutputMode::Stream {
            self.hub.stream_output_of(id);
        }
        Ok(AsyncResult::new(
            self.hub.clone(),
            id,
            self.targets.clone(),
            decode_ack,
            (Call::Execute, self.hub.registry.name(task).to_string()),
        ))
    }

    /// Runs a registered task on every engine and waits.
    pub fn execute_sync(&self, task: &impl Executable) -> Result<()> {
        let result = self.execute(task)?;
        self.wait_blocking(&result)?;
        result.get().map(|_| ())
    }

    fn start<A, R, I>(
        &self,
        f: &Remote<A, R>,
        items: I,
        total: Option<usize>,
        _bound: Option<u64>,
    ) -> Result<MapResult<R>>
    where
        A: Serialize + 'static,
        R: DeserializeOwned + 'static,
        I: Iterator<Item = A> + 'static,
    {
        let func = self.hub.registry.resolve(f.key())?;
        let spec = MapSpec {
            func,
            name: self.hub.registry.name(func).to_string(),
            targets: self.targets.clone(),
            total,
            retries: 0,
            max_outstanding: None,
            unordered: false,
            pinned: true,
            call: Call::Map,
        };
        let show = self.show.unwrap_or(ShowProgress::Auto);
        start_map(&self.hub, spec, Chunking::Auto, items, show)
    }

    super::map_methods!(
        "Maps `f` over `items` without waiting: one block per engine by the block rule, in \
         target order (10 items over 4 engines: 3, 3, 2, 2); results come back in input order \
         in a [`MapResult`]. A failing item is a remote error naming the engine and the item's \
         index."
    );
}
