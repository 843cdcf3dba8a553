//! A run: discover, validate settings, build, list, select, run each harness in turn (restarting
//! a crashed harness for the tests it did not reach), then write reports and pick the exit code.

use crate::cli::RunArgs;
use crate::compare::baseline;
use crate::compile::{self, BuiltHarness};
use crate::errors::CliError;
use crate::exit_code;
use crate::harness_client::{self, HarnessProcess, Msg};
use crate::output::{self, ReportPaths};
use crate::progress::ProgressView;
use crate::settings::Settings;
use crate::signals::Interrupt;
use crate::workspace;
use loadtest_runtime::protocol::{Event, ListedTest, PROTOCOL_VERSION, RunRequest, TestRequest};
use loadtest_runtime::report::{
    RunInfo, RunReport, RunStatus, SCHEMA_VERSION, TestReport, TestResult, TestStatus,
};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A selected test and the harness that holds it.
pub(crate) struct Selected {
    pub(crate) harness: BuiltHarness,
    pub(crate) test: ListedTest,
}

/// Runs the load tests and returns the exit code.
pub(crate) fn run(args: &RunArgs, interrupt: &Interrupt) -> Result<i32, CliError> {
    let ws = workspace::discover(&args.workspace)?;
    let settings = Settings::load(&ws.root, args)?;
    // Everything the gate needs is checked before anything is built.
    for t in &args.gate.tolerance {
        loadtest_runtime::grammar::parse_tolerance(t)
            .map_err(|e| CliError::Usage(format!("--tolerance: {e}")))?;
    }
    if let Some(name) = &args.save_baseline {
        baseline::check_name(name)?;
    }
    let against = match (&args.baseline, &args.baseline_file) {
        (Some(name), _) => Some((
            baseline::load_named(&ws.target_dir, name)?,
            format!("baseline {name:?}"),
        )),
        (None, Some(path)) => Some((baseline::load_file(path)?, path.display().to_string())),
        (None, None) => None,
    };
    let listed = build_and_list(&args.workspace, &ws, args.quiet, interrupt)?;
    settings.check_test_names(listed.iter().map(|s| s.test.name.as_str()))?;
    let selected = select(args, listed)?;
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let mut view = ProgressView::new(args.quiet);
    let mut reports: Vec<TestReport> = Vec::new();
    let mut harnesses: Vec<&BuiltHarness> = Vec::new();
    for s in &selected {
        if !harnesses
            .iter()
            .any(|h| h.executable == s.harness.executable)
        {
            harnesses.push(&s.harness);
        }
    }
    for h in harnesses {
        let tests: Vec<&Selected> = selected
            .iter()
            .filter(|s| s.harness.executable == h.executable)
            .collect();
        run_harness(
            h,
            &tests,
            &settings,
            args,
            interrupt,
            &mut view,
            &mut reports,
        );
    }
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        run: RunInfo {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at_unix: started_at
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            duration_s: clock.elapsed().as_secs_f64(),
            git_commit: git_commit(&ws.root),
            host: host_name(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            command_line: std::env::args()
                .map(|a| loadtest_runtime::redact::url(&a))
                .collect(),
        },
        status: RunStatus::Passed,
        exit_code: exit_code::OK,
        tests: reports,
    };
    let mut refusals = Vec::new();
    if let Some((old, source)) = &against {
        refusals = crate::compare::apply::apply(
            old,
            source,
            &mut report,
            &args.gate.tolerance,
            args.gate.force_compare,
        )
        .map_err(CliError::Usage)?;
    }
    finish_status(&mut report, interrupt.is_set());
    if !refusals.is_empty() {
        report.exit_code = exit_code::USAGE;
    }
    let paths = ReportPaths::resolve(&ws.target_dir, args);
    output::write_all(&report, &paths)?;
    if let Some(bmf) = &args.bmf {
        crate::output::atomic::write(bmf, crate::compare::bmf::render(&report).as_bytes())?;
    }
    // A report written to standard output (`--json -`) keeps stdout for itself.
    if paths.any_stdout() {
        eprint!("{}", output::summary::table(&report));
    } else {
        print!("{}", output::summary::table(&report));
    }
    if !args.quiet {
        eprintln!("     Reports {}", paths.describe());
    }
    if let Some(name) = &args.save_baseline {
        if interrupt.is_set() {
            eprintln!("warning: the run was interrupted; baseline {name:?} was not saved");
        } else {
            let path = baseline::save(&ws.target_dir, name, &report)?;
            eprintln!("       Saved baseline {name:?} at {}", path.display());
        }
    }
    for r in &refusals {
        eprintln!("error: {r}");
    }
    Ok(report.exit_code)
}

