use super::box_muller::box_muller;
use super::sampler::{STEP, draw_steps, draw_steps_portable};
use super::*;
use crate::kernels::maxnormal::{ks_distance, ks_pvalue, normal_cdf};
use rand::{Rng, RngExt};

#[test]
fn streams_are_reproducible_and_distinct() {
    let draw = |seed, index| -> Vec<u64> {
        let mut r = stream(seed, index);
        (0..4).map(|_| r.random()).collect()
    };
    assert_eq!(draw(5, 9), draw(5, 9));
    let mut firsts: Vec<u64> = (0..10_000).map(|i| draw(5, i)[0]).collect();
    firsts.sort_unstable();
    firsts.dedup();
    assert_eq!(firsts.len(), 10_000);
    assert_ne!(draw(0, 0), draw(1, 0));
}

/// The first `steps · 8` draws of `(seed, index)`, recomputed from `rand_xoshiro` generators and
/// the scalar transform.
fn by_hand(seed: u64, index: u64, steps: usize) -> Vec<f64> {
    let mut g: Vec<Xoshiro256PlusPlus> = vec![stream(seed, index)];
    for _ in 0..3 {
        let mut next = g.last().unwrap().clone();
        next.jump();
        g.push(next);
    }
    let mut out = vec![0.0; steps * STEP];
    for chunk in out.chunks_exact_mut(STEP) {
        for (j, gj) in g.iter_mut().enumerate() {
            let (w1, w2) = (gj.next_u64(), gj.next_u64());
            let (z0, z1) = box_muller::<u64>(w1, w2);
            chunk[j] = z0;
            chunk[4 + j] = z1;
        }
    }
    out
}

#[test]
fn draws_come_from_four_jumped_generators_in_order() {
    let mut ours = vec![0.0; 8 * 100];
    Normals::new(9, 4).fill(&mut ours);
    assert_eq!(ours, by_hand(9, 4, 100));
    // normal_stats reads the same sequence.
    let draws = &ours[..6];
    let s = normal_stats(9, 4, 6);
    assert_eq!(s.min, draws.iter().copied().fold(f64::INFINITY, f64::min));
    assert_eq!(
        s.max,
        draws.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    );
    assert!((s.mean - draws.iter().sum::<f64>() / 6.0).abs() < 1e-15);
}

