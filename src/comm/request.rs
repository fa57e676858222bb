//! Raw nonblocking MPI requests, waited for with [`Backoff`](super::poll::Backoff).
//!
//! This is the one place where mpiview holds `MPI_Request` handles itself (rsmpi's requests are
//! tied to borrowed buffers and scopes, which does not fit an event loop that keeps receives
//! posted across calls). Every handle is owned by a [`Pending`], whose `Drop` completes the
//! request before the buffer it uses can be freed, also when unwinding.

use mpi::ffi;

use super::poll::{Backoff, TransferWait};

/// `MPI_REQUEST_NULL`.
pub(crate) fn request_null() -> ffi::MPI_Request {
    // SAFETY: reading an immutable handle constant exported by the MPI shim.
    unsafe { ffi::RSMPI_REQUEST_NULL }
}

/// A started nonblocking operation. The buffers it reads or writes must outlive it; dropping an
/// unfinished `Pending` waits for it (receives are cancelled first).
pub(crate) struct Pending {
    raw: ffi::MPI_Request,
    is_receive: bool,
}

impl Pending {
    /// Takes ownership of a request started by an `MPI_I*` call.
    ///
    /// # Safety
    /// The buffers of the operation must stay valid until this value is dropped or has completed.
    pub(crate) unsafe fn new(raw: ffi::MPI_Request, is_receive: bool) -> Pending {
        Pending { raw, is_receive }
    }

    /// Whether the operation has finished; its status if so (a request that already completed
    /// tests as finished again, with an empty status).
    pub(crate) fn test(&mut self) -> Option<ffi::MPI_Status> {
        let mut flag = 0;
        // SAFETY: MPI_Status is plain data that MPI_Test fills in.
        let mut status: ffi::MPI_Status = unsafe { std::mem::zeroed() };
        // SAFETY: `raw` is a live request handle owned by this value.
        unsafe { ffi::MPI_Test(&mut self.raw, &mut flag, &mut status) };
        (flag != 0).then_some(status)
    }

    /// Whether this request has already completed and been freed.
    pub(crate) fn is_done(&self) -> bool {
        self.raw == request_null()
    }

    /// Waits for completion with backoff, calling `idle` between tests; returns the status.
    pub(crate) fn wait(&mut self, idle: &mut dyn FnMut()) -> ffi::MPI_Status {
        let mut backoff = Backoff::new();
        loop {
            if let Some(status) = self.test() {
                return status;
            }
            idle();
            backoff.pause();
        }
    }

    /// Waits for a transfer of `bytes` to complete ([`TransferWait`]), calling `idle` between
    /// tests: it receives what else has arrived and says whether every peer of the transfer has
    /// joined it.
    pub(crate) fn wait_transfer(&mut self, bytes: usize, idle: &mut Idle<'_>) -> ffi::MPI_Status {
        let mut wait = TransferWait::new(bytes);
        loop {
            if let Some(status) = self.test() {
                return status;
            }
            let ready = idle();
            wait.pause(ready);
        }
    }
}

impl Pending {
    /// Gives up on an operation that will never complete (a broadcast posted to receive the next
    /// request when the job is being torn down after a failure): neither waited for nor freed.
    /// The caller must leak the operation's buffer too.
    pub(crate) fn abandon(self) {
        std::mem::forget(self);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.raw == request_null() {
            return;
        }
        // SAFETY: `raw` is live; cancelling a receive and waiting for it are both allowed, and the
        // wait guarantees MPI no longer touches the buffer once we return.
        unsafe {
            if self.is_receive {
                ffi::MPI_Cancel(&mut self.raw);
            }
            ffi::MPI_Wait(&mut self.raw, ffi::RSMPI_STATUS_IGNORE);
        }
    }
}

/// What a rank does between tests of a transfer: receive what else has arrived, and say whether
/// every peer of the transfer has joined it (`|| true` where they have by construction).
pub(crate) type Idle<'a> = dyn FnMut() -> bool + 'a;

/// Waits for all of `pending`, a transfer of `bytes` in all, calling `idle` between rounds of
/// tests (see [`Pending::wait_transfer`]).
pub(crate) fn wait_all(pending: &mut [Pending], bytes: usize, idle: &mut Idle<'_>) {
    let mut wait = TransferWait::new(bytes);
    loop {
        let mut all = true;
        for p in pending.iter_mut() {
            if !p.is_done() && p.test().is_none() {
                all = false;
            }
        }
        if all {
            return;
        }
        let ready = idle();
        wait.pause(ready);
    }
}

/// Source rank of a completed receive.
pub(crate) fn status_source(status: &ffi::MPI_Status) -> i32 {
    status.MPI_SOURCE
}

/// Number of bytes a completed byte receive got.
pub(crate) fn status_bytes(status: &ffi::MPI_Status) -> usize {
    let mut count = 0;
    // SAFETY: `status` comes from a completed receive of MPI_UINT8_T.
    unsafe { ffi::MPI_Get_count(status, ffi::RSMPI_UINT8_T, &mut count) };
    usize::try_from(count).expect("non-negative byte count")
}
