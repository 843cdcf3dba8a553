//! End-to-end: the A/B gate (`--baseline-rev`) through the real binary, over a fixture made a
//! git repository with two commits. Each revision's setup hook starts its own loopback server
//! whose service time is a constant in the source, so a commit can make the server slower.

use crate::support;
use loadtest_runtime::grammar::GatedMetric;

use loadtest_report::report::{MetricVerdict, RunStatus, TestStatus};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Fixture, serial, text, validate_schema};

const SERVICE: &str = "const SERVICE_US: u64 = 2000;";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=e2e",
            "-c",
            "user.email=e2e@example.invalid",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A private copy of the `ab` fixture as a git repository whose first commit is the base.
fn repository() -> Fixture {
    let f = Fixture::copy("ab");
    std::fs::write(f.source(".gitignore"), "target/\n").unwrap();
    git(f.path(), &["init", "--quiet"]);
    git(f.path(), &["add", "-A"]);
    git(f.path(), &["commit", "--quiet", "-m", "base"]);
    f
}

/// Commits `edit` applied to the load test's source.
fn commit(f: &Fixture, message: &str, edit: impl Fn(&str) -> String) {
    let path = f.source("loadtests/api.rs");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = edit(&text);
    assert_ne!(changed, text, "the edit changes the source");
    std::fs::write(&path, changed).unwrap();
    git(f.path(), &["commit", "--quiet", "-am", message]);
}

