//! The run from start to end: settings, the baseline to compare with, build and selection, the
//! harnesses one after another, the comparison, the verdict on the run, and the reporters.

use super::Selected;
use super::harness::{Outcomes, run_harness};
use crate::cli::RunArgs;
use crate::compare::baseline;
use crate::compile::BuiltHarness;
use crate::errors::CliError;
use crate::exit_code;
use crate::output::{ReportPaths, atomic};
use crate::reporter::{
    BmfFile, CsvFiles, Event, HtmlFile, IntervalLogs, JsonFile, JunitFile, MarkdownFile,
    MetricsEndpoint, Reporters, SaveBaseline, Terminal,
};
use crate::settings::Settings;
use crate::signals::Interrupt;
use crate::workspace;
use loadtest_report::report::{RunInfo, RunReport, RunStatus, SCHEMA_VERSION};
use loadtest_report::verdict::{self, Policy};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Runs the load tests and returns the exit code.
pub(crate) fn run(args: &RunArgs, interrupt: &Interrupt) -> Result<i32, CliError> {
    let ws = workspace::discover(&args.workspace)?;
    let settings = Settings::load(&ws.root, args)?;
    // Everything the gate needs is checked before anything is built.
    for t in &args.gate.tolerance {
        loadtest_grammar::parse_tolerance(t)
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
    let paths = ReportPaths::resolve(&ws.target_dir, args);
    paths.check()?;
    let metrics = metrics_server(args)?;
    let listed = super::build_and_list(&args.workspace, &ws, args.quiet, interrupt)?;
    settings.check_test_names(listed.iter().map(|s| s.test.name.as_str()))?;
    let selected = super::select(args, listed)?;
    let mut reporters = outputs(
        args,
        &paths,
        &ws.target_dir,
        against.as_ref().map(|(old, _)| old),
        metrics,
        interrupt,
    );
    let policy = Policy {
        fail_on_saturation: args.fail_on_saturation,
    };
    let started_at = SystemTime::now();
    let clock = Instant::now();
    reporters.emit(&Event::RunStarted {
        tests: selected.len(),
    })?;
    let mut outcomes = Outcomes {
        reports: Vec::new(),
        reporters: &mut reporters,
        policy,
    };
    let all: Vec<&Selected> = selected.iter().collect();
    run_selected(&all, &settings, args, interrupt, &mut outcomes)?;
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        run: run_info(&ws.root, args, started_at, clock),
        // Placeholders: the verdict sets both once the comparison is attached.
        status: RunStatus::Passed,
        exit_code: exit_code::OK,
        tests: outcomes.reports,
        gate: None,
    };
    let mut refusals = Vec::new();
    if let Some((old, source)) = &against {
        refusals = crate::compare::apply::apply(
            old,
            source,
            &mut report,
            &args.gate.tolerance,
            args.gate.force_compare,
            &policy,
        )
        .map_err(CliError::Usage)?;
    }
    finish(report, &refusals, &mut reporters, interrupt)
}

/// Judges the run from its tests (a refused comparison makes it exit 2), hands the final report
/// to the reporters, names the refusals, and returns the exit code.
pub(super) fn finish(
    mut report: RunReport,
    refusals: &[String],
    reporters: &mut Reporters,
    interrupt: &Interrupt,
) -> Result<i32, CliError> {
    (report.status, report.exit_code) = verdict::run_outcome(&report.tests, interrupt.is_set());
    if !refusals.is_empty() {
        report.exit_code = exit_code::USAGE;
    }
    reporters.emit(&Event::RunFinished(&report))?;
    for r in refusals {
        eprintln!("error: {r}");
    }
    Ok(report.exit_code)
}

/// Runs `selected`, harness after harness (each harness's tests in one session, in order).
pub(super) fn run_selected(
    selected: &[&Selected],
    settings: &Settings,
    args: &RunArgs,
    interrupt: &Interrupt,
    outcomes: &mut Outcomes<'_>,
) -> Result<(), CliError> {
    let mut harnesses: Vec<&BuiltHarness> = Vec::new();
    for s in selected {
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
            .copied()
            .collect();
        run_harness(h, &tests, settings, args, interrupt, outcomes)?;
    }
    Ok(())
}

/// The run's outputs, in the order they receive events: the report files, then the terminal,
/// then the saved baseline.
/// `--metrics-listen`: bound before the build, so that a port in use is refused before anything
/// runs; it answers from here to the end of the invocation.
pub(super) fn metrics_server(
    args: &RunArgs,
) -> Result<Option<crate::live::MetricsServer>, CliError> {
    let Some(addr) = &args.metrics_listen else {
        return Ok(None);
    };
    let server =
        crate::live::MetricsServer::start(crate::live::parse_listen(addr)?, String::new())?;
    if !args.quiet {
        eprintln!("     Metrics at http://{}/metrics", server.addr);
    }
    Ok(Some(server))
}

/// The run's outputs, in the order they receive events: the report files (the HTML page with
/// `baseline`'s curves, when there is one), the metrics endpoint, the terminal, then the saved
/// baseline.
pub(super) fn outputs(
    args: &RunArgs,
    paths: &ReportPaths,
    target_dir: &std::path::Path,
    baseline: Option<&RunReport>,
    metrics: Option<crate::live::MetricsServer>,
    interrupt: &Interrupt,
) -> Reporters {
    let mut reporters = Reporters::default();
    reporters
        .register(JsonFile(paths.json.clone()))
        .register(JunitFile(paths.junit.clone()))
        .register(MarkdownFile {
            path: paths.markdown.clone(),
            step_summary: true,
        })
        .register(HtmlFile {
            path: paths.html.clone(),
            baseline: baseline.cloned(),
        });
    if let Some(server) = metrics {
        reporters.register(MetricsEndpoint {
            server,
            quiet: args.quiet,
            interrupt: interrupt.clone(),
        });
    }
    if let Some(bmf) = &args.bmf {
        reporters.register(BmfFile(bmf.clone()));
    }
    if let Some(csv) = &paths.csv {
        reporters.register(CsvFiles(csv.clone()));
    }
    if let Some(dir) = &paths.hlog {
        reporters.register(IntervalLogs(dir.clone()));
    }
    reporters.register(Terminal::new(
        args.quiet,
        Some(paths.describe()),
        paths.any_stdout() || args.bmf.as_deref().is_some_and(atomic::is_stdout),
    ));
    if let Some(name) = &args.save_baseline {
        reporters.register(SaveBaseline {
            target_dir: target_dir.to_path_buf(),
            name: name.clone(),
        });
    }
    reporters
}

/// Where, when and how the run happened.
pub(super) fn run_info(
    root: &std::path::Path,
    args: &RunArgs,
    started_at: SystemTime,
    clock: Instant,
) -> RunInfo {
    RunInfo {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at_unix: started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        duration_s: clock.elapsed().as_secs_f64(),
        git_commit: git_commit(root),
        host: host_name(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        command_line: std::env::args()
            .map(|a| loadtest_report::redact::url(&a))
            .collect(),
        fail_on_saturation: args.fail_on_saturation,
    }
}

pub(super) fn git_commit(root: &std::path::Path) -> Option<String> {
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

pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
