//! WebSocket (`ws` feature): `ctx.ws(url)` connects, and the connection's handshake and
//! request/reply exchanges are recorded as requests.
//!
//! Built on [`tokio-tungstenite`](https://docs.rs/tokio-tungstenite) (its handshake and framing;
//! the runtime makes the TCP connection itself, and for `wss://` the TLS connection with the
//! rustls configuration of its HTTP client: Mozilla's roots, or any certificate with
//! `danger_accept_invalid_certs = true`). Turn it on in the load test's package:
//!
//! ```toml
//! [dev-dependencies]
//! loadtest-runtime = { version = "0.1", features = ["ws"] }
//! ```
//!
//! What is recorded, through the recorder `ctx.measure` and the HTTP client use, so that each
//! shows wherever a request does (the per-name table, `p99(name)` and `error_rate(name)`
//! thresholds, JSON, JUnit, Markdown, HTML, CSV, interval logs, live `/metrics`, the merge of
//! shards, the `max_names` cap):
//!
//! - the handshake, as a request named `NAME.connect` (`NAME` is the connection's name, `ws`
//!   unless [`WsConnect::name`] sets one): its latency from the start of the TCP connection to
//!   the server's `101 Switching Protocols`, and its class;
//! - each exchange of [`WebSocket::request`], as a request under the name it is given: its
//!   latency from the start of sending the message to the arrival of the reply that matches it,
//!   its class, and its bytes (the payloads of the message sent and of the reply, as
//!   `bytes_sent` and `bytes_received`);
//! - every data message (text or binary) sent or received on the connection, exchanges
//!   included, in four custom counters: `NAME.messages_sent`, `NAME.messages_received`,
//!   `NAME.bytes_sent` and `NAME.bytes_received` (payload bytes; control frames are not
//!   messages). Custom counters are in the JSON report and add up in the merge of shards.
//!
//! The classes of a failed handshake or exchange: `connect` (the TCP connection could not be
//! made), `tls` (the TLS handshake of a `wss://` connection failed), `timeout` (the test's request `timeout` passed first), `closed` (the connection broke
//! or ended without a close frame), `http_4xx` and `http_5xx` (the handshake was answered with
//! that status, kept in the name's statuses), `ws_protocol` (a protocol error: a handshake
//! answered without a valid upgrade, a malformed frame, a text message that is not UTF-8, a
//! message over the size limit), `ws_close_normal` (the server closed with code 1000 or 1001, or
//! without a code, before the reply came) and `ws_close_error` (the server closed with any other
//! code: 1011 internal error, 1008 policy violation, an application's 4000...). The close code
//! and reason are in the error sample: `chat.echo: WsError: closed by the server with code 1011
//! (overloaded)`. Exchanges are not retried: a message is not known to be safe to send twice.

use crate::Ctx;
use crate::http::direct::{Stream, connector_with_alpn};
use crate::metrics::RequestClass;
use crate::outcome;
use crate::shared::TestShared;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;

pub use tokio_tungstenite::tungstenite::protocol::CloseFrame;
pub use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
pub use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

/// The connection name when [`WsConnect::name`] sets none.
pub const DEFAULT_NAME: &str = "ws";

/// A WebSocket connection to open, from [`Ctx::ws`]: name it, add headers, then `.await` it.
#[must_use = "a connection is made when it is awaited"]
pub struct WsConnect<'a> {
    ctx: &'a Ctx,
    url: String,
    name: String,
    headers: Vec<(String, String)>,
}

impl<'a> WsConnect<'a> {
    pub(crate) fn new(ctx: &'a Ctx, url: String) -> Self {
        WsConnect {
            ctx,
            url,
            name: DEFAULT_NAME.to_string(),
            headers: Vec::new(),
        }
    }

