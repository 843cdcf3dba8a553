//! End-to-end: `cargo loadtest --otlp` exports a run's metrics over OTLP/HTTP to a receiver the
//! test starts, `tests/otlp_receiver.py`, which decodes each request with the official
//! OpenTelemetry protobuf definitions (PyPI `opentelemetry-proto`, installed by `.ci/run`), not
//! with anything of this project. The receiver's counts equal the report's, and the quantiles of
//! its exponential histograms agree with the report's within the histogram's stated error.

use crate::support;

use loadtest_report::report::LatencySummary;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use support::{Fixture, Server, concurrent, text};

/// The receiver's Python modules; `None` (the test skips) when they are missing outside CI.
fn receiver_available() -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with the PyPI package opentelemetry-proto is not installed; .ci/run installs it (python3 -m pip install opentelemetry-proto)"
        );
        eprintln!(
            "skipped: python3 with opentelemetry-proto is not installed (python3 -m pip install opentelemetry-proto)"
        );
    }
    ok
}

/// The receiver process, killed on drop.
struct Receiver {
    child: Child,
    port: u16,
}

impl Receiver {
    fn start(out: &std::path::Path) -> Receiver {
        let script = support::repo_root().join("tests/otlp_receiver.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(out)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the receiver prints its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the receiver printed {line:?}, not a port"));
        Receiver { child, port }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 64-bit integer of the protobuf JSON mapping (a string), or a plain number; absent is 0
/// (fields at their default value are left out).
fn int(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().expect("an integer"),
        Value::Number(n) => n.as_i64().expect("an integer"),
        Value::Null => 0,
        other => panic!("not an integer: {other}"),
    }
}

/// The attributes of a data point as `key=value` strings.
fn attributes(point: &Value) -> Vec<(String, String)> {
    point["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|kv| {
            let v = &kv["value"];
            let value = v["stringValue"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| int(&v["intValue"]).to_string());
            (kv["key"].as_str().unwrap().to_string(), value)
        })
        .collect()
}

/// The data points of metric `name` in one export request whose attributes include `want`.
fn points<'a>(request: &'a Value, name: &str, want: &[(&str, &str)]) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for rm in request["resourceMetrics"].as_array().into_iter().flatten() {
        for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
            for m in sm["metrics"].as_array().into_iter().flatten() {
                if m["name"] != name {
                    continue;
                }
                let data = ["exponentialHistogram", "sum", "histogram", "gauge"]
                    .iter()
                    .find_map(|k| m.get(*k))
                    .unwrap_or_else(|| panic!("metric {name} has no data: {m}"));
                for p in data["dataPoints"].as_array().into_iter().flatten() {
                    let attrs = attributes(p);
                    if want
                        .iter()
                        .all(|(k, v)| attrs.iter().any(|(ak, av)| ak == k && av == v))
                    {
                        out.push(p);
                    }
                }
            }
        }
    }
    out
}

/// The one point of `name` with attributes `want`.
fn point<'a>(request: &'a Value, name: &str, want: &[(&str, &str)]) -> &'a Value {
    let found = points(request, name, want);
    assert_eq!(found.len(), 1, "{name} {want:?}: {found:?}");
    found[0]
}

/// A base-2 exponential histogram data point.
struct Exponential {
    count: u64,
    scale: i32,
    zero_count: u64,
    offset: i64,
    buckets: Vec<u64>,
    max: f64,
}

