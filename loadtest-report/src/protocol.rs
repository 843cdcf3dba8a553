//! The harness's machine interface, version [`PROTOCOL_VERSION`]: how `cargo loadtest` (or any
//! parent process) lists the load tests of a harness binary, runs them with a configuration, and
//! receives live progress and the final results.
//!
//! # Listing
//!
//! `HARNESS --loadtest-list` prints one JSON [`Listing`] on stdout and exits 0.
//!
//! # Running
//!
//! `HARNESS --loadtest-protocol` reads one line of JSON, a [`RunRequest`], from stdin, then runs
//! the requested tests one after another in one process (the setup hook runs once, first).
//! Each event is one line on stdout: [`EVENT_PREFIX`] followed by an [`Event`] as JSON. Other
//! stdout lines are the tests' own output. Afterwards, a line `stop` on stdin, the end of stdin
//! (the parent died), SIGINT or SIGTERM stops the load within a second; the current test still
//! reports its result (marked interrupted), later tests are not started, and `done` is sent.
//!
//! Exit codes: 0 when `done` was sent (whatever the tests' verdicts), 2 for a bad request
//! (after a `refused` event when the request was read), 3 when the setup hook failed (after a
//! `setup_failed` event) or, for a teardown request, the teardown hook failed (after
//! `teardown_failed`).
//!
//! # Shared setup
//!
//! A setup hook declared with `main!(shared_setup = ...)` returns a serializable value and can run
//! once for a whole scale-out run instead of once per process. [`RunRequest::mode`] asks for one
//! step of it: [`RunMode::Setup`] runs only the setup hook and answers with a
//! [`Event::SetupValue`] (no test runs, no teardown); [`RunMode::Teardown`] runs only the teardown
//! hook on [`RunRequest::setup_value`] and answers with [`Event::TeardownDone`]. A
//! [`RunMode::Run`] request that carries a [`RunRequest::setup_value`] runs its tests on that
//! value: the harness runs neither its setup hook nor its teardown hook. A value for a harness
//! whose hook is not shareable, or one that does not deserialize as the hook's type, is
//! [`Event::Refused`]. These fields are optional: a request without them is served as before.

use crate::report::{ConfigSummary, ShardSpec, TestResult};
use loadtest_grammar::OptionLayer;
use serde::{Deserialize, Serialize};

/// The version of this interface; a request with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// The prefix of every event line on the harness's stdout.
pub const EVENT_PREFIX: &str = "@loadtest-event ";

/// The load tests of a harness binary.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Listing {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Every load test, sorted by name.
    pub tests: Vec<ListedTest>,
}

/// One load test as listed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ListedTest {
    /// The name used for filtering and in reports.
    pub name: String,
    /// The source file.
    pub file: String,
    /// The line of the attribute.
    pub line: u32,
    /// The attribute's options as written.
    pub options: OptionLayer,
    /// The configuration from the attribute alone.
    pub config: ConfigSummary,
}

/// What the parent asks the harness to run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunRequest {
    /// Must be [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The tests to run, in order.
    pub tests: Vec<TestRequest>,
    /// The target given for the whole run (`--target` / `LOADTEST_TARGET`), if any; the setup
    /// hook sees it through `loadtest_runtime::configured_target()`.
    #[serde(rename = "target")]
    pub base_url: Option<String>,
    /// Keep each request name's latency per second in the series
    /// ([`crate::report::IntervalPoint::request_latency`]); off unless asked for.
    #[serde(default)]
    pub request_series: bool,
    /// Send [`Progress::live`] with every progress event (for a metrics endpoint); off unless
    /// asked for. Harnesses that predate it ignore it and send progress without it.
    #[serde(default)]
    pub live_metrics: bool,
    /// Run only this shard's part of every test's load (`--shard K/N`; see
    /// [`crate::report::ShardPart`]); the whole load when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardSpec>,
    /// Hold the first test until this instant (seconds since the Unix epoch, `--start-at`),
    /// after the setup hook ran; an instant already past starts at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_unix: Option<f64>,
    /// Export every test's metrics over OTLP (`--otlp`); absent: no export. A harness built
    /// without loadtest-runtime's `otlp` feature refuses the request (exit 2, naming the fix);
    /// a harness older than this field ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp: Option<OtlpExport>,
    /// What to run: the tests (the default), or only one step of a shared setup (see the
    /// module's "Shared setup"). Setup and teardown requests carry no tests.
    #[serde(default, skip_serializing_if = "RunMode::is_run")]
    pub mode: RunMode,
    /// The value a shared setup hook returned once for the whole run (`cargo loadtest setup`):
    /// with [`RunMode::Run`] the tests read it and neither the setup nor the teardown hook runs;
    /// with [`RunMode::Teardown`] the teardown hook is given it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_value: Option<serde_json::Value>,
}

