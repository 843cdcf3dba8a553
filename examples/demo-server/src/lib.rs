//! A small HTTP/1.1 server on loopback for demos and tests, with switches for the behaviours a
//! load test meets: delays, error statuses, flaky endpoints, `Retry-After`, stalls, big bodies.
//!
//! It binds to 127.0.0.1 only and is written by hand (no HTTP library) so that tests can make it
//! misbehave at the protocol level too. Routes:
//!
//! | path | answer |
//! |---|---|
//! | `/` | 200, a short text |
//! | `/items` | 200, a JSON array |
//! | `/items/{id}` | 200, one JSON object |
//! | `/delay/{ms}` | 200 after `ms` milliseconds |
//! | `/status/{code}` | that status |
//! | `/flaky/{n}/{key}` | 503 for the first `n` requests with this `key`, then 200 |
//! | `/retry-after/{secs}/{key}` | 429 with `Retry-After: secs` for the first request with this `key`, then 200 |
//! | `/stall-once/{ms}` | the first request stalls `ms` milliseconds, later ones answer at once |
//! | `/bytes/{n}` | 200 with an `n`-byte body |
//! | `/echo` | 200, the request's headers as the body |
//! | `/token/issue` | 200, a new token as the body (`token-1`, `token-2`, ...): what a setup hook that creates an account or a token gets |
//! | `/token/use/{token}` | 200 when `token` was issued and not revoked, else 401 |
//! | `/token/revoke/{token}` | 200 and revokes `token` when it was issued and not revoked, else 404 |
//! | `/work` | with a worker pool ([`DemoServer::start_with_pool`]): 200 once a worker has spent its service time on it, 503 at once when every worker is busy and the queue is full; 404 without a pool |
//! | `/fault/close` | reads the request, closes the connection without answering |
//! | `/fault/reset` | starts a response, then resets the connection mid-body |
//! | `/fault/hang/{secs}` | never answers (for `secs`, default 60) |
//! | `/fault/trickle/{n}/{ms}` | an `n`-byte body, one byte every `ms` milliseconds |
//! | `/fault/malformed` | a malformed status line |
//! | `/fault/huge-headers/{n}` | `n` 100-byte headers (default 2,000: 200 KB) |
//! | `/fault/bad-chunked` | a broken chunked encoding |
//!
//! Every answer is also delayed by [`DemoServer::set_delay`] (0 by default). Dropping the server
//! closes its listener and every open connection at once, as a killed process would; a test can
//! then start a new one on the same port with [`DemoServer::start_on`].

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A fixed pool of worker threads, each spending a fixed service time per request: its capacity
/// is exactly `workers / service_time` requests per second. Requests wait in a bounded queue;
/// one that finds it full is refused (503), and one whose client went away while it waited is
/// skipped, so an abandoned backlog never delays later requests.
struct Pool {
    jobs: std::sync::mpsc::SyncSender<tokio::sync::oneshot::Sender<()>>,
}

impl Pool {
    fn start(workers: usize, service: Duration, queue: usize) -> Pool {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<tokio::sync::oneshot::Sender<()>>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..workers.max(1) {
            let rx = rx.clone();
            std::thread::spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match rx.lock().unwrap_or_else(PoisonError::into_inner).recv() {
                        Ok(job) => job,
                        Err(_) => return, // the server is gone
                    };
                    if job.is_closed() {
                        continue; // its client went away while it waited
                    }
                    // A thread sleep is precise to well under a millisecond (tokio's timer
                    // rounds up to the next one), so the capacity is what it says.
                    std::thread::sleep(service);
                    let _ = job.send(());
                }
            });
        }
        Pool { jobs }
    }
}

#[derive(Default)]
struct State {
    pool: Option<Pool>,
    delay_us: AtomicU64,
    requests: AtomicU64,
    answered: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    stalled: AtomicBool,
    keys: Mutex<HashMap<String, u64>>,
    /// Issued tokens: `true` while not revoked.
    tokens: Mutex<Vec<(String, bool)>>,
    paths: Mutex<HashMap<String, u64>>,
    peers: Mutex<std::collections::BTreeSet<std::net::IpAddr>>,
}

/// A running demo server; dropping it closes its listener and every connection.
pub struct DemoServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl DemoServer {
    /// Starts a server on 127.0.0.1 with a free port, on the current tokio runtime.
    pub async fn start() -> io::Result<DemoServer> {
        DemoServer::start_on(0).await
    }

    /// Starts a server on 127.0.0.1:`port` (0: a free port), on the current tokio runtime.
    pub async fn start_on(port: u16) -> io::Result<DemoServer> {
        Self::start_with(State::default(), port).await
    }

    /// Starts a server whose `/work` route is served by `workers` threads that each spend
    /// `service` per request, with at most `queue` requests waiting: a system with a known
    /// capacity of `workers / service` requests per second (for capacity searches). Beyond it
    /// requests wait, then are refused with 503 once `queue` are waiting.
    pub async fn start_with_pool(
        workers: usize,
        service: Duration,
        queue: usize,
    ) -> io::Result<DemoServer> {
        Self::start_with(
            State {
                pool: Some(Pool::start(workers, service, queue)),
                ..State::default()
            },
            0,
        )
        .await
    }

