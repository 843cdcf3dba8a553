//! Streamed responses (`Request::stream`) on every transport, against an HTTP/1.1 server this
//! test starts on 127.0.0.1 whose threads write each event at its own deadline with a precise
//! timer (a sleep to just before it, then a spin: not tokio's sleep, which rounds up to its
//! next millisecond): server-sent events framed by chunks, by `Content-Length` and by the
//! connection's close, each event split across two writes; a token stream without SSE framing;
//! a stream cut off in the middle; a stream that stalls past the request's timeout.
//!
//! `cargo test -p loadtest-runtime --test stream`.

mod common;

use common::{CLIENTS, SERIAL, brief, run_layers};
use loadtest_runtime::class::RequestClass;
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::prelude::*;
use loadtest_runtime::report::{StreamMetrics, TestResult};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::Instant;

/// Events per stream.
const EVENTS: u64 = 10;
/// The interval between events.
const INTERVAL_MS: u64 = 25;
/// Tokens of the token stream.
const TOKENS: u64 = 8;

static ADDR: OnceLock<String> = OnceLock::new();

/// Sleeps to 1 ms before `due`, then spins to it.
fn wait_until(due: Instant) {
    let now = Instant::now();
    if due > now + std::time::Duration::from_millis(1) {
        std::thread::sleep(due - now - std::time::Duration::from_millis(1));
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

/// The server: by path, `/sse/chunked`, `/sse/length`, `/sse/close` send [`EVENTS`] events at
/// [`INTERVAL_MS`] (the first one interval after the request), each written in two parts 2 ms apart; `/tokens` sends
/// [`TOKENS`] chunks `tok0 `, `tok1 `, ...; `/cut` sends three events and closes without ending
/// its chunked body; `/stall` sends one event and then nothing, for 2 s.
fn start_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            std::thread::spawn(move || {
                let _ = serve(tcp);
            });
        }
    });
    addr.to_string()
}

fn event(i: u64) -> String {
    format!("event: token\nid: {i}\ndata: event {i}\n\n")
}

fn serve(tcp: TcpStream) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut reader = BufReader::new(tcp.try_clone()?);
    let mut out = tcp;
    // Requests on one connection, one after another (kept connections are reused).
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_string();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" {
                break;
            }
        }
        let start = Instant::now();
        // Event i is due (i + 1) intervals after the request.
        let at = |i: u64| start + std::time::Duration::from_millis((i + 1) * INTERVAL_MS);
        let chunk = |out: &mut TcpStream, data: &str| -> std::io::Result<()> {
            write!(out, "{:x}\r\n{data}\r\n", data.len())?;
            out.flush()
        };
        let sse_head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n";
        match path.as_str() {
            "/sse/chunked" => {
                write!(out, "{sse_head}transfer-encoding: chunked\r\n\r\n")?;
                for i in 0..EVENTS {
                    let e = event(i);
                    let (a, b) = e.split_at(e.len() / 2);
                    wait_until(at(i) - std::time::Duration::from_millis(2));
                    chunk(&mut out, a)?;
                    wait_until(at(i));
                    chunk(&mut out, b)?;
                }
                write!(out, "0\r\n\r\n")?;
                out.flush()?;
            }
            "/sse/length" | "/sse/close" => {
                let whole: String = (0..EVENTS).map(event).collect();
                if path == "/sse/length" {
                    write!(out, "{sse_head}content-length: {}\r\n\r\n", whole.len())?;
                } else {
                    write!(out, "{sse_head}connection: close\r\n\r\n")?;
                }
                out.flush()?;
                for i in 0..EVENTS {
                    let e = event(i);
                    let (a, b) = e.split_at(e.len() / 2);
                    wait_until(at(i) - std::time::Duration::from_millis(2));
                    out.write_all(a.as_bytes())?;
                    out.flush()?;
                    wait_until(at(i));
                    out.write_all(b.as_bytes())?;
                    out.flush()?;
                }
                if path == "/sse/close" {
                    return Ok(());
                }
            }
            "/tokens" => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
                )?;
                for i in 0..TOKENS {
                    wait_until(at(i));
                    chunk(&mut out, &format!("tok{i} "))?;
                }
                write!(out, "0\r\n\r\n")?;
                out.flush()?;
            }
            "/cut" => {
                write!(out, "{sse_head}transfer-encoding: chunked\r\n\r\n")?;
                for i in 0..3 {
                    wait_until(at(i));
                    chunk(&mut out, &event(i))?;
                }
                // Half of a chunk, then the close.
                write!(out, "40\r\ndata: bro")?;
                out.flush()?;
                return Ok(());
            }
            "/stall" => {
                write!(out, "{sse_head}transfer-encoding: chunked\r\n\r\n")?;
                chunk(&mut out, &event(0))?;
                std::thread::sleep(std::time::Duration::from_secs(2));
                return Ok(());
            }
            _ => {
                write!(out, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?;
                out.flush()?;
            }
        }
    }
}

