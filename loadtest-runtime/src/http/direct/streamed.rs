//! A request whose response is read as it arrives (`Request::stream`) on a per-connection
//! transport: the request is sent as any other (a connection from its home, a kept one that the
//! server closed replaced), only the response's head is read, and the body is handed out piece
//! by piece until its end, when the connection goes back to its home if it can carry another
//! request. Redirects are not followed: a stream is one response.

use super::conn::Conn;
use super::exchange::{Direct, Exchange, Failure, Hop, hyper_class, open, open_native, send_hyper};
use super::native::{Failed, Native, Outgoing, StreamHead};
use super::set::Home;
use crate::http::cookies::JarCell;
use crate::http::parsed_url::Origin;
use crate::http::response::LazyHeaders;
use crate::metrics::{Phases, RequestClass};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use reqwest::StatusCode;
use std::sync::Arc;

/// A streamed response's head, and its body still to read.
pub(crate) struct Started<'h> {
    pub(crate) status: StatusCode,
    pub(crate) headers: LazyHeaders,
    pub(crate) body: Streaming<'h>,
}

/// The body of a streamed response on its connection, which goes back to `home` once the body
/// has been read to its end (a body left unread closes its connection).
pub(crate) struct Streaming<'h> {
    home: Home<'h>,
    origin: Arc<Origin>,
    body: Body,
}

enum Body {
    Native(Box<Native>, StreamHead),
    Hyper(Conn, hyper::body::Incoming, u16),
    Done,
}

impl Streaming<'_> {
    /// The body's next piece as it arrived; `None` at its end.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, Failure> {
        let got = match &mut self.body {
            Body::Done => return Ok(None),
            Body::Native(native, head) => match native.next_chunk(head).await {
                Ok(got) => got,
                Err(Failed::Response(class, message, status)) => {
                    self.body = Body::Done;
                    return Err((class, message, status));
                }
                Err(Failed::Unsent(message) | Failed::ClosedBeforeResponse(message)) => {
                    self.body = Body::Done;
                    return Err((RequestClass::Body, message, None));
                }
            },
            Body::Hyper(conn, incoming, status) => loop {
                let frame = match conn {
                    Conn::H1(h1) => h1.drive(incoming.frame()).await,
                    Conn::H2(_) | Conn::Native(_) => incoming.frame().await,
                };
                match frame {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => break Some(data),
                        // Trailers, or an empty frame: nothing to hand out.
                        _ => {}
                    },
                    Some(Err(e)) => {
                        let class = match hyper_class(&e) {
                            RequestClass::Timeout => RequestClass::Timeout,
                            _ => RequestClass::Body,
                        };
                        let status = Some(*status);
                        self.body = Body::Done;
                        return Err((class, super::conn::chain(&e), status));
                    }
                    None => break None,
                }
            },
        };
        if got.is_none() {
            // The end of the body: the connection goes home if it can carry another request.
            let kept = match std::mem::replace(&mut self.body, Body::Done) {
                Body::Native(native, _) => native.is_reusable().then(|| Conn::Native(*native)),
                Body::Hyper(mut conn, _, _) => conn.usable().then_some(conn),
                Body::Done => None,
            };
            if let Some(conn) = kept {
                self.home.put(self.origin.clone(), conn);
            }
        }
        Ok(got)
    }
}

/// Sends a request and reads its response's head; the body is left to [`Streaming::next`].
pub(crate) async fn start<'h>(
    direct: &Direct,
    home: Home<'h>,
    jar: Option<&JarCell>,
    ex: Exchange<'_>,
    phases: &mut Phases,
) -> Result<Started<'h>, Failure> {
    let parsed = ex.parsed;
    let hop = Hop {
        parsed,
        method: ex.method,
        headers: ex.headers,
        body: ex.body.clone(),
        credentials: true,
        trace: ex.trace,
    };
    let taken = home.take(&parsed.origin);
    phases.reopened += taken.closed;
    let cookie =
        jar.and_then(|j| j.header(&parsed.origin.host, parsed.url.path(), parsed.origin.tls));
    let mut reused = taken.conn.is_some();
    let mut conn = match taken.conn {
        Some(c) => c,
        None => open(direct, parsed, phases).await?,
    };
    let idempotent = hop.method.is_idempotent();
    if let Conn::Native(native) = conn {
        let mut native = Box::new(native);
        let head = loop {
            if reused && !idempotent && native.peer_closed() {
                phases.reopened += 1;
                reused = false;
                *native = open_native(direct, parsed, phases).await?;
            }
            let outgoing = Outgoing {
                method: hop.method,
                parsed,
                headers: hop.headers,
                body: &hop.body,
                credentials: true,
                cookie: cookie.as_ref(),
                trace: hop.trace,
            };
            match native.start_stream(&outgoing).await {
                Ok(head) => break head,
                Err(Failed::Unsent(_)) if reused => {}
                Err(Failed::ClosedBeforeResponse(_)) if reused && idempotent => {}
                Err(Failed::Unsent(message) | Failed::ClosedBeforeResponse(message)) => {
                    return Err((RequestClass::Closed, message, None));
                }
                Err(Failed::Response(class, message, status)) => {
                    return Err((class, message, status));
                }
            }
            phases.reopened += 1;
            reused = false;
            *native = open_native(direct, parsed, phases).await?;
        };
        if reused {
            phases.reused += 1;
        }
        phases.first_byte_us = Some((head.head_at - head.sent_at).as_micros() as u64);
        let status = StatusCode::from_u16(head.status).map_err(|_| {
            (
                RequestClass::Body,
                format!("invalid HTTP status code {}", head.status),
                None,
            )
        })?;
        let headers = LazyHeaders::raw(head.head.clone());
        if let Some(jar) = jar.filter(|_| head.set_cookie) {
            jar.store_all(&parsed.origin.host, parsed.url.path(), &headers);
        }
        let mut body = Streaming {
            home,
            origin: parsed.origin.clone(),
            body: Body::Native(native, head),
        };
        // An empty body has ended already: the connection goes home at once.
        if status_has_no_body(&body) {
            body.next().await?;
        }
        return Ok(Started {
            status,
            headers,
            body,
        });
    }
    let (response, _first_byte_at) = send_hyper(
        direct,
        &hop,
        cookie.as_ref(),
        &mut conn,
        reused,
        idempotent,
        phases,
    )
    .await?;
    let (parts, incoming) = response.into_parts();
    let headers = LazyHeaders::parsed(parts.headers);
    if let Some(jar) = jar {
        jar.store_all(&parsed.origin.host, parsed.url.path(), &headers);
    }
    Ok(Started {
        status: parts.status,
        headers,
        body: Streaming {
            home,
            origin: parsed.origin.clone(),
            body: Body::Hyper(conn, incoming, parts.status.as_u16()),
        },
    })
}

/// Whether a native stream's body has ended with its head (no body at all).
fn status_has_no_body(s: &Streaming<'_>) -> bool {
    matches!(&s.body, Body::Native(_, head) if head.is_done())
}
