//! The instrumented HTTP client behind `ctx.http()`: one shared reqwest connection pool per test,
//! every attempt measured and classified, retries with backoff, a global rate limit, and bounded
//! response bodies.

mod client;
mod error;
mod rate_limit;
mod request;
mod response;
pub(crate) mod retry;

pub use client::Http;
pub(crate) use client::new_client;
pub use error::HttpError;
pub(crate) use rate_limit::RateLimiter;
pub use request::Request;
pub use response::{BODY_LIMIT, Response};
