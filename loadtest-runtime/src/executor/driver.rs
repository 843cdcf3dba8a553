//! Drives one test: builds its shared state, starts the load model, collects a point of the
//! series every second (sending progress and checking `abort_on_fail`), stops it at its end or on
//! an interrupt, and assembles the [`TestResult`].

use super::Stop;
use super::closed::{self, ClosedPlan};
use super::open::{self, OpenPlan};
use crate::RuntimeError;
use crate::config::{LoadModel, TestConfig};
use crate::grammar::ClientKind;
use crate::http::{RateLimiter, new_transport, proxy_variables};
use crate::metrics::hdr;
use crate::metrics::{
    CpuWait, Interval, IterationClass, Metrics, PHASE_NAMES, ProcessSample, RequestClass,
};
pub(crate) use crate::protocol::Progress;
use crate::registry::LoadTestDef;
use crate::report::{
    ConnectionCounts, ErrorSample, GeneratorHealth, Goodput, IntervalPoint, IterationCounts,
    RequestMetrics, RequestTotals, StreamMetrics, TestResult,
};
use crate::shared::TestShared;
use crate::verdict;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long in-flight iterations may finish after a test's planned end before they are cancelled.
pub(crate) const GRACEFUL_STOP: Duration = Duration::from_secs(10);

/// One test to run.
pub(crate) struct RunTest<'a> {
    pub(crate) def: &'static LoadTestDef,
    pub(crate) config: TestConfig,
    pub(crate) setup: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) default_base_url: Option<String>,
    pub(crate) interrupt: Arc<Stop>,
    pub(crate) on_progress: &'a mut (dyn FnMut(Progress) + Send),
    /// Keep each request name's latency per second in the series.
    pub(crate) request_series: bool,
    /// Send live metrics with each progress event.
    pub(crate) live_metrics: bool,
    /// How long after the start the generator's health begins to be judged.
    pub(crate) health_warm_up: Duration,
    /// Export the test's metrics over OTLP (`--otlp`).
    pub(crate) otlp: Option<&'a crate::protocol::OtlpExport>,
    /// The run's coordinated start (`--start-at`, seconds since the Unix epoch) when this
    /// process started after it: the test joins the whole run's schedule where it stands
    /// (`join.rs`) instead of starting its own from the beginning. `None`: the test starts now.
    pub(crate) join_from_unix: Option<f64>,
}

