//! Which engines a view addresses: IPython Parallel's `client[...]` indexing, as pure logic.
//!
//! | IPython Parallel       | mpiview                                   |
//! |------------------------|-------------------------------------------|
//! | `client[:]`            | `client.view(..)`                         |
//! | `client[-1]`           | `client.engine(-1)` (a single-engine view) |
//! | `client[1:3]`          | `client.view(1..3)`                       |
//! | `client[::2]`          | `client.view(Targets::slice(None, None, 2))` |
//! | `client[[0, 2]]`       | `client.view([0, 2])`                     |
//!
//! Negative numbers count from the end, slices clamp like Python's (`client[2:100]` is fine), and
//! a negative step walks backwards. An index or list entry out of range, a zero step, a repeated
//! engine or an empty selection is an [`Error::Targets`](crate::Error::Targets).

use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo};

use crate::error::{Result, TargetsError};

pub use crate::ids::EngineId;

/// An index of one engine, for [`Client::engine`](crate::Client::engine): any integer type,
/// so that an engine id (`usize`) and a Python-style index (`-1`: the last) both work.
pub trait EngineIndex: Copy {
    /// The index as an `isize` (negative counts from the end); `None` beyond `isize::MAX`.
    fn to_isize(self) -> Option<isize>;
}

macro_rules! engine_index {
    ($($t:ty),*) => {$(
        impl EngineIndex for $t {
            fn to_isize(self) -> Option<isize> {
                isize::try_from(self).ok()
            }
        }
    )*};
}
engine_index!(usize, isize, u8, u16, u32, u64, i8, i16, i32, i64);

impl Targets {
    /// One engine by any integer index (see [`EngineIndex`]).
    ///
    /// ```
    /// use mpiview::Targets;
    /// let last: isize = -1;
    /// let id: usize = 2;
    /// assert_eq!(Targets::index(last).resolve(4).unwrap(), vec![3]);
    /// assert_eq!(Targets::index(id).resolve(4).unwrap(), vec![2]);
    /// assert!(Targets::index(u64::MAX).resolve(4).is_err());
    /// ```
    pub fn index(index: impl EngineIndex) -> Targets {
        Targets::Index(index.to_isize().unwrap_or(isize::MAX))
    }
}

/// A selection of engines, resolved against the engine count by [`Targets::resolve`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Targets {
    /// Every engine, in id order (`client[:]`).
    All,
    /// One engine; negative counts from the end (`client[-1]`).
    Index(isize),
    /// A Python slice (`client[start:stop:step]`).
    Slice {
        /// First index (default: the start for the step's direction).
        start: Option<isize>,
        /// One past the last index (default: the end for the step's direction).
        stop: Option<isize>,
        /// Stride; must not be zero.
        step: isize,
    },
    /// An explicit list, in the order given (`client[[2, 0]]`).
    List(Vec<isize>),
}

impl Targets {
    /// A Python slice `start:stop:step`.
    ///
    /// ```
    /// use mpiview::Targets;
    /// assert_eq!(Targets::slice(None, None, 2).resolve(5).unwrap(), vec![0, 2, 4]);
    /// assert_eq!(Targets::slice(None, None, -1).resolve(3).unwrap(), vec![2, 1, 0]);
    /// ```
    pub fn slice(start: Option<isize>, stop: Option<isize>, step: isize) -> Targets {
        Targets::Slice { start, stop, step }
    }

    /// The engine ids this selection names among `n_engines`, in view order.
    ///
    /// ```
    /// use mpiview::Targets;
    /// assert_eq!(Targets::Index(-1).resolve(4).unwrap(), vec![3]);
    /// assert_eq!(Targets::List(vec![0, -2]).resolve(4).unwrap(), vec![0, 2]);
    /// assert!(Targets::Index(4).resolve(4).is_err());
    /// ```
    pub fn resolve(&self, n_engines: usize) -> Result<Vec<EngineId>> {
        // Engine counts come from MPI's `int` ranks: they fit in isize.
        let n = n_engines as isize;
        let ids = match self {
            Targets::All => (0..n_engines).collect(),
            Targets::Index(i) => vec![index(*i, n)?],
            Targets::List(list) => {
                let ids = list
                    .iter()
                    .map(|&i| index(i, n))
                    .collect::<Result<Vec<_>>>()?;
                if let Some(engine) = first_duplicate(&ids) {
                    return Err(TargetsError::Repeated { engine }.into());
                }
                ids
            }
            Targets::Slice { start, stop, step } => slice_indices(*start, *stop, *step, n)?,
        };
        if ids.is_empty() {
            return Err(TargetsError::Empty { engines: n_engines }.into());
        }
        Ok(ids)
    }
}

fn index(i: isize, n: isize) -> Result<EngineId> {
    let j = if i < 0 { i + n } else { i };
    if (0..n).contains(&j) {
        Ok(j as EngineId)
    } else {
        Err(TargetsError::OutOfRange {
            index: i,
            engines: n as usize,
        }
        .into())
    }
}

fn first_duplicate(ids: &[EngineId]) -> Option<EngineId> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().find(|id| !seen.insert(*id))
}

/// Python's `slice(start, stop, step).indices(n)` followed by `range(...)`.
fn slice_indices(
    start: Option<isize>,
    stop: Option<isize>,
    step: isize,
    n: isize,
) -> Result<Vec<EngineId>> {
    if step == 0 {
        return Err(TargetsError::ZeroStep.into());
    }
    let (lower, upper) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let clamp = |v: Option<isize>, default: isize| match v {
        None => default,
        Some(v) if v < 0 => (v + n).max(lower),
        Some(v) => v.min(upper),
    };
    let (start, stop) = if step > 0 {
        (clamp(start, lower), clamp(stop, upper))
    } else {
        (clamp(start, upper), clamp(stop, lower))
    };
    let mut ids = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        ids.push(i as EngineId);
        i += step;
    }
    Ok(ids)
}

