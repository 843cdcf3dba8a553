//! End-to-end: the real `cargo-loadtest` binary over fixture workspaces copied to temporary
//! folders, against a loopback server the test starts. Reports are read with the project's own
//! types, validated against the JSON Schema, and parsed with a real XML parser.

use crate::support;

use loadtest_report::report::{RunStatus, TestStatus};
use support::{CLIENTS, Fixture, Server, serial, text, validate_schema};

fn junit_cases(path: &std::path::Path) -> Vec<(String, bool)> {
    let xml = std::fs::read_to_string(path).expect("junit file");
    let doc = roxmltree::Document::parse(&xml).expect("the JUnit report is well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            (
                n.attribute("name").unwrap_or_default().to_string(),
                n.children().any(|c| c.has_tag_name("failure")),
            )
        })
        .collect()
}

#[test]
fn passing_workspace_exits_0_and_writes_valid_reports() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let out = f.run(&["--target", &server.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    assert_eq!(report.status, RunStatus::Passed);
    assert_eq!(report.exit_code, 0);
    let names: Vec<&str> = report.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["home", "items"]);
    for t in &report.tests {
        assert_eq!(t.status, TestStatus::Passed, "{t:?}");
        let r = t.result.as_ref().expect("a result");
        assert!(r.iterations.ok > 0 && r.iterations.failed == 0);
    }
    assert!(server.server.requests() > 0);
    validate_schema(&f.file("report.json"));
    let cases = junit_cases(&f.file("junit.xml"));
    assert_eq!(
        cases,
        [("home".to_string(), false), ("items".to_string(), false)]
    );
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    assert!(md.starts_with("## cargo loadtest: passed"), "{md}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("api::home") && stdout.contains("loadtest result: ok. 2 passed"),
        "{stdout}"
    );
}

#[test]
fn reports_go_to_the_target_dir_by_default() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let dir = support::shared_target_dir().join("loadtest");
    let _ = std::fs::remove_dir_all(&dir);
    let mut cmd = f.command(&["--target", &server.url(), "--exact", "home"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for name in ["report.json", "junit.xml", "report.md", "report.html"] {
        assert!(
            dir.join(name).is_file(),
            "{name} missing in {}",
            dir.display()
        );
    }
    validate_schema(&dir.join("report.json"));
}

#[test]
fn failing_threshold_exits_100_with_a_junit_failure_exactly_there() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("failing");
    let out = f.run(&["--target", &server.url()]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    assert_eq!(report.status, RunStatus::Failed);
    let status = |n: &str| report.tests.iter().find(|t| t.name == n).map(|t| t.status);
    assert_eq!(status("slow"), Some(TestStatus::Failed));
    assert_eq!(status("hostile"), Some(TestStatus::Failed));
    assert_eq!(status("fine"), Some(TestStatus::Passed));
    let slow = report.tests.iter().find(|t| t.name == "slow").unwrap();
    assert!(
        slow.failures.iter().any(|m| m.starts_with("p99 < 1ms")),
        "{:?}",
        slow.failures
    );
    validate_schema(&f.file("report.json"));
    // The hostile error message (<, &, ]]>, control characters) still yields valid XML.
    let cases = junit_cases(&f.file("junit.xml"));
    assert_eq!(
        cases,
        [
            ("fine".to_string(), false),
            ("hostile".to_string(), true),
            ("slow".to_string(), true)
        ]
    );
    let xml = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let system_out: String = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("hostile"))
        .flat_map(|n| {
            n.descendants()
                .filter(|c| c.has_tag_name("failure"))
                .map(|c| c.attribute("message").unwrap_or_default().to_string())
        })
        .collect();
    assert!(system_out.contains("error budget"), "{system_out}");
}

#[test]
fn broken_build_exits_101() {
    let _g = support::concurrent(&["broken-build"]);
    let f = Fixture::shared("broken-build");
    let out = f.run(&[]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mismatched types"),
        "cargo's diagnostics are shown: {stderr}"
    );
    assert!(!f.file("report.json").exists());
}

