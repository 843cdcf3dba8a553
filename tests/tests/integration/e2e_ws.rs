//! Issue 25, item 3, end to end: the README's WebSocket example (the `ws` fixture's
//! `loadtests/chat.rs` is its code block, built with loadtest-runtime's `ws` feature) runs
//! through the real `cargo loadtest` against a tokio-tungstenite echo server this test starts on
//! 127.0.0.1, which answers every message with itself after a delay of exactly
//! [`DELAY_US`] (a timer thread, not tokio's sleep, which rounds up to its next millisecond).
//! The server counts what it sees; the report's message counts and bytes equal them exactly, the
//! handshakes and the request/reply exchanges are requests in every output (JSON, the terminal's
//! per-name table, JUnit, Markdown, HTML, CSV, the interval logs, the live `/metrics`), the
//! exchanges' p50 is within 10% of the server's delay, and two shards merge into exactly what the
//! server saw.

use crate::support;

use futures_util::{SinkExt, StreamExt};
use loadtest_report::report::{RunReport, TestResult};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};
use support::scrape::{samples, sum};
use support::{EveryOutput, Fixture, text};
use tokio_tungstenite::tungstenite::Message;

/// What the echo server waits before each answer, from the arrival of the message: 20 ms.
const DELAY_US: u64 = 20_000;

/// Iterations of one run (each: one handshake, four messages each way, three of them exchanges).
const ITERATIONS: u64 = 120;

/// What the echo server saw, by its own count.
#[derive(Default)]
struct Counts {
    handshakes: AtomicU64,
    received: AtomicU64,
    received_bytes: AtomicU64,
    sent: AtomicU64,
    sent_bytes: AtomicU64,
}

impl Counts {
    fn get(&self, which: fn(&Counts) -> &AtomicU64) -> u64 {
        which(self).load(Ordering::SeqCst)
    }

    fn snapshot(&self) -> [u64; 5] {
        [
            self.get(|c| &c.handshakes),
            self.get(|c| &c.received),
            self.get(|c| &c.received_bytes),
            self.get(|c| &c.sent),
            self.get(|c| &c.sent_bytes),
        ]
    }
}

/// A WebSocket echo server on 127.0.0.1 (tokio-tungstenite), on its own runtime; stops when
/// dropped.
struct EchoServer {
    addr: std::net::SocketAddr,
    counts: Arc<Counts>,
    _rt: tokio::runtime::Runtime,
}

