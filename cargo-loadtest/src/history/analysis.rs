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
//! (runs beyond the midpoint of the two means, on the new side)
//! (default 3: on real runs of a shared machine, one or two slow runs in a row are as likely
//! the machine as a new level; see `bench/history-real.sh`); it is opened by the newest run when
//! it counts now and no regression of the same test (in any of its series) within one run of it
//! counted without that run. So a change is announced once per test, by the run whose result
//! first makes it a confirmed, significant level in some series (the third run after the change
//! when the step is large against the noise, a few runs later when it is not), and neither the
//! next runs nor the test's other series announce it again.
//!
//! **Floors.** A latency change point must also move the mean by at least the metric's floor
//! (by default the saved-baseline gate's: 250 µs for p50, 500 µs for p95, 1 ms for p99): on a
//! shared machine the tails of short runs shift by a few hundred microseconds for minutes at a
//! time, which the t-test, blind to such slow noise, finds significant.

use super::detect::{self, ChangePoint, Detection, Options, Segments};
use super::record;
use super::store::Stored;
use crate::compare::gate::DEFAULT_FLOORS_US;
use loadtest_grammar::GatedMetric;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the analysis applies: the detection's options, the latency floors, and how many runs a
/// new level must hold before it is announced.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// The detection's options (their `floor` is set per series from `floors`).
    pub options: Options,
    /// The latency floors.
    pub floors: Floors,
    /// Runs a new level must hold before the newest run can be said to open it (at least 1).
    pub confirm: usize,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            options: Options::default(),
            floors: Floors::default(),
            confirm: 3,
        }
    }
}

/// The smallest change of the mean, in microseconds, that a latency change point may have.
#[derive(Clone, Debug, PartialEq)]
pub struct Floors {
    p50_us: f64,
    p95_us: f64,
    p99_us: f64,
}

impl Default for Floors {
    /// The saved-baseline gate's floors.
    fn default() -> Floors {
        let of = |metric| {
            DEFAULT_FLOORS_US
                .iter()
                .find(|(m, _)| *m == metric)
                .map_or(0.0, |(_, us)| *us)
        };
        Floors {
            p50_us: of(GatedMetric::P50),
            p95_us: of(GatedMetric::P95),
            p99_us: of(GatedMetric::P99),
        }
    }
}

impl Floors {
    /// Sets `metric`'s floor; `false` for a metric that has none (throughput, error rate).
    pub fn set(&mut self, metric: GatedMetric, us: f64) -> bool {
        match metric {
            GatedMetric::P50 => self.p50_us = us,
            GatedMetric::P95 => self.p95_us = us,
            GatedMetric::P99 => self.p99_us = us,
            GatedMetric::Throughput | GatedMetric::ErrorRate | GatedMetric::Capacity => {
                return false;
            }
        }
        true
    }

    /// `metric`'s floor in its series' unit (0 for a metric without one).
    pub fn of(&self, metric: GatedMetric) -> f64 {
        match metric {
            GatedMetric::P50 => self.p50_us,
            GatedMetric::P95 => self.p95_us,
            GatedMetric::P99 => self.p99_us,
            GatedMetric::Throughput | GatedMetric::ErrorRate | GatedMetric::Capacity => 0.0,
        }
    }
}

