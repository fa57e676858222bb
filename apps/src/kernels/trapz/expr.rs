//! `--expr` integrands: an expression in `x`, parsed once by `exmex`, evaluated in batches.
//!
//! `exmex` parses (precedence, functions, constants, constant folding) into a flat operator
//! list. Its value type here is a [`Batch`]: a vector of up to [`BATCH`] points, or a single
//! value that broadcasts (constants). Each operator therefore runs over 512 points at once, in
//! place (`sin`, `cos`, `exp` through the vectorised [`vmath`](crate::kernels::vmath)
//! functions), and the interpreter's per-evaluation cost is shared by 512 points. Every
//! operator works element by element, so a point's value never depends on its batch.
//!
//! Two departures from `exmex`'s stock float operators: number literals may use exponent
//! notation (`1e-3`), and a unary minus right before a power (`-x^2`, which `exmex` reads as
//! `(-x)^2`) is refused with a message saying how to write it.

use std::num::ParseFloatError;
use std::str::FromStr;

use exmex::{BinOp, Express, FlatEx, MakeOperators, MatchLiteral, Operator};

use super::IntegrandError;
use crate::kernels::sum::CompensatedSum;
use crate::kernels::vmath::{VFn, apply_in_place};

/// Points per batch.
pub(crate) const BATCH: usize = 512;

/// The value type the expression is evaluated on: one value per point, or a single value
/// standing for all points (a constant). `Default` is empty and allocates nothing (`exmex`
/// takes values out of its slots with `mem::take`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Batch(pub(crate) Vec<f64>);

impl FromStr for Batch {
    type Err = ParseFloatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Batch(vec![s.parse::<f64>()?]))
    }
}

fn map(mut a: Batch, f: impl Fn(f64) -> f64) -> Batch {
    for v in &mut a.0 {
        *v = f(*v);
    }
    a
}

/// `f(a, b)` element by element, a single value broadcasting; reuses one input's buffer.
fn zip(mut a: Batch, mut b: Batch, f: impl Fn(f64, f64) -> f64) -> Batch {
    if a.0.len() == 1 && b.0.len() != 1 {
        let x = a.0[0];
        for w in &mut b.0 {
            *w = f(x, *w);
        }
        return b;
    }
    if b.0.len() == 1 {
        let y = b.0[0];
        for v in &mut a.0 {
            *v = f(*v, y);
        }
        return a;
    }
    for (v, w) in a.0.iter_mut().zip(&b.0) {
        *v = f(*v, *w);
    }
    a
}

fn vector(mut a: Batch, f: VFn) -> Batch {
    apply_in_place(f, &mut a.0);
    a
}

/// `x^y`, with the small integer powers as products (`x^2` is exactly `x*x`).
fn pow(x: f64, y: f64) -> f64 {
    if y == 2.0 {
        x * x
    } else if y == 3.0 {
        x * x * x
    } else if y == 1.0 {
        x
    } else {
        x.powf(y)
    }
}

/// `exmex`'s float operators (same names, same priorities), on batches.
#[derive(Clone, Debug)]
pub(crate) struct BatchOps;

