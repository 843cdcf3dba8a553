//! Helpers shared by the runtime's integration tests: a loopback demo server per test, option
//! layers pointing at it, and a bounded `run_registered`.

#![allow(dead_code)] // each test crate uses a different subset

use loadtest_demo_server::DemoServer;
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::report::TestResult;
use std::time::Duration;

/// Serializes the timing-sensitive tests of one test binary, so that they do not compete for the
/// (often two) cores of the machine. It is a tokio mutex: each `#[tokio::test]` has its own
/// runtime, and a test that fails while holding it does not poison it.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every HTTP transport, as the `client` option names them: tests of behaviour all must share
/// (faults, TLS, redaction) run once on each.
pub const CLIENTS: [&str; 3] = ["native", "hyper", "reqwest"];

/// The transports whose connections each user owns (phase timings, connection counts).
pub const DIRECT_CLIENTS: [&str; 2] = ["native", "hyper"];

/// Starts a fresh demo server on 127.0.0.1 (a fresh one per test: some routes keep state).
pub async fn server() -> DemoServer {
    let server = DemoServer::start()
        .await
        .expect("the demo server starts on 127.0.0.1");
    assert!(
        server.addr().ip().is_loopback(),
        "the demo server must only listen on loopback"
    );
    server
}

/// An override layer that targets `server` and sets `options`.
pub fn layer(server: &DemoServer, options: &[(&str, &str)]) -> OptionLayer {
    let mut layer = OptionLayer::new("test");
    layer.set_str("target", &server.url());
    for (name, value) in options {
        layer.set_str(name, value);
    }
    layer
}

/// Runs the registered load test `name` against `server` with `options`, failing the test if it
/// does not finish within `limit` (of tokio time: virtual under a paused clock).
pub async fn run_for(
    name: &str,
    server: &DemoServer,
    options: &[(&str, &str)],
    limit: Duration,
) -> TestResult {
    run_layers(name, &[layer(server, options)], limit).await
}

/// Runs the registered load test `name` with override `layers`, bounded by `limit`.
pub async fn run_layers(name: &str, layers: &[OptionLayer], limit: Duration) -> TestResult {
    match tokio::time::timeout(limit, loadtest_runtime::run_registered(name, layers)).await {
        Ok(Ok(result)) => {
            // Shown with `--nocapture`, and with the output of a failing test.
            eprintln!("{name}: {}", brief(&result));
            result
        }
        Ok(Err(e)) => panic!("load test {name} could not run: {e}"),
        Err(_) => panic!("load test {name} did not finish within {limit:?}"),
    }
}

/// Runs `name` against `server` with `options`, bounded by 60 s.
pub async fn run(name: &str, server: &DemoServer, options: &[(&str, &str)]) -> TestResult {
    run_for(name, server, options, Duration::from_secs(60)).await
}

/// The numbers worth seeing when an assertion about a result fails.
pub fn brief(r: &TestResult) -> String {
    let lat = &r.iteration_latency.summary;
    let mut s = format!(
        "elapsed {:.3}s; iterations total {} ok {} failed {} {:?} dropped {} late {} interrupted {}; \
         requests total {} by_class {:?} by_status {:?} retries {} exhausted {}; \
         latency p50 {}us p99 {}us max {}us",
        r.elapsed_s,
        r.iterations.total,
        r.iterations.ok,
        r.iterations.failed,
        r.iterations.failed_by_class,
        r.iterations.dropped,
        r.iterations.late,
        r.iterations.interrupted,
        r.requests.total,
        r.requests.by_class,
        r.requests.by_status,
        r.requests.retries_attempted,
        r.requests.retries_exhausted,
        lat.p50_us,
        lat.p99_us,
        lat.max_us,
    );
    if let Some(u) = &r.iteration_latency_uncorrected {
        let u = &u.summary;
        s.push_str(&format!(
            "; uncorrected p50 {}us p99 {}us max {}us",
            u.p50_us, u.p99_us, u.max_us
        ));
    }
    if !r.errors.is_empty() {
        s.push_str(&format!("; errors {:?}", r.errors));
    }
    s
}
