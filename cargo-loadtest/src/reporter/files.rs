//! Report files written when a run is finished: JSON (the contract), JUnit XML and Bencher's
//! metric format. Each file is replaced atomically.

use super::{Event, Reporter};
use crate::errors::CliError;
use crate::output::{atomic, junit};
use std::path::PathBuf;

/// `report.json`: the whole run, as `loadtest_report::report::RunReport`.
pub(crate) struct JsonFile(pub(crate) PathBuf);

impl Reporter for JsonFile {
    fn report(&mut self, event: &Event<'_>) -> Result<(), CliError> {
        if let Event::RunFinished(report) = event {
            let json = serde_json::to_vec_pretty(report).expect("reports always serialize");
            atomic::write(&self.0, &json)?;
        }
        Ok(())
    }
}

/// `junit.xml`: one testcase per load test.
pub(crate) struct JunitFile(pub(crate) PathBuf);

impl Reporter for JunitFile {
    fn report(&mut self, event: &Event<'_>) -> Result<(), CliError> {
        if let Event::RunFinished(report) = event {
            atomic::write(&self.0, junit::render(report).as_bytes())?;
        }
        Ok(())
    }
}

/// Bencher's metric format (`--bmf`).
pub(crate) struct BmfFile(pub(crate) PathBuf);

impl Reporter for BmfFile {
    fn report(&mut self, event: &Event<'_>) -> Result<(), CliError> {
        if let Event::RunFinished(report) = event {
            atomic::write(&self.0, crate::compare::bmf::render(report).as_bytes())?;
        }
        Ok(())
    }
}
