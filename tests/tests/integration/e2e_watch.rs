//! End-to-end: watching a run. The live metrics endpoint read by a real scraper (a thread of
//! this test, Prometheus's `promtool`, and a real Prometheus server on loopback), the Grafana
//! dashboard checked against the names a real scrape exposes, and the HTML report of a run with
//! two tests, a threshold failure and a baseline, rendered by headless Chromium.
//!
//! Prometheus and Chromium are Debian packages that `.ci/run` installs. Where one is missing
//! the test that needs it says so and returns, except under `CI=true`, where it fails.

use crate::support;

use loadtest_report::live::LATENCY_BUCKETS_US;
use loadtest_report::report::{RunReport, TestReport, TestStatus};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::prometheus::Prometheus;
use support::scrape::{Scraper, free_port, samples, sum};
use support::{Fixture, Server, serial, text};

/// A tool from the PATH; `None` (the test is skipped) when it is missing, except under CI.
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not installed; .ci/run installs it (apt-get install prometheus chromium chromium-driver)"
        );
        eprintln!(
            "skipped: {name} is not installed (apt-get install prometheus chromium chromium-driver)"
        );
    }
    found
}

fn test_report<'a>(report: &'a RunReport, name: &str) -> &'a TestReport {
    report
        .tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test {name} in the report"))
}

/// The metric names the Grafana dashboard's queries use.
fn dashboard_names() -> BTreeSet<String> {
    let path = support::repo_root().join("docs/grafana/cargo-loadtest.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard exists");
    let dashboard: serde_json::Value =
        serde_json::from_str(&text).expect("the dashboard is valid JSON");
    assert_eq!(dashboard["uid"], "cargo-loadtest");
    let mut exprs = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr" | "definition", serde_json::Value::String(s)) => {
                            out.push(s.clone())
                        }
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    assert!(exprs.len() >= 15, "{exprs:?}");
    let mut names = BTreeSet::new();
    for e in &exprs {
        let mut rest = e.as_str();
        while let Some(i) = rest.find("loadtest_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            names.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    names
}

#[test]
fn the_metrics_endpoint_agrees_with_the_report_and_serves_every_dashboard_name() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let port = free_port();
    let scraper = Scraper::start(port);
    let listen = format!("127.0.0.1:{port}");
    let out = f.run(&[
        "--target",
        &server.url(),
        "--duration",
        "3s",
        "--metrics-listen",
        &listen,
    ]);
    let page = scraper.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("Metrics at http://{listen}/metrics")),
        "{stderr}"
    );
    let report = f.report();
    let s = samples(&page);
    for name in ["home", "items"] {
        let t = test_report(&report, name);
        let r = t.result.as_ref().unwrap();
        let q = format!("api::{name}");
        let test = [("test", q.as_str())];
        assert_eq!(
            sum(&s, "loadtest_requests_total", &test),
            r.requests.total as f64,
            "{name}: {page}"
        );
        assert_eq!(
            sum(
                &s,
                "loadtest_iterations_total",
                &[test[0], ("outcome", "ok")]
            ),
            r.iterations.ok as f64
        );
        assert_eq!(
            sum(&s, "loadtest_iteration_duration_seconds_count", &test),
            r.iteration_latency.summary.count as f64
        );
        assert_eq!(
            sum(
                &s,
                "loadtest_request_duration_seconds_bucket",
                &[test[0], ("request", name), ("le", "+Inf")]
            ),
            r.request_names[name].count as f64
        );
        assert_eq!(
            sum(&s, "loadtest_response_received_bytes_total", &test),
            r.requests.bytes_received as f64
        );
        assert_eq!(sum(&s, "loadtest_test_running", &test), 0.0);
        assert_eq!(sum(&s, "loadtest_test_passed", &test), 1.0);
    }
    // Only the open-model test has a schedule to lag behind.
    assert!(
        sum(
            &s,
            "loadtest_scheduling_lag_seconds_count",
            &[("test", "api::items")]
        ) > 0.0
    );
    assert!(!page.contains(r#"loadtest_scheduling_lag_seconds_count{test="api::home""#));
    // Every series carries the shard label (empty: one generator).
    assert!(
        s.iter()
            .all(|x| x.labels.get("shard").map(String::as_str) == Some(""))
    );

    // Issue 26: a shard's series carry its `--shard`, so Prometheus can tell the shards apart.
    let port = free_port();
    let scraper = Scraper::start(port);
    let listen = format!("127.0.0.1:{port}");
    let out = f.run(&[
        "--target",
        &server.url(),
        "--duration",
        "2s",
        "--shard",
        "2/3",
        "--metrics-listen",
        &listen,
    ]);
    let shard_page = scraper.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shard_samples = samples(&shard_page);
    assert!(
        shard_samples
            .iter()
            .any(|x| x.name == "loadtest_requests_total"),
        "{shard_page}"
    );
    assert!(
        shard_samples
            .iter()
            .all(|x| x.labels.get("shard").map(String::as_str) == Some("2/3")),
        "{shard_page}"
    );

    let exposed: BTreeSet<String> = s.iter().map(|x| x.name.clone()).collect();
    let wanted = dashboard_names();
    let missing: Vec<&String> = wanted.difference(&exposed).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries {missing:?}, which a scrape does not expose; exposed: {exposed:?}"
    );

    if let Some(promtool) = tool("promtool") {
        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics refused the scrape: {}\n{page}",
            text(&out)
        );
    }
}

