//! `--save-baseline NAME`: the finished run stored as a named baseline (unless interrupted).

use super::{Event, Reporter};
use crate::compare::baseline;
use crate::errors::CliError;
use loadtest_report::report::RunStatus;
use std::path::PathBuf;

/// Saves the run under `TARGET_DIR/loadtest/baselines/NAME/`.
pub(crate) struct SaveBaseline {
    /// The target directory the baselines live under.
    pub(crate) target_dir: PathBuf,
    /// The baseline's name (already checked).
    pub(crate) name: String,
}

impl Reporter for SaveBaseline {
    fn report(&mut self, event: &Event<'_>) -> Result<(), CliError> {
        let Event::RunFinished(report) = event else {
            return Ok(());
        };
        let name = &self.name;
        if report.status == RunStatus::Interrupted {
            eprintln!("warning: the run was interrupted; baseline {name:?} was not saved");
        } else {
            let path = baseline::save(&self.target_dir, name, report)?;
            eprintln!("       Saved baseline {name:?} at {}", path.display());
        }
        Ok(())
    }
}
