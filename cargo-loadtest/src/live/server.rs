//! The HTTP side of `--metrics-listen`: a listener bound before anything is built, and one
//! thread answering `GET /metrics` for the rest of the invocation. It speaks just enough
//! HTTP/1.1 for a scraper (one request per connection, bounded in size and time); the CLI has no
//! async runtime and needs none for this.

use super::exposition;
use super::state::LiveState;
use crate::errors::CliError;
use prometheus_client::registry::Registry;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The content type of the OpenMetrics text format that `prometheus-client` writes, served to
/// clients that ask for it (Prometheus does).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus's older text format, served to every other client.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest request head read (a scraper's is a few hundred bytes).
const MAX_HEAD: usize = 16 * 1024;

/// Parses a listening address given to `flag` (`--metrics-listen`, `--dashboard`): `PORT` and
/// `:PORT` listen on 127.0.0.1; `HOST:PORT` and `[IPV6]:PORT` where the user says.
pub(crate) fn parse_listen(flag: &str, value: &str) -> Result<SocketAddr, CliError> {
    let bad = |why: &str| {
        CliError::Usage(format!(
            "{flag} {value:?}: {why}; give PORT or :PORT (on 127.0.0.1), or HOST:PORT such as 127.0.0.1:9464 or [::1]:9464"
        ))
    };
    let v = value.trim();
    let port_only = v.strip_prefix(':').unwrap_or(v);
    if !port_only.is_empty() && port_only.bytes().all(|b| b.is_ascii_digit()) {
        let port: u16 = port_only
            .parse()
            .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(addr) = v.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if !v.contains(':') {
        return Err(bad("no port"));
    }
    match v.to_socket_addrs() {
        Ok(mut addrs) => addrs.next().ok_or_else(|| bad("the host has no address")),
        Err(e) => Err(bad(&format!("cannot resolve it ({e})"))),
    }
}

/// The listening endpoint.
pub(crate) struct MetricsServer {
    /// Where it listens (the port the system chose, for port 0).
    pub(crate) addr: SocketAddr,
    pub(crate) state: Arc<Mutex<LiveState>>,
    scrapes: Arc<Mutex<Scrapes>>,
}

/// When scrapes happened, and which state version the last one saw.
#[derive(Default)]
struct Scrapes {
    times: Vec<Instant>,
    last_version: u64,
}

impl MetricsServer {
    /// Binds `addr` (so a port in use is a usage error before anything is built) and starts
    /// answering.
    pub(crate) fn start(addr: SocketAddr, shard: String) -> Result<MetricsServer, CliError> {
        let listener = TcpListener::bind(addr).map_err(|e| {
            CliError::Usage(format!(
                "--metrics-listen {addr}: cannot listen there ({e}); give a free port, or 0 to let the system choose"
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(CliError::io("cannot read the metrics listener's address"))?;
        let state = Arc::new(Mutex::new(LiveState::default()));
        let registry = Arc::new(exposition::registry(state.clone(), shard));
        let scrapes = Arc::new(Mutex::new(Scrapes::default()));
        let (st, sc) = (state.clone(), scrapes.clone());
        std::thread::Builder::new()
            .name("metrics-listen".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    // One scrape at a time: scrapers ask once a second or less often.
                    let _ = answer(stream, &registry, &st, &sc);
                }
            })
            .map_err(CliError::io("cannot start the metrics listener"))?;
        Ok(MetricsServer {
            addr,
            state,
            scrapes,
        })
    }

    /// After the last update: waits until a scrape has seen it, when something has been
    /// scraping, for at most twice the interval between its scrapes (at least 5 s, so that a
    /// fast scraper held up a moment by a busy machine still reads the end; at most 30 s), and
    /// not once `stop` says so (an interrupt). A scraper that keeps up returns it at once.
    pub(crate) fn wait_for_last_scrape(&self, stop: impl Fn() -> bool) -> Option<Duration> {
        let version = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .version;
        let interval = {
            let s = self.scrapes.lock().unwrap_or_else(PoisonError::into_inner);
            match s.times.as_slice() {
                [] => return None,
                [_] => Duration::from_secs(15),
                [.., a, b] => b.duration_since(*a),
            }
        };
        let limit = (interval * 2).clamp(Duration::from_secs(5), Duration::from_secs(30));
        let start = Instant::now();
        while start.elapsed() < limit && !stop() {
            if self
                .scrapes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .last_version
                >= version
            {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(start.elapsed())
    }
}

fn answer(
    stream: TcpStream,
    registry: &Registry,
    state: &Mutex<LiveState>,
    scrapes: &Mutex<Scrapes>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_HEAD as u64);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The rest of the head, up to the empty line.
    let mut openmetrics = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("accept")
            && value.contains("application/openmetrics-text")
        {
            openmetrics = true;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let mut out = stream;
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let version = state.lock().unwrap_or_else(PoisonError::into_inner).version;
            let body = exposition::render(registry, state);
            let mut s = scrapes.lock().unwrap_or_else(PoisonError::into_inner);
            s.times.push(Instant::now());
            if s.times.len() > 8 {
                s.times.remove(0);
            }
            s.last_version = s.last_version.max(version);
            if openmetrics {
                ("200 OK", OPENMETRICS, body)
            } else {
                ("200 OK", TEXT_FORMAT, exposition::to_text_format(&body))
            }
        }
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "cargo loadtest serves /metrics only\n".to_string(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "GET /metrics\n".to_string(),
        ),
    };
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        out.write_all(body.as_bytes())?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_default_to_loopback() {
        assert_eq!(
            parse_listen("--metrics-listen", "9464")
                .unwrap()
                .to_string(),
            "127.0.0.1:9464"
        );
        assert_eq!(
            parse_listen("--metrics-listen", ":0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(
            parse_listen("--metrics-listen", "0.0.0.0:9464")
                .unwrap()
                .to_string(),
            "0.0.0.0:9464"
        );
        assert_eq!(
            parse_listen("--metrics-listen", "[::1]:80")
                .unwrap()
                .to_string(),
            "[::1]:80"
        );
        for bad in ["", "abc", "70000", "127.0.0.1", "::1"] {
            let e = parse_listen("--metrics-listen", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("--metrics-listen") && e.contains("PORT"), "{e}");
        }
    }

    #[test]
    fn a_port_in_use_is_a_usage_error_naming_it() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let Err(e) = MetricsServer::start(addr, String::new()) else {
            panic!("bound a port in use")
        };
        assert_eq!(e.exit_code(), crate::exit_code::USAGE);
        let text = e.to_string();
        assert!(
            text.contains(&addr.to_string()) && text.contains("free port"),
            "{text}"
        );
    }

    #[test]
    fn serves_metrics_and_refuses_other_paths() {
        let server = MetricsServer::start(
            parse_listen("--metrics-listen", "0").unwrap(),
            String::new(),
        )
        .unwrap();
        server
            .state
            .lock()
            .unwrap()
            .started(loadtest_report::report::TestId {
                package: "shop",
                target: "api",
                name: "home",
            });
        let get = |path: &str| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        };
        let page = get("/metrics");
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(page.contains("text/plain; version=0.0.4"), "{page}");
        assert!(
            page.contains(r#"loadtest_test_running{test="api::home",shard=""} 1"#),
            "{page}"
        );
        let mut s = TcpStream::connect(server.addr).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n"
        )
        .unwrap();
        let mut om = String::new();
        s.read_to_string(&mut om).unwrap();
        assert!(
            om.contains("application/openmetrics-text") && om.trim_end().ends_with("# EOF"),
            "{om}"
        );
        assert!(get("/").starts_with("HTTP/1.1 404"));
        let waited = server
            .wait_for_last_scrape(|| false)
            .expect("something scraped, so the end waits for it");
        assert!(
            waited < Duration::from_secs(1),
            "the last scrape saw the last update"
        );
    }
}
