use super::*;
use std::f64::consts::PI;

fn compiled(name: &str) -> Compiled {
    Integrand::builtin(name).unwrap().compile().unwrap()
}

fn whole(f: &Compiled, g: &Grid) -> f64 {
    f.partial(g, 0..g.intervals()).value()
}

#[test]
fn known_integrals() {
    let n = 2_000_001;
    let cases: [(&str, f64, f64, f64); 6] = [
        ("sin", 0.0, PI, 2.0),
        ("x2", 0.0, 3.0, 9.0),
        ("semicircle", -1.0, 1.0, PI / 2.0),
        ("semicircle", 0.0, 1.0, PI / 4.0),
        ("gauss", -6.0, 6.0, PI.sqrt() * libm::erf(6.0)),
        ("runge", -1.0, 1.0, 2.0 * 5f64.atan() / 5.0),
    ];
    for (name, a, b, want) in cases {
        let t = whole(&compiled(name), &Grid::new(a, b, n).unwrap());
        // Smooth integrands: O(h²) ≈ 1e-12; the semicircle's infinite slope at ±1 gives
        // O(h^1.5) ≈ 1e-9.
        let tol = if name == "semicircle" { 2e-9 } else { 1e-11 };
        assert!(
            (t - want).abs() <= tol,
            "{name} on [{a}, {b}]: {t} vs {want}"
        );
        let exact = Integrand::builtin(name).unwrap().exact(a, b).unwrap();
        assert!(
            (exact - want).abs() <= 1e-15,
            "{name}: exact {exact} vs {want}"
        );
    }
}

#[test]
fn exact_integrals_of_every_builtin_match_the_rule() {
    for f in Builtin::ALL {
        let (a, b) = if f == Builtin::Semicircle {
            (-0.9, 0.7)
        } else {
            (-1.3, 2.1)
        };
        let exact = f.exact(a, b).unwrap();
        let t = whole(&compiled(f.name()), &Grid::new(a, b, 1_000_001).unwrap());
        assert!(
            (t - exact).abs() <= 1e-10 * exact.abs().max(1.0),
            "{f}: rule {t}, exact {exact}"
        );
        // Backwards gives the negative.
        let back = f.exact(b, a).unwrap();
        assert!((back + exact).abs() <= 1e-15 * exact.abs().max(1.0), "{f}");
    }
    // Far tails of the Gaussian keep their relative accuracy (erfc).
    // √π/2 · (erfc 10 − erfc 11), from tabulated erfc values.
    let tail = Builtin::Gauss.exact(10.0, 11.0).unwrap();
    let want = 0.886_226_925_452_758 * (2.088_487_583_762_545e-45 - 1.440_866_137_943_694_5e-54);
    assert!((tail / want - 1.0).abs() < 1e-12, "{tail:e} vs {want:e}");
}

#[test]
fn trapezoid_error_on_x2_is_exactly_b_minus_a_h2_over_6() {
    // Dyadic grid: every point, value and sum is exact, so the result must be
    // 8/3 + h²/3 = 699051 / 2^18 to the last bit.
    let t = whole(&compiled("x2"), &Grid::new(0.0, 2.0, 1025).unwrap());
    assert_eq!(t, 699_051.0 / 262_144.0);
    // A non-dyadic grid: the formula holds to rounding.
    for (a, b, n) in [(-1.0, 3.0, 1001u64), (0.3, 0.7, 77), (-2.5, -0.5, 100_000)] {
        let g = Grid::new(a, b, n).unwrap();
        let err = whole(&compiled("x2"), &g) - Builtin::X2.exact(a, b).unwrap();
        let h = g.h();
        let want = (b - a) * h * h / 6.0;
        assert!(
            (err - want).abs() <= 1e-14 * Builtin::X2.exact(a, b).unwrap().abs(),
            "{a} {b} {n}: {err:e} vs {want:e}"
        );
    }
}

