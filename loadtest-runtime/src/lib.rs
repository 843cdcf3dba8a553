//! What cargo-loadtest load tests link: the `#[load_test]` attribute, load models (closed and
//! open, with ramping stages), the executor, rate limiting, retries, HdrHistogram metrics,
//! thresholds, the instrumented HTTP client, the harness entry point and the report types.
//!
//! ```no_run
//! use loadtest_runtime::prelude::*;
//!
//! /// Closed model: 50 virtual users, each loops request -> think time.
//! #[load_test(users = 50, duration = "30s", think_time = "50ms")]
//! async fn browse(ctx: &Ctx) -> Result<()> {
//!     ctx.http().get(ctx.url("/")).send().await?.error_for_status()?;
//!     Ok(())
//! }
//!
//! loadtest_runtime::main!();
//! ```
//!
//! Put load tests in a test target with `harness = false` and run them with `cargo loadtest`;
//! `cargo test` smoke-runs each one (one user, three iterations).
//!
//! # Responsibilities and boundaries
//!
//! Responsible for: running load (executors for both load models, ramping, rate limiting,
//! retries), measuring it (per-worker HdrHistogram shards), the instrumented HTTP client, and
//! the harness entry point (libtest-compatible smoke runs and the machine interface). It fills
//! the report types of `loadtest-report` and evaluates thresholds with its verdict.
//!
//! Must never depend on: the `cargo loadtest` CLI, or anything only demos and tests need (the
//! demo server is its own crate; the bench recorder is behind the `bench` feature).
//!
//! # Where things live
//!
//! - [`load_test`], [`main!`], [`Ctx`]: writing tests; [`measure`]: any async operation
//!   measured like a request (`ctx.measure`); `ws` (feature `ws`): WebSocket connections;
//!   `grpc` (feature `grpc`): gRPC channels for tonic-generated clients.
//! - [`config`]: options, their precedence, and load models.
//! - [`report`], [`class`], [`protocol`], [`verdict`], [`redact`], [`metrics::hdr`]: re-exported from
//!   `loadtest-report`, the contract shared with `cargo loadtest`; [`grammar`]: re-exported from
//!   `loadtest-grammar`.
//! - [`RuntimeError`]: why a test could not run.
//!
//! # Features
//!
//! - `ws`: WebSocket connections, `Ctx::ws` (see the `ws` module): the handshake and each
//!   request/reply exchange recorded as requests, messages and bytes counted, close codes and
//!   protocol errors as classes. Off by default: it adds `tokio-tungstenite` to the build.
//! - `grpc`: gRPC channels, `Ctx::grpc` (see the `grpc` module): a virtual user's own HTTP/2
//!   connection for any tonic-generated client, every call recorded as a request under its
//!   method path with gRPC status classes, the messages of responses counted. Off by default; it
//!   adds no crate to the build (HTTP/2 is hyper's, which the HTTP client has).
//! - `otlp`: the harness exports each test's metrics over OTLP/HTTP when the run request asks
//!   for it (`cargo loadtest --otlp ENDPOINT`, which turns the feature on for its build). Off by
//!   default: it adds the `opentelemetry` crates to the build.

#![warn(missing_docs)]

pub mod config;
mod ctx;
mod errors;
mod executor;
#[cfg(feature = "grpc")]
pub mod grpc;
mod harness;
pub mod http;
pub mod measure;
pub mod metrics;
mod otlp;
mod outcome;
mod registry;
mod run;
mod shared;
#[cfg(feature = "ws")]
pub mod ws;

pub use loadtest_grammar as grammar;
pub use loadtest_report::{class, exemplar, live, protocol, redact, report, verdict};

pub use ctx::Ctx;
pub use errors::RuntimeError;
pub use harness::{
    Hooks, WORKER_THREADS_VAR, configured_target, harness_args, set_default_target, worker_threads,
};
pub use registry::{LoadTestDef, all as registered_tests};
pub use run::run_registered;

/// The error type of the prelude's [`Result`]: any error, boxed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `Result<T, Error>`: what load tests usually return.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// Everything a load test file needs: `use loadtest_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::http::{Event, HttpError, Response, StreamedResponse};
    pub use crate::{Ctx, Error, Result, load_test};
    pub use std::time::Duration;
}

