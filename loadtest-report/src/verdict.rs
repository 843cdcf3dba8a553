//! The one verdict: given a test's results, thresholds, comparison and generator health, what is
//! its status and why. Every output (terminal, JSON, JUnit, Markdown, exit code) reads its answer.
//!
//! - [`evaluate`] checks threshold rules (and the implicit error budget) on any [`Measurements`]:
//!   the runtime's live metrics while a test runs (for `abort_on_fail`) and at its end.
//! - [`judge_generator`] decides whether the load generator was saturated.
//! - [`metric`] judges each compared metric of a baseline comparison ([`judge_metric`]).
//! - [`judge`] decides a test's [`TestStatus`] and the reasons for it, its baseline comparison
//!   included; [`Unjudged::judge`] builds a test's report from all of its evidence, once.
//! - [`run_outcome`] decides the run's [`RunStatus`] and exit code from its tests, an interrupt
//!   and a refused comparison; [`run_report`] builds the run's report from its judged tests.
//! - [`capacity`] judges the steps of a capacity search and a capacity test's status.

use crate::exit_code;
use crate::hdr::Hist;
use crate::report::{
    Comparison, GeneratorHealth, MetricComparison, MetricVerdict, RunReport, RunStatus, TestReport,
    TestResult, TestStatus, ThresholdOutcome, human_us,
};
use loadtest_grammar::{GatedMetric, Metric, StreamMeasure, Threshold, format_duration};
use std::time::Duration;

pub mod capacity;
pub mod metric;
pub use capacity::{Cutoff, generator_limited, judge_capacity, judge_step};
pub use metric::{Estimate, MetricJudgement, judge_capacity_change, judge_metric};

/// The rule name of the implicit error budget.
pub const ERROR_BUDGET: &str = "error budget";

/// What threshold rules are evaluated on: one test's measurements.
///
/// The runtime implements it on its merged per-worker metrics; anything else that holds a
/// test's histograms and counts (a stored or merged report) can implement it too.
pub trait Measurements {
    /// Latency of whole iterations.
    fn iteration_latency(&self) -> &Hist;
    /// Latency of the requests of one name, or of the custom metric of that name.
    fn named_latency(&self, name: &str) -> Option<&Hist>;
    /// A measure of the streamed responses of one request name (`None` when none of its
    /// responses was read as a stream).
    fn stream_latency(&self, name: &str, measure: StreamMeasure) -> Option<&Hist> {
        let _ = (name, measure);
        None
    }
    /// Iterations that ran to completion, ok or failed.
    fn completed(&self) -> u64;
    /// Iterations that failed.
    fn failed(&self) -> u64;
    /// `(requests, ok requests)` of all names together (`None`) or of one name (absent when no
    /// request had that name).
    fn requests(&self, name: Option<&str>) -> Option<(u64, u64)>;
    /// Open model: iterations dropped at `max_in_flight`.
    fn dropped(&self) -> u64;
    /// Iterations that started late.
    fn late(&self) -> u64;
}

/// Evaluates every rule, plus the implicit error budget when no rule bounds `error_rate`.
pub fn evaluate(
    rules: &[Threshold],
    m: &impl Measurements,
    elapsed_s: f64,
) -> Vec<ThresholdOutcome> {
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

fn latency_source<'a>(
    m: &'a impl Measurements,
    scope: Option<&str>,
    stream: Option<StreamMeasure>,
) -> Option<&'a Hist> {
    match (scope, stream) {
        (None, _) => Some(m.iteration_latency()),
        (Some(name), None) => m.named_latency(name),
        (Some(name), Some(measure)) => m.stream_latency(name, measure),
    }
}

/// Successful iterations (no scope) or successful requests of a name; `None` for a custom
/// metric or a name never recorded (judged by `latency_source`).
fn successes(m: &impl Measurements, scope: Option<&str>) -> Option<u64> {
    match scope {
        None => Some(m.completed() - m.failed()),
        Some(name) => m.requests(Some(name)).map(|(_, ok)| ok),
    }
}