#[test]
fn splits_agree_to_rounding() {
    let g = Grid::new(-2.0, 5.0, 3_000_017).unwrap();
    for name in ["sin", "sin2", "exp", "gauss", "semicircle", "expr"] {
        let (g, f) = match name {
            "semicircle" => (Grid::new(-1.0, 1.0, 3_000_017).unwrap(), compiled(name)),
            "expr" => (
                g,
                Integrand::expr("x^2*sin(x) + 1/(1+x^2)")
                    .unwrap()
                    .compile()
                    .unwrap(),
            ),
            _ => (g, compiled(name)),
        };
        let w = whole(&f, &g);
        for parts in [2u64, 3, 5, 16, 17, 1000] {
            let total =
                CompensatedSum::sum_of((0..parts).map(|i| f.partial(&g, g.block(parts, i))))
                    .value();
            assert!(
                (total - w).abs() <= 1e-15 * w.abs(),
                "{name} over {parts}: {total} vs {w}"
            );
        }
        // Uneven cuts, including empty and one-interval blocks.
        let cuts = [0, 0, 1, 2, 7, 1000, 1001, 999_999, 2_500_000, g.intervals()];
        let total =
            CompensatedSum::sum_of(cuts.windows(2).map(|c| f.partial(&g, c[0]..c[1]))).value();
        assert!(
            (total - w).abs() <= 1e-15 * w.abs(),
            "{name} uneven: {total} vs {w}"
        );
    }
}

#[test]
fn vector_and_portable_paths_agree() {
    for f in Builtin::ALL {
        let (a, b) = if f == Builtin::Semicircle {
            (-1.0, 1.0)
        } else {
            (-7.0, 9.0)
        };
        let g = Grid::new(a, b, 100_003).unwrap();
        let c = compiled(f.name());
        let fast = c.partial_on(&g, 0..g.intervals(), false).value();
        let port = c.partial_on(&g, 0..g.intervals(), true).value();
        // And both against std's functions, point by point, compensated.
        let reference = kernel::trapezoid_sum_scalar(|x| f.eval(x), a, g.h(), 0, g.intervals())
            .scale(g.h())
            .value();
        for v in [fast, port] {
            assert!(
                (v - reference).abs() <= 1e-14 * reference.abs(),
                "{f}: {v} vs std {reference}"
            );
        }
    }
}

#[test]
fn expressions_integrate_like_builtins() {
    let g = Grid::new(-1.0, 2.0, 100_001).unwrap();
    for (expr, name) in [
        ("sin(x)^2", "sin2"),
        ("exp(-(x^2))", "gauss"),
        ("1/(1+25*x*x)", "runge"),
    ] {
        let e = Integrand::expr(expr).unwrap().compile().unwrap();
        let (te, tb) = (whole(&e, &g), whole(&compiled(name), &g));
        assert!((te - tb).abs() <= 1e-13 * tb.abs(), "{expr}: {te} vs {tb}");
    }
    // Exponent notation in literals.
    let e = Integrand::expr("2.5e-1*x^2 + 1E+1")
        .unwrap()
        .compile()
        .unwrap();
    assert_eq!(e.eval(2.0), 11.0);
    // A constant expression (no variable) integrates too.
    let c = Integrand::expr("2*PI").unwrap().compile().unwrap();
    assert!((whole(&c, &g) - 6.0 * PI).abs() < 1e-12);
}

#[test]
fn expression_errors_are_clear() {
    let e = Integrand::expr("x + y*z").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown variable(s) y, z in expression 'x + y*z' (the only variable is x)"
    );
    for bad in ["sin(x", "x +* 2", ""] {
        let e = Integrand::expr(bad).unwrap_err();
        assert!(matches!(e, IntegrandError::Parse { .. }), "{bad:?}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("cannot parse expression '{bad}'")),
            "{e}"
        );
    }
    // exmex gives unary minus precedence over ^ (-x^2 = (-x)^2): such input is refused.
    for bad in [
        "exp(-x^2)",
        "-x^2",
        "2^-x^2",
        "1 - -sin(x)^2",
        "-(x+1)^2",
        "-2.5e-3^x",
        "(-{x})^2*-x ^ 3",
    ] {
        let e = Integrand::expr(bad).unwrap_err();
        assert!(
            matches!(e, IntegrandError::AmbiguousMinus { .. }),
            "{bad:?}: {e}"
        );
    }
    assert_eq!(
        Integrand::expr("exp(-x^2)").unwrap_err().to_string(),
        "ambiguous '-x^2' in expression 'exp(-x^2)': the parser reads a leading minus before ^ \
         as (-x)^2; write -(x^2) or (-x)^2"
    );
    for ok in [
        "exp(-(x^2))",
        "(-x)^2",
        "x^-2",
        "-x*x",
        "1e-3*x^2",
        "x - x^2",
        "2*x-3^x",
        "-sin(x)",
    ] {
        assert!(
            Integrand::expr(ok).is_ok(),
            "{ok:?}: {:?}",
            Integrand::expr(ok)
        );
    }
    let e = Integrand::builtin("tan").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown function 'tan' (known: sin, cos, exp, sin2, x2, gauss, runge, semicircle)"
    );
}

