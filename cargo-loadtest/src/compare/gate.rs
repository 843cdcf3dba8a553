//! The regression gate: which metrics are compared, their tolerances, the comparability check,
//! and each metric's estimated change, judged by the one verdict
//! ([`loadtest_report::verdict::judge_metric`]).

use super::stats::{self, Estimate};
use loadtest_grammar::{self as grammar, GatedMetric};
use loadtest_report::report::MetricVerdict;
use loadtest_report::report::{
    CapacityResult, ConfigSummary, IntervalPoint, MetricComparison, TestResult,
};
use loadtest_report::verdict::{MetricJudgement, judge_capacity_change, judge_metric};

/// The confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// Bootstrap resamples per metric.
pub const RESAMPLES: usize = 2000;
/// A/B gate: fewer rounds with a healthy generator on both sides than this is inconclusive.
pub const MIN_CLEAN_ROUNDS: usize = 3;

/// The metrics the gate compares, with their default tolerances (chosen from A/A measurements,
/// see `docs/regression-gate.md`): relative for latencies and throughput, absolute (a fraction)
/// for the error rate.
pub const DEFAULT_TOLERANCES: [(GatedMetric, f64); 5] = [
    (GatedMetric::P50, 0.05),
    (GatedMetric::P95, 0.15),
    (GatedMetric::P99, 0.25),
    (GatedMetric::Throughput, 0.10),
    (GatedMetric::ErrorRate, 0.01),
];

/// The A/B gate's default tolerances (`--baseline-rev`): tighter, because both revisions run on
/// the same machine in the same minutes, and pairing rounds removes the machine's drift (chosen by
/// the calibration in `docs/regression-gate.md`).
pub const AB_TOLERANCES: [(GatedMetric, f64); 5] = [
    (GatedMetric::P50, 0.05),
    (GatedMetric::P95, 0.08),
    (GatedMetric::P99, 0.15),
    (GatedMetric::Throughput, 0.05),
    (GatedMetric::ErrorRate, 0.01),
];

/// The default tolerance of a capacity (`--find-max`): relative, like throughput's.
pub const CAPACITY_TOLERANCE: f64 = 0.10;

/// Compares two capacity searches: `capacity` regressed when even the most favourable reading
/// of both brackets (this run's upper end against the baseline's capacity) lies more than the
/// tolerance below, improved when the least favourable lies more than it above. A bracket
/// without an upper end (the ceiling passed) is read as its capacity.
pub fn compare_capacity(
    old: &CapacityResult,
    new: &CapacityResult,
    tol: &Tolerances,
) -> Option<MetricComparison> {
    let (o, n) = (old.capacity_per_s?, new.capacity_per_s?);
    if o <= 0.0 {
        return None;
    }
    let o_high = old.above_per_s.unwrap_or(o).max(o);
    let n_high = new.above_per_s.unwrap_or(n).max(n);
    let tolerance = tol.get_or(GatedMetric::Capacity, CAPACITY_TOLERANCE);
    let (low, high) = (n / o_high - 1.0, n_high / o - 1.0);
    let verdict = judge_capacity_change(low, high, tolerance);
    Some(MetricComparison {
        metric: GatedMetric::Capacity,
        old: o,
        new: n,
        change: Some(n / o - 1.0),
        ci_low: Some(low),
        ci_high: Some(high),
        confidence: 1.0,
        tolerance,
        verdict,
        note: None,
        spread: None,
        floor_us: None,
    })
}

/// The saved-baseline gate's default absolute floors of the latency metrics, in microseconds:
/// a change smaller than its floor is neither a regression nor an improvement, however large it
/// is relative to a sub-millisecond latency (chosen from A/A measurements, see
/// `docs/regression-gate.md`). The A/B gate has none: pairing rounds removes the run-to-run
/// noise that the floors absorb.
pub const DEFAULT_FLOORS_US: [(GatedMetric, f64); 3] = [
    (GatedMetric::P50, 250.0),
    (GatedMetric::P95, 500.0),
    (GatedMetric::P99, 1000.0),
];

/// Tolerances per metric (relative changes, or percentage points for the error rate) and the
/// latency metrics' absolute floors: defaults overridden by the test's `tolerance` option.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerances {
    relative: Vec<(GatedMetric, f64)>,
    floors_us: Vec<(GatedMetric, f64)>,
}

impl Tolerances {
    /// The saved-baseline defaults with `overrides` (`"p99=20%"`, `"p50=250us"` entries)
    /// applied.
    pub fn from_config(overrides: &[String]) -> Result<Tolerances, String> {
        Self::with_defaults(&DEFAULT_TOLERANCES, &DEFAULT_FLOORS_US, overrides)
    }

