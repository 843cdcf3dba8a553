//! Issue 25, item 4, end to end: the README's streamed-responses example (the `sse` fixture's
//! `loadtests/chat.rs` is its code block) runs through the real `cargo loadtest` against an SSE
//! server this test starts on 127.0.0.1. Each `/chat` answer is [`TOKENS`] `token` events
//! [`INTERVAL_US`] apart and a `done` event, the first event [`FIRST_EVENT_US`] after the request,
//! each written at its own deadline by the connection's thread (a sleep to just before it, then a
//! spin: not tokio's sleep, which rounds up to its next millisecond). The server counts the
//! events it sent; the report's events equal them exactly, the gaps' p50 is within 10% of the
//! interval, the example's gap threshold holds and its first-event threshold (300 ms) fails as
//! the server's first event (350 ms) makes it, and the streams are in every output (JSON and its
//! schema, the terminal, JUnit, Markdown, HTML, CSV, the interval logs, the live `/metrics`); two
//! shards merge into exactly what the server sent.

use crate::support;

use loadtest_report::report::{RunReport, StreamMetrics, TestResult};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::scrape::{samples, sum};
use support::{EveryOutput, Fixture, text};

/// `token` events per answer (then one `done` event).
const TOKENS: u64 = 5;
/// The time between one event and the next: 20 ms.
const INTERVAL_US: u64 = 20_000;
/// From the request to the first event: 350 ms, past the example's `p99(first_event:chat) <
/// 300ms`.
const FIRST_EVENT_US: u64 = 350_000;
/// Iterations of one run.
const ITERATIONS: u64 = 8;

/// Sleeps to 1 ms before `due`, then spins to it.
fn wait_until(due: Instant) {
    let now = Instant::now();
    if due > now + Duration::from_millis(1) {
        std::thread::sleep(due - now - Duration::from_millis(1));
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

/// The SSE server: one thread per connection, answering each request (kept connections carry
/// several) with a chunked event stream; counts the answers and events it sent.
struct SseServer {
    addr: std::net::SocketAddr,
    answers: Arc<AtomicU64>,
    events: Arc<AtomicU64>,
}

impl SseServer {
    fn start() -> SseServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let answers = Arc::new(AtomicU64::new(0));
        let events = Arc::new(AtomicU64::new(0));
        let (a, e) = (answers.clone(), events.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let (a, e) = (a.clone(), e.clone());
                std::thread::spawn(move || {
                    let _ = serve(tcp, &a, &e);
                });
            }
        });
        SseServer {
            addr,
            answers,
            events,
        }
    }

    fn target(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.answers.load(Ordering::SeqCst),
            self.events.load(Ordering::SeqCst),
        )
    }
}

fn serve(tcp: TcpStream, answers: &AtomicU64, events: &AtomicU64) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut reader = BufReader::new(tcp.try_clone()?);
    let mut out = tcp;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" {
                break;
            }
        }
        let start = Instant::now();
        if line.split(' ').nth(1) != Some("/chat") {
            write!(out, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?;
            out.flush()?;
            continue;
        }
        write!(
            out,
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )?;
        out.flush()?;
        for i in 0..=TOKENS {
            let event = if i < TOKENS {
                format!("event: token\ndata: tok{i}\n\n")
            } else {
                "event: done\ndata: [DONE]\n\n".to_string()
            };
            wait_until(start + Duration::from_micros(FIRST_EVENT_US + i * INTERVAL_US));
            write!(out, "{:x}\r\n{event}\r\n", event.len())?;
            out.flush()?;
            events.fetch_add(1, Ordering::SeqCst);
        }
        write!(out, "0\r\n\r\n")?;
        out.flush()?;
        answers.fetch_add(1, Ordering::SeqCst);
    }
}

/// Whether a histogram's smallest value `min_us` (the bottom of its bucket: HdrHistogram keeps 3
/// significant figures) can be a value of at least `floor_us`.
fn at_least(min_us: u64, floor_us: u64) -> bool {
    min_us as f64 >= floor_us as f64 * (1.0 - 1.0 / 1000.0)
}

