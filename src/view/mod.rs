//! Views: [`DirectView`] (a fixed list of engines) and [`LoadBalancedView`] (whichever engine is
//! free).

mod balanced;
mod direct;
mod parallel;
mod transfers_async;

pub use balanced::LoadBalancedView;
pub use direct::DirectView;
pub use parallel::{ParallelFunction, RemoteFunction};

use std::cell::RefCell;
use std::rc::Rc;

use crate::balance::chunking::Chunking;
use crate::balance::job::{MapJob, MapSpec};
use crate::balance::source::IterSource;
use crate::error::Result;
use crate::hub::Hub;
use crate::result::{MapResult, ShowProgress};

/// Starts a map described by `spec` over `items`; its results arrive in the returned
/// [`MapResult`].
fn start_map<A, R, I>(
    hub: &Rc<Hub>,
    spec: MapSpec,
    chunking: Chunking,
    items: I,
    show: ShowProgress,
) -> Result<MapResult<R>>
where
    A: serde::Serialize + 'static,
    R: serde::de::DeserializeOwned + 'static,
    I: Iterator<Item = A> + 'static,
{
    let ordered = !spec.unordered;
    // Per-item encodings are kept only when failed items may be sent again alone.
    let source = Box::new(IterSource::new(items, spec.retries > 0));
    let job = Rc::new(RefCell::new(MapJob::<R>::new(spec, chunking, source)));
    hub.add_job(job.clone())?;
    Ok(MapResult::new(hub.clone(), job, ordered, show))
}

/// A view's `map` and `map_sync`, written once for both views: each view says how its maps
/// start (`start`: chunking, placement, progress), these are the same everywhere.
macro_rules! map_methods {
    ($map_doc:literal) => {
        #[doc = $map_doc]
        pub fn map<A, R>(
            &self,
            f: &Remote<A, R>,
            items: impl IntoIterator<Item = A>,
        ) -> Result<MapResult<R>>
        where
            A: Serialize + 'static,
            R: DeserializeOwned + 'static,
        {
            // The inputs are taken over (they may borrow from the caller), then encoded chunk
            // by chunk as engines have room.
            let items: Vec<A> = items.into_iter().collect();
            let n = items.len();
            self.start(f, items.into_iter(), Some(n), None)
        }

        /// Maps and waits: the results in input order, or every failure together; within the
        /// view's time limit if it has one ([`Error::Timeout`](crate::Error::Timeout) after it,
        /// the map going on).
        pub fn map_sync<A, R>(
            &self,
            f: &Remote<A, R>,
            items: impl IntoIterator<Item = A>,
        ) -> Result<Vec<R>>
        where
            A: Serialize + 'static,
            R: DeserializeOwned + 'static,
        {
            let result = self.map(f, items)?;
            if let Some(limit) = self.limit
                && !result.wait(Some(limit))?
            {
                return Err(crate::Error::Timeout(limit));
            }
            result.into_vec()
        }
    };
}
use map_methods;
