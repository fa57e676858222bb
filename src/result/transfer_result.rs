//! [`TransferResult`]: a push, scatter or gather under way.

use std::marker::PhantomData;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::hub::queued_transfers::TransferId;

/// A data transfer under way, from [`DirectView::scatter_async`](crate::DirectView::scatter_async),
/// [`gather_async`](crate::DirectView::gather_async) or
/// [`push_async`](crate::DirectView::push_async) (IPython Parallel's `block=False`).
///
/// The request reached the engines when the call returned: everything sent to them afterwards,
/// through any view, runs after it there. The controller's side moves the data whenever the
/// driver calls into mpiview (waiting on this or any other result, submitting work), so a
/// scatter to some engines proceeds while others compute and while the driver waits on them.
/// Dropping the handle does not cancel the transfer: it completes, and its result is dropped.
/// Controller only.
///
/// ```no_run
/// # fn demo(client: &mpiview::Client, step: &mpiview::Remote<(), f64>) -> mpiview::Result<()> {
/// use ndarray::Array2;
/// let (left, right) = (client.view(0..2)?, client.view(2..4)?);
/// let busy = right.apply(step, ())?;                       // the right half computes
/// let sent = left.scatter_async("x", Array2::<f64>::zeros((4096, 512)))?;
/// let results = busy.get()?;                                // the scatter moves meanwhile
/// sent.get()?;                                              // done: `x` is on the left half
/// # Ok(()) }
/// ```
#[must_use = "a transfer is waited for with `get` or `wait` (dropped, it still completes)"]
pub struct TransferResult<T> {
    hub: Rc<Hub>,
    id: TransferId,
    /// What it moves, for errors (``scatter of `x` ``).
    what: String,
    taken: bool,
    _value: PhantomData<fn() -> T>,
}

impl<T: 'static> TransferResult<T> {
    pub(crate) fn new(hub: Rc<Hub>, id: TransferId, what: String) -> TransferResult<T> {
        TransferResult {
            hub,
            id,
            what,
            taken: false,
            _value: PhantomData,
        }
    }

    /// Whether the transfer is done (after receiving what has arrived); never blocks.
    pub fn ready(&self) -> bool {
        self.hub.pump_available();
        self.hub.transfer_done(self.id)
    }

    /// Waits until the transfer is done or `timeout` passes (`None`: as long as it takes);
    /// `Ok(false)` on timeout, and the transfer goes on.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.hub.wait_transfer(self.id, deadline)
    }

    /// Waits until the transfer is done and returns its result: the gathered array for
    /// `gather_async`, `()` for a push or scatter. A gather's errors (a name missing on some
    /// engine, pieces that do not fit together, too little memory) come back here.
    pub fn get(mut self) -> Result<T> {
        self.hub.wait_transfer(self.id, None)?;
        self.taken = true;
        let value = self.hub.take_transfer(self.id)?;
        value.downcast::<T>().map(|v| *v).map_err(|_| {
            Error::Runtime(format!("{}: the result has an unexpected type", self.what))
        })
    }

    /// What it moves (``scatter of `x` ``).
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl<T> Drop for TransferResult<T> {
    fn drop(&mut self) {
        if !self.taken {
            self.hub.orphan_transfer(self.id);
        }
    }
}

impl<T> std::fmt::Debug for TransferResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferResult")
            .field("what", &self.what)
            .field("done", &self.hub.transfer_done(self.id))
            .finish()
    }
}
