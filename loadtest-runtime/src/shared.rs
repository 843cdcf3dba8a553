//! What every virtual user of one test shares ([`TestShared`]): the transport, the metrics, the
//! retry policy, timeout and rate limiter, the setup value, the secrets to redact. Apart from
//! `ctx` so that the transports and recorders beside it (`ws`, `grpc`, `measure`, `outcome`)
//! take it without taking `Ctx`, which offers them.

use crate::config::RetryPolicy;
use crate::http::{RateLimiter, Transport};
use crate::metrics::Metrics;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

/// What every virtual user of one test shares.
pub(crate) struct TestShared {
    pub(crate) name: String,
    /// Tells this test's open-model thread sets apart from other tests' (see `http::direct`).
    pub(crate) id: u64,
    pub(crate) client: Transport,
    /// Whether users keep a cookie jar.
    pub(crate) cookies: bool,
    pub(crate) base_url: Option<String>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
    pub(crate) limiter: Option<RateLimiter>,
    pub(crate) setup: Option<Arc<dyn Any + Send + Sync>>,
    /// Values that must never appear in a report (redacted from error messages).
    pub(crate) secrets: &'static crate::redact::Secrets,
    /// Users and in-flight iterations, for live metrics.
    pub(crate) gauges: crate::executor::LiveGauges,
    /// The generator's scheduling lag and late starts count only for iterations meant to start
    /// this long after the test's start (see `protocol::TestRequest::health_warm_up_s`).
    pub(crate) health_warm_up: Duration,
    /// Whether and how requests carry W3C trace context.
    pub(crate) trace: crate::http::trace_context::TraceSettings,
    /// `danger_accept_invalid_certs`, for WebSocket connections over TLS (`wss://`) and gRPC
    /// channels over TLS (`https://`).
    #[cfg(any(feature = "ws", feature = "grpc"))]
    pub(crate) accept_invalid_certs: bool,
}
