//! The Markdown report for pull requests (and `$GITHUB_STEP_SUMMARY`).

use super::summary::{HEADER, row, status_word};
use super::trace_url::TraceUrl;
use loadtest_report::report::{RunReport, RunStatus, human_us};

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
}

/// Text as an inline code span. Code spans show entities literally, so `<` is left alone;
/// only what would end the span or the line is replaced.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('\n', " ").replace('`', "'"))
}

/// Renders the report as Markdown.
pub fn render(report: &RunReport) -> String {
    render_with_traces(report, None)
}

/// Renders the report as Markdown, the slowest requests' trace ids linked through `trace_url`.
pub fn render_with_traces(report: &RunReport, trace_url: Option<&TraceUrl>) -> String {
    let verdict = match report.status {
        RunStatus::Passed => "passed",
        RunStatus::Failed => "FAILED",
        RunStatus::Interrupted => "INTERRUPTED",
    };
    let mut md = format!("## cargo loadtest: {verdict}\n\n");
    md.push_str(&format!(
        "| {} |\n|{}\n",
        HEADER.join(" | "),
        "---|".repeat(HEADER.len())
    ));
    for t in &report.tests {
        let cells: Vec<String> = row(t).iter().map(|c| cell(c)).collect();
        md.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    for t in &report.tests {
        let Some(r) = &t.result else {
            md.push_str(&format!(
                "\n### {}: {}\n\n",
                cell(&t.id().qualified()),
                status_word(t.status)
            ));
            for f in &t.failures {
                md.push_str(&format!("- {}\n", cell(f)));
            }
            if let Some(e) = &t.error {
                md.push_str(&format!("\n```\n{}\n```\n", e.replace("```", "'''")));
            }
            continue;
        };
        let top = super::summary::top_error_classes(r, super::summary::TOP_ERROR_CLASSES);
        let streams = super::summary::stream_rows(r);
        if r.thresholds.is_empty()
            && streams.is_empty()
            && r.generator.warnings.is_empty()
            && r.warnings.is_empty()
            && top.is_empty()
        {
            continue;
        }
        md.push_str(&format!(
            "\n### {}: {}\n\n",
            cell(&t.id().qualified()),
            status_word(t.status)
        ));
        for th in &r.thresholds {
            md.push_str(&format!(
                "- {} {}: {}\n",
                if th.passed { "✅" } else { "❌" },
                code(&th.rule),
                cell(&th.message)
            ));
        }
        for w in &r.generator.warnings {
            md.push_str(&format!("- ⚠️ generator: {}\n", cell(w)));
        }
        for w in &r.warnings {
            md.push_str(&format!("- ⚠️ {}\n", cell(w)));
        }
        if !top.is_empty() {
            md.push_str("\nTop errors:\n\n| class | count | sample |\n|---|---|---|\n");
            for c in &top {
                md.push_str(&format!(
                    "| {} | {} | {} |\n",
                    cell(&c.class),
                    c.count,
                    cell(&c.sample)
                ));
            }
        }
        if !streams.is_empty() {
            let header = super::summary::STREAM_HEADER;
            md.push_str(&format!(
                "\nStreamed responses:\n\n| {} |\n|{}\n",
                header.join(" | "),
                "---|".repeat(header.len())
            ));
            for row in streams {
                let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
                md.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
        }
        if let Some(u) = &r.iteration_latency_uncorrected {
            md.push_str(&format!(
                "- uncorrected p99 (from actual start): {}\n",
                human_us(u.summary.p99_us as f64)
            ));
        }
    }
    for t in &report.tests {
        let Some(c) = &t.capacity else { continue };
        md.push_str(&format!(
            "\n### Capacity of {}: {}\n\n{}\n\n",
            cell(&t.id().qualified()),
            super::summary::capacity_interval(c),
            cell(&c.summary)
        ));
        let header = super::summary::STEP_HEADER;
        md.push_str(&format!(
            "| {} |\n|{}\n",
            header.join(" | "),
            "---|".repeat(header.len())
        ));
        for r in super::summary::step_rows(c) {
            let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
            md.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    let rows = super::summary::comparison_rows(report);
    if !rows.is_empty() {
        let heading = if report.gate.is_some() {
            capitalised(&super::summary::comparison_heading(report))
        } else {
            format!(
                "Compared with {}",
                super::summary::comparison_source(report)
            )
        };
        let header = super::summary::COMPARISON_HEADER;
        md.push_str(&format!(
            "\n### {}\n\n| {} |\n|{}\n",
            cell(&heading),
            header.join(" | "),
            "---|".repeat(header.len())
        ));
        for r in rows {
            let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
            md.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    slowest_requests(&mut md, report, trace_url);
    custom_metrics(&mut md, report);
    md.push('\n');
    md
}

/// Per test with custom metrics, their table ([`super::summary::custom_rows`]), folded.
fn custom_metrics(md: &mut String, report: &RunReport) {
    for t in &report.tests {
        let Some(r) = &t.result else { continue };
        let rows = super::summary::custom_rows(r);
        if rows.is_empty() {
            continue;
        }
        let header = super::summary::CUSTOM_HEADER;
        md.push_str(&format!(
            "\n<details><summary>Custom metrics of {}</summary>\n\n| {} |\n|{}\n",
            cell(&t.id().qualified()),
            header.join(" | "),
            "---|".repeat(header.len())
        ));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            md.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        md.push_str("\n</details>\n");
    }
}

/// Per test, its request names' exemplars (slowest first) in a folded table.
fn slowest_requests(md: &mut String, report: &RunReport, trace_url: Option<&TraceUrl>) {
    for t in &report.tests {
        let Some(r) = &t.result else { continue };
        if r.request_names.values().all(|n| n.exemplars.is_empty()) {
            continue;
        }
        md.push_str(&format!(
            "\n<details><summary>Slowest requests of {}</summary>\n\n| request | latency | status | shard | trace id |\n|---|---|---|---|---|\n",
            cell(&t.id().qualified())
        ));
        for (name, m) in &r.request_names {
            for e in m.exemplars.as_slice() {
                let trace = match (e.trace_id, trace_url) {
                    (Some(id), Some(url)) => {
                        format!("[`{id}`]({})", url.link(&id).replace(' ', "%20"))
                    }
                    (Some(id), None) => format!("`{id}`"),
                    (None, _) => "-".into(),
                };
                md.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    cell(name),
                    human_us(e.latency_us as f64),
                    e.status.map_or("-".into(), |s| s.to_string()),
                    e.shard.map_or("-".into(), |s| s.to_string()),
                    cell(&trace)
                ));
            }
        }
        md.push_str("\n</details>\n");
    }
}

/// `compared with ...` as a heading: `Compared with ...`.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod exemplar_tests {
    use super::*;
    use crate::output::fixtures::report_with_exemplar;
    use loadtest_report::exemplar::{Exemplar, TraceId};

    #[test]
    fn the_slowest_requests_are_listed_with_linked_trace_ids() {
        let report = report_with_exemplar(
            "GET /a|b",
            Exemplar {
                trace_id: Some(TraceId([0xa1; 16])),
                span_id: None,
                sampled: true,
                started_at_unix: 1.7e9,
                latency_us: 812_000,
                status: None,
                shard: None,
            },
        );
        let id = "a1".repeat(16);
        let url = TraceUrl::parse("https://tempo.test/t/{trace_id}").unwrap();
        let md = render_with_traces(&report, Some(&url));
        assert!(
            md.contains("<summary>Slowest requests of api::home</summary>"),
            "{md}"
        );
        assert!(
            md.contains(&format!(
                "| GET /a\\|b | 812.0ms | - | - | [`{id}`](https://tempo.test/t/{id}) |"
            )),
            "{md}"
        );
        assert!(render(&report).contains(&format!("| `{id}` |")));
    }
}

#[cfg(test)]
mod goodput_tests {
    use crate::output::fixtures::report_with_exemplar;
    use loadtest_report::exemplar::Exemplar;
    use loadtest_report::report::Goodput;

    /// With an `slo`, the summary's and the Markdown's `iter/s` show the goodput beside the
    /// throughput; without one, the throughput alone, as before.
    #[test]
    fn goodput_is_shown_beside_the_throughput_when_the_test_has_an_slo() {
        let exemplar = Exemplar {
            trace_id: None,
            span_id: None,
            sampled: false,
            started_at_unix: 1.7e9,
            latency_us: 1_000,
            status: Some(200),
            shard: None,
        };
        let mut report = report_with_exemplar("home", exemplar);
        let r = report.tests[0].result.as_mut().unwrap();
        r.iterations.rate_per_s = 412.0;
        let plain = super::render(&report);
        assert!(plain.contains("| 412.0 |"), "{plain}");
        assert!(!plain.contains("good"), "{plain}");
        report.tests[0].result.as_mut().unwrap().iterations.goodput = Some(Goodput {
            slo_us: 500_000,
            good: 3985,
            rate_per_s: 398.5,
        });
        let md = super::render(&report);
        assert!(md.contains("| 412.0 (good 398.5) |"), "{md}");
        let terminal = crate::output::summary::table(&report);
        assert!(terminal.contains("412.0 (good 398.5)"), "{terminal}");
    }
}
