//! Calibration of the regression gate (issue 4): how often does it cry wolf on identical runs,
//! and how often does it catch +20% latency, on this machine, with its default tolerances?
//!
//! Not part of CI (it takes 7 to 8 minutes and measures the machine); run it on demand:
//!
//! ```text
//! cargo test --release -p loadtest-e2e --test integration -- --ignored --nocapture calibration::calibrate
//! ```
//!
//! One loopback demo server answers `/` after a base delay of 10 ms. The load test below (closed
//! model, 8 users, 10 s) runs 21 times at the base delay ("A") and 20 times at +20% (12 ms, "B"),
//! interleaved A, B, A, B, ..., A so that slow drift of the machine hits both kinds alike. Then:
//!
//! - A/A comparisons: A_i (baseline) vs A_{i+1}, 20 of them. A false positive is any metric
//!   judged `Regressed`.
//! - Detection comparisons: A_i (baseline) vs B_i, 20 of them. A detection is p50, p95 or p99
//!   judged `Regressed`.
//!
//! Every result is saved as JSON in `target/calibration/` (or `$CALIBRATION_DIR`), so other
//! tolerances can be evaluated offline without measuring again:
//!
//! ```text
//! CALIBRATION_TOLERANCES="p50=10%,p95=15%,p99=25%,throughput=10%" \
//!   cargo test --release -p loadtest-e2e --test integration -- --ignored --nocapture calibration::reevaluate
//! ```
//!
//! (`CALIBRATION_TOLERANCES=""` evaluates the defaults again; without the variable `reevaluate`
//! does nothing, so `-- --ignored` alone only measures.)
//!
//! Every request goes to the server this test starts on 127.0.0.1; every loop is bounded.

use cargo_loadtest::compare::gate::{Tolerances, compare};
use loadtest_demo_server::DemoServer;
use loadtest_report::report::{MetricComparison, MetricVerdict, TestResult};
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::grammar::GatedMetric;
use loadtest_runtime::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The delay of every answer in the "A" runs.
const BASE_DELAY: Duration = Duration::from_millis(10);
/// The delay in the "B" runs: +20%.
const SLOW_DELAY: Duration = Duration::from_millis(12);
/// Runs at the base delay.
const N_A: usize = 21;
/// Runs at the slow delay.
const N_B: usize = 20;
/// The bound on one run (its measurement lasts 10 s).
const RUN_LIMIT: Duration = Duration::from_secs(30);
/// A pause between runs, so that one run's connections are gone before the next starts.
const PAUSE: Duration = Duration::from_millis(500);
/// The bootstrap seed: the one `cargo loadtest` uses for the first test of a run.
const SEED: u64 = 0x5eed;
/// The metrics of the gate, in the order `compare` returns them.
const TEST_NAME: &str = "calibration_get";

