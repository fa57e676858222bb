//! The trapezoidal rule, cut into blocks of intervals that engines sum independently.
//!
//! `∫_a^b f(x) dx` on `n ≥ 2` evenly spaced points `x_k = a + k·h`, `h = (b − a)/(n − 1)`,
//! `k = 0..n−1`: `n − 1` intervals, interval `i` being `[x_i, x_{i+1}]`. A block of intervals
//! `[i0, i1)` contributes `h · Σ_{i=i0}^{i1−1} (f(x_i) + f(x_{i+1}))/2`, returned as a
//! [`CompensatedSum`] so that the controller can add blocks from any number of engines with
//! compensation: the total depends on the split only through rounding (about 1e-16 relative).
//! Each `x_k` is computed as `a + k as f64 * h`, never by accumulation (the `sin2` kernel adds
//! `k as f64 * h` to `a` exactly, inside its range reduction: half an ulp closer still).
//!
//! ```
//! use mpiview_apps::kernels::sum::CompensatedSum;
//! use mpiview_apps::kernels::trapz::{Grid, Integrand};
//!
//! let f = Integrand::builtin("sin").unwrap().compile().unwrap();
//! let grid = Grid::new(0.0, std::f64::consts::PI, 1_000_001).unwrap();
//! // What three engines would do, each with its block of intervals:
//! let parts = (0..3).map(|i| f.partial(&grid, grid.block(3, i)));
//! let total = CompensatedSum::sum_of(parts).value();
//! assert!((total - 2.0).abs() < 2e-12); // the rule's own error here: h²/6 ≈ 1.6e-12
//! ```
//!
//! Built-in integrands ([`Builtin`]) run vectorised kernels (AVX2 + FMA where available, see
//! [`crate::kernels::vmath`]); expressions (`--expr`, [`Integrand::Expr`]) are parsed once per
//! process with `exmex` and evaluated 64 points at a time.

mod builtin;
mod expr;
mod kernel;
mod quadrants;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

pub use builtin::Builtin;
use expr::ExprFn;

use super::sum::CompensatedSum;
use mpiview::partition::block_range_u64;

/// Errors from naming, parsing or placing an integrand.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrandError {
    /// A `--function` name that is not a built-in.
    #[error("unknown function '{name}' (known: {known})")]
    UnknownBuiltin {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// An expression that does not parse.
    #[error("cannot parse expression '{expr}': {message}")]
    Parse {
        /// The expression.
        expr: String,
        /// The parser's message.
        message: String,
    },
    /// A unary minus in front of a power (`-x^2`), which `exmex` reads as `(-x)^2`.
    #[error(
        "ambiguous '{snippet}' in expression '{expr}': the parser reads a leading minus before ^ as {reading}; write {fixed} or {reading}"
    )]
    AmbiguousMinus {
        /// The expression.
        expr: String,
        /// The ambiguous part (`-x^2`).
        snippet: String,
        /// How the parser would read it (`(-x)^2`).
        reading: String,
        /// The conventional reading, written unambiguously (`-(x^2)`).
        fixed: String,
    },
    /// An expression with variables other than `x`.
    #[error("unknown variable(s) {names} in expression '{expr}' (the only variable is x)")]
    UnknownVariables {
        /// The expression.
        expr: String,
        /// The offending names, comma-separated.
        names: String,
    },
    /// An interval outside the function's domain.
    #[error("{function} is defined on [{lo}, {hi}] only; [{a}, {b}] is not inside it")]
    Domain {
        /// The function's name.
        function: String,
        /// Domain start.
        lo: f64,
        /// Domain end.
        hi: f64,
        /// Interval start.
        a: f64,
        /// Interval end.
        b: f64,
    },
    /// Bounds or point count that define no trapezoid grid.
    #[error("invalid grid: {0}")]
    Grid(String),
    /// Finite bounds whose distance is too large for an `f64`: every spacing and the integral
    /// would be infinite.
    #[error(
        "the interval's width b − a = {b:e} − ({a:e}) overflows (it exceeds the largest f64, about 1.8e308)"
    )]
    WidthOverflow {
        /// Interval start.
        a: f64,
        /// Interval end.
        b: f64,
    },
}