impl Exponential {
    fn of(p: &Value) -> Exponential {
        assert!(
            p.get("negative")
                .is_none_or(|n| n["bucketCounts"].is_null()),
            "no latency is negative: {p}"
        );
        Exponential {
            count: int(&p["count"]) as u64,
            scale: int(&p["scale"]) as i32,
            zero_count: int(&p["zeroCount"]) as u64,
            offset: int(&p["positive"]["offset"]),
            buckets: p["positive"]["bucketCounts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| int(c) as u64)
                .collect(),
            max: p["max"].as_f64().expect("min and max are recorded"),
        }
    }

    /// The bucket base, 2^(2^-scale).
    fn base(&self) -> f64 {
        2f64.powf(2f64.powi(-self.scale))
    }

    /// The stated relative error of a quantile: a value is known to lie in its bucket
    /// (base^i, base^(i+1)], whose upper bound overstates it by at most base - 1 of itself.
    fn relative_error(&self) -> f64 {
        self.base() - 1.0
    }

    /// The bucket `(lower, upper]` holding the value of rank max(1, ceil(q * count)), the rank
    /// HdrHistogram's `value_at_quantile` (and so the report) uses.
    fn quantile_bucket(&self, q: f64) -> (f64, f64) {
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = self.zero_count;
        if seen >= rank {
            return (0.0, 0.0);
        }
        for (i, c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let index = self.offset + i as i64;
                let base = self.base();
                return (base.powf(index as f64), base.powf(index as f64 + 1.0));
            }
        }
        panic!("rank {rank} is beyond the histogram's {seen} values")
    }
}

/// Checks the report's quantiles (microseconds) against the exponential histogram's: each
/// report value lies in the bucket the histogram puts that quantile in, so the bucket's upper
/// bound, the histogram's estimate, is within its stated relative error of the report's value.
fn assert_quantiles_agree(what: &str, h: &Exponential, report: &[(f64, u64)]) {
    let error = h.relative_error();
    // HdrHistogram's values and the bounds computed here are floating point: a value on a bucket
    // boundary may round to either side by a few ulps.
    let ulps = 1e-9;
    for &(q, us) in report {
        let value = us as f64 / 1e6;
        let (lower, upper) = h.quantile_bucket(q);
        assert!(
            value > lower * (1.0 - ulps) && value <= upper * (1.0 + ulps),
            "{what} p{}: the report's {value} s is outside the histogram's bucket ({lower}, {upper}] (scale {})",
            q * 100.0,
            h.scale
        );
        assert!(
            (upper - value) / value <= error + ulps,
            "{what} p{}: estimate {upper} s against the report's {value} s exceeds the stated relative error {error} (scale {})",
            q * 100.0,
            h.scale
        );
    }
}

/// The exponential histogram `h` holds what the report's HdrHistogram summarised as `s`: its
/// quantiles agree within the stated error, and its largest value is the report's maximum (it
/// holds the values the HdrHistogram does, its buckets' highest).
fn assert_holds_the_reports(what: &str, h: &Exponential, s: &LatencySummary) {
    assert_quantiles_agree(
        what,
        h,
        &[
            (0.5, s.p50_us),
            (0.9, s.p90_us),
            (0.95, s.p95_us),
            (0.99, s.p99_us),
            (1.0, s.max_us),
        ],
    );
    assert_eq!((h.max * 1e6).round() as u64, s.max_us, "{what}: max");
}