#[test]
fn integrands_round_trip_through_serde() {
    for f in [
        Integrand::builtin("runge").unwrap(),
        Integrand::expr("x^3 - x").unwrap(),
    ] {
        let bytes = postcard::to_stdvec(&f).unwrap();
        assert_eq!(postcard::from_bytes::<Integrand>(&bytes).unwrap(), f);
    }
    assert_eq!(serde_json::to_string(&Builtin::Sin2).unwrap(), "\"sin2\"");
}

#[test]
fn compensation_keeps_large_n_accurate() {
    // 10^8 + 1 points of x² on [0, 1]: the rule's error h²/6 ≈ 1.7e-17 is below one ulp of 1/3,
    // so the result must be 1/3 to within a few ulp. A plain running sum of the same terms in the
    // same order is off by about 200 ulp.
    let g = Grid::new(0.0, 1.0, 100_000_001).unwrap();
    let t = whole(&compiled("x2"), &g);
    assert!((t - 1.0 / 3.0).abs() <= 4.0 * f64::EPSILON / 3.0, "{t:e}");
    let plain: f64 = {
        let h = g.h();
        let mut s = 0.0;
        for k in 0..g.intervals() {
            let (x0, x1) = (k as f64 * h, (k + 1) as f64 * h);
            s += (x0 * x0 + x1 * x1) / 2.0;
        }
        s * h
    };
    assert!(
        (plain - 1.0 / 3.0).abs() > 32.0 * f64::EPSILON,
        "plain sum unexpectedly accurate: {plain:e}"
    );
}

#[test]
fn grid_and_domain_checks() {
    assert!(Grid::new(f64::NAN, 1.0, 10).is_err());
    assert!(Grid::new(0.0, f64::INFINITY, 10).is_err());
    assert!(matches!(
        Grid::new(-1e308, 1e308, 10),
        Err(IntegrandError::WidthOverflow { .. })
    ));
    assert!(Grid::new(-1e308, 0.0, 10).is_ok());
    assert!(integrate(&Integrand::builtin("semicircle").unwrap(), 0.0, 1.5, 100).is_err());
    // Backwards intervals integrate to the negative.
    let f = Integrand::builtin("exp").unwrap();
    let fwd = integrate(&f, 0.0, 1.0, 1001).unwrap();
    let back = integrate(&f, 1.0, 0.0, 1001).unwrap();
    assert!((fwd + back).abs() < 1e-15);
    // Empty blocks are zero.
    let g = Grid::new(0.0, 1.0, 10).unwrap();
    assert_eq!(compiled("sin").partial(&g, 4..4).value(), 0.0);
}

#[test]
fn the_first_non_finite_point_is_found() {
    // (expression, a, b, n, the first point where f is not finite)
    let cases: [(&str, f64, f64, u64, Option<u64>); 6] = [
        ("1/x", 0.0, 1.0, 1001, Some(0)),
        ("ln(x)", 0.0, 1.0, 1001, Some(0)),
        ("sqrt(x)", -1.0, 1.0, 1001, Some(0)),
        ("1/(x-0.5)", 0.0, 1.0, 1001, Some(500)),
        ("1/(x-1)", 0.0, 1.0, 1001, Some(1000)),
        ("x^2", 0.0, 1.0, 1001, None),
    ];
    for (expr, a, b, n, want) in cases {
        let f = Integrand::expr(expr).unwrap().compile().unwrap();
        let g = Grid::new(a, b, n).unwrap();
        let c = f.partial_checked(&g, 0..g.intervals());
        assert_eq!(c.first_non_finite, want, "{expr}");
        assert_eq!(c.sum.value().is_finite(), want.is_none(), "{expr}");
        // Blocks of three engines: only the block holding the point reports it.
        let found: Vec<Option<u64>> = (0..3)
            .map(|i| f.partial_checked(&g, g.block(3, i)).first_non_finite)
            .collect();
        assert_eq!(found.iter().flatten().next().copied(), want, "{expr}");
    }
    // exp overflows from x ≈ 709.78 on (built-in and expression alike).
    for f in [
        Integrand::builtin("exp").unwrap(),
        Integrand::expr("exp(x)").unwrap(),
    ] {
        let f = f.compile().unwrap();
        let g = Grid::new(0.0, 1000.0, 100_001).unwrap();
        let k = f
            .partial_checked(&g, 0..g.intervals())
            .first_non_finite
            .unwrap();
        assert!(g.x(k) > 709.7 && g.x(k) < 709.8, "{}", g.x(k));
        assert!(f.eval(g.x(k)).is_infinite() && f.eval(g.x(k - 1)).is_finite());
    }
    // Every value finite, the sum not: no point to name.
    let f = Integrand::expr("1e307").unwrap().compile().unwrap();
    let g = Grid::new(0.0, 1e10, 1001).unwrap();
    let c = f.partial_checked(&g, 0..g.intervals());
    assert!(!c.sum.value().is_finite());
    assert_eq!(c.first_non_finite, None);
}

