//! The dashboard's HTTP side, a server of its own (the metrics endpoint answers one request per
//! connection on one thread; a page that streams needs connections that stay open). One thread
//! accepts; each connection gets a thread, at most [`MAX_CONNECTIONS`] at once (more are
//! answered 503 at once). It speaks just enough HTTP/1.1:
//!
//! - `GET /`: the page as it stands ([`Frame::document`]);
//! - `GET /events`: server-sent events, one `frame` per update, until the final frame;
//! - `POST /stop`: ends the run as Ctrl-C does (403 in read-only mode).
//!
//! With a token, every request must carry it (`?token=` or `Authorization: Bearer`); without,
//! 401. Two guards keep other web pages out of a loopback dashboard (which has no token): a
//! request must name the dashboard by an address (`Host: 127.0.0.1:PORT`, `[::1]`, `localhost`,
//! or the address it listens on), never by another domain name (a page of another site whose
//! name was made to resolve to 127.0.0.1 cannot read it), and `POST /stop` must carry the header
//! [`STOP_HEADER`], which a page of another origin cannot send without a preflight this server
//! never grants (403 either way).

use super::access::Access;
use super::page::Frame;
use crate::errors::CliError;
use crate::signals::Interrupt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most connections served at once (viewers' streams and single requests together).
pub(crate) const MAX_CONNECTIONS: usize = 16;

/// How long a client may take to send its request, and to take a write.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest request head read.
const MAX_HEAD: u64 = 16 * 1024;

/// A comment line sent to an idle stream this often, so proxies keep it open and a gone viewer
/// is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The header the page's Stop control sends with `POST /stop`.
pub(crate) const STOP_HEADER: &str = "X-Loadtest-Stop";

/// The policy the page runs under: its own inline style and script, nothing from elsewhere.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

/// What viewers are shown, and how far each stream has got.
#[derive(Default)]
struct Published {
    /// Incremented on every new frame.
    version: u64,
    frame: Option<Arc<Frame>>,
    /// The latest frame as one server-sent event.
    event: Arc<String>,
    /// Per open stream, the version it was last sent.
    streams: Vec<(u64, u64)>,
    next_stream: u64,
}

/// The frame and its watchers, shared by the reporter and the connection threads.
#[derive(Default)]
struct Board {
    published: Mutex<Published>,
    changed: Condvar,
}

impl Board {
    fn lock(&self) -> std::sync::MutexGuard<'_, Published> {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The listening dashboard.
pub(crate) struct DashboardServer {
    /// Where it listens (the port the system chose, for port 0).
    pub(crate) addr: SocketAddr,
    board: Arc<Board>,
}

impl DashboardServer {
    /// Binds `access.addr` (a port in use is a usage error before anything is built) and starts
    /// answering; a Stop sets `interrupt`.
    pub(crate) fn start(access: Access, interrupt: Interrupt) -> Result<DashboardServer, CliError> {
        let listener = TcpListener::bind(access.addr).map_err(|e| {
            CliError::Usage(format!(
                "--dashboard {}: cannot listen there ({e}); give a free port, or 0 to let the system choose",
                access.addr
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(CliError::io("cannot read the dashboard listener's address"))?;
        let board = Arc::new(Board::default());
        let shared = Arc::new(Shared {
            board: board.clone(),
            access,
            interrupt,
            connections: AtomicUsize::new(0),
        });
        std::thread::Builder::new()
            .name("dashboard".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    accept(stream, &shared);
                }
            })
            .map_err(CliError::io("cannot start the dashboard listener"))?;
        Ok(DashboardServer { addr, board })
    }

    /// Shows `frame` to every viewer from now on.
    pub(crate) fn publish(&self, frame: Frame) {
        let mut p = self.board.lock();
        p.version += 1;
        p.event = Arc::new(frame.event());
        p.frame = Some(Arc::new(frame));
        drop(p);
        self.board.changed.notify_all();
    }

    /// Waits until every open stream has been sent the latest frame, for at most `limit`;
    /// returns how many streams were open and whether all of them got it.
    pub(crate) fn wait_for_viewers(&self, limit: Duration) -> (usize, bool) {
        let start = Instant::now();
        let mut p = self.board.lock();
        let open = p.streams.len();
        loop {
            let version = p.version;
            if p.streams.iter().all(|(_, sent)| *sent >= version) {
                return (open, true);
            }
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return (open, false);
            }
            p = self
                .board
                .changed
                .wait_timeout(p, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// What every connection thread reads.
struct Shared {
    board: Arc<Board>,
    access: Access,
    interrupt: Interrupt,
    connections: AtomicUsize,
}

/// Serves a connection on a thread of its own, or refuses it when too many are open.
fn accept(stream: TcpStream, shared: &Arc<Shared>) {
    if shared.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        shared.connections.fetch_sub(1, Ordering::SeqCst);
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let _ = respond(
            stream,
            "503 Service Unavailable",
            "text/plain; charset=utf-8",
            "too many dashboard connections; close a tab and reload\n",
            true,
        );
        return;
    }
    let s = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("dashboard-connection".into())
        .spawn(move || {
            let _ = serve(stream, &s);
            s.connections.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        shared.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request's head, as far as the dashboard reads it.
struct Request {
    method: String,
    path: String,
    token: Option<String>,
    /// The `Host` header's host, without the port.
    host: Option<String>,
    /// The request carries [`STOP_HEADER`].
    stop_header: bool,
}

/// The host of a `Host` header value (`127.0.0.1:8080`, `[::1]:8080`, `localhost`).
fn host_of(value: &str) -> String {
    let v = value.trim();
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    v.rsplit_once(':')
        .map_or(v, |(h, _)| h)
        .to_ascii_lowercase()
}

/// Whether `host` names the dashboard by an address or as `localhost`, not by a domain name.
fn is_address(host: &str, listening: SocketAddr) -> bool {
    host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| {
            ip.is_loopback() || ip == listening.ip() || !listening.ip().is_loopback()
        })
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_HEAD);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let (mut bearer, mut host, mut stop_header) = (None, None, false);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("authorization")
            && let Some(t) = value.trim().strip_prefix("Bearer ")
        {
            bearer = Some(t.trim().to_string());
        } else if name.eq_ignore_ascii_case("host") {
            host = Some(host_of(value));
        } else if name.eq_ignore_ascii_case(STOP_HEADER) {
            stop_header = true;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let from_query = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_string);
    Ok(Request {
        method,
        path: path.to_string(),
        token: bearer.or(from_query),
        host,
        stop_header,
    })
}

fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let request = read_request(&stream)?;
    let head = request.method == "HEAD";
    if !shared.access.admits(request.token.as_deref()) {
        return respond(
            stream,
            "401 Unauthorized",
            "text/plain; charset=utf-8",
            "this dashboard needs its token: open it with ?token=TOKEN (the one given to --dashboard-token or printed at the start)\n",
            head,
        );
    }
    if let Some(host) = &request.host
        && !is_address(host, shared.access.addr)
    {
        return respond(
            stream,
            "403 Forbidden",
            "text/plain; charset=utf-8",
            "open the dashboard by its address (http://127.0.0.1:PORT/), not by a domain name\n",
            head,
        );
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/stop") if !request.stop_header => respond(
            stream,
            "403 Forbidden",
            "text/plain; charset=utf-8",
            "POST /stop needs the X-Loadtest-Stop header (the page's Stop control sends it)\n",
            false,
        ),
        ("GET" | "HEAD", "/") => {
            // A frame is published as the server starts, so there is always one.
            let frame = shared.board.lock().frame.clone();
            let page = frame.map_or_else(String::new, |f| f.document(!shared.access.read_only));
            respond(stream, "200 OK", "text/html; charset=utf-8", &page, head)
        }
        ("GET", "/events") => stream_frames(stream, &shared.board),
        ("POST", "/stop") if shared.access.read_only => respond(
            stream,
            "403 Forbidden",
            "text/plain; charset=utf-8",
            "this dashboard is read-only (--dashboard-read-only)\n",
            false,
        ),
        ("POST", "/stop") => {
            shared.interrupt.trigger();
            respond(
                stream,
                "202 Accepted",
                "text/plain; charset=utf-8",
                "stopping: the run ends as on Ctrl-C, with every report written\n",
                false,
            )
        }
        ("GET" | "HEAD", _) => respond(
            stream,
            "404 Not Found",
            "text/plain; charset=utf-8",
            "the dashboard serves /, /events and POST /stop\n",
            head,
        ),
        _ => respond(
            stream,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "GET / or /events, POST /stop\n",
            false,
        ),
    }
}

fn respond(
    mut out: TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
    head_only: bool,
) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nContent-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if !head_only {
        out.write_all(body.as_bytes())?;
    }
    out.flush()
}

/// Streams every new frame until the final one has been sent, the viewer goes, or a write
/// stalls for [`IO_TIMEOUT`].
fn stream_frames(mut out: TcpStream, board: &Board) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nretry: 1000\n\n",
    )?;
    out.flush()?;
    let id = {
        let mut p = board.lock();
        let id = p.next_stream;
        p.next_stream += 1;
        p.streams.push((id, 0));
        id
    };
    let result = stream_loop(&mut out, board, id);
    board.lock().streams.retain(|(s, _)| *s != id);
    board.changed.notify_all();
    result
}

fn stream_loop(out: &mut TcpStream, board: &Board, id: u64) -> std::io::Result<()> {
    let mut sent = 0;
    loop {
        let (event, version, finished) = {
            let mut p = board.lock();
            let mut waited = Duration::ZERO;
            while p.version == sent && waited < KEEP_ALIVE {
                let start = Instant::now();
                p = board
                    .changed
                    .wait_timeout(p, KEEP_ALIVE - waited)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                waited += start.elapsed();
            }
            let finished = p.frame.as_ref().is_some_and(|f| f.finished);
            (p.event.clone(), p.version, finished)
        };
        if version == sent {
            out.write_all(b": keep-alive\n\n")?;
            out.flush()?;
            continue;
        }
        out.write_all(event.as_bytes())?;
        out.flush()?;
        sent = version;
        {
            let mut p = board.lock();
            if let Some(s) = p.streams.iter_mut().find(|(s, _)| *s == id) {
                s.1 = version;
            }
        }
        board.changed.notify_all();
        if finished {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str, finished: bool) -> Frame {
        Frame {
            title: "t".into(),
            status: Default::default(),
            body: body.into(),
            finished,
        }
    }

    fn request(addr: SocketAddr, head: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn streams_frames_until_the_final_one_and_stops_the_run() {
        let interrupt = Interrupt::default();
        let access = Access::from_flags("127.0.0.1:0", None, false).unwrap();
        let server = DashboardServer::start(access, interrupt.clone()).unwrap();
        server.publish(frame("<p>one</p>", false));
        let page = request(server.addr, "GET / HTTP/1.1\r\n\r\n");
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(
            page.contains("<p>one</p>") && page.contains("id=\"stop\""),
            "{page}"
        );
        assert!(page.contains("Content-Security-Policy: default-src 'none'"));
        let mut events = TcpStream::connect(server.addr).unwrap();
        events
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        events.write_all(b"GET /events HTTP/1.1\r\n\r\n").unwrap();
        // The stream registers before the next frame counts as delivered to it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.board.lock().streams.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        server.publish(frame("<p>two</p>", false));
        server.publish(frame("<p>last</p>", true));
        let (open, delivered) = server.wait_for_viewers(Duration::from_secs(10));
        assert_eq!((open, delivered), (1, true));
        let mut streamed = String::new();
        events.read_to_string(&mut streamed).unwrap();
        assert!(streamed.contains("text/event-stream"), "{streamed}");
        assert!(streamed.contains("event: frame\ndata: {"), "{streamed}");
        assert!(
            streamed.trim_end().ends_with(r#""finished":true}"#),
            "the stream ends with the final frame: {streamed}"
        );
        assert!(!interrupt.is_set());
        // Another site's page: a form or a simple fetch cannot add the header.
        let forged = request(server.addr, "POST /stop HTTP/1.1\r\n\r\n");
        assert!(forged.starts_with("HTTP/1.1 403"), "{forged}");
        // A domain name made to resolve to 127.0.0.1 (DNS rebinding).
        let rebound = request(
            server.addr,
            "POST /stop HTTP/1.1\r\nHost: evil.example:80\r\nX-Loadtest-Stop: 1\r\n\r\n",
        );
        assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
        assert!(!interrupt.is_set());
        let stopped = request(
            server.addr,
            &format!(
                "POST /stop HTTP/1.1\r\nHost: {}\r\nX-Loadtest-Stop: 1\r\n\r\n",
                server.addr
            ),
        );
        assert!(stopped.starts_with("HTTP/1.1 202"), "{stopped}");
        assert!(interrupt.is_set());
    }

    #[test]
    fn a_token_is_required_and_read_only_refuses_to_stop() {
        let interrupt = Interrupt::default();
        let token = "0123456789abcdef";
        let access = Access::from_flags("127.0.0.1:0", Some(token), true).unwrap();
        let server = DashboardServer::start(access, interrupt.clone()).unwrap();
        server.publish(frame("<p>x</p>", false));
        for head in [
            "GET / HTTP/1.1\r\n\r\n",
            "GET /?token=0123456789abcdeX HTTP/1.1\r\n\r\n",
            "GET /events HTTP/1.1\r\n\r\n",
            "POST /stop HTTP/1.1\r\n\r\n",
        ] {
            let r = request(server.addr, head);
            assert!(r.starts_with("HTTP/1.1 401"), "{head}: {r}");
        }
        let page = request(
            server.addr,
            &format!("GET /?token={token} HTTP/1.1\r\n\r\n"),
        );
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(!page.contains(token), "the page never holds the token");
        assert!(!page.contains("id=\"stop\""), "read-only: no Stop control");
        let bearer = request(
            server.addr,
            &format!(
                "POST /stop HTTP/1.1\r\nAuthorization: Bearer {token}\r\nX-Loadtest-Stop: 1\r\n\r\n"
            ),
        );
        assert!(bearer.starts_with("HTTP/1.1 403"), "{bearer}");
        assert!(!interrupt.is_set());
    }

    #[test]
    fn hosts_are_addresses_or_localhost() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(host_of("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("[::1]:8080"), "::1");
        assert_eq!(host_of("LocalHost"), "localhost");
        for ok in ["127.0.0.1", "::1", "localhost"] {
            assert!(is_address(ok, loopback), "{ok}");
        }
        for bad in ["evil.example", "127.0.0.1.nip.io", "10.0.0.8"] {
            assert!(!is_address(bad, loopback), "{bad}");
        }
        // Off loopback (with a token) any address of the machine names it.
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(is_address("10.0.0.8", any) && !is_address("evil.example", any));
    }
}