/// Where and how the harness exports a run's metrics over OTLP ([`RunRequest::otlp`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OtlpExport {
    /// The OTLP/HTTP metrics endpoint, a full URL (`http://collector:4318/v1/metrics`) that
    /// the harness POSTs `ExportMetricsServiceRequest` protobuf messages to. Headers
    /// (`OTEL_EXPORTER_OTLP_[METRICS_]HEADERS`), the timeout and the temporality preference are
    /// read from the harness's environment, as OpenTelemetry SDKs do.
    pub endpoint: String,
}

/// What a [`RunRequest`] asks the harness to run.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// The requested tests, with the setup hook before them (or the given
    /// [`RunRequest::setup_value`]) and the teardown hook after them (not with a given value).
    #[default]
    Run,
    /// Only the shared setup hook: its value is sent as [`Event::SetupValue`]; a harness whose
    /// setup hook is not shareable sends [`Event::Refused`]; one without a setup hook sends a
    /// `setup_value` without a hook.
    Setup,
    /// Only the teardown hook, given [`RunRequest::setup_value`]; [`Event::TeardownDone`] when
    /// it returned, [`Event::TeardownFailed`] when it failed.
    Teardown,
}

impl RunMode {
    /// Whether this is [`RunMode::Run`] (the default, left out of the JSON).
    pub fn is_run(&self) -> bool {
        *self == RunMode::Run
    }
}

/// One test to run and the option layers to apply above its attribute, lowest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TestRequest {
    /// The test's exact name.
    pub name: String,
    /// Layers above the attribute (workspace file, environment, command line).
    pub overrides: Vec<OptionLayer>,
    /// Seconds from the test's start during which the generator's health is not judged: its
    /// scheduling lag, late starts and CPU use count from then on (a capacity search's step
    /// warm-up, when a fresh harness opens its connections). Absent: the whole test. A harness
    /// older than this field ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_warm_up_s: Option<f64>,
}

/// Live progress of a running test, sent once per second.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// The test's name.
    pub test: String,
    /// Seconds since the test started.
    pub elapsed_s: f64,
    /// The planned duration in seconds, when known.
    pub planned_s: Option<f64>,
    /// Iterations completed so far.
    pub iterations: u64,
    /// Iterations failed so far.
    pub failed: u64,
    /// Requests sent so far.
    pub requests: u64,
    /// Requests that were not `ok`, so far.
    pub request_errors: u64,
    /// Iterations per second over the last second.
    pub rate_per_s: f64,
    /// 99th percentile iteration latency so far, in microseconds.
    pub p99_us: u64,
    /// Open model: iterations dropped so far.
    pub dropped: u64,
    /// Per request name counters, fixed-bucket latencies and the generator's gauges, when the
    /// run request asked for them ([`RunRequest::live_metrics`]); absent otherwise and from
    /// harnesses that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Box<crate::live::LiveDetail>>,
}

/// A message from the harness.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// First event: the harness's interface version and runtime version.
    Hello {
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// `loadtest-runtime`'s version.
        runtime_version: String,
    },
    /// The setup hook failed; no test runs. The harness exits 3 after this.
    SetupFailed {
        /// The hook's name and its error.
        message: String,
    },
    /// A test starts.
    Started {
        /// The test's name.
        test: String,
        /// Its resolved configuration.
        config: Box<ConfigSummary>,
    },
    /// Once per second while a test runs.
    Progress(Progress),
    /// A test ended with its results.
    Finished {
        /// The test's name.
        test: String,
        /// Everything measured.
        result: Box<TestResult>,
    },
    /// A test could not run (unknown name, bad configuration).
    TestError {
        /// The test's name.
        test: String,
        /// Why.
        message: String,
    },
    /// The answer to a [`RunMode::Setup`] request: the shared setup hook ran and returned
    /// `value`, or (`hook` absent) the harness has no setup hook. `done` follows.
    SetupValue {
        /// The hook's name as written in `main!`, when the harness has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hook: Option<String>,
        /// Its value, serialized with serde_json.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<serde_json::Value>,
    },
    /// The answer to a [`RunMode::Teardown`] request: the teardown hook returned (`hook` absent:
    /// the harness has none). `done` follows.
    TeardownDone {
        /// The hook's name as written in `main!`, when the harness has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hook: Option<String>,
    },
    /// The teardown hook of a [`RunMode::Teardown`] request failed. The harness exits 3 after it.
    TeardownFailed {
        /// The hook's name and its error.
        message: String,
    },
    /// The harness cannot serve this request (a shared setup value for a hook that is not
    /// shareable, or one that does not deserialize as the hook's type); nothing ran. The harness
    /// exits 2 after it.
    Refused {
        /// Why, naming the hook and what is accepted.
        message: String,
    },
    /// All requested tests are done (or the run was interrupted).
    Done {
        /// Whether a stop request or signal cut the run short.
        interrupted: bool,
    },
}

