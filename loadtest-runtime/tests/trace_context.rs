//! W3C trace context and exemplars against a loopback server that logs the `traceparent` of
//! every request it receives and delays a known set of them: the exemplars are exactly the
//! delayed requests, by the server's own log, and every exemplar's trace id is one the server
//! saw. `trace = "off"` sends no trace header, `"propagate"` never sets the sampled flag, and a
//! test's own `traceparent` is sent as it is, on every transport.

mod common;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::prelude::*;
use loadtest_runtime::report::TestResult;
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// The requests (by arrival number, from 1) the server delays.
const DELAYED: [u64; 5] = [5, 12, 19, 26, 33];
const DELAY: Duration = Duration::from_millis(100);

/// What the server saw: each request's arrival number and its `traceparent`, if any.
#[derive(Default)]
struct Log {
    arrivals: AtomicU64,
    seen: Mutex<Vec<(u64, Option<String>)>>,
}

impl Log {
    fn seen(&self) -> Vec<(u64, Option<String>)> {
        self.seen.lock().unwrap().clone()
    }
}

/// An HTTP/1.1 server on 127.0.0.1 that logs every request's `traceparent` and delays the
/// requests numbered in [`DELAYED`].
async fn server() -> (String, Arc<Log>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Log::default());
    let l = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let l = l.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let l = l.clone();
                    async move {
                        let n = l.arrivals.fetch_add(1, Ordering::SeqCst) + 1;
                        let header = req
                            .headers()
                            .get("traceparent")
                            .map(|v| v.to_str().unwrap_or("(not text)").to_string());
                        l.seen.lock().unwrap().push((n, header));
                        if DELAYED.contains(&n) {
                            tokio::time::sleep(DELAY).await;
                        }
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, log)
}

/// Two requests per iteration (one trace, two spans).
#[load_test]
async fn traced(ctx: &Ctx) -> Result<()> {
    ctx.http().get(ctx.url("/a")).name("r").send().await?;
    ctx.http().get(ctx.url("/b")).name("r").send().await?;
    Ok(())
}

const OWN: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// A test that sets its own `traceparent`.
#[load_test]
async fn own_traceparent(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/"))
        .header("traceparent", OWN)
        .send()
        .await?;
    Ok(())
}

async fn run(name: &str, url: &str, options: &[(&str, &str)]) -> TestResult {
    let mut layer = OptionLayer::new("test");
    layer.set_str("target", url);
    layer.set_str("users", "1");
    for (k, v) in options {
        layer.set_str(k, v);
    }
    common::run_layers(name, &[layer], Duration::from_secs(60)).await
}

/// `(trace id, parent id, flags)` of a `traceparent` as the server received it.
fn fields(header: &str) -> (String, String, String) {
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "{header}");
    assert_eq!(parts[0], "00", "{header}");
    assert!(
        parts[1].len() == 32 && parts[2].len() == 16 && parts[3].len() == 2,
        "{header}"
    );
    (parts[1].into(), parts[2].into(), parts[3].into())
}

