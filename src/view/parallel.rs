//! A different argument for each engine of a direct view ([`DirectView::apply_each`]), and on it
//! IPython Parallel's `@view.parallel` ([`ParallelFunction`]: a sequence split by the block rule,
//! each engine's part in one call, the parts joined) and `@view.remote` ([`RemoteFunction`]).

use serde::{Serialize, de::DeserializeOwned};

use super::DirectView;
use crate::error::{Error, RemoteError, Result};
use crate::partition::block_counts;
use crate::protocol::Request;
use crate::registry::Remote;
use crate::result::{AsyncResult, Multiplicity};

impl<M: Multiplicity> DirectView<M> {
    /// Calls `f` on every engine of the view, each with its own argument, without waiting:
    /// the k-th of `args` goes to the k-th engine in target order. [`Error::Invalid`] unless
    /// there is one argument per engine. Each argument travels alone to its engine (never as a
    /// broadcast). Controller only.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<u64, u64>) -> mpiview::Result<()> {
    /// let dview = client.direct_view();
    /// let seeds: Vec<u64> = (0..dview.len() as u64).map(|k| 1000 + k).collect();
    /// let per_engine: Vec<u64> = dview.apply_each(f, seeds)?.get()?;
    /// # Ok(()) }
    /// ```
    pub fn apply_each<A: Serialize, R: DeserializeOwned>(
        &self,
        f: &Remote<A, R>,
        args: impl IntoIterator<Item = A>,
    ) -> Result<AsyncResult<R, M>> {
        let encoded = args
            .into_iter()
            .map(|a| postcard::to_stdvec(&a))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if encoded.len() != self.targets.len() {
            return Err(Error::Invalid(format!(
                "apply_each: {} arguments for {} engines (one per engine, in target order)",
                encoded.len(),
                self.targets.len()
            )));
        }
        let func = self.hub.registry.resolve(f.key())?;
        let mut encoded = encoded.into_iter();
        let id = self
            .hub
            .submit_each(&self.targets, |id, _| Request::Apply {
                id,
                func,
                args: encoded.next().expect("one argument per engine"),
                capture: self.capture,
            })?;
        Ok(self.applied(id, func))
    }

    /// IPython Parallel's `@dview.parallel()`: `f` takes one engine's part of a sequence and
    /// returns a result per item; calling the returned function splits the sequence by the block
    /// rule over this view's engines (10 items over 4 engines: 3, 3, 2, 2), runs `f` once per
    /// engine on its part, and joins the parts in target order.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client, square_all: &mpiview::Remote<Vec<f64>, Vec<f64>>)
    /// # -> mpiview::Result<()> {
    /// let squares = client.direct_view().parallel(square_all).call((0..100).map(f64::from))?;
    /// # Ok(()) }
    /// ```
    pub fn parallel<'v, A, R>(
        &'v self,
        f: &'v Remote<Vec<A>, Vec<R>>,
    ) -> ParallelFunction<'v, A, R, M> {
        ParallelFunction { view: self, f }
    }

    /// IPython Parallel's `@dview.remote()`: `f` bound to this view, called on every engine with
    /// the same argument.
    pub fn remote<'v, A, R>(&'v self, f: &'v Remote<A, R>) -> RemoteFunction<'v, A, R, M> {
        RemoteFunction { view: self, f }
    }
}

/// A registered function over a sequence, split across a direct view's engines
/// ([`DirectView::parallel`]). Controller only.
pub struct ParallelFunction<'v, A, R, M: Multiplicity> {
    view: &'v DirectView<M>,
    f: &'v Remote<Vec<A>, Vec<R>>,
}

impl<A: Serialize, R: DeserializeOwned, M: Multiplicity> ParallelFunction<'_, A, R, M> {
    /// Splits `items` by the block rule over the view's engines and calls the function on each
    /// part, without waiting: each engine's list of results, in target order.
    pub fn call_async(&self, items: impl IntoIterator<Item = A>) -> Result<AsyncResult<Vec<R>, M>> {
        let total: Vec<A> = items.into_iter().collect();
        let counts = block_counts(total.len(), self.view.targets.len());
        let mut rest = total.into_iter();
        let parts: Vec<Vec<A>> = counts
            .iter()
            .map(|&n| rest.by_ref().take(n).collect())
            .collect();
        self.view.apply_each(self.f, parts)
    }

    /// Splits, calls and waits (within the view's time limit): every result in input order, or
    /// every engine's error together.
    pub fn call(&self, items: impl IntoIterator<Item = A>) -> Result<Vec<R>> {
        let result = self.call_async(items)?;
        if let Some(limit) = self.view.limit
            && !result.wait(Some(limit))?
        {
            return Err(Error::Timeout(limit));
        }
        let mut joined = Vec::new();
        let mut errors: Vec<RemoteError> = Vec::new();
        for part in result.get_each()? {
            match part {
                Ok(values) => joined.extend(values),
                Err(e) => errors.extend(e.remote_errors().iter().cloned()),
            }
        }
        if errors.is_empty() {
            Ok(joined)
        } else {
            Err(errors.into())
        }
    }
}

/// A registered function bound to a direct view ([`DirectView::remote`]). Controller only.
pub struct RemoteFunction<'v, A, R, M: Multiplicity> {
    view: &'v DirectView<M>,
    f: &'v Remote<A, R>,
}

impl<A: Serialize, R: DeserializeOwned, M: Multiplicity> RemoteFunction<'_, A, R, M> {
    /// Calls it on every engine of the view and waits: one value for a single-engine view, a
    /// `Vec` in target order otherwise ([`DirectView::apply_sync`]).
    pub fn call(&self, args: A) -> Result<M::Out<R>> {
        self.view.apply_sync(self.f, args)
    }

    /// Calls it without waiting ([`DirectView::apply`]).
    pub fn call_async(&self, args: A) -> Result<AsyncResult<R, M>> {
        self.view.apply(self.f, args)
    }
}
