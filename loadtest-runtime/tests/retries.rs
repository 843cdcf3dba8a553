//! Retries: HTTP retries against a flaky loopback endpoint, `Retry-After`, exhausted retries,
//! and the `ctx.retry` helper's backoff under tokio's paused clock.

mod common;

use common::{brief, run, run_for, server};
use loadtest_runtime::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// A key no other request of this test binary uses, so that each iteration meets the flaky
/// endpoints' per-key failures afresh.
fn unique_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `/flaky/2/KEY` answers 503 twice per key, then 200.
#[load_test(users = 2, iterations = 6, retries = 3, backoff = "5ms..50ms")]
async fn flaky(ctx: &Ctx) -> Result<()> {
    let url = ctx.url(&format!("/flaky/2/{}", unique_key()));
    ctx.http()
        .get(url)
        .name("flaky")
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_absorb_a_flaky_server() {
    let server = server().await;
    let r = run("flaky", &server, &[]).await;
    let b = brief(&r);
    let n = 6;
    assert_eq!(r.iterations.total, n, "{b}");
    assert_eq!(
        r.iterations.ok, n,
        "every iteration succeeds on its third attempt; {b}"
    );
    assert_eq!(
        server.requests_to("/flaky"),
        3 * n,
        "the server sees three attempts per iteration; {b}"
    );
    assert_eq!(r.requests.total, 3 * n, "each attempt is measured; {b}");
    assert_eq!(r.requests.retries_attempted, 2 * n, "{b}");
    assert_eq!(r.requests.retries_exhausted, 0, "{b}");
    assert_eq!(r.requests.by_class.get("http_5xx"), Some(&(2 * n)), "{b}");
    assert_eq!(r.requests.by_class.get("ok"), Some(&n), "{b}");
    assert_eq!(r.requests.by_status.get("503"), Some(&(2 * n)), "{b}");
    let named = &r.request_names["flaky"];
    assert_eq!(
        named.count,
        3 * n,
        "retries are recorded under the request's name; {b}"
    );
    assert!(r.passed, "{b}; thresholds {:?}", r.thresholds);
}

/// `/flaky/5/KEY` fails five times: two retries are not enough.
#[load_test(users = 1, iterations = 3, retries = 2, backoff = "1ms..10ms")]
async fn too_flaky(ctx: &Ctx) -> Result<()> {
    let url = ctx.url(&format!("/flaky/5/{}", unique_key()));
    ctx.http().get(url).send().await?.error_for_status()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_are_counted_and_fail_the_iteration() {
    let server = server().await;
    let r = run("too_flaky", &server, &[]).await;
    let b = brief(&r);
    assert_eq!(
        server.requests_to("/flaky"),
        9,
        "three attempts per iteration; {b}"
    );
    assert_eq!(r.requests.total, 9, "{b}");
    assert_eq!(r.requests.retries_attempted, 6, "{b}");
    assert_eq!(r.requests.retries_exhausted, 3, "{b}");
    assert_eq!(r.requests.by_class.get("http_5xx"), Some(&9), "{b}");
    assert_eq!(r.iterations.failed_by_class.get("user"), Some(&3), "{b}");
    assert!(!r.passed, "{b}");
}

/// `/retry-after/1/KEY` answers 429 with `Retry-After: 1` once per key, then 200.
#[load_test(users = 2, iterations = 2, retries = 1, backoff = "1ms..5s")]
async fn retry_after(ctx: &Ctx) -> Result<()> {
    let url = ctx.url(&format!("/retry-after/1/{}", unique_key()));
    ctx.http().get(url).send().await?.error_for_status()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_replaces_the_backoff() {
    let server = server().await;
    let r = run("retry_after", &server, &[]).await;
    let b = brief(&r);
    let lat = r.iteration_latency.summary;
    assert_eq!(r.iterations.ok, 2, "{b}");
    assert_eq!(
        r.requests.retries_attempted, 2,
        "one retry per iteration; {b}"
    );
    assert_eq!(r.requests.retries_exhausted, 0, "{b}");
    assert_eq!(r.requests.by_status.get("429"), Some(&2), "{b}");
    assert_eq!(r.requests.by_status.get("200"), Some(&2), "{b}");
    assert_eq!(server.requests_to("/retry-after"), 4, "{b}");
    // The drawn backoff would be at most 1 ms; Retry-After asks for 1 s.
    assert!(
        lat.min_us >= 990_000,
        "the iteration did not wait for Retry-After; {b}"
    );
    assert!(lat.max_us < 5_000_000, "{b}");
}

/// An operation that fails twice, then succeeds, through `ctx.retry`, timed on tokio's clock.
#[load_test(users = 1, iterations = 10, retries = 3, backoff = "1s..8s")]
async fn retry_helper(ctx: &Ctx) -> Result<()> {
    let started = tokio::time::Instant::now();
    let attempts = ctx
        .retry(|attempt| async move {
            if attempt < 2 {
                Err(format!("attempt {attempt} failed"))
            } else {
                Ok(attempt + 1)
            }
        })
        .await?;
    ctx.record("retry_wait", started.elapsed());
    if attempts != 3 {
        return Err(format!("expected 3 attempts, made {attempts}").into());
    }
    Ok(())
}

/// No network: the run's target is a loopback server that no iteration contacts.
#[tokio::test(start_paused = true)]
async fn retry_helper_backs_off_with_full_jitter() {
    let server = server().await;
    // Ten iterations of at most 3 s each of virtual time.
    let r = run_for("retry_helper", &server, &[], Duration::from_secs(300)).await;
    let b = brief(&r);
    assert_eq!(server.requests(), 0);
    assert_eq!(r.iterations.ok, 10, "{b}");
    assert_eq!(
        r.requests.retries_attempted, 20,
        "two retries per iteration; {b}"
    );
    assert_eq!(r.requests.retries_exhausted, 0, "{b}");
    assert_eq!(
        r.requests.total, 0,
        "ctx.retry does not count requests; {b}"
    );
    let wait = r.custom_latencies["retry_wait"].summary;
    assert_eq!(wait.count, 10);
    // Full jitter: retry 0 waits in [0, 1s], retry 1 in [0, 2s]. Timers round up to the
    // millisecond, hence the small margin.
    assert!(
        wait.max_us <= 3_005_000,
        "waited {}us in one iteration; {b}",
        wait.max_us
    );
    assert!(wait.max_us > 0, "never backed off; {b}");
}

/// An operation that always fails, through `ctx.retry`.
#[load_test(users = 1, iterations = 3, retries = 3, backoff = "1s..8s")]
async fn retry_helper_exhausted(ctx: &Ctx) -> Result<()> {
    let started = tokio::time::Instant::now();
    let outcome = ctx
        .retry(|attempt| async move { Err::<(), _>(format!("attempt {attempt} failed")) })
        .await;
    ctx.record("retry_wait", started.elapsed());
    outcome?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn retry_helper_gives_up_after_its_retries() {
    let server = server().await;
    let r = run_for(
        "retry_helper_exhausted",
        &server,
        &[],
        Duration::from_secs(300),
    )
    .await;
    let b = brief(&r);
    assert_eq!(r.iterations.failed, 3, "{b}");
    assert_eq!(r.iterations.failed_by_class.get("user"), Some(&3), "{b}");
    assert_eq!(r.requests.retries_attempted, 9, "{b}");
    assert_eq!(r.requests.retries_exhausted, 3, "{b}");
    assert!(
        r.errors
            .iter()
            .any(|e| e.class == "user" && e.message.contains("attempt 3 failed")),
        "{b}"
    );
    // Caps 1 s, 2 s, 4 s.
    assert!(
        r.custom_latencies["retry_wait"].summary.max_us <= 7_005_000,
        "{b}"
    );
    assert!(!r.passed);
}

/// Each attempt times out after 100 ms, long before the 1 s answer; the one retry does too.
#[load_test(
    users = 1,
    iterations = 2,
    timeout = "100ms",
    retries = 1,
    backoff = "1ms..5ms"
)]
async fn request_timeout(ctx: &Ctx) -> Result<()> {
    match ctx.http().get(ctx.url("/delay/1000")).send().await {
        Err(e) if e.is_timeout() => Err(e.into()),
        Err(e) => Err(format!("expected a timeout, got {} ({e})", e.class()).into()),
        Ok(r) => Err(format!("expected a timeout, got HTTP {}", r.status()).into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeouts_are_classified_and_retried() {
    let server = server().await;
    let r = run("request_timeout", &server, &[]).await;
    let b = brief(&r);
    assert_eq!(server.requests_to("/delay"), 4, "{b}");
    assert_eq!(r.requests.total, 4, "{b}");
    assert_eq!(r.requests.by_class.get("timeout"), Some(&4), "{b}");
    assert_eq!(r.requests.retries_attempted, 2, "{b}");
    assert_eq!(r.requests.retries_exhausted, 2, "{b}");
    assert_eq!(
        r.iterations.failed_by_class.get("user"),
        Some(&2),
        "only timeouts were seen; {b}"
    );
    assert!(r.errors.iter().any(|e| e.class == "timeout"), "{b}");
    assert!(
        r.iteration_latency.summary.max_us < 900_000,
        "each attempt was cut at 100 ms; {b}"
    );
}

/// `.retries(0)` turns the test's three retries off for one request.
#[load_test(users = 1, iterations = 2, retries = 3, backoff = "1ms..5ms")]
async fn retries_overridden(ctx: &Ctx) -> Result<()> {
    let url = ctx.url(&format!("/flaky/1/{}", unique_key()));
    let first = ctx.http().get(url).retries(0).send().await?;
    if first.status() != 503 {
        return Err(format!("expected the unretried 503, got {}", first.status()).into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_can_override_the_retries() {
    let server = server().await;
    let r = run("retries_overridden", &server, &[]).await;
    let b = brief(&r);
    assert_eq!(r.iterations.ok, 2, "{b}");
    assert_eq!(server.requests_to("/flaky"), 2, "{b}");
    assert_eq!(r.requests.retries_attempted, 0, "{b}");
    assert_eq!(r.requests.retries_exhausted, 0, "{b}");
    assert_eq!(r.requests.by_status.get("503"), Some(&2), "{b}");
}
