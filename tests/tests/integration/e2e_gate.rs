//! End-to-end: baselines and the regression gate through the real binary.

use crate::support;
use loadtest_runtime::grammar::GatedMetric;

use loadtest_report::report::{MetricVerdict, RunReport, TestStatus};
use std::time::Duration;
use support::{Fixture, Server, serial, text};

#[test]
fn the_gate_passes_on_the_same_server_and_fails_on_added_latency() {
    let _g = serial();
    let server = Server::start();
    server.server.set_delay(Duration::from_millis(20));
    let f = Fixture::shared("gate");
    let url = server.url();
    support::forget_baseline("main");
    let out = f.run(&["--target", &url, "--save-baseline", "main"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let saved = support::shared_target_dir().join("loadtest/baselines/main/report.json");
    let baseline: RunReport =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(baseline.tests[0].name, "steady");
    assert!(
        !baseline.tests[0].result.as_ref().unwrap().series.is_empty(),
        "baselines keep the series"
    );

    // Same server, same load: the gate passes.
    let out = f.run(&["--target", &url, "--baseline", "main"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let c = f.report().tests[0]
        .comparison
        .clone()
        .expect("a comparison");
    assert!(!c.regressed, "{c:?}");
    assert_eq!(c.metrics.len(), 5);
    assert!(String::from_utf8_lossy(&out.stdout).contains("compared with baseline \"main\""));

    // 50% more latency: exit 100, naming the regressed metric.
    server.server.set_delay(Duration::from_millis(30));
    let out = f.run(&["--target", &url, "--baseline", "main"]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    let t = &report.tests[0];
    assert_eq!(t.status, TestStatus::Failed);
    let c = t.comparison.as_ref().unwrap();
    assert!(c.regressed);
    let p50 = c
        .metrics
        .iter()
        .find(|m| m.metric == GatedMetric::P50)
        .unwrap();
    assert_eq!(p50.verdict, MetricVerdict::Regressed, "{p50:?}");
    assert!(
        p50.change.unwrap() > 0.3 && p50.ci_low.unwrap() > p50.tolerance,
        "{p50:?}"
    );
    assert!(
        t.failures
            .iter()
            .any(|m| m.starts_with("regression: p50 regressed +")),
        "{:?}",
        t.failures
    );
    let xml = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a JUnit failure");
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains("p50 regressed"),
        "{:?}",
        failure.attribute("message")
    );
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    assert!(md.contains("REGRESSED"), "{md}");

    // The offline comparison of the two stored results agrees.
    let out = std::process::Command::new(support::binary())
        .args([
            "loadtest",
            "compare",
            saved.to_str().unwrap(),
            f.file("report.json").to_str().unwrap(),
            "--bmf",
        ])
        .arg(f.file("bmf.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let bmf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.file("bmf.json")).unwrap()).unwrap();
    assert!(
        bmf["fixture-gate::api::steady"]["latency"]["value"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{bmf}"
    );
}

#[test]
fn mismatched_models_are_refused_and_bad_baselines_exit_2() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("gate");
    let url = server.url();
    support::forget_baseline("short");
    let out = f.run(&[
        "--target",
        &url,
        "--duration",
        "2s",
        "--save-baseline",
        "short",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = f.run(&[
        "--target",
        &url,
        "--duration",
        "2s",
        "--users",
        "2",
        "--baseline",
        "short",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("load models differ")
            && stderr.contains("users Some(4) (baseline) vs Some(2)")
            && stderr.contains("--force-compare"),
        "{stderr}"
    );
    let out = f.run(&[
        "--target",
        &url,
        "--duration",
        "2s",
        "--users",
        "2",
        "--baseline",
        "short",
        "--force-compare",
    ]);
    assert_ne!(out.status.code(), Some(2), "{}", text(&out));

    // Missing, corrupted, and path-traversing baselines: exit 2 before anything runs.
    let before = server.server.requests();
    let out = f.run(&["--target", &url, "--baseline", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no baseline named \"nope\""));
    std::fs::write(f.file("broken.json"), "{\"schema_version\": 1, \"run\": ").unwrap();
    let out = f.run(&[
        "--target",
        &url,
        "--baseline-file",
        f.file("broken.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not valid JSON"),
        "{}",
        text(&out)
    );
    let out = f.run(&["--target", &url, "--save-baseline", "../escape"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid baseline name \"../escape\""));
    assert_eq!(server.server.requests(), before, "nothing ran");
}

/// What every output of one run said about `api::steady`: passed or not.
#[derive(Debug, PartialEq, Eq)]
struct Said {
    exit: Option<i32>,
    progress_line: bool,
    live_metric: bool,
    summary: bool,
    json: bool,
    junit: bool,
    markdown: bool,
}

impl Said {
    fn all(passed: bool) -> Said {
        Said {
            exit: Some(if passed { 0 } else { 100 }),
            progress_line: passed,
            live_metric: passed,
            summary: passed,
            json: passed,
            junit: passed,
            markdown: passed,
        }
    }
}

/// Runs the gate fixture against `baseline` with a live metrics endpoint and reads what each
/// output said. A run whose generator was saturated or disturbed (the machine is shared) makes
/// every comparison inconclusive whatever the server did: it is run again, up to three times,
/// instead of letting noise decide; the fourth such run fails the test.
fn judged_everywhere(f: &Fixture, url: &str, baseline: &str) -> (Said, RunReport) {
    for _ in 0..4 {
        let port = support::scrape::free_port();
        let scraper = support::scrape::Scraper::start(port);
        let listen = format!("127.0.0.1:{port}");
        let out = f.run(&[
            "--target",
            url,
            "--baseline",
            baseline,
            "--metrics-listen",
            &listen,
        ]);
        let page = scraper.finish();
        let report = f.report();
        let t = &report.tests[0];
        let unreliable = t.result.as_ref().is_some_and(|r| {
            (r.generator.saturated || r.generator.disturbed)
                && t.comparison.as_ref().is_some_and(|c| {
                    c.metrics
                        .iter()
                        .all(|m| m.verdict == MetricVerdict::Inconclusive)
                })
        });
        if unreliable {
            eprintln!(
                "the generator was disturbed, so the run is repeated:\n{}",
                text(&out)
            );
            continue;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let progress_passed = stderr.lines().any(|l| l.trim() == "Passed api::steady");
        let progress_failed = stderr.lines().any(|l| l.trim() == "FAILED api::steady");
        assert_ne!(
            progress_passed, progress_failed,
            "one progress line: {stderr}"
        );
        let live = support::scrape::sum(
            &support::scrape::samples(&page),
            "loadtest_test_passed",
            &[("test", "api::steady")],
        );
        assert!(live == 0.0 || live == 1.0, "{page}");
        let row = stdout
            .lines()
            .find(|l| l.starts_with("api::steady "))
            .unwrap_or_else(|| panic!("a summary row: {stdout}"));
        let summary_passed = row.ends_with(" PASS") && stdout.contains("loadtest result: ok.");
        let summary_failed = row.ends_with(" FAIL") && stdout.contains("loadtest result: FAILED.");
        assert_ne!(summary_passed, summary_failed, "{stdout}");
        let xml = std::fs::read_to_string(f.file("junit.xml")).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let junit_failed = doc.descendants().any(|n| n.has_tag_name("failure"));
        let md = std::fs::read_to_string(f.file("report.md")).unwrap();
        let md_passed = md.starts_with("## cargo loadtest: passed\n")
            && md
                .lines()
                .any(|l| l.starts_with("| api::steady |") && l.ends_with("| PASS |"));
        let md_failed = md.starts_with("## cargo loadtest: FAILED\n")
            && md
                .lines()
                .any(|l| l.starts_with("| api::steady |") && l.ends_with("| FAIL |"));
        assert_ne!(md_passed, md_failed, "{md}");
        let said = Said {
            exit: out.status.code(),
            progress_line: progress_passed,
            live_metric: live == 1.0,
            summary: summary_passed,
            json: t.status == TestStatus::Passed,
            junit: !junit_failed,
            markdown: md_passed,
        };
        return (said, report);
    }
    panic!("the generator was disturbed in four runs in a row: the machine is too busy to judge");
}

/// Issue 24: the comparison with a baseline is part of the one verdict, made before a test is
/// announced, so the progress line and the live metrics agree with the summary, the JSON, the
/// JUnit and the Markdown (they once said `Passed` while the summary said `FAIL`).
#[test]
fn every_output_says_what_the_baseline_comparison_decided() {
    let _g = serial();
    let server = Server::start();
    server.server.set_delay(Duration::from_millis(20));
    let f = Fixture::shared("gate");
    let url = server.url();
    support::forget_baseline("judged-once");
    let out = f.run(&["--target", &url, "--save-baseline", "judged-once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 50% more latency: a regression, and every output says failed.
    server.server.set_delay(Duration::from_millis(30));
    let (said, report) = judged_everywhere(&f, &url, "judged-once");
    let t = &report.tests[0];
    assert_eq!(said, Said::all(false), "{:?}: {:?}", t.status, t.failures);
    assert!(t.comparison.as_ref().is_some_and(|c| c.regressed), "{t:?}");
    assert!(
        t.failures
            .iter()
            .any(|m| m.starts_with("regression: p50 regressed +")),
        "{:?}",
        t.failures
    );

    // Half the latency: an improvement, and every output says passed.
    server.server.set_delay(Duration::from_millis(10));
    let (said, report) = judged_everywhere(&f, &url, "judged-once");
    let t = &report.tests[0];
    assert_eq!(said, Said::all(true), "{:?}: {:?}", t.status, t.failures);
    let c = t.comparison.as_ref().expect("a comparison");
    let p50 = c
        .metrics
        .iter()
        .find(|m| m.metric == GatedMetric::P50)
        .unwrap();
    assert_eq!(p50.verdict, MetricVerdict::Improved, "{p50:?}");
    assert!(t.failures.is_empty(), "{:?}", t.failures);
}

/// Issue 30: a baseline of several runs compares each run as one sample and says how many runs
/// it holds and how they spread; against a one-run baseline, a change under the absolute floor
/// is never a regression, however large relative to a sub-millisecond latency, and a change far
/// beyond floor, tolerance and spread is.
#[test]
fn a_baseline_of_several_runs_shows_its_spread_and_one_run_is_judged_through_the_floor() {
    let _g = serial();
    let server = Server::start();
    server.server.set_delay(Duration::from_millis(20));
    let f = Fixture::shared("gate");
    let url = server.url();
    let run = |extra: &[&str]| {
        let mut args = vec!["--target", url.as_str(), "--duration", "4s"];
        args.extend_from_slice(extra);
        f.run(&args)
    };
    support::forget_baseline("several");
    for k in 1..=3 {
        let out = run(&["--save-baseline", "several"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let runs = if k == 1 {
            "1 run".to_string()
        } else {
            format!("{k} runs")
        };
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("({runs})")),
            "{}",
            text(&out)
        );
    }
    let dir = support::shared_target_dir().join("loadtest/baselines/several");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("baseline.json")).unwrap()).unwrap();
    assert_eq!(manifest["baseline_version"], 1, "{manifest}");
    assert_eq!(manifest["runs"].as_array().unwrap().len(), 3, "{manifest}");
    let spread = &manifest["spread"][0];
    assert_eq!(spread["test"], "fixture-gate::api::steady", "{manifest}");
    let p50 = &spread["metrics"][0];
    assert_eq!(
        (p50["metric"].as_str(), p50["runs"].as_u64()),
        (Some("p50"), Some(3))
    );
    assert!(
        p50["min"].as_f64().unwrap() >= 20_000.0 && p50["spread"].as_f64().unwrap() >= 0.0,
        "{manifest}"
    );

    let out = run(&["--baseline", "several"]);
    assert!(
        matches!(out.status.code(), Some(0 | 100)),
        "a comparison, whatever it decides: {}",
        text(&out)
    );
    let c = f.report().tests[0]
        .comparison
        .clone()
        .expect("a comparison");
    assert_eq!(c.baseline.runs, Some(3), "{c:?}");
    assert_eq!(c.metrics.len(), 5);
    assert!(c.metrics.iter().all(|m| m.spread.is_some()), "{c:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("compared with baseline \"several\" (3 runs, each run one sample)"),
        "{}",
        text(&out)
    );

    // One run of a 1 ms endpoint (not faster: a closed loop of 4 users against an instant
    // server keeps two cores busy, and a disturbed generator makes every verdict inconclusive),
    // then 10 ms more per request: +400% and more, but under a 50 ms floor, so never a
    // regression, whatever the noise.
    support::forget_baseline("one");
    server.server.set_delay(Duration::from_millis(1));
    let out = run(&["--save-baseline", "one"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    server.server.set_delay(Duration::from_millis(10));
    let floors = ["p50=50ms", "p95=50ms", "p99=50ms"];
    let mut args = vec!["--baseline", "one"];
    for t in &floors {
        args.extend(["--tolerance", t]);
    }
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let c = f.report().tests[0]
        .comparison
        .clone()
        .expect("a comparison");
    assert_eq!(c.baseline.runs, Some(1));
    let p50 = c
        .metrics
        .iter()
        .find(|m| m.metric == GatedMetric::P50)
        .unwrap();
    assert!(p50.change.unwrap() > 3.0, "{p50:?}");
    assert_ne!(p50.verdict, MetricVerdict::Regressed, "{p50:?}");
    assert_eq!(p50.floor_us, Some(50_000.0));
    assert!(!c.regressed, "{c:?}");

    // 200 ms more per request: far beyond the default floors, the tolerance and the spread.
    server.server.set_delay(Duration::from_millis(200));
    let out = run(&["--baseline", "one"]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let c = f.report().tests[0]
        .comparison
        .clone()
        .expect("a comparison");
    let p50 = c
        .metrics
        .iter()
        .find(|m| m.metric == GatedMetric::P50)
        .unwrap();
    assert_eq!(p50.verdict, MetricVerdict::Regressed, "{p50:?}");
    assert_eq!(p50.floor_us, Some(250.0));
}
