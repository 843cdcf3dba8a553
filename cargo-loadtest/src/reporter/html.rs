//! `report.html`: the run as one self-contained page (see `crate::output::html`), written when
//! the run is finished. `cargo loadtest report FILE --html OUT` renders a stored report with
//! the same function, so both give the same bytes.

use super::{Reporter, RunEvent};
use crate::errors::CliError;
use crate::output::{atomic, html};
use loadtest_report::report::RunReport;
use std::path::PathBuf;

/// Writes the HTML report when the run is finished.
pub(crate) struct HtmlFile {
    /// Where the page goes.
    pub(crate) path: PathBuf,
    /// The baseline the run was compared with, for its curves overlaid on the run's.
    pub(crate) baseline: Option<RunReport>,
    /// Where exemplars' trace ids link to (`--trace-url`).
    pub(crate) trace_url: Option<crate::output::trace_url::TraceUrl>,
}

impl Reporter for HtmlFile {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        if let RunEvent::RunFinished(report) = event {
            let page =
                html::render_with_traces(report, self.baseline.as_ref(), self.trace_url.as_ref());
            atomic::write(&self.path, page.as_bytes())?;
        }
        Ok(())
    }
}
