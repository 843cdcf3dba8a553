//! A response read as it arrives ([`Request::stream`](super::Request::stream)): server-sent
//! events, a chunked token stream, any body whose pieces matter as they come. The request is
//! recorded under its name when the stream ends (its latency is the stream's whole time, so the
//! test's `timeout` and the error classes apply to the whole), and so are the stream's own
//! measures: time to first byte, time to first event, the gaps between events, events and the
//! stream's total time (see [`loadtest_report::report::StreamMetrics`]).

use super::HttpError;
use super::direct::Streaming;
use super::error::classify;
use super::response::LazyHeaders;
use super::sse::{Event, SseParser};
use super::trace_context::TraceParent;
use crate::Ctx;
use crate::metrics::{Phases, RequestClass, StreamTimer, micros};
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// A response whose body is read as it arrives, from [`Request::stream`](super::Request::stream).
///
/// Read it with [`next_event`](StreamedResponse::next_event) (server-sent events) or with
/// [`next_chunk`](StreamedResponse::next_chunk) (the body's pieces as they arrived, for a token
/// stream without framing); use one or the other for one response. The events of a response
/// read with `next_chunk` are its chunks.
///
/// When the body ends (`Ok(None)`), breaks off (`Err`, class `body`), or the test's `timeout`
/// passes since the request started (`Err`, class `timeout`), the request is recorded under its
/// name with the stream's whole time as its latency, beside the stream's measures. A response
/// dropped before its end is recorded as ended there (its class from its status), and its
/// connection is closed rather than kept.
pub struct StreamedResponse<'a> {
    ctx: &'a Ctx,
    name: String,
    /// `METHOD url`, for messages.
    what: String,
    status: StatusCode,
    headers: LazyHeaders,
    body: Body<'a>,
    /// The stream's times, from the request's start.
    timer: StreamTimer,
    /// When the response's head came (the `transfer` phase runs from there to the end).
    head_at: Instant,
    timeout: Duration,
    phases: Phases,
    trace: Option<TraceParent>,
    sent: u64,
    received: u64,
    /// Set once `next_event` is called: the stream is read as server-sent events.
    sse: Option<SseParser>,
    /// Events parsed and not yet handed out.
    pending: VecDeque<Event>,
    /// The stream has been recorded.
    ended: bool,
}

/// Where a streamed body comes from.
pub(crate) enum Body<'a> {
    /// A connection of the native or hyper transport.
    Direct(Streaming<'a>),
    /// reqwest's response.
    Reqwest(Box<reqwest::Response>),
    /// The body has ended (or broke off).
    Done,
}

/// What [`Request::stream`](super::Request::stream) hands over once the response's head came.
pub(crate) struct Head<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) name: String,
    pub(crate) what: String,
    pub(crate) status: StatusCode,
    pub(crate) headers: LazyHeaders,
    pub(crate) body: Body<'a>,
    pub(crate) started: Instant,
    pub(crate) timeout: Duration,
    pub(crate) phases: Phases,
    pub(crate) trace: Option<TraceParent>,
    pub(crate) sent: u64,
}

type Failure = (RequestClass, String, Option<u16>);

impl<'a> StreamedResponse<'a> {
    pub(crate) fn new(head: Head<'a>) -> StreamedResponse<'a> {
        StreamedResponse {
            ctx: head.ctx,
            name: head.name,
            what: head.what,
            status: head.status,
            headers: head.headers,
            body: head.body,
            timer: StreamTimer::new(head.started),
            head_at: Instant::now(),
            timeout: head.timeout,
            phases: head.phases,
            trace: head.trace,
            sent: head.sent,
            received: 0,
            sse: None,
            pending: VecDeque::new(),
            ended: false,
        }
    }

    /// The response's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers.map()
    }

