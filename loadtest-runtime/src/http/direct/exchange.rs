//! One request on a per-connection transport (native or hyper): a connection taken from (or opened for) the request's
//! home, the request sent and its whole body read, redirects followed (at most
//! [`MAX_REDIRECTS`]; 301, 302 and 303 turn into a GET, 307 and 308 keep the method and body;
//! `Location` is resolved against the request URL; credentials and cookies are not carried to
//! another origin), and the cookie jar consulted and filled on every hop.

use super::conn::{self, Body, Conn, OpenTimes};
use super::native::{Failed, Native, Outgoing};
use super::set::Home;
use crate::http::cookies::JarCell;
use crate::http::parsed_url::ParsedUrl;
use crate::http::response::{BODY_LIMIT, LazyHeaders};
use crate::http::trace_context::{TRACEPARENT, TraceParent};
use crate::metrics::{Phases, RequestClass};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use std::borrow::Cow;
use std::sync::Arc;
use tokio::time::Instant;

/// The most redirects followed, as reqwest's default policy.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// What a request is made of.
pub(crate) struct Exchange<'r> {
    pub(crate) method: &'r Method,
    pub(crate) parsed: &'r Arc<ParsedUrl>,
    pub(crate) headers: &'r HeaderMap,
    pub(crate) body: &'r Bytes,
    /// The `traceparent` the runtime adds (none when tracing is off or the test set its own).
    pub(crate) trace: Option<&'r TraceParent>,
}

/// A whole response: status, headers, the kept part of the body and the body's full length.
pub(crate) struct Got {
    pub(crate) status: StatusCode,
    pub(crate) headers: LazyHeaders,
    pub(crate) body: Bytes,
    pub(crate) body_len: u64,
}

/// Why a request failed: its class, a message (without the request's method and URL), and the
/// status if one arrived before the failure.
pub(crate) type Failure = (RequestClass, String, Option<u16>);

/// What the transport needs from the test.
pub(crate) struct Direct {
    /// HTTP/1.1 exchanged natively (`client = "native"`) rather than through hyper.
    pub(crate) native: bool,
    pub(crate) tls: tokio_rustls::TlsConnector,
    /// Source addresses to open connections from, round-robin (empty: the system's choice).
    pub(crate) local: Vec<std::net::IpAddr>,
    pub(crate) next_local: std::sync::atomic::AtomicUsize,
}

impl Direct {
    fn local(&self) -> Option<std::net::IpAddr> {
        if self.local.is_empty() {
            return None;
        }
        let i = self
            .next_local
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(self.local[i % self.local.len()])
    }
}

/// Sends a request and follows its redirects.
pub(crate) async fn exchange(
    direct: &Direct,
    home: Home<'_>,
    jar: Option<&JarCell>,
    ex: Exchange<'_>,
    phases: &mut Phases,
) -> Result<Got, Failure> {
    let mut parsed = Cow::Borrowed(ex.parsed);
    let mut method = Cow::Borrowed(ex.method);
    let mut body = ex.body.clone();
    let mut headers = Cow::Borrowed(ex.headers);
    let mut credentials = true;
    let mut hop = 0;
    loop {
        let got = one(
            direct,
            home,
            jar,
            Hop {
                parsed: &parsed,
                method: &method,
                headers: &headers,
                body: body.clone(),
                credentials,
                trace: ex.trace,
            },
            phases,
        )
        .await?;
        let code = got.status.as_u16();
        if !matches!(code, 301 | 302 | 303 | 307 | 308) {
            return Ok(got);
        }
        let location = match got.headers.map().get(header::LOCATION) {
            Some(l) => l,
            None => return Ok(got),
        };
        if hop == MAX_REDIRECTS {
            return Err((
                RequestClass::Other,
                format!("too many redirects (more than {MAX_REDIRECTS})"),
                Some(code),
            ));
        }
        let location = location.to_str().map_err(|_| {
            (
                RequestClass::Other,
                "a redirect's Location header is not text".to_string(),
                Some(code),
            )
        })?;
        let next = parsed
            .url
            .join(location)
            .map_err(|e| e.to_string())
            .and_then(ParsedUrl::from_url)
            .map_err(|e| {
                (
                    RequestClass::Other,
                    format!("cannot follow the redirect to {location:?}: {e}"),
                    Some(code),
                )
            })?;
        if next.origin != parsed.origin {
            // As reqwest: credentials and cookies set by hand stay with their origin.
            let mut h = headers.into_owned();
            for name in [
                header::AUTHORIZATION,
                header::COOKIE,
                header::PROXY_AUTHORIZATION,
                header::WWW_AUTHENTICATE,
            ] {
                h.remove(name);
            }
            headers = Cow::Owned(h);
            credentials = false;
        }
        if matches!(code, 301..=303) && *method != Method::HEAD {
            method = Cow::Owned(Method::GET);
            body = Bytes::new();
            let mut h = headers.into_owned();
            h.remove(header::CONTENT_TYPE);
            h.remove(header::CONTENT_LENGTH);
            headers = Cow::Owned(h);
        }
        parsed = Cow::Owned(Arc::new(next));
        hop += 1;
    }
}

