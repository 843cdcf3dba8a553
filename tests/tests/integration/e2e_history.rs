//! Issue 28: the performance history through the real binary. A real history of 30 runs of the
//! `ab` fixture, whose loopback server's service time is exact (`FIXTURE_SERVICE_US`, a precise
//! timer), 10 ms and then 15% slower from run 20, finds that change point at run 20 (within one
//! run) and no other, and `--fail-on-regression` fails once the change is visible, never before.
//! Bad input (a run recorded twice, a corrupt record, one of another version, a bad option) is
//! refused with exit 2 and a message naming it. The shipped workflow is the README's and valid.

use crate::common::synthetic;
use crate::support::{self, Fixture, serial, text};
use cargo_loadtest::history::analysis::Floors;
use loadtest_runtime::grammar::GatedMetric;
use std::process::{Command, Output};

/// `cargo loadtest history ARGS` (no fixture needed).
fn history(args: &[&str]) -> Output {
    Command::new(support::binary())
        .arg("loadtest")
        .arg("history")
        .args(args)
        .env_remove("LOADTEST_HISTORY")
        .output()
        .expect("cargo-loadtest runs")
}

/// What the machine added to the server's exact service time (mean, p95, p99, in us) in the
/// quiet runs so far, and whether a run's additions are close enough to theirs to be quiet. What
/// the machine adds (the client, the loopback, the scheduler) hardly depends on the service time
/// (on six quiet histories of `bench/history-real.sh`, the runs at 5,750 us added on average
/// 30 us more at p50 and 70 us more at p99 than those at 5,000 us), so the quiet runs of both
/// service times are one reference: the first runs after the step are judged like the others,
/// not taken as their own reference whatever the machine was doing then.
#[derive(Debug, Default)]
struct Quiet {
    admitted: Vec<[f64; 3]>,
}

impl Quiet {
    /// How far beyond the quiet runs' median a run may add, per figure: 400 us to the mean (4%
    /// of the service time, under the detection's 5% magnitude), and each judged tail's floor
    /// (the history's defaults, the saved-baseline gate's: p95 500 us, p99 1 ms). The step (1.5
    /// ms) is above every floor and magnitude, so each series finds it by itself, and a level
    /// the machine holds for a while moves a figure by less than a change point needs.
    fn margins_us() -> [f64; 3] {
        let floors = Floors::default();
        [
            400.0,
            floors.of(GatedMetric::P95),
            floors.of(GatedMetric::P99),
        ]
    }