    /// The next piece of the body as it arrived (a chunked body's data without its framing);
    /// `Ok(None)` at the end of the body. Each piece counts as one event of the stream.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        let got = self.read().await?;
        if got.is_some() && self.sse.is_none() {
            self.event_at(Instant::now());
        }
        Ok(got)
    }

    /// The next server-sent event; `Ok(None)` at the end of the body (an event the body left
    /// unfinished is dropped, as browsers drop it). Events may arrive split anywhere across
    /// the body's pieces, and several in one.
    pub async fn next_event(&mut self) -> Result<Option<Event>, HttpError> {
        if self.sse.is_none() {
            self.sse = Some(SseParser::default());
        }
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            let Some(piece) = self.read().await? else {
                return Ok(None);
            };
            let at = Instant::now();
            let before = self.pending.len();
            if let Some(sse) = &mut self.sse {
                sse.feed(&piece, &mut self.pending);
            }
            for _ in before..self.pending.len() {
                self.event_at(at);
            }
        }
    }

    /// Reads the rest of the stream, counting its events (server-sent events once
    /// [`next_event`](Self::next_event) was called, chunks otherwise), and returns how many it
    /// read.
    pub async fn drain(&mut self) -> Result<u64, HttpError> {
        let mut n = 0;
        if self.sse.is_some() {
            while self.next_event().await?.is_some() {
                n += 1;
            }
        } else {
            while self.next_chunk().await?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The body's next piece, under the request's deadline; records the stream when it ends.
    async fn read(&mut self) -> Result<Option<Bytes>, HttpError> {
        if self.ended {
            return Ok(None);
        }
        let status = self.status.as_u16();
        let got = {
            let next = std::pin::pin!(next_piece(&mut self.body, &self.what, status));
            let started = self.timer.started();
            super::deadline::within(&self.ctx.timer, started, self.timeout, next).await
        };
        match got {
            Some(Ok(Some(piece))) => {
                self.timer.chunk(Instant::now());
                self.received += piece.len() as u64;
                Ok(Some(piece))
            }
            Some(Ok(None)) => {
                self.end(None);
                Ok(None)
            }
            Some(Err((class, message, _))) => {
                let message = format!("{}: {message}", self.what);
                self.end(Some((class, message.clone())));
                Err(HttpError::new(class, Some(status), message))
            }
            None => {
                let message = format!(
                    "{}: timed out after {} in the middle of a streamed response",
                    self.what,
                    crate::grammar::format_duration(self.timeout)
                );
                self.end(Some((RequestClass::Timeout, message.clone())));
                Err(HttpError::new(RequestClass::Timeout, Some(status), message))
            }
        }
    }

    /// One event arrived at `at`: its gap since the last one goes to the live metrics at once.
    fn event_at(&mut self, at: Instant) {
        self.timer.event(&self.ctx.shared.metrics, &self.name, at);
    }

    /// Records the request and its stream, once: ended well (`None`), or broken off.
    fn end(&mut self, failure: Option<(RequestClass, String)>) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.body = Body::Done;
        let now = Instant::now();
        let end = self.timer.end(now, failure.is_some());
        let elapsed_us = end.duration_us;
        self.phases.transfer_us = Some(micros(now - self.head_at));
        let (class, status) = match &failure {
            None => (
                RequestClass::of_status(self.status.as_u16()),
                Some(self.status.as_u16()),
            ),
            // A broken response has no complete status, as for any request.
            Some((class, _)) => (*class, None),
        };
        let shared = &*self.ctx.shared;
        let (name, phases, trace) = (&self.name, &self.phases, self.trace);
        let (sent, received) = (self.sent, self.received);
        shared.metrics.with(|s| {
            s.request_with_exemplar(name, class, status, elapsed_us, sent, received, || {
                crate::outcome::exemplar(trace, elapsed_us, status)
            });
            s.phases(phases);
            s.stream_end(name, &end);
            if let Some((class, message)) = failure {
                s.error(class.as_str(), shared.secrets.scrub(&message));
            }
        });
    }
}

impl Drop for StreamedResponse<'_> {
    fn drop(&mut self) {
        self.end(None);
    }
}

/// The body's next piece from its transport.
async fn next_piece(
    body: &mut Body<'_>,
    what_: &str,
    status: u16,
) -> Result<Option<Bytes>, Failure> {
    match body {
        Body::Done => Ok(None),
        Body::Direct(s) => s.next().await,
        Body::Reqwest(r) => r.chunk().await.map_err(|e| {
            let err = classify(&e, what_);
            let class = match err.class {
                RequestClass::Timeout => RequestClass::Timeout,
                _ => RequestClass::Body,
            };
            // The message names the request already; `read` names it again otherwise.
            let message = err
                .message
                .strip_prefix(what_)
                .map(|m| m.trim_start_matches(": ").to_string())
                .unwrap_or(err.message);
            (class, message, Some(status))
        }),
    }
}