/// What to integrate: a built-in by name, or an expression in `x`.
///
/// This is the form that travels (serde) from the controller to the engines; each engine
/// calls [`Integrand::compile`] once.
///
/// ```
/// use mpiview_apps::kernels::trapz::Integrand;
/// assert_eq!(Integrand::builtin("gauss").unwrap().to_string(), "gauss");
/// let e = Integrand::expr("x^2 * sin(x)").unwrap();
/// assert_eq!(e.to_string(), "x^2 * sin(x)");
/// assert!(Integrand::expr("x * y").unwrap_err().to_string().contains("unknown variable(s) y"));
/// assert!(Integrand::expr("sin(x").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Integrand {
    /// A built-in function.
    Builtin(Builtin),
    /// An expression in `x` (`exmex` syntax: `+ - * / ^`, `sin cos tan exp ln log10 sqrt abs
    /// atan …`, constants `PI`, `E`). A unary minus directly before a power (`-x^2`) is refused
    /// as ambiguous, because `exmex` binds it tighter than `^`: write `-(x^2)`.
    Expr(String),
}

impl Integrand {
    /// A built-in by name; unknown names are an error that lists the known ones.
    pub fn builtin(name: &str) -> Result<Self, IntegrandError> {
        Ok(Self::Builtin(name.parse()?))
    }

    /// An expression, checked by compiling it once.
    pub fn expr(text: &str) -> Result<Self, IntegrandError> {
        ExprFn::parse(text)?;
        Ok(Self::Expr(text.to_owned()))
    }

    /// The evaluable form (parses an expression; cheap for built-ins).
    pub fn compile(&self) -> Result<Compiled, IntegrandError> {
        Ok(Compiled {
            kind: match self {
                Integrand::Builtin(b) => Kind::Builtin(*b),
                Integrand::Expr(e) => Kind::Expr(Box::new(ExprFn::parse(e)?)),
            },
        })
    }

    /// The exact integral over `[a, b]` where known (built-ins inside their domain).
    pub fn exact(&self, a: f64, b: f64) -> Option<f64> {
        match self {
            Integrand::Builtin(f) => f.exact(a, b),
            Integrand::Expr(_) => None,
        }
    }

    /// Checks that `[a, b]` lies in the function's domain (only `semicircle` has one).
    ///
    /// ```
    /// use mpiview_apps::kernels::trapz::Integrand;
    /// let f = Integrand::builtin("semicircle").unwrap();
    /// assert!(f.check_interval(0.0, 1.0).is_ok());
    /// assert!(f.check_interval(0.0, 2.0).is_err());
    /// ```
    pub fn check_interval(&self, a: f64, b: f64) -> Result<(), IntegrandError> {
        if let Integrand::Builtin(f) = self
            && let Some((lo, hi)) = f.domain()
            && !(a.min(b) >= lo && a.max(b) <= hi)
        {
            return Err(IntegrandError::Domain {
                function: f.name().to_owned(),
                lo,
                hi,
                a,
                b,
            });
        }
        Ok(())
    }
}

impl fmt::Display for Integrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Integrand::Builtin(b) => write!(f, "{b}"),
            Integrand::Expr(e) => f.write_str(e),
        }
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Builtin(Builtin),
    Expr(Box<ExprFn>),
}

/// An integrand ready to evaluate: built on each engine from an [`Integrand`].
#[derive(Clone, Debug)]
pub struct Compiled {
    kind: Kind,
}

