//! Report files written when a run is finished: JSON (the contract), JUnit XML, Bencher's
//! metric format, CSV and HdrHistogram interval logs. Each file is replaced atomically.

use super::{Reporter, RunEvent};
use crate::errors::CliError;
use crate::output::{atomic, csv, hlog, junit};
use std::path::PathBuf;

/// `report.json`: the whole run, as `loadtest_report::report::RunReport`.
pub(crate) struct JsonFile(pub(crate) PathBuf);

impl Reporter for JsonFile {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        if let RunEvent::RunFinished(report) = event {
            // Streamed: a merged report of thousands of shards is never held as text.
            atomic::write_streamed(&self.0, |w| {
                serde_json::to_writer_pretty(w, report).map_err(std::io::Error::from)
            })?;
        }
        Ok(())
    }
}

/// `junit.xml`: one testcase per load test.
pub(crate) struct JunitFile(pub(crate) PathBuf);

impl Reporter for JunitFile {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        if let RunEvent::RunFinished(report) = event {
            atomic::write(&self.0, junit::render(report).as_bytes())?;
        }
        Ok(())
    }
}

/// Bencher's metric format (`--bmf`).
pub(crate) struct BmfFile(pub(crate) PathBuf);

impl Reporter for BmfFile {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        if let RunEvent::RunFinished(report) = event {
            atomic::write(&self.0, crate::compare::bmf::render(report).as_bytes())?;
        }
        Ok(())
    }
}

/// `--csv PATH`: the summary at PATH and the per-second series beside it.
pub(crate) struct CsvFiles(pub(crate) PathBuf);

impl Reporter for CsvFiles {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        if let RunEvent::RunFinished(report) = event {
            atomic::write(&self.0, &csv::summary(report))?;
            atomic::write(&csv::series_path(&self.0), &csv::series(report))?;
        }
        Ok(())
    }
}

/// `--hlog DIR`: one HdrHistogram interval log per test.
pub(crate) struct IntervalLogs(pub(crate) PathBuf);

impl Reporter for IntervalLogs {
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        if let RunEvent::RunFinished(report) = event {
            let logs = hlog::render_all(&report.tests, &self.0)
                .map_err(|e| CliError::Usage(format!("cannot write the interval logs: {e}")))?;
            for log in logs {
                atomic::write(&log.path, log.text.as_bytes())?;
            }
        }
        Ok(())
    }
}
