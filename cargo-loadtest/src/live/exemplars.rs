//! OpenMetrics exemplars on the request latency histogram
//! (`loadtest_request_duration_seconds_bucket`): each bucket that holds one of the request
//! name's slowest requests (its [`Exemplars`]) shows the slowest of them with its trace id, as
//! `... 12 # {trace_id="...",span_id="..."} 0.812 1765080000.123`, so Prometheus (with
//! exemplar storage) and Grafana link a latency spike to its traces.
//!
//! Added to the encoded page line by line: `prometheus-client` encodes exemplars only of its own
//! instrumented histograms (its `Exemplar` has no public constructor), while this endpoint
//! encodes histograms it already holds. A bucket line's labels are parsed back (with
//! OpenMetrics escapes), so the exemplars follow the encoder's label order and escaping
//! whatever they are.

use super::state::LiveState;
use loadtest_report::exemplar::{Exemplar, Exemplars};
use loadtest_report::live::{LATENCY_BUCKETS_US, bucket_of};
use std::fmt::Write as _;

/// The bucket series the exemplars go on.
const BUCKET_SERIES: &str = "loadtest_request_duration_seconds_bucket{";

/// `page` with exemplars on the request latency buckets of the tests in `state`.
pub(crate) fn annotate(page: &str, state: &LiveState) -> String {
    let any = state
        .tests
        .iter()
        .any(|(_, t)| t.detail.requests.values().any(|r| !r.exemplars.is_empty()));
    if !any {
        return page.to_string();
    }
    let mut out = String::with_capacity(page.len() + 1024);
    for line in page.lines() {
        out.push_str(line);
        if let Some(e) = exemplar_of_line(line, state) {
            let _ = write!(
                out,
                " # {{trace_id=\"{}\"",
                e.trace_id
                    .expect("only exemplars with a trace id are shown")
            );
            if let Some(span) = e.span_id {
                let _ = write!(out, ",span_id=\"{span}\"");
            }
            let _ = write!(
                out,
                "}} {} {:.3}",
                e.latency_us as f64 / 1e6,
                e.started_at_unix + e.latency_us as f64 / 1e6
            );
        }
        out.push('\n');
    }
    out
}

/// A sample line without its exemplar, for the older text format (which has none).
pub(crate) fn without_exemplar(line: &str) -> &str {
    if line.starts_with('#') {
        return line;
    }
    match line
        .find("} ")
        .and_then(|end| line[end..].find(" # {").map(|i| end + i))
    {
        Some(cut) => &line[..cut],
        None => line,
    }
}

/// The exemplar a bucket line shows: the slowest of its request's exemplars (with a trace id)
/// that fall in its bucket.
fn exemplar_of_line<'s>(line: &str, state: &'s LiveState) -> Option<&'s Exemplar> {
    let labels = parse_labels(line.strip_prefix(BUCKET_SERIES)?)?;
    let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (test, request, le) = (get("test")?, get("request")?, get("le")?);
    let bucket = match le {
        "+Inf" => LATENCY_BUCKETS_US.len(),
        bound => {
            let us = (bound.parse::<f64>().ok()? * 1e6).round() as u64;
            LATENCY_BUCKETS_US.iter().position(|&b| b == us)?
        }
    };
    let (_, t) = state
        .tests
        .iter()
        .find(|(id, _)| id.as_id().qualified() == test)?;
    in_bucket(&t.detail.requests.get(request)?.exemplars, bucket)
}

/// The slowest exemplar with a trace id in bucket `bucket` (exemplars are slowest first).
fn in_bucket(exemplars: &Exemplars, bucket: usize) -> Option<&Exemplar> {
    exemplars
        .as_slice()
        .iter()
        .find(|e| e.trace_id.is_some() && bucket_of(e.latency_us) == bucket)
}

/// The labels of `k="v",...}` (the rest of the line after the brace), unescaped; `None` when
/// malformed.
fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    let mut chars = text.chars();
    loop {
        let mut key = String::new();
        loop {
            match chars.next()? {
                '=' => break,
                '}' if key.is_empty() => return Some(labels),
                c => key.push(c),
            }
        }
        if chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((key, value));
        match chars.next()? {
            ',' => {}
            '}' => return Some(labels),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::exposition::{registry, render, to_text_format};
    use loadtest_report::class::RequestClass;
    use loadtest_report::exemplar::{SpanId, TraceId};
    use loadtest_report::live::{LiveDetail, LiveRequest};
    use loadtest_report::protocol::Progress;
    use std::sync::{Arc, Mutex};

    fn exemplar(latency_us: u64, id: u8, traced: bool) -> Exemplar {
        Exemplar {
            trace_id: traced.then_some(TraceId([id; 16])),
            span_id: traced.then_some(SpanId([id; 8])),
            sampled: true,
            started_at_unix: 1_765_080_000.0,
            latency_us,
            status: Some(200),
            shard: None,
        }
    }

    #[test]
    fn the_slowest_exemplar_of_each_bucket_goes_on_its_line() {
        let state = Arc::new(Mutex::new(LiveState::default()));
        {
            let mut s = state.lock().unwrap();
            s.started(loadtest_report::report::TestId {
                package: "shop",
                target: "api",
                name: "home",
            });
            let mut r = LiveRequest::default();
            r.by_class.insert(RequestClass::Ok, 4);
            let mut latency = loadtest_report::hdr::new_hist();
            for (id, us) in [(1u8, 800_000u64), (2, 700_000), (3, 150_000), (4, 30)] {
                loadtest_report::hdr::record(&mut latency, us);
                r.exemplars.offer(us, || exemplar(us, id, us != 30));
            }
            r.latency = loadtest_report::live::Buckets::of(&latency);
            let mut live = LiveDetail::default();
            // A name with quotes and a backslash: the labels are parsed back with escapes.
            live.requests.insert("GET /q\"\\".into(), r);
            s.progress(&Progress {
                live: Some(Box::new(live)),
                ..Progress::default()
            });
        }
        let page = render(&registry(state.clone(), "0/1".into()), &state);
        let lines: Vec<&str> = page.lines().filter(|l| l.contains(" # {")).collect();
        let slow = format!("{}", TraceId([1; 16]));
        let second = format!("{}", TraceId([3; 16]));
        assert_eq!(lines.len(), 2, "{page}");
        assert!(
            lines[0].contains("le=\"0.2\"")
                && lines[0].ends_with(&format!(
                    " # {{trace_id=\"{second}\",span_id=\"{}\"}} 0.15 1765080000.150",
                    SpanId([3; 8])
                )),
            "{}",
            lines[0]
        );
        // 0.8 s and 0.7 s share the 1 s bucket: the slower one is shown.
        assert!(
            lines[1].contains("le=\"1.0\"") && lines[1].contains(&slow),
            "{}",
            lines[1]
        );
        // The older text format has none, and the samples are otherwise the same.
        let text = to_text_format(&page);
        assert!(!text.contains(" # {"), "{text}");
        assert!(text.contains(lines[1].split(" # {").next().unwrap()));
    }

    #[test]
    fn labels_parse_back_with_their_escapes() {
        assert_eq!(
            parse_labels(r#"a="x\"y",b="\\n\n"} 1"#),
            Some(vec![
                ("a".into(), "x\"y".into()),
                ("b".into(), "\\n\n".into())
            ])
        );
        assert_eq!(parse_labels(r#"a=x} 1"#), None);
        assert_eq!(
            without_exemplar(r#"m_bucket{le="1"} 3 # {trace_id="ab"} 0.5 1"#),
            r#"m_bucket{le="1"} 3"#
        );
    }
}
