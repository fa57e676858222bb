//! [`MapRefIter`]: reading a map's results as they arrive without taking them out, so that
//! `get` still answers afterwards.

use serde::de::DeserializeOwned;

use super::map_result::{MapResult, aborted_error};
use super::progress::Progress;
use crate::balance::job::Job;
use crate::error::{Error, Result};

impl<R: DeserializeOwned + Clone + 'static> MapResult<R> {
    /// The results as they arrive (input order, or arrival order for a view made with
    /// `ordered(false)`), each a clone: the map keeps its results, and [`get`](Self::get)
    /// answers afterwards, as IPython Parallel's does after `for r in amr`. A failed item
    /// yields its error and the iteration goes on. The same as `for r in &result`.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<u64, u64>) -> mpiview::Result<()> {
    /// let squares = client.load_balanced_view().map(f, 0..100u64)?;
    /// for r in &squares {
    ///     println!("{}", r?);
    /// }
    /// let all: Vec<u64> = squares.get()?;
    /// # Ok(()) }
    /// ```
    pub fn iter(&self) -> MapRefIter<'_, R> {
        let total = self.len().map(|n| n as u64);
        MapRefIter {
            progress: Progress::new(total, "items", self.show),
            result: self,
            yielded: 0,
            refused: false,
        }
    }
}

impl<'a, R: DeserializeOwned + Clone + 'static> IntoIterator for &'a MapResult<R> {
    type Item = Result<R>;
    type IntoIter = MapRefIter<'a, R>;

    fn into_iter(self) -> MapRefIter<'a, R> {
        self.iter()
    }
}

/// Reads a map's results as they arrive, cloning each and leaving it in the map
/// ([`MapResult::iter`], `for r in &result`).
pub struct MapRefIter<'a, R: DeserializeOwned + 'static> {
    result: &'a MapResult<R>,
    progress: Progress,
    /// Outcomes yielded so far (the position in input or arrival order).
    yielded: u64,
    /// The map cannot be read in place (an `imap`): said once, then the iteration ends.
    refused: bool,
}

impl<R: DeserializeOwned + Clone + 'static> Iterator for MapRefIter<'_, R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        let MapResult {
            hub, job, ordered, ..
        } = self.result;
        if job.borrow().bounded() {
            // An imap sends more only as results are taken out: reading in place would wait
            // forever once `max_outstanding` items are in.
            if self.refused {
                return None;
            }
            self.refused = true;
            return Some(Err(Error::Invalid(
                "an imap's results are read by taking them out: iterate the imap itself".into(),
            )));
        }
        let k = self.yielded;
        let mut found = None;
        let waited = hub.wait_until(
            |_| {
                let j = job.borrow();
                self.progress.set(j.done());
                found = if *ordered {
                    j.store.is_final(k).then_some(k)
                } else {
                    j.store.arrival(k as usize)
                };
                found.is_some() || (j.is_finished() && k >= j.store.added)
            },
            None,
        );
        if let Err(e) = waited {
            return Some(Err(e));
        }
        if let Some(e) = job.borrow_mut().error.take() {
            return Some(Err(e));
        }
        let j = job.borrow();
        match found {
            Some(index) => {
                self.yielded += 1;
                Some(match j.store.peek(index) {
                    Some(outcome) => outcome.map_err(Error::from),
                    None => Err(Error::Invalid(
                        "this map's results were already taken by iteration".into(),
                    )),
                })
            }
            None if j.aborted_unsent > 0 && self.yielded < j.done() => {
                self.yielded += 1;
                Some(Err(aborted_error(1)))
            }
            None => {
                self.progress.finish();
                None
            }
        }
    }
}
