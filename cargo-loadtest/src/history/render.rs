//! The outputs of `cargo loadtest history`, each a pure function of an [`Analysis`]: the
//! terminal table, the JSON document, the CSV files in the layout Apache Otava's CSV importer
//! reads (with the `otava.yaml` that points Otava at them), and a self-contained HTML page that
//! draws each series with its change points.
//!
//! The CSV layout (Otava's `docs/CSV.md`): one file per test, a header line, then one line per
//! run in the history's order: `time` (RFC 3339, UTC), `commit`, then one column per metric,
//! named as the table names them (`p50`, `throughput`, `p99(GET /)`). Only the runs the
//! detection uses are written (saturated and disturbed ones are not), and a request name's
//! columns only when it has a value in every one of them, since Otava reads no empty cell. The
//! `otava.yaml` beside them (JSON, which YAML readers take) declares each file as an Otava test
//! with `commit` as its attribute and each metric's direction (-1: lower is better):
//! `otava --config-file DIR/otava.yaml analyze TEST`.

use super::analysis::{Analysis, Found, SeriesReport};
use super::record;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `latency floors p50 250us, p95 500us, p99 1000us`.
fn floors(a: &Analysis) -> String {
    let each: Vec<String> = a
        .floors_us
        .iter()
        .map(|(m, us)| format!("{m} {us:.0}us"))
        .collect();
    format!("latency floors {}", each.join(", "))
}