fn url(path: &str) -> String {
    format!("http://{}{path}", ADDR.get().unwrap())
}

/// One iteration: a stream of each framing read as events, checked event by event.
#[load_test(users = 1, iterations = 2, timeout = "5s")]
async fn sse_framings(ctx: &Ctx) -> Result<()> {
    for (path, name) in [
        ("/sse/chunked", "chunked"),
        ("/sse/length", "length"),
        ("/sse/close", "close"),
    ] {
        let mut stream = ctx.http().get(url(path)).name(name).stream().await?;
        assert_eq!(stream.status(), 200);
        let mut i = 0;
        while let Some(e) = stream.next_event().await? {
            if (e.event.as_str(), e.data.as_str(), e.id.as_deref())
                != (
                    "token",
                    format!("event {i}").as_str(),
                    Some(&*i.to_string()),
                )
            {
                return Err(format!("{name}: event {i} was {e:?}").into());
            }
            i += 1;
        }
        if i != EVENTS {
            return Err(format!("{name}: {i} events").into());
        }
    }
    Ok(())
}

/// A stream whose first event is read and the rest drained: every event is still counted.
#[load_test(users = 1, iterations = 2, timeout = "5s")]
async fn drained(ctx: &Ctx) -> Result<()> {
    let mut stream = ctx
        .http()
        .get(url("/sse/chunked"))
        .name("drained")
        .stream()
        .await?;
    let first = stream.next_event().await?.ok_or("no first event")?;
    let rest = stream.drain().await?;
    if (first.data.as_str(), rest) != ("event 0", EVENTS - 1) {
        return Err(format!("drained: {first:?}, then {rest} events").into());
    }
    Ok(())
}

/// A token stream read as chunks; the pieces the test saw are counted beside the report's.
#[load_test(users = 1, iterations = 2, timeout = "5s")]
async fn token_stream(ctx: &Ctx) -> Result<()> {
    let mut stream = ctx
        .http()
        .get(url("/tokens"))
        .name("tokens")
        .stream()
        .await?;
    let mut text = String::new();
    while let Some(piece) = stream.next_chunk().await? {
        ctx.count("pieces", 1);
        text.push_str(std::str::from_utf8(&piece)?);
    }
    let want: String = (0..TOKENS).map(|i| format!("tok{i} ")).collect();
    if text != want {
        return Err(format!("tokens: {text:?}").into());
    }
    Ok(())
}

/// A stream cut off in the middle and one that stalls past its timeout: each a class.
#[load_test(users = 1, iterations = 1, timeout = "5s")]
async fn broken_streams(ctx: &Ctx) -> Result<()> {
    let mut stream = ctx.http().get(url("/cut")).name("cut").stream().await?;
    let mut events = 0;
    let err = loop {
        match stream.next_event().await {
            Ok(Some(_)) => events += 1,
            Ok(None) => return Err("the cut stream ended well".into()),
            Err(e) => break e,
        }
    };
    if (events, err.class()) != (3, "body") {
        return Err(format!("cut: {events} events, then {err}").into());
    }
    let mut stream = ctx
        .http()
        .get(url("/stall"))
        .name("stall")
        .timeout(std::time::Duration::from_millis(300))
        .stream()
        .await?;
    assert!(stream.next_event().await?.is_some());
    match stream.next_event().await {
        Err(e) if e.is_timeout() => {}
        other => return Err(format!("stall: {other:?}").into()),
    }
    Ok(())
}