impl MakeOperators<Batch> for BatchOps {
    fn make<'a>() -> Vec<Operator<'a, Batch>> {
        let bin = |repr, apply: fn(Batch, Batch) -> Batch, prio, is_commutative| {
            Operator::make_bin(
                repr,
                BinOp {
                    apply,
                    prio,
                    is_commutative,
                },
            )
        };
        let splat = |x: f64| Batch(vec![x]);
        vec![
            bin("^", |a, b| zip(a, b, pow), 4, false),
            bin("*", |a, b| zip(a, b, |x, y| x * y), 2, true),
            bin("/", |a, b| zip(a, b, |x, y| x / y), 3, false),
            Operator::make_bin_unary(
                "+",
                BinOp {
                    apply: |a, b| zip(a, b, |x, y| x + y),
                    prio: 0,
                    is_commutative: true,
                },
                |a| a,
            ),
            Operator::make_bin_unary(
                "-",
                BinOp {
                    apply: |a, b| zip(a, b, |x, y| x - y),
                    prio: 1,
                    is_commutative: false,
                },
                |a| map(a, |x| -x),
            ),
            bin("atan2", |a, b| zip(a, b, f64::atan2), 0, false),
            bin("min", |a, b| zip(a, b, f64::min), 0, false),
            bin("max", |a, b| zip(a, b, f64::max), 0, false),
            Operator::make_unary("abs", |a| map(a, f64::abs)),
            Operator::make_unary("signum", |a| map(a, f64::signum)),
            Operator::make_unary("sin", |a| vector(a, VFn::Sin)),
            Operator::make_unary("cos", |a| vector(a, VFn::Cos)),
            Operator::make_unary("tan", |a| map(a, f64::tan)),
            Operator::make_unary("asin", |a| map(a, f64::asin)),
            Operator::make_unary("acos", |a| map(a, f64::acos)),
            Operator::make_unary("atan", |a| map(a, f64::atan)),
            Operator::make_unary("sinh", |a| map(a, f64::sinh)),
            Operator::make_unary("cosh", |a| map(a, f64::cosh)),
            Operator::make_unary("tanh", |a| map(a, f64::tanh)),
            Operator::make_unary("asinh", |a| map(a, f64::asinh)),
            Operator::make_unary("acosh", |a| map(a, f64::acosh)),
            Operator::make_unary("atanh", |a| map(a, f64::atanh)),
            Operator::make_unary("floor", |a| map(a, f64::floor)),
            Operator::make_unary("round", |a| map(a, f64::round)),
            Operator::make_unary("ceil", |a| map(a, f64::ceil)),
            Operator::make_unary("trunc", |a| map(a, f64::trunc)),
            Operator::make_unary("fract", |a| map(a, f64::fract)),
            Operator::make_unary("exp", |a| vector(a, VFn::Exp)),
            Operator::make_unary("sqrt", |a| map(a, f64::sqrt)),
            Operator::make_unary("cbrt", |a| map(a, f64::cbrt)),
            Operator::make_unary("ln", |a| map(a, f64::ln)),
            Operator::make_unary("log2", |a| map(a, f64::log2)),
            Operator::make_unary("log10", |a| map(a, f64::log10)),
            Operator::make_unary("log", |a| map(a, f64::ln)),
            Operator::make_constant("PI", splat(std::f64::consts::PI)),
            Operator::make_constant("π", splat(std::f64::consts::PI)),
            Operator::make_constant("E", splat(std::f64::consts::E)),
            Operator::make_constant("e", splat(std::f64::consts::E)),
            Operator::make_constant("TAU", splat(std::f64::consts::TAU)),
            Operator::make_constant("τ", splat(std::f64::consts::TAU)),
        ]
    }
}

/// Number literals: `12`, `1.5`, `.5`, `2.`, with an optional exponent `e-3` / `E+10`.
#[derive(Clone, Debug, Default)]
pub(crate) struct SciLiteral;

impl MatchLiteral for SciLiteral {
    fn is_literal(text: &str) -> Option<&str> {
        let b = text.as_bytes();
        let digits = |mut i: usize| {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            i
        };
        let int_end = digits(0);
        let mut end = int_end;
        let mut frac_digits = 0;
        if b.get(end) == Some(&b'.') {
            let f = digits(end + 1);
            frac_digits = f - end - 1;
            end = f;
        }
        if int_end == 0 && frac_digits == 0 {
            return None;
        }
        if matches!(b.get(end), Some(b'e' | b'E')) {
            let s = if matches!(b.get(end + 1), Some(b'+' | b'-')) {
                end + 2
            } else {
                end + 1
            };
            let e = digits(s);
            if e > s {
                end = e;
            }
        }
        Some(&text[..end])
    }
}

/// A compiled expression in the single variable `x` (or in none).
#[derive(Clone, Debug)]
pub(crate) struct ExprFn {
    flat: FlatEx<Batch, BatchOps, SciLiteral>,
    uses_x: bool,
}

impl ExprFn {
    /// Parses `text`; the only variable allowed is `x`.
    pub(crate) fn parse(text: &str) -> Result<Self, IntegrandError> {
        refuse_minus_before_power(text)?;
        let flat = FlatEx::<Batch, BatchOps, SciLiteral>::parse(text).map_err(|e| {
            IntegrandError::Parse {
                expr: text.to_owned(),
                message: e.to_string(),
            }
        })?;
        let unknown: Vec<&str> = flat
            .var_names()
            .iter()
            .map(String::as_str)
            .filter(|v| *v != "x")
            .collect();
        if !unknown.is_empty() {
            return Err(IntegrandError::UnknownVariables {
                expr: text.to_owned(),
                names: unknown.join(", "),
            });
        }
        let uses_x = !flat.var_names().is_empty();
        Ok(Self { flat, uses_x })
    }

