//! Rendering reports: JUnit XML, Markdown and the terminal summary table, each a pure function of
//! a `RunReport`; where they go by default; atomic file writes (`-`, FIFOs and devices are
//! written directly, see [`atomic`]). The reporters (`crate::reporter`) decide when each is
//! written.

pub mod atomic;
pub mod junit;
pub mod markdown;
pub mod summary;

use crate::cli::RunArgs;
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