pub(super) struct Hop<'h> {
    pub(super) parsed: &'h Arc<ParsedUrl>,
    pub(super) method: &'h Method,
    pub(super) headers: &'h HeaderMap,
    pub(super) body: Bytes,
    /// Whether the URL's own credentials apply (not after a redirect to another origin).
    pub(super) credentials: bool,
    pub(super) trace: Option<&'h TraceParent>,
}

/// One request and response, without redirects.
async fn one(
    direct: &Direct,
    home: Home<'_>,
    jar: Option<&JarCell>,
    hop: Hop<'_>,
    phases: &mut Phases,
) -> Result<Got, Failure> {
    let parsed = hop.parsed;
    let taken = home.take(&parsed.origin);
    phases.reopened += taken.closed;
    let cookie =
        jar.and_then(|j| j.header(&parsed.origin.host, parsed.url.path(), parsed.origin.tls));
    let reused = taken.conn.is_some();
    let conn = match taken.conn {
        Some(c) => c,
        None => open(direct, parsed, phases).await?,
    };
    if let Conn::Native(native) = conn {
        return one_native(
            direct,
            home,
            jar,
            &hop,
            cookie.as_ref(),
            native,
            reused,
            phases,
        )
        .await;
    }
    // Boxed: hyper's futures are large, and kept out of the native path's.
    Box::pin(one_hyper(
        direct,
        home,
        jar,
        &hop,
        cookie.as_ref(),
        conn,
        reused,
        phases,
    ))
    .await
}

/// One request and response on a hyper connection (HTTP/1.1 under `client = "hyper"`, or
/// HTTP/2), sent again on a fresh connection when a kept one turns out closed.
#[allow(clippy::too_many_arguments)]
async fn one_hyper(
    direct: &Direct,
    home: Home<'_>,
    jar: Option<&JarCell>,
    hop: &Hop<'_>,
    cookie: Option<&HeaderValue>,
    mut conn: Conn,
    reused: bool,
    phases: &mut Phases,
) -> Result<Got, Failure> {
    let parsed = hop.parsed;
    let (response, first_byte_at) = send_hyper(
        direct,
        hop,
        cookie,
        &mut conn,
        reused,
        hop.method.is_idempotent(),
        phases,
    )
    .await?;
    let (parts, mut incoming) = response.into_parts();
    let status = parts.status;
    let mut kept = BytesMut::new();
    let mut body_len = 0u64;
    loop {
        let frame = match &mut conn {
            Conn::H1(h1) => h1.drive(incoming.frame()).await,
            Conn::H2(_) | Conn::Native(_) => incoming.frame().await,
        };
        match frame {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    body_len += data.len() as u64;
                    let room = BODY_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(e)) => {
                let class = match hyper_class(&e) {
                    RequestClass::Timeout => RequestClass::Timeout,
                    _ => RequestClass::Body,
                };
                return Err((class, conn::chain(&e), Some(status.as_u16())));
            }
            None => break,
        }
    }
    phases.transfer_us = Some(first_byte_at.elapsed().as_micros() as u64);
    let headers = LazyHeaders::parsed(parts.headers);
    if let Some(jar) = jar {
        jar.store_all(&parsed.origin.host, parsed.url.path(), &headers);
    }
    if conn.usable() {
        home.put(parsed.origin.clone(), conn);
    } else if !closes(headers.map()) {
        // The server closed a connection it had not said it would close: the next request
        // replaces it.
        phases.reopened += 1;
    }
    Ok(Got {
        status,
        headers,
        body: kept.freeze(),
        body_len,
    })
}

