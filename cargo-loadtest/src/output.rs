//! Rendering reports: JUnit XML, Markdown, CSV, HdrHistogram interval logs, HTML and the terminal
//! summary table, each a pure function of a `RunReport`; where they go by default; atomic file
//! writes (`-`, FIFOs and devices are written directly, see [`atomic`]). The reporters
//! (`crate::reporter`) decide when each is written.

pub mod atomic;
pub mod csv;
pub mod hlog;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod summary;
pub mod trace_url;

use crate::cli::OutputArgs;
use crate::errors::CliError;
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
    /// The results in Bencher's metric format, when asked for.
    pub bmf: Option<PathBuf>,
    /// The CSV summary (its series beside it, see [`csv::series_path`]), when asked for.
    pub csv: Option<PathBuf>,
    /// The folder of interval logs, when asked for.
    pub hlog: Option<PathBuf>,
    /// The HTML report.
    pub html: PathBuf,
    /// Where the reports link exemplars' trace ids (`--trace-url`), when given.
    pub trace_url: Option<trace_url::TraceUrl>,
}

impl ReportPaths {
    /// The paths given by the flags of `run` or `merge`, else
    /// `TARGET_DIR/loadtest/{report.json,junit.xml,report.md,report.html}`.
    pub fn resolve(target_dir: &Path, flags: &OutputArgs) -> ReportPaths {
        let dir = target_dir.join("loadtest");
        let or =
            |flag: &Option<PathBuf>, file: &str| flag.clone().unwrap_or_else(|| dir.join(file));
        ReportPaths {
            json: or(&flags.json, "report.json"),
            junit: or(&flags.junit, "junit.xml"),
            markdown: or(&flags.markdown, "report.md"),
            bmf: flags.bmf.clone(),
            csv: flags.csv.clone(),
            hlog: flags.hlog.clone(),
            html: or(&flags.html, "report.html"),
            trace_url: flags.trace_url.clone(),
        }
    }

    /// Refuses, before anything runs, a `--csv` that names something other than a regular file
    /// (a folder, a FIFO, a device: its series file is named after it, so `/dev/null` would
    /// create `/dev/null-series`), an `--html` that names a folder, an `--hlog` that names
    /// something other than a folder, and `--csv` or `--hlog` as `-` (both write several files, so
    /// neither can go to standard output).
    pub fn check(&self) -> Result<(), CliError> {
        for (flag, path, what) in [
            (
                "--csv",
                &self.csv,
                "the CSV report is two files (PATH and PATH-series.csv)",
            ),
            (
                "--hlog",
                &self.hlog,
                "interval logs are one file per test in a folder",
            ),
        ] {
            if path.as_deref().is_some_and(atomic::is_stdout) {
                return Err(CliError::Usage(format!(
                    "{flag} -: {what}, so it cannot go to standard output; give a path (`-` is accepted by --json, --junit and --markdown)"
                )));
            }
        }
        if let Some(p) = &self.csv {
            for p in [p.clone(), csv::series_path(p)] {
                if p.exists() && !p.is_file() {
                    return Err(CliError::Usage(format!(
                        "--csv {}: {} exists and is not a regular file; give the path of a file to write (PATH and PATH-series.csv are written)",
                        self.csv
                            .as_ref()
                            .map_or_else(String::new, |c| c.display().to_string()),
                        p.display()
                    )));
                }
            }
        }
        if self.html.is_dir() {
            return Err(CliError::Usage(format!(
                "--html {}: is a folder; give the path of the file to write",
                self.html.display()
            )));
        }
        if let Some(p) = &self.hlog
            && p.exists()
            && !p.is_dir()
        {
            return Err(CliError::Usage(format!(
                "--hlog {}: exists and is not a folder; give a folder (created when missing) to write one .hlog file per test into",
                p.display()
            )));
        }
        Ok(())
    }

    /// Whether a report goes to standard output (`-`).
    pub fn any_stdout(&self) -> bool {
        [&self.json, &self.junit, &self.markdown]
            .iter()
            .any(|p| atomic::is_stdout(p))
            || self.bmf.as_deref().is_some_and(atomic::is_stdout)
    }

    /// A one-line description for the terminal.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}, {}, {}, {}",
            self.json.display(),
            self.junit.display(),
            self.markdown.display(),
            self.html.display()
        );
        if let Some(p) = &self.csv {
            s += &format!(", {}, {}", p.display(), csv::series_path(p).display());
        }
        if let Some(p) = &self.hlog {
            s += &format!(", {}/*.hlog", p.display());
        }
        s
    }
}

/// Reports the outputs' unit tests render.
#[cfg(test)]
pub(crate) mod fixtures {
    use loadtest_report::exemplar::Exemplar;
    use loadtest_report::report::{RequestMetrics, RunReport, TestReport, TestResult, TestStatus};

    /// A passed report whose one test, `p::api::home`, has one request name, `request`, whose
    /// one slowest request is `exemplar`.
    pub(crate) fn report_with_exemplar(request: &str, exemplar: Exemplar) -> RunReport {
        let mut m = RequestMetrics::default();
        m.exemplars.offer(exemplar.latency_us, || exemplar);
        let mut result = TestResult::default();
        result.request_names.insert(request.into(), m);
        let mut report: RunReport = serde_json::from_str(
            r#"{"schema_version":3,"run":{"tool_version":"0","started_at_unix":0,"duration_s":1,"git_commit":null,"host":"h","cpus":1,"command_line":[]},"status":"passed","exit_code":0,"tests":[]}"#,
        )
        .unwrap();
        report.tests.push(TestReport {
            package: "p".into(),
            target: "api".into(),
            name: "home".into(),
            status: TestStatus::Passed,
            failures: Vec::new(),
            result: Some(result),
            error: None,
            comparison: None,
            capacity: None,
        });
        report
    }
}
