//! Capacity searches (`cargo loadtest --find-max`, issue 16) through the real binary, against a
//! loopback server with a known capacity: a pool of N worker threads each taking T ms per
//! request (`DemoServer::start_with_pool`), so N / T per second.

use crate::support;

use loadtest_report::report::{
    CapacityOutcome, CapacityResult, RunReport, RunStatus, StepVerdict, TestStatus,
};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{BusyLoop, Fixture, Server, serial, text};

/// The JSON report's schema, to check the real reports against.
fn check_schema(report_path: &std::path::Path) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("schema/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_path).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Builds the fixture (once per suite) with a short ordinary run, so that what a test times or
/// signals is the search, not the build.
fn built(server: &Server) -> Fixture {
    let f = Fixture::shared("capacity");
    let out = f.run(&[
        "--target",
        &server.url(),
        "--exact",
        "fast",
        "--duration",
        "1s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // What a test then finds in its output folder is its own run's.
    for name in ["report.json", "junit.xml", "report.md"] {
        std::fs::remove_file(f.file(name)).expect("the build run wrote its reports");
    }
    f
}

fn capacity_of(report: &RunReport) -> &CapacityResult {
    assert_eq!(report.tests.len(), 1, "{report:?}");
    report.tests[0]
        .capacity
        .as_ref()
        .expect("a capacity test has its search in the report")
}

fn search_args<'a>(url: &'a str, test: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--target", url, "--exact", test, "--find-max"];
    args.extend_from_slice(extra);
    args
}

#[test]
fn finds_the_capacity_of_two_worker_pools_within_10_percent() {
    let _g = serial();
    // (workers, service time): 100/s and 240/s.
    for (workers, service_ms) in [(4usize, 40u64), (6, 25)] {
        let truth = workers as f64 * 1000.0 / service_ms as f64;
        // The queue holds 150 ms of work: bursts from a busy machine fit, overload shows.
        let queue = (truth * 0.15) as usize;
        let server = Server::with_pool(workers, Duration::from_millis(service_ms), queue);
        let f = built(&server);
        let url = server.url();
        let started = Instant::now();
        let out = f.run(&search_args(
            &url,
            "work",
            &[
                "--max-rate",
                "1000/s",
                "--start-rate",
                "25/s",
                "--step-duration",
                "2s",
                "--warm-up",
                "1s",
            ],
        ));
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        check_schema(&f.file("report.json"));
        let report = f.report();
        let c = capacity_of(&report);
        assert_eq!(c.outcome, CapacityOutcome::Found, "{}", text(&out));
        let found = c.capacity_per_s.expect("a capacity was found");
        let above = c.above_per_s.expect("a failing rate bounds it");
        eprintln!(
            "capacity search: truth {truth}/s, found {found}/s (below {above}/s) in {} steps, {:.1}s",
            c.steps.len(),
            took.as_secs_f64()
        );
        assert!(
            (found - truth).abs() <= 0.10 * truth,
            "found {found}/s for a true capacity of {truth}/s\n{}",
            text(&out)
        );
        assert!(found < above && above - found <= 0.05 * found + 0.01);
        assert!(!c.broken_by.is_empty(), "{c:?}");
        // Every step is in the report, none above the ceiling, and the found rate passed.
        assert!(c.steps.iter().all(|s| s.rate_per_s <= 1000.0));
        assert!(
            c.steps
                .iter()
                .any(|s| s.rate_per_s == found && s.verdict == StepVerdict::Passed)
        );
        assert!(
            c.steps
                .iter()
                .any(|s| s.rate_per_s == above && s.verdict == StepVerdict::Failed)
        );
        // The kept result is the step at the capacity.
        let r = report.tests[0].result.as_ref().unwrap();
        assert_eq!(r.config.rate_per_s, Some(found));
        assert!(r.passed);
        // Every output shows it.
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("capacity of api::work: capacity"),
            "{stdout}"
        );
        let md = std::fs::read_to_string(f.file("report.md")).unwrap();
        assert!(md.contains("### Capacity of api::work"), "{md}");
        let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
        let doc = roxmltree::Document::parse(&junit).unwrap();
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 1);
        assert!(!cases[0].children().any(|n| n.has_tag_name("failure")));
        assert!(junit.contains("capacity: "), "{junit}");
    }
}

