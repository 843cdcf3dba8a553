//! The JUnit XML report: one testsuite per harness target, one testcase per load test, a
//! `failure` where a threshold or the error budget failed, an `error` where the test could not
//! run, the figures in `system-out`. Text is made XML-safe whatever it contains.

use super::summary::status_word;
use junit_report::{Duration, Report, TestCase, TestSuite};
use loadtest_report::report::{RunReport, TestReport, TestStatus, human_us};
use loadtest_report::verdict::describe_change;

/// Makes text safe for XML 1.0: characters XML cannot hold become `U+FFFD`, and `]]>` is split
/// so it cannot end the CDATA sections the writer uses.
pub fn xml_safe(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 => '\u{FFFD}',
            '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect();
    cleaned.replace("]]>", "]]]]><![CDATA[>")
}

/// Attribute values are escaped by the writer; they only need the character filter.
fn attr_safe(s: &str) -> String {
    xml_safe(s).replace("]]]]><![CDATA[>", "]]>")
}

/// A capacity search's figures: the outcome, the interval and every step.
fn capacity_figures(t: &TestReport) -> String {
    let Some(c) = &t.capacity else {
        return String::new();
    };
    let mut s = format!(
        "capacity: {} ({})\n",
        super::summary::capacity_interval(c),
        c.summary
    );
    if let Some(m) = c.settings.min_capacity_per_s {
        s.push_str(&format!(
            "min_capacity: {}\n",
            loadtest_report::report::human_rate(m)
        ));
    }
    for (i, row) in super::summary::step_rows(c).iter().enumerate() {
        let reasons = c.steps[i].reasons.join("; ");
        s.push_str(&format!(
            "step {}: {} done {} p50 {} p95 {} p99 {} errors {} {}{}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            if reasons.is_empty() {
                String::new()
            } else {
                format!(": {reasons}")
            }
        ));
    }
    s
}

fn figures(t: &TestReport) -> String {
    let capacity = capacity_figures(t);
    let Some(r) = &t.result else {
        return capacity;
    };
    let l = &r.iteration_latency.summary;
    let mut s = format!(
        "iterations: {} ({} ok, {} failed, {} dropped)\nrequests: {} ({:.1}/s)\nlatency: p50 {} p95 {} p99 {} max {}\n",
        r.iterations.total,
        r.iterations.ok,
        r.iterations.failed,
        r.iterations.dropped,
        r.requests.total,
        r.requests.rate_per_s,
        human_us(l.p50_us as f64),
        human_us(l.p95_us as f64),
        human_us(l.p99_us as f64),
        human_us(l.max_us as f64)
    );
    for row in super::summary::stream_rows(r) {
        let [
            name,
            streams,
            broken,
            events,
            per_s,
            fb50,
            fe50,
            fe99,
            gap50,
            gap99,
            total99,
        ] = <[String; 11]>::try_from(row).expect("a stream row has one cell per column");
        s.push_str(&format!(
            "stream {name}: {events} events ({per_s}) in {streams} streams, {broken} broken; first byte p50 {fb50}; first event p50 {fe50} p99 {fe99}; gap p50 {gap50} p99 {gap99}; stream p99 {total99}\n"
        ));
    }
    for th in &r.thresholds {
        s.push_str(&format!(
            "threshold {} {}: {}\n",
            if th.passed { "ok" } else { "FAILED" },
            th.rule,
            th.message
        ));
    }
    if r.generator.disturbed {
        s.push_str("generator: DISTURBED\n");
    }
    for w in &r.generator.warnings {
        s.push_str(&format!("generator: {w}\n"));
    }
    for w in &r.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    for c in super::summary::top_error_classes(r, super::summary::TOP_ERROR_CLASSES) {
        s.push_str(&format!("errors {} x{}: {}\n", c.class, c.count, c.sample));
    }
    for row in super::summary::custom_rows(r) {
        // name, kind, count, rate, p50, p95, p99 (a counter has no percentiles).
        s.push_str(&format!(
            "custom {} ({}): {} ({})",
            row[0], row[1], row[2], row[3]
        ));
        if row[1] == "latency" {
            s.push_str(&format!(" p50 {} p95 {} p99 {}", row[4], row[5], row[6]));
        }
        s.push('\n');
    }
    if let Some(c) = &t.comparison {
        for m in &c.metrics {
            s.push_str(&format!(
                "compared with {}: {}\n",
                c.baseline.source,
                describe_change(m)
            ));
        }
    }
    if !capacity.is_empty() {
        s = format!("{capacity}at the capacity step:\n{s}");
    }
    s
}

fn testcase(t: &TestReport) -> TestCase {
    let name = attr_safe(&t.name);
    let time = Duration::seconds_f64(t.result.as_ref().map_or(0.0, |r| r.elapsed_s));
    let message = attr_safe(&t.failures.join("; "));
    let mut case = match t.status {
        TestStatus::Passed => TestCase::success(&name, time),
        TestStatus::Failed => TestCase::failure(&name, time, "loadtest", &message),
        TestStatus::Errored => TestCase::error(&name, time, "error", &message),
        TestStatus::Interrupted => {
            let mut case = TestCase::skipped(&name);
            case.time = time;
            case
        }
    };
    case.set_classname(&attr_safe(&format!("{}::{}", t.package, t.target)));
    let mut out = figures(t);
    if t.status == TestStatus::Interrupted {
        if t.failures.is_empty() {
            out.push_str(&format!("{}\n", status_word(t.status)));
        } else {
            out.push_str(&format!(
                "{}: {}\n",
                status_word(t.status),
                t.failures.join("; ")
            ));
        }
    }
    if !out.is_empty() {
        case.set_system_out(&xml_safe(&out));
    }
    if let Some(e) = &t.error {
        case.set_system_err(&xml_safe(e));
    }
    case
}

/// Adds a case to its suite. The writer emits a bare `<skipped/>` for a skipped case and drops
/// its output, so an interrupted test's figures and reason go to the suite's `system-out`,
/// under the test's name.
fn add(suite: &mut TestSuite, mut case: TestCase) {
    if case.is_skipped()
        && let Some(out) = case.system_out.take()
    {
        let text = suite.system_out.get_or_insert_with(String::new);
        text.push_str(&format!("{}:\n{out}", xml_safe(&case.name)));
    }
    suite.add_testcase(case);
}

/// Renders the report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let mut suites: Vec<TestSuite> = Vec::new();
    for t in &report.tests {
        let suite_name = attr_safe(&format!("{}::{}", t.package, t.target));
        match suites.iter_mut().find(|s| s.name == suite_name) {
            Some(s) => add(s, testcase(t)),
            None => {
                let mut s = TestSuite::new(&suite_name);
                add(&mut s, testcase(t));
                suites.push(s);
            }
        }
    }
    let mut r = Report::new();
    r.add_testsuites(suites);
    let mut buf = Vec::new();
    r.write_xml(&mut buf)
        .expect("writing XML into a Vec cannot fail");
    String::from_utf8(buf).expect("the XML writer produces UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_made_safe() {
        assert_eq!(xml_safe("a]]>b\u{1}c\td"), "a]]]]><![CDATA[>b\u{FFFD}c\td");
        assert_eq!(attr_safe("x]]>\u{7}"), "x]]>\u{FFFD}");
    }
}
