use super::*;

/// The seed's algorithm point by point, in plain scalar code.
fn reference(j: &Julia) -> Vec<u16> {
    let (xs, ys) = (j.xs(), j.ys());
    let mut out = Vec::with_capacity(j.rows * j.cols);
    for &y in &ys {
        for &x in &xs {
            let (mut a, mut b) = (x, y);
            let mut count = 0u16;
            for _ in 0..j.tmax {
                if a * a + b * b > 4.0 {
                    break;
                }
                count += 1;
                let (na, nb) = ((a * a - b * b) + j.c.re, (a * b + b * a) + j.c.im);
                a = na;
                b = nb;
            }
            out.push(count);
        }
    }
    out
}

#[test]
fn kernel_matches_the_scalar_algorithm() {
    // Odd column count: exercises the padded last group of lanes.
    let j = Julia {
        rows: 97,
        cols: 131,
        ..Julia::default()
    };
    let want = reference(&j);
    assert_eq!(j.counts(), want);
    let mut port = vec![0; j.rows * j.cols];
    j.rows_into_on(0..j.rows, &mut port, true);
    assert_eq!(port, want);
    // The picture has both escaping and captured points.
    assert!(want.contains(&256) && want.contains(&1));
}

#[test]
fn row_blocks_concatenate_to_the_whole() {
    let j = Julia {
        rows: 120,
        cols: 77,
        ..Julia::default()
    };
    let whole = j.counts();
    let cuts = [0, 1, 2, 40, 41, 99, 120];
    let joined: Vec<u16> = cuts.windows(2).flat_map(|c| j.rows(c[0]..c[1])).collect();
    assert_eq!(joined, whole);
    assert!(j.rows(5..5).is_empty());
}

#[test]
fn counts_are_symmetric_under_z_to_minus_z() {
    // On a dyadic grid the points come in exact pairs z, −z, and (−z)² = z² bit for bit.
    let j = Julia {
        rows: 257,
        cols: 129,
        zmin: Complex64::new(-1.0, -1.0),
        zmax: Complex64::new(1.0, 1.0),
        ..Julia::default()
    };
    let k = j.counts();
    for r in 0..j.rows {
        for c in 0..j.cols {
            assert_eq!(
                k[r * j.cols + c],
                k[(j.rows - 1 - r) * j.cols + (j.cols - 1 - c)]
            );
        }
    }
}

#[test]
fn linspace_is_numpys() {
    // np.linspace(-1.3, 1.3, 1024)[[1, 511, 512, 1022]] (numpy 2.x).
    let xs = linspace(-1.3, 1.3, 1024);
    assert_eq!(xs.len(), 1024);
    assert_eq!(xs[0], -1.3);
    assert_eq!(xs[1023], 1.3);
    let step = 2.6 / 1023.0;
    for k in [1usize, 511, 512, 1022] {
        assert_eq!(xs[k], k as f64 * step + -1.3);
    }
    assert!(linspace(0.0, 1.0, 0).is_empty());
}

#[test]
fn tmax_bounds_counts() {
    let j = Julia {
        rows: 16,
        cols: 16,
        tmax: 5,
        ..Julia::default()
    };
    assert!(j.counts().iter().all(|&c| c <= 5));
    let j0 = Julia { tmax: 0, ..j };
    assert!(j0.counts().iter().all(|&c| c == 0));
}

/// Compares the default grid with NumPy's counts, computed by `tools/julia_reference.py` (the
/// seed's algorithm; raw little-endian u16, row-major) with Debian's Python and NumPy
/// (`scripts/setup.sh` installs them; `PYTHON` chooses another interpreter). About 6 s.
#[test]
fn default_grid_against_numpy() {
    let _files = crate::test_support::exclusive();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("julia_reference.u16");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/julia_reference.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg("--out")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (scripts/setup.sh installs python3-numpy)"));
    assert!(
        out.status.success(),
        "{python} {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&path).unwrap();
    let numpy: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let ours = Julia::default().counts();
    assert_eq!(numpy.len(), ours.len(), "reference size");
    let diff: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != numpy[i]).collect();
    println!(
        "default 1024x1024 grid: {} of {} pixels differ from NumPy",
        diff.len(),
        ours.len()
    );
    for &i in diff.iter().take(10) {
        println!(
            "  row {} col {}: rust {} numpy {}",
            i / 1024,
            i % 1024,
            ours[i],
            numpy[i]
        );
    }
    assert!(diff.is_empty(), "{} pixels differ", diff.len());
}
