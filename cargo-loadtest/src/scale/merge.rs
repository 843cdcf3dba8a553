//! `cargo loadtest merge REPORT...|DIR`: reads the shards' JSON reports (or reports merged
//! from some of them), merges them exactly (`loadtest_report::merge`, one report in memory at
//! a time), compares each merged test with a baseline when asked before the one verdict judges
//! it, and writes every report through the reporters.

use crate::cli::MergeArgs;
use crate::compare::apply::Comparer;
use crate::compare::baseline;
use crate::compare::store_error::{ReadAs, StoreError};
use crate::errors::CliError;
use crate::output::ReportPaths;
use crate::reporter::{Reporters, RunEvent, SaveBaseline};
use loadtest_report::merge::{MergeContext, MergeError, ReportHeader, ReportSource, merge_runs};
use loadtest_report::report::RunReport;
use loadtest_report::report::TestStatus;
use loadtest_report::verdict::{self, Policy, RunEnd};
use std::path::{Path, PathBuf};

/// How deep folders are searched for reports.
const MAX_DEPTH: usize = 8;
/// The most files a merge reads.
const MAX_FILES: usize = 10_000;

/// The report files among `inputs`: files as given, folders searched for `*.json` files that
/// are shard reports (other JSON files there are skipped and named).
fn collect(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<String>), CliError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            walk(input, 0, &mut found)?;
            found.sort();
            for f in found {
                if is_mergeable(&f) {
                    files.push(f);
                } else {
                    skipped.push(format!(
                        "{}: neither a shard report nor a merged report",
                        f.display()
                    ));
                }
            }
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(CliError::Usage(format!(
                "{}: no such file or folder (give shard reports, or folders holding them)",
                input.display()
            )));
        }
        if files.len() > MAX_FILES {
            return Err(CliError::Usage(format!(
                "more than {MAX_FILES} report files to merge"
            )));
        }
    }
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "no shard report found in {} (shard reports are the JSON reports of runs with --shard K/N)",
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok((files, skipped))
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    if depth > MAX_DEPTH || out.len() > MAX_FILES {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).map_err(CliError::io(format!("cannot read {}", dir.display())))?;
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&path, depth + 1, out)?,
            Ok(t) if t.is_file() && path.extension().is_some_and(|x| x == "json") => out.push(path),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `path` is a report of one shard or a report merged from shards (read without
/// keeping any of it).
fn is_mergeable(path: &Path) -> bool {
    use serde::de::IgnoredAny;
    #[derive(serde::Deserialize)]
    struct Probe {
        #[allow(dead_code)]
        schema_version: IgnoredAny,
        run: ProbeRun,
    }
    #[derive(serde::Deserialize)]
    struct ProbeRun {
        #[serde(default)]
        shard: Option<IgnoredAny>,
        #[serde(default)]
        merge: Option<IgnoredAny>,
    }
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Probe>(&b).ok())
        .is_some_and(|p| p.run.shard.is_some() || p.run.merge.is_some())
}

/// The report files of a merge, each read when the merge asks for it.
struct Files(Vec<PathBuf>);

impl Files {
    fn read<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<T, MergeError> {
        baseline::read_as(&self.0[i], ReadAs::ShardReport).map_err(|e| MergeError::Read {
            source: self.source(i),
            error: Box::new(e),
        })
    }
}

impl ReportSource for Files {
    fn inputs(&self) -> usize {
        self.0.len()
    }
    fn source(&self, i: usize) -> String {
        self.0[i].display().to_string()
    }
    fn header(&mut self, i: usize) -> Result<ReportHeader, MergeError> {
        self.read(i)
    }
    fn report(&mut self, i: usize) -> Result<RunReport, MergeError> {
        self.read(i)
    }
}

/// A merge's error as the CLI reports it: a report that cannot be read keeps its own error
/// (and exit code); every other refusal is a usage error.
fn cli_error(e: MergeError) -> CliError {
    match e {
        MergeError::Read { error, .. } => match error.downcast::<StoreError>() {
            Ok(e) => CliError::from(*e),
            Err(other) => CliError::usage(other),
        },
        other => CliError::usage(other),
    }
}

/// The start skew past which merged tests fail: `--max-skew` (default [`DEFAULT_MAX_SKEW`]),
/// none with `--allow-skew`.
fn max_skew(args: &MergeArgs) -> Result<Option<std::time::Duration>, CliError> {
    if args.allow_skew {
        return Ok(None);
    }
    match &args.max_skew {
        None => Ok(Some(DEFAULT_MAX_SKEW)),
        Some(text) => loadtest_grammar::parse_duration(text)
            .map(Some)
            .map_err(CliError::flag("--max-skew")),
    }
}