    /// `defaults` ([`DEFAULT_TOLERANCES`] or [`AB_TOLERANCES`]) and `floors_us`
    /// ([`DEFAULT_FLOORS_US`], or none) with `overrides` applied.
    pub fn with_defaults(
        defaults: &[(GatedMetric, f64)],
        floors_us: &[(GatedMetric, f64)],
        overrides: &[String],
    ) -> Result<Tolerances, String> {
        let mut t = Tolerances {
            relative: defaults.to_vec(),
            floors_us: floors_us.to_vec(),
        };
        for o in overrides {
            let parsed = grammar::parse_tolerance(o).map_err(|e| e.to_string())?;
            let (list, value) = match parsed.allowance {
                grammar::Allowance::Relative(f) => (&mut t.relative, f),
                grammar::Allowance::Floor(d) => (&mut t.floors_us, d.as_secs_f64() * 1e6),
            };
            match list.iter_mut().find(|(m, _)| *m == parsed.metric) {
                Some(slot) => slot.1 = value,
                None => list.push((parsed.metric, value)),
            }
        }
        Ok(t)
    }

    /// The relative tolerances (percentage points for the error rate), per metric.
    pub fn relative(&self) -> &[(GatedMetric, f64)] {
        &self.relative
    }

    fn get(&self, metric: GatedMetric) -> f64 {
        self.get_or(metric, 0.1)
    }

    fn get_or(&self, metric: GatedMetric, default: f64) -> f64 {
        self.relative
            .iter()
            .find(|(m, _)| *m == metric)
            .map_or(default, |(_, v)| *v)
    }

    /// The absolute floor of a latency metric in microseconds (0 when it has none).
    pub fn floor_us(&self, metric: GatedMetric) -> f64 {
        self.floors_us
            .iter()
            .find(|(m, _)| *m == metric)
            .map_or(0.0, |(_, v)| *v)
    }
}

/// Refuses to compare runs whose load models differ; the error lists every difference.
pub fn comparable(test: &str, old: &ConfigSummary, new: &ConfigSummary) -> Result<(), String> {
    let mut diffs = Vec::new();
    let mut check = |what: &str, a: String, b: String| {
        if a != b {
            diffs.push(format!("{what} {a} (baseline) vs {b} (this run)"));
        }
    };
    let show = |v: &dyn std::fmt::Debug| format!("{v:?}");
    check("model", old.model.clone(), new.model.clone());
    check("users", show(&old.users), show(&new.users));
    check("rate", show(&old.rate_per_s), show(&new.rate_per_s));
    check("stages", show(&old.stages), show(&new.stages));
    check("duration", show(&old.duration_s), show(&new.duration_s));
    check("iterations", show(&old.iterations), show(&new.iterations));
    check("think_time", show(&old.think_time), show(&new.think_time));
    check(
        "max_in_flight",
        show(&old.max_in_flight),
        show(&new.max_in_flight),
    );
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "cannot compare `{test}` with its baseline: the load models differ ({}); results under different load are not comparable. Rerun with the baseline's settings, save a new baseline, or pass --force-compare",
            diffs.join(", ")
        ))
    }
}

/// The one-second windows that count as samples: complete windows with at least one iteration,
/// without the first (warm-up) when there are at least five.
fn windows(series: &[IntervalPoint]) -> Vec<&IntervalPoint> {
    let mut prev = 0.0;
    let mut out = Vec::new();
    for p in series {
        let span = p.t_s - prev;
        prev = p.t_s;
        if span >= 0.9 && p.iterations > 0 {
            out.push(p);
        }
    }
    if out.len() >= 5 {
        out.remove(0);
    }
    out
}

/// Why no verdict on `result` can be trusted, if so: its generator was saturated or disturbed.
fn unreliable(result: &TestResult, which: &str) -> Option<String> {
    let g = &result.generator;
    let what = match (g.saturated, g.disturbed) {
        (false, false) => return None,
        (true, false) => "saturated",
        (false, true) => "disturbed",
        (true, true) => "saturated and disturbed",
    };
    Some(format!(
        "the load generator of {which} was {what} ({})",
        g.warnings.join("; ")
    ))
}

/// The reason a comparison between `old` and `new` cannot be trusted, if any.
fn unreliable_pair(old: &TestResult, new: &TestResult, old_name: &str) -> Option<String> {
    unreliable(old, old_name).or_else(|| unreliable(new, "this run"))
}

fn metric_comparison(
    metric: GatedMetric,
    old: f64,
    new: f64,
    tolerance: f64,
    j: MetricJudgement,
) -> MetricComparison {
    MetricComparison {
        metric,
        old,
        new,
        change: j.change,
        ci_low: j.low,
        ci_high: j.high,
        confidence: CONFIDENCE,
        tolerance,
        verdict: j.verdict,
        note: j.note,
        spread: None,
        floor_us: None,
    }
}

