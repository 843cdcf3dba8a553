//! The verdict on one compared metric (`cargo loadtest --baseline`, `--baseline-rev`,
//! `compare`): given the estimated change and its interval, the metric's tolerance and whether
//! the generator can be trusted, is it regressed, improved, unchanged or inconclusive.
//!
//! How the change is estimated (windows, paired rounds, bootstrap) is the CLI's statistics;
//! what the estimate means for the metric is decided here and nowhere else.

use crate::report::MetricVerdict;

/// A point estimate of a relative change (or, for the error rate, an absolute one) and its
/// confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The point estimate (a ratio new/old, or a difference new - old).
    pub value: f64,
    /// The lower bound of the interval.
    pub low: f64,
    /// The upper bound of the interval.
    pub high: f64,
}

/// A judged metric: its verdict, the change and interval it was judged on, and why it is
/// inconclusive when it is.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricJudgement {
    /// The verdict.
    pub verdict: MetricVerdict,
    /// The estimated change, when there was enough data.
    pub change: Option<f64>,
    /// The interval's lower bound.
    pub low: Option<f64>,
    /// The interval's upper bound.
    pub high: Option<f64>,
    /// Why the verdict is inconclusive (or what was left out), for people.
    pub note: Option<String>,
}

/// Regressed or improved only when the whole interval lies beyond the tolerance; inconclusive
/// when the generator was unreliable (`unreliable` says why) or the interval is wider than twice
/// the tolerance (the runs disagree too much, or are too short, to tell a change of the
/// tolerance's size); insufficient data without an estimate.
pub fn judge_metric(
    est: Option<Estimate>,
    tolerance: f64,
    higher_is_worse: bool,
    unreliable: Option<&str>,
) -> MetricJudgement {
    let Some(e) = est else {
        return MetricJudgement {
            verdict: if unreliable.is_some() {
                MetricVerdict::Inconclusive
            } else {
                MetricVerdict::InsufficientData
            },
            change: None,
            low: None,
            high: None,
            note: unreliable.map(str::to_string),
        };
    };
    let (worse_low, better_high) = if higher_is_worse {
        (e.low, e.high)
    } else {
        (-e.high, -e.low)
    };
    let (verdict, note) = if let Some(why) = unreliable {
        (MetricVerdict::Inconclusive, Some(why.to_string()))
    } else if worse_low > tolerance {
        (MetricVerdict::Regressed, None)
    } else if better_high < -tolerance {
        (MetricVerdict::Improved, None)
    } else if e.high - e.low > 2.0 * tolerance {
        (
            MetricVerdict::Inconclusive,
            Some("the interval is wider than twice the tolerance: the runs disagree too much, or are too short, to tell".to_string()),
        )
    } else {
        (MetricVerdict::Unchanged, None)
    };
    MetricJudgement {
        verdict,
        change: Some(e.value),
        low: Some(e.low),
        high: Some(e.high),
        note,
    }
}

/// A capacity's verdict from the relative change's bracket `low..high` (the least and most
/// favourable readings of both searches' brackets): regressed when even `high` lies more than
/// the tolerance below, improved when even `low` lies more than it above, otherwise unchanged.
pub fn judge_capacity_change(low: f64, high: f64, tolerance: f64) -> MetricVerdict {
    if high < -tolerance {
        MetricVerdict::Regressed
    } else if low > tolerance {
        MetricVerdict::Improved
    } else {
        MetricVerdict::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(value: f64, low: f64, high: f64) -> Option<Estimate> {
        Some(Estimate { value, low, high })
    }

    #[test]
    fn only_a_whole_interval_beyond_the_tolerance_decides() {
        let j = |e, worse| judge_metric(e, 0.1, worse, None).verdict;
        assert_eq!(j(est(0.3, 0.2, 0.4), true), MetricVerdict::Regressed);
        assert_eq!(j(est(0.3, 0.2, 0.4), false), MetricVerdict::Improved);
        assert_eq!(j(est(0.05, 0.02, 0.08), true), MetricVerdict::Unchanged);
        assert_eq!(j(est(0.1, -0.2, 0.3), true), MetricVerdict::Inconclusive);
        assert_eq!(j(None, true), MetricVerdict::InsufficientData);
        let unreliable = judge_metric(est(0.3, 0.2, 0.4), 0.1, true, Some("saturated"));
        assert_eq!(
            (unreliable.verdict, unreliable.note.as_deref()),
            (MetricVerdict::Inconclusive, Some("saturated"))
        );
        assert_eq!(
            judge_capacity_change(-0.3, -0.2, 0.1),
            MetricVerdict::Regressed
        );
        assert_eq!(
            judge_capacity_change(0.2, 0.3, 0.1),
            MetricVerdict::Improved
        );
        assert_eq!(
            judge_capacity_change(-0.05, 0.3, 0.1),
            MetricVerdict::Unchanged
        );
    }
}