/// Whether a histogram's smallest value `min_us` (the bottom of its bucket: HdrHistogram keeps 3
/// significant figures) can be a value of at least `floor_us`.
fn at_least(min_us: u64, floor_us: u64) -> bool {
    min_us as f64 >= floor_us as f64 * (1.0 - 1.0 / 1000.0)
}

fn stream_of<'r>(r: &'r TestResult, name: &str) -> &'r StreamMetrics {
    r.request_names
        .get(name)
        .and_then(|m| m.stream.as_ref())
        .unwrap_or_else(|| panic!("no stream metrics for {name}: {}", brief(r)))
}

fn layer(client: &str) -> OptionLayer {
    let mut layer = OptionLayer::new("test");
    layer.set_str("client", client);
    layer
}

fn server() {
    ADDR.get_or_init(start_server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_counted_and_their_gaps_measured_on_every_transport() {
    let _serial = SERIAL.lock().await;
    server();
    let limit = std::time::Duration::from_secs(60);
    let interval_us = (INTERVAL_MS * 1000) as f64;
    for client in CLIENTS {
        let r = run_layers("sse_framings", &[layer(client)], limit).await;
        let b = brief(&r);
        assert_eq!(
            (r.iterations.total, r.iterations.ok),
            (2, 2),
            "{client}: {b} {:?}",
            r.errors
        );
        for name in ["chunked", "length", "close"] {
            let m = &r.request_names[name];
            assert_eq!(
                (m.count, m.by_class.get("ok")),
                (2, Some(&2)),
                "{client} {name}"
            );
            let s = stream_of(&r, name);
            let what = format!("{client} {name}: {s:?}");
            assert_eq!((s.streams, s.broken), (2, 0), "{what}");
            assert_eq!(s.events, 2 * EVENTS, "{what}: every event of both streams");
            assert!(s.chunks >= s.events / 2, "{what}");
            assert_eq!(s.first_byte.summary.count, 2, "{what}");
            assert_eq!(s.first_event.summary.count, 2, "{what}");
            assert_eq!(s.duration.summary.count, 2, "{what}");
            assert_eq!(s.gap.summary.count, 2 * (EVENTS - 1), "{what}");
            let p50 = s.gap.summary.p50_us as f64;
            assert!(
                (p50 - interval_us).abs() <= 0.1 * interval_us,
                "{what}: the gaps' p50 {p50}us is not within 10% of {interval_us}us"
            );
            // A stream lasts its events' schedule, and its latency is the stream's time.
            let schedule_us = EVENTS * INTERVAL_MS * 1000;
            assert!(at_least(s.duration.summary.min_us, schedule_us), "{what}");
            assert_eq!(m.latency.summary.count, 2, "{what}");
            assert!(at_least(m.latency.summary.min_us, schedule_us), "{what}");
            assert!(
                at_least(s.first_event.summary.min_us, INTERVAL_MS * 1000)
                    && at_least(s.first_byte.summary.min_us, (INTERVAL_MS - 2) * 1000),
                "{what}: the first event's first half came 2 ms before it, one interval in"
            );
            assert_eq!(
                m.bytes_received,
                2 * (0..EVENTS).map(|i| event(i).len() as u64).sum::<u64>(),
                "{what}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_stream_counts_every_event() {
    let _serial = SERIAL.lock().await;
    server();
    let r = run_layers(
        "drained",
        &[layer("native")],
        std::time::Duration::from_secs(60),
    )
    .await;
    assert_eq!(r.iterations.ok, 2, "{} {:?}", brief(&r), r.errors);
    let s = stream_of(&r, "drained");
    assert_eq!((s.streams, s.broken, s.events), (2, 0, 2 * EVENTS), "{s:?}");
    assert_eq!(s.gap.summary.count, 2 * (EVENTS - 1), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_stream_counts_its_chunks_as_events() {
    let _serial = SERIAL.lock().await;
    server();
    for client in CLIENTS {
        let r = run_layers(
            "token_stream",
            &[layer(client)],
            std::time::Duration::from_secs(60),
        )
        .await;
        let b = brief(&r);
        assert_eq!(r.iterations.ok, 2, "{client}: {b} {:?}", r.errors);
        let s = stream_of(&r, "tokens");
        let pieces = r.custom_counters["pieces"];
        // Each token is written 25 ms after the last: a read that found two at once (the
        // generator held up that long) is one piece, on the report as in the test.
        assert_eq!(s.chunks, pieces, "{client}: {s:?}");
        assert_eq!(s.events, pieces, "{client}: {s:?}");
        assert!((2..=2 * TOKENS).contains(&pieces), "{client}: {s:?}");
        assert_eq!(s.gap.summary.count, pieces - 2, "{client}: {s:?}");
        assert_eq!((s.streams, s.broken), (2, 0), "{client}: {s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_off_is_class_body_and_one_that_stalls_times_out() {
    let _serial = SERIAL.lock().await;
    server();
    for client in CLIENTS {
        let r = run_layers(
            "broken_streams",
            &[layer(client)],
            std::time::Duration::from_secs(60),
        )
        .await;
        let b = brief(&r);
        assert_eq!(r.iterations.ok, 1, "{client}: {b} {:?}", r.errors);
        let cut = &r.request_names["cut"];
        assert_eq!(
            cut.by_class.iter().collect::<Vec<_>>(),
            vec![(&RequestClass::Body, &1)],
            "{client}: {b}"
        );
        let s = stream_of(&r, "cut");
        assert_eq!(
            (s.streams, s.broken, s.events),
            (1, 1, 3),
            "{client}: {s:?}"
        );
        let stall = &r.request_names["stall"];
        assert_eq!(stall.by_class.get("timeout"), Some(&1), "{client}: {b}");
        let s = stream_of(&r, "stall");
        assert_eq!(
            (s.streams, s.broken, s.events),
            (1, 1, 1),
            "{client}: {s:?}"
        );
        // The timeout applies to the whole stream, from the request's start.
        assert!(
            at_least(s.duration.summary.min_us, 300_000) && s.duration.summary.max_us < 1_500_000,
            "{client}: {s:?}"
        );
        assert!(
            r.errors
                .iter()
                .any(|e| e.class == "body" && e.message.contains("/cut")),
            "{client}: {:?}",
            r.errors
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_read_the_stream_measures() {
    let _serial = SERIAL.lock().await;
    server();
    let mut layer = layer("native");
    layer.set(
        "thresholds",
        [
            "p50(gap:chunked) < 40ms",
            "p50(gap:chunked) < 10ms",
            "p99(first_event:chunked) < 10ms",
            "max(stream:chunked) > 200ms",
            "p50(first_byte:chunked) < 5s",
        ]
        .map(String::from)
        .to_vec(),
    );
    let r = run_layers("sse_framings", &[layer], std::time::Duration::from_secs(60)).await;
    let outcome = |rule: &str| {
        r.thresholds
            .iter()
            .find(|t| t.rule == rule)
            .unwrap_or_else(|| panic!("no outcome for {rule}: {:?}", r.thresholds))
    };
    assert!(outcome("p50(gap:chunked) < 40ms").passed);
    let tight = outcome("p50(gap:chunked) < 10ms");
    assert!(!tight.passed);
    assert!(
        tight.message.starts_with("p50(gap:chunked) was "),
        "{}",
        tight.message
    );
    // The first event comes one interval (25 ms) after the request.
    assert!(!outcome("p99(first_event:chunked) < 10ms").passed);
    assert!(outcome("max(stream:chunked) > 200ms").passed);
    assert!(outcome("p50(first_byte:chunked) < 5s").passed);
    assert!(!r.passed);
}