    /// Names the connection: its handshake is recorded as `NAME.connect`, its counters as
    /// `NAME.messages_sent` and the like. Default: `ws`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a header to the handshake request (`Authorization`, `Sec-WebSocket-Protocol`...).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Connects: the TCP connection and the handshake, bounded by the test's request `timeout`,
    /// recorded as a request named `NAME.connect`.
    pub async fn connect(self) -> Result<WebSocket, WsError> {
        let shared = self.ctx.shared.clone();
        let connect_name = format!("{}.connect", self.name);
        let started = Instant::now();
        let outcome = match tokio::time::timeout(
            shared.timeout,
            handshake(&self.url, &self.headers, shared.accept_invalid_certs),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(WsError::new(
                RequestClass::Timeout,
                format!("no handshake within the timeout of {:?}", shared.timeout),
            )),
        };
        let elapsed_us = started.elapsed().as_micros() as u64;
        let (class, status, failure) = match &outcome {
            Ok(_) => (RequestClass::Ok, None, None),
            Err(e) => (e.class, e.status, Some(outcome::sample(&connect_name, e))),
        };
        shared.metrics.with(|s| {
            outcome::record(
                s,
                &shared,
                &connect_name,
                class,
                elapsed_us,
                (0, 0),
                status,
                failure,
            );
        });
        let stream = outcome?;
        let counters = Counters {
            messages_sent: format!("{}.messages_sent", self.name).into(),
            messages_received: format!("{}.messages_received", self.name).into(),
            bytes_sent: format!("{}.bytes_sent", self.name).into(),
            bytes_received: format!("{}.bytes_received", self.name).into(),
        };
        Ok(WebSocket {
            shared,
            stream,
            counters,
            pending: VecDeque::new(),
        })
    }
}

impl<'a> IntoFuture for WsConnect<'a> {
    type Output = Result<WebSocket, WsError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.connect())
    }
}

