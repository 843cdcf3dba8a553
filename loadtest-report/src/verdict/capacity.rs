//! The verdict on capacity searches (`cargo loadtest --find-max`): each step is judged by the
//! same [`evaluate`](super::evaluate) as any test, on its seconds after the warm-up
//! ([`StepWindow`]), and a capacity test's status comes from what the search found
//! ([`judge_capacity`], reached through [`super::judge`]).
//!
//! Which rate to try next is the CLI's business; whether a step and a test passed is decided
//! here and nowhere else.

use super::{Judgement, Measurements, evaluate};
use crate::class::RequestClass;
use crate::hdr::{self, Hist};
use crate::report::{
    CapacityOutcome, CapacityResult, CapacityStep, StepVerdict, TestResult, TestStatus,
    ThresholdOutcome, human_rate,
};
use loadtest_grammar::{Metric, Op, Threshold};

/// A step's measurements after its warm-up, read from the per-second series.
///
/// Iteration latency, iteration counts and request totals are exact over the judged seconds.
/// Request names' latencies are too when the series carries them (the CLI asks for them in
/// every step). Custom latencies, per-name request counts, dropped starts, and a name with no
/// request in the judged seconds have no per-second figures, so rules on them see the whole
/// step, warm-up included; late starts count from the warm-up the harness was told of
/// (`protocol::TestRequest::health_warm_up_s`).
pub struct StepWindow<'a> {
    result: &'a TestResult,
    latency: Hist,
    named: Vec<(String, Hist)>,
    completed: u64,
    failed: u64,
    requests: u64,
    request_errors: u64,
    /// The judged seconds.
    pub elapsed_s: f64,
}

impl<'a> StepWindow<'a> {
    /// The seconds of `result` that end more than `warm_up_s` (plus half a second, the
    /// series' tick jitter) after its start. A series without histograms (a schema-1 report)
    /// gives the whole step.
    pub fn new(result: &'a TestResult, warm_up_s: f64) -> StepWindow<'a> {
        let mut w = StepWindow {
            result,
            latency: hdr::new_hist(),
            named: Vec::new(),
            completed: 0,
            failed: 0,
            requests: 0,
            request_errors: 0,
            elapsed_s: 0.0,
        };
        let mut prev_t = 0.0;
        let mut whole = false;
        for p in &result.series {
            let span = p.t_s - prev_t;
            prev_t = p.t_s;
            if p.t_s <= warm_up_s + 0.5 {
                continue;
            }
            let Some(h) = p
                .iteration_latency
                .as_deref()
                .and_then(|e| hdr::decode(e).ok())
            else {
                whole = true;
                break;
            };
            let _ = w.latency.add(&h);
            for (name, enc) in &p.request_latency {
                if let Ok(h) = hdr::decode(enc) {
                    match w.named.iter_mut().find(|(n, _)| n == name) {
                        Some((_, acc)) => {
                            let _ = acc.add(&h);
                        }
                        None => w.named.push((name.clone(), h)),
                    }
                }
            }
            w.completed += p.iterations;
            w.failed += p.failed;
            w.requests += p.requests;
            w.request_errors += p.request_errors;
            w.elapsed_s += span.max(0.0);
        }
        for (name, m) in &result.request_names {
            if !w.named.iter().any(|(n, _)| n == name)
                && let Ok(h) = hdr::decode(&m.latency.hdr_v2_base64)
            {
                w.named.push((name.clone(), h));
            }
        }
        for (name, c) in &result.custom_latencies {
            if !w.named.iter().any(|(n, _)| n == name)
                && let Ok(h) = hdr::decode(&c.hdr_v2_base64)
            {
                w.named.push((name.clone(), h));
            }
        }
        if whole {
            w.latency = hdr::decode(&result.iteration_latency.hdr_v2_base64)
                .unwrap_or_else(|_| hdr::new_hist());
            w.completed = result.iterations.total;
            w.failed = result.iterations.failed;
            w.requests = result.requests.total;
            w.request_errors = result.requests.total.saturating_sub(
                result
                    .requests
                    .by_class
                    .get(&RequestClass::Ok)
                    .copied()
                    .unwrap_or(0),
            );
            w.elapsed_s = result.elapsed_s;
        }
        w
    }
}

impl Measurements for StepWindow<'_> {
    fn iteration_latency(&self) -> &Hist {
        &self.latency
    }