#[test]
fn prometheus_scrapes_a_run_and_agrees_with_its_report() {
    let Some(binary) = tool("prometheus") else {
        return;
    };
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let port = free_port();
    let prometheus = Prometheus::start(&binary, &[port], &[]);
    prometheus.wait_for_scrape_loop();
    let out = f.run(&[
        "--target",
        &server.url(),
        "--exact",
        "home",
        "--duration",
        "5s",
        "--metrics-listen",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    let r = test_report(&report, "home").result.clone().unwrap();
    // After the run the endpoint is gone, so Prometheus has marked the series stale; a range
    // selector still reads their last values.
    let total_q = r#"sum(last_over_time(loadtest_requests_total{test="api::home"}[10m]))"#;
    let total = prometheus.query_until(total_q, r.requests.total as f64);
    assert_eq!(
        total,
        Some(r.requests.total as f64),
        "Prometheus's request total against the report's; {}",
        prometheus.log()
    );
    let iterations = prometheus.query(
        r#"sum(last_over_time(loadtest_iterations_total{test="api::home", outcome=~"ok|failed"}[10m]))"#,
    );
    assert_eq!(iterations, Some(r.iterations.total as f64));
    let p99 = prometheus
        .query(r#"histogram_quantile(0.99, sum by (le) (last_over_time(loadtest_request_duration_seconds_bucket{test="api::home", request="home"}[10m])))"#)
        .expect("a p99 from the buckets");
    let report_p99_us = r.request_names["home"].latency.summary.p99_us;
    let b = loadtest_report::live::bucket_of(report_p99_us);
    let high = LATENCY_BUCKETS_US[b] as f64 / 1e6;
    let low = if b == 0 {
        0.0
    } else {
        LATENCY_BUCKETS_US[b - 1] as f64 / 1e6
    };
    let report_p99 = report_p99_us as f64 / 1e6;
    assert!(
        (p99 - report_p99).abs() <= high - low && (low..=high).contains(&p99),
        "histogram_quantile p99 {p99}s against the report's {report_p99}s (bucket {low}..{high}s)"
    );
}

/// The pixels of an 8-bit, non-interlaced RGB or RGBA PNG, as RGB triples.
pub(crate) fn png_pixels(bytes: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut at, mut idat) = (8, Vec::new());
    let (mut width, mut height, mut channels) = (0u32, 0u32, 0usize);
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap());
                height = u32::from_be_bytes(data[4..8].try_into().unwrap());
                assert_eq!(data[8], 8, "8-bit samples");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("colour type {other} is not RGB(A)"),
                };
                assert_eq!(data[12], 0, "not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .expect("the image data inflates");
    let stride = width as usize * channels;
    let mut prev = vec![0u8; stride];
    let mut pixels = Vec::with_capacity((width * height) as usize);
    for row in raw.chunks(stride + 1).take(height as usize) {
        let (filter, line) = (row[0], &row[1..]);
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] } else { 0 };
            let b = prev[i];
            let c = if i >= channels { prev[i - channels] } else { 0 };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = (
                        (p - i16::from(a)).abs(),
                        (p - i16::from(b)).abs(),
                        (p - i16::from(c)).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                other => panic!("PNG filter {other}"),
            };
            cur[i] = line[i].wrapping_add(predicted);
        }
        for px in cur.chunks(channels) {
            pixels.push([px[0], px[1], px[2]]);
        }
        prev = cur;
    }
    (width, height, pixels)
}

