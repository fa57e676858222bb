//! The table of remote functions every rank builds, in the same order, before the driver runs.
//!
//! Code never crosses ranks: a [`Remote`] handle names a function of this table (a `#[remote]`
//! function by its path, a registered closure by its place in registration order) plus the
//! argument and result types, and every rank runs the same binary, so the name means the same
//! function everywhere. Arguments and results travel encoded with postcard. At start-up the controller
//! compares a fingerprint of every rank's table (names and type signatures) and refuses to run if
//! they differ.

mod attributed;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use mpi::topology::SimpleCommunicator;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{BoxError, RemoteErrorKind};
use crate::last_words;
use crate::namespace::{Namespace, NamespaceError};
use crate::panic_guard::call_catching;
use crate::targets::EngineId;

pub use attributed::{Attributed, Fallible, plain, with_context};

/// What a registered function sees of the engine it runs on.
///
/// Dereferences to the engine's [`Namespace`], so `ctx.get::<f64>("a")`, `ctx.set("b", 1)` and
/// `ctx.array::<f64>("x")` work directly.
pub struct Context<'a> {
    engine: EngineId,
    n_engines: usize,
    namespace: &'a mut Namespace,
    engines: Option<&'a SimpleCommunicator>,
    reporter: Option<&'a mut dyn Report>,
}

/// Where a call's progress reports and printed pieces go (on an engine rank: to the
/// controller).
pub(crate) trait Report {
    /// `done` of `total` units of the call's work are done (sent at most ten times a second;
    /// with streaming output, what the call printed goes first).
    fn progress(&mut self, done: u64, total: u64);
    /// Sends what the call has printed so far, if its output streams.
    fn flush_output(&mut self);
}

impl<'a> Context<'a> {
    pub(crate) fn new(engine: EngineId, n_engines: usize, namespace: &'a mut Namespace) -> Self {
        Context {
            engine,
            n_engines,
            namespace,
            engines: None,
            reporter: None,
        }
    }

    pub(crate) fn with_engines(mut self, engines: Option<&'a SimpleCommunicator>) -> Self {
        self.engines = engines;
        self
    }

    pub(crate) fn with_reporter(mut self, reporter: Option<&'a mut dyn Report>) -> Self {
        self.reporter = reporter;
        self
    }

    /// Tells the driver how far this call has come: `done` of `total` units of its work (rows,
    /// draws, files: any unit, the same on every engine). The driver's progress display
    /// ([`AsyncResult::wait_with_progress`](crate::AsyncResult::wait_with_progress)) sums the
    /// reports of all engines, and [`AsyncResult::work_progress`](crate::AsyncResult::work_progress)
    /// reads them.
    ///
    /// Cheap enough to call in an inner loop: a report leaves at most ten times a second
    /// (nothing at all from a call shorter than a tenth of a second), as a small message to
    /// the controller. Reports count for a direct view's `apply` and `execute`; inside a map
    /// or a load-balanced task, and in a one-rank run, they are ignored (a map's progress is
    /// its items).
    ///
    /// ```
    /// # use mpiview::{Context, remote};
    /// #[remote]
    /// fn rows(ctx: &mut Context, n: u64) -> u64 {
    ///     let mut sum = 0;
    ///     for row in 0..n {
    ///         sum += row; // ... a row's work ...
    ///         ctx.progress(row + 1, n);
    ///     }
    ///     sum
    /// }
    /// ```
    pub fn progress(&mut self, done: u64, total: u64) {
        if let Some(reporter) = &mut self.reporter {
            reporter.progress(done, total);
        }
    }

    /// Sends what this call has printed so far to the driver now, when its view streams
    /// output ([`DirectView::stream_output`](crate::DirectView::stream_output)); does nothing
    /// otherwise. [`progress`](Self::progress) does the same at most ten times a second, so a
    /// call that reports its progress needs no flushes.
    ///
    /// The engine is single-threaded: what a call prints can leave only when the call calls in
    /// here (or `progress`); a call that never does sends everything with its answer.
    pub fn flush_output(&mut self) {
        if let Some(reporter) = &mut self.reporter {
            reporter.flush_output();
        }
    }

