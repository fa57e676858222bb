//! The identifiers everything else uses: engines, requests, views. A leaf module: it imports
//! nothing of the crate.

/// An engine's id: its MPI rank in `MPI_COMM_WORLD` minus one.
pub type EngineId = usize;

/// Identifies a request (direct) or a task (load-balanced) across controller and engines.
pub(crate) type RequestId = u64;

/// Identifies a view's communicators (controller + a list of engines) on every member.
pub(crate) type ViewId = u32;

/// The view of every engine in id order, whose communicators exist from start-up.
pub(crate) const ALL_ENGINES: ViewId = 0;
