//! The page's "Slowest requests" section: per test and request name, its exemplars (the slowest
//! requests with their trace ids), each trace id linked to a trace viewer when `--trace-url`
//! gives one.

use super::chart::esc;
use crate::output::trace_url::TraceUrl;
use loadtest_report::report::{RunReport, human_us};
use std::fmt::Write as _;

/// Writes the section; nothing when no test has exemplars.
pub(super) fn section(s: &mut String, report: &RunReport, trace_url: Option<&TraceUrl>) {
    let with: Vec<_> = report
        .tests
        .iter()
        .filter_map(|t| t.result.as_ref().map(|r| (t, r)))
        .filter(|(_, r)| r.request_names.values().any(|n| !n.exemplars.is_empty()))
        .collect();
    if with.is_empty() {
        return;
    }
    s.push_str("<section class=\"test\" id=\"slowest\">\n<h2>Slowest requests</h2>\n");
    if trace_url.is_none() {
        s.push_str("<p class=\"note\">Trace ids link to a trace viewer with <code>--trace-url 'https://.../{trace_id}'</code>.</p>\n");
    }
    for (t, r) in with {
        let _ = writeln!(s, "<h3>{}</h3>", esc(&t.id().qualified()));
        s.push_str("<table>\n<tr><th>request</th><th class=\"num\">latency</th><th>status</th><th>started</th><th>shard</th><th>trace id</th><th>sampled</th></tr>\n");
        for (name, m) in &r.request_names {
            for e in m.exemplars.as_slice() {
                let trace = match (e.trace_id, trace_url) {
                    (Some(id), Some(url)) => {
                        format!("<a href=\"{}\"><code>{id}</code></a>", esc(&url.link(&id)))
                    }
                    (Some(id), None) => format!("<code>{id}</code>"),
                    (None, _) => "-".into(),
                };
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{trace}</td><td>{}</td></tr>",
                    esc(name),
                    human_us(e.latency_us as f64),
                    e.status.map_or("-".into(), |c| c.to_string()),
                    crate::calendar::readable_ms(e.started_at_unix),
                    e.shard.map_or("-".into(), |k| k.to_string()),
                    if e.sampled { "yes" } else { "no" },
                );
            }
        }
        s.push_str("</table>\n");
    }
    s.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::report_with_exemplar;
    use loadtest_report::exemplar::{Exemplar, TraceId};

    /// A report whose one test has one request name with one exemplar (traced or not).
    fn report_with(traced: bool) -> RunReport {
        report_with_exemplar(
            "GET /<a>",
            Exemplar {
                trace_id: traced.then_some(TraceId([0xa1; 16])),
                span_id: None,
                sampled: true,
                started_at_unix: 1_796_178_645.125,
                latency_us: 812_000,
                status: Some(503),
                shard: Some(2),
            },
        )
    }

    #[test]
    fn the_table_links_trace_ids_through_the_template() {
        let r = report_with(true);
        let url = TraceUrl::parse("https://tempo.test/t/{trace_id}?a=1&b=2").unwrap();
        let mut s = String::new();
        section(&mut s, &r, Some(&url));
        let id = "a1".repeat(16);
        assert!(s.contains("<h3>api::home</h3>"), "{s}");
        assert!(
            s.contains(&format!(
                "<tr><td>GET /&lt;a&gt;</td><td class=\"num\">812.0ms</td><td>503</td><td>2026-12-02 02:30:45.125 UTC</td><td>2</td><td><a href=\"https://tempo.test/t/{id}?a=1&amp;b=2\"><code>{id}</code></a></td><td>yes</td></tr>"
            )),
            "{s}"
        );
        let mut plain = String::new();
        section(&mut plain, &r, None);
        assert!(
            plain.contains(&format!("<td><code>{id}</code></td>")) && !plain.contains("<a href")
        );
        let mut none = String::new();
        section(&mut none, &report_with(false), None);
        assert!(none.contains("<td>-</td><td>yes</td>"), "{none}");
        let mut empty = String::new();
        let mut r = r;
        r.tests[0].result.as_mut().unwrap().request_names.clear();
        section(&mut empty, &r, Some(&url));
        assert!(empty.is_empty());
    }
}