/// Sends `hop`'s request on a hyper connection (HTTP/1.1 under `client = "hyper"`, or HTTP/2)
/// and waits for its response's head: the response and when its head came (the phases' first
/// byte taken). A kept connection (`reused`) that turns out closed is replaced and the request
/// sent again when the server cannot have seen it, or when nothing of a response came back and
/// the request is `idempotent`. Both a whole exchange and a streamed one send this way.
pub(super) async fn send_hyper(
    direct: &Direct,
    hop: &Hop<'_>,
    cookie: Option<&HeaderValue>,
    conn: &mut Conn,
    mut reused: bool,
    idempotent: bool,
    phases: &mut Phases,
) -> Result<(hyper::Response<hyper::body::Incoming>, Instant), Failure> {
    let response = loop {
        let request = build(hop, cookie, matches!(conn, Conn::H2(_)));
        let sent_at = Instant::now();
        let result = match &mut *conn {
            Conn::H1(h1) => {
                let fut = h1.sender.send_request(request);
                h1.drive(fut).await
            }
            Conn::H2(sender) => match sender.ready().await {
                Ok(()) => sender.send_request(request).await,
                Err(e) => Err(e),
            },
            Conn::Native(_) => unreachable!("native connections are sent by the native path"),
        };
        match result {
            Ok(r) => {
                let now = Instant::now();
                phases.first_byte_us = Some((now - sent_at).as_micros() as u64);
                break (r, now);
            }
            // A kept connection the server closed before the request went out: open another
            // and send it there (the request never reached the server). When the close crossed
            // a request already written, nothing of a response came back; an idempotent request
            // is sent again, as browsers do.
            Err(e)
                if reused
                    && (e.is_canceled()
                        || e.is_closed()
                        || (e.is_incomplete_message() && idempotent)) =>
            {
                phases.reopened += 1;
                reused = false;
                *conn = open(direct, hop.parsed, phases).await?;
            }
            // Nothing of a response came back: the class `closed`, as on the native path.
            Err(e) if e.is_incomplete_message() || e.is_canceled() || e.is_closed() => {
                return Err((RequestClass::Closed, conn::chain(&e), None));
            }
            Err(e) => return Err((hyper_class(&e), conn::chain(&e), None)),
        }
    };
    if reused {
        phases.reused += 1;
    }
    Ok(response)
}

/// One request and response on a native connection (`reused`: kept from an earlier request).
///
/// A kept connection the server had closed is replaced and the request sent again when the
/// server cannot have seen it (its write failed, or the peek before a request that is not
/// idempotent found the close), or when nothing of a response came back and the method is
/// idempotent, as browsers do.
#[allow(clippy::too_many_arguments)]
async fn one_native(
    direct: &Direct,
    home: Home<'_>,
    jar: Option<&JarCell>,
    hop: &Hop<'_>,
    cookie: Option<&HeaderValue>,
    mut native: Native,
    mut reused: bool,
    phases: &mut Phases,
) -> Result<Got, Failure> {
    let parsed = hop.parsed;
    let idempotent = hop.method.is_idempotent();
    let reply = loop {
        if reused && !idempotent && native.peer_closed() {
            phases.reopened += 1;
            reused = false;
            native = open_native(direct, parsed, phases).await?;
        }
        let outgoing = Outgoing {
            method: hop.method,
            parsed,
            headers: hop.headers,
            body: &hop.body,
            credentials: hop.credentials,
            cookie,
            trace: hop.trace,
        };
        match native.exchange(&outgoing).await {
            Ok(reply) => break reply,
            Err(Failed::Unsent(_)) if reused => {}
            Err(Failed::ClosedBeforeResponse(_)) if reused && idempotent => {}
            Err(Failed::Unsent(message) | Failed::ClosedBeforeResponse(message)) => {
                return Err((RequestClass::Closed, message, None));
            }
            Err(Failed::Response(class, message, status)) => return Err((class, message, status)),
        }
        phases.reopened += 1;
        reused = false;
        native = open_native(direct, parsed, phases).await?;
    };
    if reused {
        phases.reused += 1;
    }
    phases.first_byte_us = Some((reply.head_at - reply.sent_at).as_micros() as u64);
    phases.transfer_us = Some(reply.head_at.elapsed().as_micros() as u64);
    let headers = LazyHeaders::raw(reply.head);
    if let Some(jar) = jar.filter(|_| reply.set_cookie) {
        jar.store_all(&parsed.origin.host, parsed.url.path(), &headers);
    }
    if native.is_reusable() {
        home.put(parsed.origin.clone(), Conn::Native(native));
    } else if !reply.announced_close {
        phases.reopened += 1;
    }
    Ok(Got {
        status: StatusCode::from_u16(reply.status).map_err(|_| {
            (
                RequestClass::Body,
                format!("invalid HTTP status code {}", reply.status),
                None,
            )
        })?,
        headers,
        body: reply.body,
        body_len: reply.body_len,
    })
}

