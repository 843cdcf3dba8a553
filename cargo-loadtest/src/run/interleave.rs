//! The A/B gate (`--baseline-rev REV`): the base revision is checked out into a temporary git
//! worktree and built into a target directory of its own (kept between gates); then
//! every test both revisions have runs once per revision per round, in a random order each round,
//! on this machine. Each metric's change is estimated from the paired rounds
//! ([`gate::compare_rounds`]), and the one verdict judges this revision's last run with it.
//! Tests only in this revision run once and are reported as new; tests only in the base are
//! listed as removed. The worktree is removed however the gate ends.

use super::Selected;
use super::harness::{Launch, Outcomes};
use super::orchestrate::{finish, outputs, run_info, run_selected};
use crate::cli::{RunArgs, WorkspaceArgs};
use crate::compare::gate::{self, AB_TOLERANCES, Tolerances};
use crate::compare::worktree::BaseWorktree;
use crate::errors::CliError;
use crate::output::ReportPaths;
use crate::reporter::{Reporters, RunEvent};
use crate::settings::Settings;
use crate::signals::Interrupt;
use crate::workspace::{self, Workspace};
use loadtest_report::report::{
    BaselineInfo, Comparison, GateSummary, MetricVerdict, TestReport, TestResult, human_us,
};
use loadtest_report::verdict::{Ended, Policy, Unjudged};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Rounds when `--rounds` is not given (see the calibration in `docs/regression-gate.md`).
pub(crate) const DEFAULT_ROUNDS: u64 = 6;
/// Fewer paired rounds give no interval.
const MIN_ROUNDS: u64 = 3;

/// Which revision a run belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Base,
    Head,
}

impl Side {
    fn word(self) -> &'static str {
        match self {
            Side::Base => "base",
            Side::Head => "head",
        }
    }
}

