//! The summary table printed at the end of a run, and the table renderer `list` shares.

use loadtest_report::report::{
    CapacityResult, RunReport, RunStatus, StepVerdict, TestReport, TestStatus, human_rate, human_us,
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

/// The cells of one test's row: test, iterations, requests, rate, p50, p95, p99, max, errors,
/// thresholds, generator, result.
pub fn row(t: &TestReport) -> Vec<String> {
    let name = format!("{}::{}", t.target, t.name);
    let Some(r) = &t.result else {
        let mut cells = vec![name];
        cells.extend(std::iter::repeat_n("-".to_string(), 10));
        cells.push(status_word(t.status).to_string());
        return cells;
    };
    let l = &r.iteration_latency.summary;
    let passed = r.thresholds.iter().filter(|th| th.passed).count();
    vec![
        name,
        r.iterations.total.to_string(),
        r.requests.total.to_string(),
        format!("{:.1}/s", r.iterations.rate_per_s),
        human_us(l.p50_us as f64),
        human_us(l.p95_us as f64),
        human_us(l.p99_us as f64),
        human_us(l.max_us as f64),
        format!("{}", r.iterations.failed + r.iterations.dropped),
        format!("{passed}/{}", r.thresholds.len()),
        if r.generator.saturated {
            "SATURATED".into()
        } else {
            "ok".into()
        },
        status_word(t.status).to_string(),
    ]
}

/// The header of the summary table.
pub const HEADER: [&str; 12] = [
    "test",
    "iterations",
    "requests",
    "rate",
    "p50",
    "p95",
    "p99",
    "max",
    "errors",
    "thresholds",
    "generator",
    "result",
];

/// The whole summary: the table, then failures and generator warnings, then the verdict line.
pub fn table(report: &RunReport) -> String {
    let rows: Vec<Vec<String>> = report.tests.iter().map(row).collect();
    let mut out = String::from("\n");
    out.push_str(&render_table(&HEADER, &rows));
    for t in &report.tests {
        for f in &t.failures {
            out.push_str(&format!("  {}::{}: {}\n", t.target, t.name, f));
        }
        if let Some(r) = &t.result {
            for w in &r.generator.warnings {
                out.push_str(&format!("  {}::{}: generator: {w}\n", t.target, t.name));
            }
        }
    }
    for t in &report.tests {
        if let Some(c) = &t.capacity {
            out.push_str(&format!(
                "\ncapacity of {}::{}: {}\n",
                t.target, t.name, c.summary
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
pub fn metric_value(metric: &str, v: f64) -> String {
    match metric {
        "throughput" => format!("{v:.1}/s"),
        "capacity" => human_rate(v),
        "error_rate" => format!("{:.2}%", v * 100.0),
        _ => human_us(v),
    }
}

/// The rows of the comparison table (test, metric, old, new, change, 95% CI, verdict).
pub fn comparison_rows(report: &RunReport) -> Vec<Vec<String>> {
    use loadtest_report::report::MetricVerdict;
    let mut rows = Vec::new();
    for t in &report.tests {
        let Some(c) = &t.comparison else { continue };
        let name = format!("{}::{}", t.target, t.name);
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
                if m.metric == "error_rate" {
                    format!("{:+.2}pp", v * 100.0)
                } else {
                    format!("{:+.1}%", v * 100.0)
                }
            };
            rows.push(vec![
                name.clone(),
                m.metric.clone(),
                metric_value(&m.metric, m.old),
                metric_value(&m.metric, m.new),
                f(m.change),
                format!("{} .. {}", f(m.ci_low), f(m.ci_high)),
                match m.verdict {
                    MetricVerdict::Regressed => "REGRESSED".into(),
                    MetricVerdict::Improved => "improved".into(),
                    MetricVerdict::Unchanged => "unchanged".into(),
                    MetricVerdict::InsufficientData => "insufficient data".into(),
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
    let source = report
        .tests
        .iter()
        .find_map(|t| t.comparison.as_ref())
        .map(|c| c.baseline.source.clone())
        .unwrap_or_default();
    format!(
        "\ncompared with {source} (medians of one-second windows):\n{}",
        render_table(&COMPARISON_HEADER, &rows)
    )
}
