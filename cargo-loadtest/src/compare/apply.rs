//! Attaching comparisons to a run's report: match tests by package, target and name, check
//! comparability, judge each metric, then let the verdict judge each compared test again.

use super::gate::{self, Tolerances};
use loadtest_report::report::{BaselineInfo, Comparison, MetricVerdict, RunReport};
use loadtest_report::verdict::{self, Policy};

/// Compares every test of `report` with `baseline`. Returns the comparability refusals (empty
/// when everything could be compared, or `force` was given).
pub fn apply(
    baseline: &RunReport,
    source: &str,
    report: &mut RunReport,
    tolerance_flags: &[String],
    force: bool,
    policy: &Policy,
) -> Result<Vec<String>, String> {
    let info = BaselineInfo {
        source: source.to_string(),
        git_commit: baseline.run.git_commit.clone(),
        host: baseline.run.host.clone(),
        started_at_unix: baseline.run.started_at_unix,
    };
    let mut refusals = Vec::new();
    for (i, test) in report.tests.iter_mut().enumerate() {
        if let Some(new) = &test.capacity {
            // A capacity test compares its capacity, not the step it kept.
            let old = baseline
                .tests
                .iter()
                .find(|b| {
                    b.package == test.package && b.target == test.target && b.name == test.name
                })
                .and_then(|b| b.capacity.as_ref());
            let mut overrides = test
                .result
                .as_ref()
                .map(|r| r.config.tolerance.clone())
                .unwrap_or_default();
            overrides.extend(tolerance_flags.iter().cloned());
            let tolerances = Tolerances::from_config(&overrides)?;
            let metric = old.and_then(|old| gate::compare_capacity(old, new, &tolerances));
            test.comparison = Some(match metric {
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
            });
            verdict::rejudge(test, policy);
            continue;
        }
        let Some(new) = &test.result else { continue };
        let old = baseline
            .tests
            .iter()
            .find(|b| b.package == test.package && b.target == test.target && b.name == test.name)
            .and_then(|b| b.result.as_ref());
        let Some(old) = old else {
            test.comparison = Some(Comparison {
                baseline: info.clone(),
                note: Some("the baseline has no result for this test".into()),
                ..Comparison::default()
            });
            continue;
        };
        if !force
            && let Err(msg) = gate::comparable(
                &format!("{}::{}", test.target, test.name),
                &old.config,
                &new.config,
            )
        {
            test.comparison = Some(Comparison {
                baseline: info.clone(),
                note: Some(msg.clone()),
                ..Comparison::default()
            });
            refusals.push(msg);
            continue;
        }
        let mut overrides = new.config.tolerance.clone();
        overrides.extend(tolerance_flags.iter().cloned());
        let tolerances = Tolerances::from_config(&overrides)?;
        let metrics = gate::compare(old, new, &tolerances, 0x5eed + i as u64);
        let regressed = metrics
            .iter()
            .any(|m| m.verdict == MetricVerdict::Regressed);
        test.comparison = Some(Comparison {
            baseline: info.clone(),
            metrics,
            regressed,
            note: None,
            rounds: None,
        });
        verdict::rejudge(test, policy);
    }
    Ok(refusals)
}