/// Registers an `async fn(&Ctx) -> Result<(), E>` as a load test.
///
/// `E` may be any error type that implements `Display`: `anyhow::Error`,
/// `Box<dyn std::error::Error + Send + Sync>`, your own enum, or the prelude's [`Error`].
/// Options are checked at compile time; a bad value fails the build with the accepted forms.
/// Every option can be overridden by `loadtest.toml`, `LOADTEST_<OPTION>` variables and the
/// command line, in that order of precedence. With no option the test runs one user for 10 s.
///
/// ```no_run
/// use loadtest_runtime::prelude::*;
///
/// #[load_test(rate = "500/s", duration = "1m", max_in_flight = 200,
///             retries = 3, backoff = "100ms..5s",
///             thresholds = ["p99 < 250ms", "error_rate < 1%"])]
/// async fn checkout(ctx: &Ctx) -> Result<()> {
///     ctx.http().post(ctx.url("/checkout")).name("checkout").send().await?.error_for_status()?;
///     Ok(())
/// }
/// # loadtest_runtime::main!();
/// ```
///
/// ## `users`
/// Closed model: the number of virtual users, each looping iteration then think time
/// (`users = 50`). Cannot be combined with `rate`.
///
/// ## `think_time`
/// Closed model: the pause after each iteration, fixed (`"50ms"`) or drawn uniformly from a range
/// (`"50ms..150ms"`). Default: none.
///
/// ## `rate`
/// Open model: iterations started per time unit whatever the latency (`"500/s"`, `"30000/m"`,
/// `"10/h"`). Latency is measured from each iteration's intended start (coordinated-omission
/// correct); the uncorrected latency is reported beside it.
///
/// ## `max_in_flight`
/// Open model: the most iterations running at once. Default: 10,000.
///
/// ## `on_saturation`
/// Open model: what an iteration does when `max_in_flight` is reached. `"queue"` (default) starts
/// it late and measures its latency from its intended start, as wrk2 does; `"drop"` skips it and
/// counts it as dropped, as k6 does. Late (over 10 ms) and dropped starts are always counted.
///
/// ## `stages`
/// Ramping: `["30s:50", "1m:50", "10s:0"]` ramps users linearly from 0 to 50 over 30 s, holds
/// 50 for a minute, then ramps down; `["30s:500/s", "1m:500/s"]` ramps an arrival rate (open
/// model). The stages' durations add up to the test's duration.
///
/// ## `duration`
/// How long the test runs (`"30s"`, `"1m30s"`). Default: 10 s, unless `iterations` or `stages`
/// bound the test.
///
/// ## `iterations`
/// The total number of iterations across all users; the test ends when they are done (or its
/// duration ends, if both are given).
///
/// ## `rate_limit`
/// A global cap on HTTP requests per second across all users of the test (`"1000/s"`); each
/// request attempt, retries included, takes a slot.
///
/// ## `retries`
/// How many times a failed request is retried (default 0). A retried attempt is measured and
/// counted like any request; retries and exhausted retries are counted separately.
///
/// ## `backoff`
/// The delay before retry `n` is drawn uniformly from `[0, min(max, first * 2^n)]` (exponential
/// backoff with full jitter), written `"first..max"`. Default `"100ms..5s"`. A `Retry-After`
/// header (in seconds) replaces the drawn delay, capped at `max`.
///
/// ## `retry_on`
/// What is retried: any of `"connect"`, `"timeout"`, `"5xx"`, `"4xx"` or a status code such as
/// `"429"`. Default `["connect", "timeout", "5xx", "429"]`.
///
/// ## `timeout`
/// The per-request timeout, covering the whole response body (default `"30s"`).
///
/// ## `iteration_timeout`
/// A timeout for a whole iteration; an iteration that exceeds it fails with class `timeout`.
///
/// ## `slo`
/// An objective for an iteration's latency (`slo = "500ms"`): the report counts **goodput**, the
/// successful iterations whose own latency (from the intended start in the open model) was at
/// most it, in total and per second beside the throughput. Default: none (no goodput).
///
/// ## `thresholds`
/// Pass/fail rules checked at the end: `METRIC[(NAME)] OP VALUE`, where METRIC is `p50`, `p90`,
/// `p95`, `p99`, `p99.9` (any `pNN`), `mean`, `min`, `max` (VALUE a duration), `error_rate`
/// (a percentage or fraction), `rps`, `iterations`, `requests`, `dropped`, `late` or `failed`
/// (a number); OP is `<`, `<=`, `>`, `>=`, `==` or `!=`. Without a NAME, latency rules apply to
/// the whole iteration; with one, to the requests (or custom metric) of that name. A test with no
/// `error_rate` rule fails if any iteration failed.
///
/// ## `abort_on_fail`
/// `true` stops the test at the first one-second check where an explicit threshold fails.
///
/// ## `tags`
/// Free labels for filtering with `cargo loadtest --tag NAME`.
///
/// ## `target`
/// The base URL `ctx.url(path)` joins onto, when neither `--target` nor `LOADTEST_TARGET` set one.
///
/// ## `danger_accept_invalid_certs`
/// `true` accepts invalid TLS certificates (self-signed, expired, another host's). Certificates
/// are verified by default (rustls with the Mozilla root store); a failed verification is a
/// request error of class `tls`. Reports record that verification was off.
///
/// ## `client`
/// The HTTP transport: `"native"` (the default: each virtual user owns its connections and
/// exchanges HTTP/1.1 on them in place, one write per request, the response parsed where it was
/// read; HTTP/2 through hyper when negotiated; phase timings), `"hyper"` (the same connections
/// driven by hyper's HTTP/1.1 client) or `"reqwest"` (reqwest's pooled client; proxies from
/// `HTTP_PROXY`/`HTTPS_PROXY`). All three classify errors the same way.
///
/// ## `cookies`
/// `false` turns off the cookie jar each virtual user keeps (default `true`).
///
/// ## `local_addresses`
/// Source addresses connections are opened from, round-robin (native and hyper transports):
/// addresses or CIDR blocks, e.g. `["127.0.0.2", "127.0.0.3"]` or `["127.0.0.0/30"]`.
///
/// ## `trace`
/// W3C trace context on every request: `"on"` (the default: a `traceparent` per request, one
/// trace id per iteration, a span id per attempt), `"propagate"` (the same ids, the sampled flag
/// never set) or `"off"` (no trace header). A request with its own `traceparent` header keeps
/// it. Each request name's slowest requests are reported with their trace ids (exemplars).
///
/// ## `trace_sample`
/// The share of iterations whose `traceparent` has the sampled flag set, from `"0"` to `"1"` or
/// as a percentage, `"1%"` (default `"1"`: every iteration).
///
/// ## `tolerance`
/// Regression tolerances for the baseline gate, per metric: `["p99=20%", "error_rate=0.5%"]`.
/// Metrics: `p50`, `p95`, `p99`, `throughput` (relative changes) and `error_rate` (percentage
/// points); the latency metrics also take an absolute floor, `"p50=100us"`, that a change must
/// exceed as well. A change is a regression only when its whole 95% interval lies beyond the
/// tolerance. Saved-baseline defaults: p50 5%, p95 15%, p99 25%, throughput 10%, error_rate 1
/// point; floors p50 250 µs, p95 500 µs, p99 1 ms.
pub use loadtest_macros::load_test;