/// Runs one test to its end and returns what was measured.
pub(crate) async fn run_test(req: RunTest<'_>) -> Result<TestResult, RuntimeError> {
    let RunTest {
        def,
        config,
        setup,
        default_base_url,
        interrupt,
        on_progress,
        request_series,
        live_metrics,
        health_warm_up,
        otlp,
        join_from_unix,
    } = req;
    let name = def.full_name();
    // Live metrics and OTLP export take each request name's latency from its per-second
    // histograms.
    let metrics = Metrics::with_settings(
        config.max_names,
        request_series || live_metrics || otlp.is_some(),
        config.slo.map(|d| d.as_micros() as u64),
    );
    let shard = config.shard.clone();
    let position = shard.as_ref().map_or((0, 1), |s| s.position());
    let max_idle = match (&config.model, &shard) {
        (LoadModel::Closed { .. }, Some(s)) => s.users.unwrap_or(0) as usize,
        (LoadModel::Closed { users, .. }, None) => users.peak() as usize,
        (LoadModel::Open { .. }, Some(s)) => s.max_in_flight.unwrap_or(1) as usize,
        (LoadModel::Open { max_in_flight, .. }, None) => *max_in_flight as usize,
    };
    let rate_limit = shard.as_ref().map_or(config.rate_limit, |s| s.rate_limit);
    let base_url = config.base_url.clone().or(default_base_url);
    let shared = Arc::new(TestShared {
        name: name.clone(),
        id: next_test_id(),
        client: new_transport(
            config.client,
            max_idle.clamp(1, 100_000),
            config.danger_accept_invalid_certs,
            config.local_addresses.clone(),
        )?,
        cookies: config.cookies,
        #[cfg(any(feature = "ws", feature = "grpc"))]
        accept_invalid_certs: config.danger_accept_invalid_certs,
        base_url: base_url.clone(),
        metrics: metrics.clone(),
        retry: config.retry.clone(),
        timeout: config.timeout,
        limiter: rate_limit.map(|r| RateLimiter::new(r.per_second)),
        setup,
        secrets: {
            let secrets = crate::redact::secrets();
            if let Some(t) = &base_url {
                secrets.add_url(t);
            }
            secrets
        },
        gauges: super::LiveGauges::new(),
        health_warm_up,
        trace: crate::http::trace_context::TraceSettings {
            mode: config.trace,
            sample: config.trace_sample,
        },
    });
    let otlp = match otlp {
        Some(settings) => Some(
            crate::otlp::TestExport::start(
                settings,
                &name,
                shard.as_ref().map(|s| s.summary().shard.index),
            )
            .map_err(RuntimeError::Otlp)?,
        ),
        None => None,
    };
    let soft = Arc::new(Stop::default());
    let hard = Arc::new(Stop::default());
    let open_model = matches!(config.model, LoadModel::Open { .. });
    let mut before = ProcessSample::now();
    let mut live = live_metrics.then(|| super::live::LiveTally::new(before));
    let started_at = std::time::SystemTime::now();
    // When the test's own work began (its generator's health counts from here)...
    let began = Instant::now();
    // ...and when its schedule started: now, or the coordinated start a late shard joins.
    let (start, join) = join_origin(join_from_unix, started_at, began);
    let missed = match (&config.model, join) {
        (LoadModel::Open { rate, .. }, Some(j)) if !shard.as_ref().is_some_and(|s| s.idle) => {
            super::join::missed_by_second(
                rate,
                config.duration.map(|d| d.as_secs_f64()),
                config.iterations,
                position,
                j,
            )
        }
        _ => Vec::new(),
    };
    let mut load = match config.model.clone() {
        // A shard with no load of its own (more shards than users) ends at once.
        _ if shard.as_ref().is_some_and(|s| s.idle) => tokio::spawn(async {}),
        LoadModel::Closed { users, think_time } => tokio::spawn(closed::run(
            shared.clone(),
            def.run,
            ClosedPlan {
                users,
                think: think_time,
                duration: config.duration,
                iterations: shard.as_ref().map_or(config.iterations, |s| s.iterations),
                iteration_timeout: config.iteration_timeout,
                shard: position,
                origin: start,
            },
            soft.clone(),
            hard.clone(),
        )),
        LoadModel::Open {
            rate,
            max_in_flight,
            on_saturation,
        } => tokio::spawn(open::run(
            shared.clone(),
            def.run,
            OpenPlan {
                rate,
                max_in_flight: shard
                    .as_ref()
                    .and_then(|s| s.max_in_flight)
                    .unwrap_or(max_in_flight),
                on_saturation,
                duration: config.duration,
                // The whole test's budget: each shard starts its arrivals among the first ones.
                iterations: config.iterations,
                iteration_timeout: config.iteration_timeout,
                shard: position,
                origin: start,
                join: join.unwrap_or(0.0),
            },
            soft.clone(),
            hard.clone(),
        )),
    };

    let mut series = Series::new(open_model);
    // A late join: the seconds of the schedule before it, each with the arrivals it missed;
    // those of the second it joined in go to that second's point. The ticks keep to the
    // schedule's whole seconds, as the other shards' do.
    let whole_seconds_before = join.map_or(0, |j| j.floor() as u64);
    for s in 0..whole_seconds_before {
        let m = missed.get(s as usize).copied().unwrap_or(0);
        series.push((s + 1) as f64, Interval::default(), m);
    }
    let mut missed_ahead: u64 = missed.iter().skip(whole_seconds_before as usize).sum();
    let mut progress_latency = hdr::new_hist();
    let mut interrupted = false;
    let mut aborted_by: Option<String> = None;
    let mut soft_since: Option<Instant> = None;
    let mut next_tick = start + Duration::from_secs(whole_seconds_before + 1);
    let planned_s = config.duration.map(|d| d.as_secs_f64());
    let mut last_tick = began;
    // When the generator's CPU use begins to count (after the health warm-up).
    let mut health_start = began;
    loop {
        let hard_deadline = soft_since.map(|s| s + GRACEFUL_STOP);
        let wake = hard_deadline.map_or(next_tick, |d| d.min(next_tick));
        tokio::select! {
            res = &mut load => {
                if let Err(source) = res {
                    return Err(RuntimeError::Generator { test: name, source });
                }
                break;
            }
            _ = interrupt.wait(), if !interrupted => {
                interrupted = true;
                soft.stop();
                hard.stop();
            }
            _ = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                if soft.is_stopped() && soft_since.is_none() {
                    soft_since = Some(now);
                }
                if hard_deadline.is_some_and(|d| now >= d) {
                    hard.stop();
                }
                if now >= next_tick {
                    if health_start == began
                        && !health_warm_up.is_zero()
                        && now >= began + health_warm_up
                    {
                        before = ProcessSample::now();
                        health_start = now;
                    }
                    let mut interval = metrics.take_interval();
                    let (iterations, interval_latency) = (interval.iterations, &interval.latency);
                    last_tick = now;
                    next_tick += Duration::from_secs(1);
                    // Progress needs counts and a p99 so far, not a merge of every histogram of
                    // every shard: that merge stalled the load for milliseconds each second on a
                    // one-thread runtime. The p99 comes from the interval histograms added up.
                    let _ = progress_latency.add(interval_latency);
                    let totals = metrics.totals();
                    on_progress(Progress {
                        test: name.clone(),
                        elapsed_s: (now - start).as_secs_f64(),
                        planned_s,
                        iterations: totals.completed,
                        failed: totals.failed,
                        requests: totals.requests,
                        request_errors: totals.request_errors,
                        rate_per_s: iterations as f64,
                        p99_us: progress_latency.value_at_quantile(0.99),
                        dropped: totals.dropped,
                        live: live
                            .as_mut()
                            .map(|l| Box::new(l.tick(&interval, &metrics, &shared.gauges))),
                    });
                    if let Some(export) = &otlp {
                        export.tick(&interval, &metrics);
                    }
                    if !request_series {
                        interval.request_latency.clear();
                        interval.stream_gap.clear();
                    }
                    series.push((now - start).as_secs_f64(), interval, std::mem::take(&mut missed_ahead));
                    if config.abort_on_fail && aborted_by.is_none() {
                        let merged = metrics.merged();
                        let outcomes = verdict::evaluate(&config.thresholds, &merged, (now - start).as_secs_f64());
                        // Only explicit rules abort: the error budget is judged at the end.
                        if let Some(failed) = outcomes.iter().find(|o| !o.passed && o.rule != verdict::ERROR_BUDGET) {
                            aborted_by = Some(failed.rule.clone());
                            soft.stop();
                            hard.stop();
                        }
                    }
                }
            }
        }
    }
    let end = Instant::now();
    // From the schedule's origin: a late join's test spans the whole run's schedule.
    let elapsed_s = (end - start).as_secs_f64();
    // What ended after the last tick: a point of its own, or, when it is a sliver of a second,
    // part of the last point (so the series adds up to the totals and counts whole seconds).
    let mut tail = metrics.take_interval();
    // The last slice goes out with the final export, which the test's result waits for: the
    // receiver has the final numbers before the report does.
    let otlp_warning = match otlp {
        Some(export) => export.finish(&tail, &metrics).await,
        None => None,
    };
    if !request_series {
        tail.request_latency.clear();
        tail.stream_gap.clear();
    }
    if end > last_tick + Duration::from_millis(50) || series.is_empty() {
        series.push(elapsed_s, tail, missed_ahead);
    } else {
        series.extend_last(elapsed_s, tail, missed_ahead);
    }
    let series = series.finish();
    let after = ProcessSample::now();
    let merged = metrics.merged();
    let mut result = assemble(
        &config,
        name,
        merged,
        series,
        elapsed_s,
        interrupted,
        aborted_by,
        open_model,
        before,
        after,
        (end - health_start).as_secs_f64(),
    );
    result.started_at_unix = match (join, join_from_unix) {
        // The schedule's origin: the coordinated start the test joined.
        (Some(_), Some(at)) => Some(at),
        _ => started_at
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs_f64()),
    };
    result.joined_at_s = join;
    result.iterations.missed = missed.iter().sum();
    result.warnings = metrics.name_warnings();
    result.warnings.extend(otlp_warning);
    Ok(result)
}