/// Sets the run's status and exit code from its tests' verdicts.
pub(crate) fn finish_status(report: &mut RunReport, interrupted: bool) {
    let failed = report
        .tests
        .iter()
        .any(|r| matches!(r.status, TestStatus::Failed | TestStatus::Errored));
    (report.status, report.exit_code) = if interrupted {
        (RunStatus::Interrupted, exit_code::INTERRUPTED)
    } else if failed {
        (RunStatus::Failed, exit_code::TEST_FAILED)
    } else {
        (RunStatus::Passed, exit_code::OK)
    };
}

/// Builds the harnesses and lists every load test they hold.
pub(crate) fn build_and_list(
    wargs: &crate::cli::WorkspaceArgs,
    ws: &workspace::Workspace,
    quiet: bool,
    interrupt: &Interrupt,
) -> Result<Vec<Selected>, CliError> {
    if ws.targets.is_empty() {
        return Err(CliError::NoTests(format!(
            "no load tests found in the workspace at {}: add a [[test]] target with harness = false to a package that depends on loadtest-runtime",
            ws.root.display()
        )));
    }
    let built = compile::build(wargs, &ws.targets, quiet, interrupt)?;
    let mut all = Vec::new();
    for h in built {
        let listing = harness_client::list(&h).map_err(CliError::Usage)?;
        for test in listing.tests {
            all.push(Selected {
                harness: h.clone(),
                test,
            });
        }
    }
    Ok(all)
}

/// Applies the filters (names, `--skip`, `--tag`) to the listed tests.
pub(crate) fn select(args: &RunArgs, all: Vec<Selected>) -> Result<Vec<Selected>, CliError> {
    let total = all.len();
    let selected: Vec<Selected> = all.into_iter().filter(|s| selects(args, s)).collect();
    if selected.is_empty() {
        return Err(CliError::NoTests(format!(
            "no load test matched the filters ({total} load tests in the workspace; `cargo loadtest list` shows them)"
        )));
    }
    Ok(selected)
}

fn selects(args: &RunArgs, s: &Selected) -> bool {
    let name = &s.test.name;
    let qualified = format!("{}::{}", s.harness.target.target, name);
    let matches = |pat: &String| {
        if args.exact {
            name == pat || &qualified == pat
        } else {
            qualified.contains(pat.as_str())
        }
    };
    (args.filters.is_empty() || args.filters.iter().any(matches))
        && !args.skip.iter().any(matches)
        && (args.tag.is_empty() || args.tag.iter().any(|t| s.test.config.tags.contains(t)))
}

fn new_report(
    s: &Selected,
    status: TestStatus,
    failures: Vec<String>,
    result: Option<TestResult>,
    error: Option<String>,
) -> TestReport {
    TestReport {
        package: s.harness.target.package.clone(),
        target: s.harness.target.target.clone(),
        name: s.test.name.clone(),
        status,
        failures,
        result,
        error,
        comparison: None,
    }
}

/// The verdict on a finished test.
fn judge(s: &Selected, result: TestResult, fail_on_saturation: bool) -> TestReport {
    let mut failures: Vec<String> = result
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| format!("{}: {}", t.rule, t.message))
        .collect();
    if let Some(rule) = &result.aborted_by {
        failures.insert(
            0,
            format!("aborted early: threshold `{rule}` failed (abort_on_fail)"),
        );
    }
    if fail_on_saturation && result.generator.saturated {
        failures.push(format!(
            "the load generator was saturated (--fail-on-saturation): {}",
            result.generator.warnings.join("; ")
        ));
    }
    let status = if result.interrupted {
        TestStatus::Interrupted
    } else if failures.is_empty() {
        TestStatus::Passed
    } else {
        TestStatus::Failed
    };
    new_report(s, status, failures, Some(result), None)
}