impl From<isize> for Targets {
    fn from(i: isize) -> Self {
        Targets::Index(i)
    }
}

impl From<RangeFull> for Targets {
    fn from(_: RangeFull) -> Self {
        Targets::All
    }
}

impl From<Range<isize>> for Targets {
    fn from(r: Range<isize>) -> Self {
        Targets::slice(Some(r.start), Some(r.end), 1)
    }
}

impl From<RangeInclusive<isize>> for Targets {
    fn from(r: RangeInclusive<isize>) -> Self {
        let (start, end) = r.into_inner();
        // `start..=end` over indices: `end + 1` as a stop, but -1 means "the last" and must stay so.
        let stop = if end == -1 { None } else { Some(end + 1) };
        Targets::slice(Some(start), stop, 1)
    }
}

impl From<RangeFrom<isize>> for Targets {
    fn from(r: RangeFrom<isize>) -> Self {
        Targets::slice(Some(r.start), None, 1)
    }
}

impl From<RangeTo<isize>> for Targets {
    fn from(r: RangeTo<isize>) -> Self {
        Targets::slice(None, Some(r.end), 1)
    }
}

/// Lists of engine indices: `[0, 2]`, `vec![1, -1]`, `&ids[..]`, `client.ids()`. Several integer
/// types are accepted so that plain literals work (they default to `i32`).
macro_rules! list_from {
    ($($t:ty),*) => {$(
        impl From<Vec<$t>> for Targets {
            fn from(v: Vec<$t>) -> Self {
                Targets::List(v.into_iter().map(|i| i as isize).collect())
            }
        }
        impl From<&[$t]> for Targets {
            fn from(v: &[$t]) -> Self {
                Targets::List(v.iter().map(|&i| i as isize).collect())
            }
        }
        impl<const K: usize> From<[$t; K]> for Targets {
            fn from(v: [$t; K]) -> Self {
                Targets::List(v.iter().map(|&i| i as isize).collect())
            }
        }
    )*};
}
list_from!(i32, i64, isize, usize);

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: impl Into<Targets>, n: usize) -> Vec<EngineId> {
        t.into().resolve(n).unwrap()
    }

    #[test]
    fn all_index_and_lists() {
        assert_eq!(r(.., 4), vec![0, 1, 2, 3]);
        assert_eq!(r(-1isize, 4), vec![3]);
        assert_eq!(r(0isize, 4), vec![0]);
        assert_eq!(r([2, 0], 4), vec![2, 0]);
        assert_eq!(r(vec![-1, -4], 4), vec![3, 0]);
        assert_eq!(r(vec![2usize, 1], 4), vec![2, 1]);
        assert_eq!(r(&[1i64][..], 4), vec![1]);
    }

    #[test]
    fn slices_match_python() {
        // Each expectation is `list(range(n))[start:stop:step]` in Python.
        let s = |a, b, c, n| Targets::slice(a, b, c).resolve(n);
        assert_eq!(s(None, None, 2, 5).unwrap(), vec![0, 2, 4]);
        assert_eq!(s(Some(1), None, 2, 5).unwrap(), vec![1, 3]);
        assert_eq!(s(None, None, -1, 4).unwrap(), vec![3, 2, 1, 0]);
        assert_eq!(s(Some(-2), None, 1, 4).unwrap(), vec![2, 3]);
        assert_eq!(s(None, Some(-1), 1, 4).unwrap(), vec![0, 1, 2]);
        assert_eq!(s(Some(2), Some(100), 1, 4).unwrap(), vec![2, 3]);
        assert_eq!(s(Some(-100), Some(2), 1, 4).unwrap(), vec![0, 1]);
        assert_eq!(s(Some(3), Some(0), -2, 5).unwrap(), vec![3, 1]);
        assert_eq!(s(Some(10), None, -3, 5).unwrap(), vec![4, 1]);
        assert_eq!(s(None, Some(-10), -1, 3).unwrap(), vec![2, 1, 0]);
        assert_eq!(r(1..3, 4), vec![1, 2]);
        assert_eq!(r(1..=3, 4), vec![1, 2, 3]);
        assert_eq!(r(-2..=-1, 4), vec![2, 3]);
        assert_eq!(r(2.., 4), vec![2, 3]);
        assert_eq!(r(..2, 4), vec![0, 1]);
    }

    #[test]
    fn bad_targets_are_errors() {
        use crate::error::{Error, TargetsError as T};
        let err = |t: Targets, n| match t.resolve(n).unwrap_err() {
            Error::Targets(t) => t,
            other => panic!("{other}"),
        };
        let out = |index, engines| T::OutOfRange { index, engines };
        assert_eq!(err(Targets::Index(4), 4), out(4, 4));
        assert_eq!(err(Targets::Index(-5), 4), out(-5, 4));
        assert_eq!(err(Targets::List(vec![0, 9]), 4), out(9, 4));
        assert_eq!(
            err(Targets::List(vec![1, -3]), 4),
            T::Repeated { engine: 1 }
        );
        assert_eq!(err(Targets::List(vec![]), 4), T::Empty { engines: 4 });
        assert_eq!(
            err(Targets::slice(Some(3), Some(3), 1), 4),
            T::Empty { engines: 4 }
        );
        assert_eq!(err(Targets::slice(None, None, 0), 4), T::ZeroStep);
        assert_eq!(err(Targets::All, 0), T::Empty { engines: 0 });
        assert_eq!(
            out(4, 4).to_string(),
            "engine index 4 is out of range: there are 4 engines"
        );
    }
}