/// The per-second series as it is collected: finished points, and the last interval kept whole
/// until the next one arrives (the end of a test may still add to it).
struct Series {
    points: Vec<IntervalPoint>,
    /// The last point: its end, its interval, and the arrivals of its second a late join missed.
    last: Option<(f64, Interval, u64)>,
    open_model: bool,
}

impl Series {
    fn new(open_model: bool) -> Series {
        Series {
            points: Vec::new(),
            last: None,
            open_model,
        }
    }

    fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// Adds the interval that ended `t_s` seconds into the test, and the arrivals a late join
    /// missed in it.
    fn push(&mut self, t_s: f64, interval: Interval, missed: u64) {
        if let Some((t, last, m)) = self.last.replace((t_s, interval, missed)) {
            self.points.push(point(t, &last, m, self.open_model));
        }
    }

    /// Adds `interval`, which ended `t_s` seconds into the test, to the last point.
    fn extend_last(&mut self, t_s: f64, interval: Interval, missed: u64) {
        match &mut self.last {
            Some((t, last, m)) => {
                *t = t_s;
                last.add(&interval);
                *m += missed;
            }
            None => self.last = Some((t_s, interval, missed)),
        }
    }

    fn finish(mut self) -> Vec<IntervalPoint> {
        if let Some((t, last, m)) = self.last.take() {
            self.points.push(point(t, &last, m, self.open_model));
        }
        self.points
    }
}

