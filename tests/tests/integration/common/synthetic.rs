//! A realistic, fully deterministic [`RunReport`]: fixed numbers, fixed timestamps and real
//! HdrHistogram encodings, so renderers can be snapshot-tested and the JSON checked against the
//! schema without running anything.
//!
//! The run was interrupted: `browse` ran to the end (one test passed, one failed a threshold and
//! regressed against the baseline), the `payments` harness crashed, and `reports` was cut short
//! (one test partly ran, the other never started).

#![allow(dead_code)] // Each test file uses a different subset.

use loadtest_report::hdr::{new_hist, record, to_report};
use loadtest_report::report::{
    BaselineInfo, Comparison, ConfigSummary, ErrorSample, GeneratorHealth, Histogram,
    IntervalPoint, IterationCounts, LatencySummary, MetricComparison, MetricVerdict,
    RequestMetrics, RequestTotals, RunInfo, RunReport, RunStatus, SCHEMA_VERSION, TestReport,
    TestResult, TestStatus, ThresholdOutcome, human_us,
};
use loadtest_report::verdict;
use loadtest_runtime::grammar::GatedMetric;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::str::FromStr;

/// The package every synthetic test belongs to.
pub const PACKAGE: &str = "shop-load";

/// A histogram (summary and V2 encoding) of the given microsecond values.
pub fn hist(values: impl IntoIterator<Item = u64>) -> Histogram {
    let mut h = new_hist();
    for v in values {
        record(&mut h, v);
    }
    to_report(&h)
}

/// `n` deterministic latencies spread between `base_us` and `base_us + spread_us`, with a tail:
/// every 100th value is `tail_us` larger.
pub fn latencies(n: u64, base_us: u64, spread_us: u64, tail_us: u64) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let v = base_us + (i * 7_919) % spread_us.max(1);
            if i % 100 == 99 { v + tail_us } else { v }
        })
        .collect()
}

