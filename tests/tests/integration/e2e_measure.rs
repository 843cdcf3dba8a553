//! Issue 25, item 1, end to end: the README's `ctx.measure` example (the `measure` fixture's
//! `loadtests/db.rs` is its code block) runs through the real `cargo loadtest` against a
//! line-protocol key-value store this test starts on 127.0.0.1, which answers `ERR busy` to every
//! 50th attempt it sees. The measured name `db.get` is a request everywhere a request is: the JSON
//! report (counts and classes equal to the store's own), the terminal's per-name table, JUnit,
//! Markdown, HTML, CSV, the interval logs, the live `/metrics` endpoint, and the merge of two
//! shards, whose sum equals the store's count of both runs. The runs set `LOADTEST_SLO`, so
//! goodput (issue 25, item 4) is checked on the way: in the JSON (and its schema), beside the
//! throughput in the terminal and the Markdown, and added up by the merge.

use crate::support;

use loadtest_report::report::{RunReport, TestResult};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use support::scrape::{samples, sum};
use support::{EveryOutput, Fixture, text};

/// The store fails every `BUSY_EVERY`th attempt it sees.
const BUSY_EVERY: u64 = 50;

/// A key-value store on 127.0.0.1 speaking the README's protocol: `GET key` answered with
/// `OK value-key`, or `ERR busy` for every 50th attempt (by its own count). One thread per
/// connection; the accept loop stops when the store is dropped.
struct Store {
    addr: SocketAddr,
    attempts: Arc<AtomicU64>,
    busy: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Store {
    fn start() -> Store {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let attempts = Arc::new(AtomicU64::new(0));
        let busy = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, b, s) = (attempts.clone(), busy.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (a, b) = (a.clone(), b.clone());
                std::thread::spawn(move || {
                    let _ = answer(conn, &a, &b);
                });
            }
        });
        Store {
            addr,
            attempts,
            busy,
            stop,
            thread: Some(thread),
        }
    }

    fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::SeqCst)
    }

    fn busy(&self) -> u64 {
        self.busy.load(Ordering::SeqCst)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(conn: TcpStream, attempts: &AtomicU64, busy: &AtomicU64) -> std::io::Result<()> {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let Some(key) = line.trim().strip_prefix("GET ") else {
        return Ok(());
    };
    let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
    let mut conn = conn;
    if n.is_multiple_of(BUSY_EVERY) {
        busy.fetch_add(1, Ordering::SeqCst);
        conn.write_all(b"ERR busy\n")
    } else {
        conn.write_all(format!("OK value-{key}\n").as_bytes())
    }
}

/// The result of the test `lookups`.
fn result(report: &RunReport) -> TestResult {
    support::test_result(report, "lookups")
}

/// What every report must agree on, from the JSON report and the store's counts.
fn check_against_the_store(r: &TestResult, attempts: u64, busy: u64, what: &str) {
    let named = &r.request_names["db.get"];
    assert_eq!(named.count, attempts, "{what}: one request per attempt");
    assert_eq!(r.request_names.len(), 1, "{what}: {:?}", r.request_names);
    assert_eq!(
        named.by_class.get("error").copied().unwrap_or(0),
        busy,
        "{what}: the store's ERR answers are class error"
    );
    assert_eq!(
        named.by_class.get("ok").copied().unwrap_or(0),
        attempts - busy,
        "{what}"
    );
    assert_eq!(named.latency.summary.count, attempts, "{what}");
    assert_eq!(
        r.iterations.total + r.requests.retries_attempted,
        attempts,
        "{what}: every attempt after an operation's first is a retry"
    );
    assert_eq!(
        r.iterations.failed, r.requests.retries_exhausted,
        "{what}: only an operation out of retries fails its iteration"
    );
}

#[test]
fn the_readme_measure_example_is_a_request_in_every_output_and_merges_exactly() {
    // Not judged on time: the rules' verdicts are checked against their own observed values.
    let _g = support::concurrent(&["measure"]);
    let f = Fixture::shared("measure");
    support::assert_readme_example(
        "measure/loadtests/db.rs",
        "### Any async operation: `ctx.measure`",
    );
    let store = Store::start();
    let mut run = f.run_command(&["--iterations", "400"]);
    run.env("DB_ADDR", store.addr.to_string())
        // Goodput (item 4's `slo`) rides along: JSON, schema, terminal, Markdown and merge.
        .env("LOADTEST_SLO", "250ms");
    let EveryOutput {
        out,
        page,
        report,
        csv,
        hlog,
    } = support::run_with_every_output(&f, run);
    let r = result(&report);
    let (attempts, busy) = (store.attempts(), store.busy());
    assert_eq!(busy, attempts / BUSY_EVERY, "{}", text(&out));
    assert!(busy >= 8, "400 operations meet at least 8 busy answers");
    check_against_the_store(&r, attempts, busy, "report.json");
    support::validate_schema(&f.file("report.json"));

    // The rules on the name are judged on it, and the exit code follows them.
    let rule = |s: &str| {
        r.thresholds
            .iter()
            .find(|t| t.rule == s)
            .unwrap_or_else(|| panic!("no rule {s}: {:?}", r.thresholds))
            .clone()
    };
    let p99 = rule("p99(db.get) < 250ms");
    let observed = p99.observed.expect("db.get has latencies");
    assert_eq!(
        observed,
        r.request_names["db.get"].latency.summary.p99_us as f64
    );
    assert_eq!(p99.passed, observed < 250_000.0, "{p99:?}");
    let error_rate = rule("error_rate(db.get) < 5%");
    let expected = busy as f64 / attempts as f64;
    assert!(
        (error_rate.observed.unwrap() - expected).abs() < 1e-9,
        "{error_rate:?}, expected {expected}"
    );
    assert!(error_rate.passed, "2% of attempts fail: {error_rate:?}");
    let passed = r.thresholds.iter().all(|t| t.passed);
    assert_eq!(
        out.status.code(),
        Some(if passed { 0 } else { 100 }),
        "{}",
        text(&out)
    );

    // Goodput, against the `slo` from LOADTEST_SLO: at most the successful iterations, its rate
    // over the test's time, shown beside the throughput.
    let goodput = r
        .iterations
        .goodput
        .expect("a run with an slo reports goodput");
    assert_eq!(goodput.slo_us, 250_000);
    assert!(goodput.good <= r.iterations.ok, "{goodput:?}");
    assert!((goodput.rate_per_s - goodput.good as f64 / r.elapsed_s).abs() < 1e-6);
    let good_cell = format!(
        "{:.1} (good {:.1})",
        r.iterations.rate_per_s, goodput.rate_per_s
    );

    // The terminal's per-name table.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&good_cell), "{good_cell} in {stdout}");
    let table = stdout
        .split("by request name:")
        .nth(1)
        .unwrap_or_else(|| panic!("no per-name table: {stdout}"));
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with("db.get"))
        .unwrap_or_else(|| panic!("no db.get row: {table}"));
    assert!(
        row.contains(&attempts.to_string()) && row.contains(&format!("error {busy}")),
        "{row}"
    );

    // JUnit, Markdown and HTML name the operation, its rules and its error class.
    let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    roxmltree::Document::parse(&junit).expect("JUnit XML parses");
    assert!(
        junit.contains("p99(db.get) &lt; 250ms") || junit.contains("p99(db.get) < 250ms"),
        "{junit}"
    );
    assert!(
        junit.contains(&format!(
            "errors error x{busy}: db.get: io::Error: ERR busy"
        )),
        "{junit}"
    );
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    assert!(md.contains(&good_cell), "{md}");
    assert!(md.contains("| db.get |"), "{md}");
    assert!(md.contains("db.get: io::Error: ERR busy"), "{md}");
    let html = std::fs::read_to_string(f.file("report.html")).unwrap();
    assert!(html.contains("db.get"), "the HTML report names db.get");
    assert!(html.contains("error_rate(db.get)"), "and its rules");

    // CSV: a request row for the name with its count and its failed attempts.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let request = csv
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|c| c[col("kind")] == "request" && c[col("name")] == "db.get")
        .unwrap_or_else(|| panic!("no request row for db.get: {csv}"));
    assert_eq!(request[col("count")], attempts.to_string(), "{csv}");
    assert_eq!(request[col("failed")], busy.to_string(), "{csv}");

    // Interval logs: a `request:db.get` tag whose intervals add up to every attempt.
    let log = support::interval_log(&hlog);
    let intervals = support::interval_counts(&log, "request:db.get");
    assert!(!intervals.is_empty(), "{log}");
    assert_eq!(intervals.iter().sum::<u64>(), attempts, "{log}");

    // Live metrics: the last scrape counts every attempt under the name, by class.
    let s = samples(&page);
    let requests = |class: &str| {
        sum(
            &s,
            "loadtest_requests_total",
            &[("request", "db.get"), ("class", class)],
        )
    };
    assert_eq!(requests("ok") as u64, attempts - busy, "{page}");
    assert_eq!(requests("error") as u64, busy, "{page}");

    // Two shards against the same store merge into exactly what the store saw.
    let before = store.attempts();
    let before_busy = store.busy();
    let mut shards = Vec::new();
    let mut good = 0;
    for k in 1..=2 {
        let json = f.file(&format!("shard-{k}.json"));
        let out = f
            .command(&[
                "--iterations",
                "400",
                "--shard",
                &format!("{k}/2"),
                "--json",
                json.to_str().unwrap(),
            ])
            .env("DB_ADDR", store.addr.to_string())
            .env("LOADTEST_SLO", "250ms")
            .output()
            .expect("cargo-loadtest runs");
        assert_eq!(out.status.code(), Some(0), "shard {k}: {}", text(&out));
        let shard: RunReport =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        good += result(&shard).iterations.goodput.expect("goodput").good;
        shards.push(json);
    }
    let (out, merged) = support::merge_shards(&f, &shards);
    assert!(
        matches!(out.status.code(), Some(0) | Some(100)),
        "{}",
        text(&out)
    );
    let merged: RunReport =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    let m = result(&merged);
    let (attempts, busy) = (store.attempts() - before, store.busy() - before_busy);
    check_against_the_store(&m, attempts, busy, "merged.json");
    assert_eq!(m.iterations.total, 400, "the shards split the iterations");
    let merged_goodput = m.iterations.goodput.expect("the merge keeps goodput");
    assert_eq!(
        (merged_goodput.slo_us, merged_goodput.good),
        (250_000, good),
        "the shards' good iterations add up"
    );
}
