//! Pass/fail: threshold rules evaluated on merged metrics, the implicit error budget, and the
//! judgement of the generator's own health.

use crate::grammar::{Metric, Threshold, format_duration};
use crate::metrics::hdr::Hist;
use crate::metrics::{RequestClass, Shard};
use crate::report::human_us;
use crate::report::{GeneratorHealth, ThresholdOutcome};
use std::time::Duration;

/// The rule name of the implicit error budget.
pub const ERROR_BUDGET: &str = "error budget";

/// Evaluates every rule, plus the implicit error budget when no rule bounds `error_rate`.
pub(crate) fn evaluate(rules: &[Threshold], m: &Shard, elapsed_s: f64) -> Vec<ThresholdOutcome> {
    let mut out: Vec<ThresholdOutcome> = rules
        .iter()
        .map(|r| evaluate_one(r, m, elapsed_s))
        .collect();
    if !rules
        .iter()
        .any(|r| r.metric == Metric::ErrorRate && r.scope.is_none())
    {
        let (failed, total) = (m.failed(), m.completed());
        let passed = failed == 0 && total > 0;
        let message = if total == 0 {
            "no iteration completed".to_string()
        } else {
            format!(
                "{failed} of {total} iterations failed (no `error_rate` rule: any failure fails the test)"
            )
        };
        out.push(ThresholdOutcome {
            rule: ERROR_BUDGET.into(),
            observed: Some(failed as f64),
            passed,
            message,
        });
    }
    out
}

fn latency_source<'a>(m: &'a Shard, scope: Option<&str>) -> Option<&'a Hist> {
    match scope {
        None => Some(&m.latency),
        Some(name) => m
            .requests
            .get(name)
            .map(|r| &r.latency)
            .or_else(|| m.custom_latencies.get(name)),
    }
}

fn evaluate_one(rule: &Threshold, m: &Shard, elapsed_s: f64) -> ThresholdOutcome {
    let scope = rule.scope.as_deref();
    let observed: Option<f64> = match rule.metric {
        Metric::Percentile(_) | Metric::Mean | Metric::Min | Metric::Max => {
            latency_source(m, scope)
                .filter(|h| !h.is_empty())
                .map(|h| match rule.metric {
                    Metric::Percentile(q) => h.value_at_quantile(q / 100.0) as f64,
                    Metric::Mean => h.mean(),
                    Metric::Min => h.min() as f64,
                    _ => h.max() as f64,
                })
        }
        Metric::ErrorRate => match scope {
            None => {
                let total = m.completed();
                Some(if total == 0 {
                    0.0
                } else {
                    m.failed() as f64 / total as f64
                })
            }
            Some(name) => m.requests.get(name).map(|r| {
                let n = r.count();
                if n == 0 {
                    0.0
                } else {
                    (n - r.by_class[RequestClass::Ok as usize]) as f64 / n as f64
                }
            }),
        },
        Metric::Rps => {
            let n = match scope {
                None => Some(m.request_counts().0),
                Some(name) => m.requests.get(name).map(|r| r.count()),
            };
            n.map(|n| {
                if elapsed_s > 0.0 {
                    n as f64 / elapsed_s
                } else {
                    0.0
                }
            })
        }
        Metric::Requests => match scope {
            None => Some(m.request_counts().0 as f64),
            Some(name) => m.requests.get(name).map(|r| r.count() as f64),
        },
        Metric::Iterations => Some(m.completed() as f64),
        Metric::Dropped => Some(m.dropped as f64),
        Metric::Late => Some(m.late as f64),
        Metric::Failed => Some(m.failed() as f64),
    };
    let show = |v: f64| -> String {
        if rule.metric.is_latency() {
            human_us(v)
        } else if rule.metric == Metric::ErrorRate {
            format!("{:.2}%", v * 100.0)
        } else {
            format!("{}", (v * 100.0).round() / 100.0)
        }
    };
    let lhs = match scope {
        Some(s) => format!("{}({s})", metric_name(rule.metric)),
        None => metric_name(rule.metric),
    };
    match observed {
        Some(v) => {
            let passed = rule.op.holds(v, rule.limit);
            ThresholdOutcome {
                rule: rule.source.clone(),
                observed: Some(v),
                passed,
                message: format!(
                    "{lhs} was {}, limit {} {}",
                    show(v),
                    rule.op.as_str(),
                    show(rule.limit)
                ),
            }
        }
        None => ThresholdOutcome {
            rule: rule.source.clone(),
            observed: None,
            passed: false,
            message: match scope {
                Some(s) => format!("no request or custom metric named {s:?} was recorded"),
                None => "no value was recorded".into(),
            },
        },
    }
}

