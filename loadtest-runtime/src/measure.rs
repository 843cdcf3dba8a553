//! `ctx.measure(name, op)`: any async operation measured like an HTTP request.
//!
//! A database query, a cache lookup, a message sent to a queue: an operation whose future returns
//! a `Result` is timed attempt by attempt and recorded in the very recorder `ctx.http()` uses, as
//! a request under its name. So it is everywhere a request is, with nothing else to wire: the
//! per-name latency HdrHistogram and counts, thresholds (`p99(db.get) < 5ms`,
//! `error_rate(db.get) < 1%`), the terminal's per-name table, JSON, JUnit, Markdown, HTML, CSV,
//! interval logs, live metrics, the merge of shards, and the cap on distinct names
//! (`max_names`, with the `(overflow)` entry).
//!
//! What an attempt records:
//!
//! - its latency, from the call of `op` to its future's end: each attempt apart, as each HTTP
//!   attempt is (the backoff between attempts is in neither). Coordinated omission is handled as
//!   for requests: the open model measures the *iteration* from its intended start; a request or
//!   an operation is measured from when it really started;
//! - its outcome class: `ok`, or a class read from the error: `timeout`,
//!   `connect` and `closed` for an `std::io::Error` of those kinds (also found inside a boxed
//!   error's source chain) or tokio's `Elapsed`, an [`HttpError`]'s own class, and otherwise
//!   `error`, the class of an operation's own failure;
//! - for a failure, one error sample: `name: Type: message`, the type shortened (`io::Error`,
//!   `DbError`), the message cut at [`MESSAGE_LIMIT`] bytes, URL credentials and the test's
//!   secrets redacted, counted with the other samples (bounded in distinct messages).
//!
//! Retries follow the test's policy: up to `retries` more attempts (or [`Operation::retries`]),
//! waiting the backoff the HTTP client waits (exponential, full jitter, `backoff = "min..max"`),
//! counted in `retries_attempted` and `retries_exhausted`. Every failed attempt is retried
//! unless [`Operation::retry_if`] says otherwise; the test's `retry_on` lists HTTP outcomes and
//! does not apply. An operation is neither rate-limited (`rate_limit` paces HTTP requests) nor
//! cut off by the request `timeout` (the operation's own future decides when it gives up: wrap it
//! in `tokio::time::timeout` and its `Elapsed`, or the `io::Error` it converts to, is a
//! `timeout`).

use crate::Ctx;
use crate::http::{HttpError, retry};
use crate::metrics::RequestClass;
pub use crate::outcome::MESSAGE_LIMIT;
use crate::outcome::{io_class, record, sample};
use std::any::Any;
use std::error::Error as StdError;
use std::fmt::Display;
use std::future::Future;
use tokio::time::Instant;

/// A named operation to measure, from [`Ctx::operation`]: set how it is retried, then
/// [`Operation::run`] it.
///
/// ```no_run
/// # use loadtest_runtime::prelude::*;
/// # #[load_test]
/// # async fn t(ctx: &Ctx) -> Result<()> {
/// # async fn get(k: u64) -> std::io::Result<String> { Ok(String::new()) }
/// let value = ctx
///     .operation("db.get")
///     .retries(2)
///     .retry_if(|e: &std::io::Error| e.kind() != std::io::ErrorKind::NotFound)
///     .run(|| get(42))
///     .await?;
/// # Ok(())
/// # }
/// # loadtest_runtime::main!();
/// ```
#[must_use = "an operation does nothing until it is run"]
pub struct Operation<'a, R = AnyError> {
    ctx: &'a Ctx,
    name: &'a str,
    retries: Option<u32>,
    retry_if: R,
}

/// Which failed attempts of an operation are retried (see [`Operation::retry_if`]).
pub trait RetryIf<E> {
    /// Whether an attempt that failed with `error` may be retried.
    fn retry(&self, error: &E) -> bool;
}

/// Retries every failed attempt: an [`Operation`]'s default.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyError;

impl<E> RetryIf<E> for AnyError {
    fn retry(&self, _: &E) -> bool {
        true
    }
}

/// Retries the failed attempts a predicate accepts (from [`Operation::retry_if`]).
#[derive(Clone, Copy, Debug)]
pub struct When<P>(P);

impl<E, P: Fn(&E) -> bool> RetryIf<E> for When<P> {
    fn retry(&self, error: &E) -> bool {
        (self.0)(error)
    }
}

impl<'a> Operation<'a> {
    pub(crate) fn new(ctx: &'a Ctx, name: &'a str) -> Self {
        Operation {
            ctx,
            name,
            retries: None,
            retry_if: AnyError,
        }
    }
}