impl EchoServer {
    fn start() -> EchoServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let c = c.clone();
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    c.handshakes.fetch_add(1, Ordering::SeqCst);
                    while let Some(Ok(m)) = ws.next().await {
                        let len = match &m {
                            Message::Text(t) => t.len(),
                            Message::Binary(b) => b.len(),
                            // Pings are answered and a close echoed by tungstenite itself.
                            _ => continue,
                        };
                        let due = Instant::now() + Duration::from_micros(DELAY_US);
                        c.received.fetch_add(1, Ordering::SeqCst);
                        c.received_bytes.fetch_add(len as u64, Ordering::SeqCst);
                        wait_until(due).await;
                        if ws.send(m).await.is_err() {
                            return;
                        }
                        c.sent.fetch_add(1, Ordering::SeqCst);
                        c.sent_bytes.fetch_add(len as u64, Ordering::SeqCst);
                    }
                });
            }
        });
        EchoServer {
            addr,
            counts,
            _rt: rt,
        }
    }

    fn target(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Waits until `due`, to within the kernel's timer slack (tens of microseconds): one thread keeps
/// the deadlines of the answers being delayed and wakes each at its own, as the `ab` fixture's
/// server does (`FIXTURE_SERVICE_US`). Not tokio's sleep, whose deadlines round up to its next
/// millisecond tick.
async fn wait_until(due: Instant) {
    type Due = (Instant, tokio::sync::oneshot::Sender<()>);
    static TIMER: OnceLock<mpsc::Sender<Due>> = OnceLock::new();
    let timer = TIMER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Due>();
        std::thread::spawn(move || {
            let mut pending: Vec<Due> = Vec::new();
            loop {
                let now = Instant::now();
                let mut i = 0;
                while i < pending.len() {
                    if pending[i].0 <= now {
                        let _ = pending.swap_remove(i).1.send(());
                    } else {
                        i += 1;
                    }
                }
                let got = match pending.iter().map(|p| p.0).min() {
                    Some(next) => rx.recv_timeout(next.saturating_duration_since(Instant::now())),
                    None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                };
                match got {
                    Ok(due) => pending.push(due),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        tx
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    if timer.send((due, tx)).is_ok() {
        let _ = rx.await;
    }
}

/// The result of the test `chat`.
fn result(report: &RunReport) -> TestResult {
    support::test_result(report, "chat")
}

/// What the report must agree on with the server's counts (`[handshakes, received,
/// received_bytes, sent, sent_bytes]`) for `iterations` iterations.
fn check_against_the_server(r: &TestResult, seen: [u64; 5], iterations: u64, what: &str) {
    let [handshakes, received, received_bytes, sent, sent_bytes] = seen;
    assert_eq!(r.iterations.total, iterations, "{what}");
    assert_eq!(r.iterations.ok, iterations, "{what}: {:?}", r.errors);
    // The server's own counts, against what the test does per iteration.
    assert_eq!(
        handshakes, iterations,
        "{what}: one connection per iteration"
    );
    assert_eq!(
        received,
        4 * iterations,
        "{what}: a greeting and three exchanges"
    );
    assert_eq!(sent, received, "{what}: every message echoed");
    assert_eq!(sent_bytes, received_bytes, "{what}");

    let connect = &r.request_names["chat.connect"];
    assert_eq!(
        connect.count, handshakes,
        "{what}: one handshake request each"
    );
    assert_eq!(connect.by_class.get("ok"), Some(&handshakes), "{what}");
    assert_eq!(connect.latency.summary.count, handshakes, "{what}");

    let echo = &r.request_names["chat.echo"];
    assert_eq!(echo.count, 3 * iterations, "{what}: three exchanges each");
    assert_eq!(echo.by_class.get("ok"), Some(&echo.count), "{what}");
    assert_eq!(echo.by_class.len(), 1, "{what}: {:?}", echo.by_class);
    assert_eq!(echo.latency.summary.count, echo.count, "{what}");
    // An exchange's bytes are its message's payload and its reply's, the same here: every
    // message but the five-byte greetings.
    let greeting = "hello".len() as u64;
    assert_eq!(
        echo.bytes_sent,
        received_bytes - greeting * handshakes,
        "{what}"
    );
    assert_eq!(echo.bytes_received, echo.bytes_sent, "{what}");
    assert_eq!(r.request_names.len(), 2, "{what}: {:?}", r.request_names);
    assert_eq!(r.requests.total, connect.count + echo.count, "{what}");

    // The connection's counters: every message and payload byte, each way, exactly.
    let counter = |name: &str| r.custom_counters.get(name).copied();
    assert_eq!(counter("chat.messages_sent"), Some(received), "{what}");
    assert_eq!(counter("chat.bytes_sent"), Some(received_bytes), "{what}");
    assert_eq!(counter("chat.messages_received"), Some(sent), "{what}");
    assert_eq!(counter("chat.bytes_received"), Some(sent_bytes), "{what}");
}

#[test]
fn the_readme_websocket_example_is_counted_exactly_in_every_output_and_merges_exactly() {
    // Judged on a latency (the exchanges' p50 against the server's delay): it runs alone.
    let _g = support::serial();
    let f = Fixture::shared("ws");
    support::assert_readme_example("ws/loadtests/chat.rs", "### WebSocket: `ctx.ws`");
    let server = EchoServer::start();
    let iterations = ITERATIONS.to_string();
    let EveryOutput {
        out,
        page,
        report,
        csv,
        hlog,
    } = support::run_with_every_output(
        &f,
        f.run_command(&["--iterations", &iterations, "--target", &server.target()]),
    );
    let r = result(&report);
    let seen = server.counts.snapshot();
    check_against_the_server(&r, seen, ITERATIONS, "report.json");
    support::validate_schema(&f.file("report.json"));

    // The exchanges' latency is the server's delay and a loopback round trip: the p50 within
    // 10% of the delay (the criterion).
    let echo = &r.request_names["chat.echo"];
    let p50 = echo.latency.summary.p50_us as f64;
    eprintln!(
        "chat.echo: p50 {p50} us, p99 {} us, against a server delay of {DELAY_US} us",
        echo.latency.summary.p99_us
    );
    assert!(
        (p50 - DELAY_US as f64).abs() <= DELAY_US as f64 / 10.0,
        "p50 {p50} us against a delay of {DELAY_US} us: {:?}",
        echo.latency.summary
    );

    // The rules on the names are judged on them, and the exit code follows them.
    let rule = |s: &str| {
        r.thresholds
            .iter()
            .find(|t| t.rule == s)
            .unwrap_or_else(|| panic!("no rule {s}: {:?}", r.thresholds))
            .clone()
    };
    let p99 = rule("p99(chat.echo) < 250ms");
    assert_eq!(p99.observed, Some(echo.latency.summary.p99_us as f64));
    assert_eq!(p99.passed, echo.latency.summary.p99_us < 250_000, "{p99:?}");
    let error_rate = rule("error_rate(chat.echo) < 1%");
    assert_eq!(error_rate.observed, Some(0.0), "{error_rate:?}");
    let passed = r.thresholds.iter().all(|t| t.passed);
    assert_eq!(
        out.status.code(),
        Some(if passed { 0 } else { 100 }),
        "{}",
        text(&out)
    );

    // The terminal's per-name table.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table = stdout
        .split("by request name:")
        .nth(1)
        .unwrap_or_else(|| panic!("no per-name table: {stdout}"));
    for (name, count) in [
        ("chat.echo", echo.count),
        ("chat.connect", r.request_names["chat.connect"].count),
    ] {
        let row = table
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row: {table}"));
        assert!(row.contains(&count.to_string()), "{row}");
    }

    // The connection's counters in the terminal's custom-metric table, with their totals.
    let custom = stdout
        .split("custom metrics:")
        .nth(1)
        .unwrap_or_else(|| panic!("no custom-metric table: {stdout}"));
    let counters = [
        "chat.messages_sent",
        "chat.messages_received",
        "chat.bytes_sent",
        "chat.bytes_received",
    ];
    for name in counters {
        let n = r.custom_counters[name];
        let row = custom
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row: {custom}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1..3], ["counter", n.to_string().as_str()], "{row}");
    }

    // JUnit, Markdown and HTML name the exchanges and their rules.
    let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    roxmltree::Document::parse(&junit).expect("JUnit XML parses");
    assert!(
        junit.contains("p99(chat.echo) &lt; 250ms") || junit.contains("p99(chat.echo) < 250ms"),
        "{junit}"
    );
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    assert!(md.contains("| chat.echo |"), "{md}");
    assert!(md.contains("| chat.connect |"), "{md}");
    let html = std::fs::read_to_string(f.file("report.html")).unwrap();
    assert!(
        html.contains("chat.echo"),
        "the HTML report names chat.echo"
    );
    assert!(html.contains("chat.connect"), "and chat.connect");
    assert!(html.contains("error_rate(chat.echo)"), "and its rules");
    // And each counts the connection's messages and bytes.
    for name in counters {
        let n = r.custom_counters[name];
        assert!(
            junit.contains(&format!("custom {name} (counter): {n} (")),
            "JUnit counts {name}: {junit}"
        );
        assert!(
            md.contains(&format!("| {name} | counter | {n} |")),
            "the Markdown counts {name}: {md}"
        );
        assert!(
            html.contains(&format!(
                "<tr><td>{name}</td><td>counter</td><td class=\"num\">{n}</td>"
            )),
            "the HTML report counts {name}"
        );
    }

    // CSV: a request row per name with its count and bytes.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}: {header:?}"))
    };
    let request = csv
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|c| c[col("kind")] == "request" && c[col("name")] == "chat.echo")
        .unwrap_or_else(|| panic!("no request row for chat.echo: {csv}"));
    assert_eq!(request[col("count")], echo.count.to_string(), "{csv}");
    assert_eq!(request[col("failed")], "0", "{csv}");
    for name in counters {
        let row = csv
            .lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|c| c[col("kind")] == "counter" && c[col("name")] == name)
            .unwrap_or_else(|| panic!("no counter row for {name}: {csv}"));
        assert_eq!(
            row[col("count")],
            r.custom_counters[name].to_string(),
            "{csv}"
        );
    }

    // Interval logs: a `request:chat.echo` tag whose intervals add up to every exchange.
    let log = support::interval_log(&hlog);
    let decoded: u64 = support::interval_counts(&log, "request:chat.echo")
        .iter()
        .sum();
    assert_eq!(decoded, echo.count, "{log}");

    // Live metrics: the last scrape counts every handshake and exchange, and the exchanges'
    // bytes each way.
    let s = samples(&page);
    let requests = |name: &str| {
        sum(
            &s,
            "loadtest_requests_total",
            &[("request", name), ("class", "ok")],
        ) as u64
    };
    assert_eq!(requests("chat.echo"), echo.count, "{page}");
    assert_eq!(
        requests("chat.connect"),
        r.request_names["chat.connect"].count,
        "{page}"
    );
    let bytes = |family: &str| sum(&s, family, &[("request", "chat.echo")]) as u64;
    assert_eq!(
        bytes("loadtest_request_sent_bytes_total"),
        echo.bytes_sent,
        "{page}"
    );
    assert_eq!(
        bytes("loadtest_response_received_bytes_total"),
        echo.bytes_received,
        "{page}"
    );
    // And the connection's counters, as their final totals.
    for name in counters {
        assert_eq!(
            sum(&s, "loadtest_custom_total", &[("name", name)]) as u64,
            r.custom_counters[name],
            "{name}: {page}"
        );
    }

    // Two shards against the same server merge into exactly what the server saw.
    let before = server.counts.snapshot();
    let mut shards = Vec::new();
    for k in 1..=2 {
        let json = f.file(&format!("shard-{k}.json"));
        let out = f
            .command(&[
                "--iterations",
                &iterations,
                "--target",
                &server.target(),
                "--shard",
                &format!("{k}/2"),
                "--json",
                json.to_str().unwrap(),
            ])
            .output()
            .expect("cargo-loadtest runs");
        assert!(
            matches!(out.status.code(), Some(0) | Some(100)),
            "shard {k}: {}",
            text(&out)
        );
        shards.push(json);
    }
    let (out, merged) = support::merge_shards(&f, &shards);
    assert!(
        matches!(out.status.code(), Some(0) | Some(100)),
        "{}",
        text(&out)
    );
    support::validate_schema(&merged);
    let merged: RunReport =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let after = server.counts.snapshot();
    let delta: [u64; 5] = std::array::from_fn(|i| after[i] - before[i]);
    check_against_the_server(&result(&merged), delta, ITERATIONS, "merged.json");
}
