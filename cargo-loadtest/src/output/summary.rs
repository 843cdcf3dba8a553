//! The summary table printed at the end of a run, and the table renderer `list` shares.

use loadtest_grammar::GatedMetric;
use loadtest_report::class::RequestClass;
use loadtest_report::report::{
    CapacityResult, RunReport, RunStatus, StepVerdict, TestReport, TestResult, TestStatus,
    human_rate, human_us,
};

/// Renders rows under a header with aligned columns (two spaces apart).
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The status word of a test.
pub fn status_word(s: TestStatus) -> &'static str {
    match s {
        TestStatus::Passed => "PASS",
        TestStatus::Failed => "FAIL",
        TestStatus::Errored => "ERROR",
        TestStatus::Interrupted => "INTERRUPTED",
    }
}

/// The cells of one test's row: test, iterations, failed, iter/s, requests, req errors, p50,
/// p95, p99, max, thresholds, generator, result.
///
/// `failed` counts iterations that failed after their retries (what the error budget judges),
/// as the progress line's `failed`; `req errors` counts request attempts that were not `ok`,
/// retried ones included, as the progress line's `req errors`.
pub fn row(t: &TestReport) -> Vec<String> {
    let name = t.id().qualified();
    let Some(r) = &t.result else {
        let mut cells = vec![name];
        cells.extend(std::iter::repeat_n("-".to_string(), HEADER.len() - 2));
        cells.push(status_word(t.status).to_string());
        return cells;
    };
    let l = &r.iteration_latency.summary;
    let passed = r.thresholds.iter().filter(|th| th.passed).count();
    // Saturating: a report read from a file (or the dashboard's provisional one) may count more
    // `ok` requests than requests.
    let request_errors = r.requests.total.saturating_sub(
        r.requests
            .by_class
            .get(&RequestClass::Ok)
            .copied()
            .unwrap_or(0),
    );
    vec![
        name,
        r.iterations.total.to_string(),
        r.iterations.failed.to_string(),
        iterations_per_s(r),
        r.requests.total.to_string(),
        request_errors.to_string(),
        human_us(l.p50_us as f64),
        human_us(l.p95_us as f64),
        human_us(l.p99_us as f64),
        human_us(l.max_us as f64),
        format!("{passed}/{}", r.thresholds.len()),
        generator_word(r),
        status_word(t.status).to_string(),
    ]
}

/// The `iter/s` cell: the throughput, and with an `slo` the goodput beside it
/// (`412.0 (good 398.5)`).
pub fn iterations_per_s(r: &TestResult) -> String {
    match &r.iterations.goodput {
        None => format!("{:.1}", r.iterations.rate_per_s),
        Some(g) => format!("{:.1} (good {:.1})", r.iterations.rate_per_s, g.rate_per_s),
    }
}

/// The generator column: `ok`, `SATURATED`, `DISTURBED` or both.
pub fn generator_word(r: &TestResult) -> String {
    match (r.generator.saturated, r.generator.disturbed) {
        (false, false) => "ok".into(),
        (true, false) => "SATURATED".into(),
        (false, true) => "DISTURBED".into(),
        (true, true) => "SATURATED,DISTURBED".into(),
    }
}

/// The header of the summary table.
pub const HEADER: [&str; 13] = [
    "test",
    "iterations",
    "failed",
    "iter/s",
    "requests",
    "req errors",
    "p50",
    "p95",
    "p99",
    "max",
    "thresholds",
    "generator",
    "result",
];

/// How many error classes a summary lists per test.
pub const TOP_ERROR_CLASSES: usize = 3;

/// One error class of a test: its name, how often it occurred, and its most frequent message
/// (already redacted by the harness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorClass {
    /// The class (`connect`, `http_5xx`, `user`, ...).
    pub class: String,
    /// Occurrences of every message of the class.
    pub count: u64,
    /// One sample message.
    pub sample: String,
}

