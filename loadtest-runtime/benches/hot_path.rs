//! Hot-path benchmarks: the cost of one empty iteration through the real executor, and the cost
//! of recording one latency.
//!
//! Run with `cargo bench -p loadtest-runtime --bench hot_path`; the numbers and the machine they
//! were measured on are in `bench/RESULTS.md`.

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use loadtest_runtime::__private::BenchRecorder;
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::metrics::hdr;
use loadtest_runtime::prelude::*;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::runtime::{Builder, Runtime};

/// The cheapest possible load test: one user, no think time, no work. Each benchmark sample
/// overrides `iterations`.
#[load_test(users = 1, iterations = 1000)]
async fn empty(_ctx: &Ctx) -> Result<()> {
    Ok(())
}

/// The fewest iterations one load test of a sample runs, so that the fixed cost of a test (its
/// HTTP client, metrics registry, controller and collector tasks) is amortised.
const MIN_ITERATIONS_PER_RUN: u64 = 200_000;

/// Runs `empty` for `iters` iterations (at least [`MIN_ITERATIONS_PER_RUN`]) on `rt` and returns
/// the time `iters` iterations took: the measured time, scaled down when more were run.
fn run_empty(rt: &Runtime, iters: u64) -> Duration {
    let n = iters.max(MIN_ITERATIONS_PER_RUN);
    let mut layer = OptionLayer::new("bench");
    layer.set_str("iterations", &n.to_string());
    let layers = [layer];
    let start = Instant::now();
    let result = rt
        .block_on(loadtest_runtime::run_registered("empty", &layers))
        .expect("the empty load test runs");
    let elapsed = start.elapsed();
    assert_eq!(
        result.iterations.ok, n,
        "every iteration of `empty` succeeds"
    );
    elapsed.mul_f64(iters as f64 / n as f64)
}

fn empty_iteration(c: &mut Criterion) {
    let mut group = c.benchmark_group("empty_iteration");
    // Criterion sizes samples from the wall time of its warm-up calls, each of which runs at
    // least MIN_ITERATIONS_PER_RUN iterations, so it asks for few iterations per sample: every
    // sample is then one load test of MIN_ITERATIONS_PER_RUN iterations, its time scaled. Flat
    // sampling keeps the samples the same size (a linear fit over them would mean nothing).
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let runtimes = [
        (
            "current_thread",
            Builder::new_current_thread().enable_all().build(),
        ),
        // As the harness's `main!` builds it: one worker per core.
        (
            "multi_thread",
            Builder::new_multi_thread().enable_all().build(),
        ),
    ];
    for (flavor, rt) in runtimes {
        let rt = rt.expect("a tokio runtime starts");
        group.bench_function(BenchmarkId::new("1_user", flavor), |b| {
            b.iter_custom(|iters| run_empty(&rt, iters))
        });
    }
    group.finish();
}

/// Latencies in microseconds spread over 50 µs .. 2 s (log-uniform), so that recording touches
/// varied histogram buckets rather than one hot one.
fn latencies() -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..4096)
        .map(|_| {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let u = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            (50.0 * (40_000.0f64).powf(u)) as u64
        })
        .collect()
}

fn record_latency(c: &mut Criterion) {
    let values = latencies();
    let mask = values.len() - 1;
    let mut group = c.benchmark_group("record_latency");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    // What the executor does per iteration, minus the clock reads and the lag histogram: this
    // thread's shard, three histograms, the interval counters.
    let recorder = BenchRecorder::new();
    let mut i = 0;
    group.bench_function("shard_iteration", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            recorder.record_iteration(black_box(values[i]));
        })
    });

    // What the HTTP client does per request: this thread's shard, a lookup by request name, the
    // class and status counters, one histogram, the interval counters.
    let mut i = 0;
    group.bench_function("shard_request", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            recorder.record_request(black_box("GET /api/items"), black_box(values[i]));
        })
    });
    let (iterations, requests) = recorder.totals();
    assert!(iterations > 0 && requests > 0);

    // One histogram record, for comparison.
    let mut h = hdr::new_hist();
    let mut i = 0;
    group.bench_function("hdr_record", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            hdr::record(&mut h, black_box(values[i]));
        })
    });
    group.finish();
}

criterion_group!(benches, empty_iteration, record_latency);
criterion_main!(benches);
