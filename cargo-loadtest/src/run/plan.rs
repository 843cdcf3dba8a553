//! The checked plan of a run: everything in a run's flags, environment and files that can be
//! refused (the shard and its coordinated start, a shared setup file, the workspace or archive,
//! the settings, the gate's tolerances and baseline, a capacity search, the report paths),
//! checked once and before anything is built, so that a bad value costs no build and a run
//! never stops half-way over one.

use super::capacity::SearchArgs;
use crate::cli::RunArgs;
use crate::compare::baseline::{self, Baseline};
use crate::errors::CliError;
use crate::output::ReportPaths;
use crate::scale::{self, archive::Extracted, setup::SetupFile};
use crate::settings::Settings;
use crate::workspace;
use loadtest_report::report::ShardSpec;
use loadtest_report::verdict::Policy;
use std::path::PathBuf;
use std::time::Duration;

/// Where the harnesses come from: the workspace (built by cargo) or an extracted archive.
pub(super) enum Source {
    Workspace(workspace::Workspace),
    Archive(Extracted),
}

impl Source {
    /// The workspace's root, when the harnesses come from one.
    pub(super) fn root(&self) -> Option<&std::path::Path> {
        match self {
            Source::Workspace(ws) => Some(ws.root.as_path()),
            Source::Archive(_) => None,
        }
    }

    /// The archive's hash, when the harnesses come from one.
    pub(super) fn archive_hash(&self) -> Option<&str> {
        match self {
            Source::Archive(x) => Some(x.manifest.hash.as_str()),
            Source::Workspace(_) => None,
        }
    }
}

/// A coordinated start (`--start-at`, with `--start-grace`).
#[derive(Clone, Copy)]
pub(super) struct Start<'a> {
    /// The time as written.
    pub(super) text: &'a str,
    /// The time, in seconds since the Unix epoch.
    pub(super) at: f64,
    /// How late the start may still be taken.
    pub(super) grace: Duration,
}

impl Start<'_> {
    /// Refuses a start already past its grace (checked when the plan is made, and again right
    /// before the first test, since the build may have taken long).
    pub(super) fn check(&self) -> Result<(), CliError> {
        scale::start_at::check(self.text, self.at, unix_now(), self.grace).map_err(CliError::Usage)
    }
}

/// A run's checked plan (see the module's documentation).
pub(super) struct RunPlan<'a> {
    /// This run's shard of a scale-out run (`--shard K/N` or its variables).
    pub(super) shard: Option<ShardSpec>,
    /// The coordinated start.
    pub(super) start: Option<Start<'a>>,
    /// The shared setup file and what it holds.
    pub(super) setup_file: Option<(PathBuf, SetupFile)>,
    /// The workspace or archive.
    pub(super) source: Source,
    /// The option layers: `loadtest.toml` (the workspace's or the archive's) and the flags.
    pub(super) settings: Settings,
    /// Where baselines and default reports live.
    pub(super) target_dir: PathBuf,
    /// The saved baseline (or report file) to compare with, and how the report names it.
    pub(super) against: Option<(Baseline, String)>,
    /// `--find-max`: the capacity search.
    pub(super) search: Option<SearchArgs>,
    /// The report files to write.
    pub(super) paths: ReportPaths,
    /// How tests and the run are judged.
    pub(super) policy: Policy,
}

impl<'a> RunPlan<'a> {
    /// Checks every refusable part of `args` (and the environment's shard and setup-file
    /// variables), reading the workspace's metadata or extracting the archive, but building
    /// nothing.
    pub(super) fn check(args: &'a RunArgs) -> Result<RunPlan<'a>, CliError> {
        let shard = scale::shard::resolve(args.shard.as_deref(), args.shard_count, |k| {
            std::env::var(k).ok()
        })
        .map_err(CliError::Usage)?;
        if args.judge_shard && shard.is_none() {
            return Err(CliError::Usage(
                "--judge-shard needs a shard (--shard K/N, LOADTEST_SHARD or JOB_COMPLETION_INDEX)"
                    .into(),
            ));
        }
        let grace = match &args.start_grace {
            Some(g) => {
                loadtest_grammar::parse_duration(g).map_err(CliError::flag("--start-grace"))?
            }
            None => Duration::ZERO,
        };
        let start = match &args.start_at {
            Some(text) => {
                let at = scale::start_at::parse(text)
                    .map_err(|e| CliError::Usage(format!("--start-at: {e}")))?;
                let start = Start { text, at, grace };
                start.check()?;
                Some(start)
            }
            None => None,
        };
        let setup_file = match scale::setup::resolve(args.setup_file.as_deref(), |k| {
            std::env::var(k).ok()
        }) {
            Some(path) => {
                if args.capacity.find_max {
                    return Err(CliError::Usage(format!(
                        "--setup-file ({}) cannot be used with --find-max: each step of a capacity search is a run of its own",
                        path.display()
                    )));
                }
                let file = SetupFile::read(&path)?;
                Some((path, file))
            }
            None => None,
        };
        let source = match &args.archive.archive_file {
            Some(path) => Source::Archive(scale::archive::extract(
                path,
                args.archive.extract_to.as_deref(),
            )?),
            None => Source::Workspace(workspace::discover(&args.workspace)?),
        };
        let (settings, target_dir) = match &source {
            Source::Workspace(ws) => (Settings::load(&ws.root, args)?, ws.target_dir.clone()),
            Source::Archive(x) => (
                Settings::with_file_layers(
                    x.manifest.file_defaults.clone(),
                    x.manifest.file_tests.clone(),
                    args,
                )?,
                args.workspace
                    .target_dir
                    .clone()
                    .unwrap_or_else(|| "target".into()),
            ),
        };
        for t in &args.gate.tolerance {
            loadtest_grammar::parse_tolerance(t).map_err(CliError::flag("--tolerance"))?;
        }
        if let Some(name) = &args.baselines.save_baseline {
            baseline::check_name(name)?;
        }
        baseline::keep_runs(args.baselines.keep_runs.as_deref())?;
        let against = match (&args.baselines.baseline, &args.baselines.baseline_file) {
            (Some(name), _) => Some((
                baseline::load_named(&target_dir, name)?,
                format!("baseline {name:?}"),
            )),
            (None, Some(path)) => Some((baseline::load_file(path)?, path.display().to_string())),
            (None, None) => None,
        };
        let search = SearchArgs::parse(&args.capacity)?;
        let paths = ReportPaths::resolve(&target_dir, &args.output);
        paths.check()?;
        let policy = Policy {
            fail_on_saturation: args.fail_on_saturation,
            unjudged_shard: shard.is_some() && !args.judge_shard,
            allow_partial: false,
            max_skew: None,
        };
        Ok(RunPlan {
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
        })
    }
}

/// The wall clock, as seconds since the Unix epoch.
pub(super) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