/// How far apart the shards of a merged run may start by default: about what clocks kept by NTP
/// and a process start add up to, well under any test's first second of load.
pub const DEFAULT_MAX_SKEW: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the merge and returns the exit code.
pub(crate) fn merge(args: &MergeArgs) -> Result<i32, CliError> {
    for t in &args.gate.tolerance {
        loadtest_grammar::parse_tolerance(t).map_err(CliError::flag("--tolerance"))?;
    }
    if let Some(name) = &args.baselines.save_baseline {
        baseline::check_name(name)?;
    }
    let keep = baseline::keep_runs(args.baselines.keep_runs.as_deref())?;
    let target_dir = args
        .target_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("target"));
    let against = match (&args.baselines.baseline, &args.baselines.baseline_file) {
        (Some(name), _) => Some((
            baseline::load_named(&target_dir, name)?,
            format!("baseline {name:?}"),
        )),
        (None, Some(path)) => Some((baseline::load_file(path)?, path.display().to_string())),
        (None, None) => None,
    };
    let paths = ReportPaths::resolve(&target_dir, &args.output);
    paths.check()?;
    let (files, skipped) = collect(&args.inputs)?;
    for s in &skipped {
        eprintln!("note: skipped {s}");
    }
    let file_count = files.len();
    let mut inputs = Files(files);
    let policy = Policy {
        fail_on_saturation: args.fail_on_saturation,
        unjudged_shard: false,
        allow_partial: args.allow_partial,
        max_skew: max_skew(args)?,
    };
    let ctx = MergeContext {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        command_line: std::env::args()
            .map(|a| loadtest_report::redact::url(&a))
            .collect(),
        policy,
    };
    // Each merged test is compared with the baseline before it is judged.
    let mut comparer = against.as_ref().map(|(old, source)| {
        Comparer::new(old, source, &args.gate.tolerance, args.gate.force_compare)
    });
    let merged = merge_runs(&mut inputs, &ctx, &mut |i, test| match &mut comparer {
        Some(c) => c.compare(i, test).map_err(Into::into),
        None => Ok(None),
    })
    .map_err(cli_error)?;
    for n in &merged.notes {
        eprintln!("note: {n}");
    }
    if !args.quiet
        && let Some(m) = &merged.run.merge
    {
        eprintln!(
            "      Merged {} of {} shards ({} report files){}",
            m.shards.len(),
            m.count,
            file_count,
            if m.partial { ": PARTIAL" } else { "" }
        );
    }
    let refusals = comparer.map(|c| c.refusals).unwrap_or_default();
    let end = RunEnd {
        interrupted: merged
            .tests
            .iter()
            .any(|t| t.status == TestStatus::Interrupted),
        refused: !refusals.is_empty(),
    };
    let report = verdict::run_report(merged.run, merged.tests, None, end);
    let mut reporters = Reporters::standard(
        &paths,
        against.as_ref().map(|(old, _)| old.newest().clone()),
        crate::reporter::Live::default(),
        args.quiet,
        args.baselines
            .save_baseline
            .as_ref()
            .map(|name| SaveBaseline {
                target_dir: target_dir.clone(),
                name: name.clone(),
                keep,
            }),
    );
    reporters.emit(&RunEvent::RunStarted {
        tests: report.tests.len(),
    })?;
    for t in &report.tests {
        reporters.emit(&RunEvent::TestFinished(t))?;
    }
    reporters.emit(&RunEvent::RunFinished(&report))?;
    for r in &refusals {
        eprintln!("error: {r}");
    }
    Ok(report.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_searched_for_shard_reports_only() {
        let dir = std::env::temp_dir().join(format!("cargo-loadtest-merge-{}", std::process::id()));
        let sub = dir.join("shard-1");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join("report.json"),
            r#"{"schema_version": 2, "run": {"shard": {"shard": {"index": 1, "count": 2}}}}"#,
        )
        .unwrap();
        std::fs::write(dir.join("bmf.json"), r#"{"x": 1}"#).unwrap();
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        let (files, skipped) = collect(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(files, [sub.join("report.json")]);
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains("bmf.json"), "{skipped:?}");
        let e = collect(&[dir.join("nope")]).unwrap_err().to_string();
        assert!(e.contains("no such file or folder"), "{e}");
        std::fs::remove_file(sub.join("report.json")).unwrap();
        let e = collect(std::slice::from_ref(&dir)).unwrap_err().to_string();
        assert!(e.contains("no shard report found"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