impl Compiled {
    /// `f(x)` at one point (std functions for built-ins).
    ///
    /// ```
    /// use mpiview_apps::kernels::trapz::Integrand;
    /// let f = Integrand::expr("2*x + 1").unwrap().compile().unwrap();
    /// assert_eq!(f.eval(3.0), 7.0);
    /// ```
    pub fn eval(&self, x: f64) -> f64 {
        match &self.kind {
            Kind::Builtin(b) => b.eval(x),
            Kind::Expr(e) => e.eval(x),
        }
    }

    /// The block of intervals `intervals` of `grid`, checked: its sum, and, only if that is not
    /// finite, the first point of the block where the integrand is not finite (see
    /// [`Compiled::first_non_finite`]).
    ///
    /// ```
    /// use mpiview_apps::kernels::trapz::{Grid, Integrand};
    /// let f = Integrand::expr("1/(x-3)").unwrap().compile().unwrap();
    /// let g = Grid::new(0.0, 10.0, 11).unwrap(); // points 0, 1, …, 10
    /// let c = f.partial_checked(&g, 0..10);
    /// assert!(!c.sum.value().is_finite());
    /// assert_eq!(c.first_non_finite, Some(3));
    /// assert_eq!(f.partial_checked(&g, 4..10).first_non_finite, None);
    /// ```
    pub fn partial_checked(&self, grid: &Grid, intervals: Range<u64>) -> CheckedSum {
        let sum = self.partial(grid, intervals.clone());
        let first_non_finite = if sum.value().is_finite() {
            None
        } else {
            self.first_non_finite(grid, intervals)
        };
        CheckedSum {
            sum,
            first_non_finite,
        }
    }

    /// The first point `k` (of the points of `intervals`, both ends included) where the
    /// integrand is not finite, or `None` if every one is (a sum can still overflow). Scans the
    /// block in chunks of [`Compiled::CHECK_CHUNK`] intervals with the same kernel as
    /// [`Compiled::partial`], and the points of a chunk whose sum is not finite one by one: at
    /// most one more pass over the block, so call it only once a sum is known not to be finite.
    pub fn first_non_finite(&self, grid: &Grid, intervals: Range<u64>) -> Option<u64> {
        let mut start = intervals.start;
        while start < intervals.end {
            let end = (start + Self::CHECK_CHUNK).min(intervals.end);
            if !self.partial(grid, start..end).value().is_finite()
                && let Some(k) = (start..=end).find(|&k| !self.eval(grid.x(k)).is_finite())
            {
                return Some(k);
            }
            start = end;
        }
        None
    }

    /// Intervals per chunk of [`Compiled::first_non_finite`].
    pub const CHECK_CHUNK: u64 = 4096;

    /// The block of intervals `intervals` of `grid`, scaled by `h`: this engine's share.
    ///
    /// # Panics
    /// Panics if `intervals` reaches past `grid.intervals()`.
    pub fn partial(&self, grid: &Grid, intervals: Range<u64>) -> CompensatedSum {
        self.partial_on(grid, intervals, false)
    }

    /// As [`Compiled::partial`], forcing the portable one-lane path for built-ins if `portable`.
    pub(crate) fn partial_on(
        &self,
        grid: &Grid,
        intervals: Range<u64>,
        portable: bool,
    ) -> CompensatedSum {
        assert!(
            intervals.end <= grid.intervals(),
            "trapz: intervals {intervals:?} past the grid's {}",
            grid.intervals()
        );
        let (i0, i1) = (intervals.start, intervals.end);
        let (a, h) = (grid.a, grid.h());
        let s = match &self.kind {
            Kind::Builtin(b) => b.sum(a, h, i0, i1, portable),
            Kind::Expr(e) => e.trapezoid_sum(a, h, i0, i1),
        };
        s.scale(h)
    }
}

/// A block's sum with, if it is not finite, the first point of the block where the integrand
/// is not finite ([`Compiled::partial_checked`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckedSum {
    /// The block's sum, scaled by `h`.
    pub sum: CompensatedSum,
    /// The first grid point (index `k`, at `x = a + k·h`) of the block where `f` is infinite or
    /// NaN; `None` when the sum is finite, or when every point is finite but the sum overflows.
    pub first_non_finite: Option<u64>,
}

