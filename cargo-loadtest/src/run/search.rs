//! The capacity search's plan: which arrival rate to try next, given the steps judged so far,
//! and what the search found when it ends. Pure logic; running and judging the steps is
//! [`super::capacity`]'s and the verdict's business.
//!
//! From the start rate the rate grows by a fixed factor while steps pass (never above the
//! ceiling); if the first step fails it halves instead, a few times at most. Once a passing and
//! a failing rate bracket the capacity, bisection narrows the bracket to the resolution. A step
//! that fails badly, a saturated generator, an interrupt or a step that could not run ends the
//! search at once.

use loadtest_report::report::{
    CapacityOutcome, CapacityResult, CapacitySettings, CapacityStep, StepVerdict, human_rate,
};

/// The most steps one search runs; a search that reaches it reports the bracket it has.
pub(crate) const MAX_STEPS: usize = 40;

/// How often the search halves a failing start rate looking for one that passes.
const HALVINGS: i32 = 6;

/// How the next rate is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stepping {
    /// The first rate, per second.
    pub(crate) start: f64,
    /// The ceiling, per second: no step above it.
    pub(crate) max: f64,
    /// The factor between a passing rate and the next while no step failed.
    pub(crate) growth: f64,
    /// Bisection stops when `fail - pass <= resolution * pass`.
    pub(crate) resolution: f64,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Next {
    /// Run a step at this rate (per second).
    Step(f64),
    /// The search is over.
    Done(CapacityOutcome),
}

/// The state of one search.
#[derive(Debug)]
pub(crate) struct Search {
    plan: Stepping,
    /// The highest passing rate.
    pass: Option<f64>,
    /// The lowest rate that did not pass, and why.
    fail: Option<(f64, Vec<String>)>,
    steps: usize,
    /// Set when a step ended the search (bad step, generator, interrupt, error): the outcome,
    /// the step's rate and why.
    ended: Option<(CapacityOutcome, f64, Vec<String>)>,
}

/// Rates are kept to hundredths of an iteration per second.
fn round(rate: f64) -> f64 {
    (rate * 100.0).round() / 100.0
}

impl Search {
    pub(crate) fn new(plan: Stepping) -> Search {
        Search {
            plan,
            pass: None,
            fail: None,
            steps: 0,
            ended: None,
        }
    }

    /// The lowest rate the search tries when the start rate fails.
    fn floor(&self) -> f64 {
        round(self.start() / 2f64.powi(HALVINGS)).max(0.01)
    }

    fn start(&self) -> f64 {
        round(self.plan.start.min(self.plan.max))
    }

    /// The next step, or the end.
    pub(crate) fn next(&self) -> Next {
        if let Some((outcome, _, _)) = &self.ended {
            return Next::Done(*outcome);
        }
        if self.steps >= MAX_STEPS {
            return Next::Done(match (self.pass, &self.fail) {
                (None, _) => CapacityOutcome::NoPassingRate,
                (Some(_), Some(_)) => CapacityOutcome::Found,
                (Some(_), None) => CapacityOutcome::AtCeiling,
            });
        }
        match (self.pass, &self.fail) {
            (None, None) => Next::Step(self.start()),
            (Some(p), None) => {
                if p >= self.plan.max {
                    Next::Done(CapacityOutcome::AtCeiling)
                } else {
                    Next::Step(round((p * self.plan.growth).min(self.plan.max)).max(p + 0.01))
                }
            }
            (None, Some((f, _))) => {
                let floor = self.floor();
                if *f <= floor {
                    Next::Done(CapacityOutcome::NoPassingRate)
                } else {
                    Next::Step(round(f / 2.0).max(floor))
                }
            }
            (Some(p), Some((f, _))) => {
                let mid = round((p + f) / 2.0);
                if f - p <= self.plan.resolution * p || mid <= p || mid >= *f {
                    Next::Done(CapacityOutcome::Found)
                } else {
                    Next::Step(mid)
                }
            }
        }
    }

    /// Records the verdict on the step run at `rate`.
    pub(crate) fn record(&mut self, rate: f64, verdict: StepVerdict, reasons: &[String]) {
        self.steps += 1;
        let reasons = reasons.to_vec();
        match verdict {
            StepVerdict::Passed => {
                self.pass = Some(self.pass.map_or(rate, |p| p.max(rate)));
            }
            StepVerdict::Failed => self.failed_at(rate, reasons),
            StepVerdict::FailedBadly => {
                self.failed_at(rate, reasons.clone());
                self.ended = Some((CapacityOutcome::StoppedBadStep, rate, reasons));
            }
            StepVerdict::GeneratorLimited => {
                self.failed_at(rate, reasons.clone());
                self.ended = Some((CapacityOutcome::GeneratorLimited, rate, reasons));
            }
            StepVerdict::Interrupted => {
                self.ended = Some((CapacityOutcome::Interrupted, rate, reasons));
            }
            StepVerdict::Errored => {
                self.ended = Some((CapacityOutcome::Errored, rate, reasons));
            }
        }
    }