    fn named_latency(&self, name: &str) -> Option<&Hist> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, h)| h)
    }

    fn completed(&self) -> u64 {
        self.completed
    }

    fn failed(&self) -> u64 {
        self.failed
    }

    fn requests(&self, name: Option<&str>) -> Option<(u64, u64)> {
        match name {
            None => Some((
                self.requests,
                self.requests.saturating_sub(self.request_errors),
            )),
            Some(n) => self.result.request_names.get(n).map(|m| {
                let ok = m.by_class.get(&RequestClass::Ok).copied().unwrap_or(0);
                (m.count, ok)
            }),
        }
    }

    fn dropped(&self) -> u64 {
        self.result.iterations.dropped
    }

    fn late(&self) -> u64 {
        self.result.iterations.late
    }
}

/// When a failing step is failing badly enough to end the search at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cutoff {
    /// A failed-iteration share above this (a fraction).
    pub error_rate: f64,
    /// A percentile rule (`p99 < 250ms`) observed above this multiple of its limit.
    pub latency_factor: f64,
}

/// Judges one step of a capacity search that ran at `rate_per_s`: on its seconds after
/// `warm_up_s`, by the test's own thresholds (and the implicit error budget). Returns the step
/// and the rule outcomes it was judged by.
///
/// An interrupted step is not judged; a step whose generator was saturated
/// ([`generator_limited`]) is [`StepVerdict::GeneratorLimited`] whatever its thresholds say
/// (its latencies may be the generator's own delays), unless more iterations failed than the
/// error cut-off allows (failures are the system's answers); a failing step beyond a [`Cutoff`]
/// is [`StepVerdict::FailedBadly`].
pub fn judge_step(
    result: &TestResult,
    rate_per_s: f64,
    warm_up_s: f64,
    cutoff: &Cutoff,
) -> (CapacityStep, Vec<ThresholdOutcome>) {
    let window = StepWindow::new(result, warm_up_s);
    // Rules were checked before the run; one that does not parse cannot come from this version.
    let rules: Vec<Threshold> = result
        .config
        .thresholds
        .iter()
        .filter_map(|r| loadtest_grammar::parse_threshold(r).ok())
        .collect();
    let outcomes = evaluate(&rules, &window, window.elapsed_s);
    let error_rate = if window.completed == 0 {
        0.0
    } else {
        window.failed as f64 / window.completed as f64
    };
    let mut step = CapacityStep {
        rate_per_s,
        judged_s: window.elapsed_s,
        iterations: window.completed,
        failed: window.failed,
        achieved_per_s: if window.elapsed_s > 0.0 {
            window.completed as f64 / window.elapsed_s
        } else {
            0.0
        },
        error_rate,
        p50_us: window.latency.value_at_quantile(0.50),
        p95_us: window.latency.value_at_quantile(0.95),
        p99_us: window.latency.value_at_quantile(0.99),
        verdict: StepVerdict::Passed,
        reasons: Vec::new(),
    };
    if result.interrupted {
        step.verdict = StepVerdict::Interrupted;
        step.reasons
            .push("interrupted before the step ended; not judged".into());
        return (step, outcomes);
    }
    // Failed iterations are the system's answers whatever the generator's state: a step beyond
    // the error cut-off ends the search (protecting the system) even when the generator lagged.
    let errors_beyond_cutoff = window.completed > 0 && error_rate > cutoff.error_rate;
    if generator_limited(&result.generator) && !errors_beyond_cutoff {
        step.verdict = StepVerdict::GeneratorLimited;
        step.reasons.extend(
            result
                .generator
                .warnings
                .iter()
                .map(|w| format!("generator: {w}")),
        );
        return (step, outcomes);
    }
    if let Some(rule) = &result.aborted_by {
        step.reasons.push(format!(
            "aborted early: threshold `{rule}` failed (abort_on_fail)"
        ));
    }
    step.reasons.extend(
        outcomes
            .iter()
            .filter(|o| !o.passed)
            .map(|o| format!("{}: {}", o.rule, o.message)),
    );
    if step.reasons.is_empty() {
        return (step, outcomes);
    }
    step.verdict = StepVerdict::Failed;
    let mut bad = Vec::new();
    if window.completed == 0 {
        bad.push("no iteration completed after the warm-up".to_string());
    } else if error_rate > cutoff.error_rate {
        bad.push(format!(
            "{:.1}% of iterations failed, above the {:.1}% cut-off",
            error_rate * 100.0,
            cutoff.error_rate * 100.0
        ));
    }
    for (rule, outcome) in rules.iter().zip(&outcomes) {
        let upper = matches!(rule.op, Op::Lt | Op::Le);
        if let (Metric::Percentile(_), true, Some(v)) = (rule.metric, upper, outcome.observed)
            && rule.limit > 0.0
            && v > cutoff.latency_factor * rule.limit
        {
            bad.push(format!(
                "`{}` was observed at {:.1}x its limit, above the {}x cut-off",
                rule.source,
                v / rule.limit,
                cutoff.latency_factor
            ));
        }
    }
    if !bad.is_empty() {
        step.verdict = StepVerdict::FailedBadly;
        step.reasons
            .extend(bad.into_iter().map(|b| format!("failed badly: {b}")));
    }
    (step, outcomes)
}