/// Each of [`GatedMetric::PER_WINDOW`]'s value in one one-second window.
const EXTRACT: [fn(&IntervalPoint) -> f64; 5] = [
    |p| p.p50_us as f64,
    |p| p.p95_us as f64,
    |p| p.p99_us as f64,
    |p| p.iterations as f64,
    |p| p.failed as f64 / p.iterations as f64,
];

/// A run's value of `metric` from its windows' values: their median (the mean, for
/// `error_rate`); `None` with fewer than 3 windows.
fn summary(metric: GatedMetric, xs: &[f64]) -> Option<f64> {
    if xs.len() < 3 {
        None
    } else if metric == GatedMetric::ErrorRate {
        Some(stats::mean(xs))
    } else {
        Some(stats::median(&mut xs.to_vec()))
    }
}

/// A run's value of each of [`GatedMetric::PER_WINDOW`] (see [`summary`]), as a baseline of several runs
/// compares them.
pub fn run_summary(r: &TestResult) -> [Option<f64>; 5] {
    let w = windows(&r.series);
    std::array::from_fn(|i| {
        let xs: Vec<f64> = w.iter().map(|p| EXTRACT[i](p)).collect();
        summary(GatedMetric::PER_WINDOW[i], &xs)
    })
}

/// A saved baseline needs this many runs for its metrics to be compared with the spread between
/// its runs; with fewer, the newest run is compared by the one-run rule.
pub const MIN_BASELINE_RUNS: usize = 3;

/// What makes an inconclusive one-run comparison conclusive.
pub const ONE_RUN_ADVICE: &str = "one baseline run cannot tell a change from the noise between runs: add runs to the baseline (each `--save-baseline NAME` adds one; with 3 or more the runs' spread is used) or gate with `--baseline-rev`";

/// Compares one test's result with its saved baseline's results (`olds`, oldest first; the runs
/// of the baseline that hold the test under the same load model).
///
/// With at least [`MIN_BASELINE_RUNS`] runs whose generator was healthy, each run is one sample:
/// a metric's value per run is the median of its one-second windows, and the new run is judged
/// against the runs' spread ([`stats::ratio_to_runs`]). With fewer, the newest run is compared
/// by the one-run rule: the interval is the wider of the windows' bootstrap and their spread
/// ([`stats::ratio_by_window_spread`]), and a change that the interval cannot separate from the
/// tolerance is inconclusive, saying how to make it conclusive ([`ONE_RUN_ADVICE`]).
///
/// Either way a latency change must also exceed its absolute floor ([`Tolerances::floor_us`]):
/// the tolerance in force is the larger of the relative tolerance and `floor / old`; for the
/// closed model's throughput, the floor is the p50 floor added to each iteration's cycle.
pub fn compare(
    olds: &[&TestResult],
    new: &TestResult,
    tol: &Tolerances,
    seed: u64,
) -> Vec<MetricComparison> {
    let healthy: Vec<&TestResult> = olds
        .iter()
        .copied()
        .filter(|o| unreliable(o, "the baseline").is_none())
        .collect();
    let left_out = olds.len() - healthy.len();
    let unreliable = unreliable(new, "this run").or_else(|| {
        healthy
            .is_empty()
            .then(|| olds.last().and_then(|o| unreliable(o, "the baseline")))
            .flatten()
    });
    let between_runs = healthy.len() >= MIN_BASELINE_RUNS;
    let sample: Vec<&TestResult> = if between_runs {
        healthy
    } else {
        olds.last().copied().into_iter().collect()
    };
    let left_out_note = (between_runs && left_out > 0).then(|| {
        format!(
            "{left_out} of {} baseline runs left out: their generator was saturated or disturbed",
            olds.len()
        )
    });
    let old_windows: Vec<Vec<&IntervalPoint>> = sample.iter().map(|o| windows(&o.series)).collect();
    let wn = windows(&new.series);
    let mut out = Vec::new();
    for (i, metric) in GatedMetric::PER_WINDOW.into_iter().enumerate() {
        let seed = seed.wrapping_add(if metric == GatedMetric::ErrorRate {
            9
        } else {
            i as u64
        });
        let values =
            |w: &[&IntervalPoint]| -> Vec<f64> { w.iter().map(|p| EXTRACT[i](p)).collect() };
        let n = values(&wn);
        let olds: Vec<Vec<f64>> = old_windows.iter().map(|w| values(w)).collect();
        let is_error = metric == GatedMetric::ErrorRate;
        let summary = |xs: &[f64]| summary(metric, xs);
        let (est, spread, old_value) = if between_runs {
            let runs: Vec<f64> = olds.iter().filter_map(|o| summary(o)).collect();
            let est = summary(&n)
                .filter(|_| runs.len() >= MIN_BASELINE_RUNS)
                .and_then(|n| {
                    if is_error {
                        stats::difference_to_runs(&runs, n)
                    } else {
                        stats::ratio_to_runs(&runs, n).map(|(e, s)| (relative(e), s))
                    }
                });
            let old_value = if runs.is_empty() {
                0.0
            } else if is_error {
                stats::mean(&runs)
            } else {
                (runs
                    .iter()
                    .map(|r| r.max(f64::MIN_POSITIVE).ln())
                    .sum::<f64>()
                    / runs.len() as f64)
                    .exp()
            };
            (est.map(|e| e.0), est.map(|e| e.1), old_value)
        } else {
            let o: &[f64] = olds.first().map_or(&[], |o| o.as_slice());
            let (est, spread) = if is_error {
                (
                    stats::difference_of_means(o, &n, RESAMPLES, CONFIDENCE, seed),
                    Some(stats::std_dev(o)),
                )
            } else {
                let boot = stats::ratio_of_medians(o, &n, RESAMPLES, CONFIDENCE, seed);
                match (boot, stats::ratio_by_window_spread(o, &n)) {
                    (Some(b), Some((w, spread))) => (
                        Some(relative(Estimate {
                            value: b.value,
                            low: b.low.min(w.low),
                            high: b.high.max(w.high),
                        })),
                        Some(spread),
                    ),
                    (b, _) => (b.map(relative), None),
                }
            };
            (est, spread, summary(o).unwrap_or(0.0))
        };
        let tolerance = tol.get(metric);
        let floor_us = match metric {
            GatedMetric::P50 | GatedMetric::P95 | GatedMetric::P99 => {
                Some(tol.floor_us(metric)).filter(|f| *f > 0.0)
            }
            _ => None,
        };
        let in_force = tolerance.max(floor_share(metric, old_value, new, tol));
        let mut j = judge_metric(
            est,
            in_force,
            metric.higher_is_worse(),
            unreliable.as_deref(),
        );
        if unreliable.is_none()
            && let Some(e) = est
        {
            let worse = if metric == GatedMetric::Throughput {
                -e.value
            } else {
                e.value
            };
            if j.verdict == MetricVerdict::Unchanged && worse.abs() > in_force {
                j.verdict = MetricVerdict::Inconclusive;
                j.note = Some(format!(
                    "the change lies beyond the tolerance of {}, but within the spread of the runs",
                    percent(in_force, is_error)
                ));
            }
            if j.verdict == MetricVerdict::Inconclusive && !between_runs {
                j.note = Some(match j.note.take() {
                    Some(why) => format!("{why}; {ONE_RUN_ADVICE}"),
                    None => ONE_RUN_ADVICE.to_string(),
                });
            } else if in_force > tolerance && j.note.is_none() {
                j.note = Some(format!(
                    "the absolute floor ({}) is the tolerance in force: {} of the baseline's value",
                    floor_text(metric, tol),
                    percent(in_force, false)
                ));
            }
        }
        if j.note.is_none() {
            j.note = left_out_note.clone();
        }
        let mut m = metric_comparison(metric, old_value, summary(&n).unwrap_or(0.0), tolerance, j);
        m.spread = spread.filter(|s| s.is_finite());
        m.floor_us = floor_us;
        out.push(m);
    }
    out
}

