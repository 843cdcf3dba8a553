//! `cargo loadtest report FILE --html OUT`: renders a stored report (a run, a baseline, a merged
//! result) through the same reporter a run uses, so the page is the one the run wrote.

use crate::cli::ReportArgs;
use crate::compare::baseline;
use crate::errors::CliError;
use crate::exit_code;
use crate::reporter::{HtmlFile, Reporters, RunEvent};
use std::path::{Path, PathBuf};

/// Renders the report and returns exit code 0.
pub(crate) fn report(args: &ReportArgs) -> Result<i32, CliError> {
    if args.html.is_dir() {
        return Err(CliError::Usage(format!(
            "--html {}: is a folder; give the path of the file to write",
            args.html.display()
        )));
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
        if Path::new(spec).exists() {
            Ok(baseline::load_spec(Path::new("."), spec)?)
        } else {
            Ok(baseline::load_spec(&target_dir()?, spec)?)
        }
    };
    let report = load(&args.report)?.0.into_newest();
    let old = match &args.baseline {
        Some(spec) => Some(load(spec)?.0.into_newest()),
        None => None,
    };
    let mut reporters = Reporters::default();
    reporters.register(HtmlFile {
        path: args.html.clone(),
        baseline: old,
        trace_url: args.trace_url.clone(),
    });
    reporters.emit(&RunEvent::RunFinished(&report))?;
    eprintln!("       Wrote {}", args.html.display());
    Ok(exit_code::OK)
}