/// The table `cargo loadtest history` prints.
pub fn table(a: &Analysis, history: &str) -> String {
    let mut out = String::new();
    let series = a.series.len();
    let _ = writeln!(
        out,
        "History: {} run{} in {history}, {series} series (p-value below {}, magnitude above {:.1}%, {}, window {})",
        a.runs,
        if a.runs == 1 { "" } else { "s" },
        a.max_pvalue,
        a.min_magnitude * 100.0,
        floors(a),
        a.window
    );
    if !a.left_out.is_empty() {
        let _ = writeln!(
            out,
            "Left out of detection: {}",
            a.left_out
                .iter()
                .map(|l| format!("run {} of {} ({})", l.run, l.test, l.reason))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let rows: Vec<[String; 8]> = a
        .series
        .iter()
        .flat_map(|s| s.change_points.iter().map(move |c| row(s, c)))
        .collect();
    if rows.is_empty() {
        out.push_str("No change points.\n");
        return out;
    }
    let header = [
        "test", "metric", "run", "commits", "before", "after", "change", "p-value",
    ]
    .map(String::from);
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::from("  ");
        for (cell, w) in r.iter().zip(widths) {
            let _ = write!(line, "{cell:<w$}  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let opened = a.new_regressions().count();
    if opened > 0 {
        let _ = writeln!(
            out,
            "The newest run opened {opened} regression change point{}.",
            if opened == 1 { "" } else { "s" }
        );
    }
    out
}

/// A commit's first 10 characters, `?` when the run had none.
fn short_commit(c: &Option<String>) -> String {
    c.as_deref()
        .map_or("?".to_string(), |c| c.chars().take(10).collect())
}

fn row(s: &SeriesReport, c: &Found) -> [String; 8] {
    let short = short_commit;
    let mut change = format!("{:+.1}%", c.change * 100.0);
    change += if c.regression { " worse" } else { " better" };
    if c.opened_by_newest_run {
        change += ", new";
    }
    [
        s.test.clone(),
        s.metric.clone(),
        c.run.to_string(),
        format!("{}..{}", short(&c.commit_before), short(&c.commit)),
        record::human(s.kind, c.mean_before),
        record::human(s.kind, c.mean_after),
        change,
        format!("{:.1e}", c.pvalue),
    ]
}

/// The JSON document of `--json`.
pub fn json(a: &Analysis) -> Vec<u8> {
    let mut v = serde_json::to_value(a).expect("an analysis serializes");
    v.as_object_mut().expect("an object").insert(
        "history_version".into(),
        super::record::HISTORY_VERSION.into(),
    );
    let mut bytes = serde_json::to_vec_pretty(&v).expect("a value serializes");
    bytes.push(b'\n');
    bytes
}

/// A test's name as a file name and an Otava test name: characters other than ASCII letters,
/// digits, `.`, `-` and `_` become `_` (`shop::api::browse` is `shop__api__browse`).
pub fn file_stem(test: &str) -> String {
    test.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One test's CSV: its runs' times, commits and values (see the module documentation).
pub struct Csv {
    /// The test.
    pub test: String,
    /// The metric columns.
    pub columns: Vec<(String, i32)>,
    /// The file's text.
    pub text: String,
}

/// The CSV of each test, in Otava's layout. `times_commits` gives a run's (1-based) start time
/// and commit.
pub fn csv(a: &Analysis, run_info: impl Fn(usize) -> (f64, Option<String>)) -> Vec<Csv> {
    let mut by_test: BTreeMap<&str, Vec<&SeriesReport>> = BTreeMap::new();
    for s in &a.series {
        by_test.entry(&s.test).or_default().push(s);
    }
    by_test
        .into_iter()
        .map(|(test, series)| {
            let runs = series
                .iter()
                .find(|s| s.request.is_none())
                .map_or_else(|| series[0].runs.clone(), |s| s.runs.clone());
            let columns: Vec<&SeriesReport> =
                series.into_iter().filter(|s| s.runs == runs).collect();
            let quote = |s: &str| {
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_string()
                }
            };
            let mut text = String::from("time,commit");
            for c in &columns {
                text.push(',');
                text += &quote(&c.metric);
            }
            text.push('\n');
            for (i, run) in runs.iter().enumerate() {
                let (time, commit) = run_info(*run);
                text += &crate::calendar::rfc3339(time);
                text.push(',');
                text += &quote(commit.as_deref().unwrap_or(""));
                for c in &columns {
                    let _ = write!(text, ",{}", c.values[i]);
                }
                text.push('\n');
            }
            Csv {
                test: test.to_string(),
                columns: columns
                    .iter()
                    .map(|c| {
                        (
                            c.metric.clone(),
                            if c.kind.higher_is_worse() { -1 } else { 1 },
                        )
                    })
                    .collect(),
                text,
            }
        })
        .collect()
}

/// The `otava.yaml` declaring each CSV (at `path_of(test)`) as an Otava test.
pub fn otava_config(csvs: &[Csv], path_of: impl Fn(&str) -> String) -> Vec<u8> {
    let tests: serde_json::Map<String, serde_json::Value> = csvs
        .iter()
        .map(|c| {
            let metrics: serde_json::Map<String, serde_json::Value> = c
                .columns
                .iter()
                .map(|(name, direction)| {
                    (
                        name.clone(),
                        serde_json::json!({"column": name, "direction": direction}),
                    )
                })
                .collect();
            (
                file_stem(&c.test),
                serde_json::json!({
                    "type": "csv",
                    "file": path_of(&c.test),
                    "time_column": "time",
                    "attributes": ["commit"],
                    "metrics": metrics,
                }),
            )
        })
        .collect();
    let mut bytes =
        serde_json::to_vec_pretty(&serde_json::json!({ "tests": tests })).expect("serializes");
    bytes.push(b'\n');
    bytes
}

/// The HTML page of `--html`: the series with change points first, each drawn with its
/// segments' means and a line at each change point (red: worse, green: better); then the others.
pub fn html(a: &Analysis, history: &str) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cargo loadtest history</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}h2{font-size:1em;margin:1.5em 0 .3em}svg{background:#fafafa;border:1px solid #ddd}.cp{font-size:.9em;color:#444}</style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>History of {}</h1><p>{} runs, {} series; change points with p-value below {}, magnitude above {:.1}% and {}.</p>",
        escape(history),
        a.runs,
        a.series.len(),
        a.max_pvalue,
        a.min_magnitude * 100.0,
        floors(a)
    );
    let (with, without): (Vec<&SeriesReport>, Vec<&SeriesReport>) =
        a.series.iter().partition(|s| !s.change_points.is_empty());
    for s in &with {
        chart(&mut out, s);
    }
    if !without.is_empty() {
        out.push_str("<details><summary>Series without change points</summary>\n");
        for s in &without {
            chart(&mut out, s);
        }
        out.push_str("</details>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn chart(out: &mut String, s: &SeriesReport) {
    let (w, h, pad) = (900.0, 180.0, 10.0);
    let _ = writeln!(out, "<h2>{} · {}</h2>", escape(&s.test), escape(&s.metric));
    let n = s.values.len();
    if n == 0 {
        return;
    }
    let lo = s.values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = s.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x = |i: f64| pad + i * (w - 2.0 * pad) / (n.max(2) - 1) as f64;
    let y = |v: f64| h - pad - (v - lo) / span * (h - 2.0 * pad);
    let _ = write!(
        out,
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><polyline fill=\"none\" stroke=\"#36c\" stroke-width=\"1.5\" points=\""
    );
    for (i, v) in s.values.iter().enumerate() {
        let _ = write!(out, "{:.1},{:.1} ", x(i as f64), y(*v));
    }
    out.push_str("\"/>");
    // Segment means, and a line at each change point.
    let index_of = |run: usize| s.runs.iter().position(|r| *r == run).unwrap_or(0);
    let mut starts = vec![0];
    starts.extend(s.change_points.iter().map(|c| index_of(c.run)));
    starts.push(n);
    for pair in starts.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        if to <= from {
            continue;
        }
        let mean = s.values[from..to].iter().sum::<f64>() / (to - from) as f64;
        let _ = write!(
            out,
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>",
            x(from as f64),
            x((to - 1) as f64),
            y(mean),
            y(mean)
        );
    }
    for c in &s.change_points {
        let colour = if c.regression { "#c33" } else { "#393" };
        let at = x(index_of(c.run) as f64 - 0.5);
        let _ = write!(
            out,
            "<line x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"0\" y2=\"{h}\" stroke=\"{colour}\" stroke-width=\"2\"><title>run {}: {:+.1}%</title></line>",
            c.run,
            c.change * 100.0
        );
    }
    out.push_str("</svg>\n");
    for c in &s.change_points {
        let _ = writeln!(
            out,
            "<p class=\"cp\">Run {} ({}..{}): {} → {}, {:+.1}% ({}), p = {:.1e}{}</p>",
            c.run,
            escape(&short_commit(&c.commit_before)),
            escape(&short_commit(&c.commit)),
            record::human(s.kind, c.mean_before),
            record::human(s.kind, c.mean_after),
            c.change * 100.0,
            if c.regression { "worse" } else { "better" },
            c.pvalue,
            if c.opened_by_newest_run {
                ", opened by the newest run"
            } else {
                ""
            }
        );
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::analysis::SeriesReport;
    use loadtest_grammar::GatedMetric;

    fn analysis() -> Analysis {
        let found = Found {
            run: 3,
            file: "c.json".into(),
            started_at_unix: 3.0,
            commit_before: Some("bbbbbbbbbbbbbbbb".into()),
            commit: Some("cccccccccccccccc".into()),
            mean_before: 5000.0,
            mean_after: 5750.0,
            change: 0.15,
            magnitude: 0.15,
            pvalue: 1e-9,
            regression: true,
            runs_after: 1,
            opened_by_newest_run: true,
        };
        let series =
            |metric: &str, request: Option<&str>, kind, runs: Vec<usize>, cps: Vec<Found>| {
                SeriesReport {
                    test: "shop::api::browse".into(),
                    metric: metric.into(),
                    request: request.map(String::from),
                    values: runs.iter().map(|r| 5000.0 + *r as f64).collect(),
                    runs,
                    change_points: cps,
                    kind,
                }
            };
        Analysis {
            runs: 3,
            newest: Some("c.json".into()),
            window: 50,
            max_pvalue: 0.001,
            min_magnitude: 0.05,
            floors_us: [("p50", 250.0), ("p95", 500.0), ("p99", 1000.0)].into(),
            confirm_runs: 2,
            left_out: vec![],
            series: vec![
                series("p50", None, GatedMetric::P50, vec![1, 2, 3], vec![found]),
                series(
                    "throughput",
                    None,
                    GatedMetric::Throughput,
                    vec![1, 2, 3],
                    vec![],
                ),
                series(
                    "p50(GET /a, b)",
                    Some("GET /a, b"),
                    GatedMetric::P50,
                    vec![1, 2, 3],
                    vec![],
                ),
                series(
                    "p50(GET /new)",
                    Some("GET /new"),
                    GatedMetric::P50,
                    vec![3],
                    vec![],
                ),
            ],
        }
    }

    #[test]
    fn the_table_names_test_metric_run_commits_and_change() {
        let t = table(&analysis(), "hist");
        assert!(t.starts_with("History: 3 runs in hist, 4 series"), "{t}");
        let line = t.lines().find(|l| l.contains("shop::api::browse")).unwrap();
        for part in [
            "p50",
            " 3 ",
            "bbbbbbbbbb..cccccccccc",
            "5.0ms",
            "5.8ms",
            "+15.0% worse, new",
            "1.0e-9",
        ] {
            assert!(line.contains(part), "{part:?} in {line:?}");
        }
        assert!(
            t.contains("The newest run opened 1 regression change point."),
            "{t}"
        );
    }

    #[test]
    fn csv_files_are_otava_s_layout() {
        let a = analysis();
        let csvs = csv(&a, |run| {
            (1_796_000_000.0 + run as f64 * 60.0, Some(format!("c{run}")))
        });
        assert_eq!(csvs.len(), 1);
        let lines: Vec<&str> = csvs[0].text.lines().collect();
        assert_eq!(lines[0], "time,commit,p50,throughput,\"p50(GET /a, b)\"");
        assert_eq!(lines[1], "2026-11-30T00:54:20Z,c1,5001,5001,5001");
        assert_eq!(
            lines.len(),
            4,
            "a header and three runs; GET /new is not in every run"
        );
        assert_eq!(csvs[0].columns[1], ("throughput".to_string(), 1));
        let config: serde_json::Value =
            serde_json::from_slice(&otava_config(&csvs, |t| format!("/h/{}.csv", file_stem(t))))
                .unwrap();
        let t = &config["tests"]["shop__api__browse"];
        assert_eq!(t["file"], "/h/shop__api__browse.csv");
        assert_eq!(t["metrics"]["p50"]["direction"], -1);
        assert_eq!(t["attributes"][0], "commit");
    }

    #[test]
    fn json_and_html_carry_the_change_points() {
        let a = analysis();
        let v: serde_json::Value = serde_json::from_slice(&json(&a)).unwrap();
        assert_eq!(v["history_version"], 1);
        assert_eq!(v["series"][0]["change_points"][0]["run"], 3);
        assert_eq!(
            v["series"][0]["change_points"][0]["opened_by_newest_run"],
            true
        );
        let page = html(&a, "<hist>");
        assert!(page.contains("History of &lt;hist&gt;"));
        assert!(page.contains("stroke=\"#c33\""), "a regression's line");
        assert!(page.contains("p50(GET /a, b)"));
    }
}