/// Defines the harness's `main`: one current-thread tokio runtime per worker thread (each with its
/// share of the load) for every load test of
/// the binary, libtest-compatible listing for `cargo test` / nextest, and the machine interface
/// for `cargo loadtest`.
///
/// - `main!()`: no hooks.
/// - `main!(setup = start)`: `async fn start() -> Result<T, E>` runs once before the first test;
///   tests read its value with [`Ctx::setup`]. It can start a server and call
///   [`set_default_target`], or log in and keep a token. A failure stops the binary with an error
///   naming the hook.
/// - `main!(setup = start, teardown = stop)`: `async fn stop(value: Arc<T>) -> Result<(), E>`
///   runs once after the last test.
/// - `main!(shared_setup = start)` and `main!(shared_setup = start, teardown = stop)`: the same,
///   for a hook whose value `T` implements `serde::Serialize + serde::de::DeserializeOwned + Send
///   + Sync + 'static`. Each process still runs it, unless the run is given a setup file: then
///   `cargo loadtest setup --setup-file F` runs the hook once for the whole scale-out run and
///   writes its value (as JSON) to F, every shard run with `--setup-file F` reads the value
///   instead of running the hook and does not run the teardown hook, and
///   `cargo loadtest teardown --setup-file F` runs the teardown hook once, after the merge.
///   Use it for setups that create something the whole run shares (accounts, tokens); keep
///   `setup` for setups each process needs its own of (a server it starts).
///
/// ```no_run
/// use loadtest_runtime::prelude::*;
/// use std::sync::Arc;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Account {
///     token: String,
/// }
///
/// async fn sign_up() -> Result<Account> {
///     Ok(Account { token: "t-1".into() }) // e.g. POST /accounts on the system under test
/// }
///
/// async fn close(account: Arc<Account>) -> Result<()> {
///     let _ = &account.token; // e.g. DELETE /accounts/{id}
///     Ok(())
/// }
///
/// #[load_test(users = 10, duration = "30s")]
/// async fn browse(ctx: &Ctx) -> Result<()> {
///     let account = ctx.setup::<Account>().ok_or("no account")?;
///     ctx.http().get(ctx.url("/")).bearer_auth(&account.token).send().await?;
///     Ok(())
/// }
///
/// loadtest_runtime::main!(shared_setup = sign_up, teardown = close);
/// ```
#[macro_export]
macro_rules! main {
    () => {
        fn main() {
            $crate::__private::run_main($crate::Hooks::none())
        }
    };
    (setup = $setup:path $(,)?) => {
        fn main() {
            $crate::__private::run_main($crate::Hooks::with_setup(
                ::core::stringify!($setup),
                $setup,
            ))
        }
    };
    (setup = $setup:path, teardown = $teardown:path $(,)?) => {
        fn main() {
            $crate::__private::run_main(
                $crate::Hooks::with_setup(::core::stringify!($setup), $setup)
                    .teardown(::core::stringify!($teardown), $teardown),
            )
        }
    };
    (shared_setup = $setup:path $(,)?) => {
        fn main() {
            $crate::__private::run_main($crate::Hooks::with_shared_setup(
                ::core::stringify!($setup),
                $setup,
            ))
        }
    };
    (shared_setup = $setup:path, teardown = $teardown:path $(,)?) => {
        fn main() {
            $crate::__private::run_main(
                $crate::Hooks::with_shared_setup(::core::stringify!($setup), $setup)
                    .teardown(::core::stringify!($teardown), $teardown),
            )
        }
    };
}

