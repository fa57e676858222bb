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
    /// all-engines view: a duplicate of the world), made with nonblocking duplicates in flight
    /// as `in_flight` says. Collective over `comm`.
    pub(crate) fn duplicate(comm: &SimpleCommunicator, in_flight: InFlight) -> ViewComms {
        let with_control = comm.size() > 2;
        let n = if with_control { 3 } else { 1 };
        let mut dups = duplicates(comm, n, in_flight).into_iter();
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
        Ok(ViewComms::duplicate(&base, InFlight::OneAtATime))
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

/// How many duplicates of one communicator may be in flight together.
///
/// Open MPI 4.1.4 sometimes never completes one rank's share of concurrent idups of one
/// communicator once the ranks' tables of communicator ids differ, which happens after a
/// communicator some ranks are not in (the engines' own, a view's). A C program (a split with
/// `MPI_UNDEFINED` on rank 0, then three idups of the world in flight together, on 5 ranks) hung
/// in 4 of 270 runs, and in none of 210 with the idups one after the other; mpiview's 5-rank
/// test of bounded calls on the 3-node test cluster stalled in 2 of 13 runs with a view's idups
/// posted together. One at a time costs a round of agreement each: 5.7 ms against 1.7 ms for
/// three at 3 ranks, 31 against 11 ms at 33 (oversubscribed, C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InFlight {
    /// All posted together: only while every rank has made the same communicators (start-up,
    /// before the engines' own).
    Together,
    /// Each waited for before the next is posted.
    OneAtATime,
}

/// `n` duplicates of `comm`, made with nonblocking `MPI_Comm_idup`s waited for with backoff.
/// Collective over `comm`.
pub(crate) fn duplicates(
    comm: &SimpleCommunicator,
    n: usize,
    in_flight: InFlight,
) -> Vec<SimpleCommunicator> {
    match in_flight {
        InFlight::OneAtATime => (0..n)
            .map(|_| duplicates(comm, 1, InFlight::Together).remove(0))
            .collect(),
        InFlight::Together => {
            let mut handles: Vec<MaybeUninit<ffi::MPI_Comm>> =
                (0..n).map(|_| MaybeUninit::uninit()).collect();
            let mut pending: Vec<Pending> = Vec::with_capacity(n);
            for h in handles.iter_mut() {
                let mut raw = request_null();
                // SAFETY: MPI_Comm_idup writes the new handle when the request completes;
                // `handles` is not moved or read before every request has completed below.
                unsafe {
                    ffi::MPI_Comm_idup(comm.as_raw(), h.as_mut_ptr(), &mut raw);
                    pending.push(Pending::new(raw, false));
                }
            }
            super::request::wait_all(&mut pending, 0, &mut || true);
            handles
                .into_iter()
                // SAFETY: every idup has completed, so every handle was written.
                .map(|h| unsafe { SimpleCommunicator::from_raw(h.assume_init()) })
                .collect()
        }
    }
}
