//! End-to-end: the live dashboard (`--dashboard`, issue 29) watched by headless Chromium,
//! driven over WebDriver by Debian's `chromedriver` (plain HTTP and JSON on loopback, no client
//! library). One 20-second run is followed second by second and must end on `report.html`; a
//! second run is stopped from the page, on a non-loopback address that needs a token.
//!
//! Chromium and chromedriver are Debian packages that `.ci/run` installs; where one is missing
//! the tests say so and return, except under `CI=true`, where they fail.

use crate::e2e_watch::{png_pixels, references, tool};
use crate::support;

use loadtest_report::report::TestStatus;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::scrape::{free_port, http_get};
use support::{Fixture, Server, concurrent, serial};

/// A request over HTTP/1.1 on loopback: the status code and the body (read to the end).
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect on loopback");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("set a read timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    // Read by Content-Length: chromedriver keeps the connection open after its answer.
    let mut reader = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read the response head");
        if n == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let mut raw = Vec::new();
    match length {
        Some(n) => {
            raw.resize(n, 0);
            reader.read_exact(&mut raw).expect("read the response body");
        }
        None => {
            reader
                .read_to_end(&mut raw)
                .expect("read the response body");
        }
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        support::scrape::dechunk(&raw)
    } else {
        raw
    };
    (status, body)
}

/// Standard base64, as WebDriver returns screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | d << (18 - 6 * i));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