pub(super) async fn open_native(
    direct: &Direct,
    parsed: &ParsedUrl,
    phases: &mut Phases,
) -> Result<Native, Failure> {
    match open(direct, parsed, phases).await? {
        Conn::Native(n) => Ok(n),
        // The server now negotiates HTTP/2: rare enough to fail this request rather than switch.
        _ => Err((
            RequestClass::Other,
            "the server switched protocols between connections".into(),
            None,
        )),
    }
}

pub(super) async fn open(
    direct: &Direct,
    parsed: &ParsedUrl,
    phases: &mut Phases,
) -> Result<Conn, Failure> {
    let mut times = OpenTimes::default();
    // Boxed: opening (DNS, connect, a TLS handshake, an HTTP/2 handshake) happens once per
    // connection, and its large future would otherwise be part of every request's.
    let conn = Box::pin(conn::open(
        &parsed.origin,
        &direct.tls,
        direct.local(),
        direct.native,
        &mut times,
    ))
    .await
    .map_err(|(class, message)| (class, message, None))?;
    phases.opened += 1;
    phases.dns_us = times.dns_us;
    phases.connect_us = Some(times.connect_us);
    phases.tls_us = times.tls_us;
    Ok(conn)
}

/// The hyper request of one hop.
pub(super) fn build(hop: &Hop<'_>, cookie: Option<&HeaderValue>, h2: bool) -> hyper::Request<Body> {
    let mut request = hyper::Request::new(Body::new(hop.body.clone()));
    *request.method_mut() = hop.method.clone();
    let parsed = hop.parsed;
    *request.uri_mut() = if h2 {
        parsed.uri.clone()
    } else {
        parsed.path_uri.clone()
    };
    let h = request.headers_mut();
    if !hop.headers.is_empty() {
        *h = hop.headers.clone();
    }
    if !h2 {
        h.insert(header::HOST, parsed.host_header.clone());
    }
    if !h.contains_key(header::ACCEPT) {
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    }
    if hop.credentials
        && let Some(auth) = &parsed.authorization
        && !h.contains_key(header::AUTHORIZATION)
    {
        h.insert(header::AUTHORIZATION, auth.clone());
    }
    if let Some(c) = cookie
        && !h.contains_key(header::COOKIE)
    {
        h.insert(header::COOKIE, c.clone());
    }
    if let Some(t) = hop.trace
        && let Ok(value) = HeaderValue::from_bytes(&t.value())
    {
        h.insert(TRACEPARENT, value);
    }
    request
}

/// Whether a response announced that its connection closes after it (`Connection: close`).
fn closes(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    })
}

/// The class of a hyper error once the connection is up.
pub(super) fn hyper_class(e: &hyper::Error) -> RequestClass {
    if e.is_timeout() {
        RequestClass::Timeout
    } else if e.is_user() {
        RequestClass::Other
    } else {
        RequestClass::Body
    }
}
