//! The run from start to end: settings, the baseline to compare with, build and selection, the
//! harnesses one after another (or, under `--find-max`, each test's capacity search), the
//! comparison, the verdict on the run, and the reporters.

use super::Selected;
use super::capacity::{self, SearchArgs};
use super::harness::{Outcomes, run_harness};
use crate::cli::RunArgs;
use crate::compare::baseline;
use crate::compile::BuiltHarness;
use crate::errors::CliError;
use crate::exit_code;
use crate::output::ReportPaths;
use crate::reporter::{
    BmfFile, CsvFiles, Event, IntervalLogs, JsonFile, JunitFile, MarkdownFile, Reporters,
    SaveBaseline, Terminal,
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
    let search = SearchArgs::parse(&args.capacity)?;
    let paths = ReportPaths::resolve(&ws.target_dir, args);
    paths.check()?;
    let selected = super::build_and_select(&args.workspace, &ws, args, interrupt)?;
    // A capacity search needs every selected test to run the open model: checked before any runs.
    let prepared = match &search {
        Some(a) => Some(
            selected
                .iter()
                .map(|s| capacity::prepare(s, &settings.layers_for(&s.test.name), a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(CliError::Usage)?,
        ),
        None => None,
    };
    let mut reporters = Reporters::default();
    reporters
        .register(JsonFile(paths.json.clone()))
        .register(JunitFile(paths.junit.clone()))
        .register(MarkdownFile {
            path: paths.markdown.clone(),
            step_summary: true,
        });
    if let Some(bmf) = &args.bmf {
        reporters.register(BmfFile(bmf.clone()));
    }
    if let Some(csv) = &paths.csv {
        reporters.register(CsvFiles(csv.clone()));
    }
    if let Some(dir) = &paths.hlog {
        reporters.register(IntervalLogs(dir.clone()));
    }
    reporters.register(Terminal::new(args.quiet, Some(paths.describe())));
    if let Some(name) = &args.save_baseline {
        reporters.register(SaveBaseline {
            target_dir: ws.target_dir.clone(),
            name: name.clone(),
        });
    }
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
    if let (Some(a), Some(prepared)) = (&search, prepared) {
        for (s, p) in selected.iter().zip(prepared) {
            if interrupt.is_set() {
                outcomes.not_started(s)?;
                continue;
            }
            let searched =
                capacity::search(s, p, a, &settings, args, interrupt, outcomes.reporters)?;
            outcomes.searched(s, searched)?;
        }
    } else {
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
            run_harness(h, &tests, &settings, args, interrupt, &mut outcomes)?;
        }
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
                .map(|a| loadtest_report::redact::url(&a))
                .collect(),
            fail_on_saturation: args.fail_on_saturation,
        },
        // Placeholders: the verdict sets both once the comparison is attached.
        status: RunStatus::Passed,
        exit_code: exit_code::OK,
        tests: outcomes.reports,
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
    (report.status, report.exit_code) = verdict::run_outcome(&report.tests, interrupt.is_set());
    if !refusals.is_empty() {
        report.exit_code = exit_code::USAGE;
    }
    reporters.emit(&Event::RunFinished(&report))?;
    for r in &refusals {
        eprintln!("error: {r}");
    }
    Ok(report.exit_code)
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
