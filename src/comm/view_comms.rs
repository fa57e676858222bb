//! The communicators of a view: the controller (rank 0) and the view's engines in target order.
//!
//! Every view has a **data** communicator (array broadcasts, scatters, gathers, pulled arrays).
//! A view of at least two engines also has a **request** communicator (its broadcast channel)
//! and a **reply** communicator (its reply gathers): see [`channel`](super::channel) for why
//! three.

use std::mem::MaybeUninit;

use mpi::ffi;
use mpi::raw::{AsRaw, FromRaw};
use mpi::topology::{Communicator, Group, SimpleCommunicator};

use super::p2p::RawComm;
use super::request::{Pending, request_null};
use crate::error::{Error, Result};
use crate::ids::ViewId;

/// A view's communicators, on the controller or on one of its engines.
pub(crate) struct ViewComms {
    data: SimpleCommunicator,
    /// (request, reply), for views of at least two engines.
    control: Option<(SimpleCommunicator, SimpleCommunicator)>,
}

impl ViewComms {
    /// The communicators of a view whose members are exactly the ranks of `comm` (the
    /// all-engines view: a duplicate of the world), made with nonblocking duplicates. Collective
    /// over `comm`.
    pub(crate) fn duplicate(comm: &SimpleCommunicator) -> ViewComms {
        let with_control = comm.size() > 2;
        let mut dups = duplicates(comm, if with_control { 3 } else { 1 }).into_iter();
        let data = dups.next().expect("one duplicate");
        let control = with_control.then(|| {
            (
                dups.next().expect("three duplicates"),
                dups.next().expect("three duplicates"),
            )
        });
        ViewComms { data, control }
    }

    /// Creates the communicators of view `view` over world ranks `members` (the controller
    /// first) from `factory`, a duplicate of the world that nothing else uses. Collective over
    /// the members, which must all be ready to call it (the first phase of a view's creation
    /// makes sure), so that nobody spins in `MPI_Comm_create_group` waiting for a busy member.
    pub(crate) fn create(
        factory: &SimpleCommunicator,
        members: &[i32],
        view: ViewId,
    ) -> Result<ViewComms> {
        let group = factory.group().include(members);
        // The view id is the tag: creations of different views never meet.
        let base = factory
            .split_by_subgroup_with_tag(&group, view as i32)
            .ok_or_else(|| Error::Runtime("MPI_Comm_create_group gave no communicator".into()))?;
        Ok(ViewComms::duplicate(&base))
    }

    pub(crate) fn data(&self) -> RawComm {
        RawComm(self.data.as_raw())
    }

    /// The request communicator (views of at least two engines).
    pub(crate) fn request(&self) -> Option<RawComm> {
        self.control.as_ref().map(|(r, _)| RawComm(r.as_raw()))
    }

    /// The reply communicator (views of at least two engines).
    pub(crate) fn reply(&self) -> Option<RawComm> {
        self.control.as_ref().map(|(_, r)| RawComm(r.as_raw()))
    }

    /// This rank's rank in the view (0: the controller; engine at position `p`: `p + 1`).
    pub(crate) fn rank(&self) -> i32 {
        self.data.rank()
    }

    /// Ranks in the view, the controller included.
    pub(crate) fn size(&self) -> i32 {
        self.data.size()
    }
}

/// `n` duplicates of `comm`, each made with a nonblocking `MPI_Comm_idup` waited for with backoff
/// before the next is posted. Collective over `comm`.
///
/// One at a time, never several in flight on one parent: Open MPI 4.1.4 sometimes never
/// completes one rank's share of concurrent idups of one communicator once the ranks' tables of
/// communicator ids differ (after a communicator some of them are not in, such as the engines'
/// own, or a view's). A C program (a split with `MPI_UNDEFINED` on rank 0, then three idups of
/// the world in flight together, on 5 ranks) hung in 4 of 270 runs and in none of 210 with the
/// idups one after the other; mpiview's 5-rank test of bounded calls on the 3-node test cluster
/// stalled in 2 of 13 runs with a view's idups posted together.
pub(crate) fn duplicates(comm: &SimpleCommunicator, n: usize) -> Vec<SimpleCommunicator> {
    (0..n).map(|_| duplicate(comm)).collect()
}

/// One nonblocking duplicate of `comm`, waited for with backoff. Collective over `comm`.
fn duplicate(comm: &SimpleCommunicator) -> SimpleCommunicator {
    let mut handle = MaybeUninit::<ffi::MPI_Comm>::uninit();
    let mut raw = request_null();
    // SAFETY: MPI_Comm_idup writes the new handle when the request completes; `handle` is not
    // moved or read before the request has completed below.
    let mut pending = unsafe {
        ffi::MPI_Comm_idup(comm.as_raw(), handle.as_mut_ptr(), &mut raw);
        [Pending::new(raw, false)]
    };
    super::request::wait_all(&mut pending, 0, &mut || true);
    // SAFETY: the idup has completed, so the handle was written.
    unsafe { SimpleCommunicator::from_raw(handle.assume_init()) }
}
