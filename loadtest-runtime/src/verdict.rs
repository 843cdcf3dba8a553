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

/// Successful iterations (no scope) or successful requests of a name; `None` for a custom
/// metric or a name never recorded (judged by `latency_source`).
fn successes(m: &Shard, scope: Option<&str>) -> Option<u64> {
    match scope {
        None => Some(m.iter_ok),
        Some(name) => m
            .requests
            .get(name)
            .map(|r| r.by_class[RequestClass::Ok as usize]),
    }
}

fn evaluate_one(rule: &Threshold, m: &Shard, elapsed_s: f64) -> ThresholdOutcome {
    let scope = rule.scope.as_deref();
    let observed: Option<f64> = match rule.metric {
        Metric::Percentile(_) | Metric::Mean | Metric::Min | Metric::Max => {
            // Latency over failures alone says nothing about the target (a refused connection
            // fails in microseconds): with no success there is no data, and the rule fails.
            if successes(m, scope) == Some(0) {
                return ThresholdOutcome {
                    rule: rule.source.clone(),
                    observed: None,
                    passed: false,
                    message: match scope {
                        None => format!(
                            "no data: none of the {} iterations succeeded, so there is no latency to judge",
                            m.completed()
                        ),
                        Some(s) => format!(
                            "no data: no request named {s:?} succeeded, so there is no latency to judge"
                        ),
                    },
                };
            }
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

/// Run queue wait above this share of the time the generator was ready to run marks it
/// disturbed...
pub const DISTURBED_WAIT_SHARE: f64 = 0.25;
/// ...when the wait adds up to at least this many seconds (a nearly idle test's few waits are
/// no disturbance).
pub const DISTURBED_MIN_WAIT_S: f64 = 0.1;
/// Steal time above this share of the machine's CPU time marks the generator disturbed.
pub const DISTURBED_STEAL_SHARE: f64 = 0.10;

/// Judges the generator's health and fills in `saturated`, `disturbed` and `warnings`.
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
    let waited = h.cpu_wait_percent > DISTURBED_WAIT_SHARE * 100.0
        && h.cpu_wait_seconds >= DISTURBED_MIN_WAIT_S;
    if waited {
        h.warnings.push(format!(
            "disturbed: the generator waited for a CPU {:.0}% of the time it was ready to run ({:.2}s in all; over {:.0}% means something else competed for its cores)",
            h.cpu_wait_percent,
            h.cpu_wait_seconds,
            DISTURBED_WAIT_SHARE * 100.0
        ));
    }
    let stolen = h.steal_percent > DISTURBED_STEAL_SHARE * 100.0;
    if stolen {
        h.warnings.push(format!(
            "disturbed: the hypervisor gave {:.0}% of the machine's CPU time to other guests (steal; over {:.0}% counts)",
            h.steal_percent,
            DISTURBED_STEAL_SHARE * 100.0
        ));
    }
    h.disturbed = waited || stolen;
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
        assert!(!h.disturbed);
    }

    #[test]
    fn waiting_for_a_cpu_is_a_disturbance_not_a_saturation() {
        let mut h = GeneratorHealth {
            cpus: 1,
            cpu_percent: 40.0,
            cpu_wait_percent: 45.0,
            cpu_wait_seconds: 2.0,
            ..Default::default()
        };
        judge_generator(&mut h, false);
        assert!(h.disturbed && !h.saturated, "{h:?}");
        assert!(h.warnings[0].starts_with("disturbed: the generator waited for a CPU 45%"));
        h.cpu_wait_seconds = 0.01;
        judge_generator(&mut h, false);
        assert!(
            !h.disturbed,
            "a few milliseconds of waiting are no disturbance"
        );
        h.steal_percent = 30.0;
        judge_generator(&mut h, false);
        assert!(h.disturbed && h.warnings[0].contains("steal"));
    }

    #[test]
    fn latency_rules_over_failures_alone_have_no_data() {
        let mut s = Shard::default();
        for _ in 0..10 {
            s.iteration(65, None, Some(IterationClass::User));
            s.request("GET /", RequestClass::Connect, None, 60, 0, 0);
        }
        let out = evaluate(
            &[
                parse_threshold("p99 < 200ms").unwrap(),
                parse_threshold("p99(GET /) < 200ms").unwrap(),
                parse_threshold("error_rate < 100%").unwrap(),
            ],
            &s,
            1.0,
        );
        assert!(!out[0].passed && out[0].observed.is_none());
        assert!(
            out[0]
                .message
                .starts_with("no data: none of the 10 iterations succeeded"),
            "{}",
            out[0].message
        );
        assert!(
            !out[1].passed
                && out[1]
                    .message
                    .contains("no request named \"GET /\" succeeded")
        );
    }
}
