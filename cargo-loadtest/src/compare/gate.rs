//! The regression gate: which metrics are compared, their tolerances, the comparability check,
//! and the verdict per test and metric.

use super::stats::{self, Estimate};
use loadtest_grammar as grammar;
use loadtest_report::report::{
    CapacityResult, ConfigSummary, IntervalPoint, MetricComparison, MetricVerdict, TestResult,
};

/// The confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// Bootstrap resamples per metric.
pub const RESAMPLES: usize = 2000;

/// The metrics the gate compares, with their default tolerances (chosen from A/A measurements,
/// see `docs/regression-gate.md`): relative for latencies and throughput, absolute (a fraction)
/// for the error rate.
pub const DEFAULT_TOLERANCES: [(&str, f64); 5] = [
    ("p50", 0.10),
    ("p95", 0.15),
    ("p99", 0.25),
    ("throughput", 0.10),
    ("error_rate", 0.01),
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
    let tolerance = tol.get_or("capacity", CAPACITY_TOLERANCE);
    let (low, high) = (n / o_high - 1.0, n_high / o - 1.0);
    let verdict = if high < -tolerance {
        MetricVerdict::Regressed
    } else if low > tolerance {
        MetricVerdict::Improved
    } else {
        MetricVerdict::Unchanged
    };
    Some(MetricComparison {
        metric: "capacity".into(),
        old: o,
        new: n,
        change: Some(n / o - 1.0),
        ci_low: Some(low),
        ci_high: Some(high),
        confidence: 1.0,
        tolerance,
        verdict,
    })
}

/// Tolerances per metric, defaults overridden by the test's `tolerance` option.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerances(pub Vec<(String, f64)>);

impl Tolerances {
    /// The defaults with `overrides` (`"p99=20%"` entries) applied.
    pub fn from_config(overrides: &[String]) -> Result<Tolerances, String> {
        let mut t: Vec<(String, f64)> = DEFAULT_TOLERANCES
            .iter()
            .map(|(m, v)| (m.to_string(), *v))
            .collect();
        for o in overrides {
            let (metric, value) = grammar::parse_tolerance(o)?;
            match t.iter_mut().find(|(m, _)| *m == metric) {
                Some(slot) => slot.1 = value,
                None => t.push((metric, value)),
            }
        }
        Ok(Tolerances(t))
    }

    fn get(&self, metric: &str) -> f64 {
        self.get_or(metric, 0.1)
    }

    fn get_or(&self, metric: &str, default: f64) -> f64 {
        self.0
            .iter()
            .find(|(m, _)| m == metric)
            .map_or(default, |(_, v)| *v)
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

fn verdict(
    est: Option<Estimate>,
    tolerance: f64,
    higher_is_worse: bool,
) -> (MetricVerdict, Option<f64>, Option<f64>, Option<f64>) {
    let Some(e) = est else {
        return (MetricVerdict::InsufficientData, None, None, None);
    };
    let (worse_low, better_high) = if higher_is_worse {
        (e.low, e.high)
    } else {
        (-e.high, -e.low)
    };
    let v = if worse_low > tolerance {
        MetricVerdict::Regressed
    } else if better_high < -tolerance {
        MetricVerdict::Improved
    } else {
        MetricVerdict::Unchanged
    };
    (v, Some(e.value), Some(e.low), Some(e.high))
}

/// Compares one test's results with its baseline's.
pub fn compare(
    old: &TestResult,
    new: &TestResult,
    tol: &Tolerances,
    seed: u64,
) -> Vec<MetricComparison> {
    let (wo, wn) = (windows(&old.series), windows(&new.series));
    let mut out = Vec::new();
    type Extract = fn(&IntervalPoint) -> f64;
    let latency: [(&str, Extract); 3] = [
        ("p50", |p| p.p50_us as f64),
        ("p95", |p| p.p95_us as f64),
        ("p99", |p| p.p99_us as f64),
    ];
    let throughput: (&str, Extract) = ("throughput", |p| p.iterations as f64);
    for (i, (metric, f)) in latency
        .into_iter()
        .chain(std::iter::once(throughput))
        .enumerate()
    {
        let (o, n): (Vec<f64>, Vec<f64>) = (
            wo.iter().map(|p| f(p)).collect(),
            wn.iter().map(|p| f(p)).collect(),
        );
        let est =
            stats::ratio_of_medians(&o, &n, RESAMPLES, CONFIDENCE, seed.wrapping_add(i as u64))
                .map(|e| Estimate {
                    value: e.value - 1.0,
                    low: e.low - 1.0,
                    high: e.high - 1.0,
                });
        let tolerance = tol.get(metric);
        let (verdict, change, low, high) = verdict(est, tolerance, metric != "throughput");
        out.push(MetricComparison {
            metric: metric.to_string(),
            old: if o.is_empty() {
                0.0
            } else {
                stats::median(&mut o.clone())
            },
            new: if n.is_empty() {
                0.0
            } else {
                stats::median(&mut n.clone())
            },
            change,
            ci_low: low,
            ci_high: high,
            confidence: CONFIDENCE,
            tolerance,
            verdict,
        });
    }
    let err = |p: &&IntervalPoint| p.failed as f64 / p.iterations as f64;
    let (o, n): (Vec<f64>, Vec<f64>) = (wo.iter().map(err).collect(), wn.iter().map(err).collect());
    let est = stats::difference_of_means(&o, &n, RESAMPLES, CONFIDENCE, seed.wrapping_add(9));
    let tolerance = tol.get("error_rate");
    let (verdict, change, low, high) = verdict(est, tolerance, true);
    out.push(MetricComparison {
        metric: "error_rate".into(),
        old: if o.is_empty() { 0.0 } else { stats::mean(&o) },
        new: if n.is_empty() { 0.0 } else { stats::mean(&n) },
        change,
        ci_low: low,
        ci_high: high,
        confidence: CONFIDENCE,
        tolerance,
        verdict,
    });
    out
}

pub use loadtest_report::verdict::describe_change as describe;

#[cfg(test)]
mod tests {
    use super::*;

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
        let c = compare(&result(1000, 12, 1), &result(1000, 12, 2), &t, 1);
        assert!(
            c.iter().all(|m| m.verdict == MetricVerdict::Unchanged),
            "{c:?}"
        );
    }

    #[test]
    fn thirty_percent_slower_regresses_every_latency() {
        let t = Tolerances::from_config(&[]).unwrap();
        let c = compare(&result(1000, 12, 1), &result(1300, 12, 2), &t, 1);
        for m in &c[..3] {
            assert_eq!(m.verdict, MetricVerdict::Regressed, "{}", describe(m));
            assert!((m.change.unwrap() - 0.3).abs() < 0.05);
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
        let c = compare(&result(1000, 12, 1), &result(700, 12, 2), &t, 1);
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
        let c = compare(&result(1000, 2, 1), &result(1000, 2, 2), &t, 1);
        assert!(
            c.iter()
                .all(|m| m.verdict == MetricVerdict::InsufficientData)
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
            (m.metric.as_str(), m.verdict),
            ("capacity", MetricVerdict::Unchanged)
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
