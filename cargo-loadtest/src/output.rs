//! Reports: the JSON document, JUnit XML, Markdown (also appended to `$GITHUB_STEP_SUMMARY`) and
//! the terminal summary table. Files are written atomically (temporary file, then rename);
//! `-`, FIFOs and devices are written directly (see [`atomic`]).

pub mod atomic;
pub mod junit;
pub mod markdown;
pub mod summary;

use crate::cli::RunArgs;
use crate::errors::CliError;
use loadtest_runtime::report::RunReport;
use std::path::{Path, PathBuf};

/// Where the reports go.
#[derive(Debug, Clone)]
pub struct ReportPaths {
    /// The JSON report.
    pub json: PathBuf,
    /// The JUnit XML report.
    pub junit: PathBuf,
    /// The Markdown report.
    pub markdown: PathBuf,
}

impl ReportPaths {
    /// The paths given on the command line, else `TARGET_DIR/loadtest/{report.json,junit.xml,report.md}`.
    pub fn resolve(target_dir: &Path, args: &RunArgs) -> ReportPaths {
        let dir = target_dir.join("loadtest");
        ReportPaths {
            json: args.json.clone().unwrap_or_else(|| dir.join("report.json")),
            junit: args.junit.clone().unwrap_or_else(|| dir.join("junit.xml")),
            markdown: args
                .markdown
                .clone()
                .unwrap_or_else(|| dir.join("report.md")),
        }
    }

    /// Whether a report goes to standard output (`-`).
    pub fn any_stdout(&self) -> bool {
        [&self.json, &self.junit, &self.markdown]
            .iter()
            .any(|p| atomic::is_stdout(p))
    }

    /// A one-line description for the terminal.
    pub fn describe(&self) -> String {
        format!(
            "{}, {}, {}",
            self.json.display(),
            self.junit.display(),
            self.markdown.display()
        )
    }
}

/// Writes every report; each file is replaced atomically.
pub fn write_all(report: &RunReport, paths: &ReportPaths) -> Result<(), CliError> {
    let json = serde_json::to_vec_pretty(report).expect("reports always serialize");
    atomic::write(&paths.json, &json)?;
    atomic::write(&paths.junit, junit::render(report).as_bytes())?;
    let md = markdown::render(report);
    atomic::write(&paths.markdown, md.as_bytes())?;
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .map_err(CliError::io(format!(
                "cannot open $GITHUB_STEP_SUMMARY ({})",
                PathBuf::from(&summary).display()
            )))?;
        f.write_all(md.as_bytes())
            .map_err(CliError::io("cannot append to $GITHUB_STEP_SUMMARY"))?;
    }
    Ok(())
}
