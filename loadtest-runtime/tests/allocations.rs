//! Heap allocations per request on the default transport, counted by a counting global allocator
//! (a count, not a time: it does not depend on how busy the machine is).
//!
//! A closed-model test sends N requests per iteration, then 2N, to a URL built once, over the
//! same number of iterations; everything a run costs once (its runtime, metrics, connection,
//! buffers) is the same in both runs, so the difference divided by the extra requests is what
//! one request allocates in steady state. The server answers from threads whose allocations are
//! not counted.
//!
//! `cargo test -p loadtest-runtime --test allocations -- --nocapture` prints the figures.

use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on the server's threads: their allocations are not the generator's.
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn count() {
    // `try_with`: a thread being torn down has no thread-locals left, and is counted.
    if !UNCOUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The tests of this binary share the counter, the URL and the requests per iteration: they
/// run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Requests per iteration of the current run.
static PER_ITERATION: AtomicUsize = AtomicUsize::new(1);
/// The URL every request goes to, built once per server.
static URL: Mutex<&'static str> = Mutex::new("");

#[load_test]
async fn repeat(ctx: &Ctx) -> Result<()> {
    let url: &str = *URL.lock().unwrap_or_else(PoisonError::into_inner);
    for _ in 0..PER_ITERATION.load(Ordering::Relaxed) {
        ctx.http().get(url).send().await?.error_for_status()?;
    }
    Ok(())
}

/// `ctx.measure` around an operation that is ready at once: what measuring and recording an
/// operation costs, on the path every request takes too.
#[load_test]
async fn measured(ctx: &Ctx) -> Result<()> {
    for _ in 0..PER_ITERATION.load(Ordering::Relaxed) {
        ctx.measure("ready", || std::future::ready(Ok::<u64, std::io::Error>(7)))
            .await?;
    }
    Ok(())
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 whose every answer is `response`, on threads whose
/// allocations are not counted. It serves until the test process ends.
fn server(response: &'static [u8]) -> &'static str {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        UNCOUNTED.with(|u| u.set(true));
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                UNCOUNTED.with(|u| u.set(true));
                let _ = conn.set_nodelay(true);
                let mut buf = [0u8; 4096];
                let mut pending = Vec::with_capacity(8192);
                loop {
                    let n = match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    pending.extend_from_slice(&buf[..n]);
                    // Bodiless requests: one answer per blank line that ends a head.
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if conn.write_all(response).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Box::leak(format!("http://{addr}/items/1").into_boxed_str())
}

/// Runs `repeat` over `iterations` iterations of `per_iteration` requests; returns the
/// allocations the run made.
async fn allocations_of(per_iteration: usize, iterations: u64) -> u64 {
    allocations_on("native", per_iteration, iterations).await
}

/// The same on the transport `client`.
async fn allocations_on(client: &str, per_iteration: usize, iterations: u64) -> u64 {
    allocations_traced(client, None, per_iteration, iterations).await
}

/// The same with the `trace` option set to `trace` (the default when `None`).
async fn allocations_traced(
    client: &str,
    trace: Option<&str>,
    per_iteration: usize,
    iterations: u64,
) -> u64 {
    PER_ITERATION.store(per_iteration, Ordering::Relaxed);
    let mut layer = OptionLayer::new("test");
    layer.set_str("client", client);
    if let Some(t) = trace {
        layer.set_str("trace", t);
    }
    layer.set_str("users", "1");
    layer.set_str("iterations", &iterations.to_string());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let result = loadtest_runtime::run_registered("repeat", &[layer])
        .await
        .expect("the test runs");
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(
        result.iterations.ok, iterations,
        "every iteration succeeded: {:?}",
        result.errors
    );
    assert_eq!(
        result.requests.total,
        iterations * per_iteration as u64,
        "every request was sent"
    );
    after - before
}

/// The steady-state allocations per request, from runs of N and 2N requests per iteration.
async fn per_request(n: usize, iterations: u64) -> (u64, u64, f64) {
    // A first run warms what is made once per process (thread-locals, the URL cache).
    allocations_of(n, iterations).await;
    let one = allocations_of(n, iterations).await;
    let two = allocations_of(2 * n, iterations).await;
    let extra_requests = iterations * n as u64;
    (
        one,
        two,
        two.saturating_sub(one) as f64 / extra_requests as f64,
    )
}

#[tokio::test]
async fn a_request_allocates_nothing_in_steady_state() {
    let _alone = ONE_AT_A_TIME.lock().await;
    const N: usize = 10;
    const ITERATIONS: u64 = 200;
    let extra = ITERATIONS * N as u64;

    *URL.lock().unwrap() = server(b"HTTP/1.1 204 No Content\r\n\r\n");
    let (one, two, per) = per_request(N, ITERATIONS).await;
    eprintln!(
        "bodiless GET: {one} allocations for {extra} requests, {two} for {}: {per:.4} per request",
        2 * extra
    );
    // One request per iteration, for the note: what an iteration costs on top of its request.
    let single = allocations_of(1, ITERATIONS).await;
    eprintln!(
        "one-request iterations: {single} allocations for {ITERATIONS} iterations ({:.2} each, the run's set-up included)",
        single as f64 / ITERATIONS as f64
    );
    // Fewer than one allocation per hundred extra requests: the few more a longer run makes
    // (a histogram growing to a new maximum, a second's tick) are not per request.
    assert!(
        two.saturating_sub(one) * 100 < extra,
        "a bodiless GET allocates {per:.4} times per request in steady state ({one} vs {two})"
    );

    // For comparison (printed, not asserted): hyper's HTTP/1.1 client on the same connections,
    // the default transport before the native exchange.
    allocations_on("hyper", N, ITERATIONS).await;
    let one = allocations_on("hyper", N, ITERATIONS).await;
    let two = allocations_on("hyper", 2 * N, ITERATIONS).await;
    eprintln!(
        "bodiless GET on client = \"hyper\": {:.2} per request ({one} vs {two})",
        two.saturating_sub(one) as f64 / extra as f64
    );

    // A response with a body: at most one allocation per request (the body is split off the
    // read buffer uncopied, so none is expected).
    *URL.lock().unwrap() = server(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello world!");
    let (one, two, per) = per_request(N, ITERATIONS).await;
    eprintln!("GET with a 12-byte body: {one} vs {two}: {per:.4} per request");
    assert!(
        two.saturating_sub(one) * 100 < extra * 101,
        "a GET with a body allocates {per:.4} times per request in steady state ({one} vs {two})"
    );
}

/// Trace context costs no allocation: with `trace = "off"` a request allocates nothing in steady
/// state, as before trace context existed, and with `"on"` (a `traceparent` written into the
/// connection's buffer, the iteration's trace id drawn from the thread's generator) neither.
#[tokio::test]
async fn trace_context_on_or_off_allocates_nothing_per_request() {
    let _alone = ONE_AT_A_TIME.lock().await;
    const N: usize = 10;
    const ITERATIONS: u64 = 200;
    let extra = ITERATIONS * N as u64;
    *URL.lock().unwrap() = server(b"HTTP/1.1 204 No Content\r\n\r\n");
    for trace in ["off", "on"] {
        allocations_traced("native", Some(trace), N, ITERATIONS).await;
        let one = allocations_traced("native", Some(trace), N, ITERATIONS).await;
        let two = allocations_traced("native", Some(trace), 2 * N, ITERATIONS).await;
        let per = two.saturating_sub(one) as f64 / extra as f64;
        eprintln!(
            "bodiless GET, trace = {trace:?}: {per:.4} allocations per request ({one} vs {two})"
        );
        assert!(
            two.saturating_sub(one) * 100 < extra,
            "with trace = {trace:?} a bodiless GET allocates {per:.4} times per request in steady state ({one} vs {two})"
        );
    }
}

/// Runs `measured` with `per_iteration` operations per iteration; returns its allocations.
async fn measured_allocations(per_iteration: usize, iterations: u64) -> u64 {
    PER_ITERATION.store(per_iteration, Ordering::Relaxed);
    let mut layer = OptionLayer::new("test");
    layer.set_str("users", "1");
    layer.set_str("iterations", &iterations.to_string());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let result = loadtest_runtime::run_registered("measured", &[layer])
        .await
        .expect("the test runs");
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(result.iterations.ok, iterations, "{:?}", result.errors);
    assert_eq!(
        result.request_names["ready"].count,
        iterations * per_iteration as u64,
        "every operation was recorded as a request"
    );
    after - before
}

/// A measured operation that succeeds allocates nothing in steady state: it is timed and
/// recorded into its name's entry as a request is, and an error sample is built only on failure.
#[tokio::test]
async fn a_measured_operation_allocates_nothing_in_steady_state() {
    let _alone = ONE_AT_A_TIME.lock().await;
    const N: usize = 10;
    const ITERATIONS: u64 = 200;
    let extra = ITERATIONS * N as u64;
    measured_allocations(N, ITERATIONS).await;
    let one = measured_allocations(N, ITERATIONS).await;
    let two = measured_allocations(2 * N, ITERATIONS).await;
    let per = two.saturating_sub(one) as f64 / extra as f64;
    eprintln!(
        "ctx.measure of a ready operation: {per:.4} allocations per operation ({one} vs {two})"
    );
    assert!(
        two.saturating_sub(one) * 100 < extra,
        "a measured operation allocates {per:.4} times per operation in steady state ({one} vs {two})"
    );
}
