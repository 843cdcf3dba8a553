//! `Ctx`: what a load test function receives. The HTTP client, the target URL, who and which
//! iteration this is, custom metrics, a retry helper, per-user state and the setup hook's output.

use crate::http::cookies::JarCell;
use crate::http::deadline::UserTimer;
use crate::http::{ConnSet, Http, retry};
use crate::measure::Operation;
use crate::shared::TestShared;
use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The context of one iteration of a load test.
///
/// In the closed model each virtual user keeps its `Ctx` (and its [`Ctx::with_state`] state)
/// across iterations; in the open model every iteration gets a fresh one.
pub struct Ctx {
    pub(crate) shared: Arc<TestShared>,
    pub(crate) user: u64,
    pub(crate) iteration: u64,
    state: Mutex<Option<Box<dyn Any + Send>>>,
    /// This user's connections (native and hyper transports, closed model); `None` when its requests use
    /// the worker thread's set (open model).
    pub(crate) conns: Option<Mutex<ConnSet>>,
    /// This user's cookies.
    pub(crate) jar: JarCell,
    /// This user's request timer (see `http::deadline`).
    pub(crate) timer: UserTimer,
    /// The current iteration's trace (`None` when requests carry no trace context).
    pub(crate) trace: Option<crate::http::trace_context::IterationTrace>,
}

impl Ctx {
    /// A closed-model user, owning its connections.
    pub(crate) fn new(shared: Arc<TestShared>, user: u64) -> Ctx {
        Ctx {
            trace: shared.trace.iteration(),
            shared,
            user,
            iteration: 0,
            state: Mutex::new(None),
            conns: Some(Mutex::default()),
            jar: JarCell::default(),
            timer: UserTimer::default(),
        }
    }

    /// An open-model iteration: its requests use the worker thread's connections, and the
    /// request timer of the slot that runs it (given back with [`Ctx::into_timer`]).
    pub(crate) fn for_iteration(shared: Arc<TestShared>, k: u64, timer: UserTimer) -> Ctx {
        Ctx {
            trace: shared.trace.iteration(),
            shared,
            user: k,
            iteration: k,
            state: Mutex::new(None),
            conns: None,
            jar: JarCell::default(),
            timer,
        }
    }

    /// The request timer, for the next iteration of the same slot.
    pub(crate) fn into_timer(self) -> UserTimer {
        self.timer
    }