fn metric_name(m: Metric) -> String {
    match m {
        Metric::Percentile(q) => format!("p{q}"),
        Metric::Mean => "mean".into(),
        Metric::Min => "min".into(),
        Metric::Max => "max".into(),
        Metric::ErrorRate => "error_rate".into(),
        Metric::Rps => "rps".into(),
        Metric::Iterations => "iterations".into(),
        Metric::Requests => "requests".into(),
        Metric::Dropped => "dropped".into(),
        Metric::Late => "late".into(),
        Metric::Failed => "failed".into(),
    }
}

/// CPU use above this share of the available cores marks the generator as saturated.
const CPU_SATURATED: f64 = 0.90;
/// A 99th percentile scheduling lag above this marks the generator as saturated.
const LAG_SATURATED_US: u64 = 10_000;

/// Judges the generator's health and fills in `saturated` and `warnings`.
pub(crate) fn judge_generator(h: &mut GeneratorHealth, open_model: bool) {
    h.warnings.clear();
    if h.dropped > 0 {
        h.warnings.push(format!(
            "{} iterations were dropped: max_in_flight was reached",
            h.dropped
        ));
    }
    if open_model && h.scheduling_lag.p99_us > LAG_SATURATED_US {
        h.warnings.push(format!(
            "iterations started up to {} late (p99 scheduling lag); {} started more than 10ms late",
            format_duration(Duration::from_micros(h.scheduling_lag.p99_us)),
            h.late
        ));
    }
    if h.cpus > 0 && h.cpu_percent > CPU_SATURATED * 100.0 * h.cpus as f64 {
        h.warnings.push(format!(
            "the generator used {:.0}% CPU of {} cores: it may be the bottleneck",
            h.cpu_percent, h.cpus
        ));
    }
    h.saturated = !h.warnings.is_empty();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::parse_threshold;
    use crate::metrics::IterationClass;

    fn shard() -> Shard {
        let mut s = Shard::default();
        for i in 1..=100 {
            s.iteration(i * 1000, None, None);
            s.request("home", RequestClass::Ok, Some(200), i * 100, 0, 10);
        }
        s
    }

    #[test]
    fn latency_rules() {
        let s = shard();
        let out = evaluate(
            &[
                parse_threshold("p99 < 50ms").unwrap(),
                parse_threshold("p95(home) < 10ms").unwrap(),
            ],
            &s,
            10.0,
        );
        assert!(
            !out[0].passed && out[0].message.contains("p99 was 99.0ms, limit < 50.0ms"),
            "{}",
            out[0].message
        );
        assert!(out[1].passed, "{}", out[1].message);
        assert_eq!(out[2].rule, ERROR_BUDGET);
        assert!(out[2].passed);
    }

    #[test]
    fn the_error_budget_fails_on_one_failure_unless_a_rule_replaces_it() {
        let mut s = shard();
        s.iteration(10, None, Some(IterationClass::Panic));
        let out = evaluate(&[], &s, 1.0);
        assert!(!out[0].passed && out[0].message.starts_with("1 of 101"));
        let out = evaluate(&[parse_threshold("error_rate < 2%").unwrap()], &s, 1.0);
        assert_eq!(out.len(), 1);
        assert!(out[0].passed);
    }

    #[test]
    fn missing_names_and_empty_runs_fail() {
        let out = evaluate(
            &[parse_threshold("p99(nope) < 1s").unwrap()],
            &Shard::default(),
            1.0,
        );
        assert!(!out[0].passed && out[0].message.contains("\"nope\""));
        assert!(!out[1].passed && out[1].message == "no iteration completed");
    }

    #[test]
    fn rps_and_counts() {
        let s = shard();
        let out = evaluate(
            &[
                parse_threshold("rps > 9").unwrap(),
                parse_threshold("dropped == 0").unwrap(),
            ],
            &s,
            10.0,
        );
        assert!(out[0].passed && out[1].passed);
    }

    #[test]
    fn generator_judgement() {
        let mut h = GeneratorHealth {
            cpus: 2,
            cpu_percent: 50.0,
            ..Default::default()
        };
        judge_generator(&mut h, true);
        assert!(!h.saturated);
        h.dropped = 3;
        judge_generator(&mut h, true);
        assert!(h.saturated && h.warnings[0].contains("3 iterations were dropped"));
    }
}
