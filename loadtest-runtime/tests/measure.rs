//! `ctx.measure`: a non-HTTP operation (a lookup in a tiny line-protocol key-value server this test
//! starts on 127.0.0.1) measured like a request. Its failures, which the server makes for a known
//! share of keys in known ways, are classified and counted exactly against the server's own
//! counts; retries follow the test's policy and the server's attempts equal the report's; a
//! threshold on the operation's name holds and another fails, as configured.

mod common;

use common::{brief, run_layers};
use loadtest_runtime::config::OptionLayer;
use loadtest_runtime::prelude::*;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Operations (one per iteration, each on its own key `0..OPS`): seven keys of each residue
/// modulo 10, so each failure mode below meets exactly `OPS / 10` keys.
const OPS: u64 = 70;

/// The credential the server puts in its "missing" answers, which must never reach a report.
const PASSWORD: &str = "s3cret-pw-77";

/// What the key-value server answered, by its own count.
#[derive(Default)]
struct Counts {
    attempts: AtomicU64,
    ok: AtomicU64,
    busy: AtomicU64,
    missing: AtomicU64,
    closed: AtomicU64,
}

/// A key-value server on 127.0.0.1 speaking one line each way: `GET key` is answered with
/// `OK value`, `ERR message`, or a closed connection, by the key's residue modulo 10:
///
/// - 1: `ERR busy` on the key's first attempt, then `OK`;
/// - 2: the connection closed without an answer on the first attempt, then `OK`;
/// - 3: always `ERR missing ...` (a long message with a database URL and its password);
/// - 4: always `ERR busy`;
/// - any other: `OK`.
struct KvServer {
    addr: std::net::SocketAddr,
    counts: Arc<Counts>,
}

impl KvServer {
    async fn start() -> KvServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let counts = Arc::new(Counts::default());
        let seen: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
        let c = counts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (c, seen) = (c.clone(), seen.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &c, &seen).await;
                });
            }
        });
        KvServer { addr, counts }
    }

    fn count(&self, which: fn(&Counts) -> &AtomicU64) -> u64 {
        which(&self.counts).load(Ordering::SeqCst)
    }
}

/// Answers the requests of one connection (the client sends one per connection).
async fn serve(
    stream: TcpStream,
    counts: &Counts,
    seen: &Mutex<HashMap<u64, u32>>,
) -> io::Result<()> {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(());
    }
    let key: u64 = line
        .trim()
        .strip_prefix("GET ")
        .and_then(|k| k.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad request {line:?}")))?;
    let attempt = {
        let mut seen = seen.lock().unwrap();
        let n = seen.entry(key).or_insert(0);
        *n += 1;
        *n - 1
    };
    counts.attempts.fetch_add(1, Ordering::SeqCst);
    let answer = match (key % 10, attempt) {
        (1, 0) | (4, _) => {
            counts.busy.fetch_add(1, Ordering::SeqCst);
            "ERR busy\n".to_string()
        }
        (2, 0) => {
            counts.closed.fetch_add(1, Ordering::SeqCst);
            // Dropped without a byte of an answer.
            return Ok(());
        }
        (3, _) => {
            counts.missing.fetch_add(1, Ordering::SeqCst);
            format!(
                "ERR missing key {key} in postgres://kv:{PASSWORD}@db.internal/kv {}\n",
                "x".repeat(600)
            )
        }
        _ => {
            counts.ok.fetch_add(1, Ordering::SeqCst);
            format!("OK value-{key}\n")
        }
    };
    stream.get_mut().write_all(answer.as_bytes()).await?;
    stream.get_mut().shutdown().await
}

/// The client's one operation: `GET key` on a new connection. A server error is an
/// `io::Error` of kind `Other` (or `NotFound` for a missing key); a connection closed before an
/// answer is `UnexpectedEof`.
async fn kv_get(addr: &str, key: u64) -> io::Result<String> {
    let mut stream = BufReader::new(TcpStream::connect(addr).await?);
    stream
        .get_mut()
        .write_all(format!("GET {key}\n").as_bytes())
        .await?;
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection before answering",
        ));
    }
    let line = line.trim_end();
    if let Some(value) = line.strip_prefix("OK ") {
        Ok(value.to_string())
    } else if let Some(message) = line.strip_prefix("ERR missing") {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("missing{message}"),
        ))
    } else {
        Err(io::Error::other(
            line.strip_prefix("ERR ").unwrap_or(line).to_string(),
        ))
    }
}