    /// A communicator of every engine and only the engines: rank `r` in it is engine `r`. For
    /// MPI that engines do among themselves inside remote functions (a reduction, MPI-IO,
    /// parallel HDF5); in a one-rank run it holds the one in-process engine.
    ///
    /// **Collective calls on it must be made by every engine**: call the function that makes
    /// them through a view of all engines (`client.direct_view()`), never a subset or a
    /// load-balanced view, or the engines that call wait forever for the others. Engines run
    /// one request at a time, so such a call starts on an engine only after everything sent to
    /// it before has finished there.
    ///
    /// ```no_run
    /// # use mpiview::Cluster;
    /// use mpi::collective::SystemOperation;
    /// use mpi::traits::*;
    /// let mut cluster = Cluster::init().unwrap();
    /// // The sum of the engine ids, computed among the engines.
    /// let sum = cluster.register_with_context("sum_ids", |ctx, ()| {
    ///     let mut total = 0u64;
    ///     let mine = ctx.engine_id() as u64;
    ///     ctx.engines().all_reduce_into(&mine, &mut total, SystemOperation::sum());
    ///     Ok(total)
    /// });
    /// cluster.run(|client| {
    ///     let sums = client.direct_view().apply_sync(&sum, ()).unwrap();
    ///     let n = client.n_engines() as u64;
    ///     assert!(sums.iter().all(|&s| s == n * (n - 1) / 2));
    /// });
    /// ```
    ///
    /// # Panics
    /// Panics outside a running job (a context made by hand in a unit test has none).
    pub fn engines(&self) -> &SimpleCommunicator {
        self.engines
            .expect("Context::engines: no engines' communicator outside a running job")
    }

    /// This engine's id (its MPI rank minus one).
    pub fn engine_id(&self) -> EngineId {
        self.engine
    }

    /// How many engines the job has.
    pub fn n_engines(&self) -> usize {
        self.n_engines
    }
}

impl Deref for Context<'_> {
    type Target = Namespace;
    fn deref(&self) -> &Namespace {
        self.namespace
    }
}

impl DerefMut for Context<'_> {
    fn deref_mut(&mut self) -> &mut Namespace {
        self.namespace
    }
}

/// A typed handle to a remote function taking `A` and returning `R`.
///
/// Made by [`#[remote]`](crate::remote) on a `fn` (a constant named like the function, known to
/// every rank by its path), or returned by [`Cluster::register`](crate::Cluster::register) /
/// [`Cluster::register_with_context`](crate::Cluster::register_with_context) (valid on every rank
/// because every rank registers the same closures in the same order).
pub struct Remote<A, R> {
    key: Key,
    _types: PhantomData<fn(A) -> R>,
}

/// How a handle names its function in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// A registered closure: its place in registration order.
    Index(u32),
    /// A `#[remote]` function: its path (`module_path!()::name`).
    Path(&'static str),
}

impl<A, R> Clone for Remote<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, R> Copy for Remote<A, R> {}

impl<A, R> std::fmt::Debug for Remote<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.key {
            Key::Index(i) => write!(f, "Remote#{i}"),
            Key::Path(path) => write!(f, "Remote({path})"),
        }
    }
}

impl<A, R> Remote<A, R> {
    /// The handle `#[remote]` writes for the function at `path`. Not for direct use: the
    /// attribute also puts the function in the link-time table this path is looked up in.
    #[doc(hidden)]
    pub const fn __attributed(path: &'static str) -> Self {
        Remote {
            key: Key::Path(path),
            _types: PhantomData,
        }
    }

    pub(crate) fn key(&self) -> Key {
        self.key
    }
}

/// A handle to a registered task: code that works on the engine's namespace and returns nothing
/// (the counterpart of IPython Parallel's `execute`).
#[derive(Clone, Copy, Debug)]
pub struct Task {
    key: Key,
}

/// What [`DirectView::execute`](crate::DirectView::execute) runs: a [`Task`], or a remote
/// function of no arguments that returns nothing (a `#[remote] fn f(ctx: &mut Context) ->
/// Result<()>`).
pub trait Executable: sealed::Sealed {
    /// The function's name in the table.
    #[doc(hidden)]
    fn task(&self) -> Task;
}

