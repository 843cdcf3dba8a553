//! The run as far as it has gone, as a [`RunReport`] the HTML renderer draws: built from the
//! reporters' events (tests starting and restarting, a progress event a second, capacity steps
//! as they are judged, tests finishing) and replaced by the final report when the run ends.
//!
//! A running test's result is provisional: its counts are the last progress event's, its
//! latencies come from the fixed buckets of [`loadtest_report::live`] (a percentile is
//! interpolated inside its bucket), its per-second series is the difference between successive
//! progress events, and its thresholds are evaluated on those figures by the one
//! [`verdict::evaluate`]. A finished test shows its judged report, exact.

use loadtest_report::hdr::{self, Hist};
use loadtest_report::live::{Buckets, LATENCY_BUCKETS_US, LiveDetail, LiveRequest};
use loadtest_report::merge::Decoded;
use loadtest_report::protocol::Progress;
use loadtest_report::report::{
    CapacityResult, CapacitySettings, CapacityStep, ConfigSummary, GeneratorHealth, IntervalPoint,
    IterationCounts, RequestMetrics, RequestTotals, RunInfo, RunReport, RunStatus, SCHEMA_VERSION,
    StreamMetrics, TestId, TestReport, TestResult, TestStatus,
};
use loadtest_report::verdict;
use std::time::Instant;

/// The most points a running test's series draws: beyond it, neighbouring seconds are drawn
/// together (counts added, each percentile the highest of theirs), so the page stays about the
/// same size however long the test runs. The final report draws every second.
pub(crate) const MAX_LIVE_POINTS: usize = 600;

/// The run so far.
#[derive(Debug)]
pub(crate) struct ProvisionalRun {
    /// Where and how the run happens (its duration grows as it goes).
    info: RunInfo,
    /// When the run started, for its duration.
    clock: Instant,
    /// Every test that started, in the order they started.
    tests: Vec<TestEntry>,
    /// The index of the test running now.
    current: Option<usize>,
    /// The judged report, once the run has ended.
    finished: Option<RunReport>,
}

/// One test of the run.
#[derive(Debug)]
struct TestEntry {
    /// Its report: provisional while it runs, the judged one once it has ended.
    report: TestReport,
    /// What a running test's report is built from; `None` once it has ended.
    running: Option<RunningTest>,
}

/// A running test: its configuration, its rules and its timeline so far.
#[derive(Debug, Default)]
struct RunningTest {
    config: ConfigSummary,
    rules: Vec<loadtest_grammar::Threshold>,
    /// One point per progress event (since the start of the test, or of the capacity step).
    series: Vec<IntervalPoint>,
    /// The previous progress event's cumulative figures, for the next point's differences.
    previous: Option<Cumulative>,
    /// The largest resident memory seen.
    peak_rss_bytes: u64,
    /// When the test (or step) started, by the wall clock.
    started_at_unix: f64,
}

/// The cumulative figures of one progress event.
#[derive(Debug, Default, Clone)]
struct Cumulative {
    iterations: u64,
    failed: u64,
    requests: u64,
    request_errors: u64,
    latency: Buckets,
}

impl Cumulative {
    fn of(p: &Progress) -> Cumulative {
        Cumulative {
            iterations: p.iterations,
            failed: p.failed,
            requests: p.requests,
            request_errors: p.request_errors,
            latency: p
                .live
                .as_ref()
                .map(|l| l.iteration_latency.clone())
                .unwrap_or_default(),
        }
    }
}

impl ProvisionalRun {
    /// A run that starts now; `info` says where and how (its duration is kept current).
    pub(crate) fn new(info: RunInfo) -> ProvisionalRun {
        ProvisionalRun {
            info,
            clock: Instant::now(),
            tests: Vec::new(),
            current: None,
            finished: None,
        }
    }

    fn entry(&mut self, id: TestId<'_>) -> usize {
        match self.tests.iter().position(|t| t.report.id() == id) {
            Some(i) => i,
            None => {
                self.tests.push(TestEntry {
                    report: TestReport {
                        package: id.package.into(),
                        target: id.target.into(),
                        name: id.name.into(),
                        status: TestStatus::Passed,
                        failures: Vec::new(),
                        result: None,
                        error: None,
                        comparison: None,
                        capacity: None,
                    },
                    running: None,
                });
                self.tests.len() - 1
            }
        }
    }