#[test]
fn avx2_and_portable_paths_give_the_same_bits() {
    let mut states = Normals::new(3, 8).states;
    let mut portable_states = states;
    let mut fast = vec![0.0; 8 * 20_000];
    let mut portable = fast.clone();
    draw_steps(&mut states, &mut fast);
    draw_steps_portable(&mut portable_states, &mut portable);
    assert_eq!(states, portable_states);
    assert!(
        fast.iter()
            .zip(&portable)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

#[test]
fn any_reading_gives_the_same_sequence() {
    let mut whole = vec![0.0; 1000];
    Normals::new(1, 2).fill(&mut whole);
    let mut g = Normals::new(1, 2);
    let mut pieces = Vec::new();
    for len in [0, 1, 7, 8, 3, 100, 5, 200] {
        let mut buf = vec![0.0; len];
        g.fill(&mut buf);
        pieces.extend(buf);
    }
    g.skip(13);
    let mut tail = vec![0.0; 1000 - pieces.len() - 13];
    g.fill(&mut tail);
    assert_eq!(pieces[..], whole[..pieces.len()]);
    assert_eq!(tail[..], whole[pieces.len() + 13..]);
}

#[test]
fn moments_of_a_million_draws() {
    let n = 1_000_000;
    let s = normal_stats(2024, 3, n);
    // Standard error of the mean: 1e-3; five of them.
    assert!(s.mean.abs() < 5e-3, "mean {}", s.mean);
    // The extremes of 10^6 normals lie near ±4.9 (beyond ±3.5 with overwhelming probability).
    assert!(s.max > 3.5 && s.max < 7.0, "max {}", s.max);
    assert!(s.min < -3.5 && s.min > -7.0, "min {}", s.min);
    let mut xs = vec![0.0; n as usize];
    Normals::new(2024, 3).fill(&mut xs);
    let m = |k: i32| xs.iter().map(|x| x.powi(k)).sum::<f64>() / n as f64;
    let nf = n as f64;
    // E z² = 1, E z³ = 0, E z⁴ = 3; standard errors √(2/n), √(15/n), √(96/n); five of each.
    let (m2, m3, m4) = (m(2), m(3), m(4));
    println!(
        "moments of 10^6 draws: mean {:.2e}, E z² {m2:.5}, E z³ {m3:.2e}, E z⁴ {m4:.4}",
        s.mean
    );
    assert!((m2 - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(), "E z² = {m2}");
    assert!(m3.abs() < 5.0 * (15.0 / nf).sqrt(), "E z³ = {m3}");
    assert!((m4 - 3.0).abs() < 5.0 * (96.0 / nf).sqrt(), "E z⁴ = {m4}");
    // Tails: P(|z| > 3) = 2.6998e-3, P(|z| > 4) = 6.334e-5; five binomial standard errors.
    for (t, p) in [(3.0, 2.699_796e-3), (4.0, 6.334_248e-5)] {
        let count = xs.iter().filter(|x| x.abs() > t).count() as f64;
        let (mean, sd) = (nf * p, (nf * p * (1.0 - p)).sqrt());
        assert!(
            (count - mean).abs() < 5.0 * sd,
            "|z| > {t}: {count} vs {mean}"
        );
    }
    // The two normals of a pair, and consecutive draws of one generator, are uncorrelated.
    for (name, lag) in [("pair", 4usize), ("next step", 8)] {
        let corr = xs
            .iter()
            .zip(&xs[lag..])
            .step_by(8)
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / (nf / 8.0);
        assert!(
            corr.abs() < 5.0 / (nf / 8.0).sqrt(),
            "{name} correlation {corr}"
        );
    }
}

#[test]
fn draws_pass_a_kolmogorov_smirnov_test() {
    let mut xs = vec![0.0; 1_000_000];
    Normals::new(77, 0).fill(&mut xs);
    let d = ks_distance(&xs, normal_cdf);
    let p = ks_pvalue(d, xs.len() as u64);
    println!("KS distance of 10^6 draws from N(0, 1): {d:.2e} (p = {p:.3})");
    // 1% critical value: 1.628 / √m.
    assert!(d < 1.628 / (xs.len() as f64).sqrt(), "KS distance {d}");
    // The same draws shifted by 0.01σ are rejected: the test has power at this size.
    let shifted = ks_distance(&xs, |x| normal_cdf(x - 0.01));
    assert!(
        ks_pvalue(shifted, xs.len() as u64) < 1e-3,
        "shifted {shifted}"
    );
}

#[test]
fn pairs_have_uniform_angles_and_exponential_radii() {
    // The two normals of generator j's pair sit at j and 4 + j of each step of eight.
    let mut xs = vec![0.0; 2_000_000];
    Normals::new(5, 6).fill(&mut xs);
    let pairs: Vec<(f64, f64)> = xs
        .chunks_exact(8)
        .flat_map(|c| (0..4).map(move |j| (c[j], c[4 + j])))
        .collect();
    // Angle: 64 equal sectors, chi-square with 63 degrees of freedom (0.1% point: 103.4).
    let mut bins = [0u64; 64];
    for &(a, b) in &pairs {
        let u = (b.atan2(a) / std::f64::consts::TAU).rem_euclid(1.0);
        bins[((u * 64.0) as usize).min(63)] += 1;
    }
    let expect = pairs.len() as f64 / 64.0;
    let chi2: f64 = bins
        .iter()
        .map(|&c| (c as f64 - expect).powi(2) / expect)
        .sum();
    println!("angles of 10^6 pairs: chi-square {chi2:.1} (63 degrees of freedom)");
    assert!(chi2 < 103.4, "chi-square {chi2}, bins {bins:?}");
    // Radius²: exponential with mean 2 (KS).
    let r2: Vec<f64> = pairs.iter().map(|&(a, b)| a * a + b * b).collect();
    let d = ks_distance(&r2, |x| 1.0 - (-x / 2.0).exp());
    assert!(
        d < 1.628 / (r2.len() as f64).sqrt(),
        "radius KS distance {d}"
    );
}

#[test]
fn combine_matches_one_pass() {
    let a = normal_stats(7, 0, 1000);
    let b = normal_stats(7, 1, 3000);
    let c = a.combine(b);
    assert_eq!(c.count, 4000);
    assert!((c.mean - (a.mean * 1000.0 + b.mean * 3000.0) / 4000.0).abs() < 1e-15);
    assert_eq!(c.min, a.min.min(b.min));
    let empty = normal_stats(7, 2, 0);
    assert_eq!(empty.combine(a), a);
    assert_eq!(a.combine(empty), a);
}
