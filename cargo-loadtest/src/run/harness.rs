//! Running the selected tests of one harness binary: one session (harness process) at a time,
//! translating its protocol events into reporter events, and when a session dies before it is
//! done, blaming the test it was running and starting a new session for the rest.

use super::Selected;
use crate::cli::RunArgs;
use crate::compile::BuiltHarness;
use crate::errors::CliError;
use crate::reporter::{Event, Reporters};
use crate::session::{Msg, Session};
use crate::settings::Settings;
use crate::signals::Interrupt;
use loadtest_report::protocol::{self, PROTOCOL_VERSION, RunRequest, TestRequest};
use loadtest_report::report::{ShardSpec, TestReport, TestResult};
use loadtest_report::verdict::{self, Evidence, Policy};
use std::time::Duration;

const INTERRUPTED_BEFORE_START: &str = "the run was interrupted before this test started";

/// Judges tests as they end and passes them to the reporters.
pub(crate) struct Outcomes<'r> {
    /// Every judged test, in the order they ended.
    pub(crate) reports: Vec<TestReport>,
    pub(crate) reporters: &'r mut Reporters,
    pub(crate) policy: Policy,
}

/// Why a test has no result.
enum NoResult<'a> {
    Errored(&'a str),
    NotStarted(&'a str),
}

impl Outcomes<'_> {
    /// A test that finished with a result.
    fn finished(&mut self, s: &Selected, result: TestResult) -> Result<(), CliError> {
        let j = verdict::judge(
            Evidence::Finished {
                result: &result,
                comparison: None,
            },
            &self.policy,
        );
        self.push(s, j, Some(result), None, true)
    }

    /// A test without a result; `shown` when the terminal should list it as it happens.
    fn without_result(
        &mut self,
        s: &Selected,
        why: NoResult<'_>,
        error: Option<String>,
        shown: bool,
    ) -> Result<(), CliError> {
        let evidence = match why {
            NoResult::Errored(reason) => Evidence::Errored { reason },
            NoResult::NotStarted(reason) => Evidence::NotStarted { reason },
        };
        let j = verdict::judge(evidence, &self.policy);
        self.push(s, j, None, error, shown)
    }

    /// A test whose capacity was searched (`--find-max`), judged on what the search found.
    pub(crate) fn searched(
        &mut self,
        s: &Selected,
        searched: super::capacity::Searched,
    ) -> Result<(), CliError> {
        let j = verdict::judge(
            Evidence::Capacity {
                capacity: &searched.capacity,
                comparison: None,
            },
            &self.policy,
        );
        self.push(s, j, searched.result, searched.error, true)?;
        if let Some(last) = self.reports.last_mut() {
            last.capacity = Some(searched.capacity);
        }
        Ok(())
    }

    /// A test the run did not get to because it was interrupted.
    pub(crate) fn not_started(&mut self, s: &Selected) -> Result<(), CliError> {
        self.without_result(
            s,
            NoResult::NotStarted(INTERRUPTED_BEFORE_START),
            None,
            false,
        )
    }

    fn push(
        &mut self,
        s: &Selected,
        j: verdict::Judgement,
        result: Option<TestResult>,
        error: Option<String>,
        shown: bool,
    ) -> Result<(), CliError> {
        let report = TestReport {
            package: s.harness.target.package.clone(),
            target: s.harness.target.target.clone(),
            name: s.test.name.clone(),
            status: j.status,
            failures: j.failures,
            result,
            error,
            comparison: None,
            capacity: None,
        };
        if shown {
            self.reporters.emit(&Event::TestFinished(&report))?;
        }
        self.reports.push(report);
        Ok(())
    }
}

/// What every session of a run is asked beyond its tests: the shard to run and the
/// coordinated start.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Launch {
    pub(crate) shard: Option<ShardSpec>,
    pub(crate) start_at_unix: Option<f64>,
}

