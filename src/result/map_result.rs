//! [`MapResult`]: the results of a map, arriving item by item; [`MapIter`] to read them as they
//! come; [`TaskResult`] for a single load-balanced task.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;

use super::progress::{Progress, ShowProgress};
use crate::balance::JobRef;
use crate::balance::job::{Job, MapJob};
use crate::clock::to_system_time;
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::ids::EngineId;

/// When and where a chunk of a map ran: items `first..first + count`, on `engine`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskTiming {
    /// Index of the chunk's first item.
    pub first: u64,
    /// Items in the chunk (1 for `chunksize(1)`).
    pub count: u32,
    /// The engine that ran it.
    pub engine: EngineId,
    /// When the engine started it.
    pub started: SystemTime,
    /// When it finished.
    pub completed: SystemTime,
    /// When the controller received the results.
    pub received: SystemTime,
}

impl TaskTiming {
    /// `completed - started`.
    pub fn duration(&self) -> Duration {
        self.completed
            .duration_since(self.started)
            .unwrap_or_default()
    }
}

/// The results of a map (load-balanced or direct), in input order, arriving as engines finish.
///
/// Controller only. Read them all with [`get`](Self::get) (input order, every remote error
/// together), side by side with [`get_each`](Self::get_each), or as they arrive by iterating,
/// in input order or arrival order as the view was configured: `for r in &result` (or
/// [`iter`](Self::iter)) clones each value and keeps it, so `get` still answers afterwards;
/// `for r in result` moves the values out (no `Clone` needed). Dropping an
/// unfinished result abandons it: chunks not yet started are not run.
///
/// ```no_run
/// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<u64, u64>) -> mpiview::Result<()> {
/// let lview = client.load_balanced_view();
/// let squares = lview.map(f, 0..1000u64)?;
/// println!("{} of {:?} done", squares.progress().0, squares.len());
/// for r in lview.ordered(false).map(f, 0..10u64)? {
///     println!("{}", r?);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a MapResult does nothing by itself: call get() or iterate over it"]
pub struct MapResult<R: DeserializeOwned + 'static> {
    pub(super) hub: Rc<Hub>,
    pub(super) job: Rc<RefCell<MapJob<R>>>,
    pub(super) ordered: bool,
    pub(super) show: ShowProgress,
}