    /// The instrumented HTTP client. On the default transport a closed-model user's requests go
    /// over connections it owns (kept between iterations); see `client` in the README.
    pub fn http(&self) -> Http<'_> {
        Http { ctx: self }
    }

    /// The target base URL joined with `path`: `ctx.url("/users")`.
    ///
    /// The target comes from `--target`, `LOADTEST_TARGET`, `loadtest.toml`, the attribute's
    /// `target = "..."`, or a default set by the setup hook, in that order.
    ///
    /// # Panics
    ///
    /// When no target is configured. The panic fails the iteration (it is caught) with a message
    /// saying how to configure one.
    pub fn url(&self, path: &str) -> String {
        let Some(base) = self.target() else {
            panic!(
                "no target configured for load test `{}`: pass --target URL, set LOADTEST_TARGET, or add target = \"http://...\" to #[load_test]",
                self.shared.name
            );
        };
        let base = base.trim_end_matches('/');
        // Joined by hand: `format!` costs several times the copy, and tests call this per request.
        let mut url = String::with_capacity(base.len() + 1 + path.len());
        url.push_str(base);
        if !path.is_empty() && !path.starts_with('/') {
            url.push('/');
        }
        url.push_str(path);
        url
    }

    /// The target base URL, if one is configured.
    pub fn target(&self) -> Option<&str> {
        self.shared.base_url.as_deref()
    }

    /// The virtual user's number (closed model), or the iteration's global number (open model,
    /// where every iteration is its own short-lived user), from 0.
    pub fn user(&self) -> u64 {
        self.user
    }

    /// The iteration's number for this user (closed model), or its global number (open model).
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The load test's name.
    pub fn test_name(&self) -> &str {
        &self.shared.name
    }

    /// Runs an async operation and records it as a request named `name`: every attempt's latency
    /// in the name's HdrHistogram, its outcome class (`ok`, or read from the error: `timeout`,
    /// `connect`, `closed` for I/O errors of those kinds, `error` for the operation's own), an
    /// error sample (`name: Type: message`, bounded, secrets redacted), retried with the test's
    /// `retries` and `backoff`. It shows up wherever requests do: `p99(name)`,
    /// `error_rate(name)`, the per-name table and every report. `op` makes one attempt's future.
    /// See [`crate::measure`]; [`Ctx::operation`] sets retries for one operation.
    ///
    /// ```no_run
    /// use loadtest_runtime::prelude::*;
    ///
    /// async fn get(key: u64) -> std::io::Result<String> {
    ///     Ok(format!("value of {key}"))
    /// }
    ///
    /// #[load_test(users = 10, retries = 2, thresholds = ["p99(db.get) < 5ms", "error_rate(db.get) < 1%"])]
    /// async fn lookups(ctx: &Ctx) -> Result<()> {
    ///     let value = ctx.measure("db.get", || get(ctx.iteration())).await?;
    ///     assert!(!value.is_empty());
    ///     Ok(())
    /// }
    /// # loadtest_runtime::main!();
    /// ```
    pub async fn measure<T, E, F, Fut>(&self, name: &str, op: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display + 'static,
    {
        self.operation(name).run(op).await
    }

    /// Opens a WebSocket connection to `url` (`ws://` or `wss://`; `http://` and `https://` are
    /// taken as `ws://` and `wss://`, so `ctx.ws(ctx.url("/chat"))` connects to the target),
    /// feature `ws`. Its handshake is
    /// recorded as a request named `ws.connect` (`NAME.connect` after
    /// [`.name(NAME)`](crate::ws::WsConnect::name)), bounded by the test's request `timeout`; the
    /// connection counts the messages and bytes it sends and receives, and
    /// [`request`](crate::ws::WebSocket::request) times a message to the reply that matches it,
    /// as a request under its own name. Close codes and protocol errors are classes
    /// (`ws_close_normal`, `ws_close_error`, `ws_protocol`). See [`crate::ws`].
    ///
    /// ```no_run
    /// use loadtest_runtime::prelude::*;
    ///
    /// #[load_test(users = 10, thresholds = ["p99(chat.echo) < 50ms"])]
    /// async fn chat(ctx: &Ctx) -> Result<()> {
    ///     let mut ws = ctx.ws(ctx.url("/chat")).name("chat").await?;
    ///     let id = format!("{}-{}", ctx.user(), ctx.iteration());
    ///     ws.request("chat.echo", id.as_str(), |reply| reply.to_text().is_ok_and(|t| t == id))
    ///         .await?;
    ///     ws.close().await?;
    ///     Ok(())
    /// }
    /// # loadtest_runtime::main!();
    /// ```
    #[cfg(feature = "ws")]
    pub fn ws(&self, url: impl Into<String>) -> crate::ws::WsConnect<'_> {
        crate::ws::WsConnect::new(self, url.into())
    }

    /// A gRPC channel to `url` for a tonic-generated client, feature `grpc`: `http://` (HTTP/2
    /// with prior knowledge) or `https://` (TLS with the test's TLS settings). Awaiting it makes
    /// the user's own HTTP/2 connection, recorded as a request named `grpc.connect`
    /// (`NAME.connect` after [`.name(NAME)`](crate::grpc::GrpcConnect::name)) and bounded by
    /// the test's request `timeout`. Every call through the channel is recorded as a request
    /// under its method path (`/shop.Cart/AddItem`), its class `ok` or the gRPC status's
    /// (`grpc_unavailable`, `grpc_deadline_exceeded`...), its messages counted in
    /// `PATH.messages_received`. Calls are not retried. See [`crate::grpc`].
    ///
    /// ```no_run
    /// use loadtest_runtime::prelude::*;
    /// # use loadtest_grpc_fixture::shop;
    /// // The client tonic generated from shop.proto.
    /// use shop::{AddItemRequest, cart_client::CartClient};
    ///
    /// #[load_test(users = 10, thresholds = ["p99(/shop.Cart/AddItem) < 50ms"])]
    /// async fn cart(ctx: &Ctx) -> Result<()> {
    ///     let mut cart = CartClient::new(ctx.grpc(ctx.url("/")).await?);
    ///     let item = AddItemRequest {
    ///         sku: "sku-1".into(),
    ///         quantity: 1,
    ///     };
    ///     cart.add_item(item).await?;
    ///     Ok(())
    /// }
    /// # loadtest_runtime::main!();
    /// ```
    #[cfg(feature = "grpc")]
    pub fn grpc(&self, url: impl Into<String>) -> crate::grpc::GrpcConnect<'_> {
        crate::grpc::GrpcConnect::new(self, url.into())
    }

    /// The recording of [`Ctx::grpc`]'s channel as a tower layer, feature `grpc`, for a channel
    /// the test makes itself (tonic's `Channel`, say): every call through
    /// `layer.layer(channel)` is recorded as a request under its method path, with gRPC status
    /// classes, bounded by the test's request `timeout`.
    #[cfg(feature = "grpc")]
    pub fn grpc_layer(&self) -> crate::grpc::GrpcLayer {
        crate::grpc::GrpcLayer::new(self)
    }

    /// An operation named `name` to measure as [`Ctx::measure`] does, with its own retries
    /// ([`Operation::retries`]) or a choice of which errors are retried ([`Operation::retry_if`]).
    pub fn operation<'a>(&'a self, name: &'a str) -> Operation<'a> {
        Operation::new(self, name)
    }

    /// Records a custom latency under `name` (reported beside the request latencies, usable in
    /// thresholds as `p95(name) < 10ms`).
    ///
    /// A custom latency has no outcome: it is neither counted as a request nor in an error rate.
    /// To time an operation that can fail, and have it counted, classified and retried as a
    /// request, use [`Ctx::measure`].
    pub fn record(&self, name: &str, duration: Duration) {
        let us = duration.as_micros() as u64;
        self.shared.metrics.with(|s| s.custom(name, us));
    }

    /// Adds `n` to the custom counter `name`.
    pub fn count(&self, name: &str, n: u64) {
        self.shared.metrics.with(|s| s.count(name, n));
    }

    /// Runs a non-HTTP operation with the test's retry policy: up to `retries` more attempts on
    /// any error, with exponential backoff and full jitter. `op` receives the attempt number.
    pub async fn retry<T, E, F, Fut>(&self, mut op: F) -> Result<T, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let policy = &self.shared.retry;
        let mut attempt = 0;
        loop {
            match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) if attempt >= policy.retries => {
                    if policy.retries > 0 {
                        self.shared.metrics.with(|s| s.retries_exhausted += 1);
                    }
                    return Err(e);
                }
                Err(_) => {
                    self.shared.metrics.with(|s| s.retries_attempted += 1);
                    tokio::time::sleep(retry::retry_delay(policy, attempt, None)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Pauses this virtual user for `duration` inside the iteration, as a person reading a page
    /// between two requests (tests generated from a HAR recording replay its pauses with it).
    /// The pause counts in the iteration's latency, never in a request's.
    pub async fn think(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    /// Runs `f` on this user's state of type `T`, created with `T::default()` on first use.
    /// State lives as long as the virtual user (closed model) or the iteration (open model).
    pub fn with_state<T: Default + Send + 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut slot = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !slot.as_ref().is_some_and(|b| b.is::<T>()) {
            *slot = Some(Box::new(T::default()));
        }
        let state = slot
            .as_mut()
            .and_then(|b| b.downcast_mut::<T>())
            .expect("state of type T was just stored");
        f(state)
    }

    /// The value returned by the binary's setup hook (`main!(setup = ...)`), if it is a `T`.
    pub fn setup<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.shared
            .setup
            .as_deref()
            .and_then(|s| s.downcast_ref::<T>())
    }
}