/// The series point of an interval that ended `t_s` seconds into the test, in which a late
/// join missed `missed` arrivals.
fn point(t_s: f64, iv: &Interval, missed: u64, open_model: bool) -> IntervalPoint {
    IntervalPoint {
        t_s,
        missed,
        iterations: iv.iterations,
        failed: iv.failed,
        requests: iv.requests,
        request_errors: iv.request_errors,
        p50_us: iv.latency.value_at_quantile(0.50),
        p95_us: iv.latency.value_at_quantile(0.95),
        p99_us: iv.latency.value_at_quantile(0.99),
        iteration_latency: Some(hdr::encode(&iv.latency)),
        iteration_latency_uncorrected: open_model.then(|| hdr::encode(&iv.latency_uncorrected)),
        request_latency: iv
            .request_latency
            .iter()
            .map(|(name, h)| (name.to_string(), hdr::encode(h)))
            .collect(),
        stream_gap: iv
            .stream_gap
            .iter()
            .map(|(name, h)| (name.to_string(), hdr::encode(h)))
            .collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    config: &TestConfig,
    name: String,
    m: crate::metrics::WorkerMetrics,
    series: Vec<IntervalPoint>,
    elapsed_s: f64,
    interrupted: bool,
    aborted_by: Option<String>,
    open_model: bool,
    before: ProcessSample,
    after: ProcessSample,
    cpu_elapsed_s: f64,
) -> TestResult {
    let per_s = |n: u64| {
        if elapsed_s > 0.0 {
            n as f64 / elapsed_s
        } else {
            0.0
        }
    };
    let mut totals = RequestTotals::default();
    let mut request_names = std::collections::BTreeMap::new();
    for (rname, stats) in &m.requests {
        let mut rm = RequestMetrics {
            count: stats.count(),
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            latency: hdr::to_report(&stats.latency),
            exemplars: stats.exemplars.clone(),
            stream: stats.stream.as_deref().map(|s| StreamMetrics {
                streams: s.streams,
                broken: s.broken,
                chunks: s.chunks,
                events: s.events,
                first_byte: hdr::to_report(&s.first_byte),
                first_event: hdr::to_report(&s.first_event),
                gap: hdr::to_report(&s.gap),
                duration: hdr::to_report(&s.duration),
            }),
            ..Default::default()
        };
        if let Some(shard) = &config.shard {
            rm.exemplars.set_shard(shard.summary().shard.index);
        }
        for class in RequestClass::ALL {
            let n = stats.by_class[class as usize];
            if n > 0 {
                rm.by_class.insert(class, n);
                *totals.by_class.entry(class).or_insert(0) += n;
            }
        }
        for &(status, n) in &stats.by_status {
            rm.by_status.insert(status.to_string(), n);
            *totals.by_status.entry(status.to_string()).or_insert(0) += n;
        }
        totals.total += rm.count;
        totals.bytes_sent += rm.bytes_sent;
        totals.bytes_received += rm.bytes_received;
        request_names.insert(rname.to_string(), rm);
    }
    totals.rate_per_s = per_s(totals.total);
    totals.retries_attempted = m.retries_attempted;
    totals.retries_exhausted = m.retries_exhausted;

    let mut iterations = IterationCounts {
        total: m.completed(),
        ok: m.iter_ok,
        failed: m.failed(),
        dropped: m.dropped,
        late: m.late,
        interrupted: m.interrupted,
        rate_per_s: per_s(m.completed()),
        goodput: config.slo.map(|slo| Goodput {
            slo_us: slo.as_micros() as u64,
            good: m.iter_good,
            rate_per_s: per_s(m.iter_good),
        }),
        ..Default::default()
    };
    for class in IterationClass::ALL {
        let n = m.iter_failed[class as usize];
        if n > 0 {
            iterations.failed_by_class.insert(class, n);
        }
    }
    // The cores the load could use: those available, or fewer if it ran on fewer worker threads
    // (LOADTEST_WORKER_THREADS).
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpus = super::workers::threads().clamp(1, available);
    let cpu_seconds = (after.cpu_seconds - before.cpu_seconds).max(0.0);
    let wait = CpuWait::between(&before, &after);
    let mut generator = GeneratorHealth {
        cpu_seconds,
        cpu_percent: if cpu_elapsed_s > 0.0 {
            cpu_seconds / cpu_elapsed_s * 100.0
        } else {
            0.0
        },
        cpus,
        peak_rss_bytes: after.peak_rss_bytes,
        scheduling_lag: hdr::summary(&m.lag),
        dropped: m.dropped,
        late: m.late,
        saturated: false,
        warnings: Vec::new(),
        cpu_wait_seconds: wait.wait_seconds,
        cpu_wait_percent: wait.wait_share * 100.0,
        steal_percent: wait.steal_share * 100.0,
        disturbed: false,
    };
    verdict::judge_generator(&mut generator, open_model);
    let thresholds = if config.smoke {
        // A smoke check only asks that no iteration fails.
        verdict::evaluate(&[], &m, elapsed_s)
    } else {
        verdict::evaluate(&config.thresholds, &m, elapsed_s)
    };
    let mut errors: Vec<ErrorSample> = m
        .errors
        .iter()
        .map(|((class, message), count)| ErrorSample {
            class: class.to_string(),
            message: message.clone(),
            count: *count,
        })
        .collect();
    errors.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.message.cmp(&b.message))
    });
    if errors
        .iter()
        .any(|e| e.message.contains("os error 24") || e.message.contains("Too many open files"))
    {
        let limit = open_files_limit().map_or_else(String::new, |n| format!(" (the limit is {n})"));
        generator.warnings.push(format!(
            "the load generator ran out of file descriptors{limit}: raise it with `ulimit -n`, or lower users / max_in_flight"
        ));
        generator.saturated = true;
    }
    let proxies = proxy_variables();
    if !proxies.is_empty() {
        generator.warnings.push(match config.client {
            ClientKind::Native | ClientKind::Hyper => format!(
                "{} set, but this test used the {} transport, which connects directly and ignores proxies; client = \"reqwest\" uses them",
                proxies.join(", "),
                config.client.as_str()
            ),
            ClientKind::Reqwest => format!(
                "{} set: this test used the reqwest transport, which sends through the proxy",
                proxies.join(", ")
            ),
        });
    }
    let passed = verdict::thresholds_held(&thresholds, aborted_by.as_deref());
    TestResult {
        name,
        started_at_unix: None,
        config: config.summary(),
        elapsed_s,
        interrupted,
        aborted_by,
        iterations,
        iteration_latency: hdr::to_report(&m.latency),
        iteration_latency_uncorrected: open_model.then(|| hdr::to_report(&m.latency_uncorrected)),
        requests: totals,
        request_names,
        custom_latencies: m
            .custom_latencies
            .iter()
            .map(|(k, h)| (k.to_string(), hdr::to_report(h)))
            .collect(),
        custom_counters: m
            .counters
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        series,
        thresholds,
        generator,
        errors,
        passed,
        connections: ConnectionCounts {
            opened: m.conn_opened,
            reused: m.conn_reused,
            reopened: m.conn_reopened,
        },
        phases: PHASE_NAMES
            .iter()
            .zip(&m.phases)
            .filter(|(_, h)| !h.is_empty())
            .map(|(n, h)| (n.to_string(), hdr::to_report(h)))
            .collect(),
        warnings: Vec::new(),
        shards: Vec::new(),
        missing_shards: Vec::new(),
        start_skew: None,
        joined_at_s: None,
    }
}

/// The schedule's origin and the join offset in seconds: the coordinated start `at` when it
/// passed before `now` (the wall clock and the monotonic clock read together), else now and
/// no join.
fn join_origin(
    at: Option<f64>,
    now: std::time::SystemTime,
    began: Instant,
) -> (Instant, Option<f64>) {
    let Some(at) = at else {
        return (began, None);
    };
    let now_unix = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let late = now_unix - at;
    if !(late.is_finite() && late > 0.0) {
        return (began, None);
    }
    match began.checked_sub(Duration::from_secs_f64(late.min(86_400.0 * 365.0))) {
        Some(origin) => (origin, Some(late)),
        None => (began, None),
    }
}

/// A number no other test of this process has.
fn next_test_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The soft limit on open files, from `/proc/self/limits` on Linux.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
