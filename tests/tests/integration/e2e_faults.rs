//! End-to-end process-level faults: a harness that aborts, a failing setup hook, signals during
//! the build and the run, kill -9 during a baseline save, too few file descriptors, huge
//! responses, and arguments that look like shell code.

use crate::support;

use loadtest_report::report::{RunReport, RunStatus, TestStatus};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{CLIENTS, Fixture, Server, serial, text};

/// A build script that keeps cargo busy for 30 s, so that a signal sent during the build lands
/// during the build however fast the rest of it is (bounded: it ends by itself).
const SLOW_BUILD_SCRIPT: &str =
    "fn main() { std::thread::sleep(std::time::Duration::from_secs(30)); }\n";

#[test]
fn an_aborting_harness_is_reported_and_the_rest_still_runs() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("crashy");
    let out = f.run(&["--target", &server.url()]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    let by_name = |n: &str| report.tests.iter().find(|t| t.name == n).unwrap();
    assert_eq!(by_name("a_first").status, TestStatus::Passed);
    let crashed = by_name("b_abort");
    assert_eq!(crashed.status, TestStatus::Errored);
    assert!(
        crashed.failures[0].contains("exited unexpectedly"),
        "{:?}",
        crashed.failures
    );
    assert!(
        crashed
            .error
            .as_deref()
            .unwrap_or("")
            .contains("about to abort the harness on purpose"),
        "the stderr tail: {:?}",
        crashed.error
    );
    assert_eq!(
        by_name("c_last").status,
        TestStatus::Passed,
        "the remaining tests ran in a new harness"
    );
    // A 200 MB response is read and counted, but only 8 MiB of it is kept.
    let huge = by_name("d_huge");
    assert_eq!(huge.status, TestStatus::Passed, "{:?}", huge.failures);
    let r = huge.result.as_ref().unwrap();
    assert_eq!(r.requests.bytes_received, 400_000_000);
    assert!(
        r.generator.peak_rss_bytes < 150 * 1024 * 1024,
        "peak RSS {} bytes",
        r.generator.peak_rss_bytes
    );
    let xml = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("error"))
            .count(),
        1
    );
}

