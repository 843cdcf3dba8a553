//! From the stored runs to change points: one series per test and metric (and per request name
//! and metric), the detection over each, and what each change point means to people: the run
//! that opened it, the commits on both sides, the means, whether it is a regression, and whether
//! the newest run opened it.
//!
//! A series holds the runs in which its test finished with a healthy generator: a saturated or
//! disturbed run is kept in the history and listed in [`Analysis::left_out`], never measured.
//!
//! "Opened by the newest run" is decided without state: the series is analysed without its
//! newest value, then with it ([`detect::detect_appended`], which only recomputes the windows
//! that reach the new value). A change point counts once its new level holds `confirm` runs
//! (default 2: one slow run alone is as likely an outlier as a new level, and the t-test of a
//! single value against the rest is easily fooled by one); it is opened by the newest run when it
//! counts now and no change point within one run of it counted without that run. So a regression
//! is announced once, by the run whose result first makes it a confirmed, significant level (the
//! second run after the change when the step is large against the noise, a few runs later when
//! it is not), and the next runs do not announce it again.

use super::detect::{self, Detection, Options, Segments};
use super::record::Metric;
use super::store::Stored;
use serde::Serialize;
use std::collections::BTreeMap;

/// One series: a metric of a test (or of one of its request names) over the runs.
#[derive(Clone, Debug)]
pub struct Series {
    /// `package::target::name`.
    pub test: String,
    /// The request name, for a request name's series.
    pub request: Option<String>,
    /// Which figure.
    pub metric: Metric,
    /// Positions of the runs in the history (0-based), one per value.
    pub runs: Vec<usize>,
    /// The values.
    pub values: Vec<f64>,
}

impl Series {
    /// `p99` or `p99(GET /)`, as thresholds name a request's percentile.
    pub fn label(&self) -> String {
        match &self.request {
            Some(r) => format!("{}({r})", self.metric.name()),
            None => self.metric.name().to_string(),
        }
    }
}

/// A test's run left out of detection.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LeftOut {
    /// The run, 1-based, in the history's order.
    pub run: usize,
    /// Its record's file.
    pub file: String,
    /// The test.
    pub test: String,
    /// `saturated`, `disturbed` or both.
    pub reason: String,
}

/// A change point, as the outputs show it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Found {
    /// The first run of the new level, 1-based in the history's order.
    pub run: usize,
    /// Its record's file.
    pub file: String,
    /// Its start time (Unix seconds).
    pub started_at_unix: f64,
    /// The commit of the last run before the change (in this series).
    pub commit_before: Option<String>,
    /// The commit of the first run after it.
    pub commit: Option<String>,
    /// Mean of the segment before.
    pub mean_before: f64,
    /// Mean of the segment after.
    pub mean_after: f64,
    /// `mean_after / mean_before − 1`.
    pub change: f64,
    /// The larger of the forward and backward relative changes (what `--min-magnitude` bounds).
    pub magnitude: f64,
    /// Student's t-test p-value between the segments.
    pub pvalue: f64,
    /// Worse: a latency or error rate up, a throughput down.
    pub regression: bool,
    /// Runs on the new level in this series (this run and the ones after it).
    pub runs_after: usize,
    /// This change point counts (its new level holds `confirm` runs) and none within one run of
    /// it counted without the newest run.
    pub opened_by_newest_run: bool,
}

/// A series and its change points, as the outputs show it.
#[derive(Clone, Debug, Serialize)]
pub struct SeriesReport {
    /// `package::target::name`.
    pub test: String,
    /// `p50`, `p95`, `p99`, `throughput`, `error_rate`, or one of them of a request name:
    /// `p99(GET /)`.
    pub metric: String,
    /// The request name, for a request name's series.
    pub request: Option<String>,
    /// The values (microseconds, per second, or a fraction).
    pub values: Vec<f64>,
    /// The runs (1-based) the values come from.
    pub runs: Vec<usize>,
    /// Its change points, oldest first.
    pub change_points: Vec<Found>,
    #[serde(skip)]
    pub(crate) kind: Metric,
}

/// The history's analysis.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    /// Runs in the history.
    pub runs: usize,
    /// The newest run's record, if any.
    pub newest: Option<String>,
    /// The options the detection ran with.
    pub window: usize,
    /// The largest p-value a change point may have.
    pub max_pvalue: f64,
    /// The smallest magnitude a change point may have (a fraction).
    pub min_magnitude: f64,
    /// Runs a new level must hold before the newest run can be said to open it.
    pub confirm_runs: usize,
    /// Test runs left out of detection.
    pub left_out: Vec<LeftOut>,
    /// Every series, by test then metric.
    pub series: Vec<SeriesReport>,
}

impl Analysis {
    /// The regressions the newest run opened (what `--fail-on-regression` fails on).
    pub fn new_regressions(&self) -> impl Iterator<Item = (&SeriesReport, &Found)> {
        self.series.iter().flat_map(|s| {
            s.change_points
                .iter()
                .filter(|c| c.regression && c.opened_by_newest_run)
                .map(move |c| (s, c))
        })
    }
}