impl<'a, R> Operation<'a, R> {
    /// Overrides the test's number of retries for this operation (`0`: one attempt only).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Retries only the failed attempts `predicate` accepts (a missing key is an answer, not a
    /// fault); the others end the operation at once. Default: every failed attempt is retried.
    pub fn retry_if<E, P: Fn(&E) -> bool>(self, predicate: P) -> Operation<'a, When<P>> {
        Operation {
            ctx: self.ctx,
            name: self.name,
            retries: self.retries,
            retry_if: When(predicate),
        }
    }

    /// Runs the operation: calls `op` for each attempt and awaits its future, timing and
    /// recording every attempt under the operation's name, and retrying as configured. Returns
    /// the last attempt's result.
    pub async fn run<T, E, F, Fut>(self, mut op: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Display + 'static,
        R: RetryIf<E>,
    {
        let shared = &*self.ctx.shared;
        let retries = self.retries.unwrap_or(shared.retry.retries);
        let mut attempt = 0u32;
        loop {
            let started = Instant::now();
            let outcome = op().await;
            let elapsed_us = started.elapsed().as_micros() as u64;
            let failure = outcome.as_ref().err().map(|e| {
                let may_retry = self.retry_if.retry(e);
                (class_of(e), may_retry, sample(self.name, e))
            });
            let retry_now = failure.as_ref().is_some_and(|f| f.1) && attempt < retries;
            let exhausted = failure.as_ref().is_some_and(|f| f.1) && !retry_now && retries > 0;
            let class = failure.as_ref().map_or(RequestClass::Ok, |f| f.0);
            shared.metrics.with(|s| {
                record(
                    s,
                    shared,
                    self.name,
                    class,
                    elapsed_us,
                    (0, 0),
                    None,
                    failure.map(|f| f.2),
                );
                if retry_now {
                    s.retries_attempted += 1;
                }
                if exhausted {
                    s.retries_exhausted += 1;
                }
            });
            if !retry_now {
                return outcome;
            }
            drop(outcome);
            let delay = retry::retry_delay(&shared.retry, attempt, None);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            attempt += 1;
        }
    }
}

/// The outcome class of an operation's error: `timeout`, `connect` or `closed` for an
/// `std::io::Error` of those kinds or tokio's `Elapsed` (the error itself, or found in the source
/// chain of a boxed `dyn Error`), an [`HttpError`]'s own class, and `error` for anything else.
pub(crate) fn class_of<E: 'static>(error: &E) -> RequestClass {
    let any = error as &dyn Any;
    if let Some(class) = known_class(any) {
        return class;
    }
    let boxed: Option<&(dyn StdError + 'static)> = any
        .downcast_ref::<Box<dyn StdError + Send + Sync>>()
        .map(|b| &**b as &(dyn StdError + 'static))
        .or_else(|| {
            any.downcast_ref::<Box<dyn StdError + Send>>()
                .map(|b| &**b as &(dyn StdError + 'static))
        })
        .or_else(|| {
            any.downcast_ref::<Box<dyn StdError>>()
                .map(|b| &**b as &(dyn StdError + 'static))
        });
    let mut next = boxed;
    // Bounded: a source chain is short, but nothing forbids a cycle.
    for _ in 0..16 {
        let Some(e) = next else { break };
        let found = e
            .downcast_ref::<std::io::Error>()
            .map(io_class)
            .or_else(|| e.downcast_ref::<HttpError>().map(|h| h.class))
            .or_else(|| {
                e.downcast_ref::<tokio::time::error::Elapsed>()
                    .map(|_| RequestClass::Timeout)
            });
        #[cfg(feature = "ws")]
        let found = found.or_else(|| e.downcast_ref::<crate::ws::WsError>().map(|w| w.class));
        #[cfg(feature = "grpc")]
        let found = found.or_else(|| e.downcast_ref::<crate::grpc::GrpcError>().map(|g| g.class));
        if let Some(class) = found {
            return class;
        }
        next = e.source();
    }
    RequestClass::Error
}

fn known_class(any: &dyn Any) -> Option<RequestClass> {
    if let Some(io) = any.downcast_ref::<std::io::Error>() {
        return Some(io_class(io));
    }
    if let Some(h) = any.downcast_ref::<HttpError>() {
        return Some(h.class);
    }
    if any.is::<tokio::time::error::Elapsed>() {
        return Some(RequestClass::Timeout);
    }
    #[cfg(feature = "ws")]
    if let Some(w) = any.downcast_ref::<crate::ws::WsError>() {
        return Some(w.class);
    }
    #[cfg(feature = "grpc")]
    if let Some(g) = any.downcast_ref::<crate::grpc::GrpcError>() {
        return Some(g.class);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn io_kinds_and_boxed_chains_map_to_the_request_classes() {
        let io = |k| io::Error::new(k, "x");
        assert_eq!(
            class_of(&io(io::ErrorKind::TimedOut)),
            RequestClass::Timeout
        );
        assert_eq!(
            class_of(&io(io::ErrorKind::ConnectionRefused)),
            RequestClass::Connect
        );
        assert_eq!(
            class_of(&io(io::ErrorKind::UnexpectedEof)),
            RequestClass::Closed
        );
        assert_eq!(class_of(&io(io::ErrorKind::NotFound)), RequestClass::Error);
        assert_eq!(class_of(&"a string".to_string()), RequestClass::Error);
        // Boxed, and wrapped in another error's source chain.
        let boxed: crate::Error = Box::new(io(io::ErrorKind::ConnectionReset));
        assert_eq!(class_of(&boxed), RequestClass::Closed);
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("query failed")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped: Box<dyn StdError> = Box::new(Wrapper(io(io::ErrorKind::TimedOut)));
        assert_eq!(class_of(&wrapped), RequestClass::Timeout);
        // An unboxed user type is its own failure: its sources are not looked into.
        assert_eq!(
            class_of(&Wrapper(io(io::ErrorKind::TimedOut))),
            RequestClass::Error
        );
    }
}