    /// Starts a server on a listener bound elsewhere (for example on an address of a network
    /// namespace a test created), on the current tokio runtime.
    pub async fn start_on_listener(listener: std::net::TcpListener) -> io::Result<DemoServer> {
        listener.set_nonblocking(true)?;
        Self::serve_on(State::default(), TcpListener::from_std(listener)?)
    }

    async fn start_with(state: State, port: u16) -> io::Result<DemoServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        Self::serve_on(state, listener)
    }

    fn serve_on(state: State, listener: TcpListener) -> io::Result<DemoServer> {
        let addr = listener.local_addr()?;
        let state = Arc::new(state);
        let st = state.clone();
        let (shutdown, stopped) = tokio::sync::watch::channel(false);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                st.peers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(peer.ip());
                let _ = stream.set_nodelay(true);
                let mut stopped = stopped.clone();
                let st = st.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        () = serve(stream, st) => {}
                        _ = stopped.wait_for(|s| *s) => {}
                    }
                });
            }
        });
        Ok(DemoServer {
            addr,
            state,
            accept,
            shutdown,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The addresses connections came from.
    pub fn peers(&self) -> std::collections::BTreeSet<std::net::IpAddr> {
        self.state
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Delays every answer by `delay` (on top of what the route does).
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Stops at once, as a killed process would: the listener and every open connection close
    /// (in-flight requests get no answer). Counts stay readable.
    pub fn kill(&self) {
        self.shutdown.send_replace(true);
        self.accept.abort();
    }

    /// Responses written in full (to the socket) so far: what a client can have received.
    pub fn answered(&self) -> u64 {
        self.state.answered.load(Ordering::Relaxed)
    }

    /// The most requests that were being handled at the same time.
    pub fn max_concurrent(&self) -> u64 {
        self.state.max_in_flight.load(Ordering::Relaxed)
    }

    /// Requests received for paths starting with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> u64 {
        let paths = self
            .state
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        paths
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn serve(stream: TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let (Some(_method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let path = path.to_string();
        let mut headers = String::new();
        let mut content_length = 0usize;
        let mut close = false;
        loop {
            let mut h = String::new();
            match reader.read_line(&mut h).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
            if headers.len() > 64 * 1024 {
                return;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
            headers.push_str(&h);
        }
        let mut body = vec![0u8; content_length.min(16 * 1024 * 1024)];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let n = state.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        state.max_in_flight.fetch_max(n, Ordering::AcqRel);
        state.requests.fetch_add(1, Ordering::Relaxed);
        let route = path.split('?').next().unwrap_or("/").to_string();
        *state
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(route.clone())
            .or_insert(0) += 1;
        let delay = state.delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_micros(delay)).await;
        }
        if route.starts_with("/fault/") {
            // Faults take over the connection and end it.
            fault(&route, &mut write).await;
            state.in_flight.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let (status, extra, body) = if route == "/work" {
            match work(&state, &mut reader).await {
                Some(answered) => answered,
                None => {
                    // The client went away while its request waited.
                    state.in_flight.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
            }
        } else {
            answer(&route, &headers, &state).await
        };
        state.in_flight.fetch_sub(1, Ordering::AcqRel);
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n{extra}{}\r\n",
            reason(status),
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if write.write_all(head.as_bytes()).await.is_err() || write.write_all(&body).await.is_err()
        {
            return;
        }
        state.answered.fetch_add(1, Ordering::Relaxed);
        if close {
            return;
        }
    }
}

/// `/work`: queue the request for the worker pool and wait for a worker, or for the client to
/// go away (`None`).
async fn work(
    state: &State,
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Option<(u16, String, Vec<u8>)> {
    let Some(pool) = &state.pool else {
        return Some((
            404,
            String::new(),
            b"no worker pool: start the server with DemoServer::start_with_pool".to_vec(),
        ));
    };
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    if pool.jobs.try_send(tx).is_err() {
        return Some((
            503,
            String::new(),
            b"every worker is busy and the queue is full".to_vec(),
        ));
    }
    let mut sent_more = false;
    loop {
        tokio::select! {
            done = &mut rx => {
                return Some(match done {
                    Ok(()) => (200, String::new(), b"done".to_vec()),
                    Err(_) => (500, String::new(), b"the worker pool stopped".to_vec()),
                });
            }
            read = reader.fill_buf(), if !sent_more => match read {
                Ok([]) | Err(_) => return None,
                // A pipelined request: it waits its turn; only the end of input matters here.
                Ok(_) => sent_more = true,
            },
        }
    }
}

async fn answer(route: &str, headers: &str, state: &State) -> (u16, String, Vec<u8>) {
    let segs: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let num = |i: usize| segs.get(i).and_then(|s| s.parse::<u64>().ok());
    let bump = |key: String| -> u64 {
        let mut keys = state.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let n = keys.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    match segs.as_slice() {
        [""] => (
            200,
            String::new(),
            b"hello from the cargo-loadtest demo server\n".to_vec(),
        ),
        ["items"] => (
            200,
            String::new(),
            br#"[{"id":1,"name":"apple"},{"id":2,"name":"pear"}]"#.to_vec(),
        ),
        ["items", id] => (
            200,
            String::new(),
            format!("{{\"id\":{:?}}}", id).into_bytes(),
        ),
        ["delay", _] => {
            tokio::time::sleep(Duration::from_millis(num(1).unwrap_or(0))).await;
            (200, String::new(), b"ok".to_vec())
        }
        ["status", _] => {
            let code = num(1).filter(|c| (100..=599).contains(c)).unwrap_or(400) as u16;
            (code, String::new(), b"status".to_vec())
        }
        ["flaky", _, key] => {
            let seen = bump(format!("flaky/{key}"));
            if seen <= num(1).unwrap_or(0) {
                (503, String::new(), b"try again".to_vec())
            } else {
                (200, String::new(), b"ok".to_vec())
            }
        }
        ["retry-after", _, key] => {
            if bump(format!("retry-after/{key}")) == 1 {
                (
                    429,
                    format!("retry-after: {}\r\n", num(1).unwrap_or(1)),
                    b"slow down".to_vec(),
                )
            } else {
                (200, String::new(), b"ok".to_vec())
            }
        }
        ["stall-once", _] => {
            if !state.stalled.swap(true, Ordering::AcqRel) {
                tokio::time::sleep(Duration::from_millis(num(1).unwrap_or(0))).await;
            }
            (200, String::new(), b"ok".to_vec())
        }
        ["bytes", _] => (
            200,
            String::new(),
            vec![b'x'; num(1).unwrap_or(0).min(1 << 30) as usize],
        ),
        ["echo"] => (200, String::new(), headers.as_bytes().to_vec()),
        ["token", "issue"] => {
            let mut tokens = state.tokens.lock().unwrap_or_else(PoisonError::into_inner);
            let token = format!("token-{}", tokens.len() + 1);
            tokens.push((token.clone(), true));
            (200, String::new(), token.into_bytes())
        }
        ["token", "use", token] => {
            let tokens = state.tokens.lock().unwrap_or_else(PoisonError::into_inner);
            if tokens.iter().any(|(t, live)| t == token && *live) {
                (200, String::new(), b"ok".to_vec())
            } else {
                (401, String::new(), b"unknown or revoked token".to_vec())
            }
        }
        ["token", "revoke", token] => {
            let mut tokens = state.tokens.lock().unwrap_or_else(PoisonError::into_inner);
            match tokens.iter_mut().find(|(t, live)| t == token && *live) {
                Some((_, live)) => {
                    *live = false;
                    (200, String::new(), b"revoked".to_vec())
                }
                None => (404, String::new(), b"unknown or revoked token".to_vec()),
            }
        }
        _ => (404, String::new(), b"not found".to_vec()),
    }
}

/// Misbehaves at the protocol level, then closes the connection.
async fn fault(route: &str, write: &mut tokio::net::tcp::OwnedWriteHalf) {
    let segs: Vec<&str> = route.trim_start_matches("/fault/").split('/').collect();
    let num = |i: usize, default: u64| {
        segs.get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(default)
    };
    match segs[0] {
        // Read the request, answer nothing, close.
        "close" => {}
        // Start a response, then reset the connection (RST) in the middle of the body.
        "reset" => {
            let _ = write
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial")
                .await;
            let _ = write.flush().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            // A zero linger makes the close a reset (RST) rather than an orderly FIN.
            let _ = write.as_ref().set_zero_linger();
        }
        // Never answer (until the client gives up; bounded so the task ends).
        "hang" => tokio::time::sleep(Duration::from_secs(num(1, 60).min(600))).await,
        // A body of N bytes sent one byte every M milliseconds.
        "trickle" => {
            let (n, ms) = (num(1, 10).min(10_000), num(2, 100));
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n");
            if write.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..n {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if write.write_all(b"x").await.is_err() || write.flush().await.is_err() {
                    return;
                }
            }
        }
        // Not HTTP at all.
        "malformed" => {
            let _ = write.write_all(b"HTTQ/9.9 two hundred\r\n\r\n").await;
        }
        // A header block far beyond any client's limit.
        "huge-headers" => {
            let mut head = String::from("HTTP/1.1 200 OK\r\n");
            for i in 0..num(1, 2000).min(100_000) {
                head.push_str(&format!("x-filler-{i}: {}\r\n", "y".repeat(100)));
            }
            head.push_str("content-length: 0\r\n\r\n");
            let _ = write.write_all(head.as_bytes()).await;
        }
        // Chunked encoding whose chunk size is not hexadecimal.
        "bad-chunked" => {
            let _ = write.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\noops\r\n0\r\n\r\n").await;
        }
        _ => {
            let _ = write
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\n\r\nunknown fault")
                .await;
        }
    }
    let _ = write.flush().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