/// A map from its entries, each key parsed (a name, a status code, a class).
fn map<K: FromStr + Ord, V: Clone>(entries: &[(&str, V)]) -> BTreeMap<K, V>
where
    K::Err: Debug,
{
    entries
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.clone()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

/// Builds a [`TestReport`] the way `cargo loadtest` does: judged by the one verdict.
pub fn judged(target: &str, result: TestResult) -> TestReport {
    let j = verdict::judge(
        verdict::Evidence::Finished {
            result: &result,
            comparison: None,
        },
        &verdict::Policy::default(),
    );
    TestReport {
        package: PACKAGE.into(),
        target: target.into(),
        name: result.name.clone(),
        status: j.status,
        failures: j.failures,
        result: Some(result),
        error: None,
        comparison: None,
        capacity: None,
    }
}

/// A test that left no result.
pub fn without_result(
    target: &str,
    name: &str,
    status: TestStatus,
    failure: &str,
    error: Option<&str>,
) -> TestReport {
    TestReport {
        package: PACKAGE.into(),
        target: target.into(),
        name: name.into(),
        status,
        failures: vec![failure.into()],
        result: None,
        error: error.map(str::to_string),
        comparison: None,
        capacity: None,
    }
}

fn threshold(rule: &str, observed: f64, passed: bool, message: &str) -> ThresholdOutcome {
    ThresholdOutcome {
        rule: rule.into(),
        observed: Some(observed),
        passed,
        message: message.into(),
    }
}

/// A `lhs < limit` latency rule judged the way the harness does, with its message.
fn latency_below(rule: &str, lhs: &str, observed_us: u64, limit_us: u64) -> ThresholdOutcome {
    let (v, limit) = (observed_us as f64, limit_us as f64);
    threshold(
        rule,
        v,
        v < limit,
        &format!("{lhs} was {}, limit < {}", human_us(v), human_us(limit)),
    )
}

fn lag(p50: u64, p99: u64, max: u64, count: u64) -> LatencySummary {
    LatencySummary {
        count,
        min_us: 3,
        max_us: max,
        mean_us: 250.5,
        stdev_us: 1_200.25,
        p50_us: p50,
        p90_us: p50 * 2,
        p95_us: p50 * 3,
        p99_us: p99,
        p999_us: max,
    }
}

/// Open model, 200 iterations/s for 10 s, everything filled in: request names, custom metrics,
/// series, thresholds (all held), a generator warning, error samples and the uncorrected
/// histogram. It passed.
pub fn open_model_passed() -> TestResult {
    let corrected = latencies(1_996, 4_000, 30_000, 90_000);
    let uncorrected = latencies(1_996, 3_500, 25_000, 60_000);
    let home = latencies(1_996, 2_000, 15_000, 40_000);
    let search = latencies(998, 3_000, 20_000, 50_000);
    let render = latencies(1_996, 300, 1_200, 4_000);
    let (iteration_latency, search) = (hist(corrected), hist(search));
    let (p99, search_p95) = (iteration_latency.summary.p99_us, search.summary.p95_us);
    TestResult {
        name: "home_page".into(),
        started_at_unix: Some(1_767_225_600.5),
        config: ConfigSummary {
            model: "open".into(),
            users: None,
            rate_per_s: Some(200.0),
            stages: vec![],
            duration_s: Some(10.0),
            iterations: None,
            think_time: None,
            max_in_flight: Some(500),
            on_saturation: Some("drop".into()),
            rate_limit_per_s: Some(1_000.0),
            retries: 2,
            backoff: "50ms..1s".into(),
            retry_on: strings(&["connect", "timeout", "http_5xx"]),
            timeout: Some("5s".into()),
            iteration_timeout: Some("10s".into()),
            thresholds: strings(&["p99 < 250ms", "p95(GET /search) < 100ms", "error_rate < 1%"]),
            abort_on_fail: false,
            tags: strings(&["smoke-free", "browse"]),
            base_url: Some("http://127.0.0.1:8080".into()),
            tolerance: strings(&["p99=30%"]),
            smoke: false,
            danger_accept_invalid_certs: false,
            client: "hyper".into(),
            cookies: true,
            shard: None,
        },
        elapsed_s: 10.25,
        interrupted: false,
        aborted_by: None,
        iterations: IterationCounts {
            total: 1_996,
            ok: 1_992,
            failed: 4,
            failed_by_class: map(&[("timeout", 1), ("user", 3)]),
            dropped: 4,
            late: 12,
            interrupted: 0,
            missed: 0,
            rate_per_s: 194.75,
            goodput: None,
        },
        iteration_latency,
        iteration_latency_uncorrected: Some(hist(uncorrected)),
        requests: RequestTotals {
            total: 3_001,
            rate_per_s: 292.75,
            by_class: map(&[
                ("http_4xx", 2),
                ("http_5xx", 3),
                ("ok", 2_994),
                ("timeout", 2),
            ]),
            by_status: map(&[("200", 2_994), ("404", 2), ("503", 3)]),
            bytes_sent: 120_040,
            bytes_received: 48_016_000,
            retries_attempted: 7,
            retries_exhausted: 2,
        },
        request_names: map(&[
            (
                "GET /",
                RequestMetrics {
                    count: 2_000,
                    by_class: map(&[("http_5xx", 2), ("ok", 1_996), ("timeout", 2)]),
                    by_status: map(&[("200", 1_996), ("503", 2)]),
                    bytes_sent: 0,
                    bytes_received: 31_936_000,
                    latency: hist(home),
                    exemplars: Default::default(),
                    stream: None,
                },
            ),
            (
                "GET /search",
                RequestMetrics {
                    count: 1_001,
                    by_class: map(&[("http_4xx", 2), ("http_5xx", 1), ("ok", 998)]),
                    by_status: map(&[("200", 998), ("404", 2), ("503", 1)]),
                    bytes_sent: 120_040,
                    bytes_received: 16_080_000,
                    latency: search,
                    exemplars: Default::default(),
                    stream: None,
                },
            ),
        ]),
        custom_latencies: map(&[("render", hist(render))]),
        custom_counters: map(&[("cache_hits", 1_500), ("cache_misses", 496)]),
        series: (1..=10)
            .map(|s| IntervalPoint {
                t_s: s as f64,
                iterations: if s == 10 { 196 } else { 200 },
                failed: u64::from(s % 3 == 0),
                requests: if s == 10 { 301 } else { 300 },
                request_errors: u64::from(s % 4 == 0),
                missed: 0,
                p50_us: 18_000 + s * 100,
                p95_us: 32_000 + s * 150,
                p99_us: 90_000 + s * 200,
                iteration_latency: Some(
                    hist(latencies(200, 4_000 + s * 100, 30_000, 90_000)).hdr_v2_base64,
                ),
                iteration_latency_uncorrected: Some(
                    hist(latencies(200, 3_500 + s * 100, 25_000, 60_000)).hdr_v2_base64,
                ),
                request_latency: map(&[
                    (
                        "GET /",
                        hist(latencies(200, 2_000, 15_000, 40_000)).hdr_v2_base64,
                    ),
                    (
                        "GET /search",
                        hist(latencies(100, 3_000, 20_000, 50_000)).hdr_v2_base64,
                    ),
                ]),
                stream_gap: BTreeMap::new(),
            })
            .collect(),
        thresholds: vec![
            latency_below("p99 < 250ms", "p99", p99, 250_000),
            latency_below(
                "p95(GET /search) < 100ms",
                "p95(GET /search)",
                search_p95,
                100_000,
            ),
            threshold(
                "error_rate < 1%",
                0.002_004,
                true,
                "error_rate was 0.20%, limit < 1.00%",
            ),
        ],
        generator: GeneratorHealth {
            cpu_seconds: 3.5,
            cpu_percent: 34.25,
            cpus: 8,
            peak_rss_bytes: 52_428_800,
            scheduling_lag: lag(120, 8_500, 21_000, 2_000),
            dropped: 4,
            late: 12,
            saturated: true,
            warnings: strings(&["4 iterations were dropped: max_in_flight was reached"]),
            cpu_wait_seconds: 0.02,
            cpu_wait_percent: 0.6,
            steal_percent: 0.0,
            disturbed: false,
        },
        errors: vec![
            ErrorSample {
                class: "user".into(),
                message: "cart total mismatch: expected 3 items, got 2".into(),
                count: 3,
            },
            ErrorSample {
                class: "http_5xx".into(),
                message: "GET /: 503 Service Unavailable".into(),
                count: 3,
            },
            ErrorSample {
                class: "timeout".into(),
                message: "GET /: request timed out after 5s".into(),
                count: 2,
            },
            ErrorSample {
                class: "http_4xx".into(),
                message: "GET /search: 404 Not Found".into(),
                count: 2,
            },
        ],
        passed: true,
        connections: Default::default(),
        phases: Default::default(),
        warnings: vec![],
        shards: Vec::new(),
        missing_shards: Vec::new(),
        start_skew: None,
        joined_at_s: None,
    }
}

/// Closed model, 20 users ramping over two stages; the p95 threshold failed.
pub fn closed_model_failed() -> TestResult {
    let lat = latencies(1_200, 60_000, 150_000, 400_000);
    let summary = hist(lat.clone()).summary;
    TestResult {
        name: "search::by_keyword".into(),
        started_at_unix: Some(1_767_225_611.0),
        config: ConfigSummary {
            model: "closed".into(),
            users: Some(20),
            rate_per_s: None,
            stages: strings(&["10s:20", "20s:20"]),
            duration_s: Some(30.0),
            iterations: None,
            think_time: Some("100ms..300ms".into()),
            max_in_flight: None,
            on_saturation: None,
            rate_limit_per_s: None,
            retries: 0,
            backoff: "100ms..2s".into(),
            retry_on: vec![],
            timeout: Some("30s".into()),
            iteration_timeout: None,
            thresholds: strings(&["p95 < 100ms", "mean < 200ms"]),
            abort_on_fail: false,
            tags: vec![],
            base_url: Some("https://staging.example.com".into()),
            tolerance: vec![],
            smoke: false,
            danger_accept_invalid_certs: false,
            client: "hyper".into(),
            cookies: true,
            shard: None,
        },
        elapsed_s: 30.5,
        interrupted: false,
        aborted_by: None,
        iterations: IterationCounts {
            total: 1_200,
            ok: 1_200,
            failed: 0,
            failed_by_class: BTreeMap::new(),
            dropped: 0,
            late: 0,
            interrupted: 20,
            missed: 0,
            rate_per_s: 39.5,
            goodput: None,
        },
        iteration_latency: hist(lat.clone()),
        iteration_latency_uncorrected: None,
        requests: RequestTotals {
            total: 1_200,
            rate_per_s: 39.5,
            by_class: map(&[("ok", 1_200)]),
            by_status: map(&[("200", 1_200)]),
            bytes_sent: 0,
            bytes_received: 9_600_000,
            retries_attempted: 0,
            retries_exhausted: 0,
        },
        request_names: map(&[(
            "search",
            RequestMetrics {
                count: 1_200,
                by_class: map(&[("ok", 1_200)]),
                by_status: map(&[("200", 1_200)]),
                bytes_sent: 0,
                bytes_received: 9_600_000,
                latency: hist(lat),
                exemplars: Default::default(),
                stream: None,
            },
        )]),
        custom_latencies: BTreeMap::new(),
        custom_counters: BTreeMap::new(),
        series: (1..=3)
            .map(|s| IntervalPoint {
                t_s: s as f64 * 10.0,
                iterations: 400,
                failed: 0,
                requests: 400,
                request_errors: 0,
                missed: 0,
                p50_us: 130_000,
                p95_us: 205_000,
                p99_us: 450_000,
                iteration_latency: Some(
                    hist(latencies(400, 60_000, 150_000, 400_000)).hdr_v2_base64,
                ),
                iteration_latency_uncorrected: None,
                request_latency: BTreeMap::new(),
                stream_gap: BTreeMap::new(),
            })
            .collect(),
        thresholds: vec![
            latency_below("p95 < 100ms", "p95", summary.p95_us, 100_000),
            threshold(
                "mean < 200ms",
                summary.mean_us,
                summary.mean_us < 200_000.0,
                &format!("mean was {}, limit < 200.0ms", human_us(summary.mean_us)),
            ),
            threshold(
                "error budget",
                0.0,
                true,
                "0 of 1200 iterations failed (no `error_rate` rule: any failure fails the test)",
            ),
        ],
        generator: GeneratorHealth {
            cpu_seconds: 1.25,
            cpu_percent: 4.1,
            cpus: 8,
            peak_rss_bytes: 31_457_280,
            scheduling_lag: LatencySummary::default(),
            dropped: 0,
            late: 0,
            saturated: false,
            warnings: strings(&[
                "disturbed: the generator waited for a CPU 38% of the time it was ready to run (0.90s in all; over 25% means something else competed for its cores)",
            ]),
            cpu_wait_seconds: 0.9,
            cpu_wait_percent: 38.0,
            steal_percent: 0.0,
            disturbed: true,
        },
        errors: vec![],
        passed: false,
        connections: Default::default(),
        phases: Default::default(),
        warnings: strings(&[
            "more than 200 distinct request names (the first left out: \"GET /search/q17\"); further requests are counted under \"(overflow)\". URLs with ids in them need a fixed name: ctx.http().get(url).name(\"GET /items/{id}\"), or raise `max_names`",
        ]),
        shards: Vec::new(),
        missing_shards: Vec::new(),
        start_skew: None,
        joined_at_s: None,
    }
}

/// Closed model, cut short by Ctrl-C after 4.5 of 60 seconds.
pub fn interrupted_partial() -> TestResult {
    let lat = latencies(90, 40_000, 20_000, 10_000);
    let iteration_latency = hist(lat.clone());
    let p99 = iteration_latency.summary.p99_us;
    TestResult {
        name: "nightly_export".into(),
        started_at_unix: None,
        config: ConfigSummary {
            model: "closed".into(),
            users: Some(2),
            duration_s: Some(60.0),
            backoff: "100ms..2s".into(),
            thresholds: strings(&["p99 < 1s"]),
            base_url: Some("http://127.0.0.1:8080".into()),
            ..ConfigSummary::default()
        },
        elapsed_s: 4.5,
        interrupted: true,
        aborted_by: None,
        iterations: IterationCounts {
            total: 90,
            ok: 90,
            interrupted: 2,
            missed: 0,
            rate_per_s: 20.0,
            ..IterationCounts::default()
        },
        iteration_latency,
        iteration_latency_uncorrected: None,
        requests: RequestTotals {
            total: 90,
            rate_per_s: 20.0,
            by_class: map(&[("ok", 90)]),
            by_status: map(&[("200", 90)]),
            bytes_received: 1_800_000,
            ..RequestTotals::default()
        },
        request_names: map(&[(
            "GET /export",
            RequestMetrics {
                count: 90,
                by_class: map(&[("ok", 90)]),
                by_status: map(&[("200", 90)]),
                bytes_sent: 0,
                bytes_received: 1_800_000,
                latency: hist(lat),
                exemplars: Default::default(),
                stream: None,
            },
        )]),
        custom_latencies: BTreeMap::new(),
        custom_counters: BTreeMap::new(),
        series: vec![],
        thresholds: vec![latency_below("p99 < 1s", "p99", p99, 1_000_000)],
        generator: GeneratorHealth {
            cpu_seconds: 0.25,
            cpu_percent: 5.5,
            cpus: 8,
            peak_rss_bytes: 20_971_520,
            ..GeneratorHealth::default()
        },
        errors: vec![],
        passed: true,
        connections: Default::default(),
        phases: Default::default(),
        warnings: vec![],
        shards: Vec::new(),
        missing_shards: Vec::new(),
        start_skew: None,
        joined_at_s: None,
    }
}

/// The baseline every synthetic comparison is against.
pub fn baseline() -> BaselineInfo {
    BaselineInfo {
        source: "baseline \"main\"".into(),
        git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        host: "ci-runner-3".into(),
        started_at_unix: 1_699_900_000.25,
        runs: None,
    }
}

/// One metric's comparison (95% confidence).
pub fn metric(
    metric: GatedMetric,
    old: f64,
    new: f64,
    (change, ci_low, ci_high): (f64, f64, f64),
    tolerance: f64,
    verdict: MetricVerdict,
) -> MetricComparison {
    MetricComparison {
        metric,
        old,
        new,
        change: (!change.is_nan()).then_some(change),
        ci_low: (!ci_low.is_nan()).then_some(ci_low),
        ci_high: (!ci_high.is_nan()).then_some(ci_high),
        confidence: 0.95,
        tolerance,
        verdict,
        note: None,
        spread: None,
        floor_us: None,
    }
}

/// Attaches a comparison the way the regression gate does: a regressed metric fails the test
/// with a `regression: ` line.
pub fn compared(mut t: TestReport, comparison: Comparison) -> TestReport {
    for m in comparison
        .metrics
        .iter()
        .filter(|m| m.verdict == MetricVerdict::Regressed)
    {
        let pct = |v: Option<f64>| format!("{:+.1}%", v.unwrap_or(f64::NAN) * 100.0);
        t.failures.push(format!(
            "regression: {} regressed {} (95% CI {} to {}, tolerance {:.0}%)",
            m.metric,
            pct(m.change),
            pct(m.ci_low),
            pct(m.ci_high),
            m.tolerance * 100.0
        ));
        if t.status == TestStatus::Passed {
            t.status = TestStatus::Failed;
        }
    }
    t.comparison = Some(comparison);
    t
}

/// `home_page` against the baseline: nothing regressed, p99 improved.
pub fn comparison_unchanged() -> Comparison {
    use MetricVerdict::{Improved, Unchanged};
    Comparison {
        baseline: baseline(),
        metrics: vec![
            metric(
                GatedMetric::P50,
                18_500.0,
                18_600.0,
                (0.005, -0.02, 0.03),
                0.10,
                Unchanged,
            ),
            metric(
                GatedMetric::P95,
                32_000.0,
                32_800.0,
                (0.025, -0.01, 0.06),
                0.15,
                Unchanged,
            ),
            metric(
                GatedMetric::P99,
                140_000.0,
                91_000.0,
                (-0.35, -0.5, -0.31),
                0.30,
                Improved,
            ),
            metric(
                GatedMetric::Throughput,
                200.0,
                200.0,
                (0.0, -0.005, 0.005),
                0.10,
                Unchanged,
            ),
            metric(
                GatedMetric::ErrorRate,
                0.0025,
                0.0015,
                (-0.001, -0.004, 0.002),
                0.01,
                Unchanged,
            ),
        ],
        regressed: false,
        note: None,
        rounds: None,
    }
}

/// `search::by_keyword` against the baseline: p95 regressed beyond its tolerance.
pub fn comparison_regressed() -> Comparison {
    use MetricVerdict::{Regressed, Unchanged};
    Comparison {
        baseline: baseline(),
        metrics: vec![
            metric(
                GatedMetric::P50,
                128_000.0,
                130_000.0,
                (0.015625, -0.03, 0.06),
                0.10,
                Unchanged,
            ),
            metric(
                GatedMetric::P95,
                163_500.0,
                205_000.0,
                (0.253, 0.201, 0.31),
                0.15,
                Regressed,
            ),
            metric(
                GatedMetric::P99,
                420_000.0,
                450_000.0,
                (0.071, -0.05, 0.2),
                0.25,
                Unchanged,
            ),
            metric(
                GatedMetric::Throughput,
                40.0,
                40.0,
                (0.0, -0.02, 0.02),
                0.10,
                Unchanged,
            ),
            metric(
                GatedMetric::ErrorRate,
                0.0,
                0.0,
                (0.0, 0.0, 0.0),
                0.01,
                Unchanged,
            ),
        ],
        regressed: true,
        note: None,
        rounds: None,
    }
}

/// A comparison that could not be made.
pub fn comparison_note(note: &str) -> Comparison {
    Comparison {
        baseline: baseline(),
        metrics: vec![],
        regressed: false,
        note: Some(note.into()),
        rounds: None,
    }
}

/// The whole synthetic run: 5 tests in 3 targets, compared with a baseline, interrupted (exit
/// code 130).
pub fn report() -> RunReport {
    RunReport {
        schema_version: SCHEMA_VERSION,
        run: RunInfo {
            tool_version: "0.1.0".into(),
            started_at_unix: 1_700_000_000.5,
            duration_s: 47.25,
            git_commit: Some("3ac368e1f0c2d4b5a6978877665544332211aabb".into()),
            host: "ci-runner-7".into(),
            cpus: 8,
            command_line: strings(&[
                "cargo-loadtest",
                "loadtest",
                "--target",
                "http://***@127.0.0.1:8080",
            ]),
            fail_on_saturation: false,
            shard: None,
            merge: None,
        },
        status: RunStatus::Interrupted,
        exit_code: 130,
        tests: vec![
            compared(
                judged("browse", open_model_passed()),
                comparison_unchanged(),
            ),
            compared(
                judged("browse", closed_model_failed()),
                comparison_regressed(),
            ),
            without_result(
                "payments",
                "refund",
                TestStatus::Errored,
                "the harness process exited unexpectedly (signal 11: SIGSEGV)",
                Some(
                    "thread 'main' panicked at src/refund.rs:42:9:\nconnection pool poisoned\nnote: run with `RUST_BACKTRACE=1` to see a backtrace",
                ),
            ),
            compared(
                judged("reports", interrupted_partial()),
                comparison_note("the baseline has no result for this test"),
            ),
            without_result(
                "reports",
                "reindex",
                TestStatus::Interrupted,
                "the run was interrupted before this test started",
                None,
            ),
        ],
        gate: None,
    }
}

/// A capacity search (`--find-max`) that found its capacity between 96.88/s and 100/s, kept
/// the step at the capacity as its result, and is judged by the one verdict.
pub fn capacity_searched() -> TestReport {
    use loadtest_report::report::{
        CapacityOutcome, CapacityResult, CapacitySettings, CapacityStep, StepVerdict,
    };
    let step = |rate: f64, verdict: StepVerdict, p99_us: u64, reasons: &[&str]| CapacityStep {
        rate_per_s: rate,
        judged_s: 2.0,
        iterations: (rate * 2.0) as u64,
        failed: 0,
        achieved_per_s: rate,
        error_rate: 0.0,
        p50_us: 40_000,
        p95_us: 41_000,
        p99_us,
        verdict,
        reasons: strings(reasons),
    };
    let broken = "p99 < 250ms: p99 was 410.0ms, limit < 250.0ms";
    let capacity = CapacityResult {
        settings: CapacitySettings {
            start_rate_per_s: 25.0,
            max_rate_per_s: 1000.0,
            growth: 1.5,
            resolution: 0.05,
            step_duration_s: 2.0,
            warm_up_s: 1.0,
            cutoff_error_rate: 0.5,
            cutoff_latency_factor: 5.0,
            min_capacity_per_s: Some(90.0),
        },
        steps: vec![
            step(25.0, StepVerdict::Passed, 42_000, &[]),
            step(37.5, StepVerdict::Passed, 42_000, &[]),
            step(56.25, StepVerdict::Passed, 43_000, &[]),
            step(84.38, StepVerdict::Passed, 45_000, &[]),
            step(126.57, StepVerdict::Failed, 900_000, &[broken]),
            step(105.48, StepVerdict::Failed, 410_000, &[broken]),
            step(94.93, StepVerdict::Passed, 48_000, &[]),
            step(100.2, StepVerdict::Failed, 260_000, &[broken]),
            step(97.57, StepVerdict::Passed, 60_000, &[]),
        ],
        outcome: CapacityOutcome::Found,
        capacity_per_s: Some(97.57),
        above_per_s: Some(100.2),
        broken_by: strings(&[broken]),
        summary: format!("capacity 97.6/s: 97.6/s met every rule, 100/s did not ({broken})"),
    };
    let j = verdict::judge(
        verdict::Evidence::Capacity {
            capacity: &capacity,
            comparison: None,
        },
        &verdict::Policy::default(),
    );
    let mut result = open_model_passed();
    result.config.rate_per_s = Some(97.57);
    TestReport {
        package: PACKAGE.into(),
        target: "capacity".into(),
        name: result.name.clone(),
        status: j.status,
        failures: j.failures,
        result: Some(result),
        error: None,
        comparison: None,
        capacity: Some(capacity),
    }
}