#[test]
fn an_otlp_receiver_decodes_the_runs_metrics_and_they_equal_the_reports() {
    if !receiver_available() {
        return;
    }
    let _g = concurrent(&["passing"]);
    let server = Server::start();
    let f = Fixture::shared("passing");
    let dump = f.file("otlp.jsonl");
    let receiver = Receiver::start(&dump);
    let out = f
        .run_command(&[
            "--target",
            &server.url(),
            "--exact",
            "home",
            "items",
            "--duration",
            "3s",
            "--otlp",
            &format!("http://127.0.0.1:{}", receiver.port),
        ])
        // The standard variables apply: headers on every export, an export every second.
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-loadtest-e2e=otlp,x-tenant=a%20b",
        )
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .env_remove("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")
        .output()
        .expect("cargo-loadtest runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "OTLP export to http://127.0.0.1:{}/v1/metrics",
            receiver.port
        )),
        "{stderr}"
    );
    let report = f.report();
    // Every export is in the file before the run ends: the end of each test waits for its last.
    let exports: Vec<Value> = std::fs::read_to_string(&dump)
        .unwrap_or_else(|e| panic!("the receiver got no export ({e}): {}", text(&out)))
        .lines()
        .map(|l| serde_json::from_str(l).expect("the receiver writes JSON lines"))
        .collect();
    for e in &exports {
        assert_eq!(e["path"], "/v1/metrics");
        assert_eq!(e["headers"]["content-type"], "application/x-protobuf");
        assert_eq!(e["headers"]["x-loadtest-e2e"], "otlp", "{}", e["headers"]);
        assert_eq!(e["headers"]["x-tenant"], "a b", "{}", e["headers"]);
        let resource = &e["request"]["resourceMetrics"][0]["resource"];
        assert!(
            attributes(resource).contains(&("service.name".into(), "cargo-loadtest".into())),
            "{resource}"
        );
    }

    for name in ["home", "items"] {
        let t = report.tests.iter().find(|t| t.name == name).unwrap();
        let r = t.result.as_ref().expect("the test ran");
        let test = [("loadtest.test", t.name.as_str())];
        let mine: Vec<&Value> = exports
            .iter()
            .filter(|e| !points(&e["request"], "loadtest.iterations", &test).is_empty())
            .collect();
        // A 3 s test exports at least once while it runs (every second here) and once at its end.
        assert!(
            mine.len() >= 2,
            "{name}: {} exports: {exports:?}",
            mine.len()
        );
        // Cumulative temporality: the last export holds the whole test.
        let last = &mine.last().unwrap()["request"];

        // Iterations: counts by outcome, and the duration histogram.
        let ok = point(
            last,
            "loadtest.iterations",
            &[test[0], ("loadtest.iteration.outcome", "ok")],
        );
        let failed = point(
            last,
            "loadtest.iterations",
            &[test[0], ("loadtest.iteration.outcome", "failed")],
        );
        assert_eq!(int(&ok["asInt"]) as u64, r.iterations.ok, "{name}");
        assert_eq!(int(&failed["asInt"]) as u64, r.iterations.failed, "{name}");
        assert!(r.iterations.total > 0);
        let h = Exponential::of(point(last, "loadtest.iteration.duration", &test));
        assert_eq!(h.count, r.iterations.total, "{name}: iterations");
        assert_holds_the_reports(
            &format!("{name} iterations"),
            &h,
            &r.iteration_latency.summary,
        );

        // Requests of the name: counts by class, and http.client.request.duration.
        let rm = &r.request_names[name];
        let request = [test[0], ("loadtest.request.name", name)];
        let by_class = points(last, "loadtest.requests", &request);
        let total: u64 = by_class.iter().map(|p| int(&p["asInt"]) as u64).sum();
        assert_eq!(total, rm.count, "{name}: requests");
        assert_eq!(total, r.requests.total, "{name}: one request name");
        let ok = point(
            last,
            "loadtest.requests",
            &[request[0], request[1], ("loadtest.request.class", "ok")],
        );
        assert_eq!(int(&ok["asInt"]) as u64, rm.by_class["ok"], "{name}: ok");
        let h = Exponential::of(point(last, "http.client.request.duration", &request));
        assert_eq!(h.count, rm.count, "{name}: request durations");
        assert_holds_the_reports(&format!("{name} requests"), &h, &rm.latency.summary);
    }
}

#[test]
fn a_bad_otlp_endpoint_is_a_usage_error_before_the_build() {
    let _g = concurrent(&["passing"]);
    let f = Fixture::shared("passing");
    let out = f.run(&["--otlp", "localhost:4318"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--otlp \"localhost:4318\": expected an http:// or https:// URL"),
        "{}",
        text(&out)
    );
    let out = f
        .run_command(&["--otlp", "http://127.0.0.1:4317"])
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env_remove("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
        .output()
        .expect("cargo-loadtest runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("http/protobuf"), "{}", text(&out));
}

#[test]
fn a_receiver_that_is_down_is_a_warning_not_a_failed_test() {
    let _g = concurrent(&["passing"]);
    let server = Server::start();
    let f = Fixture::shared("passing");
    // A port nothing listens on: every export is refused.
    let port = support::scrape::free_port();
    let out = f
        .run_command(&[
            "--target",
            &server.url(),
            "--exact",
            "home",
            "--otlp",
            &format!("http://127.0.0.1:{port}"),
        ])
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS")
        .output()
        .expect("cargo-loadtest runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    let r = report.tests[0].result.as_ref().expect("the test ran");
    assert!(r.iterations.total > 0);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("OTLP export failed")),
        "{:?}",
        r.warnings
    );
}
