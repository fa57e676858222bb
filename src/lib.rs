//! # mpiview
//!
//! IPython Parallel's way of working — a client driving many engines through views — on MPI.
//!
//! Every rank runs the same binary (`mpirun -n 16 app`, `srun app`). Rank 0 is the
//! **controller**: it runs the driver closure given to [`Cluster::run`]. Ranks 1..N-1 are
//! **engines** (engine id = rank − 1): each holds a [`Namespace`] of named values and serves
//! requests until the driver returns. The driver works through views:
//!
//! - [`DirectView`]: a fixed list of engines (all, a slice, a list, one per node): push/pull
//!   named values, scatter/gather arrays by IPython Parallel's block rule, apply a registered
//!   function, execute a registered task, map;
//! - [`AsyncResult`]: ready / wait / get with a timeout / iterate as results arrive /
//!   engine ids and timings; remote failures come back as errors naming the engine.
//!
//! Code never crosses ranks: every rank registers the same functions in the same order
//! ([`Cluster::register`]) and requests name them by index. Arguments and small values travel
//! encoded with serde; numeric arrays move as native MPI data with collectives over a
//! communicator of the controller and the view's engines.
//!
//! ## Which ranks call what
//!
//! - **Every rank**: [`Cluster::init`], the `Cluster::register*` calls (same order everywhere),
//!   [`Cluster::run`].
//! - **Controller only** (inside the driver): everything on [`Client`], views and results.
//! - **Engine only**: the registered functions themselves, through their [`Context`].
//!
//! With one rank (no `mpirun`), the same program runs with one in-process engine.
//!
//! ## Results must be used
//!
//! [`AsyncResult`], [`MapResult`] and [`TaskResult`] are `#[must_use]`: a request whose result is
//! dropped unread is almost always a mistake (and dropping an unfinished map abandons it).
//!
//! ```compile_fail
//! #![deny(unused_must_use)]
//! fn demo(client: &mpiview::Client, f: &mpiview::Remote<(), ()>) -> mpiview::Result<()> {
//!     client.direct_view().apply(f, ())?; // error: unused `AsyncResult` that must be used
//!     Ok(())
//! }
//! ```
//!
//! See `docs/architecture.md` for the design and `docs/ipyparallel.md` for a call-by-call map
//! from IPython Parallel.

pub mod arrays;
pub mod diagnostics;
pub mod partition;
pub mod settings;
pub mod sysinfo;
pub mod targets;
pub mod units;
pub mod value;

mod balance;
mod cgroup;
mod client;
mod clock;
mod cluster;
mod comm;
mod engine;
mod error;
mod exit;
mod hub;
mod ids;
mod last_words;
mod namespace;
mod nodes;
mod order;
mod panic_guard;
mod protocol;
mod registry;
mod reply;
mod result;
mod view;

pub use client::Client;
pub use cluster::Cluster;
pub use error::{
    BoxError, Call, Error, RemoteError, RemoteErrorKind, RemoteErrors, Result, TargetsError,
};
pub use exit::{DriverExit, Outcome};
pub use namespace::{Namespace, NamespaceError};
pub use nodes::{EngineInfo, Node};
pub use registry::{Context, Executable, Remote, Task};

