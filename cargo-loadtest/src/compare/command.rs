//! `cargo loadtest compare OLD NEW`: judge one stored result against another, offline.

use super::{apply, baseline, bmf};
use crate::cli::CompareArgs;
use crate::errors::CliError;
use crate::exit_code;
use crate::output::{atomic, junit, markdown, summary};
use std::path::PathBuf;

/// Runs the comparison and returns the exit code (0 unchanged or improved, 100 regressed).
pub(crate) fn compare(args: &CompareArgs) -> Result<i32, CliError> {
    for t in &args.gate.tolerance {
        loadtest_runtime::grammar::parse_tolerance(t)
            .map_err(|e| CliError::Usage(format!("--tolerance: {e}")))?;
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
            baseline::load_spec(std::path::Path::new("."), spec)
        } else {
            baseline::load_spec(&target_dir()?, spec)
        }
    };
    let (old, old_source) = load(&args.old)?;
    let (mut new, _) = load(&args.new)?;
    for t in &mut new.tests {
        t.comparison = None;
        t.failures.retain(|f| !f.starts_with("regression: "));
    }
    let refusals = apply::apply(
        &old,
        &old_source,
        &mut new,
        &args.gate.tolerance,
        args.gate.force_compare,
    )
    .map_err(CliError::Usage)?;
    if !refusals.is_empty() {
        return Err(CliError::Usage(refusals.join("\n")));
    }
    let regressed = new
        .tests
        .iter()
        .any(|t| t.comparison.as_ref().is_some_and(|c| c.regressed));
    new.exit_code = if regressed {
        exit_code::TEST_FAILED
    } else {
        exit_code::OK
    };
    if regressed {
        new.status = loadtest_runtime::report::RunStatus::Failed;
    }
    if let Some(p) = &args.json {
        atomic::write(
            p,
            &serde_json::to_vec_pretty(&new).expect("reports always serialize"),
        )?;
    }
    if let Some(p) = &args.junit {
        atomic::write(p, junit::render(&new).as_bytes())?;
    }
    if let Some(p) = &args.markdown {
        atomic::write(p, markdown::render(&new).as_bytes())?;
    }
    if let Some(p) = &args.bmf {
        atomic::write(p, bmf::render(&new).as_bytes())?;
    }
    print!("{}", summary::comparison_table(&new));
    Ok(new.exit_code)
}