/// Headless Chromium under chromedriver, one session.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (the test is skipped) when chromium or chromedriver is missing, except under CI.
    fn start() -> Option<Browser> {
        let chromium = tool("chromium")?;
        let chromedriver = tool("chromedriver")?;
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: tempfile::tempdir().expect("a profile folder"),
        };
        let start = Instant::now();
        loop {
            let ready = TcpStream::connect(("127.0.0.1", port)).is_ok()
                && serde_json::from_str::<Value>(&http(port, "GET", "/status", None).1)
                    .is_ok_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "chromedriver was not ready within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = browser._profile.path().display().to_string();
        let created = browser.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--window-size=1280,1500", "--hide-scrollbars",
                             format!("--user-data-dir={profile}")]
                }
            }}})),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        Some(browser)
    }

    /// A WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = http(self.port, method, path, body.as_ref());
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: {status} {text} ({e})"));
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page; its return value.
    fn script(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    fn click(&self, css: &str) {
        let element = self.session_call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        let id = element
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {element}"))
            .to_string();
        self.session_call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    fn screenshot(&self) -> Vec<u8> {
        let shot = self.session_call("GET", "/screenshot", None);
        base64_decode(shot.as_str().expect("a base64 screenshot"))
    }

    /// Polls `script` until it returns `true`, at most `limit`.
    fn wait_for(&self, what: &str, script: &str, limit: Duration) {
        let start = Instant::now();
        while self.script(script) != json!(true) {
            assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A `cargo loadtest` run in the background, its standard error collected line by line.
struct Run {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Run {
    fn spawn(mut cmd: Command) -> Run {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cargo-loadtest starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        Run { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Waits for a line of standard error containing `needle` (the build may come first).
    fn wait_for_line(&mut self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "exited ({status}) before printing {needle:?}: {}",
                    self.stderr()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(900),
                "no {needle:?} within 900 s: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the exit, at most `limit`; its code.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for cargo-loadtest") {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return status.code();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("still running after {limit:?}: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What one streamed frame says about the run: the running test, its elapsed seconds and
/// iterations (the progress event it was drawn from), and whether the run has ended.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    test: String,
    elapsed: f64,
    iterations: u64,
    finished: bool,
}

/// Reads the dashboard's event stream on a thread of its own, as a second viewer, until the
/// final frame (or the stream's end).
fn watch_events(port: u16) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the dashboard");
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        write!(s, "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        for line in BufReader::new(s).lines().map_while(Result::ok) {
            let Some(data) = line.strip_prefix("data: ") else {
                continue;
            };
            let f: Value = serde_json::from_str(data).expect("a frame is JSON");
            let seen = Seen {
                test: f["status"]["test"].as_str().unwrap_or("").to_string(),
                elapsed: f["status"]["elapsed"].as_f64().unwrap_or(0.0),
                iterations: f["status"]["iterations"].as_u64().unwrap_or(0),
                finished: f["finished"] == true,
            };
            let finished = seen.finished;
            out.lock().unwrap().push(seen);
            if finished {
                break;
            }
        }
    });
    seen
}

/// The page's status line and the iterations cell of its summary table's first test.
const SNAPSHOT: &str = r##"
var s = document.getElementById("live-status");
if (!s) { return ["", 0, -1, ""]; }
var cell = document.querySelector("#report table.summary tr:nth-child(2) td:nth-child(2)");
return [s.dataset.test, Number(s.dataset.elapsed), cell ? Number(cell.textContent) : -1, document.title];
"##;

/// The terminal's plain progress lines (`  7s/20s  1234 iterations ...`): `(second, iterations)`.
fn terminal_progress(stderr: &str) -> Vec<(f64, u64)> {
    stderr
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let second = words.next()?.split_once("s/")?.0.parse().ok()?;
            let iterations = words.next()?.parse().ok()?;
            (words.next()? == "iterations").then_some((second, iterations))
        })
        .collect()
}

fn repo_file(path: &str) -> PathBuf {
    support::repo_root().join(path)
}

#[test]
fn the_dashboard_follows_a_run_second_by_second_and_ends_on_its_report() {
    let _g = serial();
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    let f = Fixture::shared("passing");
    let port = free_port();
    let mut run = Run::spawn(f.run_command(&[
        "home",
        "--target",
        &server.url(),
        "--duration",
        "20s",
        &format!("--dashboard={port}"),
    ]));
    let line = run.wait_for_line("Dashboard at ");
    let url = format!("http://127.0.0.1:{port}/");
    assert!(line.trim_end().ends_with(&url), "{line}");
    let streamed = watch_events(port);
    browser.open(&url);

    // Three snapshots of the page, at least 4 s apart by the run's own clock, each the frame of
    // one progress event that the second viewer also received.
    let mut snapshots: Vec<(f64, u64)> = Vec::new();
    let start = Instant::now();
    for _ in 0..600 {
        if snapshots.len() == 3 || start.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        let v = browser.script(SNAPSHOT);
        let (test, elapsed, cell) = (
            v[0].as_str().unwrap_or(""),
            v[1].as_f64().unwrap_or(0.0),
            v[2].as_f64().unwrap_or(-1.0),
        );
        let spaced = snapshots.last().is_none_or(|(e, _)| elapsed >= e + 4.0);
        let known = streamed
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.test == test && s.elapsed == elapsed);
        if test == "api::home" && elapsed >= 1.0 && spaced && known {
            snapshots.push((elapsed, cell as u64));
            if snapshots.len() == 2 {
                let png = browser.screenshot();
                let (w, h, pixels) = png_pixels(&png);
                assert!(w >= 1000 && h >= 1000, "{w}x{h}");
                let inked = pixels.iter().filter(|p| p.iter().all(|c| *c < 128)).count();
                assert!(inked > 2_000, "the screenshot shows text and charts");
                let dir = repo_file("target/e2e-fixtures");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("dashboard.png"), &png).unwrap();
            }
        }
    }
    assert_eq!(
        snapshots.len(),
        3,
        "three snapshots in 120 s: {snapshots:?}"
    );
    let code = run.wait(Duration::from_secs(180));
    let stderr = run.stderr();
    assert_eq!(code, Some(0), "{stderr}");
    let streamed = streamed.lock().unwrap().clone();
    // Each snapshot shows the iterations of the progress event of its second, and they rise.
    for (elapsed, iterations) in &snapshots {
        let event = streamed
            .iter()
            .find(|s| s.test == "api::home" && s.elapsed == *elapsed)
            .expect("the snapshot's progress event was streamed");
        assert_eq!(
            *iterations, event.iterations,
            "at {elapsed}s: {snapshots:?}"
        );
    }
    assert!(
        snapshots.windows(2).all(|w| w[0].1 < w[1].1),
        "rising: {snapshots:?}"
    );
    // The terminal printed some of the same progress events: the page's figures are theirs.
    let printed = terminal_progress(&stderr);
    let matched = printed
        .iter()
        .filter(|(second, iterations)| {
            streamed
                .iter()
                .any(|s| s.elapsed.round() == *second && s.iterations == *iterations)
        })
        .count();
    assert!(
        printed.len() >= 2 && matched >= printed.len() - 1,
        "terminal {printed:?}, streamed {streamed:?}"
    );
    assert!(streamed.last().is_some_and(|s| s.finished), "{streamed:?}");

    // The run pushed its final report before it exited: the page is report.html.
    browser.wait_for(
        "the final frame",
        r##"var s = document.getElementById("live-status"); return !!s && s.dataset.finished === "true";"##,
        Duration::from_secs(30),
    );
    assert!(
        browser.script(r##"return document.getElementById("stop") === null;"##) == json!(true),
        "no Stop control once the run has ended"
    );
    let live_body = browser.script(r##"return document.getElementById("report").innerHTML;"##);
    let live_title = browser.script("return document.title;");
    let report_html = f.file("report.html");
    browser.open(&format!("file://{}", report_html.display()));
    let final_body = browser.script("return document.body.innerHTML;");
    let final_title = browser.script("return document.title;");
    let trim = |v: &Value| v.as_str().unwrap_or("").trim().to_string();
    assert!(trim(&final_body).contains("PASSED"), "{final_body}");
    assert_eq!(trim(&live_body), trim(&final_body));
    assert_eq!(live_title, final_title);
}

#[test]
fn the_dashboard_stops_a_run_as_ctrl_c_does_and_needs_its_token_off_loopback() {
    let _g = concurrent(&["passing"]);
    let f = Fixture::shared("passing");
    // Off loopback without a token: a usage error naming the flag, before anything is built.
    let out = f.command(&["--dashboard=0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", support::text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--dashboard-token"), "{stderr}");

    let Some(browser) = Browser::start() else {
        return;
    };
    let server = Server::start();
    let port = free_port();
    let token = "e2e-dashboard-token-0123456789";
    let mut cmd = f.run_command(&[
        "home",
        "--target",
        &server.url(),
        "--duration",
        "120s",
        &format!("--dashboard=0.0.0.0:{port}"),
    ]);
    cmd.env("LOADTEST_DASHBOARD_TOKEN", token);
    let mut run = Run::spawn(cmd);
    let line = run.wait_for_line("Dashboard at ");
    assert!(
        !line.contains(token),
        "the given token is not printed: {line}"
    );
    for path in ["/", "/events", "/?token=wrong-token-0123456789"] {
        let (status, _) = http_get(port, path).expect("the dashboard answers");
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = http(port, "POST", "/stop", None);
    assert_eq!(status, 401, "a stop without the token");
    let (status, page) = http_get(port, &format!("/?token={token}")).unwrap();
    assert_eq!(status, 200);
    assert!(!page.contains(token), "the page never holds the token");
    let outside: Vec<String> = references(&page)
        .into_iter()
        .filter(|r| r.contains("//") || r.starts_with("http"))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");

    browser.open(&format!("http://127.0.0.1:{port}/?token={token}"));
    browser.wait_for(
        "the test running",
        r##"var s = document.getElementById("live-status"); return !!s && s.dataset.test === "api::home";"##,
        Duration::from_secs(120),
    );
    browser.click("#stop");
    let code = run.wait(Duration::from_secs(120));
    let stderr = run.stderr();
    assert_eq!(code, Some(130), "{stderr}");
    support::validate_schema(&f.file("report.json"));
    let report = f.report();
    assert_eq!(report.exit_code, 130);
    assert_eq!(report.tests[0].status, TestStatus::Interrupted);
    let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    roxmltree::Document::parse(&junit).expect("the JUnit report is XML");
    for file in ["report.json", "junit.xml", "report.md", "report.html"] {
        let text = std::fs::read_to_string(f.file(file)).unwrap();
        assert!(!text.contains(token), "{file} holds the token");
    }
    browser.wait_for(
        "the final, interrupted report",
        r##"var s = document.getElementById("live-status");
            return !!s && s.dataset.finished === "true" && document.querySelector("#report h1 .status").textContent === "INTERRUPTED";"##,
        Duration::from_secs(30),
    );
}