/// Runs the A/B gate against `rev` and returns the exit code.
pub(crate) fn run(args: &RunArgs, rev: &str, interrupt: &Interrupt) -> Result<i32, CliError> {
    if let Some(path) =
        crate::scale::setup::resolve(args.setup_file.as_deref(), |k| std::env::var(k).ok())
    {
        return Err(CliError::Usage(format!(
            "--setup-file ({}) cannot be used with --baseline-rev: the two revisions' harnesses are different binaries, each runs its own setup",
            path.display()
        )));
    }
    let ws = workspace::discover(&args.workspace)?;
    for t in &args.gate.tolerance {
        loadtest_grammar::parse_tolerance(t).map_err(CliError::flag("--tolerance"))?;
    }
    let rounds = match &args.rounds {
        None => DEFAULT_ROUNDS,
        Some(s) => match loadtest_grammar::parse_count("--rounds", s) {
            Ok(n) if n >= MIN_ROUNDS => n,
            _ => {
                return Err(CliError::Usage(format!(
                    "invalid value {s:?} for `--rounds`: expected a whole number, at least {MIN_ROUNDS} (fewer paired rounds give no interval)"
                )));
            }
        },
    };
    let mut round_args = args.clone();
    if let Some(d) = &args.round_duration {
        loadtest_grammar::parse_duration(d).map_err(CliError::flag("--round-duration"))?;
        round_args.duration = Some(d.clone());
    }
    let head_settings = Settings::load(&ws.root, &round_args)?;
    let paths = ReportPaths::resolve(&ws.target_dir, &args.output);
    paths.check()?;

    let live = super::orchestrate::live_servers(args, None, interrupt)?;
    let base = BaseWorktree::create(&ws.root, rev)?;
    let short = &base.commit[..12];
    if !args.quiet {
        eprintln!(
            "      A/B gate: base revision {rev} ({short}) checked out in {}",
            base.path.display()
        );
    }
    let base_wargs = base_workspace_args(&args.workspace, &ws, &base)?;
    let listed = super::build_and_list(
        &head_settings.build_args(&args.workspace),
        &ws,
        args.quiet,
        interrupt,
    )?;
    head_settings.check_test_names(listed.iter().map(Selected::id))?;
    let head = super::select(&args.select, listed)?;
    let base_ws = workspace::discover(&base_wargs)?;
    let base_settings = Settings::load(&base_ws.root, &round_args)?;
    let based = match super::build_and_list(
        &base_settings.build_args(&base_wargs),
        &base_ws,
        args.quiet,
        interrupt,
    )
    .and_then(|listed| super::select(&args.select, listed))
    {
        Ok(s) => s,
        Err(CliError::NoTests(_)) => Vec::new(),
        Err(CliError::Build(m)) => {
            return Err(CliError::Build(format!(
                "the base revision {rev} ({short}) does not build: {m}"
            )));
        }
        Err(e) => return Err(e),
    };

    let pairs: Vec<(&Selected, &Selected)> = head
        .iter()
        .filter_map(|h| based.iter().find(|b| same_test(b, h)).map(|b| (b, h)))
        .collect();
    let new_only: Vec<&Selected> = head
        .iter()
        .filter(|h| !based.iter().any(|b| same_test(b, h)))
        .collect();
    let removed: Vec<String> = based
        .iter()
        .filter(|b| !head.iter().any(|h| same_test(b, h)))
        .map(|b| b.id().qualified())
        .collect();

    let policy = Policy {
        fail_on_saturation: args.fail_on_saturation,
        ..Policy::default()
    };
    let mut reporters = outputs(args, &paths, &ws.target_dir, None, live, interrupt);
    let started_at = SystemTime::now();
    let clock = Instant::now();
    reporters.emit(&RunEvent::RunStarted { tests: head.len() })?;

    let mut rng = fastrand::Rng::new();
    let mut rounds_of: Vec<Vec<(TestResult, TestResult)>> = vec![Vec::new(); pairs.len()];
    let mut latest: Vec<Option<TestReport>> = vec![None; head.len()];
    let mut completed = 0;
    for round in 1..=rounds {
        if interrupt.is_set() {
            break;
        }
        let order = if rng.bool() {
            [Side::Base, Side::Head]
        } else {
            [Side::Head, Side::Base]
        };
        let (mut base_reports, mut head_reports) = (Vec::new(), Vec::new());
        for side in order {
            let mut silent = Reporters::default();
            let mut outcomes = Outcomes::new(&mut silent, policy, None);
            let (tests, settings): (Vec<&Selected>, &Settings) = match side {
                Side::Base => (pairs.iter().map(|p| p.0).collect(), &base_settings),
                Side::Head => {
                    let mut tests: Vec<&Selected> = pairs.iter().map(|p| p.1).collect();
                    if round == 1 {
                        tests.extend(new_only.iter().copied());
                    }
                    (tests, &head_settings)
                }
            };
            run_selected(
                &tests,
                settings,
                &round_args,
                Launch::default(),
                interrupt,
                &mut outcomes,
            )?;
            // A round's own events go to no output; its figures are the run's status lines.
            for line in announcement(round, rounds, side, &outcomes.reports) {
                reporters.emit(&RunEvent::Status(line))?;
            }
            match side {
                Side::Base => base_reports = outcomes.reports,
                Side::Head => head_reports = outcomes.reports,
            }
        }
        // The last run of this revision that measured something: a run the interrupt stopped
        // before it started does not hide the round before it.
        for r in &head_reports {
            if let Some(i) = head.iter().position(|h| is_report_of(h, r))
                && (r.result.is_some() || latest[i].is_none())
            {
                latest[i] = Some(r.clone());
            }
        }
        if interrupt.is_set() {
            break;
        }
        completed += 1;
        for (i, (b, h)) in pairs.iter().enumerate() {
            let result = |reports: &[TestReport], s: &Selected| {
                reports
                    .iter()
                    .find(|r| is_report_of(s, r))
                    .and_then(|r| r.result.clone())
            };
            if let (Some(old), Some(new)) = (result(&base_reports, b), result(&head_reports, h)) {
                rounds_of[i].push((old, new));
            }
        }
    }

    let info = BaselineInfo {
        source: format!("revision {rev}"),
        git_commit: Some(base.commit.clone()),
        host: super::orchestrate::host_name(),
        started_at_unix: started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        runs: None,
    };
    let mut refusals = Vec::new();
    let mut tests = Vec::new();
    for (i, s) in head.iter().enumerate() {
        // The last run of the test, judged again with the comparison over every round: the
        // rounds' own judgements only served the round lines.
        let mut unjudged = latest[i]
            .take()
            .map_or_else(|| not_started(s), Unjudged::from_report);
        let pair = pairs.iter().position(|(_, h)| std::ptr::eq(*h, s));
        unjudged.comparison = match (pair, unjudged.result()) {
            (None, _) => Some(Comparison {
                baseline: info.clone(),
                note: Some("new in this revision: the base revision has no such test".into()),
                ..Comparison::default()
            }),
            (Some(p), Some(result)) => {
                let runs = &rounds_of[p];
                Some(
                    match runs.first().map(|(old, new)| {
                        gate::comparable(&s.id().qualified(), &old.config, &new.config)
                    }) {
                        Some(Err(msg)) if !args.gate.force_compare => {
                            refusals.push(msg.clone());
                            Comparison {
                                baseline: info.clone(),
                                note: Some(msg),
                                rounds: Some(runs.len() as u32),
                                ..Comparison::default()
                            }
                        }
                        _ => {
                            let mut overrides = result.config.tolerance.clone();
                            overrides.extend(args.gate.tolerance.iter().cloned());
                            let tolerances =
                                Tolerances::with_defaults(&AB_TOLERANCES, &[], &overrides)
                                    .map_err(CliError::Usage)?;
                            let refs: Vec<(&TestResult, &TestResult)> =
                                runs.iter().map(|(o, n)| (o, n)).collect();
                            let metrics =
                                gate::compare_rounds(&refs, &tolerances, 0x5eed + i as u64);
                            Comparison {
                                baseline: info.clone(),
                                regressed: metrics
                                    .iter()
                                    .any(|m| m.verdict == MetricVerdict::Regressed),
                                metrics,
                                note: None,
                                rounds: Some(runs.len() as u32),
                            }
                        }
                    },
                )
            }
            (Some(_), None) => None,
        };
        let report = unjudged.judge(&policy);
        reporters.emit(&RunEvent::TestFinished(&report))?;
        tests.push(report);
    }
    let gate = GateSummary {
        base_rev: rev.to_string(),
        base_commit: base.commit.clone(),
        rounds: rounds as u32,
        completed_rounds: completed,
        round_duration_s: args
            .round_duration
            .as_deref()
            .and_then(|d| loadtest_grammar::parse_duration(d).ok())
            .map(|d| d.as_secs_f64()),
        duration_s: clock.elapsed().as_secs_f64(),
        new_tests: new_only.iter().map(|s| s.id().qualified()).collect(),
        removed_tests: removed,
    };
    let run = run_info(Some(&ws.root), args, started_at, clock);
    let code = finish(run, tests, Some(gate), &refusals, &mut reporters, interrupt);
    drop(base);
    code
}