fn evaluate_one(rule: &Threshold, m: &impl Measurements, elapsed_s: f64) -> ThresholdOutcome {
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
            latency_source(m, scope, rule.stream)
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
            Some(name) => m.requests(Some(name)).map(|(n, ok)| {
                if n == 0 {
                    0.0
                } else {
                    (n - ok) as f64 / n as f64
                }
            }),
        },
        Metric::Rps => m.requests(scope).map(|(n, _)| {
            if elapsed_s > 0.0 {
                n as f64 / elapsed_s
            } else {
                0.0
            }
        }),
        Metric::Requests => m.requests(scope).map(|(n, _)| n as f64),
        Metric::Iterations => Some(m.completed() as f64),
        Metric::Dropped => Some(m.dropped() as f64),
        Metric::Late => Some(m.late() as f64),
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
    let lhs = match (scope, rule.stream) {
        (Some(s), Some(measure)) => {
            format!("{}({}:{s})", metric_name(rule.metric), measure.as_str())
        }
        (Some(s), None) => format!("{}({s})", metric_name(rule.metric)),
        (None, _) => metric_name(rule.metric),
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
            message: match (scope, rule.stream) {
                (Some(s), Some(measure)) => format!(
                    "no {} of a streamed response named {s:?} was recorded",
                    measure.as_str()
                ),
                (Some(s), None) => format!("no request or custom metric named {s:?} was recorded"),
                (None, _) => "no value was recorded".into(),
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
/// ...when the wait adds up to at least this many seconds (a nearly idle generator's few waits
/// are no disturbance: on a quiet two-core machine a 6-second test of 4 users waited 0.10 to
/// 0.12 s in all, 43 to 50% of its little ready time).
pub const DISTURBED_MIN_WAIT_S: f64 = 0.5;
/// Steal time above this share of the machine's CPU time marks the generator disturbed.
pub const DISTURBED_STEAL_SHARE: f64 = 0.10;

/// Judges the generator's health and fills in `saturated`, `disturbed` and `warnings`.
pub fn judge_generator(h: &mut GeneratorHealth, open_model: bool) {
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

/// How strictly a run is judged, beyond each test's own rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// A saturated load generator fails the test (`--fail-on-saturation`).
    pub fail_on_saturation: bool,
    /// The run is one shard of a scale-out run (`--shard K/N`) whose thresholds, saturation and
    /// baseline are not judged on the shard alone: `cargo loadtest merge` judges the whole. A
    /// shard's test still errors when it could not run.
    pub unjudged_shard: bool,
    /// A merged result with missing shards (a partial merge) is judged on what is there instead
    /// of failing (`merge --allow-partial`).
    pub allow_partial: bool,
    /// A merged result whose shards started further apart than this fails (`merge --max-skew`;
    /// `None`: any skew is accepted, `--allow-skew`, and runs that are not merges).
    pub max_skew: Option<std::time::Duration>,
}

/// What is known about a test when it is judged.
#[derive(Clone, Copy, Debug)]
pub enum Evidence<'a> {
    /// The harness reported a result; `comparison` when a baseline was compared.
    Finished {
        /// Everything the harness measured.
        result: &'a TestResult,
        /// The comparison with a baseline, if any.
        comparison: Option<&'a Comparison>,
    },
    /// The test could not run to its end (its harness crashed, did not start, its setup hook
    /// failed, or the harness refused it).
    Errored {
        /// Why, in one line.
        reason: &'a str,
    },
    /// A capacity search ran (`--find-max`); `comparison` when a baseline was compared.
    Capacity {
        /// What the search found.
        capacity: &'a crate::report::CapacityResult,
        /// The comparison with a baseline, if any.
        comparison: Option<&'a Comparison>,
    },
    /// The run was interrupted before the test started.
    NotStarted {
        /// Why, in one line.
        reason: &'a str,
    },
}

/// A test's status and the reasons for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// The status.
    pub status: TestStatus,
    /// Why the test did not pass, one readable line each; empty when it passed.
    pub failures: Vec<String>,
}

