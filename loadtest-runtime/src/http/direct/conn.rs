//! One connection: opened (DNS, TCP connect, TLS handshake, each timed), then HTTP/1.1 or, when
//! ALPN negotiates it, HTTP/2.
//!
//! An HTTP/1.1 connection is driven inside the task that sends on it: by the native exchange
//! (`native.rs`), or, under `client = "hyper"`, by polling its hyper `Connection` future together
//! with the response, so a request costs no hand-off to another task.
//! An HTTP/2 connection multiplexes streams from several requests at once; its driver runs in a
//! task of its own and requests share its `SendRequest`.

use super::native::Native;
use super::stream::Stream;
use crate::http::parsed_url::Origin;
use crate::metrics::RequestClass;
use bytes::Bytes;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::{Future, poll_fn};
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// The request body type both protocols send.
pub(crate) type Body = http_body_util::Full<Bytes>;

type H1Driver = http1::Connection<TokioIo<Stream>, Body>;

/// An HTTP/1.1 connection and the future that drives it.
pub(crate) struct H1 {
    pub(crate) sender: http1::SendRequest<Body>,
    /// `None` once the connection has ended.
    driver: Option<Pin<Box<H1Driver>>>,
}

impl H1 {
    /// Polls the connection once without waiting, so that a close already seen by the socket is
    /// noticed; then says whether it can take a request.
    pub(crate) fn usable(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        self.poll_driver(&mut cx);
        self.driver.is_some() && self.sender.is_ready()
    }

    fn poll_driver(&mut self, cx: &mut Context<'_>) {
        if let Some(d) = &mut self.driver
            && d.as_mut().poll(cx).is_ready()
        {
            // Dropping the driver fails whatever still waits on it.
            self.driver = None;
        }
    }

    /// Runs `fut` (a response or a body frame of this connection) while driving the connection.
    pub(crate) async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(v);
            }
            if self.driver.is_some() {
                self.poll_driver(cx);
                if self.driver.is_none() {
                    return fut.as_mut().poll(cx);
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// An open connection.
pub(crate) enum Conn {
    /// HTTP/1.1, exchanged in place (`client = "native"`).
    Native(Native),
    /// HTTP/1.1 through hyper (`client = "hyper"`).
    H1(H1),
    H2(http2::SendRequest<Body>),
}

impl Conn {
    /// Whether the connection can take another request.
    pub(crate) fn usable(&mut self) -> bool {
        match self {
            Conn::Native(n) => n.is_reusable(),
            Conn::H1(h) => h.usable(),
            Conn::H2(s) => !s.is_closed(),
        }
    }
}

/// Phase timings of opening a connection, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OpenTimes {
    /// Name resolution; `None` for an IP address.
    pub(crate) dns_us: Option<u64>,
    pub(crate) connect_us: u64,
    /// `None` for plain HTTP.
    pub(crate) tls_us: Option<u64>,
}

/// Why a connection could not be opened: the class and the message (without the request).
pub(crate) type OpenError = (RequestClass, String);

/// Opens a connection to `origin`, from `local` when given; an HTTP/1.1 one is driven natively
/// when `native` is set, by hyper otherwise.
pub(crate) async fn open(
    origin: &Origin,
    tls: &tokio_rustls::TlsConnector,
    local: Option<IpAddr>,
    native: bool,
    times: &mut OpenTimes,
) -> Result<Conn, OpenError> {
    let addrs: Vec<SocketAddr> = match origin.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, origin.port)],
        Err(_) => {
            let t = Instant::now();
            let found = tokio::net::lookup_host((&*origin.host, origin.port))
                .await
                .map_err(|e| {
                    (
                        RequestClass::Connect,
                        format!("dns error: cannot resolve {}: {e}", origin.host),
                    )
                })?;
            times.dns_us = Some(t.elapsed().as_micros() as u64);
            let v: Vec<SocketAddr> = found.collect();
            if v.is_empty() {
                return Err((
                    RequestClass::Connect,
                    format!("dns error: {} has no address", origin.host),
                ));
            }
            v
        }
    };
    let t = Instant::now();
    let mut last = None;
    let mut tcp = None;
    for addr in addrs {
        match connect(addr, local).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match tcp {
        Some(s) => s,
        None => {
            let e = last.expect("at least one address was tried");
            return Err((RequestClass::Connect, connect_message(&e)));
        }
    };
    times.connect_us = t.elapsed().as_micros() as u64;
    let _ = tcp.set_nodelay(true);
    let (stream, h2) = if origin.tls {
        let t = Instant::now();
        let name = match origin.host.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
            Err(_) => rustls::pki_types::ServerName::try_from(origin.host.to_string())
                .map_err(|e| (RequestClass::Tls, format!("invalid TLS server name: {e}")))?,
        };
        let s = tls.connect(name, tcp).await.map_err(|e| {
            (
                RequestClass::Tls,
                format!("tls handshake failed: {}", chain(&e)),
            )
        })?;
        times.tls_us = Some(t.elapsed().as_micros() as u64);
        let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
        (Stream::Tls(Box::new(s)), h2)
    } else {
        (Stream::Plain(tcp), false)
    };
    if native && !h2 {
        return Ok(Conn::Native(Native::new(stream)));
    }
    let io = TokioIo::new(stream);
    if h2 {
        let (sender, driver) = http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await
            .map_err(|e| {
                (
                    RequestClass::Connect,
                    format!("http2 handshake failed: {}", chain(&e)),
                )
            })?;
        tokio::spawn(async move {
            let _ = driver.await;
        });
        Ok(Conn::H2(sender))
    } else {
        let (sender, driver) = http1::Builder::new().handshake(io).await.map_err(|e| {
            (
                RequestClass::Connect,
                format!("http1 handshake failed: {}", chain(&e)),
            )
        })?;
        Ok(Conn::H1(H1 {
            sender,
            driver: Some(Box::pin(driver)),
        }))
    }
}

async fn connect(addr: SocketAddr, local: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect(addr).await;
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(addr).await
}

/// A connect error's message, with the fix when the generator ran out of something.
pub(crate) fn connect_message(e: &std::io::Error) -> String {
    let base = format!("tcp connect error: {e}");
    match e.raw_os_error() {
        // EADDRNOTAVAIL: every ephemeral port of this source address to this target is taken.
        Some(99) => format!(
            "{base}: out of ephemeral ports (each source address reaches one target address and port with at most ~64k connections); spread connections over more source addresses with local_addresses, or widen net.ipv4.ip_local_port_range (`cargo loadtest doctor` shows the limits)"
        ),
        _ => base,
    }
}

/// An error and its sources, one after the other.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}