/// What the `#[load_test]` expansion and `main!` use. Not part of the stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::config::OptionValue;
    pub use crate::harness::run_main;
    pub use crate::registry::{IntoOutcome, IterationError, IterationFuture, LoadTestDef};
    pub use inventory;

    #[cfg(feature = "bench")]
    pub use bench::BenchRecorder;

    /// Only with the `fuzzing` feature (for the fuzz target under `fuzz/`).
    #[cfg(feature = "fuzzing")]
    pub use crate::http::fuzz_response;

    /// Only with the `bench` feature (for `benches/hot_path.rs`): never compiled into users'
    /// harnesses.
    #[cfg(feature = "bench")]
    mod bench {
        use crate::metrics::{Metrics, RequestClass};
        use std::sync::Arc;

        /// The hot-path recording, for `benches/hot_path.rs`: a test's metrics registry, recorded
        /// into through the calling thread's shard exactly as the executor and the HTTP client do.
        pub struct BenchRecorder(Arc<Metrics>);

        impl Default for BenchRecorder {
            fn default() -> Self {
                Self::new()
            }
        }

        impl BenchRecorder {
            /// A new, empty registry (its own shards).
            pub fn new() -> Self {
                BenchRecorder(Metrics::new())
            }

            /// Records one successful iteration of `us` microseconds (corrected = uncorrected).
            #[inline]
            pub fn record_iteration(&self, us: u64) {
                self.0.with(|s| s.iteration(us, Some(us), None));
            }

            /// Records one successful (200) request named `name` of `us` microseconds.
            #[inline]
            pub fn record_request(&self, name: &str, us: u64) {
                self.0
                    .with(|s| s.request(name, RequestClass::Ok, Some(200), us, 0, 0));
            }

            /// The iterations and requests recorded so far (all shards merged).
            pub fn totals(&self) -> (u64, u64) {
                let merged = self.0.merged();
                (merged.completed(), merged.request_counts().0)
            }
        }
    }
}