#[tokio::test]
async fn the_exemplars_are_the_slowest_requests_by_the_servers_log() {
    let _serial = common::SERIAL.lock().await;
    for client in common::CLIENTS {
        let (url, log) = server().await;
        let result = run("traced", &url, &[("iterations", "20"), ("client", client)]).await;
        assert_eq!(result.requests.total, 40, "{client}");
        let seen = log.seen();
        assert_eq!(seen.len(), 40, "{client}");
        let headers: Vec<(u64, (String, String, String))> = seen
            .iter()
            .map(|(n, h)| {
                let h = h
                    .as_deref()
                    .unwrap_or_else(|| panic!("{client}: request {n} has no traceparent"));
                (*n, fields(h))
            })
            .collect();
        // Sampled by default; one trace per iteration, one span per request.
        assert!(headers.iter().all(|(_, f)| f.2 == "01"), "{client}");
        let traces: BTreeSet<&str> = headers.iter().map(|(_, f)| f.0.as_str()).collect();
        let spans: BTreeSet<&str> = headers.iter().map(|(_, f)| f.1.as_str()).collect();
        assert_eq!((traces.len(), spans.len()), (20, 40), "{client}");
        let mut by_arrival = headers.clone();
        by_arrival.sort_by_key(|(n, _)| *n);
        for pair in by_arrival.chunks(2) {
            assert_eq!(
                pair[0].1.0, pair[1].1.0,
                "{client}: an iteration's requests share a trace"
            );
        }

        let exemplars = result.request_names["r"].exemplars.as_slice();
        assert_eq!(exemplars.len(), 5, "{client}");
        let delayed: BTreeSet<(String, String)> = headers
            .iter()
            .filter(|(n, _)| DELAYED.contains(n))
            .map(|(_, f)| (f.0.clone(), f.1.clone()))
            .collect();
        let kept: BTreeSet<(String, String)> = exemplars
            .iter()
            .map(|e| {
                (
                    e.trace_id.expect("a trace id").to_string(),
                    e.span_id.expect("a span id").to_string(),
                )
            })
            .collect();
        assert_eq!(
            kept, delayed,
            "{client}: the exemplars are the delayed requests"
        );
        for e in exemplars {
            assert!(e.latency_us >= DELAY.as_micros() as u64, "{client}: {e:?}");
            assert_eq!(
                (e.status, e.sampled, e.shard),
                (Some(200), true, None),
                "{client}"
            );
            assert!(e.started_at_unix > 1.6e9, "{client}: {e:?}");
        }
        let latencies: Vec<u64> = exemplars.iter().map(|e| e.latency_us).collect();
        assert!(
            latencies.windows(2).all(|w| w[0] >= w[1]),
            "slowest first: {latencies:?}"
        );
    }
}

#[tokio::test]
async fn off_sends_no_header_and_propagate_never_samples() {
    let _serial = common::SERIAL.lock().await;
    let (url, log) = server().await;
    let result = run("traced", &url, &[("iterations", "10"), ("trace", "off")]).await;
    let seen = log.seen();
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|(_, h)| h.is_none()), "{seen:?}");
    let exemplars = result.request_names["r"].exemplars.as_slice();
    assert_eq!(exemplars.len(), 5);
    assert!(exemplars.iter().all(|e| e.trace_id.is_none() && !e.sampled));

    let (url, log) = server().await;
    run(
        "traced",
        &url,
        &[("iterations", "10"), ("trace", "propagate")],
    )
    .await;
    let seen = log.seen();
    assert_eq!(seen.len(), 20);
    assert!(
        seen.iter()
            .all(|(_, h)| h.as_deref().is_some_and(|h| fields(h).2 == "00")),
        "{seen:?}"
    );

    let (url, log) = server().await;
    run(
        "traced",
        &url,
        &[("iterations", "10"), ("trace_sample", "0")],
    )
    .await;
    assert!(
        log.seen()
            .iter()
            .all(|(_, h)| h.as_deref().is_some_and(|h| fields(h).2 == "00")),
    );
}

#[tokio::test]
async fn a_tests_own_traceparent_is_left_alone() {
    let _serial = common::SERIAL.lock().await;
    for client in common::CLIENTS {
        let (url, log) = server().await;
        let result = run(
            "own_traceparent",
            &url,
            &[("iterations", "3"), ("client", client)],
        )
        .await;
        let seen = log.seen();
        assert_eq!(seen.len(), 3, "{client}");
        assert!(
            seen.iter().all(|(_, h)| h.as_deref() == Some(OWN)),
            "{client}: {seen:?}"
        );
        for e in result.request_names["GET /"].exemplars.as_slice() {
            assert_eq!(
                e.trace_id.map(|t| t.to_string()).as_deref(),
                Some("0af7651916cd43dd8448eb211c80319c"),
                "{client}"
            );
            assert!(e.sampled, "{client}");
        }
    }
}