impl Executable for Task {
    fn task(&self) -> Task {
        *self
    }
}

impl Executable for Remote<(), ()> {
    fn task(&self) -> Task {
        Task { key: self.key }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Task {}
    impl Sealed for super::Remote<(), ()> {}
}

impl Task {
    pub(crate) fn key(&self) -> Key {
        self.key
    }
}

/// How one registered call failed, before the engine id is attached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Failure {
    pub kind: RemoteErrorKind,
    pub message: String,
}

impl Failure {
    fn from_box(e: BoxError) -> Failure {
        // Directly, or inside mpiview's error (a function returning `mpiview::Result`).
        let namespace =
            e.downcast_ref::<NamespaceError>()
                .or_else(|| match e.downcast_ref::<crate::Error>() {
                    Some(crate::Error::Namespace(n)) => Some(n),
                    _ => None,
                });
        let kind = match namespace {
            Some(NamespaceError::Missing(_)) => RemoteErrorKind::MissingName,
            Some(NamespaceError::WrongType { .. }) => RemoteErrorKind::WrongType,
            None => RemoteErrorKind::Failed,
        };
        Failure {
            kind,
            message: e.to_string(),
        }
    }

    fn panicked(message: String) -> Failure {
        Failure {
            kind: RemoteErrorKind::Panicked,
            message,
        }
    }

    pub(crate) fn bad_payload(message: impl std::fmt::Display) -> Failure {
        Failure {
            kind: RemoteErrorKind::BadPayload,
            message: message.to_string(),
        }
    }
}

/// What a mapped chunk gives back: the encoded `Vec<R>` of the items that succeeded, in order,
/// and the failures by position in the chunk. Failures travel apart from values so that the
/// controller can retry or report them without knowing `R`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Mapped {
    #[serde(with = "serde_bytes")]
    pub values: Vec<u8>,
    pub failures: Vec<(u32, Failure)>,
}

