use super::*;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// `|a − b|` in units of the last place of `b`.
fn ulps(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    // The spacing of doubles at |b| (subnormals included).
    let ulp = f64::from_bits(b.abs().to_bits() + 1) - b.abs();
    (a - b).abs() / ulp
}

/// Test arguments: uniform on several scales, and the doubles nearest to multiples of π/2 (where
/// the reduced argument cancels most) with their neighbours.
fn trig_points() -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut xs = Vec::new();
    for scale in [1.0, 10.0, 1e3, 1e6] {
        for _ in 0..50_000 {
            xs.push(rng.random_range(-scale..scale));
        }
    }
    for _ in 0..50_000 {
        // log-uniform magnitudes 1e-300 .. 1e6
        let m = 10f64.powf(rng.random_range(-300.0..6.0));
        xs.push(if rng.random::<bool>() { m } else { -m });
    }
    for k in (1..600_000u32).step_by(97) {
        let x = f64::from(k) * std::f64::consts::FRAC_PI_2;
        xs.extend([
            x,
            f64::from_bits(x.to_bits() + 1),
            f64::from_bits(x.to_bits() - 1),
        ]);
    }
    xs
}

fn max_ulps(xs: &[f64], ours: &[f64], reference: impl Fn(f64) -> f64) -> (f64, f64) {
    xs.iter()
        .zip(ours)
        .map(|(&x, &y)| (ulps(y, reference(x)), x))
        .fold((0.0, 0.0), |m, e| if e.0 > m.0 { e } else { m })
}

fn scalar<F: LaneFn>(xs: &[f64], f: F) -> Vec<f64> {
    let mut out = vec![0.0; xs.len()];
    map_slice::<f64, F>(xs, &mut out, f);
    out
}

fn dispatched(xs: &[f64], f: fn(&[f64], &mut [f64])) -> Vec<f64> {
    let mut out = vec![0.0; xs.len()];
    f(xs, &mut out);
    out
}

#[test]
fn sin_and_cos_within_two_ulp_of_std() {
    let xs = trig_points();
    for (name, ours, reference) in [
        (
            "sin portable",
            scalar(&xs, SinL),
            f64::sin as fn(f64) -> f64,
        ),
        ("cos portable", scalar(&xs, CosL), f64::cos),
        ("sin dispatched", dispatched(&xs, sin), f64::sin),
        ("cos dispatched", dispatched(&xs, cos), f64::cos),
    ] {
        let (worst, at) = max_ulps(&xs, &ours, reference);
        println!(
            "{name}: max error {worst:.3} ulp (at x = {at:e}) over {} points",
            xs.len()
        );
        assert!(worst <= 2.0, "{name}: {worst} ulp at x = {at:e}");
    }
}

#[test]
fn sin_squared_matches_std_within_rounding() {
    let xs = trig_points();
    let ours = scalar(&xs, Sin2L);
    let mut fast = vec![0.0; xs.len()];
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::simd::avx2_or_skip("sin_squared_matches_std_within_rounding") {
        // SAFETY: the CPU has AVX2 and FMA.
        unsafe {
            crate::kernels::simd::avx2::with_avx2(|| {
                map_slice::<crate::kernels::simd::avx2::V4, _>(&xs, &mut fast, Sin2L)
            })
        };
    } else {
        fast.copy_from_slice(&ours);
    }
    let (mut worst, mut worst_near_zero) = (0.0f64, 0.0f64);
    for (x, (a, b)) in xs.iter().zip(ours.iter().zip(&fast)) {
        let s = x.sin();
        for v in [a, b] {
            // The FMA path reduces by π/2 in two parts: r is off by up to |x|·1e-33, which
            // moves sin² by up to 2|sin x|·|x|·1e-33 (it matters only next to the zeros).
            let e = ulps(*v, s * s);
            let reduction = 2.0 * s.abs() * x.abs() * 1e-33;
            if e > 6.0 {
                let bound = 6.0 * f64::EPSILON * s * s + reduction;
                worst_near_zero = worst_near_zero.max((v - s * s).abs() / bound);
            } else {
                worst = worst.max(e);
            }
            assert!(
                e <= 6.0 || (v - s * s).abs() <= 6.0 * f64::EPSILON * s * s + reduction,
                "sin²({x:e}) = {v:e}, std sin² {:e}: {e} ulp",
                s * s
            );
        }
    }
    println!(
        "sin²: max difference from std sin(x)² {worst:.3} ulp; next to zeros, {worst_near_zero:.3} \
         of the bound"
    );
}

