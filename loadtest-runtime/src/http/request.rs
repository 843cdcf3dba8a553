//! A request being built, and `send()`: rate limit, attempt, measure, classify, retry.

use super::HttpError;
use super::client::Transport;
use super::cookies::JarCell;
use super::direct::{self, Exchange, Home};
use super::error::{classify, what};
use super::parsed_url::{ParsedUrl, parse_cached};
use super::response::{BODY_LIMIT, LazyHeaders, Response};
use super::retry;
use super::streamed::{Body, Head as StreamHead, StreamedResponse};
use super::trace_context::{TRACEPARENT, TraceParent};
use crate::Ctx;
use crate::metrics::{Phases, RequestClass};
use bytes::{Bytes, BytesMut};
use reqwest::Method;
use reqwest::header::{COOKIE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// An HTTP request being built; finish it with [`Request::send`].
#[must_use = "a request does nothing until it is sent"]
pub struct Request<'a> {
    ctx: &'a Ctx,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Bytes,
    name: Option<String>,
    timeout: Option<Duration>,
    retries: Option<u32>,
    error: Option<String>,
}

/// A request's URL: parsed (through the thread's cache, so a URL sent again costs no parse and
/// no copy), or the text that did not parse and why.
enum Url {
    Parsed(Arc<ParsedUrl>),
    Invalid { text: String, error: String },
}

impl Url {
    fn text(&self) -> &str {
        match self {
            Url::Parsed(t) => t.url.as_str(),
            Url::Invalid { text, .. } => text,
        }
    }
}

impl<'a> Request<'a> {
    pub(crate) fn new(ctx: &'a Ctx, method: Method, url: &str) -> Self {
        let url = match parse_cached(url) {
            Ok(parsed) => Url::Parsed(parsed),
            Err(error) => Url::Invalid {
                text: url.to_string(),
                error,
            },
        };
        Request {
            ctx,
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            name: None,
            timeout: None,
            retries: None,
            error: None,
        }
    }