/// The result of the test `chat`.
fn result(report: &RunReport) -> TestResult {
    support::test_result(report, "chat")
}

fn stream(r: &TestResult) -> StreamMetrics {
    r.request_names["chat"]
        .stream
        .clone()
        .unwrap_or_else(|| panic!("no stream metrics for chat: {:?}", r.request_names))
}

/// What the report must agree on with the server's counts for `answers` answers.
fn check_against_the_server(r: &TestResult, (answers, events): (u64, u64), what: &str) {
    assert_eq!(r.iterations.ok, answers, "{what}: {:?}", r.errors);
    assert_eq!(answers, ITERATIONS, "{what}");
    assert_eq!(events, answers * (TOKENS + 1), "{what}");
    let chat = &r.request_names["chat"];
    assert_eq!(chat.count, answers, "{what}");
    assert_eq!(chat.by_class.get("ok"), Some(&answers), "{what}");
    let s = stream(r);
    assert_eq!((s.streams, s.broken), (answers, 0), "{what}: {s:?}");
    assert_eq!(s.events, events, "{what}: every event the server sent");
    assert_eq!(s.gap.summary.count, events - answers, "{what}");
    assert_eq!(s.first_event.summary.count, answers, "{what}");
    assert!(
        at_least(s.first_event.summary.min_us, FIRST_EVENT_US),
        "{what}: {:?}",
        s.first_event.summary
    );
    assert_eq!(chat.latency.summary.count, answers, "{what}");
    assert!(
        at_least(
            chat.latency.summary.min_us,
            FIRST_EVENT_US + TOKENS * INTERVAL_US
        ),
        "{what}: a request's latency is its stream's whole time"
    );
}

