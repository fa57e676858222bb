//! The link-time table `#[remote]` fills: one [`Attributed`] per function, collected by
//! `inventory` into every rank's [`Registry`](super::Registry) at `Cluster::init`.
//!
//! Everything here is for the code the attribute writes (reached through `mpiview::__private`),
//! not for direct use.

use serde::{Serialize, de::DeserializeOwned};

use super::{Adapter, Context};
use crate::error::BoxError;

/// One `#[remote]` function: where it is and how to make its table entry.
#[doc(hidden)]
pub struct Attributed {
    pub(crate) path: &'static str,
    pub(crate) name: &'static str,
    pub(crate) site: &'static str,
    pub(crate) make: fn() -> Adapter,
}

impl Attributed {
    /// The entry for the function `name` at `path` (`module_path!()::name`), written at `site`
    /// (`file:line`).
    pub const fn new(
        path: &'static str,
        name: &'static str,
        site: &'static str,
        make: fn() -> Adapter,
    ) -> Attributed {
        Attributed {
            path,
            name,
            site,
            make,
        }
    }
}

inventory::collect!(Attributed);

/// A return type whose `Err` comes back to the driver as a remote error: `Result<T, E>` for any
/// error `E` a [`BoxError`] can be made from (`std::io::Error`, `mpiview::Error`, `String`, ...).
#[doc(hidden)]
pub trait Fallible {
    /// What comes back on success.
    type Value;
    /// The value, or the error boxed.
    fn into_outcome(self) -> Result<Self::Value, BoxError>;
}

impl<T, E: Into<BoxError>> Fallible for Result<T, E> {
    type Value = T;
    fn into_outcome(self) -> Result<T, BoxError> {
        self.map_err(Into::into)
    }
}

/// The entry of a `#[remote]` function of its arguments alone.
#[doc(hidden)]
pub fn plain<A, R>(f: impl Fn(A) -> R + 'static) -> Adapter
where
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + 'static,
{
    Adapter::plain(f)
}

/// The entry of a fallible `#[remote]` function, or of one that takes a `&mut Context`.
#[doc(hidden)]
pub fn with_context<A, R>(
    f: impl Fn(&mut Context<'_>, A) -> Result<R, BoxError> + 'static,
) -> Adapter
where
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + 'static,
{
    Adapter::with_context(f)
}
