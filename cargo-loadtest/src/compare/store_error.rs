//! Why a stored result could not be read or saved: a named baseline, its manifest and runs, or
//! a report read as a baseline, a shard or a history record. Each refusal names the file or the
//! value and says what is accepted; all end the command with exit code 2.

use super::baseline::{BASELINE_VERSION, MAX_KEEP_RUNS};
use loadtest_report::report::{OLDEST_SCHEMA_VERSION, SCHEMA_VERSION};
use std::fmt;
use std::path::PathBuf;

/// What a report file was read as, which its errors name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadAs {
    /// A baseline: a saved baseline's `report.json`, or a report given as one.
    Baseline,
    /// One of the runs a baseline's manifest lists.
    BaselineRun,
    /// A run's report (`history record`).
    Report,
    /// One shard's report in a merge.
    ShardReport,
}

impl ReadAs {
    /// How to write a corrupted file of this kind again.
    fn again(self) -> &'static str {
        match self {
            ReadAs::Baseline => "save it again with --save-baseline",
            _ => "write it again",
        }
    }
}

impl fmt::Display for ReadAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadAs::Baseline => "baseline",
            ReadAs::BaselineRun => "baseline run",
            ReadAs::Report => "report",
            ReadAs::ShardReport => "shard report",
        })
    }
}

/// A stored result that could not be read or saved (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A baseline name that could point outside the baselines folder, or is not a name.
    #[error(
        "invalid baseline name {name:?}: use letters, digits, '.', '_' and '-' (not starting with '.' nor holding \"..\"), at most 100 characters, e.g. \"main\" or \"v1.2\""
    )]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// A `--keep-runs` value that is not a whole number from 1 to [`MAX_KEEP_RUNS`].
    #[error(
        "invalid --keep-runs {value:?}: expected a whole number of runs from 1 to {MAX_KEEP_RUNS}, e.g. 5 (1 replaces the baseline with this run)"
    )]
    KeepRuns {
        /// The value as given.
        value: String,
    },
    /// No baseline of that name has been saved.
    #[error(
        "no baseline named {name:?} (looked for {looked_for}); save one with `cargo loadtest --save-baseline {name}`"
    )]
    NoSuchBaseline {
        /// The name asked for.
        name: String,
        /// The file looked for.
        looked_for: PathBuf,
    },
    /// A `compare` argument written as a path that does not exist.
    #[error(
        "no such file or folder: {spec:?}; compare takes report files (report.json written by cargo loadtest), folders holding one, or names of baselines saved with --save-baseline"
    )]
    NoSuchPath {
        /// The argument as given.
        spec: String,
    },
    /// A baseline file would replace something that is not a regular file.
    #[error(
        "cannot save the baseline: {path} exists and is not a regular file; remove it or choose another name"
    )]
    NotRegularFile {
        /// The file in the way.
        path: PathBuf,
    },
    /// The earlier runs of a baseline could not be read to keep them beside this run.
    #[error("{source}; to replace the baseline with this run, save with --keep-runs 1")]
    EarlierRuns {
        /// Why they could not be read.
        source: Box<StoreError>,
    },
    /// A manifest that could not be read.
    #[error("cannot read the baseline manifest {path}: {source}")]
    ManifestUnreadable {
        /// The manifest.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A manifest that is not JSON.
    #[error(
        "the baseline manifest {path} is not valid JSON ({source}); it may be corrupted: save the baseline again with --keep-runs 1"
    )]
    ManifestNotJson {
        /// The manifest.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A manifest of another format version.
    #[error(
        "the baseline {path} has baseline_version {found}; this cargo-loadtest reads version {BASELINE_VERSION} (a newer cargo-loadtest wrote it: upgrade, or save the baseline again)"
    )]
    ManifestVersion {
        /// The manifest.
        path: PathBuf,
        /// The version it has.
        found: u64,
    },
    /// JSON without a `baseline_version`.
    #[error("{path} is not a cargo-loadtest baseline manifest (no baseline_version)")]
    NotManifest {
        /// The file.
        path: PathBuf,
    },
    /// A manifest whose fields are not a manifest's.
    #[error("the baseline manifest {path} is not valid: {source}")]
    ManifestInvalid {
        /// The manifest.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A manifest listing no runs.
    #[error("the baseline manifest {path} lists no runs")]
    NoRuns {
        /// The manifest.
        path: PathBuf,
    },
    /// A manifest listing a file that is not a run file.
    #[error(
        "the baseline manifest {path} lists {file:?}, which is not a run file (runs/NNNN.json)"
    )]
    NotRunFile {
        /// The manifest.
        path: PathBuf,
        /// The file it lists.
        file: String,
    },
    /// A report file that could not be read.
    #[error(
        "cannot read the {what} {path}: {source} (expected a report.json written by cargo loadtest, or a folder holding one)"
    )]
    ReportUnreadable {
        /// What the file was read as.
        what: ReadAs,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A report file that is not JSON.
    #[error(
        "the {what} {path} is not valid JSON ({source}); it may be corrupted: {again}",
        again = .what.again()
    )]
    ReportNotJson {
        /// What the file was read as.
        what: ReadAs,
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// JSON that is not a report: no `schema_version`, or one that is not a number.
    #[error("the {what} {path} is not a cargo-loadtest report ({})", not_a_report(.reason.as_ref()))]
    NotReport {
        /// What the file was read as.
        what: ReadAs,
        /// The file.
        path: PathBuf,
        /// The parser's error, if the version was there but not a number.
        reason: Option<serde_json::Error>,
    },
    /// A report of a schema version this cargo-loadtest does not read.
    #[error(
        "the {what} {path} has schema_version {found}; this cargo-loadtest reads versions {OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION}"
    )]
    SchemaVersion {
        /// What the file was read as.
        what: ReadAs,
        /// The file.
        path: PathBuf,
        /// The version it has.
        found: u64,
    },
    /// A report of a readable version whose fields are not a report's.
    #[error("the {what} {path} is not a valid cargo-loadtest report: {source}")]
    ReportInvalid {
        /// What the file was read as.
        what: ReadAs,
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
}

/// Why JSON is not a report: the parser's word on its `schema_version`, or its absence.
fn not_a_report(reason: Option<&serde_json::Error>) -> String {
    reason.map_or_else(|| "no schema_version".to_string(), |e| e.to_string())
}
