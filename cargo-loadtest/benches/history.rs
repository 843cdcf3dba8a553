//! The speed of `cargo loadtest history`'s analysis in memory (issue 28, done-means 3): a
//! history of 1,000 runs of 10 tests with 5 metrics each (50 series, each with a 15% step at a
//! third and 3% noise), analysed whole; then one more run appended, analysed as
//! `--fail-on-regression` does it (the series without the newest run, then with it
//! incrementally); then the incremental step alone. Wall-clock medians of several repetitions;
//! `bash bench/history.sh` also times the binary end to end (reading the files included).
//!
//! `cargo bench -p cargo-loadtest --bench history` (RUNS=N, TESTS=N to change the size).

use cargo_loadtest::history::analysis::{Rules, analyse};
use cargo_loadtest::history::detect::{Options, detect, detect_appended};
use cargo_loadtest::history::record::{HISTORY_VERSION, Metrics, Record, TestRecord};
use cargo_loadtest::history::store::Stored;
use loadtest_report::report::TestStatus;
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn noise(rng: &mut fastrand::Rng) -> f64 {
    1.0 + ((0..4).map(|_| rng.f64()).sum::<f64>() - 2.0) * 3f64.sqrt() * 0.03
}

fn history(runs: usize, tests: usize) -> Vec<Stored> {
    let mut rng = fastrand::Rng::with_seed(28);
    (0..runs)
        .map(|i| {
            let f = if i >= runs / 3 { 1.15 } else { 1.0 };
            let tests = (0..tests)
                .map(|t| TestRecord {
                    test: format!("bench::api::t{t:02}"),
                    status: TestStatus::Passed,
                    model: "closed, 4 users".into(),
                    saturated: false,
                    disturbed: false,
                    metrics: Some(Metrics {
                        p50_us: 10_000.0 * f * noise(&mut rng),
                        p95_us: 18_000.0 * f * noise(&mut rng),
                        p99_us: 25_000.0 * f * noise(&mut rng),
                        throughput_per_s: 400.0 / f * noise(&mut rng),
                        error_rate: 0.001 * noise(&mut rng),
                    }),
                    requests: Default::default(),
                })
                .collect();
            Stored {
                file: format!("run-{i:05}.json"),
                record: Record {
                    history_version: HISTORY_VERSION,
                    commit: Some(format!("{i:040x}")),
                    started_at_unix: 1.8e9 + i as f64 * 3600.0,
                    host: "bench".into(),
                    tool_version: "bench".into(),
                    recorded_at_unix: 0.0,
                    tests,
                },
            }
        })
        .collect()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = None;
    let times = (0..reps)
        .map(|_| {
            let t = Instant::now();
            out = Some(std::hint::black_box(f()));
            t.elapsed()
        })
        .collect();
    (median(times), out.expect("at least one repetition"))
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let runs = env("RUNS", 1000);
    let tests = env("TESTS", 10);
    let opts = Options::default();
    let all = history(runs + 1, tests);
    let old = &all[..runs];

    let rules = Rules::default();
    let (full, a) = time(5, || analyse(old, &rules));
    let points: usize = a.series.iter().map(|s| s.change_points.len()).sum();
    println!(
        "analyse: {runs} runs x {} series, whole history: {:.1} ms (median of 5; {points} change points)",
        a.series.len(),
        full.as_secs_f64() * 1e3
    );
    let (appended, a) = time(5, || analyse(&all, &rules));
    println!(
        "analyse: {} runs, the newest appended (without it, then with it incrementally): {:.1} ms (median of 5; {} opened)",
        runs + 1,
        appended.as_secs_f64() * 1e3,
        a.new_regressions().count()
    );

    // The incremental step alone, over every series: one value appended to a known detection.
    let series: Vec<Vec<f64>> = cargo_loadtest::history::analysis::series(&all)
        .0
        .into_iter()
        .map(|s| s.values)
        .collect();
    let before: Vec<_> = series
        .iter()
        .map(|s| detect(&s[..s.len() - 1], &opts))
        .collect();
    let (step, _) = time(9, || {
        series
            .iter()
            .zip(&before)
            .map(|(s, b)| detect_appended(s, &opts, b).change_points.len())
            .sum::<usize>()
    });
    let (whole, _) = time(5, || {
        series
            .iter()
            .map(|s| detect(s, &opts).change_points.len())
            .sum::<usize>()
    });
    println!(
        "detect: {} series of {} values, one value appended to a known detection: {:.2} ms; from scratch: {:.1} ms",
        series.len(),
        runs + 1,
        step.as_secs_f64() * 1e3,
        whole.as_secs_f64() * 1e3
    );
}