#[test]
fn a_failing_setup_hook_is_named() {
    let _g = support::concurrent(&["bad-setup"]);
    let f = Fixture::shared("bad-setup");
    let out = f.run(&[]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let t = &f.report().tests[0];
    assert_eq!(t.status, TestStatus::Errored);
    assert!(
        t.failures[0].contains("setup hook `connect_db` failed")
            && t.failures[0].contains("refused the connection"),
        "{:?}",
        t.failures
    );
}

#[test]
fn sigterm_during_the_run_and_sigint_during_the_build() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::copy("passing");
    let mut cmd = f.command(&[
        "--target",
        &server.url(),
        "--duration",
        "60s",
        "--json",
        f.file("report.json").to_str().unwrap(),
    ]);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while server.server.requests() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(support::signal(child.id(), "-TERM"), "kill -TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert_eq!(f.report().status, RunStatus::Interrupted);

    // During the build: a build script that takes 30 s keeps cargo busy, interrupt, expect 130
    // fast and no report.
    std::fs::remove_file(f.file("report.json")).unwrap();
    let slow = f.write_source("build.rs", SLOW_BUILD_SCRIPT);
    let mut cmd = f.command(&[
        "--target",
        &server.url(),
        "--json",
        f.file("report.json").to_str().unwrap(),
    ]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let sent = Instant::now();
    assert!(support::signal(child.id(), "-INT"), "kill -INT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "stopping the build took {:?}",
        sent.elapsed()
    );
    assert!(!f.file("report.json").exists(), "nothing ran, so no report");
    drop(slow);
}

#[test]
fn kill_9_during_a_baseline_save_keeps_the_previous_baseline() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    support::forget_baseline("kill9");
    let args = [
        "--target",
        &server.url(),
        "--exact",
        "home",
        "--iterations",
        "20",
        "--save-baseline",
        "kill9",
    ];
    let out = f.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let path = support::shared_target_dir().join("loadtest/baselines/kill9/report.json");
    let first: RunReport = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // Kill runs at increasing moments, some of them while the baseline is being written.
    for delay_ms in [300, 500, 700, 900, 1100, 1300, 1500, 1700] {
        let mut cmd = f.command(&args);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        assert!(support::signal(child.id(), "-KILL"), "kill -KILL");
        let _ = child.wait();
        let text = std::fs::read_to_string(&path).expect("the baseline file is still there");
        let now: RunReport =
            serde_json::from_str(&text).expect("the baseline is still a complete report");
        assert_eq!(now.tests[0].name, first.tests[0].name);
        // The manifest lists only runs that are there, whole.
        let folder = path.parent().unwrap();
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("baseline.json")).unwrap())
                .expect("the manifest is still complete");
        let runs = manifest["runs"].as_array().unwrap();
        assert!((1..=5).contains(&runs.len()), "{manifest}");
        for run in runs {
            let text = std::fs::read_to_string(folder.join(run.as_str().unwrap())).unwrap();
            serde_json::from_str::<RunReport>(&text).expect("every listed run is complete");
        }
        let leftovers: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !["report.json", "baseline.json", "runs"].contains(&name.as_str())
                    && !name.starts_with(".report.json.tmp-")
                    && !name.starts_with(".baseline.json.tmp-")
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn too_few_file_descriptors_give_classified_errors_and_a_hint() {
    let _g = serial();
    for client in CLIENTS {
        eprintln!("--client {client}");
        too_few_file_descriptors(client);
    }
}

fn too_few_file_descriptors(client: &str) {
    let server = Server::start();
    server.server.set_delay(Duration::from_millis(200));
    let f = Fixture::shared("passing");
    // Build first, with the normal limit.
    let out = f.run(&[
        "--target",
        &server.url(),
        "--exact",
        "home",
        "--iterations",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut cmd = std::process::Command::new("bash");
    cmd.current_dir(f.path())
        .arg("-c")
        .arg(r#"ulimit -n 128 && exec "$@""#)
        .arg("bash");
    let inner = f.command(&[
        "--target",
        &server.url(),
        "--exact",
        "home",
        "--users",
        "400",
        "--duration",
        "2s",
        "--client",
        client,
    ]);
    cmd.arg(inner.get_program());
    cmd.args(inner.get_args());
    cmd.arg("--json").arg(f.file("report.json"));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    let r = report.tests[0].result.as_ref().expect("the run completed");
    assert!(
        r.requests.by_class.get("connect").copied().unwrap_or(0) > 0,
        "{:?} {:?}",
        r.requests.by_class,
        r.errors
    );
    assert!(
        r.generator
            .warnings
            .iter()
            .any(|w| w.contains("file descriptors") && w.contains("ulimit -n")),
        "{:?}",
        r.generator.warnings
    );
}

#[test]
fn arguments_are_passed_as_argv_never_through_a_shell() {
    let _g = support::concurrent(&["passing"]);
    let f = Fixture::shared("passing");
    let marker = f.file("pwned");
    let filter = format!("$(touch {})", marker.display());
    let out = f.run(&[&filter, "--", &format!("; touch {}", marker.display())]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(!marker.exists());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no load test matched"));
}

#[test]
fn every_target_fault_is_classified_counted_and_reported() {
    let _g = serial();
    let f = Fixture::shared("faults");
    for client in CLIENTS {
        eprintln!("--client {client}");
        every_fault_classified(&f, client);
    }
}

fn every_fault_classified(f: &Fixture, client: &str) {
    // A fresh server per run: it counts the requests it saw.
    let server = Server::start();
    let out = f.run(&["--target", &server.url(), "--client", client]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    // (test, class, requests of that class, requests the server saw, retries attempted)
    let expected: [(&str, &str, u64, Option<u64>, u64); 9] = [
        ("close", "closed", 3, Some(3), 0),
        ("reset", "body", 3, Some(3), 0),
        ("hang", "timeout", 6, Some(6), 3),
        ("trickle", "timeout", 3, Some(3), 0),
        ("malformed", "body", 3, Some(3), 0),
        ("huge_headers", "body", 3, Some(3), 0),
        ("bad_chunked", "body", 3, Some(3), 0),
        ("storm", "http_5xx", 9, Some(9), 6),
        ("refused", "connect", 6, None, 3),
    ];
    let paths = [
        "/fault/close",
        "/fault/reset",
        "/fault/hang/3",
        "/fault/trickle/20/50",
        "/fault/malformed",
        "/fault/huge-headers/2000",
        "/fault/bad-chunked",
        "/status/503",
        "",
    ];
    for ((name, class, n, seen, retries), path) in expected.iter().zip(paths) {
        let t = report
            .tests
            .iter()
            .find(|t| t.name == *name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(t.status, TestStatus::Failed, "{name}");
        let r = t.result.as_ref().unwrap();
        assert_eq!(
            r.requests.by_class.get(*class),
            Some(n),
            "{name}: {:?} {:?}",
            r.requests.by_class,
            r.errors
        );
        assert_eq!(
            r.requests.total, *n,
            "{name}: every attempt is in that class"
        );
        assert_eq!(r.requests.retries_attempted, *retries, "{name}");
        assert_eq!(r.iterations.failed, 3, "{name}");
        if let Some(seen) = seen {
            assert_eq!(
                server.server.requests_to(path),
                *seen,
                "{name}: the server saw as many requests"
            );
        }
        assert!(!t.failures.is_empty(), "{name}");
    }
    let storm = report.tests.iter().find(|t| t.name == "storm").unwrap();
    assert!(
        storm
            .failures
            .iter()
            .any(|m| m.starts_with("error_rate < 50%")),
        "{:?}",
        storm.failures
    );
    let healthy = report.tests.iter().find(|t| t.name == "healthy").unwrap();
    assert_eq!(healthy.status, TestStatus::Passed);
    // Every report is written and well-formed, with a failure per faulty test.
    let xml = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        9
    );
    assert!(
        std::fs::read_to_string(f.file("report.md"))
            .unwrap()
            .contains("FAIL")
    );
}

#[test]
fn signals_during_the_build_and_while_reports_are_written_leave_whole_reports() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::copy("passing");
    let json = f.file("report.json");
    let junit = f.file("junit.xml");
    // SIGTERM during the build (a build script that takes 30 s): exit 130 at once, no report.
    let slow = f.write_source("build.rs", SLOW_BUILD_SCRIPT);
    let mut cmd = f.command(&["--target", &server.url(), "--json", json.to_str().unwrap()]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(support::signal(child.id(), "-TERM"), "kill -TERM");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert!(!json.exists());
    drop(slow);
    // Build, then storms of SIGINT that start at different moments: the first one stops the
    // load, the later ones land while the reports are being written. Each run must leave
    // whole reports.
    let out = f.run(&["--target", &server.url(), "--iterations", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for start_ms in [200u64, 600, 1000] {
        let _ = std::fs::remove_file(&json);
        let _ = std::fs::remove_file(&junit);
        let mut cmd = f.command(&[
            "--target",
            &server.url(),
            "--duration",
            "30s",
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(start_ms));
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            support::signal(child.id(), "-INT");
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "cargo-loadtest did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(130), "storm from {start_ms} ms");
        if json.exists() {
            let report: RunReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap())
                .expect("a whole JSON report");
            assert_eq!(report.status, RunStatus::Interrupted);
            let xml =
                std::fs::read_to_string(&junit).expect("the JUnit report is written with the JSON");
            roxmltree::Document::parse(&xml).expect("a whole JUnit report");
        }
        let stray: Vec<_> = std::fs::read_dir(f.out_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    }
}