/// Runs `tests` (all of harness `h`) until each one has a report.
pub(crate) fn run_harness(
    h: &BuiltHarness,
    tests: &[&Selected],
    settings: &Settings,
    args: &RunArgs,
    launch: Launch,
    interrupt: &Interrupt,
    out: &mut Outcomes<'_>,
) -> Result<(), CliError> {
    let mut remaining: Vec<&Selected> = tests.to_vec();
    while !remaining.is_empty() {
        if interrupt.is_set() {
            for s in remaining.drain(..) {
                out.without_result(
                    s,
                    NoResult::NotStarted(INTERRUPTED_BEFORE_START),
                    None,
                    false,
                )?;
            }
            return Ok(());
        }
        let request = RunRequest {
            protocol: PROTOCOL_VERSION,
            tests: remaining
                .iter()
                .map(|s| TestRequest {
                    name: s.test.name.clone(),
                    overrides: settings.layers_for(&s.test.name),
                    health_warm_up_s: None,
                })
                .collect(),
            base_url: settings.run_base_url(),
            request_series: args.output.hlog.is_some(),
            live_metrics: args.metrics_listen.is_some(),
            shard: launch.shard,
            start_at_unix: launch.start_at_unix,
        };
        let session = match Session::spawn(h, &request, &args.harness_args, args.quiet) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("cannot start the harness: {e}");
                for s in remaining.drain(..) {
                    out.without_result(s, NoResult::Errored(&why), Some(e.to_string()), false)?;
                }
                return Ok(());
            }
        };
        let end = drive(session, &mut remaining, launch, interrupt, out)?;
        match end {
            SessionEnd::SetupFailed { message, tail } => {
                for s in remaining.drain(..) {
                    out.without_result(s, NoResult::Errored(&message), Some(tail.clone()), true)?;
                }
            }
            SessionEnd::Done => {
                // Tests the harness did not get to (interrupted) are reported as such.
                for s in remaining.drain(..) {
                    let why = if interrupt.is_set() {
                        NoResult::NotStarted(INTERRUPTED_BEFORE_START)
                    } else {
                        NoResult::Errored("the harness did not run this test")
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
                    out.without_result(s, NoResult::Errored(&why), Some(message.clone()), true)?;
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
    remaining: &mut Vec<&Selected>,
    launch: Launch,
    interrupt: &Interrupt,
    out: &mut Outcomes<'_>,
) -> Result<SessionEnd, CliError> {
    let mut running: Option<usize> = None;
    // A harness whose runtime predates sharding ignores the shard and would run the whole
    // load: it is stopped as soon as it says so, and its tests error.
    let mut ignored_shard: Option<String> = None;
    let mut done = false;
    let mut stopping = false;
    let mut setup_failed: Option<String> = None;
    let find =
        |name: &str, remaining: &[&Selected]| remaining.iter().position(|s| s.test.name == name);
    loop {
        if interrupt.is_set() && !stopping {
            session.stop();
            stopping = true;
        }
        let Some(msg) = session.recv(Duration::from_millis(100)) else {
            continue;
        };
        let event = match msg {
            Msg::Eof => break,
            Msg::Event(e) => *e,
        };
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
                    stopping = true;
                }
                running = find(&test, remaining);
                if let Some(i) = running {
                    let qualified = remaining[i].qualified();
                    out.reporters.emit(&Event::TestStarted {
                        qualified: &qualified,
                        config: &config,
                    })?;
                }
            }
            protocol::Event::Progress(p) => out.reporters.emit(&Event::Progress(&p))?,
            protocol::Event::Finished { test, result } => {
                if let Some(i) = find(&test, remaining) {
                    match &ignored_shard {
                        Some(why) => out.without_result(
                            remaining.remove(i),
                            NoResult::Errored(why),
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
                        NoResult::Errored(&message),
                        Some(message.clone()),
                        true,
                    )?;
                }
                running = None;
            }
            protocol::Event::SetupFailed { message } => setup_failed = Some(message),
            protocol::Event::Done { .. } => done = true,
        }
    }
    let (status, tail) = session.wait();
    let status = match &status {
        Ok(s) => s.to_string(),
        Err(e) => format!("unknown status ({e})"),
    };
    Ok(if let Some(message) = setup_failed {
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
