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
pub use registry::{Context, Remote, Task};
pub use result::{
    AsyncResult, EngineTiming, Many, MapIter, MapRefIter, MapResult, Multiplicity, One,
    ShowProgress, TaskResult, TaskTiming,
};
pub use targets::{EngineId, EngineIndex, Targets};
pub use value::{DType, Element, NamespaceValue, Value};
pub use view::{DirectView, LoadBalancedView, ParallelFunction, RemoteFunction};

/// The README's code compiles (it is checked as a doc test).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