/// The series of the history: for each test (and request name) and metric, the values of the
/// runs where it finished with a healthy generator. Also the test runs left out.
pub fn series(runs: &[Stored]) -> (Vec<Series>, Vec<LeftOut>) {
    type Key = (String, Option<String>, Metric);
    let mut by_key: BTreeMap<Key, Series> = BTreeMap::new();
    let mut left_out = Vec::new();
    for (i, stored) in runs.iter().enumerate() {
        for t in &stored.record.tests {
            let Some(metrics) = &t.metrics else { continue };
            if !t.healthy() {
                let reason = match (t.saturated, t.disturbed) {
                    (true, true) => "saturated, disturbed",
                    (true, false) => "saturated",
                    _ => "disturbed",
                };
                left_out.push(LeftOut {
                    run: i + 1,
                    file: stored.file.clone(),
                    test: t.test.clone(),
                    reason: reason.into(),
                });
                continue;
            }
            let sources = std::iter::once((None, metrics))
                .chain(t.requests.iter().map(|(name, m)| (Some(name.clone()), m)));
            for (request, m) in sources {
                for metric in Metric::ALL {
                    let v = metric.value(m);
                    if !v.is_finite() {
                        continue;
                    }
                    let s = by_key
                        .entry((t.test.clone(), request.clone(), metric))
                        .or_insert_with(|| Series {
                            test: t.test.clone(),
                            request: request.clone(),
                            metric,
                            runs: Vec::new(),
                            values: Vec::new(),
                        });
                    s.runs.push(i);
                    s.values.push(v);
                }
            }
        }
    }
    (by_key.into_values().collect(), left_out)
}

/// Analyses the history `runs` (oldest first); a new level counts once it holds `confirm` runs.
pub fn analyse(runs: &[Stored], options: &Options, confirm: usize) -> Analysis {
    let confirm = confirm.max(1);
    let (series, left_out) = series(runs);
    let newest = runs.len().checked_sub(1);
    let reports = series
        .iter()
        .map(|s| {
            let ends_with_newest = newest.is_some_and(|n| s.runs.last() == Some(&n));
            let (detection, before) = if ends_with_newest && s.values.len() > 1 {
                let before = detect::detect(&s.values[..s.values.len() - 1], options);
                (
                    detect::detect_appended(&s.values, options, &before),
                    Some(before),
                )
            } else {
                (detect::detect(&s.values, options), None)
            };
            report(s, runs, &detection, before.as_ref(), confirm)
        })
        .collect();
    Analysis {
        runs: runs.len(),
        newest: runs.last().map(|r| r.file.clone()),
        window: options.window,
        max_pvalue: options.max_pvalue,
        min_magnitude: options.min_magnitude,
        confirm_runs: confirm,
        left_out,
        series: reports,
    }
}