/// The base revision's workspace flags: its manifest in the worktree (the same place relative
/// to the repository), and a target directory of its own, `TARGET_DIR/loadtest/base`, kept
/// between gates. Not this run's: cargo names a workspace crate's artifacts by its path relative
/// to the workspace root, so both revisions' crates would share names and fingerprints, and the
/// base would be handed this revision's binaries. Its dependencies build once, on the first gate.
fn base_workspace_args(
    wargs: &WorkspaceArgs,
    ws: &Workspace,
    base: &BaseWorktree,
) -> Result<WorkspaceArgs, CliError> {
    let mut b = wargs.clone();
    let manifest = match &wargs.manifest_path {
        Some(p) => {
            let p = p.canonicalize().map_err(CliError::io(format!(
                "cannot resolve --manifest-path {}",
                p.display()
            )))?;
            let dir = p.parent().unwrap_or(&ws.root);
            base.map(dir)?
                .join(p.file_name().unwrap_or("Cargo.toml".as_ref()))
        }
        None => base.map(&ws.root)?.join("Cargo.toml"),
    };
    if !manifest.is_file() {
        return Err(CliError::Usage(format!(
            "--baseline-rev: the base revision has no {} (the workspace did not exist there)",
            manifest.display()
        )));
    }
    b.manifest_path = Some(manifest);
    b.target_dir = Some(ws.target_dir.join("loadtest").join("base"));
    Ok(b)
}

/// The same test in both revisions: the same identity.
fn same_test(a: &Selected, b: &Selected) -> bool {
    a.id() == b.id()
}

fn is_report_of(s: &Selected, r: &TestReport) -> bool {
    s.id() == r.id()
}

/// A test of this revision that never ran (the gate was interrupted first).
fn not_started(s: &Selected) -> Unjudged {
    Unjudged {
        package: s.harness.target.package.clone(),
        target: s.harness.target.target.clone(),
        name: s.test.name.clone(),
        ended: Ended::NotStarted("the gate was interrupted before this test ran".into()),
        error: None,
        comparison: None,
    }
}

/// One line per test after each revision's run in a round.
/// One line per test of a round: what it measured, or why it did not run.
fn announcement(round: u64, rounds: u64, side: Side, reports: &[TestReport]) -> Vec<String> {
    let mut lines = Vec::new();
    for r in reports {
        let what = match &r.result {
            Some(res) => format!(
                "{} iterations ({} failed), p50 {}, p99 {}{}",
                res.iterations.ok + res.iterations.failed,
                res.iterations.failed,
                human_us(res.iteration_latency.summary.p50_us as f64),
                human_us(res.iteration_latency.summary.p99_us as f64),
                if res.generator.saturated {
                    ", generator saturated"
                } else {
                    ""
                }
            ),
            None => r.failures.join("; "),
        };
        lines.push(format!(
            "      round {round}/{rounds} {}: {}::{}: {what}",
            side.word(),
            r.target,
            r.name
        ));
    }
    lines
}