/// The URL a WebSocket connects to: `ws://` and `wss://` as they are, `http://` as `ws://` and
/// `https://` as `wss://` (so that `ctx.ws(ctx.url("/chat"))` connects to the test's target).
fn ws_url(url: &str) -> Result<url::Url, WsError> {
    let mut parsed = url::Url::parse(url)
        .map_err(|e| WsError::new(RequestClass::Other, format!("invalid URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "ws" | "wss" => {}
        "http" | "https" => {
            let ws = if parsed.scheme() == "http" {
                "ws"
            } else {
                "wss"
            };
            parsed
                .set_scheme(ws)
                .map_err(|()| WsError::new(RequestClass::Other, format!("invalid URL {url:?}")))?;
        }
        other => {
            return Err(WsError::new(
                RequestClass::Other,
                format!("not a WebSocket URL (scheme {other}): {url}"),
            ));
        }
    }
    Ok(parsed)
}

/// The TCP connection, TLS for `wss://` (rustls with the Mozilla roots, as the HTTP client,
/// unless `danger_accept_invalid_certs`; ALPN `http/1.1`), and the WebSocket handshake.
async fn handshake(
    url: &str,
    headers: &[(String, String)],
    accept_invalid_certs: bool,
) -> Result<WebSocketStream<Stream>, WsError> {
    let url = ws_url(url)?;
    let tls = url.scheme() == "wss";
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let tcp = match url.host() {
        Some(url::Host::Domain(host)) => TcpStream::connect((host, port)).await,
        Some(url::Host::Ipv4(ip)) => TcpStream::connect((ip, port)).await,
        Some(url::Host::Ipv6(ip)) => TcpStream::connect((ip, port)).await,
        None => {
            return Err(WsError::new(
                RequestClass::Other,
                format!("no host in {url}"),
            ));
        }
    }
    .map_err(|e| WsError::new(outcome::io_class(&e), format!("connecting to {url}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let stream = if tls {
        let connector = connector_with_alpn(accept_invalid_certs, &[b"http/1.1"])
            .map_err(|e| WsError::new(RequestClass::Tls, format!("TLS configuration: {e}")))?;
        let name = match url.host() {
            Some(url::Host::Ipv4(ip)) => ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
            Some(url::Host::Ipv6(ip)) => ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
            _ => ServerName::try_from(url.host_str().unwrap_or_default().to_string()).map_err(
                |e| WsError::new(RequestClass::Tls, format!("invalid TLS server name: {e}")),
            )?,
        };
        let s = connector.connect(name, tcp).await.map_err(|e| {
            let class = match e.kind() {
                std::io::ErrorKind::InvalidData => RequestClass::Tls,
                _ => outcome::io_class(&e),
            };
            WsError::new(class, format!("TLS handshake with {url}: {e}"))
        })?;
        Stream::Tls(Box::new(s))
    } else {
        Stream::Plain(tcp)
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(WsError::from_tungstenite)?;
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| WsError::new(RequestClass::Other, format!("header name {name:?}: {e}")))?;
        let value = tungstenite::http::HeaderValue::from_str(value)
            .map_err(|e| WsError::new(RequestClass::Other, format!("header {name}: {e}")))?;
        request.headers_mut().append(name, value);
    }
    let (stream, _response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(WsError::from_tungstenite)?;
    Ok(stream)
}

/// The custom counters of one connection's messages.
struct Counters {
    messages_sent: Box<str>,
    messages_received: Box<str>,
    bytes_sent: Box<str>,
    bytes_received: Box<str>,
}

/// An open WebSocket connection, from [`Ctx::ws`]. It may outlive the iteration: it records into
/// its test's metrics, and a closed-model user can keep one connection across its iterations in
/// its state.
///
/// ```no_run
/// # use loadtest_runtime::prelude::*;
/// # use loadtest_runtime::ws::WebSocket;
/// #[load_test(users = 10)]
/// async fn feed(ctx: &Ctx) -> Result<()> {
///     // Taken out of the user's state (connected on its first iteration), put back after.
///     let mut ws = match ctx.with_state(|s: &mut Option<WebSocket>| s.take()) {
///         Some(ws) => ws,
///         None => ctx.ws(ctx.url("/feed")).name("feed").await?,
///     };
///     ws.request("feed.ping", "ping", |m| m.to_text().is_ok_and(|t| t == "pong"))
///         .await?;
///     ctx.with_state(|s: &mut Option<WebSocket>| *s = Some(ws));
///     Ok(())
/// }
/// # loadtest_runtime::main!();
/// ```
pub struct WebSocket {
    shared: Arc<TestShared>,
    stream: WebSocketStream<Stream>,
    counters: Counters,
    /// Messages that arrived while [`WebSocket::request`] awaited another reply, for
    /// [`WebSocket::recv`].
    pending: VecDeque<Message>,
}

impl WebSocket {
    /// Sends a message (text from a `String` or `&str`, binary from a `Vec<u8>` or [`Bytes`]),
    /// counted in `NAME.messages_sent` and `NAME.bytes_sent`.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), WsError> {
        let message = message.into();
        let len = data_len(&message);
        self.stream
            .send(message)
            .await
            .map_err(WsError::from_tungstenite)?;
        if let Some(len) = len {
            self.count_sent(len);
        }
        Ok(())
    }

    /// The next data message (text or binary), counted in `NAME.messages_received` and
    /// `NAME.bytes_received`: one that arrived during an earlier [`WebSocket::request`] without
    /// matching it, or the next from the server. Pings are answered and pongs skipped. A close
    /// from the server is an error of class `ws_close_normal` or `ws_close_error` with its code
    /// ([`WsError::close_code`]). Waits as long as it takes: wrap it in `tokio::time::timeout`
    /// to bound it.
    pub async fn recv(&mut self) -> Result<Message, WsError> {
        if let Some(m) = self.pending.pop_front() {
            return Ok(m);
        }
        self.next_data().await
    }

    /// Sends `message` and waits for the reply that `matches` accepts, recorded as one request
    /// named `name`: its latency from the start of the send to that reply, its class, and the
    /// payload bytes of both. Other data messages arriving meanwhile are kept for
    /// [`WebSocket::recv`]. Bounded by the test's request `timeout` (class `timeout`); not
    /// retried.
    ///
    /// ```no_run
    /// # use loadtest_runtime::prelude::*;
    /// # use loadtest_runtime::ws::Message;
    /// # #[load_test]
    /// # async fn t(ctx: &Ctx) -> Result<()> {
    /// let mut ws = ctx.ws("ws://127.0.0.1:9001/quotes").name("quotes").await?;
    /// let reply = ws
    ///     .request("quote.get", r#"{"id":7,"symbol":"ACME"}"#, |m: &Message| {
    ///         m.to_text().is_ok_and(|t| t.starts_with(r#"{"id":7,"#))
    ///     })
    ///     .await?;
    /// # drop(reply);
    /// # Ok(())
    /// # }
    /// # loadtest_runtime::main!();
    /// ```
    pub async fn request<F>(
        &mut self,
        name: &str,
        message: impl Into<Message>,
        mut matches: F,
    ) -> Result<Message, WsError>
    where
        F: FnMut(&Message) -> bool,
    {
        let message = message.into();
        let sent = data_len(&message).unwrap_or(0);
        let timeout = self.shared.timeout;
        let started = Instant::now();
        let exchange = async {
            self.send(message).await?;
            loop {
                let m = self.next_data().await?;
                if matches(&m) {
                    break Ok::<Message, WsError>(m);
                }
                self.pending.push_back(m);
            }
        };
        let outcome = match tokio::time::timeout(timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(WsError::new(
                RequestClass::Timeout,
                format!("no matching reply within the timeout of {timeout:?}"),
            )),
        };
        let elapsed_us = started.elapsed().as_micros() as u64;
        let (class, received, failure) = match &outcome {
            Ok(reply) => (RequestClass::Ok, data_len(reply).unwrap_or(0) as u64, None),
            Err(e) => (e.class, 0, Some(outcome::sample(name, e))),
        };
        let shared = &*self.shared;
        shared.metrics.with(|s| {
            outcome::record(
                s,
                shared,
                name,
                class,
                elapsed_us,
                (sent as u64, received),
                None,
                failure,
            );
        });
        outcome
    }

    /// Closes the connection: sends a close frame with code 1000 (normal) and waits, within the
    /// test's request `timeout`, for the server's close frame. Dropping a `WebSocket` instead ends the TCP
    /// connection without a close handshake.
    pub async fn close(mut self) -> Result<(), WsError> {
        let timeout = self.shared.timeout;
        let closing = async {
            match self.stream.close(None).await {
                Ok(()) | Err(tungstenite::Error::ConnectionClosed) => {}
                Err(e) => return Err(WsError::from_tungstenite(e)),
            }
            // The server's close frame (or the end of the stream) ends the handshake: what the
            // connection does after it (a TLS peer that drops it without `close_notify`) is not
            // waited for. Data messages still arriving before it are counted.
            while let Some(next) = self.stream.next().await {
                match next {
                    Ok(Message::Close(_)) => break,
                    Ok(m) => {
                        if let Some(len) = data_len(&m) {
                            self.count_received(len);
                        }
                    }
                    Err(tungstenite::Error::ConnectionClosed) => break,
                    Err(e) => return Err(WsError::from_tungstenite(e)),
                }
            }
            Ok(())
        };
        tokio::time::timeout(timeout, closing)
            .await
            .unwrap_or_else(|_| {
                Err(WsError::new(
                    RequestClass::Timeout,
                    format!("no close from the server within the timeout of {timeout:?}"),
                ))
            })
    }

    /// The next data message from the stream, counted.
    async fn next_data(&mut self) -> Result<Message, WsError> {
        loop {
            let next = self.stream.next().await;
            match next {
                None => {
                    return Err(WsError::new(
                        RequestClass::Closed,
                        "the connection ended".into(),
                    ));
                }
                Some(Err(e)) => return Err(WsError::from_tungstenite(e)),
                Some(Ok(Message::Close(frame))) => return Err(WsError::closed_by(frame)),
                Some(Ok(m)) => {
                    if let Some(len) = data_len(&m) {
                        self.count_received(len);
                        return Ok(m);
                    }
                    // Ping (answered by tungstenite), pong, raw frame: not messages.
                }
            }
        }
    }

    fn count_sent(&self, len: usize) {
        let c = &self.counters;
        self.shared.metrics.with(|s| {
            s.count(&c.messages_sent, 1);
            s.count(&c.bytes_sent, len as u64);
        });
    }

    fn count_received(&self, len: usize) {
        let c = &self.counters;
        self.shared.metrics.with(|s| {
            s.count(&c.messages_received, 1);
            s.count(&c.bytes_received, len as u64);
        });
    }
}

/// A data message's payload length; `None` for control frames.
fn data_len(m: &Message) -> Option<usize> {
    match m {
        Message::Text(t) => Some(t.len()),
        Message::Binary(b) => Some(b.len()),
        _ => None,
    }
}

/// Why a WebSocket connection, send, receive or exchange failed, with its report class.
#[derive(Debug)]
pub struct WsError {
    pub(crate) class: RequestClass,
    status: Option<u16>,
    close: Option<(u16, String)>,
    message: String,
    source: Option<tungstenite::Error>,
}

impl WsError {
    fn new(class: RequestClass, message: String) -> WsError {
        WsError {
            class,
            status: None,
            close: None,
            message,
            source: None,
        }
    }

    /// The class this error is counted under: `connect`, `timeout`, `closed`, `tls`,
    /// `http_4xx`, `http_5xx`, `ws_protocol`, `ws_close_normal`, `ws_close_error` or `other`.
    pub fn class(&self) -> &'static str {
        self.class.as_str()
    }

    /// The close code, when the server closed the connection with a close frame that had one.
    pub fn close_code(&self) -> Option<u16> {
        self.close.as_ref().map(|c| c.0)
    }

    /// The HTTP status, when the server answered the handshake with one other than 101.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The server closed the connection with `frame` (or without a code).
    fn closed_by(frame: Option<CloseFrame>) -> WsError {
        match frame {
            None => WsError::new(
                RequestClass::WsCloseNormal,
                "closed by the server without a code".into(),
            ),
            Some(frame) => {
                let code = u16::from(frame.code);
                let class = match code {
                    1000 | 1001 | 1005 => RequestClass::WsCloseNormal,
                    _ => RequestClass::WsCloseError,
                };
                let reason = frame.reason.as_str().to_string();
                let message = if reason.is_empty() {
                    format!("closed by the server with code {code}")
                } else {
                    format!("closed by the server with code {code} ({reason})")
                };
                WsError {
                    close: Some((code, reason)),
                    ..WsError::new(class, message)
                }
            }
        }
    }

    fn from_tungstenite(e: tungstenite::Error) -> WsError {
        use tungstenite::Error as E;
        let mut status = None;
        let class = match &e {
            E::ConnectionClosed | E::AlreadyClosed => RequestClass::Closed,
            E::Io(io) => outcome::io_class(io),
            E::Tls(_) => RequestClass::Tls,
            E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => RequestClass::Closed,
            E::Protocol(_) | E::Capacity(_) | E::Utf8(_) | E::AttackAttempt => {
                RequestClass::WsProtocol
            }
            E::WriteBufferFull(_) => RequestClass::Other,
            E::Url(_) | E::HttpFormat(_) => RequestClass::Other,
            E::Http(response) => {
                let code = response.status().as_u16();
                status = Some(code);
                match RequestClass::of_status(code) {
                    // Answered, but not with an upgrade: the handshake's protocol failed.
                    RequestClass::Ok => RequestClass::WsProtocol,
                    class => class,
                }
            }
        };
        WsError {
            status,
            message: e.to_string(),
            source: Some(e),
            ..WsError::new(class, String::new())
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_are_classes() {
        let close = |code: u16| {
            WsError::closed_by(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "why".into(),
            }))
        };
        for code in [1000, 1001] {
            assert_eq!(close(code).class, RequestClass::WsCloseNormal);
        }
        for code in [1002, 1003, 1007, 1008, 1009, 1011, 1013, 4000] {
            let e = close(code);
            assert_eq!(e.class, RequestClass::WsCloseError, "{code}");
            assert_eq!(e.close_code(), Some(code));
            assert_eq!(
                e.to_string(),
                format!("closed by the server with code {code} (why)")
            );
        }
        assert_eq!(WsError::closed_by(None).class, RequestClass::WsCloseNormal);
        assert_eq!(
            crate::measure::class_of(&close(1011)),
            RequestClass::WsCloseError,
            "ctx.measure reads a WsError's class"
        );
        let boxed: crate::Error = Box::new(close(1008));
        assert_eq!(crate::measure::class_of(&boxed), RequestClass::WsCloseError);
    }

    #[test]
    fn urls_map_to_websocket_schemes() {
        assert_eq!(
            ws_url("http://127.0.0.1:8080/chat").unwrap().as_str(),
            "ws://127.0.0.1:8080/chat"
        );
        assert_eq!(ws_url("ws://h/x?q=1").unwrap().as_str(), "ws://h/x?q=1");
        assert_eq!(ws_url("ftp://h/").unwrap_err().class, RequestClass::Other);
        assert_eq!(ws_url("https://h/chat").unwrap().as_str(), "wss://h/chat");
        assert_eq!(ws_url("wss://h/").unwrap().as_str(), "wss://h/");
    }
}