/// Every `src` and `href` value of a page.
pub(crate) fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=", "href="] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            let tail = &rest[i + attr.len()..];
            let quote = tail.chars().next().unwrap_or(' ');
            let value = if quote == '"' || quote == '\'' {
                tail[1..].split(quote).next().unwrap_or("")
            } else {
                tail.split([' ', '>']).next().unwrap_or("")
            };
            out.push(value.to_string());
            rest = &tail[1..];
        }
    }
    out
}

#[test]
fn the_html_report_of_a_failed_compared_run_renders_offline_and_renders_again_identically() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let url = server.url();
    // The baseline run: both tests pass.
    let out = f.run(&["--target", &url, "--duration", "4s"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let baseline = f.file("baseline.json");
    std::fs::copy(f.file("report.json"), &baseline).unwrap();
    let baseline_html = std::fs::read(f.file("report.html")).unwrap();
    // The stored baseline renders as its run did.
    let again = f.file("baseline-again.html");
    let out = Command::new(support::binary())
        .args(["loadtest", "report"])
        .arg(&baseline)
        .arg("--html")
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        std::fs::read(&again).unwrap() == baseline_html,
        "cargo loadtest report renders the stored report byte for byte as the run did"
    );

    // The run under test: a threshold no loopback run meets, compared with the baseline.
    let mut cmd = f.run_command(&[
        "--target",
        &url,
        "--duration",
        "4s",
        "--baseline-file",
        baseline.to_str().unwrap(),
    ]);
    cmd.env("LOADTEST_THRESHOLDS", "rps > 1000000");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    assert_eq!(report.tests.len(), 2);
    assert!(report.tests.iter().all(|t| t.status == TestStatus::Failed));
    assert!(report.tests.iter().all(|t| t.comparison.is_some()));
    let html_path = f.file("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    let rendered = f.file("rendered.html");
    let out = Command::new(support::binary())
        .args(["loadtest", "report"])
        .arg(f.file("report.json"))
        .arg("--baseline")
        .arg(&baseline)
        .arg("--html")
        .arg(&rendered)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        std::fs::read_to_string(&rendered).unwrap() == html,
        "the stored report and its baseline render as the run did"
    );

    // What the page holds: three charts per test, the failed rule, the verdicts, nothing fetched.
    for kind in ["latency", "throughput", "spectrum"] {
        assert_eq!(
            html.matches(&format!("data-chart=\"{kind}\"")).count(),
            2,
            "{kind}"
        );
    }
    assert_eq!(html.matches("<svg").count(), 6);
    assert_eq!(html.matches("</svg>").count(), 6);
    assert!(html.contains("rps &gt; 1000000") && html.contains("FAILED"));
    assert!(html.contains("Compared with the baseline") && html.contains("baseline p99"));
    let refs = references(&html);
    assert!(!refs.is_empty(), "the summary links to each test");
    for r in &refs {
        assert!(
            !r.contains("http://") && !r.contains("https://") && !r.starts_with("//"),
            "the page must not fetch anything: {r}"
        );
    }

    let Some(chromium) = tool("chromium") else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let png = f.file("report.png");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,2000")
        .arg(format!("file://{}", html_path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish its screenshot within 120 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    assert!(
        status.success() && png.is_file(),
        "chromium: {status}; {stderr}"
    );
    let (width, height, pixels) = png_pixels(&std::fs::read(&png).unwrap());
    assert_eq!((width, height), (1280, 2000));
    let distinct: BTreeSet<[u8; 3]> = pixels.iter().copied().collect();
    let not_white = pixels.iter().filter(|p| **p != [255, 255, 255]).count();
    assert!(
        distinct.len() > 20 && not_white > pixels.len() / 100,
        "the screenshot is blank: {} colours, {not_white} of {} pixels not white",
        distinct.len(),
        pixels.len()
    );
    // `LOADTEST_E2E_KEEP=DIR` keeps the page, its reports and the screenshot (the README's
    // screenshots come from there).
    if let Some(dir) = std::env::var_os("LOADTEST_E2E_KEEP") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["report.html", "report.json", "report.png", "baseline.json"] {
            std::fs::copy(f.file(name), dir.join(name)).unwrap();
        }
    }
    // The chart colours are on screen: the p99 curve's red and the iterations' blue.
    for (name, colour) in [
        ("p99", [0xb2, 0x18, 0x2b]),
        ("iterations", [0x21, 0x66, 0xac]),
    ] {
        assert!(
            pixels.contains(&colour),
            "no pixel of the {name} curve's colour in the screenshot"
        );
    }
}