/// The gate's worktrees are gone: git lists only the repository's own, and no folder is left.
fn assert_no_worktree_left(f: &Fixture, stderr: &str) {
    let list = git(f.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
    if let Some(line) = stderr.lines().find(|l| l.contains("checked out in ")) {
        let dir = line.rsplit("checked out in ").next().unwrap().trim();
        assert!(!Path::new(dir).exists(), "{dir} was left behind");
    }
}

/// Wide tolerances for runs that must not regress by chance on a busy machine.
const CALM: [&str; 10] = [
    "--tolerance",
    "p50=60%",
    "--tolerance",
    "p95=60%",
    "--tolerance",
    "p99=60%",
    "--tolerance",
    "throughput=60%",
    "--tolerance",
    "error_rate=5%",
];

#[test]
fn a_ten_times_slower_revision_regresses_over_interleaved_rounds() {
    let _g = serial();
    // Five rounds: a round whose generator was disturbed (a busy machine) is left out, and the
    // verdict needs three healthy ones.
    let f = repository();
    let base = git(f.path(), &["rev-parse", "HEAD"]);
    commit(&f, "slower", |s| {
        s.replace(SERVICE, "const SERVICE_US: u64 = 20000;")
    });
    let out = f.run(&[
        "--baseline-rev",
        "HEAD~1",
        "--rounds",
        "5",
        "--round-duration",
        "1s",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    for round in 1..=5 {
        for side in ["base", "head"] {
            assert!(
                stderr.contains(&format!("round {round}/5 {side}: api::steady: ")),
                "round {round} {side}: {stderr}"
            );
        }
    }
    validate_schema(&f.file("report.json"));
    let report = f.report();
    let gate = report.gate.as_ref().expect("the report describes the gate");
    assert_eq!((gate.rounds, gate.completed_rounds), (5, 5));
    assert_eq!(gate.base_commit, base);
    assert_eq!(gate.base_rev, "HEAD~1");
    assert_eq!(gate.round_duration_s, Some(1.0));
    let t = &report.tests[0];
    assert_eq!(t.status, TestStatus::Failed, "{:?}", t.failures);
    let c = t.comparison.as_ref().expect("compared");
    assert_eq!(c.rounds, Some(5));
    assert_eq!(c.baseline.git_commit.as_deref(), Some(base.as_str()));
    let p50 = c
        .metrics
        .iter()
        .find(|m| m.metric == GatedMetric::P50)
        .unwrap();
    assert_eq!(p50.verdict, MetricVerdict::Regressed, "{p50:?}");
    assert!(p50.ci_low.unwrap() > 2.0, "ten times slower: {p50:?}");
    assert!(
        t.failures
            .iter()
            .any(|l| l.starts_with("regression: p50 regressed +")),
        "{:?}",
        t.failures
    );
    let md = std::fs::read_to_string(f.file("report.md")).unwrap();
    assert!(
        md.contains("Compared with revision HEAD~1, interleaved on this machine: 5 of 5 rounds"),
        "{md}"
    );
    let xml = std::fs::read_to_string(f.file("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit parses");
    // The writer puts a failed case's output inside its `failure` element.
    let out_text: String = doc
        .descendants()
        .filter(|n| n.has_tag_name("system-out") || n.has_tag_name("failure"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        out_text.contains("compared with revision HEAD~1: p50 regressed +"),
        "{out_text}"
    );
    assert!(doc.descendants().any(|n| n.has_tag_name("failure")));
    assert_no_worktree_left(&f, &stderr);
}

#[test]
fn tests_in_only_one_revision_are_new_or_removed_not_failed() {
    let _g = serial();
    let f = repository();
    let extra = |name: &str| {
        format!(
            "#[load_test(users = 1, duration = \"1s\")]\nasync fn {name}(ctx: &Ctx) -> Result<()> {{\n    ctx.http().get(ctx.url(\"/\")).send().await?.error_for_status()?;\n    Ok(())\n}}\n\nloadtest_runtime::main!"
        )
    };
    commit(&f, "legacy", |s| {
        s.replacen("loadtest_runtime::main!", &extra("legacy"), 1)
    });
    commit(&f, "legacy becomes fresh", |s| {
        s.replace("fn legacy(", "fn fresh(")
    });
    let mut args = vec![
        "--baseline-rev",
        "HEAD~1",
        "--rounds",
        "3",
        "--round-duration",
        "1s",
    ];
    args.extend(CALM);
    let out = f.run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = f.report();
    let gate = report.gate.as_ref().unwrap();
    assert_eq!(gate.new_tests, ["api::fresh"]);
    assert_eq!(gate.removed_tests, ["api::legacy"]);
    let fresh = report.tests.iter().find(|t| t.name == "fresh").unwrap();
    assert_eq!(fresh.status, TestStatus::Passed);
    assert!(fresh.result.is_some(), "a new test runs");
    assert_eq!(
        fresh.comparison.as_ref().unwrap().note.as_deref(),
        Some("new in this revision: the base revision has no such test")
    );
    let steady = report.tests.iter().find(|t| t.name == "steady").unwrap();
    let c = steady.comparison.as_ref().unwrap();
    assert_eq!(c.rounds, Some(3));
    assert!(!c.regressed, "an unchanged server: {:?}", c.metrics);
    assert_eq!(
        stderr.matches(": api::fresh: ").count(),
        1,
        "a new test runs once: {stderr}"
    );
    assert!(!report.tests.iter().any(|t| t.name == "legacy"));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("new in this revision: api::fresh")
            && summary.contains("only in the base revision (not run): api::legacy"),
        "{summary}"
    );
    assert_no_worktree_left(&f, &stderr);
}

#[test]
fn a_base_revision_that_is_missing_or_does_not_build_runs_nothing() {
    let _g = support::concurrent(&["ab"]);
    let f = repository();
    let out = f.run(&["--baseline-rev", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--baseline-rev \"no-such-branch\" is not a commit, branch or tag")
            && stderr.contains("git: "),
        "{stderr}"
    );
    assert!(!f.file("report.json").exists(), "nothing ran");
    assert_no_worktree_left(&f, &stderr);

    // A base that does not compile: cargo's own message, exit 101, nothing run.
    let broken = repository();
    commit(&broken, "broken", |s| {
        s.replace(SERVICE, "const SERVICE_US: u64 = \"not a number\";")
    });
    commit(&broken, "fixed", |s| {
        s.replace("const SERVICE_US: u64 = \"not a number\";", SERVICE)
    });
    let out = broken.run(&["--baseline-rev", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        stderr.contains("mismatched types") && stderr.contains("does not build"),
        "{stderr}"
    );
    assert!(!stderr.contains("round 1/"), "nothing ran: {stderr}");
    assert!(!broken.file("report.json").exists(), "nothing ran");
    assert_no_worktree_left(&broken, &stderr);
}

#[test]
fn ctrl_c_mid_gate_exits_130_with_reports_of_what_ran_and_removes_the_worktree() {
    let _g = serial();
    let f = repository();
    commit(&f, "same service, new comment", |s| {
        s.replace(SERVICE, &format!("{SERVICE} // unchanged"))
    });
    let mut cmd = f.command(&[
        "--baseline-rev",
        "HEAD~1",
        "--rounds",
        "20",
        "--round-duration",
        "2s",
    ]);
    cmd.arg("--json")
        .arg(f.file("report.json"))
        .arg("--junit")
        .arg(f.file("junit.xml"))
        .arg("--markdown")
        .arg(f.file("report.md"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cargo-loadtest starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // Wait (bounded) until the first round ended, then interrupt the second.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut rounds_seen = 0;
    while rounds_seen < 2 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && line.contains("round 1/20 ")
        {
            rounds_seen += 1;
        }
    }
    assert_eq!(rounds_seen, 2, "the first round did not end in time");
    std::thread::sleep(Duration::from_millis(500));
    assert!(support::signal(child.id(), "-INT"));
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let report = f.report();
    assert_eq!(report.status, RunStatus::Interrupted);
    let gate = report.gate.as_ref().unwrap();
    assert!(
        (1..20).contains(&gate.completed_rounds),
        "{} rounds completed",
        gate.completed_rounds
    );
    assert_eq!(report.tests.len(), 1);
    assert!(
        report.tests[0].result.is_some(),
        "the last run of this revision is reported"
    );
    assert!(f.file("junit.xml").exists() && f.file("report.md").exists());
    assert_no_worktree_left(&f, &stderr);
}
