//! Running the selected tests of one harness binary: one session (harness process) at a time,
//! translating its protocol events into reporter events, and when a session dies before it is
//! done, blaming the test it was running and starting a new session for the rest.

use super::Selected;
use crate::cli::RunArgs;
use crate::compare::apply::Comparer;
use crate::compile::BuiltHarness;
use crate::errors::CliError;
use crate::reporter::{Reporters, RunEvent};
use crate::session::Session;
use crate::settings::Settings;
use crate::signals::Interrupt;
use loadtest_report::protocol::{self, PROTOCOL_VERSION, RunRequest, TestRequest};
use loadtest_report::report::{ShardSpec, TestId, TestReport, TestResult};
use loadtest_report::verdict::{Ended, Policy, Unjudged};

const INTERRUPTED_BEFORE_START: &str = "the run was interrupted before this test started";

/// Judges tests as they end, each once on all of its evidence (its baseline comparison
/// included), and passes them to the reporters.
pub(crate) struct Outcomes<'r> {
    /// Every judged test, in the order they ended.
    pub(crate) reports: Vec<TestReport>,
    pub(crate) reporters: &'r mut Reporters,
    pub(crate) policy: Policy,
    /// The saved baseline each test is compared with before it is judged, when there is one.
    pub(crate) comparer: Option<Comparer<'r>>,
}

impl<'r> Outcomes<'r> {
    /// No test judged yet.
    pub(crate) fn new(
        reporters: &'r mut Reporters,
        policy: Policy,
        comparer: Option<Comparer<'r>>,
    ) -> Outcomes<'r> {
        Outcomes {
            reports: Vec::new(),
            reporters,
            policy,
            comparer,
        }
    }

    /// A test that finished with a result.
    fn finished(&mut self, s: &Selected, result: TestResult) -> Result<(), CliError> {
        self.push(s, Ended::Finished(result), None, true)
    }

    /// A test without a result; `shown` when the terminal should list it as it happens.
    fn without_result(
        &mut self,
        s: &Selected,
        why: Ended,
        error: Option<String>,
        shown: bool,
    ) -> Result<(), CliError> {
        self.push(s, why, error, shown)
    }

    /// A test whose capacity was searched (`--find-max`), judged on what the search found.
    pub(crate) fn searched(
        &mut self,
        s: &Selected,
        searched: super::capacity::Searched,
    ) -> Result<(), CliError> {
        let ended = Ended::Searched {
            capacity: searched.capacity,
            result: searched.result,
        };
        self.push(s, ended, searched.error, true)
    }

    /// A test the run did not get to because it was interrupted.
    pub(crate) fn not_started(&mut self, s: &Selected) -> Result<(), CliError> {
        self.without_result(s, not_started(), None, false)
    }

    /// Compares the test with the baseline, judges it, and (when `shown`) announces it: its
    /// `TestFinished` carries its final status.
    fn push(
        &mut self,
        s: &Selected,
        ended: Ended,
        error: Option<String>,
        shown: bool,
    ) -> Result<(), CliError> {
        let mut unjudged = Unjudged {
            package: s.harness.target.package.clone(),
            target: s.harness.target.target.clone(),
            name: s.test.name.clone(),
            ended,
            error,
            comparison: None,
        };
        if let Some(c) = &mut self.comparer {
            unjudged.comparison = c
                .compare(self.reports.len(), &unjudged)
                .map_err(CliError::Usage)?;
        }
        let report = unjudged.judge(&self.policy);
        if shown {
            self.reporters.emit(&RunEvent::TestFinished(&report))?;
        }
        self.reports.push(report);
        Ok(())
    }

    /// The comparability refusals so far.
    pub(crate) fn refusals(&self) -> &[String] {
        self.comparer.as_ref().map_or(&[], |c| &c.refusals)
    }
}

fn not_started() -> Ended {
    Ended::NotStarted(INTERRUPTED_BEFORE_START.to_string())
}

/// What every session of a run is asked beyond its tests: the shard to run, the
/// coordinated start, and the shared setup values (`--setup-file`) by `package::target`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Launch<'a> {
    pub(crate) shard: Option<ShardSpec>,
    pub(crate) start_at_unix: Option<f64>,
    pub(crate) setup_values: Option<&'a crate::scale::setup::SetupValues>,
}

