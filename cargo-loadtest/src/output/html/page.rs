//! The page: the run's summary, then per test its verdict and thresholds, the charts (latency
//! percentiles over time, throughput and errors over time, the percentile spectrum from the
//! HdrHistogram), the per-request-name table, phase timings, the generator's health and, with a
//! baseline, its curves overlaid and the verdict table. A capacity search (`--find-max`) adds
//! its finding, its steps and their p99 against the offered rate.
//!
//! Everything shown is read from the report: the statuses are the verdict's
//! (`loadtest_report::verdict`), never decided here. Nothing depends on when or where the page
//! is rendered, so a report renders to the same bytes every time.

use super::chart::{self, Axis, Chart, Line, esc};
use crate::calendar::readable;
use crate::output::summary;
use loadtest_grammar::GatedMetric;
use loadtest_report::hdr::{self, Hist};
use loadtest_report::report::{
    CapacityResult, Comparison, IntervalPoint, LatencySummary, MetricVerdict, RunReport, RunStatus,
    StepVerdict, TestReport, TestResult, TestStatus, human_us,
};
use std::fmt::Write as _;

/// Series colours: distinguishable in colour and in grey print.
const P50: &str = "#1b7837";
const P95: &str = "#e08214";
const P99: &str = "#b2182b";
const MAX: &str = "#5e3c99";
const ITERATIONS: &str = "#2166ac";
const REQUESTS: &str = "#67a9cf";
const FAILED: &str = "#b2182b";
const REQUEST_ERRORS: &str = "#f4a582";
const BASELINE: &str = "#7f7f7f";
const UNCORRECTED: &str = "#9970ab";

pub(crate) const STYLE: &str = "
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d1d1d;
  margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 0 0 6px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; color: #444; }
td.num, th.num { text-align: right; padding-left: 10px; }
.status { display: inline-block; padding: 1px 8px; border-radius: 4px; font-weight: 700; font-size: 12px;
  border: 1px solid currentColor; }
.status.passed { color: #1b7837; } .status.failed, .status.errored { color: #b2182b; }
.status.interrupted { color: #8c510a; }
.fail { color: #b2182b; font-weight: 600; } .warn { color: #b35806; font-weight: 600; } .ok { color: #1b7837; }
section.test { border-top: 2px solid #333; margin-top: 28px; padding-top: 12px; }
figure { margin: 8px 0 14px; } figcaption { font-weight: 600; margin-bottom: 2px; }
svg.chart { width: 100%; height: auto; max-height: 340px; display: block; }
.charts { display: grid; grid-template-columns: 1fr; gap: 4px; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 8px; font-size: 12px; }
.meta td:first-child { color: #555; padding-right: 18px; }
.note { color: #555; }
@media (min-width: 1400px) { body { max-width: 1360px; } .charts { grid-template-columns: 1fr 1fr; } }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  section.test { break-before: page; border-top: none; }
  figure, table { break-inside: avoid; }
  svg.chart { max-height: 260px; }
}
";

/// Renders the whole page. `baseline` is the report the run was compared with, when known:
/// its curves are drawn under the run's (the verdicts come from the report's comparisons).
pub fn render(report: &RunReport, baseline: Option<&RunReport>) -> String {
    render_with_traces(report, baseline, None)
}

/// Renders the whole page, the slowest requests' trace ids linked through `trace_url`.
pub fn render_with_traces(
    report: &RunReport,
    baseline: Option<&RunReport>,
    trace_url: Option<&crate::output::trace_url::TraceUrl>,
) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title(report, None))
    );
    s.push_str(&render_body(report, baseline, None, trace_url));
    s.push_str("</body>\n</html>\n");
    s
}

/// A run still going, as the live dashboard shows it: which of the report's tests are running
/// now (their badges, and the run's, say RUNNING instead of a verdict not yet given).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unfinished<'a> {
    /// One flag per test of the report, in its order.
    pub(crate) running: &'a [bool],
}

/// The document's title: the run and its status.
pub(crate) fn title(report: &RunReport, unfinished: Option<Unfinished<'_>>) -> String {
    let word = match unfinished {
        Some(_) => "RUNNING",
        None => run_status(report.status).0,
    };
    format!("cargo loadtest: {} ({word})", run_title(report))
}

/// What is inside `<body>`: the header, the summary, a section per test and the slowest
/// requests (their trace ids linked through `trace_url`). The live dashboard draws exactly this,
/// of a report still growing (`unfinished`) and at the end of the final one, so its last state
/// is `report.html`'s body.
pub(crate) fn render_body(
    report: &RunReport,
    baseline: Option<&RunReport>,
    unfinished: Option<Unfinished<'_>>,
    trace_url: Option<&crate::output::trace_url::TraceUrl>,
) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let status = match unfinished {
        Some(_) => ("RUNNING", "running"),
        None => run_status(report.status),
    };
    let _ = write!(
        s,
        "<header>\n<h1>Load test report <span class=\"status {}\">{}</span></h1>\n",
        status.1, status.0
    );
    run_info(&mut s, report, unfinished.is_some());
    s.push_str("</header>\n");
    let running = |i: usize| unfinished.is_some_and(|u| u.running.get(i) == Some(&true));
    summary_table(&mut s, report, &running);
    for (i, t) in report.tests.iter().enumerate() {
        let old = baseline.and_then(|b| find_test(b, t));
        test_section(&mut s, i, t, old, running(i));
    }
    super::exemplars::section(&mut s, report, trace_url);
    s
}

