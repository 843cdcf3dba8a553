//! The instrumented HTTP client behind `ctx.http()`: three transports under one API (connections
//! owned by each user, HTTP/1.1 exchanged natively, the default, or by hyper; or reqwest's pooled
//! client), every attempt measured and classified, retries with backoff, a global rate limit, a
//! per-request timeout without a timer per request, a cookie jar per user and bounded response
//! bodies, and W3C trace context on every request.

mod client;
pub(crate) mod cookies;
pub(crate) mod deadline;
pub(crate) mod direct;
mod error;
mod parsed_url;
mod rate_limit;
mod request;
mod response;
pub(crate) mod retry;
mod sse;
mod streamed;
pub(crate) mod trace_context;

pub use client::Http;
pub(crate) use client::{Transport, new_transport, proxy_variables};
pub(crate) use direct::ConnSet;
pub use error::HttpError;
pub(crate) use rate_limit::RateLimiter;
pub use request::Request;
pub use response::{BODY_LIMIT, Response};
pub use sse::Event;
pub use streamed::StreamedResponse;

#[cfg(feature = "fuzzing")]
pub use direct::fuzz_response;