/// The share of `old` that a metric's absolute floor amounts to: `floor / old` for a latency;
/// for throughput under a closed model of fixed users, the drop that adding the p50 floor to
/// every iteration's cycle (`users / throughput`) would cause; 0 otherwise.
fn floor_share(metric: GatedMetric, old: f64, new: &TestResult, tol: &Tolerances) -> f64 {
    if old <= 0.0 {
        return 0.0;
    }
    match metric {
        GatedMetric::P50 | GatedMetric::P95 | GatedMetric::P99 => tol.floor_us(metric) / old,
        GatedMetric::Throughput => {
            let c = &new.config;
            let floor_s = tol.floor_us(GatedMetric::P50) / 1e6;
            match c.users {
                Some(users) if c.model == "closed" && c.stages.is_empty() && floor_s > 0.0 => {
                    let cycle_s = users as f64 / old;
                    floor_s / (cycle_s + floor_s)
                }
                _ => 0.0,
            }
        }
        _ => 0.0,
    }
}

/// A metric's floor as written: `250us`.
fn floor_text(metric: GatedMetric, tol: &Tolerances) -> String {
    let metric = if metric == GatedMetric::Throughput {
        GatedMetric::P50
    } else {
        metric
    };
    format!("{metric} {:.0} µs", tol.floor_us(metric))
}

fn percent(v: f64, points: bool) -> String {
    if points {
        format!("{:.2} pp", v * 100.0)
    } else {
        format!("{:.0}%", v * 100.0)
    }
}

fn relative(e: Estimate) -> Estimate {
    Estimate {
        value: e.value - 1.0,
        low: e.low - 1.0,
        high: e.high - 1.0,
    }
}