fn run_title(report: &RunReport) -> String {
    match report.tests.as_slice() {
        [] => "no test".into(),
        [t] => t.id().qualified(),
        ts => format!("{} tests", ts.len()),
    }
}

fn run_status(s: RunStatus) -> (&'static str, &'static str) {
    match s {
        RunStatus::Passed => ("PASSED", "passed"),
        RunStatus::Failed => ("FAILED", "failed"),
        RunStatus::Interrupted => ("INTERRUPTED", "interrupted"),
    }
}

fn test_status(s: TestStatus) -> (&'static str, &'static str) {
    let class = match s {
        TestStatus::Passed => "passed",
        TestStatus::Failed => "failed",
        TestStatus::Errored => "errored",
        TestStatus::Interrupted => "interrupted",
    };
    (summary::status_word(s), class)
}

/// The baseline's test of the same identity: the one the comparison judged against
/// ([`RunReport::test`]), never another package's test of the same target and name, nor a test
/// of the same name elsewhere.
fn find_test<'a>(baseline: &'a RunReport, t: &TestReport) -> Option<&'a TestResult> {
    baseline.test(t.id()).and_then(|b| b.result.as_ref())
}

fn run_info(s: &mut String, r: &RunReport, unfinished: bool) {
    let info = &r.run;
    s.push_str("<table class=\"meta\">\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(s, "<tr><td>{k}</td><td>{}</td></tr>", esc(&v));
    };
    row("started", readable(info.started_at_unix));
    row("duration", format!("{:.1}s", info.duration_s));
    row(
        "git commit",
        info.git_commit.clone().unwrap_or_else(|| "-".into()),
    );
    row("host", format!("{} ({} CPUs)", info.host, info.cpus));
    row("command", info.command_line.join(" "));
    row(
        "cargo-loadtest",
        format!("{} (report schema {})", info.tool_version, r.schema_version),
    );
    row(
        "exit code",
        if unfinished {
            "- (running)".into()
        } else {
            r.exit_code.to_string()
        },
    );
    if let Some(c) = r.tests.iter().find_map(|t| t.comparison.as_ref()) {
        row("compared with", baseline_line(c));
    }
    s.push_str("</table>\n");
}

fn baseline_line(c: &Comparison) -> String {
    let b = &c.baseline;
    let mut line = b.source.clone();
    if let Some(commit) = &b.git_commit {
        let _ = write!(line, ", commit {}", &commit[..commit.len().min(12)]);
    }
    let _ = write!(line, ", {} on {}", readable(b.started_at_unix), b.host);
    line
}