    /// The values at `xs` (NaN where evaluation fails, which parsing rules out).
    pub(crate) fn eval_points(&self, xs: Vec<f64>) -> Vec<f64> {
        let n = xs.len();
        let r = if self.uses_x {
            self.flat.eval_vec(vec![Batch(xs)])
        } else {
            self.flat.eval(&[])
        };
        match r {
            Ok(Batch(v)) if v.len() == n => v,
            Ok(Batch(v)) if v.len() == 1 => vec![v[0]; n],
            _ => vec![f64::NAN; n],
        }
    }

    /// The value at one point.
    pub(crate) fn eval(&self, x: f64) -> f64 {
        self.eval_points(vec![x])[0]
    }

    /// The unscaled trapezoid sum over intervals `[i0, i1)` (see `kernel`), batch by batch:
    /// each batch is summed plainly (4 chains) and added with compensation.
    pub(crate) fn trapezoid_sum(&self, a: f64, h: f64, i0: u64, i1: u64) -> CompensatedSum {
        let mut acc = CompensatedSum::default();
        if i0 >= i1 {
            return acc;
        }
        let x = |k: u64| a + k as f64 * h;
        let ends = self.eval_points(vec![x(i0), x(i1)]);
        acc.add(0.5 * ends[0]);
        acc.add(0.5 * ends[1]);
        let mut buf = Vec::with_capacity(BATCH);
        let mut k = i0 + 1;
        while k < i1 {
            let m = (i1 - k).min(BATCH as u64);
            buf.clear();
            buf.extend((k..k + m).map(x));
            let ys = self.eval_points(std::mem::take(&mut buf));
            let mut part = [0.0; 4];
            for (j, y) in ys.iter().enumerate() {
                part[j % 4] += y;
            }
            acc.add((part[0] + part[1]) + (part[2] + part[3]));
            buf = ys;
            k += m;
        }
        acc
    }
}

/// Refuses `-P^Q` where the minus is unary: `exmex` gives unary operators priority over binary
/// ones (`-2^2 = 4`), so `exp(-x^2)` would silently mean `exp(x²)`.
fn refuse_minus_before_power(text: &str) -> Result<(), IntegrandError> {
    let chars: Vec<char> = text.chars().collect();
    let mut prev: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        let unary =
            c == '-' && matches!(prev, None | Some('(' | ',' | '+' | '-' | '*' | '/' | '^'));
        if !c.is_whitespace() {
            prev = Some(c);
        }
        if !unary {
            continue;
        }
        let start = skip_space(&chars, i + 1);
        let end = operand_end(&chars, start);
        let caret = skip_space(&chars, end);
        if end > start && chars.get(caret) == Some(&'^') {
            let q0 = skip_space(&chars, caret + 1);
            let mut q1 = q0;
            while matches!(chars.get(q1), Some('-' | '+')) {
                q1 = skip_space(&chars, q1 + 1);
            }
            let q1 = operand_end(&chars, q1);
            let p: String = chars[start..end].iter().collect();
            let q: String = chars[q0..q1].iter().collect();
            return Err(IntegrandError::AmbiguousMinus {
                expr: text.to_owned(),
                snippet: chars[i..q1].iter().collect(),
                reading: format!("(-{p})^{q}"),
                fixed: format!("-({p}^{q})"),
            });
        }
    }
    Ok(())
}

fn skip_space(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

/// The end of the operand starting at `i`: further unary signs, a number (with exponent), a
/// name, a `{name}`, a parenthesised group, or a name applied to a group (`sin(x)`).
fn operand_end(chars: &[char], mut i: usize) -> usize {
    while matches!(chars.get(i), Some('-' | '+')) {
        i = skip_space(chars, i + 1);
    }
    let group_end = |mut i: usize, open: char, close: char| {
        let mut depth = 0usize;
        while let Some(&c) = chars.get(i) {
            i += 1;
            if c == open {
                depth += 1;
            } else if c == close {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
        }
        i
    };
    match chars.get(i) {
        Some('(') => group_end(i, '(', ')'),
        Some('{') => group_end(i, '{', '}'),
        Some(&c) if c.is_alphanumeric() || c == '.' || c == '_' => {
            let number = c.is_ascii_digit() || c == '.';
            let mut j = i;
            while let Some(&c) = chars.get(j) {
                if c.is_alphanumeric() || c == '.' || c == '_' {
                    j += 1;
                    if number && (c == 'e' || c == 'E') && matches!(chars.get(j), Some('-' | '+')) {
                        j += 1;
                    }
                } else {
                    break;
                }
            }
            let k = skip_space(chars, j);
            if !number && chars.get(k) == Some(&'(') {
                group_end(k, '(', ')')
            } else {
                j
            }
        }
        _ => i,
    }
}
