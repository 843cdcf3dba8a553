//! End-to-end: trace context and exemplars through the real `cargo loadtest`. Debian's
//! Prometheus, with exemplar storage on, scrapes a run's `--metrics-listen` endpoint; its
//! exemplar query API returns trace ids that are the report's exemplars (with the same
//! latency), and the HTML and Markdown reports list every exemplar, linked through
//! `--trace-url`. Bad `--trace-url`, `--trace` and `--trace-sample` values are usage errors.
//!
//! That each exemplar is one of the slowest requests, by the trace ids a server received, is
//! the runtime's test `loadtest-runtime/tests/trace_context.rs` (a loopback server that logs
//! every `traceparent` and delays a known set of requests).

use crate::e2e_watch::tool;
use crate::support;
use crate::support::prometheus::{Prometheus, encode};

use loadtest_report::exemplar::Exemplar;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::scrape::{free_port, http_get};
use support::{Fixture, Server, serial, text};

const TRACE_URL: &str = "https://tempo.test/trace/{trace_id}?from=loadtest";

/// `(trace id, latency in seconds)` of every exemplar Prometheus stored for `selector`.
fn stored_exemplars(p: &Prometheus, selector: &str, from: f64) -> Vec<(String, f64)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let path = format!(
        "/api/v1/query_exemplars?query={}&start={:.3}&end={:.3}",
        encode(selector),
        from - 60.0,
        now + 60.0
    );
    let Some((200, body)) = http_get(p.port, &path) else {
        panic!("the exemplar API did not answer 200 to {path}: {}", p.log())
    };
    let v: serde_json::Value = serde_json::from_str(&body).expect("the API answers JSON");
    assert_eq!(v["status"], "success", "{body}");
    let mut out = Vec::new();
    for series in v["data"].as_array().into_iter().flatten() {
        for e in series["exemplars"].as_array().into_iter().flatten() {
            let id = e["labels"]["trace_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let value: f64 = e["value"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            out.push((id, value));
        }
    }
    out
}

#[test]
fn prometheus_stores_exemplars_whose_trace_ids_are_the_reports() {
    let Some(binary) = tool("prometheus") else {
        return;
    };
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let port = free_port();
    let prometheus = Prometheus::start(&binary, &[port], &["--enable-feature=exemplar-storage"]);
    prometheus.wait_for_scrape_loop();
    let out = f.run(&[
        "--target",
        &server.url(),
        "--exact",
        "home",
        "--duration",
        "4s",
        "--metrics-listen",
        &format!("127.0.0.1:{port}"),
        "--trace-url",
        TRACE_URL,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    let t = report.tests.iter().find(|t| t.name == "home").unwrap();
    let r = t.result.as_ref().unwrap();
    let exemplars: &[Exemplar] = r.request_names["home"].exemplars.as_slice();
    assert_eq!(
        exemplars.len(),
        5,
        "the five slowest of {} requests",
        r.requests.total
    );
    let in_report: BTreeMap<String, u64> = exemplars
        .iter()
        .map(|e| {
            let id = e
                .trace_id
                .expect("trace context is on by default")
                .to_string();
            assert!(e.sampled && e.status == Some(200), "{e:?}");
            (id, e.latency_us)
        })
        .collect();
    assert_eq!(in_report.len(), 5, "one trace per iteration: {in_report:?}");

    // Prometheus keeps what it scraped; the run's slowest requests were among the live
    // exemplars from the scrape after they happened on (the first requests, which open the
    // connections, are among them and come before any scrape).
    let selector = r#"loadtest_request_duration_seconds_bucket{test="api::home", request="home"}"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stored = stored_exemplars(&prometheus, selector, report.run.started_at_unix);
    while !stored.iter().any(|(id, _)| in_report.contains_key(id)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        stored = stored_exemplars(&prometheus, selector, report.run.started_at_unix);
    }
    let shared: Vec<&(String, f64)> = stored
        .iter()
        .filter(|(id, _)| in_report.contains_key(id))
        .collect();
    assert!(
        !shared.is_empty(),
        "no stored exemplar is in the report: stored {stored:?}, report {in_report:?}; {}",
        prometheus.log()
    );
    for (id, seconds) in &shared {
        assert_eq!(
            (seconds * 1e6).round() as u64,
            in_report[id],
            "exemplar {id}: Prometheus's value against the report's latency"
        );
    }
    for (id, _) in &stored {
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "a stored exemplar without a W3C trace id: {id:?}"
        );
    }

    // The HTML and Markdown reports list each exemplar, linked through --trace-url.
    let html = std::fs::read_to_string(f.file("report.html")).unwrap();
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    for id in in_report.keys() {
        let link = TRACE_URL.replace("{trace_id}", id);
        assert!(
            html.contains(&format!("<a href=\"{link}\"><code>{id}</code></a>")),
            "{id} is not linked in the HTML report"
        );
        assert!(
            md.contains(&format!("[`{id}`]({link})")),
            "{id} is not linked in the Markdown report:\n{md}"
        );
    }
}

#[test]
fn bad_trace_values_are_usage_errors_naming_the_value() {
    let _g = support::concurrent(&["passing"]);
    let f = Fixture::shared("passing");
    for (args, says) in [
        (
            vec!["--trace-url", "https://tempo.test/trace/"],
            vec!["https://tempo.test/trace/", "{trace_id}", "--trace-url"],
        ),
        (
            vec!["--trace-sample", "1.5"],
            vec!["--trace-sample", "\"1.5\"", "fraction from 0 to 1"],
        ),
        (
            vec!["--trace", "sometimes"],
            vec!["--trace", "\"sometimes\"", "\"propagate\""],
        ),
    ] {
        let out = f.run(&args);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        for s in says {
            assert!(
                all.contains(s),
                "{args:?}: the error does not say {s:?}: {all}"
            );
        }
        assert!(!all.contains("panicked"), "{all}");
    }
}