fn summary_table(s: &mut String, r: &RunReport, running: &dyn Fn(usize) -> bool) {
    s.push_str("<h3>Summary</h3>\n<table class=\"summary\">\n<tr>");
    for (i, h) in summary::HEADER.iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"num\"" };
        let _ = write!(s, "<th{class}>{}</th>", esc(h));
    }
    s.push_str("</tr>\n");
    for (i, t) in r.tests.iter().enumerate() {
        let cells = summary::row(t);
        s.push_str("<tr>");
        for (j, cell) in cells.iter().enumerate() {
            if j == 0 {
                let _ = write!(s, "<td><a href=\"#test-{i}\">{}</a></td>", esc(cell));
            } else if j + 1 == cells.len() {
                let (word, class) = badge(t.status, running(i));
                let _ = write!(
                    s,
                    "<td class=\"num\"><span class=\"status {class}\">{word}</span></td>"
                );
            } else {
                let _ = write!(s, "<td class=\"num\">{}</td>", esc(cell));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    let count = |st: TestStatus| {
        (r.tests.iter().enumerate())
            .filter(|(i, t)| t.status == st && !running(*i))
            .count()
    };
    let now_running = (0..r.tests.len()).filter(|i| running(*i)).count();
    let _ = writeln!(
        s,
        "<p class=\"note\">{} passed; {} failed; {} errored; {} interrupted{}.</p>",
        count(TestStatus::Passed),
        count(TestStatus::Failed),
        count(TestStatus::Errored),
        count(TestStatus::Interrupted),
        if now_running > 0 {
            format!("; {now_running} running")
        } else {
            String::new()
        }
    );
}

/// A test's badge: its verdict, or RUNNING while it runs.
fn badge(status: TestStatus, running: bool) -> (&'static str, &'static str) {
    if running {
        ("RUNNING", "running")
    } else {
        test_status(status)
    }
}

fn test_section(s: &mut String, i: usize, t: &TestReport, old: Option<&TestResult>, running: bool) {
    let (word, class) = badge(t.status, running);
    let _ = writeln!(
        s,
        "<section class=\"test\" id=\"test-{i}\">\n<h2>{} <span class=\"status {class}\">{word}</span></h2>",
        esc(&t.id().qualified())
    );
    let _ = writeln!(s, "<p class=\"note\">package {}</p>", esc(&t.package));
    if !t.failures.is_empty() {
        s.push_str("<ul class=\"failures\">\n");
        for f in &t.failures {
            let _ = writeln!(s, "<li class=\"fail\">{}</li>", esc(f));
        }
        s.push_str("</ul>\n");
    }
    if let Some(e) = &t.error {
        let _ = writeln!(s, "<pre>{}</pre>", esc(e));
    }
    if let Some(c) = &t.capacity {
        capacity(s, c);
    }
    let Some(r) = &t.result else {
        s.push_str(
            "<p class=\"note\">No result: the test did not run to its end.</p>\n</section>\n",
        );
        return;
    };
    config_line(s, r);
    thresholds(s, r);
    if let Some(c) = &t.comparison {
        comparison(s, c);
    }
    s.push_str("<div class=\"charts\">\n");
    for c in charts(r, old) {
        let _ = writeln!(
            s,
            "<figure><figcaption>{}</figcaption>\n{}\n</figure>",
            esc(&c.title),
            chart::render(&c)
        );
    }
    s.push_str("</div>\n");
    requests(s, r);
    streams(s, r);
    custom_metrics(s, r);
    phases(s, r);
    generator(s, r);
    errors(s, r);
    s.push_str("</section>\n");
}

/// A capacity search: what it found, the p99 of each step against its offered rate (in rate
/// order; the search visits them out of order while it bisects), and the steps in the order run.
fn capacity(s: &mut String, c: &CapacityResult) {
    let _ = writeln!(
        s,
        "<h3>Capacity: {}</h3>\n<p>{}</p>",
        esc(&summary::capacity_interval(c)),
        esc(&c.summary)
    );
    if !c.steps.is_empty() {
        let mut by_rate: Vec<(f64, f64)> = c
            .steps
            .iter()
            .map(|st| (st.rate_per_s, st.p99_us as f64))
            .collect();
        by_rate.sort_by(|a, b| a.0.total_cmp(&b.0));
        let chart = Chart {
            kind: "capacity",
            title: "p99 of each step by offered rate".into(),
            x: Axis::PerSecond,
            y: Axis::Micros,
            lines: vec![Line {
                label: "p99".into(),
                color: P99,
                dashed: false,
                points: by_rate,
            }],
        };
        let _ = writeln!(
            s,
            "<div class=\"charts\">\n<figure><figcaption>{}</figcaption>\n{}\n</figure>\n</div>",
            esc(&chart.title),
            chart::render(&chart)
        );
    }
    s.push_str("<table>\n<tr>");
    for h in summary::STEP_HEADER {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>\n");
    let verdict_column = summary::STEP_HEADER.iter().position(|h| *h == "verdict");
    for (row, step) in summary::step_rows(c).iter().zip(&c.steps) {
        let class = match step.verdict {
            StepVerdict::Passed => "ok",
            StepVerdict::Interrupted => "",
            _ => "fail",
        };
        s.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if Some(i) == verdict_column {
                let _ = write!(s, "<td class=\"{class}\">{}</td>", esc(cell));
            } else {
                let _ = write!(s, "<td>{}</td>", esc(cell));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
}

fn config_line(s: &mut String, r: &TestResult) {
    let c = &r.config;
    let mut parts = Vec::new();
    match (c.users, c.rate_per_s) {
        (Some(u), _) => parts.push(format!("closed model, {u} users")),
        (_, Some(rate)) => parts.push(format!("open model, {rate}/s")),
        _ => parts.push(c.model.clone()),
    }
    if !c.stages.is_empty() {
        parts.push(format!("stages {}", c.stages.join(", ")));
    }
    if let Some(d) = c.duration_s {
        parts.push(format!("{d}s"));
    }
    if let Some(n) = c.iterations {
        parts.push(format!("{n} iterations"));
    }
    parts.push(format!("client {}", c.client));
    if let Some(url) = &c.base_url {
        parts.push(format!("target {url}"));
    }
    parts.push(format!(
        "ran {:.1}s{}",
        r.elapsed_s,
        if r.interrupted { ", interrupted" } else { "" }
    ));
    let _ = writeln!(s, "<p>{}</p>", esc(&parts.join(" · ")));
}

fn thresholds(s: &mut String, r: &TestResult) {
    if r.thresholds.is_empty() {
        return;
    }
    s.push_str(
        "<h3>Thresholds</h3>\n<table>\n<tr><th>rule</th><th>result</th><th>observed</th></tr>\n",
    );
    for th in &r.thresholds {
        let (word, class) = if th.passed {
            ("held", "ok")
        } else {
            ("FAILED", "fail")
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td></tr>",
            esc(&th.rule),
            esc(&th.message)
        );
    }
    if let Some(rule) = &r.aborted_by {
        let _ = writeln!(
            s,
            "<tr><td colspan=\"3\" class=\"fail\">stopped early by {}</td></tr>",
            esc(rule)
        );
    }
    s.push_str("</table>\n");
}

fn comparison(s: &mut String, c: &Comparison) {
    let _ = writeln!(
        s,
        "<h3>Compared with the baseline</h3>\n<p class=\"note\">{} ({}; dashed curves below are the baseline's newest run)</p>",
        esc(&baseline_line(c)),
        esc(&crate::output::summary::baseline_method(c.baseline.runs))
    );
    if let Some(note) = &c.note {
        let _ = writeln!(s, "<p>{}</p>", esc(note));
        return;
    }
    s.push_str("<table>\n<tr><th>metric</th><th class=\"num\">old</th><th class=\"num\">new</th><th class=\"num\">change</th><th class=\"num\">95% CI</th><th>verdict</th></tr>\n");
    for m in &c.metrics {
        let f = |v: Option<f64>| {
            let Some(v) = v else { return "-".to_string() };
            if m.metric == GatedMetric::ErrorRate {
                format!("{:+.2}pp", v * 100.0)
            } else {
                format!("{:+.1}%", v * 100.0)
            }
        };
        let (verdict, class) = match m.verdict {
            MetricVerdict::Regressed => ("REGRESSED", "fail"),
            MetricVerdict::Improved => ("improved", "ok"),
            MetricVerdict::Unchanged => ("unchanged", ""),
            MetricVerdict::InsufficientData => ("insufficient data", ""),
            MetricVerdict::Inconclusive => ("INCONCLUSIVE", "warn"),
        };
        let verdict = match (&m.note, m.verdict) {
            (Some(note), MetricVerdict::Inconclusive) => format!("{verdict}: {}", esc(note)),
            _ => verdict.to_string(),
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} .. {}</td><td class=\"{class}\">{verdict}</td></tr>",
            esc(m.metric.name()),
            esc(&summary::metric_value(m.metric, m.old)),
            esc(&summary::metric_value(m.metric, m.new)),
            f(m.change),
            f(m.ci_low),
            f(m.ci_high)
        );
    }
    s.push_str("</table>\n");
}

/// The per-second rate of a count over a point's interval.
fn per_s(points: &[IntervalPoint], i: usize, n: u64) -> f64 {
    let start = if i == 0 { 0.0 } else { points[i - 1].t_s };
    let len = points[i].t_s - start;
    if len > 0.0 { n as f64 / len } else { 0.0 }
}

fn decoded(encoded: Option<&String>) -> Option<Hist> {
    encoded.and_then(|e| hdr::decode(e).ok())
}

/// The test's charts: latency over time, throughput and errors over time, the spectrum.
pub(crate) fn charts(r: &TestResult, old: Option<&TestResult>) -> Vec<Chart> {
    let pts = &r.series;
    let line = |label: &str, color: &'static str, dashed: bool, points: Vec<(f64, f64)>| Line {
        label: label.into(),
        color,
        dashed,
        points,
    };
    let pick = |pts: &[IntervalPoint], f: fn(&IntervalPoint) -> u64| -> Vec<(f64, f64)> {
        pts.iter()
            .filter(|p| p.iterations > 0)
            .map(|p| (p.t_s, f(p) as f64))
            .collect()
    };
    let mut latency = vec![
        line("p50", P50, false, pick(pts, |p| p.p50_us)),
        line("p95", P95, false, pick(pts, |p| p.p95_us)),
        line("p99", P99, false, pick(pts, |p| p.p99_us)),
    ];
    let max: Vec<(f64, f64)> = pts
        .iter()
        .filter(|p| p.iterations > 0)
        .filter_map(|p| decoded(p.iteration_latency.as_ref()).map(|h| (p.t_s, h.max() as f64)))
        .collect();
    if !max.is_empty() {
        latency.push(line("max", MAX, false, max));
    }
    let rate = |pts: &[IntervalPoint], f: fn(&IntervalPoint) -> u64| -> Vec<(f64, f64)> {
        (0..pts.len())
            .map(|i| (pts[i].t_s, per_s(pts, i, f(&pts[i]))))
            .collect()
    };
    let mut throughput = vec![
        line(
            "iterations/s",
            ITERATIONS,
            false,
            rate(pts, |p| p.iterations),
        ),
        line("requests/s", REQUESTS, false, rate(pts, |p| p.requests)),
        line(
            "failed iterations/s",
            FAILED,
            false,
            rate(pts, |p| p.failed),
        ),
        line(
            "request errors/s",
            REQUEST_ERRORS,
            false,
            rate(pts, |p| p.request_errors),
        ),
    ];
    let mut spectrum = Vec::new();
    if let Ok(h) = hdr::decode(&r.iteration_latency.hdr_v2_base64) {
        spectrum.push(line("iteration latency", P99, false, spectrum_points(&h)));
    }
    if let Some(u) = &r.iteration_latency_uncorrected
        && let Ok(h) = hdr::decode(&u.hdr_v2_base64)
    {
        spectrum.push(line(
            "uncorrected (from the actual start)",
            UNCORRECTED,
            false,
            spectrum_points(&h),
        ));
    }
    if let Some(o) = old {
        let ops = &o.series;
        latency.push(line(
            "baseline p50",
            BASELINE,
            true,
            pick(ops, |p| p.p50_us),
        ));
        latency.push(line(
            "baseline p99",
            BASELINE,
            true,
            pick(ops, |p| p.p99_us),
        ));
        throughput.push(line(
            "baseline iterations/s",
            BASELINE,
            true,
            rate(ops, |p| p.iterations),
        ));
        if let Ok(h) = hdr::decode(&o.iteration_latency.hdr_v2_base64) {
            spectrum.push(line("baseline", BASELINE, true, spectrum_points(&h)));
        }
    }
    vec![
        Chart {
            kind: "latency",
            title: "Iteration latency over time: p50, p95, p99 and max of each second".into(),
            x: Axis::Seconds,
            y: Axis::Micros,
            lines: latency,
        },
        Chart {
            kind: "throughput",
            title: "Throughput and errors over time".into(),
            x: Axis::Seconds,
            y: Axis::PerSecond,
            lines: throughput,
        },
        Chart {
            kind: "spectrum",
            title: "Latency distribution: the percentile spectrum of the whole test".into(),
            x: Axis::Percentile,
            y: Axis::Micros,
            lines: spectrum,
        },
    ]
}

/// `(log10(1 / (1 - p)), value at p)` from p = 0 up to the percentile the count can tell
/// (at most 99.9999%), then the maximum.
fn spectrum_points(h: &Hist) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let top = (h.len() as f64).log10().min(6.0);
    let steps = (top / 0.025).ceil() as u32;
    let mut out: Vec<(f64, f64)> = (0..=steps)
        .map(|i| {
            let x = (f64::from(i) * 0.025).min(top);
            let q = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(q) as f64)
        })
        .collect();
    out.push((top, h.max() as f64));
    out
}

fn requests(s: &mut String, r: &TestResult) {
    if r.request_names.is_empty() {
        return;
    }
    s.push_str("<h3>Requests by name</h3>\n<table>\n<tr><th>name</th><th class=\"num\">count</th><th class=\"num\">rate</th><th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th><th class=\"num\">max</th><th>errors</th><th class=\"num\">sent</th><th class=\"num\">received</th></tr>\n");
    for (name, m) in &r.request_names {
        let l = &m.latency.summary;
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(name),
            m.count,
            esc(&summary::rate(m.count, r.elapsed_s)),
            human_us(l.p50_us as f64),
            human_us(l.p95_us as f64),
            human_us(l.p99_us as f64),
            human_us(l.max_us as f64),
            esc(&summary::errors_by_class(&m.by_class)),
            bytes(m.bytes_sent),
            bytes(m.bytes_received)
        );
    }
    s.push_str("</table>\n");
}