    /// Takes in a run's additions; `false` when the machine disturbed it (a figure beyond its
    /// margin). The first three runs are the reference.
    fn admits(&mut self, added: [f64; 3]) -> bool {
        let median = |i: usize| {
            let mut v: Vec<f64> = self.admitted.iter().map(|r| r[i]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let margins = Self::margins_us();
        let quiet = self.admitted.len() < 3 || (0..3).all(|i| added[i] <= median(i) + margins[i]);
        if quiet {
            self.admitted.push(added);
        }
        quiet
    }
}

/// The service time, 10 ms and 15% more from run 20. Not 5 ms, the least the issue allows: 15%
/// of it (750 us) is under the p99 floor, so whether p99 found the step by itself depended on
/// the machine, and a level of the machine's after the step, added to it, could make a change
/// point at another run (likely what failed this test once in CI: `--fail-on-regression` failed
/// after runs 22 and 30, with no run rerun; the output did not name the series). The levels the
/// machine holds for a while (the mean 150 to 300 us up for half a minute, seen here) were also
/// near the 200 us a run could add at 5 ms.
fn service_us(run: i32) -> u32 {
    if run >= 20 { 11_500 } else { 10_000 }
}

/// The history's defaults are what keep this test's short runs free of false alarms: latency
/// floors and a new level that must hold three runs (`bench/history-real.sh` measures them on
/// many such histories).
#[test]
fn a_slowdown_from_run_20_is_the_one_change_point_of_a_real_history() {
    let _g = serial();
    let f = Fixture::shared("ab");
    let dir = f.file("history");
    let dir = dir.to_str().expect("a UTF-8 temporary path");
    let report = f.file("report.json");
    let report = report.to_str().expect("a UTF-8 temporary path");
    // A run the machine disturbed (another build, another test) is run again, as the A/B test
    // reruns its rounds: the history must find the server's change, and a busy machine is not a
    // change of the server. The server's service time is exact, so what a run adds to it (the
    // client, the loopback, the scheduler) is the machine's: a run that adds much more than the
    // quiet runs did measured the machine (`Quiet::admits`). Three runs before the history are
    // the reference; at most 12 tries a run.
    let mut quiet = Quiet::default();
    let mut reruns = Vec::new();
    let mut verdicts = Vec::new();
    // What each analysis that failed printed (the change points it found).
    let mut alarms = Vec::new();
    for run in (-3..=30).filter(|r| *r != 0) {
        let service_us = service_us(run);
        let mut tries = 0;
        loop {
            tries += 1;
            // Only `steady`: the e2e_ab tests build changed copies of this fixture (with tests
            // of other names) into the same target directory, and cargo may reuse their
            // binary here.
            let out = f
                .run_command(&["steady", "--exact", "--quiet", "--duration", "2s"])
                .env("FIXTURE_SERVICE_US", service_us.to_string())
                .output()
                .expect("cargo-loadtest runs");
            assert_eq!(out.status.code(), Some(0), "run {run}: {}", text(&out));
            let report = f.report();
            let result = report.tests[0].result.as_ref().expect("a result");
            let latency = &result.iteration_latency.summary;
            let service = f64::from(service_us);
            let added = [
                latency.mean_us - service,
                latency.p95_us as f64 - service,
                latency.p99_us as f64 - service,
            ];
            let admitted = quiet.admits(added);
            if run < 0 || admitted {
                break;
            }
            reruns.push((run, added.map(|us| us.round() as i64)));
            assert!(
                tries < 12,
                "run {run} was disturbed {tries} times in a row ((run, [mean, p95, p99] added to the service time in us): {reruns:?}; quiet runs: {quiet:?}); the machine is too busy to measure a 15% change"
            );
        }
        if run < 0 {
            continue;
        }
        let out = f
            .command(&["history", "record", report, "--history", dir])
            .output()
            .expect("cargo-loadtest runs");
        assert_eq!(out.status.code(), Some(0), "record {run}: {}", text(&out));
        let out = f
            .command(&["history", "--history", dir, "--fail-on-regression"])
            .output()
            .expect("cargo-loadtest runs");
        verdicts.push((run, out.status.code()));
        if out.status.code() == Some(100) {
            alarms.push((run, String::from_utf8_lossy(&out.stdout).into_owned()));
        }
        assert!(
            matches!(out.status.code(), Some(0 | 100)),
            "analysis after run {run}: {}",
            text(&out)
        );
    }
    // Once, on the third run of the new level (or a little later), never before.
    let failures: Vec<i32> = verdicts
        .iter()
        .filter(|(_, c)| *c == Some(100))
        .map(|(r, _)| *r)
        .collect();
    assert!(
        matches!(failures[..], [22..=24]),
        "--fail-on-regression failed after runs {failures:?} (expected once, after run 22 to 24): {verdicts:?}; runs the machine disturbed and that were run again: {reruns:?}; what the failed analyses printed: {alarms:#?}"
    );

    let json = f.file("history.json");
    let csv = f.file("otava");
    let html = f.file("history.html");
    let out = f
        .command(&[
            "history",
            "--history",
            dir,
            "--json",
            json.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .output()
        .expect("cargo-loadtest runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("History: 30 runs in "), "{}", text(&out));
    let a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON")).expect("JSON");
    assert_eq!(a["history_version"], 1);
    assert_eq!(a["runs"], 30);
    let series = a["series"].as_array().expect("series");
    let test = "fixture-ab::api::steady";
    let p50 = series
        .iter()
        .find(|s| s["test"] == test && s["metric"] == "p50")
        .unwrap_or_else(|| panic!("a p50 series of {test}: {a}"));
    let points = p50["change_points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{p50}");
    let cp = &points[0];
    let run = cp["run"].as_u64().unwrap();
    assert!(
        (19..=21).contains(&run),
        "the p50 change point is at run {run}: {cp}"
    );
    let change = cp["change"].as_f64().unwrap();
    assert!(
        cp["regression"] == true && (0.08..0.22).contains(&change),
        "a slowdown of about 15%: {cp}"
    );
    assert!(cp["pvalue"].as_f64().unwrap() < 0.001, "{cp}");
    // No other change point, in any series.
    for s in series {
        for c in s["change_points"].as_array().unwrap() {
            let r = c["run"].as_u64().unwrap();
            assert!(
                (19..=21).contains(&r),
                "a change point at run {r} in {} {}: {c}",
                s["test"],
                s["metric"]
            );
        }
    }
    // Otava's CSV: a header and one line per run the detection used.
    let file = csv.join("fixture-ab__api__steady.csv");
    let text_csv = std::fs::read_to_string(&file).expect("the test's CSV");
    let lines: Vec<&str> = text_csv.lines().collect();
    assert!(
        lines[0].starts_with("time,commit,p50,p95,p99,throughput,error_rate"),
        "{text_csv}"
    );
    let used = p50["values"].as_array().unwrap().len();
    assert_eq!(lines.len(), used + 1, "{text_csv}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(csv.join("otava.yaml")).unwrap()).unwrap();
    assert_eq!(
        config["tests"]["fixture-ab__api__steady"]["file"],
        std::path::absolute(&file).unwrap().to_str().unwrap()
    );
    eprintln!(
        "{stdout}--fail-on-regression after runs 1 to 30: {verdicts:?}; runs the machine disturbed, run again (run, [mean, p95, p99] added to the service time in us): {reruns:?}"
    );
    let page = std::fs::read_to_string(&html).expect("the page");
    assert!(
        page.contains("<svg") && page.contains(test),
        "{}",
        &page[..200.min(page.len())]
    );
}

#[test]
fn bad_history_input_is_refused_with_exit_2_naming_it() {
    let _g = support::concurrent(&[]);
    let tmp = tempfile::tempdir().expect("temp dir");
    let report = tmp.path().join("report.json");
    std::fs::write(&report, serde_json::to_vec(&synthetic::report()).unwrap()).unwrap();
    let dir = tmp.path().join("history");
    let (r, d) = (report.to_str().unwrap(), dir.to_str().unwrap());

    let out = history(&["record", r, "--history", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let before = std::fs::read(&files[0]).unwrap();
    let record: serde_json::Value = serde_json::from_slice(&before).unwrap();
    assert_eq!(record["history_version"], 1);
    assert!(
        record["tests"].as_array().is_some_and(|t| !t.is_empty()),
        "{record}"
    );

    // The same run again: refused, the record untouched.
    let out = history(&["record", r, "--history", d]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already in the history"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&files[0]).unwrap(), before);

    // A corrupt record and one of another version are refused by name.
    for (name, body, says) in [
        (
            "torn.json",
            "{\"history_version\": 1, \"tes".to_string(),
            "is not valid JSON",
        ),
        (
            "next.json",
            String::from_utf8_lossy(&before)
                .replace("\"history_version\": 1", "\"history_version\": 7"),
            "has history_version 7",
        ),
    ] {
        let bad = dir.join(name);
        std::fs::write(&bad, body).unwrap();
        let out = history(&["--history", d]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            err.contains(bad.to_str().unwrap()) && err.contains(says),
            "{}",
            text(&out)
        );
        std::fs::remove_file(&bad).unwrap();
    }

    // Bad values name themselves and what is accepted; a report that is not one is refused.
    let out = history(&["--history", d, "--min-magnitude", "lots"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"lots\""),
        "{}",
        text(&out)
    );
    let out = history(&["record", d, "--history", d]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = history(&["--history", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No change points."),
        "{}",
        text(&out)
    );
}

/// The shipped workflow is the README's, records main's runs, fails on a new regression, and
/// is a valid GitHub Actions workflow (`check-jsonschema`, which `.ci/run` installs; without it
/// the schema check is skipped, except under CI).
#[test]
fn the_history_workflow_is_the_readme_s_and_validates() {
    let _g = support::concurrent(&[]);
    let root = support::repo_root();
    let file = root.join("examples/history/loadtest-history.yml");
    let workflow = std::fs::read_to_string(&file).expect("the workflow");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("the README");
    assert!(
        readme.contains(&workflow),
        "the README shows examples/history/loadtest-history.yml as it is"
    );
    for part in [
        "branches: [main]",
        "cargo loadtest history record target/loadtest/report.json --history loadtest-history/runs",
        "cargo loadtest history --history loadtest-history/runs --fail-on-regression",
    ] {
        assert!(workflow.contains(part), "{part:?} in the workflow");
    }
    let check = |path: &std::path::Path| {
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-workflows"])
            .arg(path)
            .output()
    };
    let Ok(out) = check(&file) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "check-jsonschema is not installed (.ci/run installs it)"
        );
        eprintln!("skipped the schema check: check-jsonschema is not installed");
        return;
    };
    assert!(out.status.success(), "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(&broken, workflow.replace("runs-on:", "runs_on:")).unwrap();
    assert!(
        !check(&broken).unwrap().status.success(),
        "the validator checks"
    );
}