/// The most frequent error classes of a test, most frequent first, at most `n`.
pub fn top_error_classes(r: &TestResult, n: usize) -> Vec<ErrorClass> {
    let mut classes: Vec<ErrorClass> = Vec::new();
    // `errors` is sorted by count, so the first message of a class is its most frequent. The
    // harness folds messages past its limit into one placeholder: a real message is a better
    // sample, whatever its count.
    let placeholder = |m: &str| m.starts_with('(') && m.ends_with(')');
    for e in &r.errors {
        match classes.iter_mut().find(|c| c.class == e.class) {
            Some(c) => {
                c.count += e.count;
                if placeholder(&c.sample) && !placeholder(&e.message) {
                    c.sample = e.message.clone();
                }
            }
            None => classes.push(ErrorClass {
                class: e.class.clone(),
                count: e.count,
                sample: e.message.clone(),
            }),
        }
    }
    classes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.class.cmp(&b.class)));
    classes.truncate(n);
    classes
}

/// A count per second over `elapsed_s` seconds, as the tables show rates.
pub fn rate(count: u64, elapsed_s: f64) -> String {
    let r = if elapsed_s > 0.0 {
        count as f64 / elapsed_s
    } else {
        0.0
    };
    format!("{r:.1}/s")
}

/// Requests that were not `ok`, by class (`http_5xx 3, timeout 1`), or `-`.
pub fn errors_by_class(by_class: &std::collections::BTreeMap<RequestClass, u64>) -> String {
    let errors: Vec<String> = by_class
        .iter()
        .filter(|(c, n)| **c != RequestClass::Ok && **n > 0)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    if errors.is_empty() {
        "-".into()
    } else {
        errors.join(", ")
    }
}

/// The header of a test's per-request-name table.
pub const REQUEST_HEADER: [&str; 7] = ["name", "count", "rate", "p50", "p95", "p99", "errors"];

/// A test's per-request-name table (name, count, rate, p50, p95, p99, errors by class), when
/// it is worth showing: the test has more than one request name, or anything failed (an
/// iteration, a request, or the verdict).
pub fn request_table(t: &TestReport) -> Option<String> {
    let r = t.result.as_ref()?;
    let any_failure = t.status != TestStatus::Passed
        || r.iterations.failed > 0
        || r.request_names.values().any(|m| {
            m.by_class
                .iter()
                .any(|(c, n)| *c != RequestClass::Ok && *n > 0)
        });
    if r.request_names.is_empty() || (r.request_names.len() < 2 && !any_failure) {
        return None;
    }
    let rows: Vec<Vec<String>> = r
        .request_names
        .iter()
        .map(|(name, m)| {
            let l = &m.latency.summary;
            vec![
                name.clone(),
                m.count.to_string(),
                rate(m.count, r.elapsed_s),
                human_us(l.p50_us as f64),
                human_us(l.p95_us as f64),
                human_us(l.p99_us as f64),
                errors_by_class(&m.by_class),
            ]
        })
        .collect();
    let mut out = format!("\n{} by request name:\n", t.id().qualified());
    for line in render_table(&REQUEST_HEADER, &rows).lines() {
        out.push_str(&format!("  {line}\n"));
    }
    Some(out)
}

/// The header of a test's custom-metric table.
pub const CUSTOM_HEADER: [&str; 7] = ["name", "kind", "count", "rate", "p50", "p95", "p99"];

