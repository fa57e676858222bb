//! Built-in integrands: names, formulas, exact integrals, lane functions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::super::simd::{LaneFn, Lanes};
use super::super::vmath::{CosL, ExpL, Sin2L, Sin2Q, SinL, exp_fast_v, exp_v};
use super::IntegrandError;
use super::kernel::{trapezoid_sum, trapezoid_sum_portable};
use super::quadrants::quadrant_sum;
use crate::kernels::sum::CompensatedSum;

/// A built-in integrand, known by name on the command line (`--function sin2`).
///
/// ```
/// use mpiview_apps::kernels::trapz::Builtin;
/// let f: Builtin = "sin2".parse().unwrap();
/// assert_eq!(f, Builtin::Sin2);
/// assert_eq!(f.to_string(), "sin2");
/// assert_eq!(f.formula(), "sin²(x)");
/// assert!("tan".parse::<Builtin>().unwrap_err().to_string().contains("semicircle"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Builtin {
    /// `sin(x)`.
    Sin,
    /// `cos(x)`.
    Cos,
    /// `exp(x)`.
    Exp,
    /// `sin²(x)`.
    Sin2,
    /// `x²`.
    X2,
    /// `exp(−x²)`.
    Gauss,
    /// Runge's function `1 / (1 + 25x²)`.
    Runge,
    /// The upper unit semicircle `√(1 − x²)`, defined on `[−1, 1]`.
    Semicircle,
}

impl Builtin {
    /// Every built-in, in the order of `--help`.
    pub const ALL: [Builtin; 8] = [
        Builtin::Sin,
        Builtin::Cos,
        Builtin::Exp,
        Builtin::Sin2,
        Builtin::X2,
        Builtin::Gauss,
        Builtin::Runge,
        Builtin::Semicircle,
    ];

