//! The last step of a job before `MPI_Finalize`: every rank waits in a nonblocking barrier.
//!
//! `MPI_Finalize` blocks in the launcher's runtime (a PMIx fence under Open MPI) until every rank
//! has called it, where a rank cannot be told anything more. When the controller then calls
//! `MPI_Abort` (an engine still busy after the shutdown grace), the launcher kills ranks that
//! wait inside that fence, and Open MPI 4.1's `mpirun` hangs or crashes in about one run in
//! three at 5 ranks (reproduced with a C program: one rank aborts, one sleeps, three wait in
//! `MPI_Finalize`). So ranks that have stopped wait here instead, in MPI and killable, and only
//! a controller that is not aborting joins the barrier that lets them go on to finalize.

use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;

use crate::comm::request::Pending;

/// Waits until every rank of `world` has called it, sleeping between tests like an idle
/// engine. **Every rank** calls it, after its role has ended without aborting.
pub(super) fn barrier(world: &SimpleCommunicator) {
    let mut raw = crate::comm::request::request_null();
    // SAFETY: `world` is a live communicator and a barrier has no buffers.
    unsafe { ffi::MPI_Ibarrier(world.as_raw(), &mut raw) };
    // SAFETY: a barrier reads and writes no buffer.
    let mut pending = unsafe { Pending::new(raw, false) };
    pending.wait(&mut || {});
}