/// The test's custom metrics ([`summary::custom_rows`]), when it has any.
fn custom_metrics(s: &mut String, r: &TestResult) {
    let rows = summary::custom_rows(r);
    if rows.is_empty() {
        return;
    }
    s.push_str("<h3>Custom metrics</h3>\n<table>\n<tr>");
    for (i, h) in summary::CUSTOM_HEADER.iter().enumerate() {
        let class = if i >= 2 { " class=\"num\"" } else { "" };
        let _ = write!(s, "<th{class}>{h}</th>");
    }
    s.push_str("</tr>\n");
    for row in rows {
        s.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let class = if i >= 2 { " class=\"num\"" } else { "" };
            let _ = write!(s, "<td{class}>{}</td>", esc(c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
}

/// The streamed responses of each request name that had any.
fn streams(s: &mut String, r: &TestResult) {
    let rows = summary::stream_rows(r);
    if rows.is_empty() {
        return;
    }
    s.push_str("<h3>Streamed responses</h3>\n<table>\n<tr>");
    for (i, h) in summary::STREAM_HEADER.iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"num\"" };
        let _ = write!(s, "<th{class}>{}</th>", esc(h));
    }
    s.push_str("</tr>\n");
    for row in rows {
        s.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let class = if i == 0 { "" } else { " class=\"num\"" };
            let _ = write!(s, "<td{class}>{}</td>", esc(c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
}

fn summary_cells(l: &LatencySummary) -> String {
    format!(
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
        l.count,
        human_us(l.p50_us as f64),
        human_us(l.p95_us as f64),
        human_us(l.p99_us as f64),
        human_us(l.max_us as f64)
    )
}

fn phases(s: &mut String, r: &TestResult) {
    if r.phases.is_empty() {
        return;
    }
    s.push_str("<h3>Phase timings</h3>\n<table>\n<tr><th>phase</th><th class=\"num\">count</th><th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th><th class=\"num\">max</th></tr>\n");
    // The order a request goes through them.
    let order = ["dns", "connect", "tls", "first_byte", "transfer"];
    let mut names: Vec<&String> = r.phases.keys().collect();
    names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(order.len()));
    for name in names {
        let _ = writeln!(
            s,
            "<tr><td>{}</td>{}</tr>",
            esc(name),
            summary_cells(&r.phases[name].summary)
        );
    }
    s.push_str("</table>\n");
    let c = &r.connections;
    let _ = writeln!(
        s,
        "<p class=\"note\">connections: {} opened, {} requests on a kept connection, {} reopened</p>",
        c.opened, c.reused, c.reopened
    );
}

fn bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2} GiB", n / (1024.0 * 1024.0 * 1024.0))
    }
}

