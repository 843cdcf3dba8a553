//! `--save-baseline NAME`: the finished run added to a named baseline, which keeps its newest
//! `--keep-runs` runs (unless interrupted).

use super::{Reporter, RunEvent};
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
    /// How many runs the baseline keeps (`--keep-runs`; 1 replaces it).
    pub(crate) keep: usize,
}

impl Reporter for SaveBaseline {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        let RunEvent::RunFinished(report) = event else {
            return Ok(());
        };
        let name = &self.name;
        if report.status == RunStatus::Interrupted {
            eprintln!("warning: the run was interrupted; baseline {name:?} was not saved");
        } else {
            let saved = baseline::save(&self.target_dir, name, report, self.keep)?;
            let runs = match saved.runs {
                1 => "1 run".to_string(),
                n => format!("{n} runs"),
            };
            eprintln!(
                "       Saved baseline {name:?} at {} ({runs})",
                saved.dir.display()
            );
            if saved.dropped > 0 {
                eprintln!(
                    "note: {} earlier run(s) of baseline {name:?} left out: a test in them ran under another load model",
                    saved.dropped
                );
            }
        }
        Ok(())
    }
}