    /// A test starts, or starts again in a new harness process (its earlier state is dropped).
    pub(crate) fn test_started(&mut self, id: TestId<'_>, config: &ConfigSummary) {
        let i = self.entry(id);
        let rules = config
            .thresholds
            .iter()
            .filter_map(|r| loadtest_grammar::parse_threshold(r).ok())
            .collect();
        let t = &mut self.tests[i];
        t.report.result = None;
        t.report.failures.clear();
        t.report.error = None;
        t.running = Some(RunningTest {
            config: config.clone(),
            rules,
            started_at_unix: unix_now(),
            ..RunningTest::default()
        });
        self.current = Some(i);
    }

    /// A capacity search of a test starts.
    pub(crate) fn search_started(&mut self, id: TestId<'_>, settings: &CapacitySettings) {
        let i = self.entry(id);
        let t = &mut self.tests[i];
        t.report.result = None;
        t.report.capacity = Some(CapacityResult {
            settings: settings.clone(),
            summary: "searching: the steps below are those judged so far".into(),
            ..CapacityResult::default()
        });
        t.running = Some(RunningTest {
            started_at_unix: unix_now(),
            ..RunningTest::default()
        });
        self.current = Some(i);
    }

    /// A step of the running capacity search starts: its progress starts from zero.
    pub(crate) fn step_started(&mut self, rate_per_s: f64) {
        if let Some(r) = self.running_mut() {
            let config = ConfigSummary {
                model: "open".into(),
                rate_per_s: Some(rate_per_s),
                ..r.config.clone()
            };
            *r = RunningTest {
                config,
                rules: std::mem::take(&mut r.rules),
                peak_rss_bytes: r.peak_rss_bytes,
                started_at_unix: unix_now(),
                ..RunningTest::default()
            };
        }
    }

    /// A step of the running capacity search was judged.
    pub(crate) fn step_finished(&mut self, step: &CapacityStep) {
        if let Some(i) = self.current
            && let Some(c) = &mut self.tests[i].report.capacity
        {
            c.steps.push(step.clone());
        }
    }

    fn running_mut(&mut self) -> Option<&mut RunningTest> {
        let i = self.current?;
        self.tests[i].running.as_mut()
    }

    /// A progress event of the running test.
    pub(crate) fn progress(&mut self, p: &Progress) {
        let Some(i) = self.current else { return };
        let t = &mut self.tests[i];
        let Some(running) = t.running.as_mut() else {
            return;
        };
        let now = Cumulative::of(p);
        let before = running.previous.take().unwrap_or_default();
        running.series.push(interval(p.elapsed_s, &before, &now));
        running.previous = Some(now);
        if let Some(live) = &p.live {
            running.peak_rss_bytes = running.peak_rss_bytes.max(live.rss_bytes);
        }
        let result = provisional_result(running, p, self.info.cpus);
        t.report.status = if result.passed {
            TestStatus::Passed
        } else {
            TestStatus::Failed
        };
        t.report.result = Some(result);
    }

    /// A test ended and was judged: its report replaces the provisional one.
    pub(crate) fn test_finished(&mut self, report: &TestReport) {
        let i = self.entry(report.id());
        self.tests[i] = TestEntry {
            report: report.clone(),
            running: None,
        };
        if self.current == Some(i) {
            self.current = None;
        }
    }

    /// The run ended: from now on the page is its final report.
    pub(crate) fn run_finished(&mut self, report: &RunReport) {
        self.finished = Some(report.clone());
        self.current = None;
    }