impl<R: DeserializeOwned + 'static> MapResult<R> {
    pub(crate) fn new(
        hub: Rc<Hub>,
        job: Rc<RefCell<MapJob<R>>>,
        ordered: bool,
        show: ShowProgress,
    ) -> Self {
        MapResult {
            hub,
            job,
            ordered,
            show,
        }
    }

    fn job_ref(&self) -> JobRef {
        self.job.clone()
    }

    /// Number of items, when known (`None` for an `imap` over an iterator).
    pub fn len(&self) -> Option<usize> {
        self.job.borrow().total()
    }

    /// Whether the map has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Items finished (results and failures), and the total if known. Receives what has
    /// arrived; never blocks.
    pub fn progress(&self) -> (u64, Option<u64>) {
        self.hub.pump_available();
        let j = self.job.borrow();
        (j.done(), j.total().map(|n| n as u64))
    }

    /// Whether every item has finished. Never blocks.
    pub fn ready(&self) -> bool {
        self.hub.pump_available();
        self.job.borrow().is_finished()
    }

    /// Waits until every item has finished, at most `timeout` (`None`: no limit); whether it
    /// has. Shows a progress bar as configured on the view.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let total = self.len().map(|n| n as u64);
        let progress = Progress::new(total, "items", self.show);
        let job = self.job.clone();
        let finished = self.hub.wait_until(
            |_| {
                let j = job.borrow();
                progress.set(j.done());
                j.is_finished()
            },
            deadline,
        )?;
        if finished {
            progress.finish();
        }
        self.check_source()?;
        Ok(finished)
    }

    fn check_source(&self) -> Result<()> {
        match self.job.borrow_mut().error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn check_unread(&self) -> Result<()> {
        if self.job.borrow().store.consumed() {
            return Err(Error::Invalid(
                "this map's results were already taken by iteration".into(),
            ));
        }
        Ok(())
    }

    /// Waits for every item; all results in input order, or every remote failure together
    /// ([`Error::Remote`], each naming its engine and item), or [`Error::Aborted`] if items were
    /// aborted before they were sent.
    pub fn get(&self) -> Result<Vec<R>>
    where
        R: Clone,
    {
        self.wait(None)?;
        self.values()
    }

    /// Like [`get`](Self::get), but gives up after `timeout` with [`Error::Timeout`]; the map
    /// goes on and can be waited for again.
    pub fn get_timeout(&self, timeout: Duration) -> Result<Vec<R>>
    where
        R: Clone,
    {
        if !self.wait(Some(timeout))? {
            return Err(Error::Timeout(timeout));
        }
        self.values()
    }

    fn values(&self) -> Result<Vec<R>>
    where
        R: Clone,
    {
        self.check_unread()?;
        let j = self.job.borrow();
        let values = j.store.values()?;
        if j.aborted_unsent > 0 {
            return Err(aborted_error(j.aborted_unsent));
        }
        Ok(values)
    }

    /// Waits for every item; each item's result or error in input order, side by side
    /// (IPython Parallel's `return_exceptions=True`). Items aborted before they were sent come
    /// last as [`Error::Aborted`].
    pub fn get_each(&self) -> Result<Vec<Result<R>>>
    where
        R: Clone,
    {
        self.wait(None)?;
        self.check_unread()?;
        let j = self.job.borrow();
        let mut out: Vec<Result<R>> = j
            .store
            .each()
            .into_iter()
            .map(|r| r.map_err(Error::from))
            .collect();
        out.extend((0..j.aborted_unsent).map(|_| Err(aborted_error(1))));
        Ok(out)
    }

    /// Waits for every item and moves the results out in input order (no `Clone` needed); every
    /// remote failure together, like [`get`](Self::get).
    pub fn into_vec(self) -> Result<Vec<R>> {
        self.wait(None)?;
        self.check_unread()?;
        let mut j = self.job.borrow_mut();
        let (values, errors) = j.store.take_all();
        if !errors.is_empty() {
            return Err(errors.into());
        }
        if j.aborted_unsent > 0 {
            return Err(aborted_error(j.aborted_unsent));
        }
        Ok(values)
    }

    /// Stops the map: items not yet sent are not run, chunks queued on engines are aborted
    /// there, chunks already running finish. Their items report [`Error::Aborted`] or a remote
    /// error of kind `Aborted`.
    pub fn abort(&self) -> Result<()> {
        self.hub.abort_job(&self.job_ref())
    }

    /// Where and when each chunk ran, in the order chunks finished.
    pub fn timings(&self) -> Vec<TaskTiming> {
        self.hub.pump_available();
        let submitted = self.job.borrow().submitted;
        self.job
            .borrow()
            .timings
            .iter()
            .map(|t| TaskTiming {
                first: t.first,
                count: t.count,
                engine: t.engine as EngineId,
                started: to_system_time(submitted + f64::from(t.started)),
                completed: to_system_time(submitted + f64::from(t.completed)),
                received: to_system_time(submitted + f64::from(t.received)),
            })
            .collect()
    }

    /// The engine that ran item `index` (its last attempt), once it has run.
    pub fn engine_of(&self, index: u64) -> Option<EngineId> {
        self.job
            .borrow()
            .timings
            .iter()
            .rev()
            .find(|t| (t.first..t.first + u64::from(t.count)).contains(&index))
            .map(|t| t.engine as EngineId)
    }

    /// IPython Parallel's `wall_time`: the last completion minus submission; `None` until
    /// every item has finished.
    pub fn wall_time(&self) -> Option<Duration> {
        let j = self.finished_job()?;
        let last = j
            .timings
            .iter()
            .map(|t| f64::from(t.completed))
            .fold(0.0, f64::max);
        Some(Duration::from_secs_f64(last))
    }

    /// IPython Parallel's `serial_time`: the engines' compute times added up; `None` until
    /// every item has finished.
    pub fn serial_time(&self) -> Option<Duration> {
        let secs: f64 = self
            .finished_job()?
            .timings
            .iter()
            .map(|t| f64::from(t.completed - t.started).max(0.0))
            .sum();
        Some(Duration::from_secs_f64(secs))
    }

    /// The job, once every item has finished.
    fn finished_job(&self) -> Option<std::cell::Ref<'_, MapJob<R>>> {
        self.hub.pump_available();
        let j = self.job.borrow();
        j.is_finished().then_some(j)
    }

    /// Waits for every item; the results keyed by the engine that ran each (IPython Parallel's
    /// `get_dict`), or every remote failure together. An error ([`Error::Invalid`]) when an
    /// engine ran more than one item: a map of as many items as engines, one per engine
    /// (`chunksize(1)`), has one result per engine.
    pub fn get_dict(&self) -> Result<BTreeMap<EngineId, R>>
    where
        R: Clone,
    {
        let values = self.get()?;
        let mut by_engine = BTreeMap::new();
        for (index, value) in values.into_iter().enumerate() {
            let engine = self
                .engine_of(index as u64)
                .expect("every item of a finished map ran");
            if by_engine.insert(engine, value).is_some() {
                return Err(Error::Invalid(format!(
                    "get_dict: engine {engine} ran more than one item of this map (one result \
                     per engine is needed; use get() and engine_of())"
                )));
            }
        }
        Ok(by_engine)
    }
}

pub(super) fn aborted_error(items: u64) -> Error {
    Error::Aborted(format!(
        "{items} item(s) were aborted before they were sent"
    ))
}