/// One series: a metric of a test (or of one of its request names) over the runs.
#[derive(Clone, Debug)]
pub struct Series {
    /// `package::target::name`.
    pub test: String,
    /// The request name, for a request name's series.
    pub request: Option<String>,
    /// Which figure.
    pub metric: GatedMetric,
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
    /// This change point counts (its new level holds `confirm` runs) and no regression of the
    /// same test within one run of it counted without the newest run.
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
    pub(crate) kind: GatedMetric,
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
    /// The smallest change of a latency's mean a change point may have, per metric
    /// (microseconds).
    pub floors_us: BTreeMap<&'static str, f64>,
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
    type Key = (String, Option<String>, GatedMetric);
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
                for metric in GatedMetric::PER_WINDOW {
                    let Some(v) = record::value(metric, m) else {
                        continue;
                    };
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

/// Analyses the history `runs` (oldest first) by `rules`.
pub fn analyse(runs: &[Stored], rules: &Rules) -> Analysis {
    let confirm = rules.confirm.max(1);
    let (series, left_out) = series(runs);
    let newest = runs.len().checked_sub(1);
    let detections: Vec<(Detection, Option<Detection>)> = series
        .iter()
        .map(|s| {
            let options = Options {
                floor: rules.floors.of(s.metric),
                ..rules.options
            };
            let ends_with_newest = newest.is_some_and(|n| s.runs.last() == Some(&n));
            if ends_with_newest && s.values.len() > 1 {
                let before = detect::detect(&s.values[..s.values.len() - 1], &options);
                (
                    detect::detect_appended(&s.values, &options, &before),
                    Some(before),
                )
            } else {
                (detect::detect(&s.values, &options), None)
            }
        })
        .collect();
    // Per test, the runs (0-based) at which a regression counted before the newest run.
    let mut announced: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (s, (_, before)) in series.iter().zip(&detections) {
        let Some(before) = before else { continue };
        let counted = &s.values[..s.values.len() - 1];
        for c in &before.change_points {
            if holds(counted, c, confirm) && is_regression(s.metric, &c.segments) {
                announced
                    .entry(s.test.as_str())
                    .or_default()
                    .insert(s.runs[c.index]);
            }
        }
    }
    let reports = series
        .iter()
        .zip(&detections)
        .map(|(s, (detection, before))| {
            let seen = announced.get(s.test.as_str());
            report(
                s,
                runs,
                detection,
                before.is_some().then_some(seen),
                confirm,
            )
        })
        .collect();
    Analysis {
        runs: runs.len(),
        newest: runs.last().map(|r| r.file.clone()),
        window: rules.options.window,
        max_pvalue: rules.options.max_pvalue,
        min_magnitude: rules.options.min_magnitude,
        floors_us: GatedMetric::LATENCIES
            .into_iter()
            .map(|m| (m.name(), rules.floors.of(m)))
            .collect(),
        confirm_runs: confirm,
        left_out,
        series: reports,
    }
}

/// The new level of change point `c` of `values` holds `confirm` runs: so many runs from it on
/// lie beyond the midpoint of the two means, on the new side. (A count of runs alone is fooled
/// by one far outlier, which pulls a short new segment's mean past the old one by itself.)
fn holds(values: &[f64], c: &ChangePoint, confirm: usize) -> bool {
    let Segments {
        mean_before,
        mean_after,
        ..
    } = c.segments;
    let middle = (mean_before + mean_after) / 2.0;
    let beyond = values[c.index..]
        .iter()
        .filter(|v| {
            if mean_after > mean_before {
                **v > middle
            } else {
                **v < middle
            }
        })
        .count();
    beyond >= confirm
}

/// Worse: a latency or error rate up, a throughput down.
fn is_regression(metric: GatedMetric, s: &Segments) -> bool {
    (s.mean_after > s.mean_before) == metric.higher_is_worse() && s.mean_after != s.mean_before
}

/// `announced`: `None` when the series does not end with the newest run (nothing it shows is
/// opened by it), else the runs at which the test's regressions counted before the newest run.
fn report(
    s: &Series,
    runs: &[Stored],
    detection: &Detection,
    announced: Option<Option<&BTreeSet<usize>>>,
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
            let runs_after = s.values.len() - c.index;
            let opened = holds(&s.values, c, confirm)
                && announced.is_some_and(|seen| {
                    // Within one run of it, in the history's runs (0-based).
                    let near = s.runs[c.index.saturating_sub(1)]
                        ..=s.runs[(c.index + 1).min(s.runs.len() - 1)];
                    seen.is_none_or(|seen| seen.range(near).next().is_none())
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
                regression: is_regression(s.metric, &c.segments),
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

    /// The default rules, announcing a change once its level holds `confirm` runs.
    fn rules(confirm: usize) -> Rules {
        Rules {
            confirm,
            ..Rules::default()
        }
    }

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
        let a = analyse(&runs, &rules(2));
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

    /// Sets the p95 of the test and its request names in run `i` to `p95(i)`.
    fn with_p95(mut runs: Vec<Stored>, p95: impl Fn(usize) -> f64) -> Vec<Stored> {
        for (i, r) in runs.iter_mut().enumerate() {
            for t in &mut r.record.tests {
                let metrics = t.metrics.iter_mut().chain(t.requests.values_mut());
                for m in metrics {
                    m.p95_us = p95(i);
                }
            }
        }
        runs
    }

    #[test]
    fn a_change_is_announced_once_per_test_whatever_series_confirms_it_later() {
        // The p50 steps at run 30 and is announced by run 31; the p95 steps a run later and
        // holds two runs only at run 32: the same change, not announced again.
        let step = |i: usize| if i >= 29 { 13_000.0 } else { 10_000.0 };
        let p95 = |i: usize| if i >= 30 { 26_000.0 } else { 20_000.0 };
        let a = analyse(&with_p95(history(31, step, |_| false), p95), &rules(2));
        assert!(
            a.new_regressions()
                .any(|(s, c)| s.metric == "p50" && c.run == 30),
            "{:?}",
            a.series
        );
        let a = analyse(&with_p95(history(32, step, |_| false), p95), &rules(2));
        let s = a.series.iter().find(|s| s.metric == "p95").unwrap();
        assert_eq!(s.change_points.len(), 1, "{:?}", s.change_points);
        assert!(s.change_points[0].regression && s.change_points[0].run == 31);
        assert_eq!(a.new_regressions().count(), 0, "{:?}", a.series);
        // The p95 step alone is announced when it holds two runs.
        let a = analyse(
            &with_p95(history(32, |_| 10_000.0, |_| false), p95),
            &rules(2),
        );
        let opened: Vec<_> = a
            .new_regressions()
            .map(|(s, c)| (s.metric.as_str(), c.run))
            .collect();
        assert_eq!(opened, [("p95", 31), ("p95(GET /)", 31)]);
    }

    #[test]
    fn a_latency_change_smaller_than_its_floor_is_no_change_point() {
        // +8% of 5 ms is 400 us: beyond the minimum magnitude, below the p95 floor of 500 us.
        let runs = with_p95(history(30, |_| 10_000.0, |_| false), |i| {
            if i >= 15 { 5_400.0 } else { 5_000.0 }
        });
        let p95 = |a: &Analysis| {
            let s = a.series.iter().find(|s| s.metric == "p95").unwrap();
            s.change_points.iter().map(|c| c.run).collect::<Vec<_>>()
        };
        let a = analyse(&runs, &Rules::default());
        assert_eq!(a.floors_us["p95"], 500.0);
        assert_eq!(p95(&a), Vec::<usize>::new());
        let mut floors = Floors::default();
        assert!(floors.set(GatedMetric::P95, 0.0));
        assert!(!floors.set(GatedMetric::Throughput, 1.0));
        let a = analyse(
            &runs,
            &Rules {
                floors,
                ..Rules::default()
            },
        );
        assert_eq!(p95(&a), [16]);
    }

    #[test]
    fn the_newest_run_opens_a_regression_once_its_level_is_confirmed() {
        // A step at run 30: with a 1% wobble and a 30% step, one run shows it...
        let step = |i: usize| if i >= 29 { 13_000.0 } else { 10_000.0 };
        let opened = |n: usize, confirm: usize| -> Vec<(String, usize)> {
            analyse(&history(n, step, |_| false), &rules(confirm))
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
        let a = analyse(&history(32, step, |_| false), &rules(2));
        let p50 = a.series.iter().find(|s| s.metric == "p50").unwrap();
        assert_eq!(p50.change_points.len(), 1, "{:?}", p50.change_points);
        assert_eq!(p50.change_points[0].runs_after, 3);
        // An improvement is never a regression.
        let runs = history(31, |i| if i >= 29 { 7_000.0 } else { 10_000.0 }, |_| false);
        let a = analyse(&runs, &rules(2));
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
