use super::*;

#[test]
fn samples_are_identical_under_any_split() {
    let whole = samples(3, 10, 0..20_000);
    assert_eq!(whole.len(), 20_000);
    for cuts in [
        vec![0, 20_000],
        vec![0, 1, 4095, 4096, 4097, 20_000],
        vec![0, 5, 9_000, 9_000, 12_288, 19_999, 20_000],
    ] {
        let joined: Vec<f64> = cuts
            .windows(2)
            .flat_map(|c| samples(3, 10, c[0]..c[1]))
            .collect();
        assert_eq!(joined, whole, "cuts {cuts:?}");
    }
    // Block b draws from Normals::new(seed, b): block 1's first sample is the max of its first
    // 10, its third the max of draws 20..30.
    let mut draws = [0.0; 30];
    crate::kernels::normal::Normals::new(3, 1).fill(&mut draws);
    let max = |d: &[f64]| d.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(whole[BLOCK as usize], max(&draws[..10]));
    assert_eq!(whole[BLOCK as usize + 2], max(&draws[20..]));
}

#[test]
fn samples_of_many_normals_span_several_fills() {
    // N above the fill size: each sample takes several fills, splits still agree.
    let n = 5000;
    let whole = samples(4, n, 4094..4099);
    let mut parts = samples(4, n, 4094..4096);
    parts.extend(samples(4, n, 4096..4097));
    parts.extend(samples(4, n, 4097..4099));
    assert_eq!(whole, parts);
    let mut draws = vec![0.0; 2 * n as usize];
    crate::kernels::normal::Normals::new(4, 1).fill(&mut draws);
    let second = draws[n as usize..]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(whole[3], second); // sample 4097 = block 1, sample 1
    assert!(whole.iter().all(|&m| m > 2.0 && m < 7.0), "{whole:?}");
}

#[test]
fn samples_follow_the_exact_distribution() {
    let n = 10;
    let xs = samples(11, n, 0..100_000);
    let d = ks_distance(&xs, |x| cdf(n, x));
    // 1% critical value of the KS statistic for 10^5 samples: 1.628 / √m = 0.00515.
    assert!(d < 1.628 / (xs.len() as f64).sqrt(), "KS distance {d}");
    assert!(ks_pvalue(d, xs.len() as u64) > 0.01);
    // A shifted distribution is rejected.
    let shifted = ks_distance(&xs, |x| cdf(n, x - 0.05));
    assert!(
        ks_pvalue(shifted, xs.len() as u64) < 1e-6,
        "shifted KS {shifted}"
    );
}

#[test]
fn density_integrates_to_one_and_matches_the_cdf() {
    for n in [1, 2, 10, 1000] {
        let (a, b, m) = (-12.0, 12.0, 200_001u32);
        let h = (b - a) / f64::from(m - 1);
        let mut s = crate::kernels::sum::CompensatedSum::default();
        for k in 0..m {
            let w = if k == 0 || k == m - 1 { 0.5 } else { 1.0 };
            s.add(w * density(n, a + f64::from(k) * h));
        }
        assert!(
            (s.value() * h - 1.0).abs() < 1e-9,
            "n = {n}: {}",
            s.value() * h
        );
        // d/dx CDF = density (central difference).
        for x in [-1.0, 0.5, 2.0, 3.5] {
            let e = 1e-5;
            let deriv = (cdf(n, x + e) - cdf(n, x - e)) / (2.0 * e);
            assert!((deriv - density(n, x)).abs() < 1e-8, "n = {n}, x = {x}");
        }
    }
    assert_eq!(cdf(1, 0.0), 0.5);
    assert!((cdf(3, 0.0) - 0.125).abs() < 1e-16);
}

#[test]
fn histogram_counts_sum_to_the_samples() {
    let xs = samples(5, 10, 0..50_000);
    let mut h = Histogram::new(auto_edges(&xs, 100));
    h.fill(&xs);
    assert_eq!(h.counts.iter().sum::<u64>(), 50_000);
    assert_eq!((h.below, h.above), (0, 0));
    let area: f64 = h
        .density()
        .iter()
        .zip(h.edges.windows(2))
        .map(|(d, w)| d * (w[1] - w[0]))
        .sum();
    assert!((area - 1.0).abs() < 1e-12);
    // Per-engine histograms on shared edges merge into the whole.
    let edges = exact_edges(10, 80);
    let mut whole = Histogram::new(edges.clone());
    whole.fill(&xs);
    let mut merged = Histogram::new(edges.clone());
    for part in xs.chunks(7_000) {
        let mut p = Histogram::new(edges.clone());
        p.fill(part);
        merged.merge(&p);
    }
    assert_eq!(merged, whole);
    assert_eq!(whole.total(), 50_000);
    // Bars near the mode agree with the exact density within a few standard errors.
    let dens = whole.density();
    for (c, (d, x)) in whole.counts.iter().zip(dens.iter().zip(whole.centers())) {
        if *c > 1000 {
            let rel_se = 1.0 / (*c as f64).sqrt();
            assert!(
                (d / density(10, x) - 1.0).abs() < 5.0 * rel_se + 0.01,
                "x = {x}: {d} vs {}",
                density(10, x)
            );
        }
    }
}

#[test]
fn quantiles_invert_the_cdf() {
    for n in [1, 10, 100] {
        for p in [1e-6, 0.1, 0.5, 0.9, 1.0 - 1e-6] {
            let q = quantile(n, p);
            assert!((cdf(n, q) - p).abs() < 1e-10 * p.max(1e-3), "n {n} p {p}");
        }
    }
    assert!(quantile(1, 0.5).abs() < 1e-12);
}
