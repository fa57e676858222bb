//! [`LoadBalancedView`]: tasks go to whichever engine is free.

use std::rc::Rc;

use serde::{Serialize, de::DeserializeOwned};

use super::start_map;
use crate::balance::chunking::Chunking;
use crate::balance::job::MapSpec;
use crate::error::{Call, Result};
use crate::hub::Hub;
use crate::ids::EngineId;
use crate::registry::Remote;
use crate::result::{MapIter, MapResult, ShowProgress, TaskResult};

/// Items an `imap` may have sent but not yet read, beyond `4 × engines × chunksize`.
const IMAP_OUTSTANDING: usize = 4096;

/// A view that sends each task (or chunk of a map) to whichever of its engines is free
/// (IPython Parallel's `client.load_balanced_view()`).
///
/// Controller only. Scheduling is least-loaded first with at most two chunks queued per engine,
/// so an engine never waits for the controller between tasks and a slow engine gets fewer. The
/// builder methods return a configured copy:
///
/// ```no_run
/// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<(u64, f64), f64>) -> mpiview::Result<()> {
/// let lview = client.load_balanced_view();
/// let xs = vec![1u64, 2, 3];
/// let ys = vec![0.5f64, 1.5];
/// // Several inputs are zipped; the shortest ends the map.
/// let r = lview.chunksize(1).retries(2).map(f, xs.into_iter().zip(ys))?;
/// assert_eq!(r.get()?.len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LoadBalancedView {
    hub: Rc<Hub>,
    targets: Rc<[EngineId]>,
    chunking: Chunking,
    ordered: bool,
    retries: u32,
    show: ShowProgress,
    max_outstanding: Option<usize>,
    /// How long `map_sync` and `apply_sync` wait (`None`: as long as it takes).
    limit: Option<std::time::Duration>,
}

impl std::fmt::Debug for LoadBalancedView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadBalancedView")
            .field("targets", &&self.targets[..])
            .field("chunking", &self.chunking)
            .field("ordered", &self.ordered)
            .field("retries", &self.retries)
            .finish()
    }
}

impl LoadBalancedView {
    pub(crate) fn new(hub: Rc<Hub>, targets: Vec<EngineId>) -> Self {
        LoadBalancedView {
            hub,
            targets: targets.into(),
            chunking: Chunking::Auto,
            ordered: true,
            retries: 0,
            show: ShowProgress::Auto,
            max_outstanding: None,
            limit: None,
        }
    }

    /// A copy of this view whose `map_sync` and `apply_sync` give up after `limit` with
    /// [`Error::Timeout`](crate::Error::Timeout) (the work goes on). In a one-rank run remote
    /// functions run inline and cannot be timed out.
    pub fn timeout(&self, limit: std::time::Duration) -> Self {
        LoadBalancedView {
            limit: Some(limit),
            ..self.clone()
        }
    }

    /// The engines this view may use.
    pub fn targets(&self) -> &[EngineId] {
        &self.targets
    }