/// The single place that decides a test's status.
///
/// A finished test fails when a threshold (or the error budget) failed, `abort_on_fail` stopped
/// it, a compared metric regressed, or (under [`Policy::fail_on_saturation`]) its generator was
/// saturated. An interrupted test is `interrupted` whatever its thresholds said.
pub fn judge(evidence: Evidence<'_>, policy: &Policy) -> Judgement {
    let (result, comparison) = match evidence {
        Evidence::Finished { result, comparison } => (result, comparison),
        Evidence::Errored { reason } => {
            return Judgement {
                status: TestStatus::Errored,
                failures: vec![reason.to_string()],
            };
        }
        Evidence::NotStarted { reason } => {
            return Judgement {
                status: TestStatus::Interrupted,
                failures: vec![reason.to_string()],
            };
        }
        Evidence::Capacity {
            capacity,
            comparison,
        } => return judge_capacity(capacity, regressions(comparison)),
    };
    let mut failures: Vec<String> = Vec::new();
    if !result.missing_shards.is_empty() && !policy.allow_partial {
        let missing: Vec<String> = result.missing_shards.iter().map(u32::to_string).collect();
        failures.push(format!(
            "partial merge: shard(s) {} of {} missing (merge --allow-partial judges the shards that reported)",
            missing.join(", "),
            result.shards.len() + result.missing_shards.len()
        ));
    }
    if let (Some(limit), Some(skew)) = (policy.max_skew, &result.start_skew)
        && skew.spread_s > limit.as_secs_f64()
    {
        failures.push(format!(
            "start skew: the shards started {:.1}s apart (shard {} last), more than the {}s allowed; {:.1}% of the run's shard-time ran out of step (merge --max-skew sets the bound, --allow-skew accepts any)",
            skew.spread_s,
            skew.latest_shard,
            limit.as_secs_f64(),
            skew.displaced_share * 100.0
        ));
    }
    // A shard that joined the schedule late (a late start or a restart, joined in place): its
    // load was missing for its gap, judged against the same bound as the start skew, and named
    // as one (its start is not in the spread above, so it fails once).
    if let Some(limit) = policy.max_skew {
        for s in &result.shards {
            let (Some(joined), Some(gap)) = (s.joined_at_s, s.gap_s) else {
                continue;
            };
            if gap > limit.as_secs_f64() {
                failures.push(format!(
                    "start skew: shard {} joined the schedule {joined:.1}s in (it started late or was restarted, and joined in place), its load missing for {gap:.1}s ({} arrivals missed), more than the {}s allowed (merge --max-skew sets the bound, --allow-skew accepts it)",
                    s.shard,
                    s.missed,
                    limit.as_secs_f64()
                ));
            }
        }
    }
    if let Some(rule) = &result.aborted_by {
        failures.push(format!(
            "aborted early: threshold `{rule}` failed (abort_on_fail)"
        ));
    }
    failures.extend(
        result
            .thresholds
            .iter()
            .filter(|t| !t.passed)
            .map(|t| format!("{}: {}", t.rule, t.message)),
    );
    if policy.fail_on_saturation && result.generator.saturated {
        failures.push(format!(
            "the load generator was saturated (--fail-on-saturation): {}",
            result.generator.warnings.join("; ")
        ));
    }
    failures.extend(regressions(comparison));
    if policy.unjudged_shard {
        // The shard's figures are a part of the whole: merge judges them together.
        failures.clear();
    }
    let status = if result.interrupted {
        TestStatus::Interrupted
    } else if failures.is_empty() {
        TestStatus::Passed
    } else {
        TestStatus::Failed
    };
    Judgement { status, failures }
}

/// One line per regressed metric of a comparison.
fn regressions(comparison: Option<&Comparison>) -> Vec<String> {
    comparison.map_or_else(Vec::new, |c| {
        c.metrics
            .iter()
            .filter(|m| m.verdict == MetricVerdict::Regressed)
            .map(|m| format!("regression: {}", describe_change(m)))
            .collect()
    })
}