#[test]
fn a_starved_generator_is_named_as_the_limit() {
    let _g = serial();
    // A fast server (no worker pool: the plain route) on the other core, and a harness that
    // shares core 0 with a busy loop: the generator runs out before the system does.
    let server = Server::start();
    let f = built(&server);
    let url = server.url();
    let cmd = f.command(&search_args(
        &url,
        "fast",
        &[
            "--max-rate",
            "200000/s",
            "--start-rate",
            "200/s",
            "--step-duration",
            "2s",
            "--warm-up",
            "1s",
            "--json",
            f.file("report.json").to_str().unwrap(),
            "--junit",
            f.file("junit.xml").to_str().unwrap(),
            "--markdown",
            f.file("report.md").to_str().unwrap(),
        ],
    ));
    let busy = BusyLoop::start("0", 170, &[]);
    let out = support::wrapped(&["taskset", "-c", "0"], &cmd)
        .output()
        .unwrap();
    drop(busy);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    check_schema(&f.file("report.json"));
    let report = f.report();
    let c = capacity_of(&report);
    assert_eq!(
        c.outcome,
        CapacityOutcome::GeneratorLimited,
        "{}",
        text(&out)
    );
    assert_eq!(report.tests[0].status, TestStatus::Errored);
    let last = c.steps.last().unwrap();
    assert_eq!(last.verdict, StepVerdict::GeneratorLimited);
    assert!(last.reasons.iter().all(|r| r.starts_with("generator: ")));
    assert!(
        c.summary
            .contains("the load generator, not the system, was the limit")
            && c.summary.contains("more cores"),
        "{}",
        c.summary
    );
    // The generator's limit is not reported as the system's capacity.
    assert!(c.steps.iter().all(|s| s.rate_per_s <= last.rate_per_s));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the load generator, not the system"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    assert!(junit.contains("<error"), "{junit}");
}

#[test]
fn a_bad_step_ends_the_search_at_once() {
    let _g = serial();
    // 20/s of capacity and a queue of 2: at 100/s four requests in five are refused (503).
    let server = Server::with_pool(1, Duration::from_millis(50), 2);
    let f = built(&server);
    let url = server.url();
    let before = server.server.requests();
    let out = f.run(&search_args(
        &url,
        "work",
        &[
            "--max-rate",
            "1000/s",
            "--start-rate",
            "100/s",
            "--step-duration",
            "2s",
            "--warm-up",
            "1s",
            "--cutoff-errors",
            "50%",
        ],
    ));
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    let c = capacity_of(&report);
    assert_eq!(c.outcome, CapacityOutcome::StoppedBadStep, "{}", text(&out));
    assert_eq!(c.steps.len(), 1, "{:?}", c.steps);
    assert_eq!(c.steps[0].verdict, StepVerdict::FailedBadly);
    assert!(c.steps[0].error_rate > 0.5, "{:?}", c.steps[0]);
    assert!(
        c.steps[0]
            .reasons
            .iter()
            .any(|r| r.starts_with("failed badly:") && r.contains("above the 50.0% cut-off")),
        "{:?}",
        c.steps[0].reasons
    );
    assert_eq!(report.tests[0].status, TestStatus::Failed);
    // One step of 3 s at 100/s reached the server, and nothing after it.
    let sent = server.server.requests() - before;
    assert!(sent <= 330, "{sent} requests");
}

