//! The native HTTP/1.1 exchange (`client = "native"`, the default): a request is written and its
//! response read by the task that owns the connection, with no other task, channel or waker
//! between them.
//!
//! Per request: the head is encoded into the connection's own write buffer (its request line and
//! `Host` come ready-made from the parsed URL; user headers, `Accept`, credentials, the cookie,
//! the `traceparent` and `Content-Length` are appended) and sent with one write; the response is read into the
//! connection's read buffer and parsed in place (`parse.rs`). A response's head and a body framed
//! by `Content-Length` are split off that buffer without copying, so a response allocates nothing
//! in steady state, and its headers become a `HeaderMap` only if the test asks for them. Nothing
//! is read after a complete response: a server's close of an idle connection is found by the
//! next request (an idempotent one is sent again on a fresh connection) or, before a request
//! that is not idempotent, by a peek at the socket that costs no system call when nothing came.

use super::parse::{self, Chunked, Framing, Malformed};
use super::stream::Stream;
use crate::http::parsed_url::ParsedUrl;
use crate::http::response::BODY_LIMIT;
use crate::http::trace_context::TraceParent;
use crate::metrics::RequestClass;
use bytes::{Buf, Bytes, BytesMut};
use reqwest::Method;
use reqwest::header::{self, HeaderMap, HeaderValue};
use std::io::Write as _;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

/// The least room a read is given in the read buffer.
const READ_ROOM: usize = 1024;

/// Bodies up to this size are written in the same system call as the head (copied behind it);
/// larger ones are written after it, uncopied.
const INLINE_BODY: usize = 16 * 1024;

/// A read buffer that grew past this (a large response) is let go after its response, so an
/// idle connection holds little memory.
const KEEP_READ_CAPACITY: usize = 64 * 1024;

/// An HTTP/1.1 connection driven in place, over TCP or TLS (or, in tests, a scripted stream).
pub(crate) struct Native<S = Stream> {
    stream: S,
    /// Bytes read and not yet consumed. Responses' heads and bodies are split off it.
    buf: BytesMut,
    /// The request being written; its capacity is kept from one request to the next.
    out: Vec<u8>,
    /// Whether the connection can carry another request.
    reusable: bool,
}

/// A whole response as the native exchange read it.
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// The response head (status line and headers), uncopied.
    pub(crate) head: Bytes,
    /// The kept part of the body (at most [`BODY_LIMIT`] bytes).
    pub(crate) body: Bytes,
    /// The body's full length.
    pub(crate) body_len: u64,
    /// Whether the response said the connection closes after it.
    pub(crate) announced_close: bool,
    /// Whether the head has a `Set-Cookie`.
    pub(crate) set_cookie: bool,
    /// When the request's last byte was written.
    pub(crate) sent_at: Instant,
    /// When the response head was complete.
    pub(crate) head_at: Instant,
}

/// A streamed response's head, and what of its body is still to read.
pub(crate) struct StreamHead {
    pub(crate) status: u16,
    /// The response head (status line and headers), uncopied.
    pub(crate) head: Bytes,
    /// Whether the response allows another request on its connection.
    pub(crate) keep_alive: bool,
    /// Whether the head has a `Set-Cookie`.
    pub(crate) set_cookie: bool,
    /// When the request's last byte was written.
    pub(crate) sent_at: Instant,
    /// When the response head was complete.
    pub(crate) head_at: Instant,
    /// What of the body is still to read.
    left: BodyLeft,
}

impl StreamHead {
    /// Whether the body has been read to its end (or there was none).
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.left, BodyLeft::Done)
    }
}

/// What of a streamed body is still to read.
enum BodyLeft {
    /// This many bytes (`Content-Length`).
    Length(u64),
    /// Chunks, up to the last one.
    Chunked(Chunked),
    /// Everything up to the server's close.
    UntilClose,
    /// Nothing: the body has ended.
    Done,
}

/// Why an exchange failed.
pub(crate) enum Failed {
    /// Writing the request failed: the server had closed the connection, and did not see it.
    Unsent(String),
    /// The request was written but the connection closed (or broke) before any byte of a
    /// response: the server may or may not have seen it.
    ClosedBeforeResponse(String),
    /// The response broke off or was malformed; the status when its head had arrived.
    Response(RequestClass, String, Option<u16>),
}