/// Whether the harness's own rules held: every threshold and no `abort_on_fail` stop (the
/// verdict before any baseline comparison or run policy, reported as `TestResult::passed`).
pub fn thresholds_held(thresholds: &[ThresholdOutcome], aborted_by: Option<&str>) -> bool {
    thresholds.iter().all(|t| t.passed) && aborted_by.is_none()
}

/// Gives a result the outcomes of its rules, evaluated again on other data (a merge of shards,
/// a capacity step's seconds after its warm-up), and the `passed` that follows from them by
/// [`thresholds_held`]: the two never disagree.
pub fn set_thresholds(result: &mut TestResult, thresholds: Vec<ThresholdOutcome>) {
    result.passed = thresholds_held(&thresholds, result.aborted_by.as_deref());
    result.thresholds = thresholds;
}

/// How a test ended, owned: what [`Unjudged`] holds until the test is judged.
#[derive(Clone, Debug)]
pub enum Ended {
    /// The harness reported a result.
    Finished(TestResult),
    /// A capacity search ran (`--find-max`); `result` is the step it kept, when one ran.
    Searched {
        /// What the search found.
        capacity: crate::report::CapacityResult,
        /// The step at the found capacity (or the last step run).
        result: Option<TestResult>,
    },
    /// The test could not run to its end; why, in one line.
    Errored(String),
    /// The run was interrupted before the test started; why, in one line.
    NotStarted(String),
}

/// Everything known about one test before it is judged: its identity, how it ended, its
/// harness's error output, and its comparison with a baseline (saved or A/B) when there is one.
///
/// [`Unjudged::judge`] is the one way a run's [`TestReport`] gets its status: the comparison is
/// part of the evidence, so a report is final when it is built and nothing judges it again.
#[derive(Clone, Debug)]
pub struct Unjudged {
    /// The package of the test's cargo target.
    pub package: String,
    /// The cargo target (the harness binary).
    pub target: String,
    /// The test's name.
    pub name: String,
    /// How the test ended.
    pub ended: Ended,
    /// The harness's error output, for a test that errored.
    pub error: Option<String>,
    /// The comparison with a baseline, if one was compared.
    pub comparison: Option<Comparison>,
}

impl Unjudged {
    /// The test's identity.
    pub fn id(&self) -> crate::report::TestId<'_> {
        crate::report::TestId {
            package: &self.package,
            target: &self.target,
            name: &self.name,
        }
    }

    /// The result the harness reported, if any (a capacity search's kept step included).
    pub fn result(&self) -> Option<&TestResult> {
        match &self.ended {
            Ended::Finished(r) => Some(r),
            Ended::Searched { result, .. } => result.as_ref(),
            Ended::Errored(_) | Ended::NotStarted(_) => None,
        }
    }

    /// What a capacity search found, if one ran.
    pub fn capacity(&self) -> Option<&crate::report::CapacityResult> {
        match &self.ended {
            Ended::Searched { capacity, .. } => Some(capacity),
            _ => None,
        }
    }

    /// Judges the test on all of its evidence ([`judge`]) and builds its report.
    pub fn judge(self, policy: &Policy) -> TestReport {
        let comparison = self.comparison.as_ref();
        let j = match &self.ended {
            Ended::Finished(result) => judge(Evidence::Finished { result, comparison }, policy),
            Ended::Searched { capacity, .. } => judge(
                Evidence::Capacity {
                    capacity,
                    comparison,
                },
                policy,
            ),
            Ended::Errored(reason) => judge(Evidence::Errored { reason }, policy),
            Ended::NotStarted(reason) => judge(Evidence::NotStarted { reason }, policy),
        };
        let (result, capacity) = match self.ended {
            Ended::Finished(r) => (Some(r), None),
            Ended::Searched { capacity, result } => (result, Some(capacity)),
            Ended::Errored(_) | Ended::NotStarted(_) => (None, None),
        };
        TestReport {
            package: self.package,
            target: self.target,
            name: self.name,
            status: j.status,
            failures: j.failures,
            result,
            error: self.error,
            comparison: self.comparison,
            capacity,
        }
    }

    /// A test already judged, taken apart into its evidence, without its comparison: to judge
    /// a stored test against another baseline (`cargo loadtest compare`), or an A/B gate's last
    /// run of a test with the comparison over all of its rounds. A test without a result keeps
    /// the reasons it was given (errored, or not started when it was interrupted).
    pub fn from_report(test: TestReport) -> Unjudged {
        let ended = match (test.capacity, test.result) {
            (Some(capacity), result) => Ended::Searched { capacity, result },
            (None, Some(result)) => Ended::Finished(result),
            (None, None) => {
                let reason = test.failures.join("; ");
                if test.status == TestStatus::Interrupted {
                    Ended::NotStarted(reason)
                } else {
                    Ended::Errored(reason)
                }
            }
        };
        Unjudged {
            package: test.package,
            target: test.target,
            name: test.name,
            ended,
            error: test.error,
            comparison: None,
        }
    }
}