/// A test's custom metrics (`ctx.count`, `ctx.record`, and the WebSocket message counters),
/// counters first, each a row under [`CUSTOM_HEADER`]: a counter's total and rate (no
/// percentiles), a latency's count, rate and percentiles. Empty when the test has none.
pub fn custom_rows(r: &TestResult) -> Vec<Vec<String>> {
    let counters = r.custom_counters.iter().map(|(name, n)| {
        vec![
            name.clone(),
            "counter".into(),
            n.to_string(),
            rate(*n, r.elapsed_s),
            "-".into(),
            "-".into(),
            "-".into(),
        ]
    });
    let latencies = r.custom_latencies.iter().map(|(name, h)| {
        let l = &h.summary;
        vec![
            name.clone(),
            "latency".into(),
            l.count.to_string(),
            rate(l.count, r.elapsed_s),
            human_us(l.p50_us as f64),
            human_us(l.p95_us as f64),
            human_us(l.p99_us as f64),
        ]
    });
    counters.chain(latencies).collect()
}

/// A test's custom-metric table ([`custom_rows`]), when it has custom metrics.
pub fn custom_table(t: &TestReport) -> Option<String> {
    let rows = custom_rows(t.result.as_ref()?);
    if rows.is_empty() {
        return None;
    }
    let mut out = format!("\n{} custom metrics:\n", t.id().qualified());
    for line in render_table(&CUSTOM_HEADER, &rows).lines() {
        out.push_str(&format!("  {line}\n"));
    }
    Some(out)
}

/// The header of a test's streamed-responses table.
pub const STREAM_HEADER: [&str; 11] = [
    "stream",
    "streams",
    "broken",
    "events",
    "events/s",
    "first byte p50",
    "first event p50",
    "first event p99",
    "gap p50",
    "gap p99",
    "stream p99",
];

/// One row per request name whose responses were read as streams (see [`STREAM_HEADER`]):
/// every report format shows these figures.
pub fn stream_rows(r: &TestResult) -> Vec<Vec<String>> {
    r.request_names
        .iter()
        .filter_map(|(name, m)| {
            let s = m.stream.as_ref()?;
            let us = |v: u64| human_us(v as f64);
            Some(vec![
                name.clone(),
                s.streams.to_string(),
                s.broken.to_string(),
                s.events.to_string(),
                rate(s.events, r.elapsed_s),
                us(s.first_byte.summary.p50_us),
                us(s.first_event.summary.p50_us),
                us(s.first_event.summary.p99_us),
                us(s.gap.summary.p50_us),
                us(s.gap.summary.p99_us),
                us(s.duration.summary.p99_us),
            ])
        })
        .collect()
}

/// A test's streamed-responses table, when any of its requests was read as a stream.
pub fn stream_table(t: &TestReport) -> Option<String> {
    let rows = stream_rows(t.result.as_ref()?);
    if rows.is_empty() {
        return None;
    }
    let mut out = format!("\n{} streamed responses:\n", t.id().qualified());
    for line in render_table(&STREAM_HEADER, &rows).lines() {
        out.push_str(&format!("  {line}\n"));
    }
    Some(out)
}