/// One run's value of each metric, for the A/B gate: whole-run iteration latency percentiles
/// (microseconds), throughput (completed iterations per second) and error fraction.
fn run_values(r: &TestResult) -> [f64; 5] {
    let l = &r.iteration_latency.summary;
    let completed = r.iterations.ok + r.iterations.failed;
    let throughput = if r.elapsed_s > 0.0 {
        completed as f64 / r.elapsed_s
    } else {
        0.0
    };
    let error = if completed > 0 {
        r.iterations.failed as f64 / completed as f64
    } else {
        0.0
    };
    [
        l.p50_us as f64,
        l.p95_us as f64,
        l.p99_us as f64,
        throughput,
        error,
    ]
}

/// Compares a test over paired rounds (A/B gate): each round ran the base revision (`old`) and
/// this revision (`new`) once, in random order, on this machine. A round's sample is the ratio
/// of its two runs (the difference, for the error rate), so whatever slowed the machine during a
/// round slows both sides of it; the interval comes from a bootstrap over rounds. Rounds in which
/// either side's generator was saturated or disturbed are left out (and said so); with fewer than
/// [`MIN_CLEAN_ROUNDS`] left, every metric is inconclusive.
pub fn compare_rounds(
    rounds: &[(&TestResult, &TestResult)],
    tol: &Tolerances,
    seed: u64,
) -> Vec<MetricComparison> {
    let mut left_out = Vec::new();
    let mut clean = Vec::new();
    for (i, (o, n)) in rounds.iter().enumerate() {
        match unreliable_pair(o, n, "the base revision") {
            Some(why) => left_out.push(format!("round {}: {why}", i + 1)),
            None => clean.push((run_values(o), run_values(n))),
        }
    }
    let unreliable = (!left_out.is_empty() && clean.len() < MIN_CLEAN_ROUNDS).then(|| {
        format!(
            "only {} of {} rounds had a healthy generator on both sides; {}",
            clean.len(),
            rounds.len(),
            left_out.join("; ")
        )
    });
    let left_out_note = (!left_out.is_empty()).then(|| {
        format!(
            "{} of {} rounds left out: {}",
            left_out.len(),
            rounds.len(),
            left_out.join("; ")
        )
    });
    let geometric_mean = |xs: Vec<f64>| {
        let xs: Vec<f64> = xs.into_iter().filter(|x| *x > 0.0).collect();
        if xs.is_empty() {
            0.0
        } else {
            (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
        }
    };
    let mut out = Vec::new();
    for (i, metric) in GatedMetric::PER_WINDOW.into_iter().enumerate() {
        let pairs: Vec<(f64, f64)> = clean.iter().map(|(o, n)| (o[i], n[i])).collect();
        let tolerance = tol.get(metric);
        let seed = seed.wrapping_add(i as u64);
        let (est, old, new) = if metric == GatedMetric::ErrorRate {
            (
                stats::paired_difference(&pairs, RESAMPLES, seed),
                stats::mean(&pairs.iter().map(|p| p.0).collect::<Vec<_>>()),
                stats::mean(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
            )
        } else {
            (
                stats::paired_ratio(&pairs, RESAMPLES, seed).map(relative),
                geometric_mean(pairs.iter().map(|p| p.0).collect()),
                geometric_mean(pairs.iter().map(|p| p.1).collect()),
            )
        };
        let old = if old.is_finite() { old } else { 0.0 };
        let new = if new.is_finite() { new } else { 0.0 };
        let mut j = judge_metric(
            est,
            tolerance,
            metric.higher_is_worse(),
            unreliable.as_deref(),
        );
        if j.note.is_none() {
            j.note = left_out_note.clone();
        }
        out.push(metric_comparison(metric, old, new, tolerance, j));
    }
    out
}

pub use loadtest_report::verdict::describe_change as describe;

#[cfg(test)]
mod tests {
    use super::*;
    use loadtest_report::report::MetricVerdict;

    fn result(level_us: u64, n: usize, seed: u64) -> TestResult {
        let mut rng = fastrand::Rng::with_seed(seed);
        let series = (1..=n)
            .map(|i| {
                let mut j = |v: u64| (v as f64 * (1.0 + (rng.f64() - 0.5) * 0.06)) as u64;
                IntervalPoint {
                    t_s: i as f64,
                    iterations: j(1000),
                    failed: 0,
                    requests: 1000,
                    request_errors: 0,
                    p50_us: j(level_us),
                    p95_us: j(level_us * 2),
                    p99_us: j(level_us * 3),
                    ..IntervalPoint::default()
                }
            })
            .collect();
        TestResult {
            series,
            ..TestResult::default()
        }
    }

    #[test]
    fn the_same_level_is_unchanged() {
        let t = Tolerances::from_config(&[]).unwrap();
        let c = compare(&[&result(10_000, 12, 1)], &result(10_000, 12, 2), &t, 1);
        assert!(
            c.iter().all(|m| m.verdict == MetricVerdict::Unchanged),
            "{c:?}"
        );
    }

    #[test]
    fn fifty_percent_slower_regresses_every_latency_and_thirty_percent_p50() {
        let t = Tolerances::from_config(&[]).unwrap();
        let c = compare(&[&result(10_000, 12, 1)], &result(13_000, 12, 2), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Regressed,
            "{}",
            describe(&c[0])
        );
        assert!((c[0].change.unwrap() - 0.3).abs() < 0.05);
        let c = compare(&[&result(10_000, 12, 1)], &result(15_000, 12, 2), &t, 1);
        for m in &c[..3] {
            assert_eq!(m.verdict, MetricVerdict::Regressed, "{}", describe(m));
            assert!((m.change.unwrap() - 0.5).abs() < 0.05);
        }
        assert_eq!(c[3].verdict, MetricVerdict::Unchanged);
        assert!(
            describe(&c[2]).starts_with("p99 regressed +"),
            "{}",
            describe(&c[2])
        );
    }

    #[test]
    fn faster_is_an_improvement_and_tolerances_apply() {
        let t = Tolerances::from_config(&["p50=50%".to_string()]).unwrap();
        let c = compare(&[&result(10_000, 12, 1)], &result(7_000, 12, 2), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Unchanged,
            "p50 tolerance 50%: {}",
            describe(&c[0])
        );
        assert_eq!(c[1].verdict, MetricVerdict::Improved);
    }

    #[test]
    fn short_runs_are_insufficient() {
        let t = Tolerances::from_config(&[]).unwrap();
        let c = compare(&[&result(1000, 2, 1)], &result(1000, 2, 2), &t, 1);
        assert!(
            c.iter()
                .all(|m| m.verdict == MetricVerdict::InsufficientData)
        );
    }

    #[test]
    fn a_saturated_generator_makes_every_verdict_inconclusive() {
        let t = Tolerances::from_config(&[]).unwrap();
        let mut slow = result(15_000, 12, 2);
        slow.generator.saturated = true;
        slow.generator.warnings = vec!["the generator used 199% CPU of 2 cores".into()];
        let c = compare(&[&result(10_000, 12, 1)], &slow, &t, 1);
        for m in &c {
            assert_eq!(m.verdict, MetricVerdict::Inconclusive, "{}", describe(m));
            assert!(
                m.note
                    .as_deref()
                    .unwrap()
                    .contains("of this run was saturated"),
                "{m:?}"
            );
        }
        assert!(
            describe(&c[0]).starts_with("p50 inconclusive +") && c[0].change.unwrap() > 0.4,
            "{}",
            describe(&c[0])
        );
    }

    #[test]
    fn an_interval_wider_than_twice_the_tolerance_is_inconclusive() {
        // Windows that swing by a factor of two: no 10% verdict can be read from them.
        let swinging = |seed: u64| {
            let mut r = result(1000, 8, seed);
            for (i, p) in r.series.iter_mut().enumerate() {
                p.p50_us = if (i as u64 + seed).is_multiple_of(2) {
                    7_000
                } else {
                    14_000
                };
            }
            r
        };
        let t = Tolerances::from_config(&[]).unwrap();
        let c = compare(&[&swinging(1)], &swinging(2), &t, 3);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Inconclusive,
            "{}",
            describe(&c[0])
        );
        assert!(
            c[0].note
                .as_deref()
                .unwrap()
                .contains("wider than twice the tolerance")
        );
    }

    #[test]
    fn a_change_under_the_absolute_floor_is_never_a_regression() {
        let t = Tolerances::from_config(&[]).unwrap();
        // 40 µs to 200 µs: +400%, but 160 µs lies under p50's 250 µs floor.
        let c = compare(&[&result(40, 12, 1)], &result(200, 12, 2), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Unchanged,
            "{}",
            describe(&c[0])
        );
        assert!(c[0].change.unwrap() > 3.0, "{}", describe(&c[0]));
        assert_eq!(c[0].floor_us, Some(250.0));
        assert!(
            c[0].note.as_deref().unwrap().contains("absolute floor"),
            "{c:?}"
        );
        // Far beyond the floor: regressed. A lower floor catches the smaller change too.
        let c = compare(&[&result(40, 12, 1)], &result(2_000, 12, 2), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Regressed,
            "{}",
            describe(&c[0])
        );
        let t = Tolerances::from_config(&["p50=50us".to_string()]).unwrap();
        let c = compare(&[&result(40, 12, 1)], &result(200, 12, 2), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Regressed,
            "{}",
            describe(&c[0])
        );
    }

    #[test]
    fn the_closed_model_s_throughput_floor_follows_the_iteration_cycle() {
        let t = Tolerances::from_config(&[]).unwrap();
        let with_users = |mut r: TestResult| {
            r.config.model = "closed".into();
            r.config.users = Some(1);
            r
        };
        // One user at 1000 iterations a second: a 1 ms cycle; the 250 µs floor added to it is a
        // 20% drop, so a 15% drop is within the floor while a 50% drop is not.
        let old = with_users(result(10_000, 12, 1));
        let mut slower = with_users(result(10_000, 12, 2));
        slower.series.iter_mut().for_each(|p| p.iterations = 850);
        let c = compare(&[&old], &slower, &t, 1);
        assert_eq!(
            c[3].verdict,
            MetricVerdict::Unchanged,
            "{}",
            describe(&c[3])
        );
        slower.series.iter_mut().for_each(|p| p.iterations = 500);
        let c = compare(&[&old], &slower, &t, 1);
        assert_eq!(
            c[3].verdict,
            MetricVerdict::Regressed,
            "{}",
            describe(&c[3])
        );
    }

    /// A run whose every window sits at `level_us` times `scale` (windows' own noise ±3%).
    fn scaled(level_us: u64, scale: f64, seed: u64) -> TestResult {
        result((level_us as f64 * scale) as u64, 12, seed)
    }

    #[test]
    fn several_baseline_runs_make_each_run_one_sample() {
        let t = Tolerances::from_config(&["p50=5%".to_string()]).unwrap();
        let steady: Vec<TestResult> = [1.0, 1.01, 0.99, 1.005, 0.995]
            .iter()
            .enumerate()
            .map(|(i, s)| scaled(10_000, *s, i as u64))
            .collect();
        let olds: Vec<&TestResult> = steady.iter().collect();
        let c = compare(&olds, &scaled(10_000, 1.0, 9), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Unchanged,
            "{}",
            describe(&c[0])
        );
        let c = compare(&olds, &scaled(10_000, 1.12, 9), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Regressed,
            "{}",
            describe(&c[0])
        );
        assert!(c[0].spread.unwrap() < 0.02, "{:?}", c[0].spread);
        // Runs that differ from each other by ±20% cannot tell a 10% change.
        let swinging: Vec<TestResult> = [1.0, 1.2, 0.8, 1.15, 0.85]
            .iter()
            .enumerate()
            .map(|(i, s)| scaled(10_000, *s, i as u64))
            .collect();
        let olds: Vec<&TestResult> = swinging.iter().collect();
        let c = compare(&olds, &scaled(10_000, 1.10, 9), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Inconclusive,
            "{}",
            describe(&c[0])
        );
        assert!(c[0].spread.unwrap() > 0.1, "{:?}", c[0].spread);
    }

    #[test]
    fn an_inconclusive_one_run_comparison_says_how_to_make_it_conclusive() {
        let t = Tolerances::from_config(&["p50=5%".to_string()]).unwrap();
        // Windows spread ±3% each: a 6% change cannot be told from a 5% tolerance.
        let c = compare(&[&result(10_000, 12, 1)], &scaled(10_000, 1.06, 2), &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Inconclusive,
            "{}",
            describe(&c[0])
        );
        assert!(
            c[0].note.as_deref().unwrap().ends_with(ONE_RUN_ADVICE),
            "{c:?}"
        );
    }

    /// One run of an A/B round: latency level and throughput scaled by the round's machine.
    fn run(level_us: f64, machine: f64, rng: &mut fastrand::Rng) -> TestResult {
        let own = 1.0 + (rng.f64() - 0.5) * 0.02;
        let l = (level_us * machine * own) as u64;
        let mut r = TestResult {
            elapsed_s: 2.0,
            ..TestResult::default()
        };
        r.iterations.ok = (2000.0 / machine) as u64;
        r.iteration_latency.summary.p50_us = l;
        r.iteration_latency.summary.p95_us = 2 * l;
        r.iteration_latency.summary.p99_us = 3 * l;
        r
    }

    fn rounds(old: f64, new: f64, seed: u64) -> Vec<(TestResult, TestResult)> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..6)
            .map(|_| {
                // The machine's speed moves by up to ±40% from round to round.
                let machine = 1.0 + (rng.f64() - 0.5) * 0.8;
                (run(old, machine, &mut rng), run(new, machine, &mut rng))
            })
            .collect()
    }

    #[test]
    fn paired_rounds_see_through_a_drifting_machine() {
        let t = Tolerances::with_defaults(&AB_TOLERANCES, &[], &[]).unwrap();
        let same = rounds(1000.0, 1000.0, 1);
        let refs: Vec<_> = same.iter().map(|(o, n)| (o, n)).collect();
        let c = compare_rounds(&refs, &t, 1);
        assert!(
            c.iter().all(|m| m.verdict == MetricVerdict::Unchanged),
            "{:?}",
            c.iter().map(describe).collect::<Vec<_>>()
        );
        let slower = rounds(1000.0, 1100.0, 2);
        let refs: Vec<_> = slower.iter().map(|(o, n)| (o, n)).collect();
        let c = compare_rounds(&refs, &t, 1);
        for m in &c[..3] {
            assert!((m.change.unwrap() - 0.1).abs() < 0.02, "{}", describe(m));
        }
        // +10% is beyond the A/B tolerances of p50 (5%) and p95 (8%), within p99's (15%).
        let verdicts: Vec<MetricVerdict> = c.iter().map(|m| m.verdict).collect();
        use MetricVerdict::{Regressed, Unchanged};
        assert_eq!(
            verdicts,
            [Regressed, Regressed, Unchanged, Unchanged, Unchanged]
        );
    }

    #[test]
    fn paired_rounds_need_three_and_leave_out_unhealthy_rounds() {
        let t = Tolerances::with_defaults(&AB_TOLERANCES, &[], &[]).unwrap();
        let mut r = rounds(1000.0, 1300.0, 3);
        let two: Vec<_> = r[..2].iter().map(|(o, n)| (o, n)).collect();
        assert!(
            compare_rounds(&two, &t, 1)
                .iter()
                .all(|m| m.verdict == MetricVerdict::InsufficientData)
        );
        // One disturbed round is left out; the other five still show the regression.
        r[4].0.generator.disturbed = true;
        let refs: Vec<_> = r.iter().map(|(o, n)| (o, n)).collect();
        let c = compare_rounds(&refs, &t, 1);
        assert_eq!(
            c[0].verdict,
            MetricVerdict::Regressed,
            "{}",
            describe(&c[0])
        );
        assert!(
            c[0].note.as_deref().unwrap().starts_with(
                "1 of 6 rounds left out: round 5: the load generator of the base revision was disturbed"
            ),
            "{:?}",
            c[0].note
        );
        // Four unhealthy rounds leave two: inconclusive, whatever the two say.
        for (o, n) in r.iter_mut().take(3) {
            o.generator.saturated = true;
            n.generator.disturbed = true;
        }
        let refs: Vec<_> = r.iter().map(|(o, n)| (o, n)).collect();
        let c = compare_rounds(&refs, &t, 1);
        assert!(
            c.iter().all(|m| m.verdict == MetricVerdict::Inconclusive),
            "{c:?}"
        );
        assert!(
            c[0].note
                .as_deref()
                .unwrap()
                .starts_with("only 2 of 6 rounds had a healthy generator on both sides; round 1: "),
            "{:?}",
            c[0].note
        );
    }

    #[test]
    fn different_models_are_refused() {
        let a = ConfigSummary {
            model: "closed".into(),
            users: Some(10),
            duration_s: Some(10.0),
            ..Default::default()
        };
        let b = ConfigSummary {
            users: Some(20),
            ..a.clone()
        };
        comparable("t", &a, &a).unwrap();
        let e = comparable("t", &a, &b).unwrap_err();
        assert!(
            e.contains("users Some(10) (baseline) vs Some(20) (this run)")
                && e.contains("--force-compare"),
            "{e}"
        );
    }

    #[test]
    fn capacities_compare_on_their_brackets() {
        let searched = |cap: f64, above: Option<f64>| CapacityResult {
            capacity_per_s: Some(cap),
            above_per_s: above,
            ..CapacityResult::default()
        };
        let tol = Tolerances::from_config(&[]).unwrap();
        let old = searched(1000.0, Some(1050.0));
        // Within the brackets and the 10% tolerance: unchanged.
        let m = compare_capacity(&old, &searched(950.0, Some(990.0)), &tol).unwrap();
        assert_eq!(
            (m.metric, m.verdict),
            (GatedMetric::Capacity, MetricVerdict::Unchanged)
        );
        assert!((m.change.unwrap() + 0.05).abs() < 1e-9);
        // Even this run's upper end is more than 10% below: regressed.
        let m = compare_capacity(&old, &searched(800.0, Some(850.0)), &tol).unwrap();
        assert_eq!(m.verdict, MetricVerdict::Regressed);
        assert!(m.ci_high.unwrap() < -0.1, "{m:?}");
        // Even this run's lower end is more than 10% above the baseline's upper end: improved.
        let m = compare_capacity(&old, &searched(1300.0, None), &tol).unwrap();
        assert_eq!(m.verdict, MetricVerdict::Improved);
        // A tolerance of its own, and no capacity on one side.
        let loose = Tolerances::from_config(&["capacity=30%".to_string()]).unwrap();
        let m = compare_capacity(&old, &searched(800.0, Some(850.0)), &loose).unwrap();
        assert_eq!((m.verdict, m.tolerance), (MetricVerdict::Unchanged, 0.3));
        assert!(compare_capacity(&CapacityResult::default(), &old, &tol).is_none());
    }
}