#[test]
fn the_ceiling_holds_and_min_capacity_gates() {
    let _g = serial();
    let server = Server::with_pool(4, Duration::from_millis(40), 15);
    let f = built(&server);
    let url = server.url();
    let search = [
        "--max-rate",
        "60/s",
        "--start-rate",
        "20/s",
        "--step-duration",
        "1s",
        "--warm-up",
        "1s",
    ];
    // min_capacity from loadtest.toml: the ceiling (60/s) passes, but 60/s < 80/s fails.
    let _toml = f.write_source("loadtest.toml", "[tests.work]\nmin_capacity = \"80/s\"\n");
    let out = f.run(&search_args(&url, "work", &search));
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    let c = capacity_of(&report);
    assert_eq!(c.outcome, CapacityOutcome::AtCeiling);
    assert_eq!((c.capacity_per_s, c.above_per_s), (Some(60.0), None));
    let mut rates: Vec<f64> = c.steps.iter().map(|s| s.rate_per_s).collect();
    rates.dedup(); // a step whose generator was disturbed runs twice
    assert_eq!(rates, [20.0, 30.0, 45.0, 60.0]);
    assert_eq!(c.settings.min_capacity_per_s, Some(80.0));
    assert_eq!(report.tests[0].status, TestStatus::Failed);
    assert_eq!(
        report.tests[0].failures,
        ["capacity 60.0/s is below min_capacity 80.0/s"]
    );
    let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("the capacity test fails in JUnit");
    assert!(
        failure
            .attribute("message")
            .is_some_and(|m| m.contains("below min_capacity 80.0/s")),
        "{junit}"
    );
    // The command line outranks the file: 60/s meets 50/s.
    let mut args = search_args(&url, "work", &search);
    args.extend(["--min-capacity", "50/s"]);
    let out = f.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    assert_eq!(report.tests[0].status, TestStatus::Passed);
    assert_eq!(capacity_of(&report).settings.min_capacity_per_s, Some(50.0));
    let junit = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    assert!(!junit.contains("<failure"), "{junit}");
}

#[test]
fn ctrl_c_mid_search_reports_what_was_found() {
    let _g = serial();
    let server = Server::with_pool(4, Duration::from_millis(40), 15);
    let f = built(&server);
    let url = server.url();
    let mut cmd = f.command(&search_args(
        &url,
        "work",
        &[
            "--max-rate",
            "1000/s",
            "--start-rate",
            "20/s",
            "--step-duration",
            "3s",
            "--warm-up",
            "1s",
            "--json",
            f.file("report.json").to_str().unwrap(),
            "--junit",
            f.file("junit.xml").to_str().unwrap(),
            "--markdown",
            f.file("report.md").to_str().unwrap(),
        ],
    ));
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let before = server.server.requests();
    let child = cmd.spawn().unwrap();
    // The first step (20/s for 4 s) ends with about 80 requests; wait into the second step.
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.server.requests() - before < 120 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(support::signal(child.id(), "-INT"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    check_schema(&f.file("report.json"));
    let report = f.report();
    assert_eq!(report.status, RunStatus::Interrupted);
    assert_eq!(report.tests[0].status, TestStatus::Interrupted);
    let c = capacity_of(&report);
    assert_eq!(c.outcome, CapacityOutcome::Interrupted, "{}", text(&out));
    let last = c.steps.last().unwrap();
    assert_eq!(last.verdict, StepVerdict::Interrupted, "{:?}", c.steps);
    // What was found before the interrupt is reported: the highest passing step's rate (20/s on
    // a quiet machine), and the interrupted step is not judged.
    let judged = &c.steps[..c.steps.len() - 1];
    assert!(!judged.is_empty(), "{:?}", c.steps);
    let best = judged
        .iter()
        .filter(|s| s.verdict == StepVerdict::Passed)
        .map(|s| s.rate_per_s)
        .reduce(f64::max);
    assert_eq!(c.capacity_per_s, best, "{:?}", c.steps);
    assert!(
        c.summary.starts_with("interrupted; found so far: "),
        "{}",
        c.summary
    );
    assert!(f.file("junit.xml").exists() && f.file("report.md").exists());
}

#[test]
fn only_open_model_tests_can_be_searched() {
    let _g = serial();
    let server = Server::start();
    let f = built(&server);
    let url = server.url();
    let out = f.run(&search_args(&url, "browse", &["--max-rate", "100/s"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("api::browse runs the closed model") && stderr.contains("open-model"),
        "{stderr}"
    );
    assert!(!f.file("report.json").exists());
    // Without a ceiling, with a load model of its own, or with a bad value: refused before
    // anything runs.
    for (args, says) in [
        (vec!["--find-max"], "--max-rate"),
        (
            vec!["--find-max", "--max-rate", "9/s", "--users", "3"],
            "--users",
        ),
        (
            vec!["--find-max", "--max-rate", "lots"],
            "invalid rate \"lots\"",
        ),
        (
            vec!["--find-max", "--max-rate", "9/s", "--resolution", "200%"],
            "--resolution: invalid share \"200%\"",
        ),
    ] {
        let out = f.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!f.file("report.json").exists());
    }
}