/// How a run ended, beyond its tests' statuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunEnd {
    /// The run was interrupted (Ctrl-C, SIGTERM, or an interrupted shard in a merge).
    pub interrupted: bool,
    /// A comparison with a baseline was refused (the load models differ and `--force-compare`
    /// was not given).
    pub refused: bool,
}

/// The run's report, built once from its judged tests: status and exit code by
/// [`run_outcome`].
pub fn run_report(
    run: crate::report::RunInfo,
    tests: Vec<TestReport>,
    gate: Option<crate::report::GateSummary>,
    end: RunEnd,
) -> RunReport {
    let (status, exit_code) = run_outcome(&tests, end);
    RunReport {
        schema_version: crate::report::SCHEMA_VERSION,
        run,
        status,
        exit_code,
        tests,
        gate,
    }
}

/// The run's status and exit code from its tests and how it ended: interrupted (130) over
/// failed (100) over passed (0); a refused comparison makes the run a usage error (exit 2)
/// whatever its status.
pub fn run_outcome(tests: &[TestReport], end: RunEnd) -> (RunStatus, i32) {
    let failed = tests
        .iter()
        .any(|r| matches!(r.status, TestStatus::Failed | TestStatus::Errored));
    let (status, code) = if end.interrupted {
        (RunStatus::Interrupted, exit_code::INTERRUPTED)
    } else if failed {
        (RunStatus::Failed, exit_code::TEST_FAILED)
    } else {
        (RunStatus::Passed, exit_code::OK)
    };
    (status, if end.refused { exit_code::USAGE } else { code })
}

/// The outcome of `cargo loadtest compare`, which judges regressions only: a stored report with
/// a regressed test fails (exit 100); otherwise its stored status stands and the exit code is 0.
pub fn comparison_outcome(report: &RunReport) -> (RunStatus, i32) {
    let regressed = report
        .tests
        .iter()
        .any(|t| t.comparison.as_ref().is_some_and(|c| c.regressed));
    if regressed {
        (RunStatus::Failed, exit_code::TEST_FAILED)
    } else {
        (report.status, exit_code::OK)
    }
}