#[test]
fn exp_within_two_ulp_of_std() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut xs: Vec<f64> = (0..200_000)
        .map(|_| rng.random_range(-708.0..709.0))
        .collect();
    xs.extend((0..50_000).map(|_| rng.random_range(-1.0..1.0)));
    xs.extend((-7000..7000).map(|i| f64::from(i) * std::f64::consts::LN_2 / 10.0));
    for (name, ours) in [
        ("exp portable", scalar(&xs, ExpL)),
        ("exp dispatched", dispatched(&xs, exp)),
    ] {
        let (worst, at) = max_ulps(&xs, &ours, f64::exp);
        println!("{name}: max error {worst:.3} ulp (at x = {at:e})");
        assert!(worst <= 2.0, "{name}: {worst} ulp at x = {at}");
    }
}

#[test]
fn special_values() {
    let xs = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e300,
        -1e7,
        -746.0,
        -720.0,
        709.5,
        710.0,
    ];
    for (f, port, r) in [
        (
            sin as fn(&[f64], &mut [f64]),
            scalar(&xs, SinL),
            f64::sin as fn(f64) -> f64,
        ),
        (cos, scalar(&xs, CosL), f64::cos),
        (exp, scalar(&xs, ExpL), f64::exp),
    ] {
        let ours = dispatched(&xs, f);
        for (i, x) in xs.iter().enumerate() {
            let want = r(*x);
            for got in [ours[i], port[i]] {
                assert!(
                    got.to_bits() == want.to_bits()
                        || (got.is_nan() && want.is_nan())
                        || ulps(got, want) <= 2.0,
                    "f({x}) = {got}, std {want}"
                );
            }
        }
    }
}

/// `sin² x` by quadrants (the `sin2` trapezoid kernel's values) on both paths.
fn quadrant_sin2<V: Lanes>(xs: &[f64]) -> Vec<f64> {
    xs.iter()
        .map(|&x| {
            let (g, offset, sign) = Sin2Q.piece::<true>(Quadrant::new(quadrant_of(x), 0.0));
            offset + sign * g.eval(V::splat(x)).first()
        })
        .collect()
}

#[test]
fn quadrant_sin2_is_accurate() {
    // Reference: std's sin x squared exactly (a double-double s² = p + e), so that the
    // comparison adds only std's own error (about 2 · 0.5 ulp relative).
    let xs: Vec<f64> = trig_points()
        .into_iter()
        .filter(|x| x.abs() <= TRIG_FAST_MAX)
        .collect();
    let portable = quadrant_sin2::<f64>(&xs);
    #[cfg(target_arch = "x86_64")]
    let fast = if crate::kernels::simd::avx2_or_skip("quadrant_sin2_is_accurate") {
        // SAFETY: the CPU has AVX2 and FMA.
        unsafe {
            crate::kernels::simd::avx2::with_avx2(|| {
                quadrant_sin2::<crate::kernels::simd::avx2::V4>(&xs)
            })
        }
    } else {
        portable.clone()
    };
    #[cfg(not(target_arch = "x86_64"))]
    let fast = portable.clone();
    for (name, ours) in [("portable", portable), ("dispatched", fast)] {
        let (mut worst, mut worst_ulps) = ((0.0f64, 0.0), 0.0f64);
        for (&x, &v) in xs.iter().zip(&ours) {
            let s = x.sin();
            worst_ulps = worst_ulps.max(ulps(v, s * s));
            let (p, e) = (s * s, s.mul_add(s, -(s * s)));
            // Relative to s², in units of 2^-53 (half an ulp at most per correct rounding).
            let err = ((v - p) - e).abs() / (p * f64::EPSILON / 2.0);
            if err > worst.0 {
                worst = (err, x);
            }
        }
        println!(
            "quadrant sin² {name}: max error {:.3} units of 2^-53 (at x = {:e}) over {} points; \
             {worst_ulps:.3} ulp from std's sin(x)²",
            worst.0,
            worst.1,
            xs.len()
        );
        // About 1 ulp of rounding in ours, 1 in std's sin squared, and the polynomial's 0.35.
        assert!(worst.0 <= 8.0, "{name}: {} at x = {:e}", worst.0, worst.1);
    }
}