/// The whole summary: the table, each test's per-request-name table where it is shown
/// ([`request_table`]) and its custom metrics ([`custom_table`]), then failures and generator warnings, then the verdict line.
pub fn table(report: &RunReport) -> String {
    let rows: Vec<Vec<String>> = report.tests.iter().map(row).collect();
    let mut out = String::from("\n");
    out.push_str(&render_table(&HEADER, &rows));
    let mut tables = false;
    for t in &report.tests {
        if let Some(requests) = request_table(t) {
            out.push_str(&requests);
            tables = true;
        }
        if let Some(custom) = custom_table(t) {
            out.push_str(&custom);
            tables = true;
        }
        if let Some(streams) = stream_table(t) {
            out.push_str(&streams);
            tables = true;
        }
    }
    if tables && report.tests.iter().any(|t| !t.failures.is_empty()) {
        out.push('\n');
    }
    for t in &report.tests {
        let name = t.id().qualified();
        for f in &t.failures {
            out.push_str(&format!("  {name}: {f}\n"));
        }
        if let Some(r) = &t.result {
            for w in &r.generator.warnings {
                out.push_str(&format!("  {name}: generator: {w}\n"));
            }
            for w in &r.warnings {
                out.push_str(&format!("  {name}: warning: {w}\n"));
            }
            let top = top_error_classes(r, TOP_ERROR_CLASSES);
            if !top.is_empty() {
                out.push_str(&format!("  {name}: top errors:\n"));
                let width = top.iter().map(|c| c.class.len()).max().unwrap_or(0);
                for c in top {
                    out.push_str(&format!(
                        "    {:<width$}  {:>8}  e.g. {}\n",
                        c.class,
                        c.count,
                        one_line(&c.sample)
                    ));
                }
            }
        }
    }
    for t in &report.tests {
        if let Some(c) = &t.capacity {
            out.push_str(&format!(
                "\ncapacity of {}: {}\n",
                t.id().qualified(),
                c.summary
            ));
            out.push_str(&render_table(&STEP_HEADER, &step_rows(c)));
        }
    }
    out.push_str(&comparison_table(report));
    let count = |s: TestStatus| report.tests.iter().filter(|t| t.status == s).count();
    let verdict = match report.status {
        RunStatus::Passed => "ok",
        RunStatus::Failed => "FAILED",
        RunStatus::Interrupted => "INTERRUPTED",
    };
    out.push_str(&format!(
        "\nloadtest result: {verdict}. {} passed; {} failed; {} errored; {} interrupted; finished in {:.1}s\n",
        count(TestStatus::Passed),
        count(TestStatus::Failed),
        count(TestStatus::Errored),
        count(TestStatus::Interrupted),
        report.run.duration_s
    ));
    out
}

/// A message on one line, at most 200 characters.
fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &flat[..i]),
        None => flat,
    }
}

/// The word for a capacity search step's verdict.
pub fn step_word(v: StepVerdict) -> &'static str {
    match v {
        StepVerdict::Passed => "passed",
        StepVerdict::Failed => "FAILED",
        StepVerdict::FailedBadly => "FAILED BADLY",
        StepVerdict::GeneratorLimited => "GENERATOR LIMITED",
        StepVerdict::Interrupted => "interrupted",
        StepVerdict::Errored => "ERROR",
    }
}

/// The header of a capacity search's steps table.
pub const STEP_HEADER: [&str; 9] = [
    "step", "rate", "done", "p50", "p95", "p99", "errors", "verdict", "why",
];

/// One row per step of a capacity search.
pub fn step_rows(c: &CapacityResult) -> Vec<Vec<String>> {
    c.steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                (i + 1).to_string(),
                human_rate(s.rate_per_s),
                format!("{:.1}/s", s.achieved_per_s),
                human_us(s.p50_us as f64),
                human_us(s.p95_us as f64),
                human_us(s.p99_us as f64),
                format!("{:.2}%", s.error_rate * 100.0),
                step_word(s.verdict).to_string(),
                s.reasons.first().cloned().unwrap_or_default(),
            ]
        })
        .collect()
}

/// The found capacity as an interval, for tables: `96.9/s .. 100/s`, `>= 500/s`, `-`.
pub fn capacity_interval(c: &CapacityResult) -> String {
    match (c.capacity_per_s, c.above_per_s) {
        (Some(p), Some(f)) => format!("{} .. {}", human_rate(p), human_rate(f)),
        (Some(p), None) => format!(">= {}", human_rate(p)),
        (None, Some(f)) => format!("< {}", human_rate(f)),
        (None, None) => "-".into(),
    }
}

/// Formats a metric's value for people: latencies in time units, throughput per second, error
/// rates as percentages.
pub fn metric_value(metric: GatedMetric, v: f64) -> String {
    match metric {
        GatedMetric::Throughput => format!("{v:.1}/s"),
        GatedMetric::Capacity => human_rate(v),
        GatedMetric::ErrorRate => format!("{:.2}%", v * 100.0),
        GatedMetric::P50 | GatedMetric::P95 | GatedMetric::P99 => human_us(v),
    }
}