/// One line for a compared metric: `p99 regressed +31.2% (95% CI +25.0% to +38.1%, tolerance 25%)`.
pub fn describe_change(m: &MetricComparison) -> String {
    let pct = |v: f64| format!("{:+.1}%", v * 100.0);
    let pp = |v: f64| format!("{:+.2} pp", v * 100.0);
    let f = |v: Option<f64>| {
        v.map_or_else(
            || "-".to_string(),
            if m.metric == GatedMetric::ErrorRate {
                pp
            } else {
                pct
            },
        )
    };
    match m.verdict {
        MetricVerdict::InsufficientData => {
            format!("{}: too few one-second windows to compare", m.metric)
        }
        v => format!(
            "{} {} {} ({} {} to {}, tolerance {}){}",
            m.metric,
            match v {
                MetricVerdict::Regressed => "regressed",
                MetricVerdict::Improved => "improved",
                MetricVerdict::Inconclusive => "inconclusive",
                _ => "unchanged",
            },
            f(m.change),
            if m.metric == GatedMetric::Capacity {
                "from the brackets:"
            } else {
                "95% CI"
            },
            f(m.ci_low),
            f(m.ci_high),
            if m.metric == GatedMetric::ErrorRate {
                format!("{:.2} pp", m.tolerance * 100.0)
            } else {
                format!("{:.0}%", m.tolerance * 100.0)
            },
            m.note
                .as_deref()
                .map_or_else(String::new, |n| format!(": {n}"))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdr;
    use crate::report::{MetricComparison, TestResult};
    use loadtest_grammar::parse_threshold;

    /// A p99 judged regressed by `change` (interval `low` to `high`) against a 25% tolerance.
    fn regressed_p99(change: f64, low: f64, high: f64) -> MetricComparison {
        MetricComparison {
            metric: GatedMetric::P99,
            old: 1000.0,
            new: 1000.0 * (1.0 + change),
            change: Some(change),
            ci_low: Some(low),
            ci_high: Some(high),
            confidence: 0.95,
            tolerance: 0.25,
            verdict: MetricVerdict::Regressed,
            note: None,
            spread: None,
            floor_us: None,
        }
    }

    /// Measurements held as plain values: enough to exercise every rule.
    struct Fixed {
        latency: Hist,
        home: Option<Hist>,
        completed: u64,
        failed: u64,
        home_requests: (u64, u64),
        dropped: u64,
    }

    impl Measurements for Fixed {
        fn iteration_latency(&self) -> &Hist {
            &self.latency
        }
        fn named_latency(&self, name: &str) -> Option<&Hist> {
            (name == "home").then_some(self.home.as_ref()).flatten()
        }
        fn completed(&self) -> u64 {
            self.completed
        }
        fn failed(&self) -> u64 {
            self.failed
        }
        fn requests(&self, name: Option<&str>) -> Option<(u64, u64)> {
            match name {
                None | Some("home") if self.home.is_some() => Some(self.home_requests),
                None => Some((0, 0)),
                _ => None,
            }
        }
        fn dropped(&self) -> u64 {
            self.dropped
        }
        fn late(&self) -> u64 {
            0
        }
    }

    fn measured() -> Fixed {
        let (mut latency, mut home) = (hdr::new_hist(), hdr::new_hist());
        for i in 1..=100 {
            hdr::record(&mut latency, i * 1000);
            hdr::record(&mut home, i * 100);
        }
        Fixed {
            latency,
            home: Some(home),
            completed: 100,
            failed: 0,
            home_requests: (100, 100),
            dropped: 0,
        }
    }

    fn empty() -> Fixed {
        Fixed {
            latency: hdr::new_hist(),
            home: None,
            completed: 0,
            failed: 0,
            home_requests: (0, 0),
            dropped: 0,
        }
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
        let mut m = measured();
        m.failed = m.completed;
        m.home_requests = (100, 0);
        let out = evaluate(
            &[
                parse_threshold("p99 < 200ms").unwrap(),
                parse_threshold("p99(home) < 200ms").unwrap(),
            ],
            &m,
            1.0,
        );
        assert!(!out[0].passed && out[0].observed.is_none());
        assert!(
            out[0]
                .message
                .starts_with("no data: none of the 100 iterations succeeded"),
            "{}",
            out[0].message
        );
        assert!(
            !out[1].passed
                && out[1]
                    .message
                    .contains("no request named \"home\" succeeded")
        );
    }

    #[test]
    fn latency_rules() {
        let out = evaluate(
            &[
                parse_threshold("p99 < 50ms").unwrap(),
                parse_threshold("p95(home) < 10ms").unwrap(),
            ],
            &measured(),
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
        let mut m = measured();
        m.completed += 1;
        m.failed = 1;
        let out = evaluate(&[], &m, 1.0);
        assert!(!out[0].passed && out[0].message.starts_with("1 of 101"));
        let out = evaluate(&[parse_threshold("error_rate < 2%").unwrap()], &m, 1.0);
        assert_eq!(out.len(), 1);
        assert!(out[0].passed);
    }

    #[test]
    fn missing_names_and_empty_runs_fail() {
        let out = evaluate(&[parse_threshold("p99(nope) < 1s").unwrap()], &empty(), 1.0);
        assert!(!out[0].passed && out[0].message.contains("\"nope\""));
        assert!(!out[1].passed && out[1].message == "no iteration completed");
    }

    #[test]
    fn rps_and_counts() {
        let out = evaluate(
            &[
                parse_threshold("rps > 9").unwrap(),
                parse_threshold("dropped == 0").unwrap(),
            ],
            &measured(),
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

    fn result_with(thresholds: Vec<ThresholdOutcome>) -> TestResult {
        TestResult {
            thresholds,
            ..TestResult::default()
        }
    }

    fn outcome(rule: &str, passed: bool) -> ThresholdOutcome {
        ThresholdOutcome {
            rule: rule.into(),
            passed,
            message: format!("{rule} message"),
            ..ThresholdOutcome::default()
        }
    }

    #[test]
    fn judge_reads_thresholds_abort_saturation_and_regressions() {
        let policy = Policy::default();
        let finished = |r: &TestResult, c: Option<&Comparison>| {
            judge(
                Evidence::Finished {
                    result: r,
                    comparison: c,
                },
                &policy,
            )
        };
        let passing = result_with(vec![outcome("p99 < 1s", true)]);
        assert_eq!(finished(&passing, None).status, TestStatus::Passed);
        assert!(thresholds_held(&passing.thresholds, None));

        let failing = result_with(vec![outcome("p99 < 1s", false), outcome("x", true)]);
        let j = finished(&failing, None);
        assert_eq!(j.status, TestStatus::Failed);
        assert_eq!(j.failures, ["p99 < 1s: p99 < 1s message"]);

        let mut aborted = failing.clone();
        aborted.aborted_by = Some("p99 < 1s".into());
        let j = finished(&aborted, None);
        assert!(j.failures[0].starts_with("aborted early: threshold `p99 < 1s`"));
        assert!(!thresholds_held(&aborted.thresholds, Some("p99 < 1s")));

        let mut interrupted = failing.clone();
        interrupted.interrupted = true;
        assert_eq!(finished(&interrupted, None).status, TestStatus::Interrupted);

        let mut saturated = passing.clone();
        saturated.generator.saturated = true;
        saturated.generator.warnings = vec!["cpu".into()];
        assert_eq!(finished(&saturated, None).status, TestStatus::Passed);
        let strict = Policy {
            fail_on_saturation: true,
            ..Policy::default()
        };
        let j = judge(
            Evidence::Finished {
                result: &saturated,
                comparison: None,
            },
            &strict,
        );
        assert_eq!(j.status, TestStatus::Failed);
        assert!(j.failures[0].contains("--fail-on-saturation): cpu"));

        let mut skewed = passing.clone();
        skewed.start_skew = Some(crate::report::StartSkew {
            spread_s: 5.0,
            displaced_share: 0.11,
            latest_shard: 3,
        });
        assert_eq!(
            finished(&skewed, None).status,
            TestStatus::Passed,
            "not a merge"
        );
        let merge = |limit_s: u64| Policy {
            max_skew: Some(std::time::Duration::from_secs(limit_s)),
            ..Policy::default()
        };
        let skew = |policy: &Policy| {
            judge(
                Evidence::Finished {
                    result: &skewed,
                    comparison: None,
                },
                policy,
            )
        };
        let j = skew(&merge(1));
        assert_eq!(j.status, TestStatus::Failed);
        assert!(
            j.failures[0].starts_with("start skew: the shards started 5.0s apart (shard 3 last), more than the 1s allowed; 11.0% of the run's shard-time"),
            "{:?}",
            j.failures
        );
        assert_eq!(skew(&merge(10)).status, TestStatus::Passed);

        let comparison = Comparison {
            metrics: vec![regressed_p99(0.5, 0.4, 0.6)],
            regressed: true,
            ..Comparison::default()
        };
        let j = finished(&passing, Some(&comparison));
        assert_eq!(j.status, TestStatus::Failed);
        assert_eq!(
            j.failures,
            ["regression: p99 regressed +50.0% (95% CI +40.0% to +60.0%, tolerance 25%)"]
        );
    }

    #[test]
    fn tests_that_did_not_finish_and_the_run_outcome() {
        let policy = Policy::default();
        let j = judge(Evidence::Errored { reason: "crashed" }, &policy);
        assert_eq!(
            (j.status, j.failures),
            (TestStatus::Errored, vec!["crashed".into()])
        );
        let j = judge(
            Evidence::NotStarted {
                reason: "interrupted",
            },
            &policy,
        );
        assert_eq!(j.status, TestStatus::Interrupted);

        let report = |status| TestReport {
            package: "p".into(),
            target: "t".into(),
            name: "n".into(),
            status,
            failures: vec![],
            result: None,
            error: None,
            comparison: None,
            capacity: None,
        };
        let passed = [report(TestStatus::Passed)];
        assert_eq!(
            run_outcome(&passed, RunEnd::default()),
            (RunStatus::Passed, exit_code::OK)
        );
        let errored = [report(TestStatus::Passed), report(TestStatus::Errored)];
        assert_eq!(
            run_outcome(&errored, RunEnd::default()),
            (RunStatus::Failed, exit_code::TEST_FAILED)
        );
        let interrupted = RunEnd {
            interrupted: true,
            refused: false,
        };
        assert_eq!(
            run_outcome(&errored, interrupted),
            (RunStatus::Interrupted, exit_code::INTERRUPTED)
        );
        let refused = RunEnd {
            interrupted: false,
            refused: true,
        };
        assert_eq!(
            run_outcome(&passed, refused),
            (RunStatus::Passed, exit_code::USAGE)
        );
    }

    #[test]
    fn a_test_is_judged_once_on_its_comparison_too() {
        let regressed = Comparison {
            metrics: vec![regressed_p99(0.3, 0.26, 0.34)],
            regressed: true,
            ..Comparison::default()
        };
        let unjudged = |comparison| Unjudged {
            package: "p".into(),
            target: "t".into(),
            name: "n".into(),
            ended: Ended::Finished(result_with(vec![outcome("p99 < 1s", true)])),
            error: None,
            comparison,
        };
        let report = unjudged(Some(regressed)).judge(&Policy::default());
        assert_eq!(report.status, TestStatus::Failed);
        assert_eq!(
            report.failures,
            ["regression: p99 regressed +30.0% (95% CI +26.0% to +34.0%, tolerance 25%)"]
        );
        assert!(report.comparison.is_some_and(|c| c.regressed));
        let report = unjudged(None).judge(&Policy::default());
        assert_eq!(report.status, TestStatus::Passed);

        // A judged test taken apart into its evidence judges the same way again.
        let again = Unjudged::from_report(report.clone());
        assert!(again.comparison.is_none() && again.result().is_some());
        assert_eq!(again.judge(&Policy::default()), report);
        for (status, failures) in [
            (TestStatus::Errored, vec!["crashed".to_string()]),
            (TestStatus::Interrupted, vec!["interrupted".to_string()]),
        ] {
            let without = TestReport {
                status,
                failures,
                result: None,
                ..report.clone()
            };
            let again = Unjudged::from_report(without.clone());
            assert_eq!(again.judge(&Policy::default()), without);
        }
    }
}