type CallFn = dyn Fn(&mut Context<'_>, &[u8]) -> Result<Vec<u8>, Failure>;
type MapFn = dyn Fn(&mut Context<'_>, &[u8]) -> Result<Mapped, Failure>;

/// Calls `f` on every item of an encoded `Vec<A>`; successes and failures apart.
///
/// Items are decoded one at a time and results encoded as they come, straight into the reply's
/// `Vec<R>` encoding (no `Vec<A>` or `Vec<R>` in between: a task stream of tiny items pays for
/// one buffer per chunk). An item that does not decode fails with the items after it (none of
/// them runs); the items before it ran, and keep their results. A chunk whose first item does not
/// decode fails as a whole.
fn map_items<A, R>(
    items: &[u8],
    mut f: impl FnMut(A) -> Result<R, Failure>,
) -> Result<Mapped, Failure>
where
    A: DeserializeOwned,
    R: Serialize,
{
    let (count, mut rest) =
        postcard::take_from_bytes::<usize>(items).map_err(Failure::bad_payload)?;
    // The count of results goes first; written for all items, rewritten if some fail.
    let mut values = postcard::to_extend(&count, Vec::with_capacity(16 + 8 * count.min(1 << 16)))
        .map_err(Failure::bad_payload)?;
    let prefix = values.len();
    let mut failures = Vec::new();
    for i in 0..count {
        let (a, after) = match postcard::take_from_bytes::<A>(rest) {
            Ok(decoded) => decoded,
            // A count far beyond the bytes left is a corrupt chunk, not items to report on.
            Err(e) if i == 0 || count - i > rest.len() + 1 => return Err(Failure::bad_payload(e)),
            Err(e) => {
                let failure = Failure::bad_payload(e);
                failures.extend((i..count).map(|k| (k as u32, failure.clone())));
                break;
            }
        };
        rest = after;
        match f(a) {
            Ok(r) => values = postcard::to_extend(&r, values).map_err(Failure::bad_payload)?,
            Err(failure) => failures.push((i as u32, failure)),
        }
    }
    if !failures.is_empty() {
        let ok = count - failures.len();
        let head = postcard::to_stdvec(&ok).map_err(Failure::bad_payload)?;
        values.splice(..prefix, head);
    }
    Ok(Mapped { values, failures })
}

struct Entry {
    name: String,
    signature: String,
    call: Box<CallFn>,
    map: Option<Box<MapFn>>,
}

/// A function ready for the table: its type signature (for the fingerprint) and how to call it
/// on encoded arguments, one or mapped.
#[doc(hidden)]
pub struct Adapter {
    signature: String,
    call: Box<CallFn>,
    map: Option<Box<MapFn>>,
}

impl Adapter {
    /// A function of its arguments; a panic is a failure.
    pub(crate) fn plain<A, R, F>(f: F) -> Adapter
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        F: Fn(A) -> R + 'static,
    {
        let f = std::rc::Rc::new(f);
        let g = f.clone();
        let call = Box::new(move |_: &mut Context<'_>, args: &[u8]| {
            let a: A = postcard::from_bytes(args).map_err(Failure::bad_payload)?;
            let r = call_catching(|| f(a)).map_err(Failure::panicked)?;
            postcard::to_stdvec(&r).map_err(Failure::bad_payload)
        });
        let map = Box::new(move |_: &mut Context<'_>, items: &[u8]| {
            map_items(items, |a: A| {
                call_catching(|| g(a)).map_err(Failure::panicked)
            })
        });
        Adapter {
            signature: signature::<A, R>("fn"),
            call,
            map: Some(map),
        }
    }

    /// A fallible function that also sees the engine's namespace.
    pub(crate) fn with_context<A, R, F>(f: F) -> Adapter
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        F: Fn(&mut Context<'_>, A) -> Result<R, BoxError> + 'static,
    {
        let f = std::rc::Rc::new(f);
        let g = f.clone();
        let call = Box::new(move |ctx: &mut Context<'_>, args: &[u8]| {
            let a: A = postcard::from_bytes(args).map_err(Failure::bad_payload)?;
            let r = call_catching(|| f(ctx, a))
                .map_err(Failure::panicked)?
                .map_err(Failure::from_box)?;
            postcard::to_stdvec(&r).map_err(Failure::bad_payload)
        });
        let map = Box::new(move |ctx: &mut Context<'_>, items: &[u8]| {
            map_items(items, |a: A| match call_catching(|| g(ctx, a)) {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Err(Failure::from_box(e)),
                Err(msg) => Err(Failure::panicked(msg)),
            })
        });
        Adapter {
            signature: signature::<A, R>("ctx"),
            call,
            map: Some(map),
        }
    }
}

/// The function table every rank builds: first the `#[remote]` functions of the program, by
/// path, then the closures `Cluster::register*` adds, in registration order.
#[derive(Default)]
pub(crate) struct Registry {
    entries: Vec<Entry>,
    by_path: HashMap<&'static str, u32>,
}

impl Registry {
    /// The table with every `#[remote]` function linked into the program, sorted by path (the
    /// same on every rank of one binary, whatever order the linker chose). Errors if two share
    /// a path (two functions of one name in different function bodies of one module).
    pub(crate) fn with_attributed() -> Result<Registry, String> {
        Registry::of(inventory::iter::<Attributed>().collect())
    }

    /// The table of `found`, sorted by path; an error if two share one.
    fn of(mut found: Vec<&Attributed>) -> Result<Registry, String> {
        found.sort_by_key(|a| a.path);
        for pair in found.windows(2) {
            if pair[0].path == pair[1].path {
                return Err(format!(
                    "two #[remote] functions have the path `{}` (at {} and {}): rename one",
                    pair[0].path, pair[0].site, pair[1].site
                ));
            }
        }
        let mut registry = Registry::default();
        for attributed in found {
            let mut adapter = (attributed.make)();
            // The path is the function's identity: two ranks agree when they agree on it.
            adapter.signature = format!("{} {}", attributed.path, adapter.signature);
            let index = registry.push(attributed.name, adapter);
            registry.by_path.insert(attributed.path, index);
        }
        Ok(registry)
    }

    fn push(&mut self, name: &str, adapter: Adapter) -> u32 {
        let index = u32::try_from(self.entries.len()).expect("fewer than 2^32 functions");
        self.entries.push(Entry {
            name: name.to_string(),
            signature: adapter.signature,
            call: adapter.call,
            map: adapter.map,
        });
        index
    }