/// Fewer late starts than this do not make a step's generator the limit: over the few hundred
/// starts of a short step, the p99 scheduling lag is one or two starts, and one start delayed by
/// another process is not a generator that cannot keep up.
pub const MIN_LATE_STARTS: u64 = 5;

/// Whether a step's generator limited it: it was flagged saturated (see
/// [`super::judge_generator`]) by dropped iterations, by its CPU use, or by a p99 scheduling lag
/// that at least [`MIN_LATE_STARTS`] late starts make up.
pub fn generator_limited(h: &crate::report::GeneratorHealth) -> bool {
    let cpu = h.cpus > 0 && h.cpu_percent > super::CPU_SATURATED * 100.0 * h.cpus as f64;
    h.saturated && (h.dropped > 0 || cpu || h.late >= MIN_LATE_STARTS)
}

/// A capacity test's status: a search that found (or bounded) a capacity passes when the
/// capacity meets `min_capacity` (when given); one that found no passing rate fails; one that
/// the generator limited is an error unless the rate it reached already meets `min_capacity`;
/// an interrupted search is interrupted; regressions found by a baseline comparison fail it.
pub fn judge_capacity(c: &CapacityResult, regressions: Vec<String>) -> Judgement {
    let mut failures = Vec::new();
    let min = c.settings.min_capacity_per_s;
    let meets_min = |cap: Option<f64>| match (min, cap) {
        (None, _) => true,
        (Some(m), Some(v)) => v >= m,
        (Some(_), None) => false,
    };
    let below_min = |cap: Option<f64>| {
        format!(
            "capacity {} is below min_capacity {}",
            cap.map_or_else(|| "none".to_string(), human_rate),
            min.map_or_else(String::new, human_rate)
        )
    };
    let status = match c.outcome {
        CapacityOutcome::Interrupted => {
            failures.push(c.summary.clone());
            TestStatus::Interrupted
        }
        CapacityOutcome::Errored => {
            failures.push(c.summary.clone());
            TestStatus::Errored
        }
        CapacityOutcome::GeneratorLimited => {
            if min.is_some() && meets_min(c.capacity_per_s) {
                TestStatus::Passed
            } else {
                failures.push(c.summary.clone());
                TestStatus::Errored
            }
        }
        CapacityOutcome::NoPassingRate => {
            failures.push(c.summary.clone());
            TestStatus::Failed
        }
        CapacityOutcome::StoppedBadStep if c.capacity_per_s.is_none() => {
            failures.push(c.summary.clone());
            TestStatus::Failed
        }
        CapacityOutcome::Found | CapacityOutcome::AtCeiling | CapacityOutcome::StoppedBadStep => {
            if meets_min(c.capacity_per_s) {
                TestStatus::Passed
            } else {
                failures.push(below_min(c.capacity_per_s));
                TestStatus::Failed
            }
        }
    };
    let status = if status == TestStatus::Passed && !regressions.is_empty() {
        TestStatus::Failed
    } else {
        status
    };
    failures.extend(regressions);
    Judgement { status, failures }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CapacitySettings, IntervalPoint};

    /// A step result: one point per second, `per_s` iterations each of latency `us[i]`, and
    /// `failed[i]` of them failed.
    fn step(us: &[u64], per_s: u64, failed: &[u64], thresholds: &[&str]) -> TestResult {
        let mut whole = hdr::new_hist();
        let series = us
            .iter()
            .zip(failed)
            .enumerate()
            .map(|(i, (&v, &f))| {
                let mut h = hdr::new_hist();
                for _ in 0..per_s {
                    hdr::record(&mut h, v);
                    hdr::record(&mut whole, v);
                }
                IntervalPoint {
                    t_s: (i + 1) as f64,
                    iterations: per_s,
                    failed: f,
                    requests: per_s,
                    request_errors: f,
                    iteration_latency: Some(hdr::encode(&h)),
                    ..IntervalPoint::default()
                }
            })
            .collect();
        let mut r = TestResult {
            series,
            elapsed_s: us.len() as f64,
            iteration_latency: hdr::to_report(&whole),
            ..TestResult::default()
        };
        r.config.thresholds = thresholds.iter().map(|s| s.to_string()).collect();
        r.iterations.total = per_s * us.len() as u64;
        r.iterations.failed = failed.iter().sum();
        r
    }

    const CUT: Cutoff = Cutoff {
        error_rate: 0.5,
        latency_factor: 5.0,
    };

    #[test]
    fn warm_up_seconds_are_not_judged() {
        // A slow first second (the warm-up) then fast ones: the step passes.
        let r = step(&[900_000, 5_000, 5_000], 100, &[3, 0, 0], &["p99 < 100ms"]);
        let (s, outcomes) = judge_step(&r, 100.0, 1.0, &CUT);
        assert_eq!(s.verdict, StepVerdict::Passed, "{:?}", s.reasons);
        assert_eq!((s.iterations, s.failed), (200, 0));
        assert!((s.judged_s - 2.0).abs() < 1e-9 && (s.achieved_per_s - 100.0).abs() < 1e-9);
        assert!(outcomes.iter().all(|o| o.passed));
        // Judged from the start, the same step fails the rule (9x over: badly) and the error
        // budget.
        let (s, _) = judge_step(&r, 100.0, 0.0, &CUT);
        assert_eq!(s.verdict, StepVerdict::FailedBadly);
        assert!(s.reasons[0].starts_with("p99 < 100ms: "), "{:?}", s.reasons);
        assert!(
            s.reasons[1].starts_with("error budget: 3 of 300"),
            "{:?}",
            s.reasons
        );
    }

    #[test]
    fn failing_steps_and_the_cut_offs() {
        let r = step(
            &[5_000, 150_000, 150_000],
            100,
            &[0, 0, 0],
            &["p99 < 100ms"],
        );
        let (s, _) = judge_step(&r, 100.0, 1.0, &CUT);
        assert_eq!(s.verdict, StepVerdict::Failed);
        assert!(
            s.reasons[0].starts_with("p99 < 100ms: p99 was"),
            "{:?}",
            s.reasons
        );

        let r = step(
            &[5_000, 600_000, 600_000],
            100,
            &[0, 0, 0],
            &["p99 < 100ms"],
        );
        let (s, _) = judge_step(&r, 100.0, 1.0, &CUT);
        assert_eq!(s.verdict, StepVerdict::FailedBadly);
        assert!(s.reasons.iter().any(|r| r.contains("above the 5x cut-off")));

        let r = step(
            &[5_000, 5_000, 5_000],
            100,
            &[0, 40, 60],
            &["error_rate < 1%"],
        );
        let (s, _) = judge_step(&r, 100.0, 1.0, &CUT);
        assert_eq!(s.verdict, StepVerdict::Failed, "{:?}", s.reasons);
        assert!((s.error_rate - 0.5).abs() < 1e-9);
        let r = step(
            &[5_000, 5_000, 5_000],
            100,
            &[0, 60, 60],
            &["error_rate < 1%"],
        );
        let (s, _) = judge_step(&r, 100.0, 1.0, &CUT);
        assert_eq!(s.verdict, StepVerdict::FailedBadly);
        assert!(
            s.reasons
                .iter()
                .any(|r| r.contains("60.0% of iterations failed"))
        );
    }

    #[test]
    fn a_saturated_generator_or_an_interrupt_outranks_the_thresholds() {
        let mut r = step(&[5_000, 600_000], 100, &[0, 0], &["p99 < 100ms"]);
        r.generator.saturated = true;
        r.generator.warnings = vec!["iterations started up to 12ms late".into()];
        // A lag that one late start makes up is not the generator's limit.
        r.generator.late = 1;
        assert_eq!(
            judge_step(&r, 100.0, 0.0, &CUT).0.verdict,
            StepVerdict::FailedBadly
        );
        r.generator.late = MIN_LATE_STARTS;
        assert_eq!(
            judge_step(&r, 100.0, 0.0, &CUT).0.verdict,
            StepVerdict::GeneratorLimited
        );
        // Failures beyond the error cut-off are the system's, whatever the generator's state.
        let mut failing = step(&[5_000, 5_000], 100, &[60, 80], &["error_rate < 1%"]);
        failing.generator = r.generator.clone();
        assert_eq!(
            judge_step(&failing, 100.0, 0.0, &CUT).0.verdict,
            StepVerdict::FailedBadly
        );
        r.generator.late = 0;
        r.generator.cpus = 1;
        r.generator.cpu_percent = 99.0;
        r.generator.warnings = vec!["the generator used 99% CPU of 1 cores".into()];
        let (s, _) = judge_step(&r, 100.0, 0.0, &CUT);
        assert_eq!(s.verdict, StepVerdict::GeneratorLimited);
        assert_eq!(
            s.reasons,
            ["generator: the generator used 99% CPU of 1 cores"]
        );
        r.interrupted = true;
        assert_eq!(
            judge_step(&r, 100.0, 0.0, &CUT).0.verdict,
            StepVerdict::Interrupted
        );
    }

    fn searched(outcome: CapacityOutcome, cap: Option<f64>, min: Option<f64>) -> CapacityResult {
        CapacityResult {
            settings: CapacitySettings {
                min_capacity_per_s: min,
                ..CapacitySettings::default()
            },
            outcome,
            capacity_per_s: cap,
            summary: "summary".into(),
            ..CapacityResult::default()
        }
    }

    #[test]
    fn capacity_tests_pass_on_min_capacity() {
        let j = |o, cap, min| judge_capacity(&searched(o, cap, min), vec![]);
        assert_eq!(
            j(CapacityOutcome::Found, Some(96.0), None).status,
            TestStatus::Passed
        );
        assert_eq!(
            j(CapacityOutcome::Found, Some(96.0), Some(90.0)).status,
            TestStatus::Passed
        );
        let below = j(CapacityOutcome::Found, Some(96.0), Some(100.0));
        assert_eq!(below.status, TestStatus::Failed);
        assert_eq!(
            below.failures,
            ["capacity 96.0/s is below min_capacity 100/s"]
        );
        assert_eq!(
            j(CapacityOutcome::AtCeiling, Some(500.0), Some(400.0)).status,
            TestStatus::Passed
        );
        assert_eq!(
            j(CapacityOutcome::NoPassingRate, None, None).status,
            TestStatus::Failed
        );
        assert_eq!(
            j(CapacityOutcome::StoppedBadStep, None, None).status,
            TestStatus::Failed
        );
        assert_eq!(
            j(CapacityOutcome::StoppedBadStep, Some(50.0), None).status,
            TestStatus::Passed
        );
        assert_eq!(
            j(CapacityOutcome::GeneratorLimited, Some(50.0), None).status,
            TestStatus::Errored
        );
        assert_eq!(
            j(CapacityOutcome::GeneratorLimited, Some(50.0), Some(40.0)).status,
            TestStatus::Passed
        );
        assert_eq!(
            j(CapacityOutcome::Interrupted, Some(50.0), None).status,
            TestStatus::Interrupted
        );
        let regressed = judge_capacity(
            &searched(CapacityOutcome::Found, Some(96.0), None),
            vec!["regression: capacity".into()],
        );
        assert_eq!(regressed.status, TestStatus::Failed);
    }
}