/// The trapezoid grid: `n` points from `a` to `b`.
///
/// ```
/// use mpiview_apps::kernels::trapz::Grid;
/// let g = Grid::new(0.0, 1.0, 11).unwrap();
/// assert_eq!((g.intervals(), g.h(), g.x(10)), (10, 0.1, 1.0));
/// assert_eq!(g.block(3, 0), 0..4); // 10 intervals over 3 engines: 4, 3, 3
/// assert!(Grid::new(0.0, 1.0, 1).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    a: f64,
    b: f64,
    n: u64,
}

impl Grid {
    /// A grid of `n ≥ 2` points on `[a, b]` (`b < a` integrates backwards); `a`, `b` finite,
    /// and `b − a` too ([`IntegrandError::WidthOverflow`] otherwise), `n ≤ 2^53` so that every
    /// index is exact in `f64`.
    ///
    /// ```
    /// use mpiview_apps::kernels::trapz::{Grid, IntegrandError};
    /// let e = Grid::new(-1e308, 1e308, 10).unwrap_err();
    /// assert!(matches!(e, IntegrandError::WidthOverflow { .. }));
    /// assert!(e.to_string().contains("width"));
    /// ```
    pub fn new(a: f64, b: f64, n: u64) -> Result<Self, IntegrandError> {
        if !a.is_finite() || !b.is_finite() {
            return Err(IntegrandError::Grid(format!(
                "bounds must be finite, got [{a}, {b}]"
            )));
        }
        if !(b - a).is_finite() {
            return Err(IntegrandError::WidthOverflow { a, b });
        }
        if n < 2 {
            return Err(IntegrandError::Grid(format!(
                "need at least 2 points, got {n}"
            )));
        }
        if n > 1 << 53 {
            return Err(IntegrandError::Grid(format!(
                "at most 2^53 points, got {n}"
            )));
        }
        Ok(Self { a, b, n })
    }

    /// Lower bound.
    pub fn a(&self) -> f64 {
        self.a
    }

    /// Upper bound.
    pub fn b(&self) -> f64 {
        self.b
    }

    /// Number of points `n`.
    pub fn points(&self) -> u64 {
        self.n
    }

    /// Number of intervals, `n − 1`.
    pub fn intervals(&self) -> u64 {
        self.n - 1
    }

    /// Spacing `h = (b − a)/(n − 1)`.
    pub fn h(&self) -> f64 {
        (self.b - self.a) / (self.n - 1) as f64
    }

    /// Point `k`: `a + k·h` (the last point may differ from `b` by rounding).
    pub fn x(&self, k: u64) -> f64 {
        self.a + k as f64 * self.h()
    }

    /// Block `i` of `parts` blocks of intervals, by IPython Parallel's block rule.
    ///
    /// # Panics
    /// Panics if `parts` is zero or `i >= parts`.
    pub fn block(&self, parts: u64, i: u64) -> Range<u64> {
        block_range_u64(self.intervals(), parts, i)
    }
}

/// The whole trapezoid integral of `f` on `n` points over `[a, b]`, serially.
///
/// ```
/// use mpiview_apps::kernels::trapz::{integrate, Integrand};
/// let f = Integrand::builtin("x2").unwrap();
/// // For x² the rule's error is exactly (b − a)·h²/6.
/// let t = integrate(&f, 0.0, 2.0, 1025).unwrap();
/// let h = 2.0 / 1024.0;
/// assert!((t - (8.0 / 3.0 + 2.0 * h * h / 6.0)).abs() <= 4.0 * f64::EPSILON);
/// ```
pub fn integrate(f: &Integrand, a: f64, b: f64, n: u64) -> Result<f64, IntegrandError> {
    let grid = Grid::new(a, b, n)?;
    f.check_interval(a, b)?;
    Ok(f.compile()?.partial(&grid, 0..grid.intervals()).value())
}