impl<R: DeserializeOwned + 'static> IntoIterator for MapResult<R> {
    type Item = Result<R>;
    type IntoIter = MapIter<R>;

    /// Reads the results as they arrive: in input order, or in arrival order for a view made
    /// with `ordered(false)`. A failed item yields its error and the iteration goes on.
    fn into_iter(self) -> MapIter<R> {
        let total = self.len().map(|n| n as u64);
        MapIter {
            progress: Progress::new(total, "items", self.show),
            result: self,
            yielded: 0,
        }
    }
}

impl<R: DeserializeOwned + 'static> Drop for MapResult<R> {
    fn drop(&mut self) {
        self.job.borrow_mut().abandoned = true;
        let job: JobRef = self.job.clone();
        self.hub.forget_job(&job);
    }
}

/// Reads a map's results as they arrive (`for r in map_result`, or the iterator `imap` returns).
/// Each item is a `Result`: a failed item yields its error and the iteration goes on. Dropping
/// the iterator early stops the map (what has not started is not run).
pub struct MapIter<R: DeserializeOwned + 'static> {
    result: MapResult<R>,
    progress: Progress,
    yielded: u64,
}

impl<R: DeserializeOwned + 'static> MapIter<R> {
    /// The next result and the index of its item.
    pub fn next_indexed(&mut self) -> Option<Result<(u64, R)>> {
        let hub = self.result.hub.clone();
        let job = self.result.job.clone();
        let ordered = self.result.ordered;
        let next = |job: &RefCell<MapJob<R>>| -> Option<u64> {
            let mut j = job.borrow_mut();
            if ordered {
                let i = j.store.next_in_order();
                j.store.is_final(i).then_some(i)
            } else {
                j.store.next_arrival()
            }
        };
        let mut found = None;
        let waited = hub.wait_until(
            |_| {
                found = next(&job);
                let j = job.borrow();
                self.progress.set(j.done());
                found.is_some() || (j.is_finished() && j.store.next_in_order() >= j.store.added)
            },
            None,
        );
        if let Err(e) = waited {
            return Some(Err(e));
        }
        if let Some(e) = job.borrow_mut().error.take() {
            return Some(Err(e));
        }
        match found {
            Some(i) => {
                let outcome = job.borrow_mut().store.take(i);
                self.yielded += 1;
                // Reading made room for an imap with a bound on outstanding items.
                let _ = hub.dispatch();
                Some(outcome.map(|v| (i, v)).map_err(Error::from))
            }
            None => {
                let unsent = job.borrow().aborted_unsent;
                if unsent > 0 && self.yielded < job.borrow().done() {
                    self.yielded += 1;
                    return Some(Err(aborted_error(1)));
                }
                self.progress.finish();
                None
            }
        }
    }

    /// The underlying result (timings, progress, abort).
    pub fn result(&self) -> &MapResult<R> {
        &self.result
    }
}

impl<R: DeserializeOwned + 'static> Iterator for MapIter<R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_indexed().map(|r| r.map(|(_, v)| v))
    }
}

/// One load-balanced task: its result, and which engine ran it.
#[must_use = "a TaskResult does nothing by itself: call get()"]
pub struct TaskResult<R: DeserializeOwned + 'static> {
    inner: MapResult<R>,
}

impl<R: DeserializeOwned + Clone + 'static> TaskResult<R> {
    pub(crate) fn new(inner: MapResult<R>) -> Self {
        TaskResult { inner }
    }

    /// Whether the task has finished. Never blocks.
    pub fn ready(&self) -> bool {
        self.inner.ready()
    }

    /// Waits at most `timeout` (`None`: no limit); whether the task has finished.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.inner.wait(timeout)
    }

    /// Waits for the task; its result, or its error naming the engine.
    pub fn get(&self) -> Result<R> {
        Ok(self.inner.get()?.pop().expect("one task, one result"))
    }

    /// Like [`get`](Self::get), with a time limit ([`Error::Timeout`]).
    pub fn get_timeout(&self, timeout: Duration) -> Result<R> {
        Ok(self
            .inner
            .get_timeout(timeout)?
            .pop()
            .expect("one task, one result"))
    }

    /// The engine that ran the task (`None` until it has run).
    pub fn engine_id(&self) -> Option<EngineId> {
        self.inner.progress();
        self.inner.engine_of(0)
    }

    /// When and where it ran (`None` until it has run).
    pub fn timing(&self) -> Option<TaskTiming> {
        self.inner.timings().last().copied()
    }

    /// Stops the task if it has not started.
    pub fn abort(&self) -> Result<()> {
        self.inner.abort()
    }

    /// Always 1: one task (IPython Parallel's `len(ar)`).
    pub fn len(&self) -> usize {
        1
    }

    /// Always false: one task.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// IPython Parallel's `wall_time`: completion minus submission; `None` until the task has
    /// finished.
    pub fn wall_time(&self) -> Option<Duration> {
        self.inner.wall_time()
    }

    /// IPython Parallel's `serial_time`: the task's compute time; `None` until it has finished.
    pub fn serial_time(&self) -> Option<Duration> {
        self.inner.serial_time()
    }
}
