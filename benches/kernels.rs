//! Criterion benchmarks of the MPI-free kernels, per point / per draw / per grid.
//!
//! ```text
//! cargo bench --bench kernels                 # everything, about two minutes
//! cargo bench --bench kernels -- trapz        # one group
//! ```
//!
//! Times are the **CPU time of the benchmarking thread** (`CLOCK_THREAD_CPUTIME_ID`), not wall
//! time: on a shared 2-core machine a neighbour's build would otherwise inflate them. The
//! throughput line reads **ns per element** (point, draw, sample or pixel) directly.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use mpiview_apps::kernels::julia::Julia;
use mpiview_apps::kernels::maxnormal;
use mpiview_apps::kernels::normal::normal_stats;
use mpiview_apps::kernels::trapz::{Builtin, Grid, Integrand};

/// CPU time of the calling thread.
struct ThreadCpu;

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Times in ns/µs/ms/s; throughput as ns per element.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (f, unit) = match ns {
            n if n < 1e3 => (1.0, "ns"),
            n if n < 1e6 => (1e-3, "µs"),
            n if n < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        values.iter_mut().for_each(|v| *v *= f);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match *t {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => n,
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n,
            Throughput::Bits(n) => n,
        } as f64;
        values.iter_mut().for_each(|v| *v /= per);
        "ns/elem (CPU)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// Ten samples of about two seconds: the whole run stays around two minutes.
fn short(g: &mut BenchmarkGroup<'_, ThreadCpu>) {
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
}

fn trapz(c: &mut Criterion<ThreadCpu>) {
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
    // The trapz app's case: sin² on [0, π], 10^8 points, one of two engines' blocks.
    let grid = Grid::new(0.0, std::f64::consts::PI, 100_000_000).unwrap();
    let comp = Integrand::Builtin(Builtin::Sin2).compile().unwrap();
    let block = grid.block(2, 0);
    g.throughput(Throughput::Elements(block.end - block.start));
    g.bench_function("sin2 app block (1e8 on [0, pi], 1 of 2)", |bch| {
        bch.iter(|| black_box(comp.partial(&grid, block.clone())))
    });
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

fn normal(c: &mut Criterion<ThreadCpu>) {
    let mut g = c.benchmark_group("normal");
    short(&mut g);
    let n = 1_000_000;
    g.throughput(Throughput::Elements(n));
    g.bench_function("normal_stats", |b| {
        b.iter(|| black_box(normal_stats(1, 0, n)))
    });
    g.finish();
}

fn maxnormal(c: &mut Criterion<ThreadCpu>) {
    let mut g = c.benchmark_group("maxnormal");
    short(&mut g);
    // The app's defaults: 500,000 samples of N = 10 (serially here; the app splits them).
    let m = 500_000u64;
    g.throughput(Throughput::Elements(m));
    g.bench_function("samples N=10", |b| {
        b.iter(|| black_box(maxnormal::samples(1, 10, 0..m)))
    });
    let xs = maxnormal::samples(1, 10, 0..m);
    let edges = maxnormal::exact_edges(10, 100);
    g.bench_function("histogram 100 bins", |b| {
        b.iter(|| {
            let mut h = maxnormal::Histogram::new(edges.clone());
            h.fill(&xs);
            black_box(h)
        })
    });
    g.bench_function("ks_distance", |b| {
        b.iter(|| black_box(maxnormal::ks_distance(&xs, |x| maxnormal::cdf(10, x))))
    });
    g.finish();
}

fn julia(c: &mut Criterion<ThreadCpu>) {
    let mut g = c.benchmark_group("julia");
    short(&mut g);
    let j = Julia::default();
    g.throughput(Throughput::Elements((j.rows * j.cols) as u64));
    g.bench_function("default grid", |b| b.iter(|| black_box(j.counts())));
    // The heaviest 64-row block (through the middle of the set) against the lightest.
    let cost = |r: usize| j.rows(r..r + 1).iter().map(|&k| u64::from(k)).sum::<u64>();
    let block_cost = |s: usize| (s..s + 64).map(cost).sum::<u64>();
    let heavy = (0..j.rows / 64)
        .map(|b| b * 64)
        .max_by_key(|&s| block_cost(s))
        .unwrap();
    g.throughput(Throughput::Elements((64 * j.cols) as u64));
    g.bench_function(format!("heavy rows {heavy}..{}", heavy + 64), |b| {
        b.iter(|| black_box(j.rows(heavy..heavy + 64)))
    });
    g.bench_function("light rows 0..64", |b| b.iter(|| black_box(j.rows(0..64))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots().with_measurement(ThreadCpu);
    targets = trapz, normal, maxnormal, julia
}
criterion_main!(benches);