    /// Names the request for grouping in reports (default: method and path with ids grouped, e.g.
    /// `GET /users/{id}`; see [`crate::metrics`] on the cap of distinct names).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a header. An invalid name or value fails the request when it is sent. A
    /// `traceparent` set here is sent as it is, instead of the runtime's (see the `trace`
    /// option), and its trace id is the one the request's exemplar carries.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        match (
            HeaderName::try_from(name.as_ref()),
            HeaderValue::try_from(value.as_ref()),
        ) {
            (Ok(n), Ok(mut v)) => {
                if crate::redact::SENSITIVE_HEADERS.contains(&n.as_str()) {
                    v.set_sensitive(true);
                    self.ctx.shared.secrets.add(value.as_ref());
                }
                self.headers.append(n, v);
            }
            _ => self.error = Some(format!("invalid header {:?}", name.as_ref())),
        }
        self
    }

    /// Adds `Authorization: Bearer TOKEN` (never shown in reports or logs).
    pub fn bearer_auth(self, token: impl AsRef<str>) -> Self {
        let value = format!("Bearer {}", token.as_ref());
        self.header("authorization", value)
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => {
                self.body = v.into();
                self.header("content-type", "application/json")
            }
            Err(e) => {
                self.error = Some(format!("cannot serialize the JSON body: {e}"));
                self
            }
        }
    }

    /// Overrides the test's per-request timeout for this request (each attempt).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Overrides the test's number of retries for this request.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Sends the request, retrying as configured, and reads the response body.
    ///
    /// Every attempt is measured and recorded under the request's name. A response with any
    /// status is `Ok` (use [`Response::error_for_status`]); `Err` means no usable response.
    pub async fn send(self) -> Result<Response, HttpError> {
        let shared = &*self.ctx.shared;
        let default_name = match &self.url {
            _ if self.name.is_some() => Cow::Borrowed(""),
            Url::Parsed(parsed) => parsed.default_name(&self.method),
            Url::Invalid { text, .. } => {
                crate::metrics::names::request_name(self.method.as_str(), text).into()
            }
        };
        let name = self.name.as_deref().unwrap_or(&default_name);
        let credentials = match &self.url {
            Url::Parsed(t) => t.authorization.is_some(),
            Url::Invalid { text, .. } => text.contains('@'),
        };
        if credentials {
            shared.secrets.add_url(self.url.text());
        }
        // A request that cannot be sent is recorded as one failed request of class `other`.
        let unsendable = |problem: String| {
            let e = HttpError::new(
                RequestClass::Other,
                None,
                format!("{}: {problem}", what(&self.method, self.url.text())),
            );
            shared.metrics.with(|s| {
                s.request(name, RequestClass::Other, None, 0, 0, 0);
                s.error("other", e.message.clone());
            });
            e
        };
        if let Some(err) = &self.error {
            return Err(unsendable(err.clone()));
        }
        // Parsed when the request was made, through a per-thread cache: most tests send the
        // same few URLs over and over, and parsing one costs more than sharing it.
        let parsed = match &self.url {
            Url::Parsed(t) => t.clone(),
            Url::Invalid { error, .. } => {
                return Err(unsendable(format!("invalid URL: {error}")));
            }
        };
        let retries = self.retries.unwrap_or(shared.retry.retries);
        let timeout = self.timeout.unwrap_or(shared.timeout);
        let idempotent = self.method.is_idempotent();
        // A test that set its own `traceparent` keeps it; otherwise each attempt gets the
        // iteration's trace and a span of its own (see `trace_context`).
        let own_trace = TraceParent::set_by_test(&self.headers);
        let mut attempt = 0u32;
        loop {
            if let Some(limiter) = &shared.limiter {
                limiter.acquire().await;
            }
            let trace = match own_trace {
                Some(_) => None,
                None => self.ctx.trace.map(|t| t.attempt()),
            };
            let started = Instant::now();
            let mut phases = Phases::default();
            let outcome = self
                .attempt(&parsed, started, timeout, &mut phases, trace.as_ref())
                .await;
            let elapsed_us = started.elapsed().as_micros() as u64;
            let sent = self.body.len() as u64;
            let (class, status, received) = match &outcome {
                Ok(r) => (
                    RequestClass::of_status(r.status.as_u16()),
                    Some(r.status.as_u16()),
                    r.body_len,
                ),
                // A broken response has no complete status: only whole responses count by status.
                Err(e) => (e.class, None, 0),
            };
            let retry_now =
                attempt < retries && retry::should_retry(&shared.retry, class, status, idempotent);
            let exhausted = !retry_now
                && retries > 0
                && attempt == retries
                && retry::should_retry(&shared.retry, class, status, idempotent);
            shared.metrics.with(|s| {
                s.request_with_exemplar(name, class, status, elapsed_us, sent, received, || {
                    crate::outcome::exemplar(own_trace.or(trace), elapsed_us, status)
                });
                s.phases(&phases);
                if let Err(e) = &outcome {
                    s.error(class.as_str(), shared.secrets.scrub(&e.message));
                }
                if retry_now {
                    s.retries_attempted += 1;
                }
                if exhausted {
                    s.retries_exhausted += 1;
                }
            });
            if !retry_now {
                return outcome.map(|mut r| {
                    r.method = self.method;
                    r.url = Some(parsed);
                    r
                });
            }
            let retry_after = match &outcome {
                Ok(r) => r
                    .headers
                    .map()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry::parse_retry_after),
                Err(_) => None,
            };
            let delay = retry::retry_delay(&shared.retry, attempt, retry_after);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            attempt += 1;
        }
    }

    /// Sends the request and hands out its response as it arrives: server-sent events with
    /// [`StreamedResponse::next_event`], the body's pieces with
    /// [`StreamedResponse::next_chunk`].
    ///
    /// `Ok` once the response's head came (any status); `Err` when no response did (connect,
    /// TLS, timeout, closed: recorded then as any failed request). The request is recorded under
    /// its name when the stream ends, with the stream's whole time, from now to its end, as its
    /// latency; its time to first byte, time to first event, the gaps between its events, its
    /// events and its total time are recorded beside it (reports, thresholds such as
    /// `p99(gap:chat) < 50ms`, live metrics). The test's `timeout` (or [`Request::timeout`])
    /// applies to the whole stream. A stream is one response: it is sent once (`retries` does
    /// not apply, as a stream's events cannot be taken back) and redirects are not followed.
    ///
    /// ```no_run
    /// # use loadtest_runtime::prelude::*;
    /// # async fn chat(ctx: &Ctx) -> Result<()> {
    /// let mut stream = ctx.http().get(ctx.url("/chat")).name("chat").stream().await?;
    /// while let Some(event) = stream.next_event().await? {
    ///     if event.data == "[DONE]" {
    ///         break;
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stream(self) -> Result<StreamedResponse<'a>, HttpError> {
        let ctx: &'a Ctx = self.ctx;
        let shared = &*ctx.shared;
        let name = match (&self.name, &self.url) {
            (Some(n), _) => n.clone(),
            (None, Url::Parsed(parsed)) => parsed.default_name(&self.method).into_owned(),
            (None, Url::Invalid { text, .. }) => {
                crate::metrics::names::request_name(self.method.as_str(), text)
            }
        };
        let credentials = match &self.url {
            Url::Parsed(t) => t.authorization.is_some(),
            Url::Invalid { text, .. } => text.contains('@'),
        };
        if credentials {
            shared.secrets.add_url(self.url.text());
        }
        let what_ = what(&self.method, self.url.text());
        let fail = |class: RequestClass, elapsed_us: u64, phases: &Phases, message: String| {
            let e = HttpError::new(class, None, message);
            shared.metrics.with(|s| {
                s.request(&name, class, None, elapsed_us, self.body.len() as u64, 0);
                s.phases(phases);
                s.error(class.as_str(), shared.secrets.scrub(&e.message));
            });
            e
        };
        if let Some(err) = &self.error {
            let message = format!("{what_}: {err}");
            return Err(fail(RequestClass::Other, 0, &Phases::default(), message));
        }
        let parsed = match &self.url {
            Url::Parsed(t) => t.clone(),
            Url::Invalid { error, .. } => {
                let message = format!("{what_}: invalid URL: {error}");
                return Err(fail(RequestClass::Other, 0, &Phases::default(), message));
            }
        };
        let timeout = self.timeout.unwrap_or(shared.timeout);
        if let Some(limiter) = &shared.limiter {
            limiter.acquire().await;
        }
        let own_trace = TraceParent::set_by_test(&self.headers);
        let trace = match own_trace {
            Some(_) => None,
            None => ctx.trace.map(|t| t.attempt()),
        };
        let started = Instant::now();
        let mut phases = Phases::default();
        let jar = shared.cookies.then_some(&ctx.jar);
        let got = match &shared.client {
            Transport::Direct(direct) => {
                let home = match &ctx.conns {
                    Some(set) => Home::User(set),
                    None => Home::Thread(shared.id),
                };
                let exchange = Exchange {
                    method: &self.method,
                    parsed: &parsed,
                    headers: &self.headers,
                    body: &self.body,
                    trace: trace.as_ref(),
                };
                let start = std::pin::pin!(direct::start_stream(
                    direct,
                    home,
                    jar,
                    exchange,
                    &mut phases
                ));
                match super::deadline::within(&ctx.timer, started, timeout, start).await {
                    Some(Ok(s)) => Ok((s.status, s.headers, Body::Direct(s.body))),
                    Some(Err((class, message, _))) => {
                        Err((class, crate::redact::url(&format!("{what_}: {message}"))))
                    }
                    None => Err((RequestClass::Timeout, timed_out(&what_, timeout))),
                }
            }
            Transport::Reqwest(client) => {
                let start = self.start_reqwest(client, &parsed, timeout, jar, trace.as_ref());
                match Box::pin(start).await {
                    Ok((status, headers, response)) => {
                        Ok((status, headers, Body::Reqwest(Box::new(response))))
                    }
                    Err(e) => Err((e.class, e.message)),
                }
            }
        };
        match got {
            Ok((status, headers, body)) => Ok(StreamedResponse::new(StreamHead {
                ctx,
                name,
                what: what_,
                status,
                headers,
                body,
                started,
                timeout,
                phases,
                trace: own_trace.or(trace),
                sent: self.body.len() as u64,
            })),
            Err((class, message)) => {
                let elapsed_us = started.elapsed().as_micros() as u64;
                Err(fail(class, elapsed_us, &phases, message))
            }
        }
    }

    /// A request through reqwest, sent and its response's head read (the cookies it sets
    /// stored): what a streamed request hands out, and what a whole one reads the body of.
    async fn start_reqwest(
        &self,
        client: &reqwest::Client,
        parsed: &ParsedUrl,
        timeout: Duration,
        jar: Option<&JarCell>,
        trace: Option<&TraceParent>,
    ) -> Result<(reqwest::StatusCode, LazyHeaders, reqwest::Response), HttpError> {
        let mut builder = client
            .request(self.method.clone(), parsed.url.clone())
            .timeout(timeout);
        if !self.headers.is_empty() {
            builder = builder.headers(self.headers.clone());
        }
        if let Some(cookie) =
            jar.and_then(|j| j.header(&parsed.origin.host, parsed.url.path(), parsed.origin.tls))
            && !self.headers.contains_key(COOKIE)
        {
            builder = builder.header(COOKIE, cookie);
        }
        if let Some(t) = trace
            && let Ok(value) = HeaderValue::from_bytes(&t.value())
        {
            builder = builder.header(TRACEPARENT, value);
        }
        // Always set, even when empty: an empty body is sent as `content-length: 0`.
        builder = builder.body(self.body.clone());
        let mut response = builder
            .send()
            .await
            .map_err(|e| classify(&e, &what(&self.method, self.url.text())))?;
        let status = response.status();
        let headers = LazyHeaders::parsed(std::mem::take(response.headers_mut()));
        if let Some(jar) = jar {
            let url = response.url();
            jar.store_all(url.host_str().unwrap_or(""), url.path(), &headers);
        }
        Ok((status, headers, response))
    }

    /// One attempt. The response it returns has no method and URL yet: `send` moves them in
    /// when it returns that response, so a successful request never copies them.
    async fn attempt(
        &self,
        parsed: &Arc<ParsedUrl>,
        started: Instant,
        timeout: Duration,
        phases: &mut Phases,
        trace: Option<&TraceParent>,
    ) -> Result<Response, HttpError> {
        let shared = &*self.ctx.shared;
        let jar = shared.cookies.then_some(&self.ctx.jar);
        let direct = match &shared.client {
            Transport::Direct(direct) => direct,
            // Boxed: reqwest's future is large, and kept out of every request's future.
            Transport::Reqwest(client) => {
                return Box::pin(self.attempt_reqwest(client, parsed, timeout, jar, trace)).await;
            }
        };
        let home = match &self.ctx.conns {
            Some(set) => Home::User(set),
            None => Home::Thread(shared.id),
        };
        let exchange = Exchange {
            method: &self.method,
            parsed,
            headers: &self.headers,
            body: &self.body,
            trace,
        };
        let exchanged = std::pin::pin!(direct::exchange(direct, home, jar, exchange, phases));
        match super::deadline::within(&self.ctx.timer, started, timeout, exchanged).await {
            Some(Ok(got)) => Ok(Response {
                status: got.status,
                headers: got.headers,
                body: got.body,
                body_len: got.body_len,
                method: Method::GET,
                url: None,
            }),
            Some(Err((class, message, status))) => Err(HttpError::new(
                class,
                status,
                crate::redact::url(&format!(
                    "{}: {message}",
                    what(&self.method, self.url.text())
                )),
            )),
            None => Err(HttpError::new(
                RequestClass::Timeout,
                None,
                format!(
                    "{}: timed out after {}",
                    what(&self.method, self.url.text()),
                    crate::grammar::format_duration(timeout)
                ),
            )),
        }
    }

    /// One attempt through reqwest (`client = "reqwest"`).
    async fn attempt_reqwest(
        &self,
        client: &reqwest::Client,
        parsed: &ParsedUrl,
        timeout: Duration,
        jar: Option<&JarCell>,
        trace: Option<&TraceParent>,
    ) -> Result<Response, HttpError> {
        let (status, headers, mut response) = self
            .start_reqwest(client, parsed, timeout, jar, trace)
            .await?;
        let mut body = BytesMut::new();
        let mut body_len = 0u64;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body_len += chunk.len() as u64;
                    let room = BODY_LIMIT.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) => break,
                Err(e) => {
                    let mut err = classify(&e, &what(&self.method, self.url.text()));
                    if err.class != RequestClass::Timeout {
                        err.class = RequestClass::Body;
                    }
                    err.status = Some(status.as_u16());
                    return Err(err);
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body: body.freeze(),
            body_len,
            method: Method::GET,
            url: None,
        })
    }
}

/// The message of a request that timed out.
fn timed_out(what: &str, timeout: Duration) -> String {
    format!(
        "{what}: timed out after {}",
        crate::grammar::format_duration(timeout)
    )
}
