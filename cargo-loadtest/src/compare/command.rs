//! `cargo loadtest compare OLD NEW`: judge one stored result against another, offline.

use super::apply::Comparer;
use super::baseline;
use crate::cli::CompareArgs;
use crate::errors::CliError;
use crate::output::atomic;
use crate::reporter::{
    BmfFile, ComparisonTable, JsonFile, JunitFile, MarkdownFile, Reporters, RunEvent,
};
use loadtest_report::verdict::{self, Policy, Unjudged};
use std::path::PathBuf;

/// Runs the comparison and returns the exit code (0 unchanged or improved, 100 regressed).
pub(crate) fn compare(args: &CompareArgs) -> Result<i32, CliError> {
    for t in &args.gate.tolerance {
        loadtest_grammar::parse_tolerance(t).map_err(CliError::flag("--tolerance"))?;
    }
    let target_dir = || -> Result<PathBuf, CliError> {
        if let Some(d) = &args.target_dir {
            return Ok(d.clone());
        }
        let wargs = crate::cli::WorkspaceArgs {
            manifest_path: args.manifest_path.clone(),
            ..Default::default()
        };
        Ok(crate::workspace::discover(&wargs)?.target_dir)
    };
    let load = |spec: &str| -> Result<_, CliError> {
        if std::path::Path::new(spec).exists() {
            Ok(baseline::load_spec(std::path::Path::new("."), spec)?)
        } else {
            Ok(baseline::load_spec(&target_dir()?, spec)?)
        }
    };
    let (old, old_source) = load(&args.old)?;
    let mut new = load(&args.new)?.0.into_newest();
    let policy = Policy {
        fail_on_saturation: new.run.fail_on_saturation,
        ..Policy::default()
    };
    // Each stored test of NEW is judged on its evidence with this comparison, once.
    let mut comparer = Comparer::new(
        &old,
        &old_source,
        &args.gate.tolerance,
        args.gate.force_compare,
    );
    let stored = std::mem::take(&mut new.tests);
    for (i, test) in stored.into_iter().enumerate() {
        let mut unjudged = Unjudged::from_report(test);
        unjudged.comparison = comparer.compare(i, &unjudged).map_err(CliError::Usage)?;
        new.tests.push(unjudged.judge(&policy));
    }
    if !comparer.refusals.is_empty() {
        return Err(CliError::Usage(comparer.refusals.join("\n")));
    }
    (new.status, new.exit_code) = verdict::comparison_outcome(&new);
    let mut reporters = Reporters::default();
    if let Some(p) = &args.json {
        reporters.register(JsonFile(p.clone()));
    }
    if let Some(p) = &args.junit {
        reporters.register(JunitFile(p.clone()));
    }
    if let Some(p) = &args.markdown {
        reporters.register(MarkdownFile {
            path: p.clone(),
            step_summary: false,
            trace_url: None,
        });
    }
    if let Some(p) = &args.bmf {
        reporters.register(BmfFile(p.clone()));
    }
    let to_stderr = [&args.json, &args.junit, &args.markdown, &args.bmf]
        .iter()
        .any(|p| p.as_deref().is_some_and(atomic::is_stdout));
    reporters.register(ComparisonTable { to_stderr });
    reporters.emit(&RunEvent::RunFinished(&new))?;
    Ok(new.exit_code)
}
