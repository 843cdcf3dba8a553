//! `report.md`: the summary and each test's thresholds for pull requests, also appended to
//! `$GITHUB_STEP_SUMMARY` when that is set (and the reporter is asked to).

use super::{Reporter, RunEvent};
use crate::errors::CliError;
use crate::output::{atomic, markdown};
use std::io::Write;
use std::path::PathBuf;

/// Writes the Markdown report when the run is finished.
pub(crate) struct MarkdownFile {
    /// Where the report goes.
    pub(crate) path: PathBuf,
    /// Also append it to `$GITHUB_STEP_SUMMARY` (runs do; `compare` does not).
    pub(crate) step_summary: bool,
    /// Where exemplars' trace ids link to (`--trace-url`).
    pub(crate) trace_url: Option<crate::output::trace_url::TraceUrl>,
}

impl Reporter for MarkdownFile {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        let RunEvent::RunFinished(report) = event else {
            return Ok(());
        };
        let md = markdown::render_with_traces(report, self.trace_url.as_ref());
        atomic::write(&self.path, md.as_bytes())?;
        let summary = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty());
        if let (true, Some(summary)) = (self.step_summary, summary) {
            let path = PathBuf::from(summary);
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(CliError::io(format!(
                    "cannot open $GITHUB_STEP_SUMMARY ({})",
                    path.display()
                )))?;
            f.write_all(md.as_bytes())
                .map_err(CliError::io("cannot append to $GITHUB_STEP_SUMMARY"))?;
        }
        Ok(())
    }
}
