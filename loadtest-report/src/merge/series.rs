//! The per-second series of a merge: each part's points placed at the whole wall-clock second
//! nearest to the end of their interval, the points of one second added together.
//!
//! Seconds are whole seconds of the Unix clock, not of the merged run's own start, so that a
//! merged series merged again lands every point where the flat merge puts it: a merged point
//! keeps `t_s` = its second minus the merged start, which gives back that exact second when
//! added to the start again (both are timestamps of one magnitude, so the subtraction is exact),
//! and a second that rounded to just before the start (by less than half a second) is kept at
//! 0, from which the start rounds to that same second again.

use super::{MergeError, canonical};
use crate::hdr::{self, Hist};
use crate::report::{IntervalPoint, TestResult};
use std::collections::BTreeMap;

/// The series seen so far, by second.
#[derive(Default)]
pub(super) struct SeriesFold {
    seconds: BTreeMap<i64, Second>,
}

/// One merged second.
#[derive(Default)]
struct Second {
    missed: u64,
    iterations: u64,
    failed: u64,
    requests: u64,
    request_errors: u64,
    latency: Option<Hist>,
    uncorrected: Option<Hist>,
    request_latency: BTreeMap<String, Hist>,
    stream_gap: BTreeMap<String, Hist>,
}

/// The second a point ending `t_s` after `start` falls in; reports without a start time count
/// from 0 (their first second is 1).
fn second_of(start: Option<f64>, t_s: f64) -> i64 {
    match start {
        Some(start) => (start + t_s).round() as i64,
        None => t_s.round().max(1.0) as i64,
    }
}

impl SeriesFold {
    /// Adds the series of `r`, a part that started at `start` (`None` when its report has no
    /// start time); `shard` names it in errors. `covered_until` (a restarted shard's run that
    /// joined in place) is where the same shard's earlier run ended, by the wall clock: the
    /// arrivals this part missed in an interval that began before then are not counted as
    /// missed (that run started, dropped or interrupted them). Returns the missed arrivals
    /// counted.
    pub(super) fn add(
        &mut self,
        start: Option<f64>,
        r: &TestResult,
        shard: u32,
        covered_until: Option<f64>,
    ) -> Result<u64, MergeError> {
        let err = |error| MergeError::Shard { shard, error };
        let mut missed = 0;
        let mut interval_start = 0.0;
        for point in &r.series {
            let s = self.seconds.entry(second_of(start, point.t_s)).or_default();
            let covered = match (covered_until, start) {
                (Some(until), Some(start)) => start + interval_start < until,
                _ => false,
            };
            interval_start = point.t_s;
            if !covered {
                s.missed += point.missed;
                missed += point.missed;
            }
            s.iterations += point.iterations;
            s.failed += point.failed;
            s.requests += point.requests;
            s.request_errors += point.request_errors;
            let Some(h) = &point.iteration_latency else {
                return Err(MergeError::NoSeriesHistograms {
                    shard,
                    test: r.name.clone(),
                });
            };
            super::add(s.latency.get_or_insert_with(hdr::new_hist), h).map_err(err)?;
            if let Some(h) = &point.iteration_latency_uncorrected {
                super::add(s.uncorrected.get_or_insert_with(hdr::new_hist), h).map_err(err)?;
            }
            for (name, h) in &point.request_latency {
                let acc = s
                    .request_latency
                    .entry(name.clone())
                    .or_insert_with(hdr::new_hist);
                super::add(acc, h).map_err(err)?;
            }
            for (name, h) in &point.stream_gap {
                let acc = s
                    .stream_gap
                    .entry(name.clone())
                    .or_insert_with(hdr::new_hist);
                super::add(acc, h).map_err(err)?;
            }
        }
        Ok(missed)
    }

    /// The merged series, its times counted from `start` (the merged test's start, `None`
    /// when the parts had no start time).
    pub(super) fn finish(self, start: Option<f64>, open_model: bool) -> Vec<IntervalPoint> {
        self.seconds
            .into_iter()
            .map(|(second, s)| {
                let latency = canonical(&s.latency.unwrap_or_else(hdr::new_hist));
                let uncorrected = canonical(&s.uncorrected.unwrap_or_else(hdr::new_hist));
                IntervalPoint {
                    // A second rounded down to before the start is the first second (less
                    // than half a second before it, so the start rounds to it again).
                    t_s: (second as f64 - start.unwrap_or(0.0)).max(0.0),
                    iterations: s.iterations,
                    missed: s.missed,
                    failed: s.failed,
                    requests: s.requests,
                    request_errors: s.request_errors,
                    p50_us: latency.value_at_quantile(0.50),
                    p95_us: latency.value_at_quantile(0.95),
                    p99_us: latency.value_at_quantile(0.99),
                    iteration_latency: Some(hdr::encode(&latency)),
                    iteration_latency_uncorrected: open_model.then(|| hdr::encode(&uncorrected)),
                    request_latency: s
                        .request_latency
                        .iter()
                        .map(|(k, h)| (k.clone(), hdr::encode(&canonical(h))))
                        .collect(),
                    stream_gap: s
                        .stream_gap
                        .iter()
                        .map(|(k, h)| (k.clone(), hdr::encode(&canonical(h))))
                        .collect(),
                }
            })
            .collect()
    }
}