    /// Whether the run has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.is_some()
    }

    /// The report to draw, and per test whether it runs now (all `false` once the run ended).
    pub(crate) fn view(&self) -> (RunReport, Vec<bool>) {
        if let Some(done) = &self.finished {
            return (done.clone(), vec![false; done.tests.len()]);
        }
        let report = RunReport {
            schema_version: SCHEMA_VERSION,
            run: RunInfo {
                duration_s: self.clock.elapsed().as_secs_f64(),
                ..self.info.clone()
            },
            status: RunStatus::Passed,
            exit_code: 0,
            tests: self.tests.iter().map(|t| t.report.clone()).collect(),
            gate: None,
        };
        let running = self.tests.iter().map(|t| t.running.is_some()).collect();
        (report, running)
    }

    /// The running test and its last progress figures, for the page's status line:
    /// `(test, seconds since it started, iterations)`.
    pub(crate) fn now_running(&self) -> Option<(String, f64, u64)> {
        let t = &self.tests[self.current?];
        let r = t.report.result.as_ref()?;
        Some((t.report.id().qualified(), r.elapsed_s, r.iterations.total))
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The point of the interval between two progress events.
fn interval(t_s: f64, before: &Cumulative, now: &Cumulative) -> IntervalPoint {
    let latency = difference(&now.latency, &before.latency);
    IntervalPoint {
        t_s,
        iterations: now.iterations.saturating_sub(before.iterations),
        failed: now.failed.saturating_sub(before.failed),
        requests: now.requests.saturating_sub(before.requests),
        request_errors: now.request_errors.saturating_sub(before.request_errors),
        p50_us: quantile(&latency, 0.50),
        p95_us: quantile(&latency, 0.95),
        p99_us: quantile(&latency, 0.99),
        ..IntervalPoint::default()
    }
}

/// The values in `now` that were not in `before` (both cumulative since the same start).
fn difference(now: &Buckets, before: &Buckets) -> Buckets {
    Buckets {
        counts: now
            .counts
            .iter()
            .enumerate()
            .map(|(i, n)| n.saturating_sub(before.counts.get(i).copied().unwrap_or(0)))
            .collect(),
        sum_us: now.sum_us.saturating_sub(before.sum_us),
    }
}

/// The bounds `(low, high]` of bucket `i`, in microseconds; the last, unbounded bucket is
/// taken as up to twice the last bound.
fn bucket_bounds(i: usize) -> (u64, u64) {
    let last = LATENCY_BUCKETS_US[LATENCY_BUCKETS_US.len() - 1];
    let low = if i == 0 { 0 } else { LATENCY_BUCKETS_US[i - 1] };
    (low, LATENCY_BUCKETS_US.get(i).copied().unwrap_or(last * 2))
}

/// The `q` quantile of bucketed values, interpolated linearly inside its bucket; 0 when empty.
pub(crate) fn quantile(b: &Buckets, q: f64) -> u64 {
    let total = b.count();
    if total == 0 {
        return 0;
    }
    let rank = (q * total as f64).ceil().max(1.0);
    let mut below = 0u64;
    for (i, &n) in b.counts.iter().enumerate() {
        if n > 0 && (below + n) as f64 >= rank {
            let (low, high) = bucket_bounds(i);
            let within = (rank - below as f64) / n as f64;
            return low + ((high - low) as f64 * within).round() as u64;
        }
        below += n;
    }
    bucket_bounds(b.counts.len().saturating_sub(1)).1
}

/// An HdrHistogram holding each bucket's values at the bucket's upper bound (never below the
/// truth), for the summaries and the threshold rules of a running test.
fn hist_of(b: &Buckets) -> Hist {
    let mut h = hdr::new_hist();
    for (i, &n) in b.counts.iter().enumerate() {
        if n > 0 {
            let _ = h.record_n(bucket_bounds(i).1.min(hdr::MAX_US), n);
        }
    }
    h
}

fn request_metrics(r: &LiveRequest) -> RequestMetrics {
    RequestMetrics {
        count: r.by_class.values().sum(),
        by_class: r.by_class.clone(),
        by_status: r.by_status.clone(),
        bytes_sent: r.bytes_sent,
        bytes_received: r.bytes_received,
        latency: hdr::to_report(&hist_of(&r.latency)),
        // The slowest requests so far, as the page's table shows them while the test runs.
        exemplars: r.exemplars.clone(),
        // The streams so far, their measures from the live buckets as the latency's are.
        stream: r.stream.as_ref().map(|s| StreamMetrics {
            streams: s.streams,
            broken: s.broken,
            chunks: s.chunks,
            events: s.events,
            first_byte: hdr::to_report(&hist_of(&s.first_byte)),
            first_event: hdr::to_report(&hist_of(&s.first_event)),
            gap: hdr::to_report(&hist_of(&s.gap)),
            duration: hdr::to_report(&hist_of(&s.duration)),
        }),
    }
}

/// The running test's result as its last progress event gives it.
fn provisional_result(running: &RunningTest, p: &Progress, cpus: usize) -> TestResult {
    let empty = LiveDetail::default();
    let live = p.live.as_deref().unwrap_or(&empty);
    let elapsed = p.elapsed_s.max(f64::MIN_POSITIVE);
    let request_names: std::collections::BTreeMap<String, RequestMetrics> = live
        .requests
        .iter()
        .map(|(name, r)| (name.clone(), request_metrics(r)))
        .collect();
    let mut requests = RequestTotals {
        total: p.requests,
        rate_per_s: p.requests as f64 / elapsed,
        ..RequestTotals::default()
    };
    for m in request_names.values() {
        for (c, n) in &m.by_class {
            *requests.by_class.entry(*c).or_insert(0) += n;
        }
        for (s, n) in &m.by_status {
            *requests.by_status.entry(s.clone()).or_insert(0) += n;
        }
        requests.bytes_sent += m.bytes_sent;
        requests.bytes_received += m.bytes_received;
    }
    // The progress event's count and the live detail's classes are read at slightly different
    // moments: the total is at least what the classes add up to.
    requests.total = requests.total.max(requests.by_class.values().sum());
    let lag = hist_of(&live.scheduling_lag);
    let mut generator = GeneratorHealth {
        cpu_seconds: live.cpu_seconds,
        cpu_percent: live.cpu_seconds / elapsed * 100.0,
        cpus,
        peak_rss_bytes: running.peak_rss_bytes,
        scheduling_lag: hdr::summary(&lag),
        dropped: p.dropped,
        late: live.late,
        ..GeneratorHealth::default()
    };
    verdict::judge_generator(&mut generator, running.config.rate_per_s.is_some());
    let mut result = TestResult {
        name: p.test.clone(),
        started_at_unix: Some(running.started_at_unix),
        config: running.config.clone(),
        elapsed_s: p.elapsed_s,
        iterations: IterationCounts {
            total: p.iterations,
            ok: p.iterations.saturating_sub(p.failed),
            failed: p.failed,
            dropped: p.dropped,
            late: live.late,
            interrupted: live.interrupted,
            rate_per_s: p.iterations as f64 / elapsed,
            ..IterationCounts::default()
        },
        iteration_latency: hdr::to_report(&hist_of(&live.iteration_latency)),
        requests,
        request_names,
        series: thin(&running.series, MAX_LIVE_POINTS),
        generator,
        ..TestResult::default()
    };
    if let Ok(m) = Decoded::from_result(&result) {
        let outcomes = verdict::evaluate(&running.rules, &m, p.elapsed_s);
        verdict::set_thresholds(&mut result, outcomes);
    }
    result
}

/// `series` in at most `max` points: runs of neighbouring points merged into their last one's
/// time, their counts added (so rates over the longer interval stay right) and each percentile
/// the highest of theirs.
fn thin(series: &[IntervalPoint], max: usize) -> Vec<IntervalPoint> {
    if series.len() <= max {
        return series.to_vec();
    }
    let per_point = series.len().div_ceil(max);
    series
        .chunks(per_point)
        .map(|run| {
            let last = &run[run.len() - 1];
            IntervalPoint {
                t_s: last.t_s,
                iterations: run.iter().map(|p| p.iterations).sum(),
                failed: run.iter().map(|p| p.failed).sum(),
                requests: run.iter().map(|p| p.requests).sum(),
                request_errors: run.iter().map(|p| p.request_errors).sum(),
                p50_us: run.iter().map(|p| p.p50_us).max().unwrap_or(0),
                p95_us: run.iter().map(|p| p.p95_us).max().unwrap_or(0),
                p99_us: run.iter().map(|p| p.p99_us).max().unwrap_or(0),
                ..IntervalPoint::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadtest_report::class::RequestClass;

    fn buckets(values: &[u64]) -> Buckets {
        let mut h = hdr::new_hist();
        for v in values {
            hdr::record(&mut h, *v);
        }
        Buckets::of(&h)
    }

    #[test]
    fn a_quantile_lies_inside_the_bucket_of_its_value() {
        let b = buckets(&[1_500; 100]);
        // 1.5 ms is in the (1 ms, 2 ms] bucket.
        let q = quantile(&b, 0.5);
        assert!((1_000..=2_000).contains(&q), "{q}");
        assert_eq!(quantile(&Buckets::default(), 0.99), 0);
        let mixed = buckets(
            &[15; 99]
                .iter()
                .chain(&[400_000])
                .copied()
                .collect::<Vec<_>>(),
        );
        assert!(quantile(&mixed, 0.5) <= 20);
        assert!(quantile(&mixed, 0.999) > 200_000);
    }

    /// The progress event's request count and the live detail's classes are read at different
    /// moments; the page once panicked subtracting one from the other (a 20-second e2e run).
    #[test]
    fn a_request_count_behind_its_classes_is_raised_to_them() {
        let mut run = ProvisionalRun::new(crate::live::dashboard::tests::run_info());
        let id = TestId {
            package: "shop",
            target: "api",
            name: "home",
        };
        run.test_started(id, &ConfigSummary::default());
        let live = LiveDetail {
            requests: [(
                "GET /".to_string(),
                LiveRequest {
                    by_class: [(RequestClass::Ok, 7)].into(),
                    ..LiveRequest::default()
                },
            )]
            .into(),
            ..LiveDetail::default()
        };
        run.progress(&Progress {
            test: "home".into(),
            elapsed_s: 1.0,
            iterations: 5,
            requests: 5,
            live: Some(Box::new(live)),
            ..Progress::default()
        });
        let (report, _) = run.view();
        let r = report.tests[0].result.as_ref().unwrap();
        assert_eq!(r.requests.total, 7);
        let row = crate::output::summary::row(&report.tests[0]);
        assert_eq!((row[4].as_str(), row[5].as_str()), ("7", "0"), "{row:?}");
    }

    #[test]
    fn each_progress_event_adds_the_interval_since_the_previous_one() {
        let mut run = ProvisionalRun::new(RunInfo {
            cpus: 2,
            ..crate::live::dashboard::tests::run_info()
        });
        let id = TestId {
            package: "shop",
            target: "api",
            name: "home",
        };
        let config = ConfigSummary {
            thresholds: vec!["p99 < 1ms".into()],
            ..ConfigSummary::default()
        };
        run.test_started(id, &config);
        for (s, n, lat) in [(1.0, 10, 500), (2.0, 25, 5_000)] {
            let mut live = LiveDetail {
                iteration_latency: buckets(&vec![lat; n as usize]),
                ..LiveDetail::default()
            };
            if let Some(prev) = run.running_mut().and_then(|r| r.previous.clone()) {
                live.iteration_latency.add(&prev.latency);
            }
            run.progress(&Progress {
                test: "home".into(),
                elapsed_s: s,
                iterations: n,
                live: Some(Box::new(live)),
                ..Progress::default()
            });
        }
        let (report, running) = run.view();
        assert_eq!(running, vec![true]);
        let r = report.tests[0].result.as_ref().unwrap();
        assert_eq!(r.iterations.total, 25);
        assert_eq!(
            r.series.iter().map(|p| p.iterations).collect::<Vec<_>>(),
            vec![10, 15]
        );
        assert!(r.series[0].p99_us <= 1_000 && r.series[1].p99_us > 2_000);
        assert_eq!(r.thresholds.len(), 2, "the rule and the error budget");
        assert!(!r.thresholds[0].passed, "p99 of 5 ms breaks p99 < 1ms");
        assert_eq!(report.tests[0].status, TestStatus::Failed);
        assert_eq!(run.now_running(), Some(("api::home".into(), 2.0, 25)));
        // A restart starts the test afresh.
        run.test_started(id, &config);
        assert!(run.view().0.tests[0].result.is_none());
    }

    #[test]
    fn a_long_series_is_drawn_in_at_most_600_points_with_its_counts() {
        let series: Vec<IntervalPoint> = (1..=1801u64)
            .map(|s| IntervalPoint {
                t_s: s as f64,
                iterations: 10,
                p99_us: s,
                ..IntervalPoint::default()
            })
            .collect();
        let thinned = thin(&series, MAX_LIVE_POINTS);
        assert!(thinned.len() <= MAX_LIVE_POINTS, "{}", thinned.len());
        assert_eq!(thinned.iter().map(|p| p.iterations).sum::<u64>(), 18_010);
        assert_eq!(
            thinned.last().map(|p| (p.t_s, p.p99_us)),
            Some((1801.0, 1801))
        );
        assert_eq!(
            thin(&series[..600], MAX_LIVE_POINTS),
            series[..600].to_vec()
        );
    }

    #[test]
    fn a_capacity_search_shows_its_steps_as_they_are_judged() {
        let mut run = ProvisionalRun::new(crate::live::dashboard::tests::run_info());
        let id = TestId {
            package: "shop",
            target: "api",
            name: "items",
        };
        run.search_started(id, &CapacitySettings::default());
        for (number, rate) in [(1, 100.0), (2, 200.0)] {
            run.step_started(rate);
            run.progress(&Progress {
                test: "items".into(),
                elapsed_s: 1.0,
                iterations: number * 10,
                ..Progress::default()
            });
            let (report, running) = run.view();
            let r = report.tests[0].result.as_ref().unwrap();
            assert_eq!(r.config.rate_per_s, Some(rate));
            assert_eq!(r.series.len(), 1, "each step starts its series afresh");
            assert_eq!(running, vec![true]);
            run.step_finished(&CapacityStep {
                rate_per_s: rate,
                p99_us: 1_000 * number,
                ..CapacityStep::default()
            });
        }
        let (report, _) = run.view();
        let steps = &report.tests[0].capacity.as_ref().unwrap().steps;
        assert_eq!(
            steps.iter().map(|s| s.rate_per_s).collect::<Vec<_>>(),
            vec![100.0, 200.0]
        );
        let page = crate::output::html::render_body(&report, None, None, None);
        assert!(page.contains("p99 of each step by offered rate"), "{page}");
    }
}
