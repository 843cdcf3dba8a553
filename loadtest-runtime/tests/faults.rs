//! Target faults: for each way a server can misbehave, the run completes, the failures land in
//! the right class with counts that match what the server saw, and retries behave as configured.
//! Every request goes to a loopback server started by the test (or a loopback port it freed).
//! Each test runs on every transport (`client = "native"`, `"hyper"` and `"reqwest"`).

mod common;

use common::{CLIENTS, layer, run, run_layers, server};
use loadtest_runtime::prelude::*;
use std::time::Duration;

/// The load test the fault tests run: one GET of the target URL itself, which each test points at
/// a fault route (`http://127.0.0.1:PORT/fault/...`).
#[load_test]
async fn get_target(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url(""))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// The same with a POST (not idempotent).
#[load_test]
async fn post_target(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .post(ctx.url(""))
        .body("x")
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn fault_run(
    client: &str,
    path: &str,
    options: &[(&str, &str)],
) -> (loadtest_runtime::report::TestResult, u64) {
    fault_run_of("get_target", client, path, options).await
}

async fn fault_run_of(
    test: &str,
    client: &str,
    path: &str,
    options: &[(&str, &str)],
) -> (loadtest_runtime::report::TestResult, u64) {
    let server = server().await;
    let mut l = layer(&server, options);
    l.set_str("client", client);
    l.set_str("target", &format!("{}{path}", server.url()));
    let r = run_layers(test, &[l], Duration::from_secs(60)).await;
    (r, server.requests_to(path))
}

fn class(r: &loadtest_runtime::report::TestResult, c: &str) -> u64 {
    r.requests.by_class.get(c).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_connect_error_and_is_retried() {
    let _g = common::SERIAL.lock().await;
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        // A port that was just free: nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut l = loadtest_runtime::config::OptionLayer::new("test");
        l.set_str("target", &format!("http://127.0.0.1:{port}"));
        l.set_str("client", client);
        for (k, v) in [
            ("iterations", "3"),
            ("retries", "2"),
            ("backoff", "1ms..5ms"),
        ] {
            l.set_str(k, v);
        }
        let r = run_layers("get_target", &[l], Duration::from_secs(60)).await;
        assert_eq!(r.iterations.failed, 3);
        assert_eq!(class(&r, "connect"), 9, "3 iterations x 3 attempts");
        assert_eq!(
            (r.requests.retries_attempted, r.requests.retries_exhausted),
            (6, 3)
        );
        assert!(!r.passed);
        assert!(
            r.errors.iter().any(|e| e.class == "connect"),
            "{:?}",
            r.errors
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_then_close_is_class_closed_and_retried_only_when_idempotent() {
    let _g = common::SERIAL.lock().await;
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        let (r, seen) = fault_run(client, "/fault/close", &[("iterations", "4")]).await;
        assert_eq!(seen, 4);
        assert_eq!(
            class(&r, "closed"),
            4,
            "{:?} {:?}",
            r.requests.by_class,
            r.errors
        );
        assert_eq!(r.iterations.failed, 4);

        // The default retry_on retries it for a GET (the seed scenario: a server at its
        // connection limit closing fresh connections) ...
        let options = [
            ("iterations", "3"),
            ("retries", "2"),
            ("backoff", "1ms..2ms"),
        ];
        let (r, seen) = fault_run(client, "/fault/close", &options).await;
        assert_eq!(seen, 9, "{client}: every GET sent three times");
        assert_eq!(class(&r, "closed"), 9, "{:?}", r.requests.by_class);
        assert_eq!(
            (r.requests.retries_attempted, r.requests.retries_exhausted),
            (6, 3),
            "{client}"
        );

        // ... but never for a POST, which the server may have acted on.
        let (r, seen) = fault_run_of("post_target", client, "/fault/close", &options).await;
        assert_eq!(seen, 3, "{client}: every POST sent once");
        assert_eq!(class(&r, "closed"), 3, "{:?}", r.requests.by_class);
        assert_eq!(r.requests.retries_attempted, 0, "{client}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_response_is_a_body_error() {
    let _g = common::SERIAL.lock().await;
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        let (r, seen) = fault_run(client, "/fault/reset", &[("iterations", "4")]).await;
        assert_eq!(seen, 4);
        assert_eq!(
            class(&r, "body"),
            4,
            "{:?} {:?}",
            r.requests.by_class,
            r.errors
        );
        assert_eq!(
            r.requests.by_status.get("200"),
            None,
            "a broken response is not counted as a status"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_and_is_retried() {
    let _g = common::SERIAL.lock().await;
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        let (r, seen) = fault_run(
            client,
            "/fault/hang/5",
            &[
                ("iterations", "2"),
                ("timeout", "200ms"),
                ("retries", "1"),
                ("backoff", "1ms..2ms"),
            ],
        )
        .await;
        assert_eq!(seen, 4, "2 iterations x 2 attempts reached the server");
        assert_eq!(class(&r, "timeout"), 4);
        assert_eq!(
            (r.requests.retries_attempted, r.requests.retries_exhausted),
            (2, 2)
        );
        let lat = &r.request_names["GET /fault/hang/{id}"].latency.summary;
        assert!(lat.min_us >= 190_000 && lat.max_us < 2_000_000, "{lat:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_hits_the_request_timeout() {
    let _g = common::SERIAL.lock().await;
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        let (r, seen) = fault_run(
            client,
            "/fault/trickle/50/50",
            &[
                ("iterations", "2"),
                ("timeout", "300ms"),
                ("retry_on", "5xx"),
            ],
        )
        .await;
        assert_eq!(seen, 2);
        assert_eq!(
            class(&r, "timeout"),
            2,
            "{:?} {:?}",
            r.requests.by_class,
            r.errors
        );
        assert_eq!(
            r.requests.retries_attempted, 0,
            "timeouts are not retried when retry_on excludes them"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_storm_is_counted_and_fails_thresholds() {
    let _g = common::SERIAL.lock().await;
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        let server = server().await;
        let r = run(
            "get_target",
            &server,
            &[
                ("client", client),
                ("iterations", "5"),
                ("retries", "2"),
                ("backoff", "1ms..2ms"),
                ("thresholds", "error_rate < 10%"),
            ],
        )
        .await;
        // `/` answers 200; the storm comes from a target path of /status/503.
        assert!(r.passed, "control run");
        let mut l = layer(
            &server,
            &[
                ("client", client),
                ("iterations", "5"),
                ("retries", "2"),
                ("backoff", "1ms..2ms"),
                ("thresholds", "error_rate < 10%"),
            ],
        );
        l.set_str("target", &format!("{}/status/503", server.url()));
        let r = run_layers("get_target", &[l], Duration::from_secs(60)).await;
        assert_eq!(class(&r, "http_5xx"), 15);
        assert_eq!(r.requests.by_status.get("503"), Some(&15));
        assert_eq!(server.requests_to("/status/503"), 15);
        assert_eq!(
            (r.requests.retries_attempted, r.requests.retries_exhausted),
            (10, 5)
        );
        assert!(!r.passed);
        assert!(
            r.thresholds
                .iter()
                .any(|t| t.rule == "error_rate < 10%" && !t.passed)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_responses_are_body_errors() {
    let _g = common::SERIAL.lock().await;
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        for path in [
            "/fault/malformed",
            "/fault/huge-headers/2000",
            "/fault/bad-chunked",
        ] {
            let (r, seen) = fault_run(client, path, &[("iterations", "3")]).await;
            assert_eq!(seen, 3, "{path}");
            assert_eq!(
                class(&r, "body"),
                3,
                "{path}: {:?} {:?}",
                r.requests.by_class,
                r.errors
            );
            assert_eq!(r.iterations.failed, 3, "{path}");
        }
    }
}