impl Event {
    /// The event as one stdout line, prefix included, without the newline.
    pub fn to_line(&self) -> String {
        format!(
            "{EVENT_PREFIX}{}",
            serde_json::to_string(self).expect("events always serialize")
        )
    }

    /// Parses a stdout line; `None` when it is not an event line.
    pub fn from_line(line: &str) -> Option<Result<Event, serde_json::Error>> {
        line.strip_prefix(EVENT_PREFIX).map(serde_json::from_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_lines() {
        let e = Event::Progress(Progress {
            test: "a".into(),
            elapsed_s: 1.0,
            p99_us: 5,
            ..Progress::default()
        });
        let line = e.to_line();
        assert!(line.starts_with(EVENT_PREFIX) && !line.contains('\n'));
        assert_eq!(Event::from_line(&line).unwrap().unwrap(), e);
        assert!(Event::from_line("user output").is_none());
        assert!(Event::from_line("@loadtest-event {nope").unwrap().is_err());
    }

    #[test]
    fn progress_without_live_detail_still_reads() {
        // What a harness of an earlier version sends: no `live` field.
        let line = r#"@loadtest-event {"event":"progress","test":"a","elapsed_s":1.0,"planned_s":null,"iterations":3,"failed":0,"requests":3,"request_errors":0,"rate_per_s":3.0,"p99_us":10,"dropped":0}"#;
        let Some(Ok(Event::Progress(p))) = Event::from_line(line) else {
            panic!("not a progress event")
        };
        assert_eq!((p.iterations, p.live), (3, None));
        let request: RunRequest =
            serde_json::from_str(r#"{"protocol":1,"tests":[],"target":null}"#).unwrap();
        assert!(!request.live_metrics && !request.request_series);
        assert_eq!((request.mode, request.setup_value), (RunMode::Run, None));
        let mut live = crate::live::LiveDetail::default();
        live.requests.insert("home".into(), Default::default());
        let e = Event::Progress(Progress {
            live: Some(Box::new(live)),
            ..Progress::default()
        });
        assert_eq!(Event::from_line(&e.to_line()).unwrap().unwrap(), e);
    }

    #[test]
    fn shared_setup_fields_are_additive() {
        // A request without them is written exactly as before.
        let mut request: RunRequest =
            serde_json::from_str(r#"{"protocol":1,"tests":[],"target":null}"#).unwrap();
        let plain = serde_json::to_string(&request).unwrap();
        assert!(
            !plain.contains("mode") && !plain.contains("setup_value"),
            "{plain}"
        );
        request.mode = RunMode::Setup;
        request.setup_value = Some(serde_json::json!({"token": "t-1"}));
        let line = serde_json::to_string(&request).unwrap();
        assert!(line.contains(r#""mode":"setup""#), "{line}");
        assert_eq!(serde_json::from_str::<RunRequest>(&line).unwrap(), request);
        for e in [
            Event::SetupValue {
                hook: Some("start".into()),
                value: Some(serde_json::json!({"token": "t-1"})),
            },
            Event::SetupValue {
                hook: None,
                value: None,
            },
            Event::TeardownDone { hook: None },
            Event::TeardownFailed {
                message: "teardown hook `stop` failed: gone".into(),
            },
            Event::Refused {
                message: "not shareable".into(),
            },
        ] {
            assert_eq!(Event::from_line(&e.to_line()).unwrap().unwrap(), e);
        }
        assert_eq!(
            Event::SetupValue {
                hook: None,
                value: None
            }
            .to_line(),
            r#"@loadtest-event {"event":"setup_value"}"#
        );
    }
}