    /// Registers a function of its arguments.
    pub(crate) fn register<A, R, F>(&mut self, name: &str, f: F) -> Remote<A, R>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        F: Fn(A) -> R + 'static,
    {
        Remote {
            key: Key::Index(self.push(name, Adapter::plain(f))),
            _types: PhantomData,
        }
    }

    /// Registers a fallible function that also sees the engine's namespace.
    pub(crate) fn register_with_context<A, R, F>(&mut self, name: &str, f: F) -> Remote<A, R>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        F: Fn(&mut Context<'_>, A) -> Result<R, BoxError> + 'static,
    {
        Remote {
            key: Key::Index(self.push(name, Adapter::with_context(f))),
            _types: PhantomData,
        }
    }

    /// Registers a task (namespace in, nothing out).
    pub(crate) fn register_task<F>(&mut self, name: &str, f: F) -> Task
    where
        F: Fn(&mut Context<'_>) -> Result<(), BoxError> + 'static,
    {
        let call = Box::new(move |ctx: &mut Context<'_>, _: &[u8]| {
            call_catching(|| f(ctx))
                .map_err(Failure::panicked)?
                .map_err(Failure::from_box)?;
            Ok(Vec::new())
        });
        let adapter = Adapter {
            signature: "task".into(),
            call,
            map: None,
        };
        Task {
            key: Key::Index(self.push(name, adapter)),
        }
    }

    /// Where a handle's function is in the table.
    pub(crate) fn resolve(&self, key: Key) -> crate::Result<u32> {
        match key {
            Key::Index(i) if (i as usize) < self.entries.len() => Ok(i),
            Key::Index(i) => Err(crate::Error::Usage(format!(
                "no registered function #{i}: a handle from another cluster?"
            ))),
            Key::Path(path) => self.by_path.get(path).copied().ok_or_else(|| {
                crate::Error::Usage(format!(
                    "`{path}` is not in this program's table of #[remote] functions"
                ))
            }),
        }
    }

    /// Runs function `index` on encoded arguments; the encoded result or the failure.
    pub(crate) fn call(
        &self,
        index: u32,
        ctx: &mut Context<'_>,
        args: &[u8],
    ) -> Result<Vec<u8>, Failure> {
        let call = &self.entry(index)?.call;
        let _running = last_words::running(index);
        call(ctx, args)
    }

    /// Runs function `index` over an encoded `Vec` of arguments.
    pub(crate) fn map(
        &self,
        index: u32,
        ctx: &mut Context<'_>,
        items: &[u8],
    ) -> Result<Mapped, Failure> {
        let entry = self.entry(index)?;
        let map = entry.map.as_ref().ok_or_else(|| {
            Failure::bad_payload(format!("`{}` is a task and cannot be mapped", entry.name))
        })?;
        let _running = last_words::running(index);
        map(ctx, items)
    }

    fn entry(&self, index: u32) -> Result<&Entry, Failure> {
        self.entries
            .get(index as usize)
            .ok_or_else(|| Failure::bad_payload(format!("no registered function #{index}")))
    }

    /// The registered name of function `index` (for error messages).
    pub(crate) fn name(&self, index: u32) -> &str {
        self.entries
            .get(index as usize)
            .map_or("<unregistered>", |e| e.name.as_str())
    }

    /// A hash of every name and signature, in order (FNV-1a, 64 bits).
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for e in &self.entries {
            for b in e
                .name
                .bytes()
                .chain([0])
                .chain(e.signature.bytes())
                .chain([0])
            {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }

    /// Every registered name, by index.
    pub(crate) fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// Number of registered functions and tasks.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

fn signature<A, R>(kind: &str) -> String {
    format!(
        "{kind}({}) -> {}",
        std::any::type_name::<A>(),
        std::any::type_name::<R>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_call<A: Serialize, R: DeserializeOwned>(
        reg: &Registry,
        f: u32,
        ns: &mut Namespace,
        a: A,
    ) -> Result<R, Failure> {
        let mut ctx = Context::new(0, 1, ns);
        let bytes = reg.call(f, &mut ctx, &postcard::to_stdvec(&a).unwrap())?;
        Ok(postcard::from_bytes(&bytes).unwrap())
    }

    #[test]
    fn calls_decode_arguments_and_encode_results() {
        let mut reg = Registry::default();
        let add = reg.register("add", |(a, b): (i64, i64)| a + b);
        let mut ns = Namespace::new();
        let r: i64 =
            ctx_call(&reg, reg.resolve(add.key()).unwrap(), &mut ns, (2i64, 3i64)).unwrap();
        assert_eq!(r, 5);
        assert_eq!(reg.name(reg.resolve(add.key()).unwrap()), "add");
    }

    #[test]
    fn failures_keep_their_kind() {
        let mut reg = Registry::default();
        let div = reg.register("div", |(a, b): (i64, i64)| a / b);
        let get = reg.register_with_context("get", |ctx, name: String| Ok(ctx.get::<f64>(&name)?));
        let fail = reg.register_with_context("fail", |_, ()| -> Result<(), BoxError> {
            Err("nope".into())
        });
        let mut ns = Namespace::new();
        ns.set("s", "str".to_string());
        let e = ctx_call::<_, i64>(&reg, reg.resolve(div.key()).unwrap(), &mut ns, (1i64, 0i64))
            .unwrap_err();
        assert_eq!(e.kind, RemoteErrorKind::Panicked);
        assert!(e.message.contains("divide by zero"), "{}", e.message);
        let e = ctx_call::<_, f64>(
            &reg,
            reg.resolve(get.key()).unwrap(),
            &mut ns,
            "x".to_string(),
        )
        .unwrap_err();
        assert_eq!(e.kind, RemoteErrorKind::MissingName);
        let e = ctx_call::<_, f64>(
            &reg,
            reg.resolve(get.key()).unwrap(),
            &mut ns,
            "s".to_string(),
        )
        .unwrap_err();
        assert_eq!(e.kind, RemoteErrorKind::WrongType);
        let e = ctx_call::<_, ()>(&reg, reg.resolve(fail.key()).unwrap(), &mut ns, ()).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (RemoteErrorKind::Failed, "nope")
        );
        // postcard is not self-describing: too few bytes is what it can detect.
        let e = ctx_call::<_, i64>(&reg, reg.resolve(div.key()).unwrap(), &mut ns, ()).unwrap_err();
        assert_eq!(e.kind, RemoteErrorKind::BadPayload);
    }

    #[test]
    fn maps_report_each_item() {
        let mut reg = Registry::default();
        let inv = reg.register("inv", |x: i64| 100 / x);
        let mut ns = Namespace::new();
        let mut ctx = Context::new(0, 1, &mut ns);
        let mapped = reg
            .map(
                reg.resolve(inv.key()).unwrap(),
                &mut ctx,
                &postcard::to_stdvec(&vec![1i64, 0, 4]).unwrap(),
            )
            .unwrap();
        let values: Vec<i64> = postcard::from_bytes(&mapped.values).unwrap();
        assert_eq!(values, vec![100, 25]);
        assert_eq!(mapped.failures.len(), 1);
        assert_eq!(mapped.failures[0].0, 1);
        assert_eq!(mapped.failures[0].1.kind, RemoteErrorKind::Panicked);
        // 200 items, 100 failing: the count of results shrinks from two bytes to one.
        let items: Vec<i64> = (0..200).map(|i| if i % 2 == 0 { 0 } else { i }).collect();
        let chunk = postcard::to_stdvec(&items).unwrap();
        let mapped = reg
            .map(reg.resolve(inv.key()).unwrap(), &mut ctx, &chunk)
            .unwrap();
        let values: Vec<i64> = postcard::from_bytes(&mapped.values).unwrap();
        let want: Vec<i64> = items.iter().filter(|&&x| x != 0).map(|x| 100 / x).collect();
        assert_eq!(values, want);
        let failed: Vec<u32> = mapped.failures.iter().map(|(k, _)| *k).collect();
        assert_eq!(failed, (0..200).step_by(2).collect::<Vec<u32>>());
        // A chunk cut short: the items before the cut ran and keep their results, the cut one
        // fails as a bad payload.
        let mapped = reg
            .map(
                reg.resolve(inv.key()).unwrap(),
                &mut ctx,
                &chunk[..chunk.len() - 1],
            )
            .unwrap();
        let values: Vec<i64> = postcard::from_bytes(&mapped.values).unwrap();
        assert_eq!(values, want[..want.len() - 1]);
        let (last, failure) = mapped.failures.last().unwrap();
        assert_eq!((*last, failure.kind), (199, RemoteErrorKind::BadPayload));
        // A chunk whose first item does not decode fails as a whole.
        let e = reg
            .map(reg.resolve(inv.key()).unwrap(), &mut ctx, &[3, 0x80])
            .unwrap_err();
        assert_eq!(e.kind, RemoteErrorKind::BadPayload);
    }

    #[test]
    fn fingerprints_see_names_order_and_types() {
        let mut a = Registry::default();
        a.register("f", |x: i64| x);
        a.register("g", |x: f64| x);
        let mut b = Registry::default();
        b.register("g", |x: f64| x);
        b.register("f", |x: i64| x);
        let mut c = Registry::default();
        c.register("f", |x: i32| x);
        c.register("g", |x: f64| x);
        let mut d = Registry::default();
        d.register("f", |x: i64| x);
        d.register("g", |x: f64| x);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint(), d.fingerprint());
        assert_eq!(a.len(), 2);
    }

    /// Two attribute functions of the test module (their table entries are in this test binary).
    #[crate::remote]
    fn halve(x: u64) -> u64 {
        x / 2
    }

    #[crate::remote]
    fn stored(ctx: &mut Context, name: String) -> crate::Result<f64> {
        Ok(ctx.get::<f64>(&name)?)
    }

    #[test]
    fn attribute_functions_are_found_by_path_before_closures() {
        let mut reg = Registry::with_attributed().unwrap();
        let closure = reg.register("closure", |x: u64| x + 1);
        let (h, s) = (
            reg.resolve(halve.key()).unwrap(),
            reg.resolve(stored.key()).unwrap(),
        );
        assert!(h < reg.resolve(closure.key()).unwrap());
        assert_eq!((reg.name(h), reg.name(s)), ("halve", "stored"));
        let mut ns = Namespace::new();
        ns.set("pi", 3.5f64);
        assert_eq!(ctx_call::<_, u64>(&reg, h, &mut ns, 9u64).unwrap(), 4);
        assert_eq!(
            ctx_call::<_, f64>(&reg, s, &mut ns, "pi".to_string()).unwrap(),
            3.5
        );
        let e = ctx_call::<_, f64>(&reg, s, &mut ns, "e".to_string()).unwrap_err();
        assert_eq!(e.kind, RemoteErrorKind::MissingName);
        // The path is part of the signature the fingerprint hashes.
        let entry = &reg.entries[h as usize];
        assert!(
            entry
                .signature
                .starts_with("mpiview::registry::tests::halve fn(u64)"),
            "{}",
            entry.signature
        );
        let missing: Remote<u64, u64> = Remote::__attributed("nowhere::f");
        assert!(reg.resolve(missing.key()).is_err());
        assert!(reg.resolve(Key::Index(10_000)).is_err());
    }

    #[test]
    fn attribute_tables_sort_by_path_and_refuse_a_shared_one() {
        fn make() -> Adapter {
            Adapter::plain(|x: u64| x)
        }
        let b = Attributed::new("m::b", "b", "m.rs:1", make);
        let a = Attributed::new("m::a", "a", "m.rs:2", make);
        let again = Attributed::new("m::b", "b", "m.rs:3", make);
        let reg = Registry::of(vec![&b, &a]).unwrap();
        assert_eq!(reg.names(), ["a", "b"]);
        assert_eq!(reg.resolve(Key::Path("m::b")).unwrap(), 1);
        let err = Registry::of(vec![&b, &a, &again]).err().unwrap();
        assert!(err.contains("`m::b` (at m.rs:1 and m.rs:3)"), "{err}");
        // The same functions found in another order make the same table.
        let other = Registry::of(vec![&a, &b]).unwrap();
        assert_eq!(reg.fingerprint(), other.fingerprint());
    }
}
