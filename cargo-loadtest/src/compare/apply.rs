//! Comparing a test with a saved baseline before it is judged: the baseline's test is the one
//! of the same [`TestId`](loadtest_report::report::TestId) in each of the baseline's runs
//! ([`Baseline::results`]), the load models are checked for comparability (against the newest
//! run; older runs under another load model are left out), and each metric is judged
//! ([`gate::compare`], [`gate::compare_capacity`]). The comparison is part of the
//! evidence the one verdict ([`loadtest_report::verdict::Unjudged::judge`]) sees: nothing here
//! decides a test's status.

use super::baseline::Baseline;
use super::gate::{self, Tolerances};
use loadtest_report::report::{BaselineInfo, Comparison, MetricVerdict};
use loadtest_report::verdict::Unjudged;

/// Compares tests, one at a time as they end, with one baseline report; keeps the
/// comparability refusals.
pub struct Comparer<'b> {
    baseline: &'b Baseline,
    info: BaselineInfo,
    tolerance_flags: &'b [String],
    force: bool,
    /// Why tests could not be compared (their load models differ and `--force-compare` was
    /// not given), one message each.
    pub refusals: Vec<String>,
}

impl<'b> Comparer<'b> {
    /// A comparer with `baseline`, read from `source` (shown in reports), with the
    /// `--tolerance` flags and `--force-compare`.
    pub fn new(
        baseline: &'b Baseline,
        source: &str,
        tolerance_flags: &'b [String],
        force: bool,
    ) -> Comparer<'b> {
        let newest = &baseline.newest().run;
        Comparer {
            baseline,
            info: BaselineInfo {
                source: source.to_string(),
                git_commit: newest.git_commit.clone(),
                host: newest.host.clone(),
                started_at_unix: newest.started_at_unix,
                runs: Some(baseline.runs.len() as u32),
            },
            tolerance_flags,
            force,
            refusals: Vec::new(),
        }
    }

    /// The comparison of `test`, the `index`th test of the run (which seeds its bootstrap),
    /// with the baseline: `None` for a test without a result. An error is a malformed
    /// tolerance.
    pub fn compare(&mut self, index: usize, test: &Unjudged) -> Result<Option<Comparison>, String> {
        let info = &self.info;
        let old = self.baseline.newest().test(test.id());
        if let Some(new) = test.capacity() {
            // A capacity test compares its capacity, not the step it kept.
            let old = old.and_then(|b| b.capacity.as_ref());
            let mut overrides = test
                .result()
                .map(|r| r.config.tolerance.clone())
                .unwrap_or_default();
            overrides.extend(self.tolerance_flags.iter().cloned());
            let tolerances = Tolerances::from_config(&overrides)?;
            let metric = old.and_then(|old| gate::compare_capacity(old, new, &tolerances));
            return Ok(Some(match metric {
                Some(m) => Comparison {
                    baseline: info.clone(),
                    regressed: m.verdict == MetricVerdict::Regressed,
                    metrics: vec![m],
                    note: None,
                    rounds: None,
                },
                None => Comparison {
                    baseline: info.clone(),
                    note: Some(
                        "no capacity to compare: the baseline or this run found none for this test"
                            .into(),
                    ),
                    ..Comparison::default()
                },
            }));
        }
        let Some(new) = test.result() else {
            return Ok(None);
        };
        let mut olds = self.baseline.results(test.id());
        let Some(old) = olds.last().copied() else {
            return Ok(Some(Comparison {
                baseline: info.clone(),
                note: Some("the baseline has no result for this test".into()),
                ..Comparison::default()
            }));
        };
        if !self.force
            && let Err(msg) = gate::comparable(&test.id().qualified(), &old.config, &new.config)
        {
            self.refusals.push(msg.clone());
            return Ok(Some(Comparison {
                baseline: info.clone(),
                note: Some(msg),
                ..Comparison::default()
            }));
        }
        let mut overrides = new.config.tolerance.clone();
        overrides.extend(self.tolerance_flags.iter().cloned());
        let tolerances = Tolerances::from_config(&overrides)?;
        // Older runs measured under another load model than the newest cannot be compared.
        olds.retain(|o| gate::comparable("", &o.config, &old.config).is_ok());
        let metrics = gate::compare(&olds, new, &tolerances, 0x5eed + index as u64);
        let regressed = metrics
            .iter()
            .any(|m| m.verdict == MetricVerdict::Regressed);
        Ok(Some(Comparison {
            baseline: info.clone(),
            metrics,
            regressed,
            note: None,
            rounds: None,
        }))
    }
}