    /// Number of engines it may use (IPython Parallel's `len(lview)`).
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Always false: a view has at least one engine.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Maps send chunks of at most `n` items (IPython Parallel's `chunksize`): `ceil(items / n)`
    /// chunks split by the block rule.
    ///
    /// Each chunk is scheduled, timed, retried and aborted on its own. Chunks measured shorter
    /// than about 100 µs of engine time share messages (up to 64 in one: `MPIVIEW_BATCH_MAX`,
    /// `MPIVIEW_BATCH_TARGET_US`), so that `chunksize(1)` over tiny tasks is not paid for with a
    /// message each way per task. An engine runs one chunk at a time: a chunk far longer than
    /// the others holds back the finished results of its message until it ends.
    /// `MPIVIEW_BATCH_MAX=1` sends every chunk alone, for maps whose items wait on each other
    /// through the driver.
    ///
    /// # Panics
    /// Panics if `n` is zero.
    #[track_caller]
    pub fn chunksize(&self, n: usize) -> Self {
        assert!(n > 0, "chunksize must be at least 1");
        LoadBalancedView {
            chunking: Chunking::Fixed(n),
            ..self.clone()
        }
    }

    /// Chunk sizes chosen from measured task times (the default): chunks of tiny tasks carry
    /// about 2 ms of work, chunks shrink toward the end of a map so that it still balances.
    pub fn auto_chunksize(&self) -> Self {
        LoadBalancedView {
            chunking: Chunking::Auto,
            ..self.clone()
        }
    }

    /// Whether iterating over a map yields in input order (the default) or in arrival order.
    /// `get` is always in input order.
    pub fn ordered(&self, ordered: bool) -> Self {
        LoadBalancedView {
            ordered,
            ..self.clone()
        }
    }

    /// A failed task is sent again, to another engine where possible, up to `k` times before its
    /// error is reported.
    pub fn retries(&self, k: u32) -> Self {
        LoadBalancedView {
            retries: k,
            ..self.clone()
        }
    }

    /// When waits on this view's maps show a progress bar on stderr (items done / total, rate,
    /// ETA): by default when stderr is a terminal.
    pub fn progress(&self, show: ShowProgress) -> Self {
        LoadBalancedView {
            show,
            ..self.clone()
        }
    }

    /// How many items an `imap` may have sent but not yet read (default: 4096 plus four chunks
    /// per engine).
    pub fn max_outstanding(&self, items: usize) -> Self {
        LoadBalancedView {
            max_outstanding: Some(items.max(1)),
            ..self.clone()
        }
    }

    fn start<A, R, I>(
        &self,
        f: &Remote<A, R>,
        items: I,
        total: Option<usize>,
        bound: Option<u64>,
    ) -> Result<MapResult<R>>
    where
        A: Serialize + 'static,
        R: DeserializeOwned + 'static,
        I: Iterator<Item = A> + 'static,
    {
        self.start_call(Call::Map, f, items, total, bound)
    }

    /// Starts `call` (a map, or one task for `apply`) as a load-balanced job.
    fn start_call<A, R, I>(
        &self,
        call: Call,
        f: &Remote<A, R>,
        items: I,
        total: Option<usize>,
        bound: Option<u64>,
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
            retries: self.retries,
            max_outstanding: bound,
            unordered: !self.ordered,
            pinned: false,
            call,
        };
        start_map(&self.hub, spec, self.chunking, items, self.show)
    }

    super::map_methods!(
        "Maps `f` over `items` without waiting: each chunk goes to a free engine; results come \
         back in a [`MapResult`] (input order for `get`). Several inputs: zip them."
    );

    /// Maps `f` over a possibly endless iterator, pulled only as engines have room and results
    /// are read, with a bounded number of items in flight (see
    /// [`max_outstanding`](Self::max_outstanding)). Dropping the returned iterator stops the map.
    pub fn imap<A, R, I>(&self, f: &Remote<A, R>, items: I) -> Result<MapIter<R>>
    where
        A: Serialize + 'static,
        R: DeserializeOwned + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'static,
    {
        let chunk = match self.chunking {
            Chunking::Fixed(c) => c,
            Chunking::Auto => 1,
        };
        let bound = self
            .max_outstanding
            .unwrap_or(IMAP_OUTSTANDING + 4 * self.targets.len() * chunk);
        Ok(self
            .start(f, items.into_iter(), None, Some(bound as u64))?
            .into_iter())
    }

    /// Runs `f(args)` once, on whichever engine is free; the result says which engine ran it.
    pub fn apply<A, R>(&self, f: &Remote<A, R>, args: A) -> Result<TaskResult<R>>
    where
        A: Serialize + 'static,
        R: DeserializeOwned + Clone + 'static,
    {
        Ok(TaskResult::new(self.chunksize(1).start_call(
            Call::Apply,
            f,
            std::iter::once(args),
            Some(1),
            None,
        )?))
    }

    /// Runs `f(args)` once on a free engine and waits for the result.
    pub fn apply_sync<A, R>(&self, f: &Remote<A, R>, args: A) -> Result<R>
    where
        A: Serialize + 'static,
        R: DeserializeOwned + Clone + 'static,
    {
        let result = self.apply(f, args)?;
        match self.limit {
            Some(limit) => result.get_timeout(limit),
            None => result.get(),
        }
    }
}
