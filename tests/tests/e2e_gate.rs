//! End-to-end: baselines and the regression gate through the real binary.

mod support;

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
    let p50 = c.metrics.iter().find(|m| m.metric == "p50").unwrap();
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