#[test]
fn the_readme_sse_example_counts_events_and_gaps_in_every_output_and_merges_exactly() {
    // Judged on a latency (the gaps' p50 against the server's interval): it runs alone.
    let _g = support::serial();
    let f = Fixture::shared("sse");
    support::assert_readme_example(
        "sse/loadtests/chat.rs",
        "### Streamed responses: server-sent events",
    );
    let server = SseServer::start();
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
    check_against_the_server(&r, server.counts(), "report.json");
    support::validate_schema(&f.file("report.json"));
    let s = stream(&r);

    // The gaps' p50 within 10% of the server's interval (the criterion).
    let p50 = s.gap.summary.p50_us as f64;
    eprintln!(
        "gap:chat p50 {p50} us, p99 {} us; first_event:chat p50 {} us; against an interval of {INTERVAL_US} us",
        s.gap.summary.p99_us, s.first_event.summary.p50_us
    );
    assert!(
        (p50 - INTERVAL_US as f64).abs() <= INTERVAL_US as f64 / 10.0,
        "gap p50 {p50} us against an interval of {INTERVAL_US} us: {:?}",
        s.gap.summary
    );

    // The example's rules: the gap rule holds, the first-event rule fails (350 ms > 300 ms),
    // each observed on its measure, and the run fails with exit code 100.
    let rule = |text: &str| {
        r.thresholds
            .iter()
            .find(|t| t.rule == text)
            .unwrap_or_else(|| panic!("no rule {text}: {:?}", r.thresholds))
            .clone()
    };
    let gap = rule("p99(gap:chat) < 50ms");
    assert_eq!(gap.observed, Some(s.gap.summary.p99_us as f64), "{gap:?}");
    assert!(gap.passed, "{gap:?}");
    let first = rule("p99(first_event:chat) < 300ms");
    assert_eq!(
        first.observed,
        Some(s.first_event.summary.p99_us as f64),
        "{first:?}"
    );
    assert!(!first.passed, "{first:?}");
    assert!(
        first.message.starts_with("p99(first_event:chat) was "),
        "{first:?}"
    );
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));

    // The terminal's streamed-responses table.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table = stdout
        .split("streamed responses:")
        .nth(1)
        .unwrap_or_else(|| panic!("no streamed-responses table: {stdout}"));
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with("chat "))
        .unwrap_or_else(|| panic!("no chat row: {table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[1..4],
        [
            s.streams.to_string(),
            s.broken.to_string(),
            s.events.to_string()
        ],
        "{row}"
    );

    // JUnit (system-out), Markdown and HTML show the streams and name the rules.
    let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    roxmltree::Document::parse(&junit).expect("JUnit XML parses");
    assert!(
        junit.contains(&format!("stream chat: {} events", s.events)),
        "{junit}"
    );
    assert!(junit.contains("p99(first_event:chat)"), "{junit}");
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    assert!(md.contains("Streamed responses:"), "{md}");
    assert!(
        md.contains(&format!("| chat | {} | 0 | {} |", s.streams, s.events)),
        "{md}"
    );
    let html = std::fs::read_to_string(f.file("report.html")).unwrap();
    assert!(
        html.contains("<h3>Streamed responses</h3>"),
        "the HTML report has the streams"
    );
    assert!(html.contains("p99(gap:chat)"), "and the rules");

    // CSV: the stream rows of chat.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let row = |kind: &str| {
        csv.lines()
            .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
            .find(|c| c[col("kind")] == kind && c[col("name")] == "chat")
            .unwrap_or_else(|| panic!("no {kind} row for chat: {csv}"))
    };
    assert_eq!(row("stream")[col("count")], s.streams.to_string(), "{csv}");
    assert_eq!(row("stream")[col("failed")], "0", "{csv}");
    assert_eq!(
        row("stream_gap")[col("count")],
        s.gap.summary.count.to_string(),
        "{csv}"
    );
    assert_eq!(
        row("stream_gap")[col("p50_us")],
        s.gap.summary.p50_us.to_string(),
        "{csv}"
    );
    assert_eq!(
        row("stream_first_event")[col("count")],
        s.first_event.summary.count.to_string(),
        "{csv}"
    );

    // Interval logs: a `gap:chat` tag whose intervals add up to every gap, beside
    // `request:chat` whose intervals add up to every request.
    let log = support::interval_log(&hlog);
    let decoded = |tag: &str| -> u64 { support::interval_counts(&log, tag).iter().sum() };
    assert_eq!(decoded("gap:chat"), s.gap.summary.count, "{log}");
    assert_eq!(
        decoded("request:chat"),
        r.request_names["chat"].count,
        "{log}"
    );

    // Live metrics: the last scrape counts every event and stream, and the gaps' histogram.
    let m = samples(&page);
    let chat = [("request", "chat")];
    assert_eq!(
        sum(&m, "loadtest_stream_events_total", &chat) as u64,
        s.events,
        "{page}"
    );
    assert_eq!(
        sum(
            &m,
            "loadtest_streams_total",
            &[("request", "chat"), ("outcome", "ended")]
        ) as u64,
        s.streams,
        "{page}"
    );
    assert_eq!(
        sum(&m, "loadtest_stream_gap_seconds_count", &chat) as u64,
        s.gap.summary.count,
        "{page}"
    );
    assert_eq!(
        sum(&m, "loadtest_stream_first_event_seconds_count", &chat) as u64,
        s.first_event.summary.count,
        "{page}"
    );

    // Two shards against the same server merge into exactly what the server sent.
    let before = server.counts();
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
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    support::validate_schema(&merged);
    let merged: RunReport =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let after = server.counts();
    let delta = (after.0 - before.0, after.1 - before.1);
    let m = result(&merged);
    check_against_the_server(&m, delta, "merged.json");
    // The merge judged the whole: the first-event rule fails on it too.
    assert!(
        m.thresholds
            .iter()
            .any(|t| t.rule == "p99(first_event:chat) < 300ms" && !t.passed),
        "{:?}",
        m.thresholds
    );
}
