//! End-to-end: reports other tools can read. A real run over a fixture workspace against a
//! loopback server writes report.json, interval logs (`--hlog`) and CSV (`--csv`); an
//! independent HdrHistogram implementation (the PyPI `hdrhistogram` package, through
//! `tests/interchange_check.py`) and Python's csv module read them and compare with the JSON.
//! `.ci/run` installs the package when it is missing.

use crate::support;

use loadtest_runtime::metrics::hdr;
use loadtest_runtime::report::{RunReport, TestResult};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use support::{Fixture, Server, serial, text};

/// Runs `tests/interchange_check.py ARGS` and returns the JSON it prints; fails the test with
/// the script's mismatches when it finds any.
fn check(args: &[&OsStr]) -> Value {
    let script = support::repo_root().join("tests/interchange_check.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 runs (the e2e tests need python3 with the PyPI package hdrhistogram; .ci/run installs it)");
    assert!(
        out.status.success(),
        "{} {:?} failed:\n{}",
        script.display(),
        args,
        text(&out)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

fn results(report: &RunReport) -> impl Iterator<Item = &TestResult> {
    report.tests.iter().filter_map(|t| t.result.as_ref())
}

/// The whole-run histograms of a result: iteration latency (and uncorrected), per request name
/// and custom.
fn whole_histograms(r: &TestResult) -> usize {
    1 + usize::from(r.iteration_latency_uncorrected.is_some())
        + r.request_names.len()
        + r.custom_latencies.len()
}

fn series_histograms(r: &TestResult) -> usize {
    r.series
        .iter()
        .map(|p| {
            usize::from(p.iteration_latency.is_some())
                + usize::from(p.iteration_latency_uncorrected.is_some())
                + p.request_latency.len()
        })
        .sum()
}

#[test]
fn histograms_interval_logs_and_csv_read_with_independent_tools() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let (hlog, csv) = (f.file("hlog"), f.file("out/results.csv"));
    let out = f.run(&[
        "--target",
        &server.url(),
        "--duration",
        "3s",
        "--hlog",
        hlog.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    let json = f.file("report.json");
    assert_eq!(report.tests.len(), 2);
    for r in results(&report) {
        // One point per second: a last sliver under 50 ms is part of the last point.
        let seconds = (r.elapsed_s - 0.05).ceil() as usize;
        assert_eq!(r.series.len(), seconds, "{}: {:?}", r.name, r.elapsed_s);
        assert!(seconds >= 3, "{}: {}", r.name, r.elapsed_s);
        assert!(r.started_at_unix.is_some());
        // --hlog keeps each request name per second, and the seconds add up to the totals.
        for (name, m) in &r.request_names {
            let per_second: u64 = r
                .series
                .iter()
                .map(|p| {
                    p.request_latency
                        .get(name)
                        .map_or(0, |e| hdr::decode(e).unwrap().len())
                })
                .sum();
            assert_eq!(per_second, m.count, "{}: {name}", r.name);
        }
        let iterations: u64 = r.series.iter().map(|p| p.iterations).sum();
        assert_eq!(iterations, r.iterations.total, "{}", r.name);
    }
    assert!(results(&report).any(|r| r.iteration_latency_uncorrected.is_some()));

    // 1. Every histogram of the report decodes to the report's counts and percentiles.
    let decoded = check(&["report".as_ref(), json.as_os_str()]);
    let whole: usize = results(&report).map(whole_histograms).sum();
    let per_second: usize = results(&report).map(series_histograms).sum();
    assert_eq!(decoded["histograms"], whole, "{decoded}");
    assert_eq!(decoded["series_histograms"], per_second, "{decoded}");
    assert!(
        decoded["library_percentiles"].as_u64().unwrap() > 0,
        "{decoded}"
    );

    // 2. The interval logs, read by the same library's log reader.
    let logs = check(&["hlog".as_ref(), json.as_os_str(), hlog.as_os_str()]);
    assert_eq!(logs["files"], report.tests.len(), "{logs}");
    for t in &report.tests {
        let r = t.result.as_ref().unwrap();
        let name = t.id().qualified();
        let intervals = logs["tests"][&name]["intervals"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no interval log: {logs}"));
        let mut tags = vec!["iteration".to_string()];
        if r.iteration_latency_uncorrected.is_some() {
            tags.push("iteration_uncorrected".into());
        }
        tags.extend(
            r.request_names
                .keys()
                .map(|k| format!("request:{}", k.replace(' ', "_"))),
        );
        let mut got: Vec<&String> = intervals.keys().collect();
        got.sort();
        tags.sort();
        assert_eq!(got, tags.iter().collect::<Vec<_>>(), "{name}");
        for (tag, n) in intervals {
            assert_eq!(n, &Value::from(r.series.len()), "{name} {tag}");
        }
        assert_eq!(
            logs["tests"][&name]["whole_counts"]["iteration"], r.iteration_latency.summary.count,
            "{name}"
        );
    }

    // 3. The CSV files, parsed with Python's csv module.
    let series_csv = Path::new(&csv).with_file_name("results-series.csv");
    let rows = check(&[
        "csv".as_ref(),
        json.as_os_str(),
        csv.as_os_str(),
        series_csv.as_os_str(),
    ]);
    let summary_rows: usize = report
        .tests
        .iter()
        .map(|t| {
            1 + t
                .result
                .as_ref()
                .map_or(0, |r| r.request_names.len() + r.custom_latencies.len())
        })
        .sum();
    let series_rows: usize = results(&report).map(|r| r.series.len()).sum();
    assert_eq!(rows["summary_rows"], summary_rows, "{rows}");
    assert_eq!(rows["series_rows"], series_rows, "{rows}");
    let head = std::fs::read_to_string(&csv).unwrap();
    assert!(
        head.starts_with("package,target,test,status,kind,name,count,failed,rate_per_s,min_us,")
    );

    // Without --hlog the series keeps the iteration histograms only.
    let out = f.run(&["--target", &server.url(), "--duration", "1s", "items"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = f.report().tests.remove(0).result.unwrap();
    assert!(r.series.iter().all(|p| p.iteration_latency.is_some()
        && p.iteration_latency_uncorrected.is_some()
        && p.request_latency.is_empty()));
}

/// A report as schema version 1 wrote it: uncompressed histograms, nothing per second, no
/// test start times.
fn as_version_1(report: &Value) -> Value {
    fn uncompress(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(s)) = m.get_mut("hdr_v2_base64") {
                    *s = hdr::encode_uncompressed(&hdr::decode(s).unwrap());
                }
                m.values_mut().for_each(uncompress);
            }
            Value::Array(a) => a.iter_mut().for_each(uncompress),
            _ => {}
        }
    }
    let mut v = report.clone();
    v["schema_version"] = Value::from(1);
    uncompress(&mut v);
    for t in v["tests"].as_array_mut().unwrap() {
        let Some(r) = t["result"].as_object_mut() else {
            continue;
        };
        r.remove("started_at_unix");
        for p in r["series"].as_array_mut().unwrap() {
            let p = p.as_object_mut().unwrap();
            for k in [
                "iteration_latency",
                "iteration_latency_uncorrected",
                "request_latency",
            ] {
                p.remove(k);
            }
        }
    }
    v
}

#[test]
fn reports_and_baselines_of_schema_version_1_still_load() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let out = f.run(&["--target", &server.url(), "items"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let now: Value =
        serde_json::from_str(&std::fs::read_to_string(f.file("report.json")).unwrap()).unwrap();
    let old = as_version_1(&now);
    let old_text = old.to_string();
    assert!(old_text.contains("\"HISTE") && !old_text.contains("\"HISTF"));
    assert!(!old_text.contains("request_latency"));
    assert!(old["tests"][0]["result"].get("started_at_unix").is_none());
    let old_path = f.file("old.json");
    std::fs::write(&old_path, &old_text).unwrap();
    let old_path = old_path.to_str().unwrap();
    let new_path = f.file("report.json").to_str().unwrap().to_string();
    // As a baseline file of a run, and in `compare`.
    let out = f.run(&[
        "--target",
        &server.url(),
        "items",
        "--baseline-file",
        old_path,
    ]);
    assert_ne!(out.status.code(), Some(2), "{}", text(&out));
    let report = f.report();
    let cmp = report.tests[0].comparison.as_ref().expect("compared");
    assert!(cmp.note.is_none(), "{cmp:?}");
    let out = f
        .command(&["compare", old_path, &new_path])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn bad_csv_and_hlog_paths_exit_2_before_anything_runs() {
    let _g = support::concurrent(&["passing"]);
    let f = Fixture::shared("passing");
    std::fs::write(f.file("a-file"), "x").unwrap();
    std::fs::create_dir(f.file("a-folder")).unwrap();
    for (flag, name, says) in [
        ("--hlog", "a-file", "is not a folder"),
        ("--csv", "a-folder", "is not a regular file"),
    ] {
        let value = f.file(name);
        let value = value.to_str().unwrap();
        let out = f.run(&["--target", "http://127.0.0.1:9", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(value) && stderr.contains(says), "{stderr}");
        assert!(!f.file("report.json").exists());
    }
    // `-` is standard output for the single-file reports; these write several files.
    for flag in ["--csv", "--hlog"] {
        let out = f.run(&["--target", "http://127.0.0.1:9", flag, "-"]);
        assert_eq!(out.status.code(), Some(2), "{flag} -: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{flag} -:"))
                && stderr.contains("cannot go to standard output"),
            "{stderr}"
        );
        assert!(!f.file("report.json").exists());
    }
}