#[load_test(users = 8, duration = "10s")]
async fn calibration_get(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/"))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[test]
#[ignore = "measures the machine for 7-8 minutes; run on demand with --ignored --nocapture"]
fn calibrate() {
    let _g = crate::support::serial();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let dir = output_dir();
    std::fs::create_dir_all(&dir).expect("create the calibration directory");
    remove_old_runs(&dir);
    let settings = json!({
        "test": TEST_NAME,
        "model": "closed",
        "users": 8,
        "duration_s": 10,
        "route": "/",
        "base_delay_ms": BASE_DELAY.as_secs_f64() * 1e3,
        "slow_delay_ms": SLOW_DELAY.as_secs_f64() * 1e3,
        "n_a": N_A,
        "n_b": N_B,
        "order": "A0 B0 A1 B1 ... A19 B19 A20",
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "started_unix": unix_now(),
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    write_json(&dir.join("settings.json"), &settings);
    eprintln!("calibration: {settings}");
    eprintln!("saving results in {}", dir.display());

    let started = Instant::now();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        let server = DemoServer::start().await.expect("the demo server starts on 127.0.0.1");
        assert!(server.addr().ip().is_loopback(), "the demo server must only listen on loopback");
        let mut layer = OptionLayer::new("calibration");
        layer.set_str("target", &server.url());
        let layers = [layer];
        for index in 0..N_A + N_B {
            let (kind, delay) = if index % 2 == 0 { ("A", BASE_DELAY) } else { ("B", SLOW_DELAY) };
            server.set_delay(delay);
            let load = loadavg();
            let before = server.requests();
            let result = match tokio::time::timeout(RUN_LIMIT, loadtest_runtime::run_registered(TEST_NAME, &layers)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => panic!("run {index} ({kind}) could not run: {e}"),
                Err(_) => panic!("run {index} ({kind}) did not finish within {RUN_LIMIT:?}"),
            };
            let served = server.requests() - before;
            assert_eq!(served, result.requests.total, "run {index}: every request reached the loopback server");
            assert_eq!(result.iterations.failed, 0, "run {index}: no iteration failed: {:?}", result.errors);
            let lat = &result.iteration_latency.summary;
            eprintln!(
                "run {index:2} {kind} (delay {} ms, loadavg {load}): {} iterations in {:.2} s, {} windows, p50 {} us, p95 {} us, p99 {} us; {:.0} s so far",
                delay.as_millis(),
                result.iterations.total,
                result.elapsed_s,
                result.series.len(),
                lat.p50_us,
                lat.p95_us,
                lat.p99_us,
                started.elapsed().as_secs_f64()
            );
            let record = json!({
                "index": index,
                "kind": kind,
                "delay_us": delay.as_micros() as u64,
                "loadavg_before": load,
                "finished_unix": unix_now(),
                "result": &result,
            });
            write_json(&dir.join(format!("run-{index:02}-{kind}.json")), &record);
            if kind == "A" { a.push(result) } else { b.push(result) }
            tokio::time::sleep(PAUSE).await;
        }
    });
    eprintln!(
        "measured {} runs in {:.0} s",
        N_A + N_B,
        started.elapsed().as_secs_f64()
    );

    let tolerances = Tolerances::from_config(&[]).expect("the default tolerances");
    let summary = evaluate(&a, &b, &tolerances);
    write_json(&dir.join("summary-defaults.json"), &summary);
}

/// Re-evaluates saved results with `CALIBRATION_TOLERANCES` (e.g. `p50=10%,p99=30%`, applied over
/// the defaults; empty for the defaults), without measuring again. Does nothing when the variable
/// is not set, so that `-- --ignored` alone only measures.
#[test]
#[ignore = "needs the results of `calibrate` in target/calibration and CALIBRATION_TOLERANCES"]
fn reevaluate() {
    let _g = crate::support::concurrent(&[]);
    let Some(spec) = std::env::var_os("CALIBRATION_TOLERANCES") else {
        eprintln!("reevaluate: CALIBRATION_TOLERANCES is not set; nothing to do");
        return;
    };
    let dir = output_dir();
    let overrides: Vec<String> = spec
        .to_string_lossy()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let tolerances = Tolerances::from_config(&overrides)
        .unwrap_or_else(|e| panic!("CALIBRATION_TOLERANCES: {e}"));
    let (a, b) = load_runs(&dir);
    assert!(
        a.len() >= 2 && !b.is_empty(),
        "{} holds {} A and {} B runs: run `calibrate` first",
        dir.display(),
        a.len(),
        b.len()
    );
    if let Ok(s) = std::fs::read_to_string(dir.join("settings.json")) {
        eprintln!("calibration: {}", s.trim());
    }
    evaluate(&a, &b, &tolerances);
}

/// Compares A_i with A_{i+1} and A_i with B_i, prints every comparison and the totals, and returns
/// them as JSON.
fn evaluate(a: &[TestResult], b: &[TestResult], tol: &Tolerances) -> Value {
    eprintln!(
        "\ntolerances: {}",
        tol.relative()
            .iter()
            .map(|(m, v)| format!("{m}={}", pct_plain(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "cells: change [95% CI], then R = regressed, I = improved, . = unchanged, ? = insufficient data"
    );
    let aa: Vec<Vec<MetricComparison>> = a
        .windows(2)
        .map(|w| compare(&[&w[0]], &w[1], tol, SEED))
        .collect();
    let ab: Vec<Vec<MetricComparison>> = a
        .iter()
        .zip(b)
        .map(|(o, n)| compare(&[o], n, tol, SEED))
        .collect();
    print_table("A/A comparisons (A_i -> A_i+1)", &aa, |i| {
        format!("A{i}->A{}", i + 1)
    });
    print_table("detection comparisons (A_i -> B_i, +20% delay)", &ab, |i| {
        format!("A{i}->B{i}")
    });

    let regressed = |c: &[MetricComparison], m: GatedMetric| {
        c.iter()
            .any(|x| x.metric == m && x.verdict == MetricVerdict::Regressed)
    };
    let improved = |c: &[MetricComparison], m: GatedMetric| {
        c.iter()
            .any(|x| x.metric == m && x.verdict == MetricVerdict::Improved)
    };
    let false_positives = aa
        .iter()
        .filter(|c| GatedMetric::PER_WINDOW.into_iter().any(|m| regressed(c, m)))
        .count();
    let detections = ab
        .iter()
        .filter(|c| GatedMetric::LATENCIES.into_iter().any(|m| regressed(c, m)))
        .count();
    let (n_aa, n_ab) = (aa.len(), ab.len());

    eprintln!("\n== totals ==");
    eprintln!(
        "false positives (any metric regressed, A/A): {false_positives}/{n_aa} = {}",
        rate(false_positives, n_aa)
    );
    eprintln!(
        "detections (p50, p95 or p99 regressed, +20%): {detections}/{n_ab} = {}",
        rate(detections, n_ab)
    );
    eprintln!(
        "\nper metric: A/A regressed | A/A improved | A/A worst bound | A/B regressed | A/B change (min..max) | A/B bound nearest 0"
    );
    let mut per_metric = Vec::new();
    for m in GatedMetric::PER_WINDOW {
        let pick = |cs: &[Vec<MetricComparison>]| -> Vec<MetricComparison> {
            cs.iter()
                .filter_map(|c| c.iter().find(|x| x.metric == m).cloned())
                .collect()
        };
        let (maa, mab) = (pick(&aa), pick(&ab));
        let higher_is_worse = m.higher_is_worse();
        // The bound of the interval on the "worse" side nearest zero: a tolerance below it
        // declares a regression. For A/A the largest such bound is the smallest tolerance
        // without false positives here; for A/B the smallest is the largest tolerance that
        // still detects every time.
        // Comparisons with too few windows have no interval and are left out.
        let worse_bound = |x: &MetricComparison| {
            if higher_is_worse {
                x.ci_low
            } else {
                x.ci_high.map(|v| -v)
            }
        };
        let aa_worst = maa
            .iter()
            .filter_map(worse_bound)
            .fold(f64::NEG_INFINITY, f64::max);
        let ab_nearest = mab
            .iter()
            .filter_map(worse_bound)
            .fold(f64::INFINITY, f64::min);
        let ab_min = mab
            .iter()
            .filter_map(|x| x.change)
            .fold(f64::INFINITY, f64::min);
        let ab_max = mab
            .iter()
            .filter_map(|x| x.change)
            .fold(f64::NEG_INFINITY, f64::max);
        let (aa_r, aa_i) = (
            aa.iter().filter(|c| regressed(c, m)).count(),
            aa.iter().filter(|c| improved(c, m)).count(),
        );
        let ab_r = ab.iter().filter(|c| regressed(c, m)).count();
        let f = |v: f64| {
            if m == GatedMetric::ErrorRate {
                pp(v)
            } else {
                pct(v)
            }
        };
        eprintln!(
            "  {m:<10} {aa_r:>2}/{n_aa} | {aa_i:>2}/{n_aa} | {:>8} | {ab_r:>2}/{n_ab} ({}) | {}..{} | {}",
            f(aa_worst),
            rate(ab_r, n_ab),
            f(ab_min),
            f(ab_max),
            f(ab_nearest)
        );
        per_metric.push(json!({
            "metric": m,
            "tolerance": tol.relative().iter().find(|(n, _)| *n == m).map(|(_, v)| *v),
            "aa_regressed": aa_r,
            "aa_improved": aa_i,
            "aa_worst_bound": finite(aa_worst),
            "ab_regressed": ab_r,
            "ab_change_min": finite(ab_min),
            "ab_change_max": finite(ab_max),
            "ab_nearest_bound": finite(ab_nearest),
        }));
    }
    json!({
        "tolerances": tol.relative().iter().map(|(m, v)| json!({"metric": m, "tolerance": v})).collect::<Vec<_>>(),
        "aa_comparisons": n_aa,
        "false_positives": false_positives,
        "ab_comparisons": n_ab,
        "detections": detections,
        "per_metric": per_metric,
    })
}

fn print_table(title: &str, rows: &[Vec<MetricComparison>], label: impl Fn(usize) -> String) {
    eprintln!("\n{title}");
    let mut head = format!("  {:<9}", "");
    for m in GatedMetric::PER_WINDOW {
        head.push_str(&format!(" | {m:^27}"));
    }
    eprintln!("{head}");
    for (i, row) in rows.iter().enumerate() {
        let mut line = format!("  {:<9}", label(i));
        for x in row {
            let f = |v: f64| {
                if x.metric == GatedMetric::ErrorRate {
                    pp(v)
                } else {
                    pct(v)
                }
            };
            let mark = match x.verdict {
                MetricVerdict::Regressed => 'R',
                MetricVerdict::Improved => 'I',
                MetricVerdict::Unchanged => '.',
                MetricVerdict::Inconclusive => '~',
                MetricVerdict::InsufficientData => '?',
            };
            line.push_str(&format!(
                " | {:>7} [{:>7},{:>7}] {mark}",
                f(x.change.unwrap_or(f64::NAN)),
                f(x.ci_low.unwrap_or(f64::NAN)),
                f(x.ci_high.unwrap_or(f64::NAN))
            ));
        }
        eprintln!("{line}");
    }
}

/// `k/n` as a percentage with its 95% Wilson score interval.
fn rate(k: usize, n: usize) -> String {
    if n == 0 {
        return "n/a".into();
    }
    let (k, n, z) = (k as f64, n as f64, 1.96_f64);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    format!(
        "{:.1}% (95% CI {:.1}% to {:.1}%)",
        p * 100.0,
        ((centre - half).max(0.0)) * 100.0,
        ((centre + half).min(1.0)) * 100.0
    )
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:+.1}%", v * 100.0)
    } else {
        "-".into()
    }
}

fn pp(v: f64) -> String {
    if v.is_finite() {
        format!("{:+.2}pp", v * 100.0)
    } else {
        "-".into()
    }
}

fn pct_plain(v: f64) -> String {
    format!("{}%", (v * 1000.0).round() / 10.0)
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// `$CALIBRATION_DIR`, else `calibration/` in the workspace's target directory.
fn output_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CALIBRATION_DIR") {
        return PathBuf::from(d);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("calibration")
}

/// Removes the `run-*.json` files of an earlier calibration (only those).
fn remove_old_runs(dir: &Path) {
    for entry in std::fs::read_dir(dir)
        .expect("read the calibration directory")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("run-") && name.ends_with(".json") {
            std::fs::remove_file(entry.path()).expect("remove an old run");
        }
    }
}

/// The saved A and B results, each in run order.
fn load_runs(dir: &Path) -> (Vec<TestResult>, Vec<TestResult>) {
    let mut runs: Vec<(u64, String, TestResult)> = Vec::new();
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}; run `calibrate` first", dir.display()));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("run-") && name.ends_with(".json")) {
            continue;
        }
        let text =
            std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("read {name}: {e}"));
        let mut v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {name}: {e}"));
        let index = v["index"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} has no index"));
        let kind = v["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no kind"))
            .to_string();
        let result: TestResult =
            serde_json::from_value(v["result"].take()).unwrap_or_else(|e| panic!("{name}: {e}"));
        runs.push((index, kind, result));
    }
    runs.sort_by_key(|r| r.0);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (_, kind, result) in runs {
        if kind == "A" {
            a.push(result)
        } else {
            b.push(result)
        }
    }
    (a, b)
}

fn write_json(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("serialize");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