fn run_harness(
    h: &BuiltHarness,
    tests: &[&Selected],
    settings: &Settings,
    args: &RunArgs,
    interrupt: &Interrupt,
    view: &mut ProgressView,
    reports: &mut Vec<TestReport>,
) {
    let mut remaining: Vec<&Selected> = tests.to_vec();
    while !remaining.is_empty() {
        if interrupt.is_set() {
            for s in remaining.drain(..) {
                reports.push(new_report(
                    s,
                    TestStatus::Interrupted,
                    vec!["the run was interrupted before this test started".into()],
                    None,
                    None,
                ));
            }
            return;
        }
        let request = RunRequest {
            protocol: PROTOCOL_VERSION,
            tests: remaining
                .iter()
                .map(|s| TestRequest {
                    name: s.test.name.clone(),
                    overrides: settings.layers_for(&s.test.name),
                })
                .collect(),
            target: settings.run_target(),
        };
        let mut process = match HarnessProcess::spawn(h, &request, &args.harness_args, args.quiet) {
            Ok(p) => p,
            Err(e) => {
                for s in remaining.drain(..) {
                    reports.push(new_report(
                        s,
                        TestStatus::Errored,
                        vec![format!("cannot start the harness: {e}")],
                        None,
                        Some(e.to_string()),
                    ));
                }
                return;
            }
        };
        let mut current: Option<usize> = None;
        let mut done = false;
        let mut stopping = false;
        let mut setup_failed: Option<String> = None;
        loop {
            if interrupt.is_set() && !stopping {
                process.stop();
                stopping = true;
            }
            let Some(msg) = process.recv(Duration::from_millis(100)) else {
                continue;
            };
            let event = match msg {
                Msg::Eof => break,
                Msg::Event(e) => *e,
            };
            let find = |name: &str, remaining: &[&Selected]| {
                remaining.iter().position(|s| s.test.name == name)
            };
            match event {
                Event::Hello { .. } => {}
                Event::Started { test, config } => {
                    current = find(&test, &remaining);
                    if let Some(i) = current {
                        view.started(
                            &format!("{}::{}", remaining[i].harness.target.target, test),
                            &config,
                        );
                    }
                }
                Event::Progress(p) => view.progress(&p),
                Event::Finished { test, result } => {
                    if let Some(i) = find(&test, &remaining) {
                        let report = judge(remaining[i], *result, args.fail_on_saturation);
                        view.finished(&report);
                        reports.push(report);
                        remaining.remove(i);
                    }
                    current = None;
                }
                Event::TestError { test, message } => {
                    if let Some(i) = find(&test, &remaining) {
                        let report = new_report(
                            remaining[i],
                            TestStatus::Errored,
                            vec![message.clone()],
                            None,
                            Some(message),
                        );
                        view.finished(&report);
                        reports.push(report);
                        remaining.remove(i);
                    }
                    current = None;
                }
                Event::SetupFailed { message } => setup_failed = Some(message),
                Event::Done { .. } => done = true,
            }
        }
        let (status, tail) = process.wait();
        let status_text = match &status {
            Ok(s) => s.to_string(),
            Err(e) => format!("unknown status ({e})"),
        };
        if let Some(message) = setup_failed {
            for s in remaining.drain(..) {
                let report = new_report(
                    s,
                    TestStatus::Errored,
                    vec![message.clone()],
                    None,
                    Some(tail.clone()),
                );
                view.finished(&report);
                reports.push(report);
            }
            return;
        }
        if done {
            // Tests the harness did not get to (interrupted) are reported as such.
            for s in remaining.drain(..) {
                let why = if interrupt.is_set() {
                    "the run was interrupted before this test started"
                } else {
                    "the harness did not run this test"
                };
                let status = if interrupt.is_set() {
                    TestStatus::Interrupted
                } else {
                    TestStatus::Errored
                };
                reports.push(new_report(s, status, vec![why.into()], None, None));
            }
            return;
        }
        // The harness died without finishing: blame the running test (or all, if none started)
        // and restart it for the rest.
        let message = format!(
            "the harness process exited unexpectedly ({status_text}); last lines of its stderr:\n{tail}"
        );
        match current {
            Some(i) => {
                let report = new_report(
                    remaining[i],
                    TestStatus::Errored,
                    vec![format!(
                        "the harness process exited unexpectedly ({status_text})"
                    )],
                    None,
                    Some(message),
                );
                view.finished(&report);
                reports.push(report);
                remaining.remove(i);
            }
            None => {
                for s in remaining.drain(..) {
                    let report = new_report(
                        s,
                        TestStatus::Errored,
                        vec![format!(
                            "the harness process exited unexpectedly ({status_text})"
                        )],
                        None,
                        Some(message.clone()),
                    );
                    view.finished(&report);
                    reports.push(report);
                }
            }
        }
    }
}

fn git_commit(root: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