/// Runs `tests` (all of harness `h`) until each one has a report.
pub(crate) fn run_harness(
    h: &BuiltHarness,
    tests: &[&Selected],
    settings: &Settings,
    args: &RunArgs,
    launch: Launch<'_>,
    interrupt: &Interrupt,
    out: &mut Outcomes<'_>,
) -> Result<(), CliError> {
    let mut remaining: Vec<&Selected> = tests.to_vec();
    while !remaining.is_empty() {
        if interrupt.is_set() {
            for s in remaining.drain(..) {
                out.without_result(s, not_started(), None, false)?;
            }
            return Ok(());
        }
        let request = RunRequest {
            protocol: PROTOCOL_VERSION,
            tests: remaining
                .iter()
                .map(|s| TestRequest {
                    name: s.test.name.clone(),
                    overrides: settings.layers_for(s.id()),
                    health_warm_up_s: None,
                })
                .collect(),
            base_url: settings.run_base_url(),
            request_series: args.output.hlog.is_some(),
            live_metrics: args.metrics_listen.is_some() || args.dashboard.is_some(),
            shard: launch.shard,
            start_at_unix: launch.start_at_unix,
            otlp: settings.otlp().cloned(),
            mode: protocol::RunMode::Run,
            setup_value: launch
                .setup_values
                .and_then(|v| v.get(&crate::scale::setup::harness_key(h)))
                .cloned(),
        };
        let session = match Session::spawn(h, &request, &args.harness_args, args.quiet) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("cannot start the harness: {e}");
                for s in remaining.drain(..) {
                    out.without_result(s, Ended::Errored(why.clone()), Some(e.to_string()), false)?;
                }
                return Ok(());
            }
        };
        let end = drive(session, h, &mut remaining, launch, interrupt, out)?;
        match end {
            SessionEnd::Refused { message } => {
                return Err(CliError::Usage(format!(
                    "the harness {} refused the run: {message}",
                    crate::scale::setup::harness_key(h)
                )));
            }
            SessionEnd::SetupFailed { message, tail } => {
                for s in remaining.drain(..) {
                    out.without_result(
                        s,
                        Ended::Errored(message.clone()),
                        Some(tail.clone()),
                        true,
                    )?;
                }
            }
            SessionEnd::Done => {
                // Tests the harness did not get to (interrupted) are reported as such.
                for s in remaining.drain(..) {
                    let why = if interrupt.is_set() {
                        not_started()
                    } else {
                        Ended::Errored("the harness did not run this test".into())
                    };
                    out.without_result(s, why, None, false)?;
                }
            }
            SessionEnd::Died {
                running,
                status,
                tail,
            } => {
                // Blame the running test (or all, if none had started); the loop starts a new
                // session for the rest.
                let why = format!("the harness process exited unexpectedly ({status})");
                let message = format!("{why}; last lines of its stderr:\n{tail}");
                let blamed: Vec<&Selected> = match running {
                    Some(i) => vec![remaining.remove(i)],
                    None => std::mem::take(&mut remaining),
                };
                for s in blamed {
                    out.without_result(
                        s,
                        Ended::Errored(why.clone()),
                        Some(message.clone()),
                        true,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// How a session ended.
enum SessionEnd {
    /// The harness sent `done`.
    Done,
    /// The setup hook failed: no test of this harness can run.
    SetupFailed { message: String, tail: String },
    /// The harness refused the request (a shared setup value it cannot take): nothing ran.
    Refused { message: String },
    /// The process exited without `done`; `running` is the index (in `remaining`) of the test
    /// it was running.
    Died {
        running: Option<usize>,
        status: String,
        tail: String,
    },
}

/// Reads one session's events until its stdout closes; removes finished tests from `remaining`.
fn drive(
    mut session: Session,
    h: &BuiltHarness,
    remaining: &mut Vec<&Selected>,
    launch: Launch<'_>,
    interrupt: &Interrupt,
    out: &mut Outcomes<'_>,
) -> Result<SessionEnd, CliError> {
    let mut running: Option<usize> = None;
    // A harness whose runtime predates sharding ignores the shard and would run the whole
    // load: it is stopped as soon as it says so, and its tests error.
    let mut ignored_shard: Option<String> = None;
    let mut done = false;
    let mut setup_failed: Option<String> = None;
    let mut refused: Option<String> = None;
    // The harness names its tests; the session's harness makes the name an identity.
    let find = |name: &str, remaining: &[&Selected]| {
        let id = TestId {
            package: &h.target.package,
            target: &h.target.target,
            name,
        };
        remaining.iter().position(|s| s.id() == id)
    };
    while let Some(event) = session.next_event(interrupt) {
        match event {
            protocol::Event::Hello { .. } => {}
            protocol::Event::Started { test, config } => {
                if let Some(spec) = launch.shard
                    && config.shard.is_none()
                    && !config.smoke
                    && ignored_shard.is_none()
                {
                    ignored_shard = Some(format!(
                        "the harness ignored --shard {spec} and started the whole load, so it was stopped: its loadtest-runtime is older than this cargo-loadtest ({}); use matching versions",
                        env!("CARGO_PKG_VERSION")
                    ));
                    session.stop();
                }
                running = find(&test, remaining);
                if let Some(i) = running {
                    out.reporters.emit(&RunEvent::TestStarted {
                        id: remaining[i].id(),
                        config: &config,
                    })?;
                }
            }
            protocol::Event::Progress(p) => out.reporters.emit(&RunEvent::Progress(&p))?,
            protocol::Event::Finished { test, result } => {
                if let Some(i) = find(&test, remaining) {
                    match &ignored_shard {
                        Some(why) => out.without_result(
                            remaining.remove(i),
                            Ended::Errored(why.clone()),
                            Some(why.clone()),
                            true,
                        )?,
                        None => out.finished(remaining.remove(i), *result)?,
                    }
                }
                running = None;
            }
            protocol::Event::TestError { test, message } => {
                if let Some(i) = find(&test, remaining) {
                    let s = remaining.remove(i);
                    out.without_result(
                        s,
                        Ended::Errored(message.clone()),
                        Some(message.clone()),
                        true,
                    )?;
                }
                running = None;
            }
            protocol::Event::SetupFailed { message } => setup_failed = Some(message),
            protocol::Event::Refused { message } => refused = Some(message),
            // Answers to setup and teardown requests, which a run does not send.
            protocol::Event::SetupValue { .. }
            | protocol::Event::TeardownDone { .. }
            | protocol::Event::TeardownFailed { .. } => {}
            protocol::Event::Done { .. } => done = true,
        }
    }
    let (status, tail) = session.wait();
    let status = match &status {
        Ok(s) => s.to_string(),
        Err(e) => format!("unknown status ({e})"),
    };
    Ok(if let Some(message) = refused {
        SessionEnd::Refused { message }
    } else if let Some(message) = setup_failed {
        SessionEnd::SetupFailed { message, tail }
    } else if done {
        SessionEnd::Done
    } else {
        SessionEnd::Died {
            running,
            status,
            tail,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::Reporter;
    use crate::workspace::HarnessTarget;
    use loadtest_report::protocol::ListedTest;
    use loadtest_report::report::{IntervalPoint, RunInfo, TestStatus};
    use loadtest_report::verdict::{self, RunEnd};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Keeps every `TestFinished` it is sent.
    struct Finished(Rc<RefCell<Vec<TestReport>>>);

    impl Reporter for Finished {
        fn report(&mut self, event: &RunEvent<'_>) -> Result<(), CliError> {
            if let RunEvent::TestFinished(t) = event {
                self.0.borrow_mut().push((*t).clone());
            }
            Ok(())
        }
    }

    fn selected(name: &str) -> Selected {
        Selected {
            harness: BuiltHarness {
                target: HarnessTarget {
                    package: "shop".into(),
                    target: "api".into(),
                    manifest_dir: "/nowhere".into(),
                },
                executable: "/nowhere/api".into(),
            },
            test: ListedTest {
                name: name.into(),
                file: "loadtests/api.rs".into(),
                line: 1,
                options: Default::default(),
                config: Default::default(),
            },
        }
    }

    fn run_info() -> RunInfo {
        RunInfo {
            host: "here".into(),
            cpus: 1,
            ..RunInfo::default()
        }
    }

    /// Twelve steady seconds at `level_us` (p50), every iteration ok.
    fn result(level_us: u64) -> TestResult {
        let series = (1..=12)
            .map(|i| IntervalPoint {
                t_s: i as f64,
                iterations: 1000,
                requests: 1000,
                p50_us: level_us + i % 3,
                p95_us: 2 * level_us + i % 3,
                p99_us: 3 * level_us + i % 3,
                ..IntervalPoint::default()
            })
            .collect();
        TestResult {
            series,
            ..TestResult::default()
        }
    }

    #[test]
    fn each_test_is_judged_once_with_its_comparison_before_it_is_announced() {
        let tests = ["slower", "faster"]
            .into_iter()
            .map(|name| {
                Unjudged {
                    package: "shop".into(),
                    target: "api".into(),
                    name: name.into(),
                    ended: Ended::Finished(result(1000)),
                    error: None,
                    comparison: None,
                }
                .judge(&Policy::default())
            })
            .collect();
        let baseline = crate::compare::baseline::Baseline::one(verdict::run_report(
            run_info(),
            tests,
            None,
            RunEnd::default(),
        ));
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut reporters = Reporters::default();
        reporters.register(Finished(seen.clone()));
        let comparer = Comparer::new(&baseline, "baseline \"b1\"", &[], false);
        let mut out = Outcomes::new(&mut reporters, Policy::default(), Some(comparer));
        out.finished(&selected("slower"), result(1300)).unwrap();
        out.finished(&selected("faster"), result(700)).unwrap();
        out.without_result(
            &selected("crashed"),
            Ended::Errored("the harness process exited unexpectedly".into()),
            None,
            true,
        )
        .unwrap();
        let reports = out.reports;
        let seen = seen.borrow();
        // One announcement per test, and it is the report the run keeps: nothing is judged
        // again after `TestFinished`.
        assert_eq!(*seen, reports);
        let statuses: Vec<TestStatus> = reports.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [TestStatus::Failed, TestStatus::Passed, TestStatus::Errored]
        );
        assert!(
            reports[0]
                .failures
                .iter()
                .all(|f| f.starts_with("regression: ")),
            "{:?}",
            reports[0].failures
        );
        assert!(reports[0].comparison.as_ref().is_some_and(|c| c.regressed));
        assert!(reports[1].comparison.as_ref().is_some_and(|c| !c.regressed));
        assert!(reports[2].comparison.is_none());
    }
}