#[test]
fn no_load_tests_exits_4() {
    let _g = support::concurrent(&["no-tests", "passing"]);
    let f = Fixture::shared("no-tests");
    let out = f.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no load tests found"));
    let f = Fixture::shared("passing");
    let out = f.run(&["no_such_test"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no load test matched"));
}

#[test]
fn two_packages_run_and_package_selection_works() {
    let _g = support::concurrent(&["two-packages"]);
    let server = Server::start();
    let f = Fixture::shared("two-packages");
    let out = f.run(&["--target", &server.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pkgs: Vec<(String, String)> = f
        .report()
        .tests
        .iter()
        .map(|t| (t.package.clone(), t.name.clone()))
        .collect();
    assert_eq!(
        pkgs,
        [
            ("alpha".into(), "alpha_get".into()),
            ("beta".into(), "beta_get".into())
        ]
    );
    assert_eq!(server.server.requests_to("/alpha"), 4);
    assert_eq!(server.server.requests_to("/beta"), 4);
    let out = f.run(&["--target", &server.url(), "-p", "beta"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let names: Vec<String> = f.report().tests.iter().map(|t| t.name.clone()).collect();
    assert_eq!(names, ["beta_get"]);
    let out = f.run(&["--target", &server.url(), "-p", "gamma"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"gamma\""));
}

#[test]
fn overrides_and_filters_take_effect() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    // `home` is a closed-model test; --rate turns it into a 100/s open-model test for 2 s.
    let out = f.run(&[
        "--target",
        &server.url(),
        "--exact",
        "home",
        "--rate",
        "100",
        "--duration",
        "2s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    assert_eq!(report.tests.len(), 1);
    let r = report.tests[0].result.as_ref().unwrap();
    assert_eq!(r.config.model, "open");
    let n = server.server.requests_to("/");
    assert!(
        (190..=210).contains(&n),
        "about 200 requests expected, the server saw {n}"
    );
    assert_eq!(r.requests.total, n);
    // Tags and --skip.
    let out = f.run(&[
        "--target",
        &server.url(),
        "--tag",
        "rate",
        "--duration",
        "500ms",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        f.report()
            .tests
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["items"]
    );
    let out = f.run(&[
        "--target",
        &server.url(),
        "--skip",
        "items",
        "--iterations",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    assert_eq!(
        report
            .tests
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["home"]
    );
    assert_eq!(report.tests[0].result.as_ref().unwrap().iterations.total, 3);
}

#[test]
fn workspace_file_and_environment_layers_apply() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    let _cfg = f.write_source(
        "loadtest.toml",
        "[defaults]\nduration = \"300ms\"\n[tests.home]\niterations = 2\n",
    );
    let mut cmd = f.command(&[
        "--json",
        f.file("report.json").to_str().unwrap(),
        "--exact",
        "home",
    ]);
    cmd.env("LOADTEST_TARGET", server.url());
    // One worker thread: the harness runs tokio's current-thread scheduler.
    cmd.env("LOADTEST_WORKER_THREADS", "1");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = f.report().tests[0].result.clone().unwrap();
    assert_eq!(r.config.iterations, Some(2));
    assert_eq!(r.config.duration_s, Some(0.3));
    assert_eq!(r.iterations.total, 2);
    assert_eq!(r.requests.total, 2);
    assert_eq!(r.generator.cpus, 1, "one worker thread uses one CPU");
}

#[test]
fn bad_input_exits_2_naming_the_value_and_writes_nothing() {
    let _g = support::concurrent(&["passing"]);
    let f = Fixture::shared("passing");
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["--frobnicate"], &["--frobnicate"]),
        (vec!["--duration", "5x"], &["\"5x\"", "500ms"]),
        (vec!["--rate", "fast"], &["\"fast\"", "500/s"]),
        (vec!["--users", "0"], &["\"0\"", "at least 1"]),
        (
            vec!["--manifest-path", "/nonexistent/Cargo.toml"],
            &["/nonexistent/Cargo.toml", "manifest"],
        ),
    ];
    for (args, needles) in cases {
        let out = f.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(stderr.contains(n), "{args:?}: stderr lacks {n:?}: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!f.file("report.json").exists(), "{args:?} wrote a report");
    }
    let report_path = f.file("report.json");
    let mut cmd = f.command(&["--json", report_path.to_str().unwrap()]);
    cmd.env("LOADTEST_WORKER_THREADS", "0");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("LOADTEST_WORKER_THREADS=\"0\"") && stderr.contains("from 1 to 1024"),
        "{stderr}"
    );
    assert!(!f.file("report.json").exists());
    let _cfg = f.write_source(
        "loadtest.toml",
        "[defaults]\nthresholds = [\"p99 is fast\"]\n",
    );
    let out = f.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"p99 is fast\"") && stderr.contains("METRIC[(NAME)] OP VALUE"),
        "{stderr}"
    );
    assert!(!f.file("report.json").exists());
}

#[test]
fn sigint_exits_130_with_complete_reports() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("passing");
    // Build first so that the signal lands during the run, not the build.
    let out = f.run(&[
        "--target",
        &server.url(),
        "--exact",
        "home",
        "--iterations",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::remove_file(f.file("report.json")).unwrap();
    let mut cmd = f.command(&[
        "--target",
        &server.url(),
        "--duration",
        "60s",
        "--json",
        f.file("report.json").to_str().unwrap(),
        "--junit",
        f.file("junit.xml").to_str().unwrap(),
        "--markdown",
        f.file("report.md").to_str().unwrap(),
    ]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // The warm-up run's requests are already counted: wait for this run's.
    let before = server.server.requests();
    let child = cmd.spawn().unwrap();
    // Wait for load to reach the server, then one more second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while server.server.requests() == before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let sent = std::time::Instant::now();
    assert!(support::signal(child.id(), "-INT"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        sent.elapsed() < std::time::Duration::from_secs(20),
        "stopping took {:?}",
        sent.elapsed()
    );
    let report = f.report();
    assert_eq!(report.status, RunStatus::Interrupted);
    assert_eq!(report.exit_code, 130);
    assert_eq!(report.tests.len(), 2);
    assert_eq!(report.tests[0].status, TestStatus::Interrupted);
    assert!(
        report.tests[0]
            .result
            .as_ref()
            .is_some_and(|r| r.interrupted && r.iterations.total > 0)
    );
    assert_eq!(report.tests[1].status, TestStatus::Interrupted);
    validate_schema(&f.file("report.json"));
    assert_eq!(junit_cases(&f.file("junit.xml")).len(), 2);
}

#[test]
fn no_arguments_in_the_repository_root_runs_the_demo() {
    let _g = serial();
    let out = support::fixture_build_env(&mut std::process::Command::new(support::binary()))
        .current_dir(support::repo_root())
        .arg("loadtest")
        .env_remove("GITHUB_STEP_SUMMARY")
        // No arguments; the environment points cargo at the shared target dir so the suite
        // builds tokio and reqwest in release once.
        .env("CARGO_TARGET_DIR", support::shared_target_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: loadtest_report::report::RunReport = serde_json::from_str(
        &std::fs::read_to_string(support::shared_target_dir().join("loadtest/report.json"))
            .unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = report.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["arrivals", "browse", "checkout"]);
    assert!(
        report.tests.iter().all(|t| t.status == TestStatus::Passed),
        "{:?}",
        report.tests
    );
}

#[test]
fn credentials_never_appear_in_reports_or_output() {
    let _g = serial();
    let server = Server::start();
    let f = Fixture::shared("secrets");
    let target = server.url().replace("://", "://admin:SECRET-URL-PASS@");
    for client in CLIENTS {
        eprintln!("--client {client}");
        credentials_stay_out(&f, &target, client);
    }
}

fn credentials_stay_out(f: &Fixture, target: &str, client: &str) {
    let out = f.run(&["--target", target, "--client", client]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    let report = f.report();
    assert_eq!(report.tests.len(), 4);
    assert!(
        report.tests.iter().all(|t| t.status == TestStatus::Failed),
        "every test fails in its own way"
    );
    let mut haystacks = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
    ];
    for name in ["report.json", "junit.xml", "report.md", "report.html"] {
        haystacks.push((
            name.to_string(),
            std::fs::read_to_string(f.file(name)).unwrap(),
        ));
    }
    for (what, text) in &haystacks {
        for secret in [
            "SECRET-BEARER",
            "SECRET-COOKIE",
            "SECRET-PROXY",
            "SECRET-URL-PASS",
        ] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {what}:\n{text}"
            );
        }
    }
    // The failures are still explained.
    let json = &haystacks[2].1;
    assert!(
        json.contains("[redacted]") && json.contains("HTTP 500"),
        "{json}"
    );
}