fn report(
    s: &Series,
    runs: &[Stored],
    detection: &Detection,
    before: Option<&Detection>,
    confirm: usize,
) -> SeriesReport {
    let change_points = detection
        .change_points
        .iter()
        .map(|c| {
            let run = s.runs[c.index];
            let previous = s.runs[c.index - 1];
            let Segments {
                mean_before,
                mean_after,
                pvalue,
                ..
            } = c.segments;
            let worse_up = s.metric.higher_is_worse();
            let runs_after = s.values.len() - c.index;
            let opened = runs_after >= confirm
                && before.is_some_and(|b| {
                    let counted = s.values.len() - 1;
                    !b.change_points.iter().any(|old| {
                        old.index.abs_diff(c.index) <= 1 && counted - old.index >= confirm
                    })
                });
            Found {
                run: run + 1,
                file: runs[run].file.clone(),
                started_at_unix: runs[run].record.started_at_unix,
                commit_before: runs[previous].record.commit.clone(),
                commit: runs[run].record.commit.clone(),
                mean_before,
                mean_after,
                change: c.segments.change(),
                magnitude: c.segments.magnitude(),
                pvalue,
                regression: (mean_after > mean_before) == worse_up && mean_after != mean_before,
                runs_after,
                opened_by_newest_run: opened,
            }
        })
        .collect();
    SeriesReport {
        test: s.test.clone(),
        metric: s.label(),
        request: s.request.clone(),
        values: s.values.clone(),
        runs: s.runs.iter().map(|r| r + 1).collect(),
        change_points,
        kind: s.metric,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::record::{HISTORY_VERSION, Metrics, Record, TestRecord};
    use loadtest_report::report::TestStatus;

    /// A history of `n` runs of one test whose p50 is `p50(i)` (with a 1% wobble), the
    /// generator flagged where `flagged(i)`.
    fn history(
        n: usize,
        p50: impl Fn(usize) -> f64,
        flagged: impl Fn(usize) -> bool,
    ) -> Vec<Stored> {
        let mut rng = fastrand::Rng::with_seed(3);
        (0..n)
            .map(|i| {
                let v = p50(i) * (1.0 + (rng.f64() - 0.5) * 0.02);
                let record = Record {
                    history_version: HISTORY_VERSION,
                    commit: Some(format!("commit{i:02}")),
                    started_at_unix: 1000.0 + i as f64,
                    host: "ci".into(),
                    tool_version: "0.1.0".into(),
                    recorded_at_unix: 0.0,
                    tests: vec![TestRecord {
                        test: "p::t::n".into(),
                        status: TestStatus::Passed,
                        model: String::new(),
                        saturated: flagged(i),
                        disturbed: false,
                        metrics: Some(Metrics {
                            p50_us: v,
                            p95_us: 20_000.0,
                            p99_us: 30_000.0,
                            throughput_per_s: 1e6 / v,
                            error_rate: 0.0,
                        }),
                        requests: [(
                            "GET /".to_string(),
                            Metrics {
                                p50_us: v,
                                p95_us: 20_000.0,
                                p99_us: 30_000.0,
                                throughput_per_s: 1e6 / v,
                                error_rate: 0.0,
                            },
                        )]
                        .into(),
                    }],
                };
                Stored {
                    file: format!("run{i:02}.json"),
                    record,
                }
            })
            .collect()
    }

    #[test]
    fn a_slowdown_is_a_regression_with_its_commits_and_runs() {
        let runs = history(
            40,
            |i| if i >= 25 { 11_500.0 } else { 10_000.0 },
            |i| i == 30,
        );
        let a = analyse(&runs, &Options::default(), 2);
        assert_eq!(a.left_out.len(), 1);
        assert_eq!(
            (a.left_out[0].run, a.left_out[0].reason.as_str()),
            (31, "saturated")
        );
        let p50 = a.series.iter().find(|s| s.metric == "p50").unwrap();
        assert_eq!(p50.values.len(), 39, "the saturated run is left out");
        assert_eq!(p50.change_points.len(), 1, "{:?}", p50.change_points);
        let c = &p50.change_points[0];
        assert_eq!(c.run, 26, "{c:?}");
        assert_eq!(c.commit.as_deref(), Some("commit25"));
        assert_eq!(c.commit_before.as_deref(), Some("commit24"));
        assert!(c.regression && (c.change - 0.15).abs() < 0.01, "{c:?}");
        assert!(!c.opened_by_newest_run);
        let tput = a.series.iter().find(|s| s.metric == "throughput").unwrap();
        assert!(tput.change_points[0].regression, "throughput down is worse");
        assert!(a.series.iter().any(|s| s.metric == "p50(GET /)"));
        assert!(
            a.series
                .iter()
                .filter(|s| s.metric.starts_with("p9") || s.metric.starts_with("error"))
                .all(|s| s.change_points.is_empty())
        );
        assert_eq!(a.new_regressions().count(), 0);
    }

    #[test]
    fn the_newest_run_opens_a_regression_once_its_level_is_confirmed() {
        // A step at run 30: with a 1% wobble and a 30% step, one run shows it...
        let step = |i: usize| if i >= 29 { 13_000.0 } else { 10_000.0 };
        let opened = |n: usize, confirm: usize| -> Vec<(String, usize)> {
            analyse(&history(n, step, |_| false), &Options::default(), confirm)
                .new_regressions()
                .map(|(s, c)| (s.metric.clone(), c.run))
                .collect()
        };
        let p50 = ("p50".to_string(), 30);
        assert!(opened(30, 1).contains(&p50), "{:?}", opened(30, 1));
        // ...but by default two runs must hold the new level: run 31 opens it.
        assert!(opened(30, 2).is_empty(), "{:?}", opened(30, 2));
        assert!(opened(31, 2).contains(&p50), "{:?}", opened(31, 2));
        // Once opened, later runs do not open it again.
        assert!(opened(31, 1).is_empty(), "{:?}", opened(31, 1));
        assert!(opened(32, 2).is_empty(), "{:?}", opened(32, 2));
        let a = analyse(&history(32, step, |_| false), &Options::default(), 2);
        let p50 = a.series.iter().find(|s| s.metric == "p50").unwrap();
        assert_eq!(p50.change_points.len(), 1, "{:?}", p50.change_points);
        assert_eq!(p50.change_points[0].runs_after, 3);
        // An improvement is never a regression.
        let runs = history(31, |i| if i >= 29 { 7_000.0 } else { 10_000.0 }, |_| false);
        let a = analyse(&runs, &Options::default(), 2);
        let p50 = a.series.iter().find(|s| s.metric == "p50").unwrap();
        assert!(
            p50.change_points
                .iter()
                .all(|c| !c.regression && c.opened_by_newest_run)
        );
        assert_eq!(
            a.new_regressions().count(),
            0,
            "a faster server also raises the throughput: no regression anywhere"
        );
    }
}