/// Makes a plain `fn` a remote function: every rank of the program knows it by its path, with no
/// registration call and no order rule.
///
/// `#[remote] fn f(...)` becomes a constant `f` of type [`Remote<A, R>`](Remote): pass `&f` to
/// [`DirectView::apply`], [`LoadBalancedView::map`], [`DirectView::parallel`] and the rest, as
/// a handle from [`Cluster::register`]. The function is collected at link time (the
/// `inventory` crate) into the table every rank builds in [`Cluster::init`]; its path and type
/// signature go into the fingerprint the controller compares at start-up, so ranks running
/// different builds still refuse to start. Attribute functions and registered closures can be
/// used side by side.
///
/// - **Arguments**: none is `A = ()`, one is its type (`fn sq(x: f64)` maps over `f64`s),
///   several are a tuple (`fn add(a: i64, b: i64)` takes `(i64, i64)`). They travel encoded
///   with serde, so they are owned serde types (`String`, `Vec<T>`, ndarray arrays), never
///   references.
/// - **The engine's namespace**: a first parameter `&mut Context` gives the engine's named
///   values, its id and the engines' communicator.
/// - **Errors**: a return type named `Result` (`std::result::Result<T, E>`, `mpiview::Result<T>`,
///   `io::Result<T>`, ...) returns `T`, and its `Err` comes back to the driver as a remote error
///   naming the engine and the function; `E` is any error a [`BoxError`] is made from. A panic
///   comes back the same way, whatever the return type.
/// - **Execute**: a function of a `&mut Context` alone that returns `()` or `Result<()>` is also
///   a task for [`DirectView::execute`].
/// - Refused at compile time: generic, `async`, `const`, `unsafe` and `extern` functions,
///   methods, reference and `impl Trait` parameters. Two functions of one name in different
///   function bodies of one module share a path: [`Cluster::init`] refuses to start with both.
///
/// The name now names the handle: the function cannot also be called locally by it (call
/// shared code from a plain `fn` that the remote function calls too). Recursion inside the
/// body calls the function itself.
///
/// ```no_run
/// use mpiview::{Cluster, Context, Result, remote};
/// use ndarray::Array1;
///
/// /// The norm of a point.
/// #[remote]
/// fn norm(x: f64, y: f64) -> f64 {
///     (x * x + y * y).sqrt()
/// }
///
/// /// The sum of the engine's partition of `a`.
/// #[remote]
/// fn partition_sum(ctx: &mut Context) -> Result<i64> {
///     Ok(ctx.array::<i64>("a")?.sum())
/// }
///
/// /// Doubles the engine's `a` in place: a task for `execute`.
/// #[remote]
/// fn double(ctx: &mut Context) -> Result<()> {
///     let doubled = ctx.array::<i64>("a")? * 2;
///     ctx.set("a", doubled);
///     Ok(())
/// }
///
/// fn main() -> std::process::ExitCode {
///     let cluster = Cluster::init().expect("MPI starts");     // every rank
///     cluster.run(|client| -> Result<()> {                     // rank 0 runs this
///         let dview = client.direct_view();
///         let norms: Vec<f64> = dview.apply_sync(&norm, (3.0, 4.0))?; // 5.0 from each engine
///         dview.scatter("a", &Array1::from_iter(0..10i64))?;
///         dview.execute_sync(&double)?;
///         let sums: Vec<i64> = dview.apply_sync(&partition_sum, ())?;
///         assert_eq!(sums.iter().sum::<i64>(), 90);
///         let lview = client.load_balanced_view();
///         let more: Vec<f64> = lview.map_sync(&norm, vec![(1.0, 0.0), (0.0, 2.0)])?;
///         println!("{norms:?} {more:?}");
///         Ok(())
///     })
/// }
/// ```
pub use mpiview_macros::remote;

/// What `#[remote]` expands to refers to these; not for direct use, and not covered by semver.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::{Adapter, Attributed, Fallible, plain, with_context};
    pub use inventory;
}

// `#[remote]` writes `::mpiview::...` paths; this makes them resolve inside this crate's own
// tests too.
extern crate self as mpiview;
pub use result::{
    AsyncResult, EngineTiming, Many, MapIter, MapRefIter, MapResult, Multiplicity, One,
    ShowProgress, TaskResult, TaskTiming, TransferResult,
};
pub use targets::{EngineId, EngineIndex, Targets};
pub use value::{DType, Element, NamespaceValue, Value};
pub use view::{DirectView, LoadBalancedView, ParallelFunction, RemoteFunction};

/// The README's code compiles (it is checked as a doc test).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// What `#[remote]` refuses, at compile time (each block must fail to compile).
///
/// A generic function:
/// ```compile_fail
/// #[mpiview::remote]
/// fn first(x: Vec<u64>) -> Option<u64> { x.first().copied() }
/// #[mpiview::remote]
/// fn id<T>(x: T) -> T { x }
/// ```
/// A reference parameter:
/// ```compile_fail
/// #[mpiview::remote]
/// fn len(s: &str) -> usize { s.len() }
/// ```
/// An async function:
/// ```compile_fail
/// #[mpiview::remote]
/// async fn later() {}
/// ```
/// A context that is not first:
/// ```compile_fail
/// #[mpiview::remote]
/// fn late(x: u64, ctx: &mut mpiview::Context) -> u64 { x }
/// ```
/// Arguments to the attribute:
/// ```compile_fail
/// #[mpiview::remote(name = "f")]
/// fn f() {}
/// ```
/// A type that does not travel (no serde):
/// ```compile_fail
/// struct Opaque;
/// #[mpiview::remote]
/// fn make() -> Opaque { Opaque }
/// ```
/// The handle used with other argument types:
/// ```compile_fail
/// #[mpiview::remote]
/// fn square(x: u64) -> u64 { x * x }
/// fn demo(dview: &mpiview::DirectView) { let _ = dview.apply(&square, "seven"); }
/// ```
/// And the same function without an error compiles (the blocks above fail for their reason):
/// ```
/// #[mpiview::remote]
/// fn square(x: u64) -> u64 { x * x }
/// fn demo(dview: &mpiview::DirectView) { let _ = dview.apply(&square, 7); }
/// ```
#[cfg(doctest)]
pub struct RemoteAttributeRefusals;