/// The key-value server's address, set by the test before the load test runs.
static KV_ADDR: OnceLock<String> = OnceLock::new();

/// One lookup per iteration, of the next key. A missing key is an answer: it is not retried.
#[load_test(
    users = 3,
    iterations = 70,
    retries = 2,
    backoff = "1ms..5ms",
    thresholds = ["p99(kv.get) < 30s", "error_rate(kv.get) < 5%", "error_rate(kv.get) < 50%"]
)]
async fn kv_lookups(ctx: &Ctx) -> Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let key = NEXT.fetch_add(1, Ordering::SeqCst);
    let addr = KV_ADDR.get().expect("the test sets the server's address");
    let value = ctx
        .operation("kv.get")
        .retry_if(|e: &io::Error| e.kind() != io::ErrorKind::NotFound)
        .run(|| kv_get(addr, key))
        .await?;
    if value != format!("value-{key}") {
        return Err(format!("key {key}: wrong value {value:?}").into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_operations_are_classified_retried_and_judged_like_requests() {
    let server = KvServer::start().await;
    KV_ADDR.set(server.addr.to_string()).unwrap();
    let r = run_layers(
        "kv_lookups",
        &[OptionLayer::new("test")],
        std::time::Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    let per_mode = OPS / 10;

    // The server's own counts, first against what it was built to do.
    let attempts = server.count(|c| &c.attempts);
    let (ok, busy, missing, closed) = (
        server.count(|c| &c.ok),
        server.count(|c| &c.busy),
        server.count(|c| &c.missing),
        server.count(|c| &c.closed),
    );
    // Every key but the missing and the always-busy ones is answered in the end.
    assert_eq!(ok, OPS - 2 * per_mode, "{b}");
    // Busy once (then ok), and busy on each of three attempts (two retries, exhausted).
    assert_eq!(busy, per_mode + 3 * per_mode, "{b}");
    assert_eq!(missing, per_mode, "a missing key is not retried; {b}");
    assert_eq!(closed, per_mode, "{b}");
    assert_eq!(attempts, ok + busy + missing + closed);

    // Every attempt is a request of the operation's name, classified.
    let named = &r.request_names["kv.get"];
    assert_eq!(r.request_names.len(), 1, "{b}");
    assert_eq!(named.count, attempts, "one request per attempt; {b}");
    assert_eq!(r.requests.total, attempts, "{b}");
    assert_eq!(named.by_class.get("ok"), Some(&ok), "{b}");
    assert_eq!(
        named.by_class.get("error"),
        Some(&(busy + missing)),
        "a server's error answer is the operation's own error; {b}"
    );
    assert_eq!(
        named.by_class.get("closed"),
        Some(&closed),
        "a connection closed before the answer is an io::Error of class closed; {b}"
    );
    assert_eq!(named.by_class.len(), 3, "{:?}", named.by_class);
    assert_eq!(named.by_class, r.requests.by_class);
    assert!(named.by_status.is_empty(), "{b}");
    assert_eq!(named.latency.summary.count, attempts, "{b}");
    assert!(!named.exemplars.as_slice().is_empty(), "{b}");

    // Retries: each failed attempt the policy retries, within `retries = 2`.
    assert_eq!(
        r.requests.retries_attempted,
        attempts - OPS,
        "every attempt after an operation's first is a retry; {b}"
    );
    assert_eq!(
        r.requests.retries_attempted,
        per_mode + per_mode + 2 * per_mode,
        "{b}"
    );
    assert_eq!(
        r.requests.retries_exhausted, per_mode,
        "the always-busy keys; {b}"
    );
    assert_eq!(r.iterations.total, OPS, "{b}");
    assert_eq!(
        r.iterations.failed_by_class.get("user"),
        Some(&(2 * per_mode)),
        "the missing and the always-busy keys fail their iterations; {b}"
    );

    // Error samples: `name: Type: message`, counted, bounded, secrets redacted.
    let samples = |class: &str, contains: &str| -> u64 {
        r.errors
            .iter()
            .filter(|e| e.class == class && e.message.contains(contains))
            .map(|e| e.count)
            .sum()
    };
    assert_eq!(samples("error", "kv.get: io::Error: busy"), busy, "{b}");
    assert_eq!(
        samples("error", "kv.get: io::Error: missing key"),
        missing,
        "{b}"
    );
    assert_eq!(
        samples(
            "closed",
            "kv.get: io::Error: the server closed the connection"
        ),
        closed,
        "{b}"
    );
    assert!(
        r.errors.iter().all(|e| !e.message.contains(PASSWORD)),
        "{b}"
    );
    // The operation's samples (the iterations' own messages, class `user`, are the test's).
    for e in r
        .errors
        .iter()
        .filter(|e| e.class == "error" && e.message.contains("missing key"))
    {
        assert!(
            e.message.contains("postgres://[redacted]@db.internal"),
            "{}",
            e.message
        );
        let limit = "kv.get: io::Error: ".len() + loadtest_runtime::measure::MESSAGE_LIMIT + 3;
        assert!(
            e.message.len() <= limit && e.message.ends_with('…'),
            "the message sample is cut: {} bytes",
            e.message.len()
        );
    }

    // Thresholds on the operation's name, judged as on a request's.
    let rule = |s: &str| {
        r.thresholds
            .iter()
            .find(|t| t.rule == s)
            .unwrap_or_else(|| panic!("no rule {s}: {:?}", r.thresholds))
    };
    assert!(rule("p99(kv.get) < 30s").passed, "{:?}", r.thresholds);
    let strict = rule("error_rate(kv.get) < 5%");
    assert!(!strict.passed, "{strict:?}");
    let expected = (busy + missing + closed) as f64 / attempts as f64;
    assert!(
        (strict.observed.unwrap() - expected).abs() < 1e-9,
        "observed {:?}, expected {expected}",
        strict.observed
    );
    assert!(
        rule("error_rate(kv.get) < 50%").passed,
        "{:?}",
        r.thresholds
    );
    assert!(!r.passed, "{b}");
}

/// Without retries in the test's policy, an operation makes one attempt; `retries(n)` on the
/// operation overrides it.
#[load_test(users = 1, iterations = 20)]
async fn kv_overrides(ctx: &Ctx) -> Result<()> {
    // Keys 1001, 1011, ... and 5001, 5011, ...: busy on their first attempt only.
    let key = 1001 + 10 * ctx.iteration();
    let addr = KV_OVERRIDE_ADDR.get().expect("set by the test");
    let once = ctx.measure("kv.once", || kv_get(addr, key)).await;
    if once.is_ok() {
        return Err("the first attempt of a busy-once key succeeded".into());
    }
    ctx.operation("kv.again")
        .retries(1)
        .run(|| kv_get(addr, key + 4000))
        .await?;
    Ok(())
}

static KV_OVERRIDE_ADDR: OnceLock<String> = OnceLock::new();

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_test_or_the_operations_own_setting() {
    let server = KvServer::start().await;
    KV_OVERRIDE_ADDR.set(server.addr.to_string()).unwrap();
    let r = run_layers(
        "kv_overrides",
        &[OptionLayer::new("test")],
        std::time::Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    let n = r.iterations.total;
    assert!(n > 0 && r.iterations.ok == n, "{b}");
    let once = &r.request_names["kv.once"];
    let again = &r.request_names["kv.again"];
    assert_eq!(
        (once.count, once.by_class.get("error")),
        (n, Some(&n)),
        "{b}"
    );
    assert_eq!(
        (
            again.count,
            again.by_class.get("error"),
            again.by_class.get("ok")
        ),
        (2 * n, Some(&n), Some(&n)),
        "busy, then retried once and answered; {b}"
    );
    assert_eq!(r.requests.retries_attempted, n, "{b}");
    assert_eq!(r.requests.retries_exhausted, 0, "{b}");
    assert_eq!(server.count(|c| &c.attempts), 3 * n, "{b}");
    assert_eq!(server.count(|c| &c.busy), 2 * n, "{b}");
}

/// Five operation names where the test keeps two: the rest are counted under `(overflow)`, as
/// request names past `max_names` are.
#[load_test(users = 1, iterations = 4, max_names = 2)]
async fn many_names(ctx: &Ctx) -> Result<()> {
    for i in 0..5 {
        let name = format!("op.{i}");
        ctx.measure(&name, || std::future::ready(Ok::<(), io::Error>(())))
            .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_names_are_bounded_like_request_names() {
    let r = run_layers(
        "many_names",
        &[OptionLayer::new("test")],
        std::time::Duration::from_secs(60),
    )
    .await;
    let b = brief(&r);
    let counts: Vec<(&str, u64)> = r
        .request_names
        .iter()
        .map(|(n, m)| (n.as_str(), m.count))
        .collect();
    assert_eq!(
        counts,
        [("(overflow)", 12), ("op.0", 4), ("op.1", 4)],
        "{b}"
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("max_names")),
        "{:?}",
        r.warnings
    );
}
