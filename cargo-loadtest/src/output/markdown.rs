//! The Markdown report for pull requests (and `$GITHUB_STEP_SUMMARY`).

use super::summary::{HEADER, row, status_word};
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
                "\n### {}::{}: {}\n\n",
                t.target,
                cell(&t.name),
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
        if r.thresholds.is_empty()
            && r.generator.warnings.is_empty()
            && r.warnings.is_empty()
            && top.is_empty()
        {
            continue;
        }
        md.push_str(&format!(
            "\n### {}::{}: {}\n\n",
            t.target,
            cell(&t.name),
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
            "\n### Capacity of {}::{}: {}\n\n{}\n\n",
            t.target,
            cell(&t.name),
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
    md.push('\n');
    md
}

/// `compared with ...` as a heading: `Compared with ...`.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}
