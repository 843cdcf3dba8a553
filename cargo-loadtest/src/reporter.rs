//! The reporter seam: the orchestrator emits typed [`RunEvent`]s, and every output is a
//! [`Reporter`] that consumes them: the terminal display, the JSON, JUnit and Markdown files, the
//! BMF, CSV and interval log files, the HTML report, the saved baseline, the live metrics endpoint,
//! the live dashboard.
//! `compare` (and any later command that produces a run report)
//! reuses the same reporters by emitting [`RunEvent::RunFinished`] alone.
//!
//! Adding an output means implementing [`Reporter`] in a file of this module and registering it
//! where the command builds its [`Reporters`].

mod baseline;
mod dashboard;
mod files;
mod html;
mod markdown;
mod metrics;
mod terminal;

pub(crate) use baseline::SaveBaseline;
pub(crate) use dashboard::LiveDashboard;
pub(crate) use files::{BmfFile, CsvFiles, IntervalLogs, JsonFile, JunitFile};
pub(crate) use html::HtmlFile;
pub(crate) use markdown::MarkdownFile;
pub(crate) use metrics::MetricsEndpoint;
pub(crate) use terminal::{ComparisonTable, Terminal};

use crate::errors::CliError;
use crate::output::ReportPaths;
use loadtest_report::protocol::Progress;
use loadtest_report::report::{
    CapacitySettings, CapacityStep, ConfigSummary, RunReport, TestId, TestReport,
};

/// What happens during a run, in order: `RunStarted`, then per test `TestStarted`, `Progress`
/// (once a second) and `TestFinished`, then `RunFinished` with the judged report. Under
/// `--find-max` a test is `SearchStarted`, then per step `StepStarted`, `Progress` and
/// `StepFinished`, then `TestFinished`. `Status` and `Note` lines may come between any two.
#[derive(Debug)]
pub(crate) enum RunEvent<'a> {
    /// The tests are built and selected; `tests` is how many will run.
    RunStarted {
        /// The number of selected tests.
        tests: usize,
    },
    /// A test started in its harness session.
    TestStarted {
        /// Which test.
        id: TestId<'a>,
        /// Its resolved configuration.
        config: &'a ConfigSummary,
    },
    /// A capacity search of a test starts (`--find-max`).
    SearchStarted {
        /// Which test.
        id: TestId<'a>,
        /// How the search runs.
        settings: &'a CapacitySettings,
    },
    /// A step of a capacity search starts.
    StepStarted {
        /// The step's number, from 1.
        number: usize,
        /// Its arrival rate, per second.
        rate_per_s: f64,
    },
    /// A step of a capacity search was judged.
    StepFinished {
        /// The step and its verdict.
        step: &'a CapacityStep,
    },
    /// Once a second while a test runs.
    Progress(&'a Progress),
    /// A test ended (or could not run) and was judged.
    TestFinished(&'a TestReport),
    /// Every test was judged; the run's report is final.
    RunFinished(&'a RunReport),
    /// A line about the run that is no test's event (waiting for a coordinated start, an A/B
    /// round's figures), as the terminal shows it; nothing under `--quiet`.
    Status(String),
    /// A note shown even under `--quiet`: what this run leaves to another (a shard's baseline
    /// comparison, left to the merge).
    Note(String),
}

/// One output of a run.
pub(crate) trait Reporter {
    /// Consumes one event. An error (e.g. a report that cannot be written) ends the command.
    fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError>;
}

/// The live outputs of a run, each when asked for.
#[derive(Default)]
pub(crate) struct Live {
    /// `--metrics-listen`.
    pub(crate) metrics: Option<MetricsEndpoint>,
    /// `--dashboard`.
    pub(crate) dashboard: Option<LiveDashboard>,
}

/// The registered reporters; each event goes to each of them in registration order.
#[derive(Default)]
pub(crate) struct Reporters(Vec<Box<dyn Reporter>>);

impl Reporters {
    /// Adds a reporter after those already registered.
    pub(crate) fn register(&mut self, reporter: impl Reporter + 'static) -> &mut Self {
        self.0.push(Box::new(reporter));
        self
    }

    /// The outputs of a run or a merge, in the order they receive events: the report files at
    /// `paths` (the HTML page with `baseline`'s curves, when there is one), the live metrics
    /// endpoint (`metrics`, when one is served), the dashboard (after the HTML file, so its last
    /// page is the report just written), the terminal, then the baseline to save.
    pub(crate) fn standard(
        paths: &ReportPaths,
        baseline: Option<RunReport>,
        live: Live,
        quiet: bool,
        save: Option<SaveBaseline>,
    ) -> Reporters {
        let mut reporters = Reporters::default();
        reporters
            .register(JsonFile(paths.json.clone()))
            .register(JunitFile(paths.junit.clone()))
            .register(MarkdownFile {
                path: paths.markdown.clone(),
                step_summary: true,
                trace_url: paths.trace_url.clone(),
            })
            .register(HtmlFile {
                path: paths.html.clone(),
                baseline,
                trace_url: paths.trace_url.clone(),
            });
        if let Some(bmf) = &paths.bmf {
            reporters.register(BmfFile(bmf.clone()));
        }
        if let Some(csv) = &paths.csv {
            reporters.register(CsvFiles(csv.clone()));
        }
        if let Some(dir) = &paths.hlog {
            reporters.register(IntervalLogs(dir.clone()));
        }
        if let Some(metrics) = live.metrics {
            reporters.register(metrics);
        }
        if let Some(dashboard) = live.dashboard {
            reporters.register(dashboard);
        }
        reporters.register(Terminal::new(
            quiet,
            Some(paths.describe()),
            paths.any_stdout(),
        ));
        if let Some(save) = save {
            reporters.register(save);
        }
        reporters
    }

    /// Sends an event to every reporter; the first error stops the rest.
    pub(crate) fn emit(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
        for r in &mut self.0 {
            r.report(event)?;
        }
        Ok(())
    }
}
