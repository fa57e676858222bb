//! Criterion benchmarks of the MPI-free kernels, per point / per draw / per grid.
//!
//! ```text
//! cargo bench --bench kernels                 # everything, about two minutes
//! cargo bench --bench kernels -- trapz        # one group
//! ```
//!
//! Throughput is set to the number of points (samples, draws), so criterion prints
//! elements per second; ns per element is its inverse.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mpiview::kernels::trapz::{Builtin, Grid, Integrand};

fn trapz(c: &mut Criterion) {
    let mut g = c.benchmark_group("trapz");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let n = 10_000_000u64;
    for f in Builtin::ALL {
        let (a, b) = if f == Builtin::Semicircle {
            (-1.0, 1.0)
        } else {
            (0.0, 10.0)
        };
        let grid = Grid::new(a, b, n).unwrap();
        let comp = Integrand::Builtin(f).compile().unwrap();
        g.throughput(Throughput::Elements(n));
        g.bench_function(f.name(), |bch| {
            bch.iter(|| black_box(comp.partial(&grid, 0..grid.intervals())))
        });
    }
    let n = 1_000_000u64;
    for e in ["x^2*sin(x)", "sin(x)^2", "exp(-(x^2))"] {
        let grid = Grid::new(0.0, 10.0, n).unwrap();
        let comp = Integrand::expr(e).unwrap().compile().unwrap();
        g.throughput(Throughput::Elements(n));
        g.bench_function(format!("expr {e}"), |bch| {
            bch.iter(|| black_box(comp.partial(&grid, 0..grid.intervals())))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = trapz
}
criterion_main!(benches);
