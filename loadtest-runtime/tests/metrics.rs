//! What is measured per request: names (given and default), statuses, classes, bytes, and
//! batches of concurrent requests.

mod common;

use common::{CLIENTS, brief, run, server};
use loadtest_runtime::prelude::*;

#[load_test(users = 1, iterations = 4)]
async fn named(ctx: &Ctx) -> Result<()> {
    ctx.http()
        .get(ctx.url("/"))
        .name("home")
        .send()
        .await?
        .error_for_status()?;
    // A 404 is a response, not an error, until the test says so.
    let missing = ctx.http().get(ctx.url("/status/404")).send().await?;
    if missing.status() != 404 {
        return Err(format!("expected 404, got {}", missing.status()).into());
    }
    // The query string is not part of the default name.
    ctx.http().get(ctx.url("/status/404?page=2")).send().await?;
    let big = ctx
        .http()
        .get(ctx.url("/bytes/1000"))
        .name("bytes")
        .send()
        .await?
        .error_for_status()?;
    if big.body_len() != 1000 {
        return Err(format!("expected 1000 bytes, got {}", big.body_len()).into());
    }
    ctx.http()
        .post(ctx.url("/echo"))
        .body("hello")
        .name("echo")
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_grouped_by_name_with_status_and_bytes() {
    // Both transports: the default name (ids grouped) is computed once, in `send`, for either.
    for client in CLIENTS {
        eprintln!("client = {client:?}");
        let server = server().await;
        let r = run("named", &server, &[("client", client)]).await;
        assert_eq!(r.config.client, client);
        let b = brief(&r);
        let names: Vec<&str> = r.request_names.keys().map(String::as_str).collect();
        assert_eq!(names, ["GET /status/{id}", "bytes", "echo", "home"], "{b}");
        assert_eq!(r.iterations.ok, 4, "{b}");

        let home = &r.request_names["home"];
        assert_eq!(home.count, 4);
        assert_eq!(home.by_status.get("200"), Some(&4));
        assert_eq!(home.by_class.get("ok"), Some(&4));
        assert_eq!(home.latency.summary.count, 4);

        let missing = &r.request_names["GET /status/{id}"];
        assert_eq!(missing.count, 8, "with and without a query string; {b}");
        assert_eq!(missing.by_status.get("404"), Some(&8));
        assert_eq!(missing.by_class.get("http_4xx"), Some(&8));
        assert_eq!(r.requests.by_status.get("404"), Some(&8), "{b}");
        assert_eq!(r.requests.by_class.get("http_4xx"), Some(&8), "{b}");
        assert_eq!(
            r.requests.retries_attempted, 0,
            "a 404 is not retried by default; {b}"
        );

        assert_eq!(r.request_names["bytes"].bytes_received, 4 * 1000, "{b}");
        assert_eq!(r.request_names["echo"].bytes_sent, 4 * 5, "{b}");
        assert!(r.requests.bytes_received > 4 * 1000, "{b}");
        assert_eq!(r.requests.bytes_sent, 4 * 5, "{b}");
        assert_eq!(r.requests.total, 4 * 5, "{b}");
        assert_eq!(server.requests(), 4 * 5);
        assert!(r.passed, "{b}");
    }
}

/// Three concurrent requests per iteration, each 100 ms long.
#[load_test(users = 1, iterations = 3)]
async fn batched(ctx: &Ctx) -> Result<()> {
    let http = ctx.http();
    let results = http
        .batch(vec![
            http.get(ctx.url("/delay/100")).name("a"),
            http.get(ctx.url("/delay/100")).name("b"),
            http.get(ctx.url("/delay/100")).name("c"),
        ])
        .await;
    if results.len() != 3 {
        return Err(format!("expected 3 results, got {}", results.len()).into());
    }
    for result in results {
        result?.error_for_status()?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_measures_each_request() {
    let server = server().await;
    let r = run("batched", &server, &[]).await;
    let b = brief(&r);
    assert_eq!(r.iterations.ok, 3, "{b}");
    assert_eq!(
        r.requests.total, 9,
        "three requests recorded per iteration; {b}"
    );
    assert_eq!(server.requests(), 9, "{b}");
    for name in ["a", "b", "c"] {
        let m = &r.request_names[name];
        assert_eq!(m.count, 3, "{name}; {b}");
        assert!(
            m.latency.summary.min_us >= 100_000,
            "{name} measured its own 100 ms; {b}"
        );
    }
    assert!(
        server.max_concurrent() >= 2,
        "the batch's requests overlapped (max {}); {b}",
        server.max_concurrent()
    );
}