/// The rows of the comparison table (test, metric, old, new, change, 95% CI, verdict).
pub fn comparison_rows(report: &RunReport) -> Vec<Vec<String>> {
    use loadtest_report::report::MetricVerdict;
    let mut rows = Vec::new();
    for t in &report.tests {
        let Some(c) = &t.comparison else { continue };
        let name = t.id().qualified();
        if let Some(note) = &c.note {
            rows.push(vec![
                name,
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                note.clone(),
            ]);
            continue;
        }
        for m in &c.metrics {
            let f = |v: Option<f64>| {
                let Some(v) = v else { return "-".to_string() };
                if m.metric == GatedMetric::ErrorRate {
                    format!("{:+.2}pp", v * 100.0)
                } else {
                    format!("{:+.1}%", v * 100.0)
                }
            };
            rows.push(vec![
                name.clone(),
                m.metric.to_string(),
                metric_value(m.metric, m.old),
                metric_value(m.metric, m.new),
                f(m.change),
                format!("{} .. {}", f(m.ci_low), f(m.ci_high)),
                match m.verdict {
                    MetricVerdict::Regressed => "REGRESSED".into(),
                    MetricVerdict::Improved => "improved".into(),
                    MetricVerdict::Unchanged => "unchanged".into(),
                    MetricVerdict::InsufficientData => "insufficient data".into(),
                    MetricVerdict::Inconclusive => match &m.note {
                        Some(n) => format!("INCONCLUSIVE: {n}"),
                        None => "INCONCLUSIVE".into(),
                    },
                },
            ]);
        }
    }
    rows
}

/// The header of the comparison table.
pub const COMPARISON_HEADER: [&str; 7] = [
    "test", "metric", "old", "new", "change", "95% CI", "verdict",
];

/// The comparison table, or nothing when no test was compared.
pub fn comparison_table(report: &RunReport) -> String {
    let rows = comparison_rows(report);
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "\n{}:\n{}",
        comparison_heading(report),
        render_table(&COMPARISON_HEADER, &rows)
    )
}

/// What the report was compared with (`baseline "main"`, `revision origin/main`).
pub fn comparison_source(report: &RunReport) -> String {
    report
        .tests
        .iter()
        .find_map(|t| t.comparison.as_ref())
        .map(|c| c.baseline.source.clone())
        .unwrap_or_default()
}

/// How a saved baseline of `runs` runs is compared: each run one sample from three runs on,
/// otherwise the newest run's one-second windows.
pub fn baseline_method(runs: Option<u32>) -> String {
    match runs {
        Some(n) if n as usize >= crate::compare::gate::MIN_BASELINE_RUNS => {
            format!("{n} runs, each run one sample")
        }
        Some(n) if n > 1 => {
            format!("the newest of {n} runs: medians of one-second windows")
        }
        _ => "medians of one-second windows".to_string(),
    }
}

/// What the comparison table compares, and how: `compared with baseline "main" (medians of
/// one-second windows)`, or for an A/B gate its revision, rounds and time.
pub fn comparison_heading(report: &RunReport) -> String {
    let source = comparison_source(report);
    let Some(g) = &report.gate else {
        let runs = report
            .tests
            .iter()
            .find_map(|t| t.comparison.as_ref())
            .and_then(|c| c.baseline.runs);
        return format!("compared with {source} ({})", baseline_method(runs));
    };
    let mut s = format!(
        "compared with {source}, interleaved on this machine: {} of {} rounds in {:.1}s (per-round ratios, paired)",
        g.completed_rounds, g.rounds, g.duration_s
    );
    if !g.new_tests.is_empty() {
        s.push_str(&format!(
            "; new in this revision: {}",
            g.new_tests.join(", ")
        ));
    }
    if !g.removed_tests.is_empty() {
        s.push_str(&format!(
            "; only in the base revision (not run): {}",
            g.removed_tests.join(", ")
        ));
    }
    s
}