#[test]
fn compiled_integrands_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Compiled>();
    send_sync::<Integrand>();
    send_sync::<Grid>();
}

#[test]
fn sin2_is_accurate_to_rounding_at_many_points() {
    // The rule's error is h²/12 · (f'(b) − f'(a)) + O(h⁴) with f' = sin 2x; at these spacings the
    // O(h⁴) term is below 1e-23, so after removing the h² term the sum must match the exact
    // integral to a few ulp: the kernel's values and compensated sums add no more.
    for (a, b, n) in [
        (0.0, PI, 100_000_001u64),
        (0.0, 10.0, 10_000_000),
        (-7.5, 3.25, 3_000_001),
    ] {
        let g = Grid::new(a, b, n).unwrap();
        let f = compiled("sin2");
        let h = g.h();
        let exact = Builtin::Sin2.exact(a, b).unwrap();
        let rule = exact + h * h / 12.0 * ((2.0 * b).sin() - (2.0 * a).sin());
        for portable in [false, true] {
            let t = f.partial_on(&g, 0..g.intervals(), portable).value();
            println!(
                "sin² on [{a}, {b}], n = {n}, portable {portable}: {:.2} ulp from the rule",
                (t - rule).abs() / (f64::EPSILON * exact.abs())
            );
            assert!(
                (t - rule).abs() <= 4.0 * f64::EPSILON * exact.abs(),
                "[{a}, {b}] n = {n} portable {portable}: {t:e} vs {rule:e} ({:.2} ulp)",
                (t - rule).abs() / (f64::EPSILON * exact.abs())
            );
        }
    }
}

#[test]
fn sin2_on_degenerate_grids() {
    // a = b: h = 0, every point the same; the integral is zero on both paths.
    let g = Grid::new(1.0, 1.0, 5000).unwrap();
    for portable in [false, true] {
        let t = compiled("sin2").partial_on(&g, 0..g.intervals(), portable);
        assert_eq!(t.value(), 0.0);
    }
    // Backwards over several quadrants.
    let g = Grid::new(9.0, -4.0, 2_000_001).unwrap();
    let t = whole(&compiled("sin2"), &g);
    let exact = Builtin::Sin2.exact(9.0, -4.0).unwrap();
    assert!((t - exact).abs() <= 1e-11 * exact.abs(), "{t} vs {exact}");
}

#[test]
fn sin2_by_quadrants_and_per_lane_agree() {
    // Fine grids take the quadrant path, coarse ones (under 1024 points per quadrant) the
    // per-lane kernel; both against std's sin² point by point.
    for (a, b, n) in [
        (-3.0, 40.0, 1_000_001u64),
        (-3.0, 40.0, 20_001),
        (0.5, 1.5, 101),
    ] {
        let g = Grid::new(a, b, n).unwrap();
        let f = compiled("sin2");
        let reference =
            kernel::trapezoid_sum_scalar(|x| Builtin::Sin2.eval(x), a, g.h(), 0, g.intervals())
                .scale(g.h())
                .value();
        for portable in [false, true] {
            let t = f.partial_on(&g, 0..g.intervals(), portable).value();
            assert!(
                (t - reference).abs() <= 1e-15 * reference.abs(),
                "[{a}, {b}] n = {n} portable {portable}: {t} vs {reference}"
            );
        }
    }
}
