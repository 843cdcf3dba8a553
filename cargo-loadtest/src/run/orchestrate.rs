//! The run from start to end: its checked plan ([`super::plan`]: shard, start, setup file,
//! settings, the baseline to compare with, report paths), the live servers, build and selection, the
//! harnesses one after another (or, under `--find-max`, each test's capacity search), each test
//! compared with the baseline and judged as it ends, the verdict on the run, and the reporters.

use super::Selected;
use super::capacity;
use super::harness::{Launch, Outcomes, run_harness};
use super::plan::{RunPlan, Source, unix_now};
use crate::cli::RunArgs;
use crate::compare::apply::Comparer;
use crate::compare::baseline;
use crate::compile::BuiltHarness;
use crate::errors::CliError;
use crate::output::ReportPaths;
use crate::reporter::{LiveDashboard, MetricsEndpoint, Reporters, RunEvent, SaveBaseline};
use crate::scale;
use crate::settings::Settings;
use crate::signals::Interrupt;
use loadtest_report::report::{GateSummary, RunInfo, RunReport, ShardRun, TestReport};
use loadtest_report::verdict::{self, RunEnd};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Runs the load tests and returns the exit code.
pub(crate) fn run(args: &RunArgs, interrupt: &Interrupt) -> Result<i32, CliError> {
    let RunPlan {
        shard,
        start,
        setup_file,
        source,
        settings,
        target_dir,
        against,
        search,
        paths,
        policy,
    } = RunPlan::check(args)?;
    let unjudged_shard = policy.unjudged_shard;
    let live = live_servers(args, shard, interrupt)?;
    if let (Some(otlp), false) = (settings.otlp(), args.quiet) {
        eprintln!("  OTLP export to {}", otlp.endpoint);
    }
    let selected = match &source {
        Source::Workspace(ws) => {
            let wargs = settings.build_args(&args.workspace);
            let listed = super::build_and_list(&wargs, ws, args.quiet, interrupt)?;
            settings.check_test_names(listed.iter().map(Selected::id))?;
            super::select(&args.select, listed)?
        }
        Source::Archive(x) => super::filter(
            &args.select,
            x.tests(),
            &format!("in the archive {}", x.manifest.hash.get(..16).unwrap_or("")),
        )?,
    };
    // A capacity search needs every selected test to run the open model: checked before any runs.
    let prepared = match &search {
        Some(a) => Some(
            selected
                .iter()
                .map(|s| capacity::prepare(s, &settings.layers_for(s.id()), a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(CliError::Usage)?,
        ),
        None => None,
    };
    // The SHA-256 of each harness binary, when a shard report or the setup file needs them.
    let binaries = if shard.is_some() || setup_file.is_some() {
        match &source {
            Source::Archive(x) => x.binaries(),
            Source::Workspace(_) => scale::setup::binaries_of(&selected)?,
        }
    } else {
        Default::default()
    };
    // The shared setup values, every harness checked against the file before anything runs.
    let setup_values = match &setup_file {
        Some((path, file)) => {
            let archive = source.archive_hash();
            // Only the harnesses this run selected need an entry (an archive holds others).
            let used: std::collections::BTreeMap<String, String> = binaries
                .iter()
                .filter(|(key, _)| {
                    selected
                        .iter()
                        .any(|s| scale::setup::harness_key(&s.harness) == **key)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let values = file
                .values_for(&path.display().to_string(), &used, archive)
                .map_err(CliError::Usage)?;
            if !args.quiet {
                for (harness, entry) in &file.harnesses {
                    if let (Some(hook), true) = (&entry.hook, values.contains_key(harness)) {
                        eprintln!(
                            "note: {harness}: the setup hook `{hook}` does not run here; its value comes from --setup-file {} (its teardown runs with `cargo loadtest teardown`)",
                            path.display()
                        );
                    }
                }
            }
            Some(values)
        }
        None => None,
    };
    // What the shards of one run share: binaries and options.
    let shard_run = match shard {
        Some(spec) => {
            let binaries = binaries.clone();
            let tests: Vec<scale::identity::TestOptions<'_>> = selected
                .iter()
                .map(|s| scale::identity::TestOptions {
                    test: s.id().to_string(),
                    attribute: &s.test.options,
                    layers: settings.layers_for(s.id()),
                })
                .collect();
            let identity = scale::identity::identity(env!("CARGO_PKG_VERSION"), &binaries, &tests);
            if unjudged_shard {
                eprintln!(
                    "note: shard {spec}: thresholds and baselines are not judged on one shard; `cargo loadtest merge` judges the whole (--judge-shard judges this shard alone)"
                );
            }
            Some(ShardRun {
                shard: spec,
                identity,
                archive: source.archive_hash().map(str::to_string),
                binaries,
                start_at_unix: start.map(|s| s.at),
                start_offset_s: None,
                host_clock_unix: 0.0,
                judged: args.judge_shard,
                joined_at_s: None,
            })
        }
        None => None,
    };
    let mut reporters = outputs(
        args,
        &paths,
        &target_dir,
        against.as_ref().map(|(old, _)| old.newest()),
        live,
        interrupt,
    );
    // The build may have taken long: the start is checked again right before the first test.
    if let Some(start) = start {
        start.check()?;
        reporters.emit(&RunEvent::Status(format!(
            "     Waiting for --start-at {} ({:.1}s)",
            start.text,
            (start.at - unix_now()).max(0.0)
        )))?;
    }
    let host_clock = unix_now();
    let launch = Launch {
        shard,
        start_at_unix: start.map(|s| s.at),
        setup_values: setup_values.as_ref(),
    };
    let started_at = SystemTime::now();
    let clock = Instant::now();
    reporters.emit(&RunEvent::RunStarted {
        tests: selected.len(),
    })?;
    if unjudged_shard && against.is_some() {
        reporters.emit(&RunEvent::Note(
            "the baseline is not compared on one shard; give it to `cargo loadtest merge`".into(),
        ))?;
    }
    let comparer = match (&against, unjudged_shard) {
        (Some((old, source)), false) => Some(Comparer::new(
            old,
            source,
            &args.gate.tolerance,
            args.gate.force_compare,
        )),
        _ => None,
    };
    let mut outcomes = Outcomes::new(&mut reporters, policy, comparer);
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
        let all: Vec<&Selected> = selected.iter().collect();
        run_selected(&all, &settings, args, launch, interrupt, &mut outcomes)?;
    }
    let refusals = outcomes.refusals().to_vec();
    let tests = outcomes.reports;
    let shard = shard_run.map(|mut s| {
        // The first test's first iteration against the coordinated start (or, without one, the
        // moment the run was ready to start), by this host's clock.
        let reference = s.start_at_unix.unwrap_or(host_clock);
        // A test that joined the schedule late (restart in place) counts from its origin, the
        // coordinated start: its first iteration came at the join.
        s.start_offset_s = tests
            .iter()
            .filter_map(|t| {
                let r = t.result.as_ref()?;
                Some(r.started_at_unix? + r.joined_at_s.unwrap_or(0.0))
            })
            .reduce(f64::min)
            .map(|t| t - reference);
        s.joined_at_s = tests
            .iter()
            .find_map(|t| t.result.as_ref())
            .and_then(|r| r.joined_at_s);
        s.host_clock_unix = host_clock;
        s
    });
    let run = RunInfo {
        shard,
        ..run_info(source.root(), args, started_at, clock)
    };
    finish(run, tests, None, &refusals, &mut reporters, interrupt)
}

/// Builds the run's report from its judged tests (the verdict's [`verdict::run_report`]: a
/// refused comparison makes it exit 2), hands it to the reporters, names the refusals, and
/// returns the exit code.
pub(super) fn finish(
    run: RunInfo,
    tests: Vec<TestReport>,
    gate: Option<GateSummary>,
    refusals: &[String],
    reporters: &mut Reporters,
    interrupt: &Interrupt,
) -> Result<i32, CliError> {
    let end = RunEnd {
        interrupted: interrupt.is_set(),
        refused: !refusals.is_empty(),
    };
    let report = verdict::run_report(run, tests, gate, end);
    reporters.emit(&RunEvent::RunFinished(&report))?;
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
    launch: Launch<'_>,
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
        run_harness(h, &tests, settings, args, launch, interrupt, outcomes)?;
    }
    Ok(())
}

/// The live outputs' servers: `--metrics-listen` and `--dashboard`, bound before the build so
/// that a port in use (or a dashboard without its token) is refused before anything runs; they
/// answer from here to the end of the invocation.
pub(super) struct LiveServers {
    metrics: Option<crate::live::MetricsServer>,
    /// The dashboard and the run it shows (no test yet: it is being built).
    dashboard: Option<(
        crate::live::dashboard::DashboardServer,
        crate::live::dashboard::ProvisionalRun,
    )>,
}

/// Starts the live servers asked for. Under `--shard K/N` every metrics series carries
/// `shard="K/N"` (empty for a run that is not a shard). The dashboard's Stop sets `interrupt`.
pub(super) fn live_servers(
    args: &RunArgs,
    shard: Option<loadtest_report::report::ShardSpec>,
    interrupt: &Interrupt,
) -> Result<LiveServers, CliError> {
    let access = match &args.dashboard {
        Some(addr) => Some(crate::live::dashboard::Access::from_flags(
            addr,
            args.dashboard_token.as_deref(),
            args.dashboard_read_only,
        )?),
        None => None,
    };
    let metrics = match &args.metrics_listen {
        Some(addr) => {
            let label = shard.map(|s| s.to_string()).unwrap_or_default();
            let server = crate::live::MetricsServer::start(
                crate::live::parse_listen("--metrics-listen", addr)?,
                label,
            )?;
            if !args.quiet {
                eprintln!("     Metrics at http://{}/metrics", server.addr);
            }
            Some(server)
        }
        None => None,
    };
    let dashboard = match access {
        Some(access) => {
            let generated =
                args.dashboard_token.as_deref() == Some(crate::live::dashboard::access::GENERATE);
            let token = access.token.clone();
            let server = crate::live::dashboard::DashboardServer::start(access, interrupt.clone())?;
            // Printed even when quiet: without it the page cannot be found.
            match (&token, generated) {
                (Some(t), true) => {
                    eprintln!("   Dashboard at http://{}/?token={t}", server.addr)
                }
                (Some(_), false) => eprintln!(
                    "   Dashboard at http://{}/?token=TOKEN (the --dashboard-token given)",
                    server.addr
                ),
                (None, _) => eprintln!("   Dashboard at http://{}/", server.addr),
            }
            let run = crate::live::dashboard::ProvisionalRun::new(run_info(
                None,
                args,
                SystemTime::now(),
                Instant::now(),
            ));
            server.publish(crate::live::dashboard::Frame::of(
                &run,
                None,
                args.output.trace_url.as_ref(),
            ));
            Some((server, run))
        }
        None => None,
    };
    Ok(LiveServers { metrics, dashboard })
}

/// The run's outputs (see [`Reporters::standard`]): the HTML page with `baseline`'s curves,
/// when there is one, and the live outputs, when served.
pub(super) fn outputs(
    args: &RunArgs,
    paths: &ReportPaths,
    target_dir: &std::path::Path,
    baseline: Option<&RunReport>,
    live: LiveServers,
    interrupt: &Interrupt,
) -> Reporters {
    let live = crate::reporter::Live {
        metrics: live.metrics.map(|server| MetricsEndpoint {
            server,
            quiet: args.quiet,
            interrupt: interrupt.clone(),
        }),
        dashboard: live.dashboard.map(|(server, run)| {
            LiveDashboard::new(
                server,
                run,
                baseline.cloned(),
                args.output.trace_url.clone(),
                args.quiet,
            )
        }),
    };
    Reporters::standard(
        paths,
        baseline.cloned(),
        live,
        args.quiet,
        args.baselines
            .save_baseline
            .as_ref()
            .map(|name| SaveBaseline {
                target_dir: target_dir.to_path_buf(),
                name: name.clone(),
                // Checked when the run began.
                keep: baseline::keep_runs(args.baselines.keep_runs.as_deref())
                    .unwrap_or(baseline::DEFAULT_KEEP_RUNS),
            }),
    )
}

/// Where, when and how the run happened (`root`: the workspace, when the run has one; not a
/// shard or a merge).
pub(super) fn run_info(
    root: Option<&std::path::Path>,
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
        git_commit: root.and_then(git_commit),
        host: host_name(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        command_line: redacted_command_line(std::env::args()),
        fail_on_saturation: args.fail_on_saturation,
        shard: None,
        merge: None,
    }
}

/// The command line as reports show it: URL credentials redacted, and the dashboard's token.
pub(super) fn redacted_command_line(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in args {
        if out
            .last()
            .is_some_and(|previous| previous == "--dashboard-token")
        {
            out.push("[redacted]".into());
        } else if a.starts_with("--dashboard-token=") {
            out.push("--dashboard-token=[redacted]".into());
        } else {
            out.push(loadtest_report::redact::url(&a));
        }
    }
    out
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_dashboard_token_never_reaches_a_report() {
        let line = |args: &[&str]| {
            super::redacted_command_line(args.iter().map(|a| a.to_string())).join(" ")
        };
        assert_eq!(
            line(&[
                "cargo",
                "loadtest",
                "--dashboard-token",
                "s3cret-s3cret-s3cret",
                "--dashboard=0.0.0.0:1"
            ]),
            "cargo loadtest --dashboard-token [redacted] --dashboard=0.0.0.0:1"
        );
        assert_eq!(
            line(&[
                "--dashboard-token=s3cret-s3cret-s3cret",
                "--target",
                "http://u:p@h/"
            ]),
            "--dashboard-token=[redacted] --target http://[redacted]@h/"
        );
    }
}