    /// The command-line name (`"sin2"`).
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Sin => "sin",
            Builtin::Cos => "cos",
            Builtin::Exp => "exp",
            Builtin::Sin2 => "sin2",
            Builtin::X2 => "x2",
            Builtin::Gauss => "gauss",
            Builtin::Runge => "runge",
            Builtin::Semicircle => "semicircle",
        }
    }

    /// The function as a formula in `x` (`"sin²(x)"`).
    pub fn formula(self) -> &'static str {
        match self {
            Builtin::Sin => "sin(x)",
            Builtin::Cos => "cos(x)",
            Builtin::Exp => "exp(x)",
            Builtin::Sin2 => "sin²(x)",
            Builtin::X2 => "x²",
            Builtin::Gauss => "exp(−x²)",
            Builtin::Runge => "1/(1+25x²)",
            Builtin::Semicircle => "√(1−x²), x in [−1, 1]",
        }
    }

    /// The names, comma-separated (`"sin, cos, …"`), for error messages.
    pub fn names() -> String {
        Self::ALL.map(Builtin::name).join(", ")
    }

    /// One line per built-in, `name  formula`, for `--help`.
    ///
    /// ```
    /// assert!(mpiview_apps::kernels::trapz::Builtin::help().lines().any(|l| l.starts_with("gauss")));
    /// ```
    pub fn help() -> String {
        Self::ALL
            .iter()
            .map(|b| format!("{:<11} {}", b.name(), b.formula()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The interval where the function is defined, if it is not the whole line.
    pub fn domain(self) -> Option<(f64, f64)> {
        match self {
            Builtin::Semicircle => Some((-1.0, 1.0)),
            _ => None,
        }
    }

    /// `f(x)` with std's functions (the reference the vector kernels are tested against).
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Builtin::Sin => x.sin(),
            Builtin::Cos => x.cos(),
            Builtin::Exp => x.exp(),
            Builtin::Sin2 => {
                let s = x.sin();
                s * s
            }
            Builtin::X2 => x * x,
            Builtin::Gauss => (-x * x).exp(),
            Builtin::Runge => 1.0 / (1.0 + 25.0 * x * x),
            Builtin::Semicircle => ((1.0 - x) * (1.0 + x)).sqrt(),
        }
    }

    /// The exact `∫_a^b f(x) dx` (either order of `a`, `b`), or `None` outside the domain.
    ///
    /// ```
    /// use mpiview_apps::kernels::trapz::Builtin;
    /// let pi = std::f64::consts::PI;
    /// assert!((Builtin::Sin.exact(0.0, pi).unwrap() - 2.0).abs() < 1e-15);
    /// assert!((Builtin::Semicircle.exact(-1.0, 1.0).unwrap() - pi / 2.0).abs() < 1e-15);
    /// assert_eq!(Builtin::Semicircle.exact(0.0, 2.0), None);
    /// ```
    pub fn exact(self, a: f64, b: f64) -> Option<f64> {
        const SQRT_PI_2: f64 = 0.886_226_925_452_758; // √π / 2
        Some(match self {
            Builtin::Sin => a.cos() - b.cos(),
            Builtin::Cos => b.sin() - a.sin(),
            Builtin::Exp => a.exp() * (b - a).exp_m1(),
            Builtin::Sin2 => (b - a) / 2.0 - ((2.0 * b).sin() - (2.0 * a).sin()) / 4.0,
            Builtin::X2 => (b * b * b - a * a * a) / 3.0,
            Builtin::Gauss => {
                // erfc in the tails keeps the small difference accurate.
                if a > 0.0 && b > 0.0 {
                    SQRT_PI_2 * (libm::erfc(a) - libm::erfc(b))
                } else if a < 0.0 && b < 0.0 {
                    SQRT_PI_2 * (libm::erfc(-b) - libm::erfc(-a))
                } else {
                    SQRT_PI_2 * (libm::erf(b) - libm::erf(a))
                }
            }
            Builtin::Runge => ((5.0 * b).atan() - (5.0 * a).atan()) / 5.0,
            Builtin::Semicircle => {
                let inside = |x: f64| (-1.0..=1.0).contains(&x);
                if !inside(a) || !inside(b) {
                    return None;
                }
                let f = |x: f64| (x * ((1.0 - x) * (1.0 + x)).sqrt() + x.asin()) / 2.0;
                f(b) - f(a)
            }
        })
    }

    /// The unscaled trapezoid sum over intervals `[i0, i1)` (fast path or portable path).
    pub(crate) fn sum(self, a: f64, h: f64, i0: u64, i1: u64, portable: bool) -> CompensatedSum {
        macro_rules! go {
            ($f:expr) => {
                if portable {
                    trapezoid_sum_portable($f, a, h, i0, i1)
                } else {
                    trapezoid_sum($f, a, h, i0, i1)
                }
            };
        }
        match self {
            Builtin::Sin => go!(SinL),
            Builtin::Cos => go!(CosL),
            Builtin::Exp => go!(ExpL),
            // Quadrant by quadrant where the grid allows (see `quadrants`), else per lane.
            Builtin::Sin2 => quadrant_sum(Sin2Q, Sin2L, (a, h), (i0, i1), portable),
            Builtin::X2 => go!(X2F),
            Builtin::Gauss => go!(GaussF),
            Builtin::Runge => go!(RungeF),
            Builtin::Semicircle => go!(SemicircleF),
        }
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Builtin {
    type Err = IntegrandError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| IntegrandError::UnknownBuiltin {
                name: s.to_owned(),
                known: Self::names(),
            })
    }
}

macro_rules! lane_fn {
    ($name:ident, |$x:ident| $body:expr) => {
        #[derive(Clone, Copy)]
        struct $name;
        impl LaneFn for $name {
            #[inline(always)]
            fn eval<V: Lanes>(self, $x: V) -> V {
                $body
            }
        }
    };
    ($name:ident, |$x:ident| $body:expr, fast $range:expr => $fast:expr) => {
        #[derive(Clone, Copy)]
        struct $name;
        impl LaneFn for $name {
            const FAST: (f64, f64) = $range;
            #[inline(always)]
            fn eval<V: Lanes>(self, $x: V) -> V {
                $body
            }
            #[inline(always)]
            fn eval_fast<V: Lanes>(self, $x: V) -> V {
                $fast
            }
        }
    };
}

/// `exp(−x²)` takes the fast path while `x² ≤ 708.39`.
const GAUSS_FAST: f64 = 26.6;

lane_fn!(X2F, |x| x * x);
lane_fn!(GaussF, |x| exp_v(-(x * x)), fast (-GAUSS_FAST, GAUSS_FAST) => exp_fast_v(-(x * x)));
lane_fn!(RungeF, |x| V::splat(1.0)
    / (V::splat(1.0) + V::splat(25.0) * x * x));
lane_fn!(SemicircleF, |x| ((V::splat(1.0) - x) * (V::splat(1.0) + x))
    .sqrt());