fn generator(s: &mut String, r: &TestResult) {
    let g = &r.generator;
    let _ = writeln!(
        s,
        "<h3>Load generator</h3>\n<table>\n<tr><td>health</td><td class=\"{}\">{}</td></tr>",
        if g.saturated { "fail" } else { "ok" },
        if g.saturated { "SATURATED" } else { "ok" }
    );
    let _ = writeln!(
        s,
        "<tr><td>CPU</td><td>{:.0}% of one core ({:.1}s over {} usable CPUs)</td></tr>",
        g.cpu_percent, g.cpu_seconds, g.cpus
    );
    let _ = writeln!(
        s,
        "<tr><td>peak memory</td><td>{}</td></tr>",
        bytes(g.peak_rss_bytes)
    );
    let lag = &g.scheduling_lag;
    if lag.count > 0 {
        let _ = writeln!(
            s,
            "<tr><td>scheduling lag</td><td>p50 {}, p99 {}, max {}</td></tr>",
            human_us(lag.p50_us as f64),
            human_us(lag.p99_us as f64),
            human_us(lag.max_us as f64)
        );
    }
    let i = &r.iterations;
    let _ = writeln!(
        s,
        "<tr><td>iterations</td><td>{} ok, {} failed, {} dropped, {} late, {} interrupted</td></tr>",
        i.ok, i.failed, i.dropped, i.late, i.interrupted
    );
    for w in &g.warnings {
        let _ = writeln!(
            s,
            "<tr><td>warning</td><td class=\"fail\">{}</td></tr>",
            esc(w)
        );
    }
    s.push_str("</table>\n");
}

fn errors(s: &mut String, r: &TestResult) {
    if r.errors.is_empty() {
        return;
    }
    s.push_str("<h3>Most frequent errors</h3>\n<table>\n<tr><th>class</th><th class=\"num\">count</th><th>message</th></tr>\n");
    for e in r.errors.iter().take(10) {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&e.class),
            e.count,
            esc(&e.message)
        );
    }
    s.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spectrum_rises_to_the_maximum() {
        let mut h = hdr::new_hist();
        for v in 1..=10_000u64 {
            hdr::record(&mut h, v);
        }
        let pts = spectrum_points(&h);
        assert_eq!(pts.first().map(|p| p.0), Some(0.0));
        assert_eq!(pts.last(), Some(&(4.0, h.max() as f64)));
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert!(spectrum_points(&hdr::new_hist()).is_empty());
    }
}