    /// Ends the search because of an interrupt that came between steps.
    pub(crate) fn interrupt(&mut self) {
        if self.ended.is_none() {
            self.ended = Some((CapacityOutcome::Interrupted, 0.0, Vec::new()));
        }
    }

    fn failed_at(&mut self, rate: f64, reasons: Vec<String>) {
        if self.fail.as_ref().is_none_or(|(f, _)| rate < *f) {
            self.fail = Some((rate, reasons));
        }
    }

    /// What the search found, with its steps and settings.
    pub(crate) fn conclude(
        self,
        steps: Vec<CapacityStep>,
        settings: CapacitySettings,
    ) -> CapacityResult {
        let outcome = match self.next() {
            Next::Done(o) => o,
            // Only reached if the caller stopped early without recording why.
            Next::Step(_) => CapacityOutcome::Interrupted,
        };
        let (above, broken_by) = match &self.fail {
            Some((f, why)) => (Some(*f), why.clone()),
            None => (None, Vec::new()),
        };
        let pass = self.pass;
        let first = |v: &[String]| v.first().cloned().unwrap_or_default();
        let so_far = match (pass, above) {
            (Some(p), Some(f)) => format!("{} passed, {} did not", human_rate(p), human_rate(f)),
            (Some(p), None) => format!("{} passed", human_rate(p)),
            (None, Some(f)) => format!("no rate passed; {} did not", human_rate(f)),
            (None, None) => "no step finished".to_string(),
        };
        let summary = match outcome {
            CapacityOutcome::Found => format!(
                "capacity {}: {} met every rule, {} did not ({})",
                pass.map_or_else(String::new, human_rate),
                pass.map_or_else(String::new, human_rate),
                above.map_or_else(|| "-".into(), human_rate),
                first(&broken_by)
            ),
            CapacityOutcome::AtCeiling => format!(
                "capacity at least {}: every step passed up to the ceiling (--max-rate {})",
                pass.map_or_else(String::new, human_rate),
                human_rate(settings.max_rate_per_s)
            ),
            CapacityOutcome::NoPassingRate => format!(
                "no rate met every rule, down to {} ({})",
                above.map_or_else(|| "-".into(), human_rate),
                first(&broken_by)
            ),
            CapacityOutcome::StoppedBadStep => {
                let (_, rate, why) = self.ended.clone().unwrap_or_default();
                format!(
                    "the search stopped at {}, which failed badly ({}); {}",
                    human_rate(rate),
                    why.iter()
                        .find(|w| w.starts_with("failed badly"))
                        .cloned()
                        .unwrap_or_else(|| first(&why)),
                    match pass {
                        Some(p) => format!("capacity {} (the last passing rate)", human_rate(p)),
                        None => "no rate passed before it".into(),
                    }
                )
            }
            CapacityOutcome::GeneratorLimited => {
                let (_, rate, why) = self.ended.clone().unwrap_or_default();
                format!(
                    "the load generator, not the system, was the limit at {} ({}); {}. Give the harness more cores, or split the load over several generators (scale-out shards)",
                    human_rate(rate),
                    first(&why),
                    match pass {
                        Some(p) => format!("the system met every rule up to {}", human_rate(p)),
                        None => "no rate passed before it".into(),
                    }
                )
            }
            CapacityOutcome::Interrupted => {
                format!("interrupted; found so far: {so_far}")
            }
            CapacityOutcome::Errored => {
                let (_, rate, why) = self.ended.clone().unwrap_or_default();
                format!(
                    "the step at {} could not run ({}); found so far: {so_far}",
                    human_rate(rate),
                    first(&why)
                )
            }
        };
        // What broke above the capacity: the bracket's failing step, or the step that ended it.
        let broken_by = match (&self.ended, outcome) {
            (Some((_, _, why)), CapacityOutcome::GeneratorLimited) => why.clone(),
            _ => broken_by,
        };
        CapacityResult {
            settings,
            steps,
            outcome,
            capacity_per_s: pass,
            above_per_s: above,
            broken_by,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(start: f64, max: f64) -> Stepping {
        Stepping {
            start,
            max,
            growth: 1.5,
            resolution: 0.05,
        }
    }

    /// Runs a search against a system that passes every rate up to `capacity`, returning the
    /// rates tried and the result.
    fn against(plan: Stepping, capacity: f64) -> (Vec<f64>, CapacityResult) {
        let mut s = Search::new(plan);
        let mut tried = Vec::new();
        while let Next::Step(r) = s.next() {
            assert!(r <= plan.max, "{r} is above the ceiling {}", plan.max);
            assert!(tried.len() < MAX_STEPS, "too many steps: {tried:?}");
            tried.push(r);
            if r <= capacity {
                s.record(r, StepVerdict::Passed, &[]);
            } else {
                s.record(r, StepVerdict::Failed, &["p99 < 1s: p99 was 2s".into()]);
            }
        }
        let result = s.conclude(Vec::new(), CapacitySettings::default());
        (tried, result)
    }

    #[test]
    fn grows_then_bisects_to_the_resolution() {
        let (tried, r) = against(plan(25.0, 1000.0), 300.0);
        let expected = [25.0, 37.5, 56.25, 84.38, 126.57, 189.86, 284.79];
        for (t, e) in tried.iter().zip(expected) {
            assert!((t - e).abs() < 0.011, "{tried:?}");
        }
        assert_eq!(r.outcome, CapacityOutcome::Found);
        let (cap, above) = (r.capacity_per_s.unwrap(), r.above_per_s.unwrap());
        assert!(cap <= 300.0 && above > 300.0, "{cap} {above}");
        assert!(above - cap <= 0.05 * cap, "{cap} {above}");
        assert_eq!(r.broken_by, ["p99 < 1s: p99 was 2s"]);
        assert!(
            r.summary
                .starts_with(&format!("capacity {}", human_rate(cap))),
            "{}",
            r.summary
        );
        // Within the resolution of the truth, for many capacities.
        for truth in [1.0, 7.0, 99.0, 100.0, 101.0, 333.0, 999.0] {
            let (_, r) = against(plan(25.0, 1000.0), truth);
            let cap = r.capacity_per_s.unwrap_or(0.0);
            assert!(cap <= truth && cap >= truth / 1.05 - 0.02, "{truth}: {cap}");
        }
    }

    #[test]
    fn never_exceeds_the_ceiling_and_reports_it() {
        let (tried, r) = against(plan(100.0, 200.0), 10_000.0);
        assert_eq!(tried, [100.0, 150.0, 200.0]);
        assert_eq!(r.outcome, CapacityOutcome::AtCeiling);
        assert_eq!((r.capacity_per_s, r.above_per_s), (Some(200.0), None));
        // A start above the ceiling starts at the ceiling.
        let (tried, _) = against(plan(500.0, 200.0), 10_000.0);
        assert_eq!(tried, [200.0]);
        // A ceiling that fails is bisected below.
        let (tried, r) = against(plan(100.0, 200.0), 180.0);
        assert_eq!(tried[..3], [100.0, 150.0, 200.0]);
        assert!(tried.iter().all(|&t| t <= 200.0));
        assert_eq!(r.outcome, CapacityOutcome::Found);
    }

    #[test]
    fn a_failing_start_halves_then_gives_up() {
        let (tried, r) = against(plan(100.0, 1000.0), 30.0);
        assert_eq!(tried[..3], [100.0, 50.0, 25.0]);
        assert_eq!(r.outcome, CapacityOutcome::Found);
        let (tried, r) = against(plan(64.0, 1000.0), 0.1);
        assert_eq!(tried, [64.0, 32.0, 16.0, 8.0, 4.0, 2.0, 1.0]);
        assert_eq!(r.outcome, CapacityOutcome::NoPassingRate);
        assert_eq!(r.capacity_per_s, None);
        assert!(
            r.summary
                .starts_with("no rate met every rule, down to 1.0/s"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn bad_steps_generators_interrupts_and_errors_end_at_once() {
        for (verdict, outcome) in [
            (StepVerdict::FailedBadly, CapacityOutcome::StoppedBadStep),
            (
                StepVerdict::GeneratorLimited,
                CapacityOutcome::GeneratorLimited,
            ),
            (StepVerdict::Interrupted, CapacityOutcome::Interrupted),
            (StepVerdict::Errored, CapacityOutcome::Errored),
        ] {
            let mut s = Search::new(plan(100.0, 1000.0));
            assert_eq!(s.next(), Next::Step(100.0));
            s.record(100.0, StepVerdict::Passed, &[]);
            assert_eq!(s.next(), Next::Step(150.0));
            s.record(150.0, verdict, &["why".into()]);
            assert_eq!(s.next(), Next::Done(outcome), "{verdict:?}");
            let r = s.conclude(Vec::new(), CapacitySettings::default());
            assert_eq!(r.outcome, outcome);
            assert_eq!(r.capacity_per_s, Some(100.0), "{verdict:?}");
            let counts_as_above = matches!(
                verdict,
                StepVerdict::FailedBadly | StepVerdict::GeneratorLimited
            );
            assert_eq!(r.above_per_s.is_some(), counts_as_above, "{verdict:?}");
        }
        let mut s = Search::new(plan(100.0, 1000.0));
        s.record(
            100.0,
            StepVerdict::GeneratorLimited,
            &["generator: cpu".into()],
        );
        let r = s.conclude(Vec::new(), CapacitySettings::default());
        assert!(
            r.summary.contains(
                "generator, not the system, was the limit at 100/s (generator: cpu); no rate passed"
            ),
            "{}",
            r.summary
        );
        assert_eq!(r.broken_by, ["generator: cpu"]);
        let mut s = Search::new(plan(100.0, 1000.0));
        s.record(100.0, StepVerdict::Passed, &[]);
        s.interrupt();
        let r = s.conclude(Vec::new(), CapacitySettings::default());
        assert_eq!(r.outcome, CapacityOutcome::Interrupted);
        assert_eq!(r.summary, "interrupted; found so far: 100/s passed");
    }
}