/// What a request is made of, for its encoding.
pub(crate) struct Outgoing<'r> {
    pub(crate) method: &'r Method,
    pub(crate) parsed: &'r ParsedUrl,
    pub(crate) headers: &'r HeaderMap,
    pub(crate) body: &'r Bytes,
    /// The URL's own credentials apply (not after a redirect to another origin).
    pub(crate) credentials: bool,
    pub(crate) cookie: Option<&'r HeaderValue>,
    /// The `traceparent` to add (written into the buffer, not allocated).
    pub(crate) trace: Option<&'r TraceParent>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Native<S> {
    pub(crate) fn new(stream: S) -> Native<S> {
        Native {
            stream,
            buf: BytesMut::new(),
            out: Vec::new(),
            reusable: true,
        }
    }

    /// Whether the connection can carry another request (as far as is known without I/O).
    pub(crate) fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Sends one request and reads its whole response.
    pub(crate) async fn exchange(&mut self, request: &Outgoing<'_>) -> Result<Reply, Failed> {
        let head_request = *request.method == Method::HEAD;
        let sent_at = self.send(request).await?;
        let result = self.read_response(head_request, sent_at).await;
        if result.is_err() {
            self.reusable = false;
        }
        if self.buf.capacity() > KEEP_READ_CAPACITY && self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        result
    }

    /// Writes one request; when its last byte was written.
    async fn send(&mut self, request: &Outgoing<'_>) -> Result<Instant, Failed> {
        encode(&mut self.out, request);
        let body = request.body;
        let written = if body.len() <= INLINE_BODY {
            self.out.extend_from_slice(body);
            self.stream.write_all(&self.out).await
        } else {
            match self.stream.write_all(&self.out).await {
                Ok(()) => self.stream.write_all(body).await,
                Err(e) => Err(e),
            }
        };
        let flushed = match written {
            Ok(()) => self.stream.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = flushed {
            self.reusable = false;
            return Err(Failed::Unsent(format!("connection closed: {e}")));
        }
        if self.out.capacity() > KEEP_READ_CAPACITY {
            self.out = Vec::new();
        }
        Ok(Instant::now())
    }

    async fn read_response(
        &mut self,
        head_request: bool,
        sent_at: Instant,
    ) -> Result<Reply, Failed> {
        let head = self.read_head(head_request).await?;
        let head_at = Instant::now();
        let status = Some(head.status);
        let (head_bytes, body, body_len) = match head.framing {
            Framing::Empty => (self.buf.split_to(head.len).freeze(), Bytes::new(), 0),
            Framing::Length(n) if n <= BODY_LIMIT as u64 => {
                let need = head.len + n as usize;
                if self.buf.len() < need {
                    self.buf.reserve(need - self.buf.len());
                }
                while self.buf.len() < need {
                    match self.stream.read_buf(&mut self.buf).await {
                        Ok(0) => {
                            let got = self.buf.len() - head.len;
                            return Err(Failed::Response(
                                RequestClass::Body,
                                format!("connection closed after {got} of the body's {n} bytes"),
                                status,
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => return Err(broken_body(e, status)),
                    }
                }
                let head_bytes = self.buf.split_to(head.len).freeze();
                (head_bytes, self.buf.split_to(n as usize).freeze(), n)
            }
            Framing::Length(n) => {
                let head_bytes = self.buf.split_to(head.len).freeze();
                let mut kept = BytesMut::with_capacity(BODY_LIMIT);
                let mut left = n;
                loop {
                    let take = self
                        .buf
                        .len()
                        .min(usize::try_from(left).unwrap_or(usize::MAX));
                    keep(&mut kept, &self.buf[..take]);
                    self.buf.advance(take);
                    left -= take as u64;
                    if left == 0 {
                        break;
                    }
                    match self.fill().await {
                        Ok(0) => {
                            return Err(Failed::Response(
                                RequestClass::Body,
                                format!(
                                    "connection closed after {} of the body's {n} bytes",
                                    n - left
                                ),
                                status,
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => return Err(broken_body(e, status)),
                    }
                }
                (head_bytes, kept.freeze(), n)
            }
            Framing::Chunked => {
                let head_bytes = self.buf.split_to(head.len).freeze();
                let mut kept = BytesMut::new();
                let mut len = 0u64;
                let mut decoder = Chunked::default();
                loop {
                    let used = decoder
                        .decode(&self.buf, |data| {
                            len += data.len() as u64;
                            keep(&mut kept, data);
                        })
                        .map_err(|m| malformed(m, status))?;
                    self.buf.advance(used);
                    if decoder.is_done() {
                        break;
                    }
                    match self.fill().await {
                        Ok(0) => {
                            return Err(Failed::Response(
                                RequestClass::Body,
                                "connection closed in the middle of a chunked body".into(),
                                status,
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => return Err(broken_body(e, status)),
                    }
                }
                (head_bytes, kept.freeze(), len)
            }
            Framing::UntilClose => {
                let head_bytes = self.buf.split_to(head.len).freeze();
                let mut kept = BytesMut::new();
                let mut len = 0u64;
                loop {
                    len += self.buf.len() as u64;
                    keep(&mut kept, &self.buf);
                    self.buf.clear();
                    match self.fill().await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => return Err(broken_body(e, status)),
                    }
                }
                (head_bytes, kept.freeze(), len)
            }
        };
        // Bytes after the response were not asked for: the connection's state is unknown.
        self.reusable = head.keep_alive && self.buf.is_empty();
        Ok(Reply {
            status: head.status,
            head: head_bytes,
            body,
            body_len,
            announced_close: !head.keep_alive,
            set_cookie: head.set_cookie,
            sent_at,
            head_at,
        })
    }

    /// Sends one request and reads its response's head only: the body is read as it arrives,
    /// by [`Native::next_chunk`] (a streamed response). The connection is reusable again only
    /// once its body has been read to its end.
    pub(crate) async fn start_stream(
        &mut self,
        request: &Outgoing<'_>,
    ) -> Result<StreamHead, Failed> {
        let head_request = *request.method == Method::HEAD;
        let sent_at = self.send(request).await?;
        self.reusable = false;
        let head = self.read_head(head_request).await?;
        let head_at = Instant::now();
        let head_bytes = self.buf.split_to(head.len).freeze();
        let left = match head.framing {
            Framing::Empty | Framing::Length(0) => BodyLeft::Done,
            Framing::Length(n) => BodyLeft::Length(n),
            Framing::Chunked => BodyLeft::Chunked(Chunked::default()),
            Framing::UntilClose => BodyLeft::UntilClose,
        };
        let mut reply = StreamHead {
            status: head.status,
            head: head_bytes,
            keep_alive: head.keep_alive,
            set_cookie: head.set_cookie,
            sent_at,
            head_at,
            left,
        };
        if matches!(reply.left, BodyLeft::Done) {
            self.body_done(&mut reply);
        }
        Ok(reply)
    }

    /// The next piece of a streamed response's body as it arrived (`None` at its end). A chunked
    /// body hands out the data of the chunks that one read completed, framing removed.
    pub(crate) async fn next_chunk(
        &mut self,
        reply: &mut StreamHead,
    ) -> Result<Option<Bytes>, Failed> {
        let status = Some(reply.status);
        loop {
            match &mut reply.left {
                BodyLeft::Done => return Ok(None),
                BodyLeft::Length(left) => {
                    if !self.buf.is_empty() {
                        let take = self
                            .buf
                            .len()
                            .min(usize::try_from(*left).unwrap_or(usize::MAX));
                        let data = self.buf.split_to(take).freeze();
                        *left -= take as u64;
                        if *left == 0 {
                            self.body_done(reply);
                        }
                        return Ok(Some(data));
                    }
                    let left = *left;
                    match self.fill().await {
                        Ok(0) => {
                            return Err(Failed::Response(
                                RequestClass::Body,
                                format!("connection closed with {left} bytes of the body to come"),
                                status,
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => return Err(broken_body(e, status)),
                    }
                }
                BodyLeft::Chunked(decoder) => {
                    let mut data = BytesMut::new();
                    let used = decoder
                        .decode(&self.buf, |d| data.extend_from_slice(d))
                        .map_err(|m| malformed(m, status))?;
                    self.buf.advance(used);
                    let done = decoder.is_done();
                    if done {
                        self.body_done(reply);
                    }
                    if !data.is_empty() {
                        return Ok(Some(data.freeze()));
                    }
                    if done {
                        return Ok(None);
                    }
                    match self.fill().await {
                        Ok(0) => {
                            return Err(Failed::Response(
                                RequestClass::Body,
                                "connection closed in the middle of a chunked body".into(),
                                status,
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => return Err(broken_body(e, status)),
                    }
                }
                BodyLeft::UntilClose => {
                    if !self.buf.is_empty() {
                        return Ok(Some(self.buf.split().freeze()));
                    }
                    match self.fill().await {
                        // The server's close ends the body; the connection goes with it.
                        Ok(0) => {
                            reply.left = BodyLeft::Done;
                            return Ok(None);
                        }
                        Ok(_) => {}
                        Err(e) => return Err(broken_body(e, status)),
                    }
                }
            }
        }
    }

    /// A streamed body read to its end: the connection can carry another request when the
    /// response allowed it and nothing followed it.
    fn body_done(&mut self, reply: &mut StreamHead) {
        reply.left = BodyLeft::Done;
        self.reusable = reply.keep_alive && self.buf.is_empty();
    }

    /// Reads a response's head (past interim answers) into the read buffer, without taking it
    /// off.
    async fn read_head(&mut self, head_request: bool) -> Result<parse::Head, Failed> {
        let mut any_byte = !self.buf.is_empty();
        let head = loop {
            if !self.buf.is_empty() {
                match parse::head(&self.buf, head_request) {
                    Ok(Some(h)) if h.is_interim() => {
                        self.buf.advance(h.len);
                        continue;
                    }
                    Ok(Some(h)) => break h,
                    Ok(None) => {}
                    Err(m) => return Err(malformed(m, None)),
                }
            }
            match self.fill().await {
                Ok(0) if !any_byte => {
                    return Err(Failed::ClosedBeforeResponse(
                        "connection closed before any byte of the response".into(),
                    ));
                }
                Ok(0) => {
                    return Err(Failed::Response(
                        RequestClass::Body,
                        "connection closed in the middle of the response head".into(),
                        None,
                    ));
                }
                Ok(_) => any_byte = true,
                Err(e) if !any_byte => {
                    return Err(Failed::ClosedBeforeResponse(format!(
                        "connection broken before any byte of the response: {e}"
                    )));
                }
                Err(e) => {
                    return Err(Failed::Response(
                        RequestClass::Body,
                        format!("connection broken in the middle of the response head: {e}"),
                        None,
                    ));
                }
            }
        };
        Ok(head)
    }

    /// Reads what has arrived (waiting for something), into the read buffer.
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_ROOM {
            self.buf.reserve(READ_ROOM);
        }
        self.stream.read_buf(&mut self.buf).await
    }
}

impl Native<Stream> {
    /// Whether the server has closed this idle connection (or sent something unasked on it).
    /// Costs a system call only when the socket has signalled something since the last read.
    pub(crate) fn peer_closed(&mut self) -> bool {
        let (tcp, tls) = match &self.stream {
            Stream::Plain(s) => (s, false),
            Stream::Tls(s) => (s.get_ref().0, true),
        };
        let mut byte = [0u8; 1];
        let mut peek = ReadBuf::new(&mut byte);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match tcp.poll_peek(&mut cx, &mut peek) {
            Poll::Pending => false,
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => true,
            // A TLS server may send a session ticket after the handshake; an HTTP/1.1 server
            // sends nothing unasked but a last word before it closes (a 408).
            Poll::Ready(Ok(_)) => !tls,
        }
    }
}

/// Appends what fits under [`BODY_LIMIT`] of `data` to `kept`.
fn keep(kept: &mut BytesMut, data: &[u8]) {
    let room = BODY_LIMIT.saturating_sub(kept.len());
    kept.extend_from_slice(&data[..data.len().min(room)]);
}

fn malformed(m: Malformed, status: Option<u16>) -> Failed {
    Failed::Response(RequestClass::Body, m.to_string(), status)
}

fn broken_body(e: std::io::Error, status: Option<u16>) -> Failed {
    let class = if e.kind() == std::io::ErrorKind::TimedOut {
        RequestClass::Timeout
    } else {
        RequestClass::Body
    };
    Failed::Response(class, format!("error reading a body: {e}"), status)
}

/// Encodes a request head into `out` (cleared first): the request line and `Host` as the URL
/// made them, then the user's headers (a `Host` of theirs is replaced, as hyper does), `Accept`,
/// the URL's credentials and the cookie unless the user set their own, and `Content-Length` when
/// there is a body or the method expects one.
pub(crate) fn encode(out: &mut Vec<u8>, r: &Outgoing<'_>) {
    out.clear();
    out.extend_from_slice(r.method.as_str().as_bytes());
    out.extend_from_slice(&r.parsed.h1_line);
    let mut accept = false;
    let mut authorization = false;
    let mut cookie = false;
    let mut length = false;
    for (name, value) in r.headers {
        if *name == header::HOST {
            continue;
        }
        accept |= *name == header::ACCEPT;
        authorization |= *name == header::AUTHORIZATION;
        cookie |= *name == header::COOKIE;
        length |= *name == header::CONTENT_LENGTH || *name == header::TRANSFER_ENCODING;
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !accept {
        out.extend_from_slice(b"accept: */*\r\n");
    }
    if r.credentials
        && !authorization
        && let Some(auth) = &r.parsed.authorization
    {
        line(out, b"authorization", auth.as_bytes());
    }
    if !cookie && let Some(c) = r.cookie {
        line(out, b"cookie", c.as_bytes());
    }
    if let Some(t) = r.trace {
        out.extend_from_slice(&t.line());
    }
    if !length
        && (!r.body.is_empty() || matches!(*r.method, Method::POST | Method::PUT | Method::PATCH))
    {
        let _ = write!(out, "content-length: {}\r\n", r.body.len());
    }
    out.extend_from_slice(b"\r\n");
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(method: Method, url: &str, headers: &[(&str, &str)], body: &'static [u8]) -> String {
        let parsed = ParsedUrl::parse(url).unwrap();
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let body = Bytes::from_static(body);
        let mut out = Vec::new();
        encode(
            &mut out,
            &Outgoing {
                method: &method,
                parsed: &parsed,
                headers: &map,
                body: &body,
                credentials: true,
                cookie: None,
                trace: None,
            },
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_get_is_its_request_line_host_and_accept() {
        assert_eq!(
            encoded(Method::GET, "http://127.0.0.1:8080/a/b?q=1#frag", &[], b""),
            "GET /a/b?q=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\naccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn user_headers_credentials_and_lengths() {
        let text = encoded(
            Method::POST,
            "http://u:p@h.test/x",
            &[
                ("accept", "application/json"),
                ("host", "evil"),
                ("x-a", "1"),
            ],
            b"{}",
        );
        assert_eq!(
            text,
            "POST /x HTTP/1.1\r\nhost: h.test\r\naccept: application/json\r\nx-a: 1\r\n\
             authorization: Basic dTpw\r\ncontent-length: 2\r\n\r\n"
        );
        assert!(encoded(Method::PUT, "http://h.test/", &[], b"").contains("content-length: 0\r\n"));
        let own = encoded(
            Method::GET,
            "http://u:p@h.test/",
            &[("authorization", "Bearer t")],
            b"",
        );
        assert!(own.contains("authorization: Bearer t\r\n") && !own.contains("Basic"));
    }

    #[test]
    fn the_traceparent_is_written_into_the_buffer_without_growing_it() {
        use loadtest_report::exemplar::{SpanId, TraceId};
        let parsed = ParsedUrl::parse("http://h.test/x").unwrap();
        let trace = TraceParent {
            trace_id: TraceId([0x11; 16]),
            span_id: SpanId([0x22; 8]),
            sampled: true,
        };
        let (map, body) = (HeaderMap::new(), Bytes::new());
        let outgoing = Outgoing {
            method: &Method::GET,
            parsed: &parsed,
            headers: &map,
            body: &body,
            credentials: true,
            cookie: None,
            trace: Some(&trace),
        };
        let mut out = Vec::new();
        encode(&mut out, &outgoing);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "GET /x HTTP/1.1\r\nhost: h.test\r\naccept: */*\r\n\
             traceparent: 00-11111111111111111111111111111111-2222222222222222-01\r\n\r\n"
        );
        // The next request reuses the buffer: the same capacity, no new allocation.
        let (capacity, pointer) = (out.capacity(), out.as_ptr());
        encode(&mut out, &outgoing);
        assert_eq!((out.capacity(), out.as_ptr()), (capacity, pointer));
    }
}
