//! The result types every report is made of: plain serde types shared by the harness (which
//! fills them) and `cargo loadtest` (which writes them as JSON, JUnit and Markdown).
//!
//! The JSON report is one [`RunReport`]; its layout is versioned by [`SCHEMA_VERSION`] and
//! described by `schema/report.schema.json` in the repository. Latencies are whole microseconds.
//! Histograms are carried losslessly in HdrHistogram's interchange form, compressed V2 in base64
//! ([`Histogram`], the form `HdrHistogram.decode` of HdrHistogram's libraries reads), so a reader
//! can merge them and recompute any percentile. Each second of the series carries that second's
//! histograms too, so seconds can be merged and plotted exactly.

use crate::class::{IterationClass, RequestClass};
use loadtest_grammar::GatedMetric;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Formats microseconds for people: `850us`, `12.3ms`, `1.25s`.
pub fn human_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.1}ms", us / 1_000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}

/// Formats a rate for people: `96.9/s`, `2500/s`.
pub fn human_rate(per_s: f64) -> String {
    if per_s >= 100.0 {
        format!("{per_s:.0}/s")
    } else {
        format!("{per_s:.1}/s")
    }
}

/// The version of the JSON report layout. Bumped on any incompatible change.
///
/// - 1: histograms as uncompressed V2 (`HISTE...`), no histograms in the series.
/// - 2: histograms as compressed V2 (`HISTF...`); series points carry their second's
///   histograms. Readers of this version read version-1 reports too.
/// - 3: adds each request name's `exemplars` (its slowest requests, with their trace ids), an
///   optional field: a version-2 report reads as one without exemplars.
pub const SCHEMA_VERSION: u32 = 3;

/// The oldest report layout this version still reads (reports and baselines saved before).
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

/// One `cargo loadtest` run: what ran, where, and every test's results.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    /// Always [`SCHEMA_VERSION`] when written by this version.
    pub schema_version: u32,
    /// Where and when the run happened.
    pub run: RunInfo,
    /// The overall outcome.
    pub status: RunStatus,
    /// The process exit code the run ended with (see the README's exit code table).
    pub exit_code: i32,
    /// One entry per load test that was selected, in the order they ran.
    pub tests: Vec<TestReport>,
    /// The A/B gate against a base revision (`--baseline-rev`), when the run was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateSummary>,
}

/// How an A/B gate against a base revision ran: both revisions' tests interleaved on this
/// machine, round after round.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GateSummary {
    /// The base revision as given (`origin/main`).
    pub base_rev: String,
    /// The commit it resolved to.
    pub base_commit: String,
    /// Rounds asked for.
    pub rounds: u32,
    /// Rounds that ran to their end (fewer when interrupted).
    pub completed_rounds: u32,
    /// The duration of each run, when `--round-duration` overrode the tests' own.
    pub round_duration_s: Option<f64>,
    /// Wall time of the gate (both builds excluded), in seconds.
    pub duration_s: f64,
    /// Tests only in this revision (`target::name`): run and judged, not compared.
    pub new_tests: Vec<String>,
    /// Tests only in the base revision: not run.
    pub removed_tests: Vec<String>,
}

/// Where and when a run happened, and how it was asked for.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// `cargo-loadtest`'s version.
    pub tool_version: String,
    /// Start, as seconds since the Unix epoch.
    pub started_at_unix: f64,
    /// Wall time of the whole run (build excluded), in seconds.
    pub duration_s: f64,
    /// The workspace's git commit, when it is a git checkout.
    pub git_commit: Option<String>,
    /// The machine's host name.
    pub host: String,
    /// The number of CPUs the generator could use.
    pub cpus: usize,
    /// The command line, with secrets redacted.
    pub command_line: Vec<String>,
    /// The run was judged with `--fail-on-saturation` (a saturated generator fails its test).
    #[serde(default)]
    pub fail_on_saturation: bool,
    /// This run was one shard of a scale-out run (`--shard K/N`): which one, and what it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRun>,
    /// This report merges the reports of a scale-out run's shards (`cargo loadtest merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeInfo>,
}

/// Which shard of a scale-out run a process runs: shard `index` (1 to `count`) of `count`.
/// Written `K/N` (`2/3`); Kubernetes' `JOB_COMPLETION_INDEX` `i` is shard `i + 1`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardSpec {
    /// This shard, from 1.
    pub index: u32,
    /// How many shards the run has.
    pub count: u32,
}

/// The most shards a run may have.
pub const MAX_SHARDS: u32 = 10_000;

impl ShardSpec {
    /// Shard `index` of `count`, or why that is no shard (`index` from 1 to `count`, `count`
    /// from 1 to [`MAX_SHARDS`]).
    pub fn new(index: u32, count: u32) -> Result<ShardSpec, ShardError> {
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::CountOutOfRange { count });
        }
        if index == 0 || index > count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(ShardSpec { index, count })
    }

    /// Parses `K/N` (`2/3`: the second of three shards).
    pub fn parse(text: &str) -> Result<ShardSpec, ShardError> {
        let bad = |error| ShardError::Invalid {
            text: text.to_string(),
            error: Box::new(error),
        };
        let (k, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad(ShardError::NoSlash))?;
        let num = |s: &str, part| {
            s.trim().parse::<u32>().map_err(|_| {
                bad(ShardError::NotWhole {
                    part,
                    value: s.to_string(),
                })
            })
        };
        let (k, n) = (num(k, 'K')?, num(n, 'N')?);
        ShardSpec::new(k, n).map_err(bad)
    }

    /// The shard's position from 0 (`index - 1`).
    pub fn offset(&self) -> u64 {
        u64::from(self.index - 1)
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a shard is no shard: its count or index is out of range, or its text is not `K/N`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardError {
    /// The count is not from 1 to [`MAX_SHARDS`].
    CountOutOfRange {
        /// The count given.
        count: u32,
    },
    /// The index is not from 1 to the count.
    IndexOutOfRange {
        /// The index given.
        index: u32,
        /// The count.
        count: u32,
    },
    /// The text has no `/`.
    NoSlash,
    /// `K` or `N` (`part`) is not a whole number.
    NotWhole {
        /// `'K'` or `'N'`.
        part: char,
        /// What was written for it.
        value: String,
    },
    /// The text `K/N` does not give a shard: `error` says why.
    Invalid {
        /// The text as given.
        text: String,
        /// Why.
        error: Box<ShardError>,
    },
}

impl ShardError {
    /// The reason itself, inside the text it was read from.
    pub fn reason(&self) -> &ShardError {
        match self {
            ShardError::Invalid { error, .. } => error.reason(),
            other => other,
        }
    }
}

impl std::fmt::Display for ShardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShardError::CountOutOfRange { count } => write!(
                f,
                "the shard count {count} is out of range: 1 to {MAX_SHARDS}"
            ),
            ShardError::IndexOutOfRange { index, count } => write!(
                f,
                "shard {index} of {count} is out of range: shards are numbered 1 to {count}"
            ),
            ShardError::NoSlash => f.write_str("no `/`"),
            ShardError::NotWhole { part, value } => {
                write!(f, "{part} {value:?} is not a whole number")
            }
            ShardError::Invalid { text, error } => write!(
                f,
                "invalid shard {text:?}: {error}; expected K/N with 1 <= K <= N, e.g. 1/3"
            ),
        }
    }
}

impl std::error::Error for ShardError {}

/// What one shard of a scale-out run ran, and when.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ShardRun {
    /// This shard.
    pub shard: ShardSpec,
    /// The run's identity: a SHA-256 over the tool version, the harness binaries and every
    /// selected test's options (attribute and every layer above it). Shards of one run share it;
    /// `merge` refuses reports whose identities differ.
    pub identity: String,
    /// The SHA-256 of the archive's manifest, when the shard ran from `--archive-file`.
    #[serde(default)]
    pub archive: Option<String>,
    /// The SHA-256 of each harness binary, by `package::target`.
    #[serde(default)]
    pub binaries: BTreeMap<String, String>,
    /// The coordinated start (`--start-at`), as seconds since the Unix epoch.
    #[serde(default)]
    pub start_at_unix: Option<f64>,
    /// How long after the coordinated start (or, without one, after the run began) the first
    /// test's first iteration was scheduled, in seconds, by this host's clock.
    #[serde(default)]
    pub start_offset_s: Option<f64>,
    /// This host's clock when the shard began waiting for its start, as seconds since the Unix
    /// epoch (the shards' clocks are compared through it).
    pub host_clock_unix: f64,
    /// Whether thresholds and baselines were judged on this shard alone (`--judge-shard`); by
    /// default they are not, and `merge` judges the whole.
    #[serde(default)]
    pub judged: bool,
    /// The shard started after its `--start-at` (let in by `--start-grace`: a rerun pod) and
    /// joined the whole run's schedule in place this many seconds into it (its first test's
    /// [`TestResult::joined_at_s`]). Absent when it started on time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at_s: Option<f64>,
}

/// How a merged report came about.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MergeInfo {
    /// How many shards the run has.
    pub count: u32,
    /// The shards' common identity (see [`ShardRun::identity`]).
    pub identity: String,
    /// The archive the shards ran from, if any.
    #[serde(default)]
    pub archive: Option<String>,
    /// The SHA-256 of each harness binary the shards ran, by `package::target` (see
    /// [`ShardRun::binaries`]): what lets a merged report be merged again. Absent in reports
    /// merged before merged reports could be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binaries: Option<BTreeMap<String, String>>,
    /// Each shard merged, by index.
    pub shards: Vec<MergedShard>,
    /// Shards with no report: the merge is partial.
    pub missing: Vec<u32>,
    /// Some shards are missing.
    pub partial: bool,
    /// Reports not merged because another report of the same shard was kept (a shard that ran
    /// twice), one line each.
    #[serde(default)]
    pub ignored: Vec<String>,
    /// How far apart the shards' first iterations came, when they shared a `--start-at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew: Option<StartSkew>,
}

/// How far apart the shards of a run started: each shard's first iteration against the shared
/// `--start-at`, by its own host's clock (recorded as [`ShardRun::start_offset_s`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StartSkew {
    /// The latest start offset minus the earliest, in seconds.
    pub spread_s: f64,
    /// The share of the run's shard-time that ran out of step with the earliest shard: the sum
    /// of each shard's lag behind it over the shards' count times the longest shard's duration.
    pub displaced_share: f64,
    /// The shard that started last (its index).
    pub latest_shard: u32,
}

/// One shard's report as merged.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MergedShard {
    /// The shard's index (1 to the count).
    pub index: u32,
    /// The report file it came from.
    pub source: String,
    /// The host it ran on.
    pub host: String,
    /// When that run started (seconds since the Unix epoch, its host's clock).
    pub started_at_unix: f64,
    /// Its start offset (see [`ShardRun::start_offset_s`]).
    #[serde(default)]
    pub start_offset_s: Option<f64>,
    /// The coordinated start it had (see [`ShardRun::start_at_unix`]); the start skew of a
    /// merge of merged reports is computed from these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_unix: Option<f64>,
    /// How long its run took, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// It joined the run's schedule in place this many seconds in (see
    /// [`ShardRun::joined_at_s`]): a restarted shard, one of several reports of its index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at_s: Option<f64>,
}

/// The outcome of a whole run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every test passed.
    Passed,
    /// At least one test failed (threshold, error budget, regression, crash).
    Failed,
    /// The run was interrupted (Ctrl-C / SIGTERM); reports hold what ran.
    Interrupted,
}

/// A test's identity: its Cargo package, its cargo target (the harness binary) and its name.
///
/// Every place that matches one test with another (a baseline's test for the comparison and
/// the HTML overlay, an A/B gate's pair, a shard's part of a merge) compares identities; the
/// string form `package::target::name` exists once, in [`std::fmt::Display`]. A report keeps
/// the three as fields of [`TestReport`], so the JSON is what it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestId<'a> {
    /// The Cargo package.
    pub package: &'a str,
    /// The cargo target.
    pub target: &'a str,
    /// The load test's name.
    pub name: &'a str,
}

impl std::fmt::Display for TestId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{}::{}", self.package, self.target, self.name)
    }
}

impl<'a> TestId<'a> {
    /// `target::name`: how filters match a test and how the terminal, the summary and the live
    /// metrics' `test` label show it (the package is left out, as `cargo test` leaves it out).
    pub fn qualified(&self) -> String {
        format!("{}::{}", self.target, self.name)
    }

    /// Whether a name filter selects this test: with `exact`, the filter is the test's name or
    /// its `target::name`; without, a part of its `target::name`.
    pub fn matches(&self, filter: &str, exact: bool) -> bool {
        if exact {
            self.name == filter || self.qualified() == filter
        } else {
            self.qualified().contains(filter)
        }
    }

    /// The identity as an owned value, to keep as a key.
    pub fn to_buf(&self) -> TestIdBuf {
        TestIdBuf {
            package: self.package.to_string(),
            target: self.target.to_string(),
            name: self.name.to_string(),
        }
    }
}

/// An owned [`TestId`]: a test's identity kept beyond the report or listing it came from (the
/// live metrics' state, an error that names the test).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestIdBuf {
    /// The Cargo package.
    pub package: String,
    /// The cargo target.
    pub target: String,
    /// The load test's name.
    pub name: String,
}

impl TestIdBuf {
    /// The identity, borrowed.
    pub fn as_id(&self) -> TestId<'_> {
        TestId {
            package: &self.package,
            target: &self.target,
            name: &self.name,
        }
    }
}

impl From<TestId<'_>> for TestIdBuf {
    fn from(id: TestId<'_>) -> TestIdBuf {
        id.to_buf()
    }
}

impl std::fmt::Display for TestIdBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_id().fmt(f)
    }
}

impl TestReport {
    /// The test's identity.
    pub fn id(&self) -> TestId<'_> {
        TestId {
            package: &self.package,
            target: &self.target,
            name: &self.name,
        }
    }
}

impl RunReport {
    /// This run's test of identity `id`, if it has one: the one rule by which a baseline's
    /// test is found, for the comparison and for the HTML page's overlay alike.
    pub fn test(&self, id: TestId<'_>) -> Option<&TestReport> {
        self.tests.iter().find(|t| t.id() == id)
    }
}

/// One load test in a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TestReport {
    /// The Cargo package that holds the test.
    pub package: String,
    /// The test target (the harness binary's name).
    pub target: String,
    /// The load test's name (module path inside the target, then the function's name).
    pub name: String,
    /// The verdict.
    pub status: TestStatus,
    /// Why the test failed, one readable line per reason; empty when it passed.
    pub failures: Vec<String>,
    /// What the harness measured; absent when the harness crashed before finishing the test.
    pub result: Option<TestResult>,
    /// The harness's stderr tail or the error that kept the test from running.
    pub error: Option<String>,
    /// The comparison with a baseline, when one was given.
    #[serde(default)]
    pub comparison: Option<Comparison>,
    /// The capacity search, when the test ran under `cargo loadtest --find-max`. `result` then
    /// holds the step at the found capacity (or the last step run when no rate passed), its
    /// thresholds judged after the warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityResult>,
}

/// The verdict on one load test.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// Every threshold held and the error budget was kept.
    Passed,
    /// A threshold, the error budget or a regression check failed.
    Failed,
    /// The test could not run to its end: its harness crashed, its setup failed or it could not start.
    Errored,
    /// The run was interrupted while or before this test ran.
    Interrupted,
}

/// Everything the harness measured for one load test.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TestResult {
    /// The load test's name.
    pub name: String,
    /// When the test started (its first scheduled iteration), as seconds since the Unix epoch;
    /// the series' `t_s` count from here. `None` in reports of schema version 1.
    #[serde(default)]
    pub started_at_unix: Option<f64>,
    /// The configuration it ran with, after every override.
    pub config: ConfigSummary,
    /// Time from the first scheduled iteration to the end of the last, in seconds.
    pub elapsed_s: f64,
    /// The test was stopped early by an interrupt.
    pub interrupted: bool,
    /// The threshold that stopped the test early under `abort_on_fail`.
    pub aborted_by: Option<String>,
    /// Iteration counts.
    pub iterations: IterationCounts,
    /// Iteration latency. In the open model it is measured from the intended start time.
    pub iteration_latency: Histogram,
    /// Open model only: iteration latency measured from the actual start (not corrected).
    pub iteration_latency_uncorrected: Option<Histogram>,
    /// Totals over all HTTP requests (each retry attempt counts as a request).
    pub requests: RequestTotals,
    /// Per request name (`GET /path` by default, or the name given with `.name(..)`).
    pub request_names: BTreeMap<String, RequestMetrics>,
    /// Custom latencies recorded with `ctx.record(name, duration)`.
    pub custom_latencies: BTreeMap<String, Histogram>,
    /// Custom counters incremented with `ctx.count(name, n)`.
    pub custom_counters: BTreeMap<String, u64>,
    /// One point per second of the run.
    pub series: Vec<IntervalPoint>,
    /// Each threshold rule and its outcome, including the implicit error budget.
    pub thresholds: Vec<ThresholdOutcome>,
    /// The load generator's own health.
    pub generator: GeneratorHealth,
    /// The most frequent error messages, by class.
    pub errors: Vec<ErrorSample>,
    /// Whether every threshold held (the verdict before any baseline comparison).
    pub passed: bool,
    /// Connections opened and reused (native and hyper transports; zero on reqwest, whose pool is
    /// not seen).
    #[serde(default)]
    pub connections: ConnectionCounts,
    /// Phase timings of requests (native and hyper transports): `dns`, `connect`, `tls` (per connection
    /// opened), `first_byte` (request sent to response head) and `transfer` (head to end of body).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phases: BTreeMap<String, Histogram>,
    /// What the user should know about how the test was measured, one line each: request or
    /// custom metric names past `max_names`, counted under `(overflow)`.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// A merged result: each shard's own figures and generator health, by shard index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardHealth>,
    /// A merged result: the shards whose reports were missing (a partial merge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<u32>,
    /// A merged result: how far apart the shards started (see [`StartSkew`]), when they shared
    /// a `--start-at`; `merge` fails the test past its bound (`--max-skew`, `--allow-skew`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew: Option<StartSkew>,
    /// A shard's result: the shard started after the run's `--start-at` and joined this test's
    /// schedule in place, this many seconds into it. `started_at_unix` is then the schedule's
    /// origin (the `--start-at`), `elapsed_s` and the series count from there, and the seconds
    /// before the join hold the arrivals it missed ([`IntervalPoint::missed`]). Absent when
    /// the test started on time (and in merged results: see [`ShardHealth::joined_at_s`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at_s: Option<f64>,
}

/// One shard's part of a merged test: its own counts and its generator's health.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ShardHealth {
    /// The shard's index.
    pub shard: u32,
    /// The host it ran on.
    pub host: String,
    /// When the test started on that shard (seconds since the Unix epoch).
    pub started_at_unix: Option<f64>,
    /// Its elapsed time, in seconds.
    pub elapsed_s: f64,
    /// Iterations it completed.
    pub iterations: u64,
    /// Requests it sent.
    pub requests: u64,
    /// Its load generator's health.
    pub generator: GeneratorHealth,
    /// This part joined the run's schedule in place this many seconds in (a shard that started
    /// late, or restarted: see [`TestResult::joined_at_s`]). A restarted shard has one line per
    /// run: the run it was killed in, then the one that joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at_s: Option<f64>,
    /// The seconds of the schedule this part's load was missing before it joined: from the end
    /// of the same shard's earlier run (or from the start, without one) to the join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_s: Option<f64>,
    /// Open model: the arrivals of its share the merge counts as missed before its join (those
    /// of the seconds an earlier run of the shard covered are that run's, not missed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The resolved configuration of a test, as it ran.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ConfigSummary {
    /// `closed` (virtual users) or `open` (arrival rate).
    pub model: String,
    /// Closed model: the number of virtual users (the peak when ramping).
    pub users: Option<u64>,
    /// Open model: iterations started per second (the peak when ramping).
    pub rate_per_s: Option<f64>,
    /// Ramping stages as written (`30s:50`).
    pub stages: Vec<String>,
    /// The planned duration in seconds, when the test is bounded by time.
    pub duration_s: Option<f64>,
    /// The planned number of iterations, when bounded by count.
    pub iterations: Option<u64>,
    /// Think time between iterations (closed model), as written.
    pub think_time: Option<String>,
    /// Open model cap on concurrent iterations.
    pub max_in_flight: Option<u64>,
    /// `queue` or `drop`.
    pub on_saturation: Option<String>,
    /// Global request rate cap per second.
    pub rate_limit_per_s: Option<f64>,
    /// Retries per request.
    pub retries: u64,
    /// Backoff bounds as written.
    pub backoff: String,
    /// What is retried.
    pub retry_on: Vec<String>,
    /// Per-request timeout, as written.
    pub timeout: Option<String>,
    /// Per-iteration timeout, as written.
    pub iteration_timeout: Option<String>,
    /// Threshold rules as written.
    pub thresholds: Vec<String>,
    /// Stop at the first failing threshold.
    pub abort_on_fail: bool,
    /// Labels.
    pub tags: Vec<String>,
    /// The base URL of the system under test (the `target` option), credentials removed.
    #[serde(rename = "target")]
    pub base_url: Option<String>,
    /// Regression tolerances as written (`p99=20%`); the gate's defaults apply to other metrics.
    #[serde(default)]
    pub tolerance: Vec<String>,
    /// The run was a smoke check (`cargo test`), not a measured run.
    pub smoke: bool,
    /// TLS certificates were NOT verified: the test opted out with `danger_accept_invalid_certs`.
    #[serde(default)]
    pub danger_accept_invalid_certs: bool,
    /// The HTTP transport: `hyper` (per-user connections) or `reqwest`.
    #[serde(default = "default_client")]
    pub client: String,
    /// Whether each virtual user kept a cookie jar.
    #[serde(default = "default_true")]
    pub cookies: bool,
    /// Under `--shard K/N`: this shard's part of the load. The fields above describe the whole
    /// test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardPart>,
}

/// One shard's part of a test's load: shard K of N runs the global users `K-1, K-1+N, ...`,
/// every N-th arrival of the open model's schedule from arrival `K-1` (through ramping stages
/// too), and its share of the iteration budget, so that the shards add up exactly to the whole.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ShardPart {
    /// Which shard.
    pub shard: ShardSpec,
    /// Closed model: this shard's virtual users (at the peak).
    pub users: Option<u64>,
    /// Open model: this shard's arrival rate per second (at the peak).
    pub rate_per_s: Option<f64>,
    /// This shard's share of the iteration budget.
    pub iterations: Option<u64>,
    /// Open model: this shard's share of `max_in_flight`.
    pub max_in_flight: Option<u64>,
    /// This shard's share of the request rate cap.
    pub rate_limit_per_s: Option<f64>,
    /// The shard has no load of its own (more shards than users, or than iterations): it ends
    /// at once and says so.
    pub idle: bool,
}

/// Reports written before the field existed were all made with reqwest.
fn default_client() -> String {
    "reqwest".to_string()
}

fn default_true() -> bool {
    true
}

/// How a test's requests came by their connections.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ConnectionCounts {
    /// Connections opened.
    pub opened: u64,
    /// Requests sent on a connection kept from an earlier request.
    pub reused: u64,
    /// Kept connections found closed (by the server, or broken) and replaced by a new one.
    pub reopened: u64,
}

/// Iteration counts of one test.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IterationCounts {
    /// Iterations that ran to completion, ok or failed.
    pub total: u64,
    /// Iterations that returned `Ok`.
    pub ok: u64,
    /// Iterations that returned an error, panicked or timed out.
    pub failed: u64,
    /// Failed iterations by class (`user`, `panic`, `timeout`).
    pub failed_by_class: BTreeMap<IterationClass, u64>,
    /// Open model: iterations not started because `max_in_flight` was reached (`on_saturation = "drop"`).
    pub dropped: u64,
    /// Iterations that started more than 10 ms after their intended start.
    pub late: u64,
    /// Iterations cut short by the end of the test or an interrupt (not counted as failed).
    pub interrupted: u64,
    /// Open model: arrivals of the schedule never started because their shard joined the run
    /// late (restart in place: intended before the join, neither replayed nor dropped). The sum
    /// of the series' [`IntervalPoint::missed`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missed: u64,
    /// Completed iterations per second.
    pub rate_per_s: f64,
    /// Goodput, when the test declares an `slo`: the successful iterations whose own latency met
    /// it. Absent without an `slo`, and in reports from before the option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<Goodput>,
}

/// Goodput: successful iterations whose own latency (from the intended start in the open model,
/// as the iteration latency) was within the test's `slo`, in total and per second.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Goodput {
    /// The objective (`slo`), in microseconds.
    pub slo_us: u64,
    /// Successful iterations whose latency was at most `slo_us`.
    pub good: u64,
    /// `good` per second of the test (beside `rate_per_s`, the throughput).
    pub rate_per_s: f64,
}

/// Totals over the HTTP requests of one test.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RequestTotals {
    /// Requests sent, each retry attempt included.
    pub total: u64,
    /// Requests per second over the test.
    pub rate_per_s: f64,
    /// Requests by outcome class: `ok`, `http_4xx`, `http_5xx`, `connect`, `timeout`, `tls`, `body`,
    /// `other`, `closed`, `error` (an operation measured with `ctx.measure` that failed with
    /// its own error), for WebSocket handshakes and exchanges `ws_close_normal`,
    /// `ws_close_error` and `ws_protocol`, and for gRPC calls one class per status code other
    /// than OK: `grpc_cancelled`, `grpc_unknown`, `grpc_invalid_argument`,
    /// `grpc_deadline_exceeded`, `grpc_not_found`, `grpc_already_exists`,
    /// `grpc_permission_denied`, `grpc_resource_exhausted`, `grpc_failed_precondition`,
    /// `grpc_aborted`, `grpc_out_of_range`, `grpc_unimplemented`, `grpc_internal`,
    /// `grpc_unavailable`, `grpc_data_loss`, `grpc_unauthenticated`.
    pub by_class: BTreeMap<RequestClass, u64>,
    /// Responses by status code.
    pub by_status: BTreeMap<String, u64>,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Retry attempts made (a request retried twice counts 2).
    pub retries_attempted: u64,
    /// Requests that still failed after their last retry.
    pub retries_exhausted: u64,
}

/// Metrics of one request name.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RequestMetrics {
    /// Requests sent under this name.
    pub count: u64,
    /// By outcome class.
    pub by_class: BTreeMap<RequestClass, u64>,
    /// By status code.
    pub by_status: BTreeMap<String, u64>,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Latency from sending to the end of the response body.
    pub latency: Histogram,
    /// The slowest requests, with their trace ids (schema version 3; empty before).
    #[serde(default, skip_serializing_if = "crate::exemplar::Exemplars::is_empty")]
    pub exemplars: crate::exemplar::Exemplars,
    /// Streamed responses of this name (`Request::stream`): time to first byte, time to first
    /// event, the gaps between events, events and the streams' total time. Absent when no
    /// response of this name was read as a stream, and in reports from before streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamMetrics>,
}

/// What the streamed responses of one request name measured (a request read with
/// `Request::stream`: server-sent events, a chunked token stream, or any body read as it
/// arrives). Every time is from the request's start, as its latency is.
///
/// The events of a stream read with `next_event` are its server-sent events; those of a stream
/// read with `next_chunk` alone are its body's chunks as they arrived (a token stream without
/// framing). Events per second are `events` over the test's elapsed time.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StreamMetrics {
    /// Responses read as a stream, to their end or not.
    pub streams: u64,
    /// Of those, streams that broke off (the connection closed or broke in the middle of the
    /// body, a malformed chunk, the test's `timeout`): the request's class is `body` or `timeout`.
    pub broken: u64,
    /// Body chunks received, as the transport handed them out.
    pub chunks: u64,
    /// Events received (see above).
    pub events: u64,
    /// Time from the request's start to the first byte of the body (streams that had one).
    pub first_byte: Histogram,
    /// Time from the request's start to the first complete event (streams that had one).
    pub first_event: Histogram,
    /// The time between one event of a stream and the next (`events - streams with an event`
    /// values).
    pub gap: Histogram,
    /// Each stream's total time: from the request's start to the end of the stream (or to where
    /// it broke off, or was dropped by the test).
    pub duration: Histogram,
}

impl StreamMetrics {
    /// The histogram a threshold rule on a stream measure reads (`p99(gap:chat)`).
    pub fn measure(&self, measure: crate::grammar::StreamMeasure) -> &Histogram {
        use crate::grammar::StreamMeasure;
        match measure {
            StreamMeasure::FirstByte => &self.first_byte,
            StreamMeasure::FirstEvent => &self.first_event,
            StreamMeasure::Gap => &self.gap,
            StreamMeasure::Total => &self.duration,
        }
    }
}

/// A latency distribution: a summary plus the full HdrHistogram.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Histogram {
    /// Summary statistics, in microseconds.
    pub summary: LatencySummary,
    /// The HdrHistogram, compressed V2 (V2-deflate, `HISTF...`) then base64 (standard alphabet,
    /// padded), as HdrHistogram's libraries encode it; uncompressed V2 (`HISTE...`) in reports
    /// of schema version 1. [`crate::metrics::hdr::decode`] reads both.
    pub hdr_v2_base64: String,
}

/// Summary statistics of a latency distribution, in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    /// Number of values.
    pub count: u64,
    /// Smallest value.
    pub min_us: u64,
    /// Largest value.
    pub max_us: u64,
    /// Arithmetic mean.
    pub mean_us: f64,
    /// Standard deviation.
    pub stdev_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 95th percentile.
    pub p95_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
}

/// One second of a test.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IntervalPoint {
    /// Seconds since the test started, at the end of this interval.
    pub t_s: f64,
    /// Iterations completed in the interval.
    pub iterations: u64,
    /// Iterations that failed in the interval.
    pub failed: u64,
    /// Requests sent in the interval.
    pub requests: u64,
    /// Requests that were not `ok` in the interval.
    pub request_errors: u64,
    /// Open model: arrivals intended in the interval that were never started because their
    /// shard joined the run's schedule late (restart in place). A merged second's offered
    /// arrivals are its started, dropped and missed ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missed: u64,
    /// Median iteration latency in the interval.
    pub p50_us: u64,
    /// 95th percentile iteration latency in the interval.
    pub p95_us: u64,
    /// 99th percentile iteration latency in the interval.
    pub p99_us: u64,
    /// The interval's iteration latency (corrected in the open model), encoded as
    /// [`Histogram::hdr_v2_base64`]. `None` in reports of schema version 1.
    #[serde(default)]
    pub iteration_latency: Option<String>,
    /// Open model only: the interval's uncorrected iteration latency, likewise.
    #[serde(default)]
    pub iteration_latency_uncorrected: Option<String>,
    /// Each request name's latency in the interval, likewise; empty unless the run asked for
    /// them (`cargo loadtest --hlog`), since they grow the report with every name.
    #[serde(default)]
    pub request_latency: BTreeMap<String, String>,
    /// Each streamed request name's gaps between events in the interval, likewise (with
    /// `--hlog`, as `request_latency`); absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stream_gap: BTreeMap<String, String>,
}

/// The outcome of one threshold rule.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ThresholdOutcome {
    /// The rule as written (`p99 < 250ms`), or `error budget` for the implicit rule.
    pub rule: String,
    /// The observed value, in the rule's unit (microseconds, a fraction, or a count).
    pub observed: Option<f64>,
    /// Whether the rule held.
    pub passed: bool,
    /// A readable account (`p99 was 312ms, limit < 250ms`).
    pub message: String,
}

/// The load generator's own health during a test.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GeneratorHealth {
    /// CPU time the harness process used during the test, in seconds.
    pub cpu_seconds: f64,
    /// CPU use as a percentage of one core (200 means two cores busy).
    pub cpu_percent: f64,
    /// CPUs the load could use: those available to the process, or fewer when the runtime has
    /// fewer worker threads (`LOADTEST_WORKER_THREADS`, a current-thread runtime).
    pub cpus: usize,
    /// Peak resident memory of the harness process, in bytes.
    pub peak_rss_bytes: u64,
    /// How late iterations started compared with their schedule, in microseconds (the open
    /// model's; a closed-model run has no schedule, and this is empty).
    pub scheduling_lag: LatencySummary,
    /// Open-model iterations dropped.
    pub dropped: u64,
    /// Iterations started more than 10 ms late.
    pub late: u64,
    /// The generator could not keep up: results may understate the target's latency.
    pub saturated: bool,
    /// Why it is flagged, one line each.
    pub warnings: Vec<String>,
    /// Time the harness's threads spent ready to run but waiting for a CPU (the run queue
    /// wait of `/proc/self/task/*/schedstat`), in seconds; 0 where the platform does not tell.
    #[serde(default)]
    pub cpu_wait_seconds: f64,
    /// That wait as a percentage of the time the threads were ready to run (waiting plus
    /// running).
    #[serde(default)]
    pub cpu_wait_percent: f64,
    /// CPU time the hypervisor gave to other guests (steal, from `/proc/stat`), as a percentage
    /// of the machine's CPU time during the test.
    #[serde(default)]
    pub steal_percent: f64,
    /// Something else competed for the generator's CPUs (run queue wait or steal beyond the
    /// README's limits): latencies may include time the generator was not running.
    #[serde(default)]
    pub disturbed: bool,
}

/// A distinct error message and how often it occurred.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ErrorSample {
    /// The error class (`user`, `panic`, `timeout` for iterations; request classes for requests).
    pub class: String,
    /// The message, with secrets redacted.
    pub message: String,
    /// How many times it occurred.
    pub count: u64,
}

/// A test's comparison against a baseline (regression gate).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    /// Where the baseline came from.
    pub baseline: BaselineInfo,
    /// One verdict per metric.
    pub metrics: Vec<MetricComparison>,
    /// Whether any metric regressed.
    pub regressed: bool,
    /// Why a comparison could not be made (e.g. the baseline has no such test), if so.
    pub note: Option<String>,
    /// A/B gate: how many paired rounds (one run of each revision) the metrics come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
}

/// Where a baseline came from.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BaselineInfo {
    /// The baseline's name or file.
    pub source: String,
    /// The git commit the baseline was measured at.
    pub git_commit: Option<String>,
    /// The host it was measured on.
    pub host: String,
    /// When it was measured (seconds since the Unix epoch); the newest run's, for a baseline of
    /// several runs.
    pub started_at_unix: f64,
    /// How many runs a saved baseline holds (`--save-baseline` adds one; old baselines hold
    /// one). With at least three, each metric is compared with the runs' spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<u32>,
}

/// The verdict on one metric.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MetricVerdict {
    /// Worse beyond the tolerance, with confidence.
    Regressed,
    /// Better beyond the tolerance, with confidence.
    Improved,
    /// Neither.
    #[default]
    Unchanged,
    /// Too few one-second windows (or, A/B, paired rounds) to judge.
    InsufficientData,
    /// No verdict can be trusted: a generator was saturated, or the interval is too wide for the
    /// tolerance (the runs disagree too much, or are too short). Never a failure, never silent.
    Inconclusive,
}

/// One metric compared between the baseline and this run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricComparison {
    /// `p50`, `p95`, `p99` (iteration latency), `throughput`, `error_rate`, or (a capacity
    /// search) `capacity`.
    pub metric: GatedMetric,
    /// The baseline's value: median over one-second windows (microseconds for latencies,
    /// iterations per second for throughput; for `error_rate` the mean window error fraction);
    /// for a baseline of at least three runs, the geometric mean of its runs' values (the mean,
    /// for `error_rate`).
    pub old: f64,
    /// This run's value, likewise.
    pub new: f64,
    /// The estimated change: relative (`0.12` = +12%) for latencies and throughput, absolute
    /// (`0.01` = +1 percentage point) for `error_rate`. `None` with too few windows.
    pub change: Option<f64>,
    /// The lower bound of the change's confidence interval.
    pub ci_low: Option<f64>,
    /// The upper bound of the change's confidence interval.
    pub ci_high: Option<f64>,
    /// The confidence level of the interval (0.95).
    pub confidence: f64,
    /// The tolerance: a change must lie wholly beyond it to count.
    pub tolerance: f64,
    /// The verdict.
    pub verdict: MetricVerdict,
    /// Why the verdict is `inconclusive`, or (A/B gate) which rounds were left out of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Saved baselines: the spread the interval comes from, as the standard deviation of the
    /// natural logarithm of the values (about their coefficient of variation; for `error_rate`,
    /// of the fractions): between the baseline's runs when it holds at least three, otherwise
    /// between the one-second windows of its run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// Saved baselines, latency metrics: the absolute floor in microseconds. A change must also
    /// exceed it to count, so the tolerance in force is the larger of `tolerance` and
    /// `floor_us / old`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_us: Option<f64>,
}

/// A capacity search (`cargo loadtest --find-max`): the arrival rate rose in steps, each judged
/// on the test's thresholds after a warm-up, then bisection narrowed the highest passing rate.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CapacityResult {
    /// How the search was run.
    pub settings: CapacitySettings,
    /// Every step, in the order run.
    pub steps: Vec<CapacityStep>,
    /// How the search ended.
    pub outcome: CapacityOutcome,
    /// The highest rate (iterations per second) whose step met every rule; `None` when none did.
    pub capacity_per_s: Option<f64>,
    /// The lowest rate whose step did not (failed, failed badly, or its generator was
    /// saturated): the capacity lies in `[capacity_per_s, above_per_s)`. `None` when no step
    /// failed (the ceiling passed, or the search was interrupted first).
    pub above_per_s: Option<f64>,
    /// What broke at `above_per_s`: the failed rules (`rule: account`) or the generator's
    /// warnings, one line each.
    pub broken_by: Vec<String>,
    /// The outcome in one readable line.
    pub summary: String,
}

/// The settings of a capacity search.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CapacitySettings {
    /// The first step's rate, per second.
    pub start_rate_per_s: f64,
    /// The hard ceiling (`--max-rate`): no step runs above it.
    pub max_rate_per_s: f64,
    /// Each step's rate is this multiple of the last passing one until a step fails.
    pub growth: f64,
    /// The search stops when the bracket is narrower than this fraction of its low end.
    pub resolution: f64,
    /// The judged part of each step, in seconds.
    pub step_duration_s: f64,
    /// The warm-up before it, in seconds, whose samples are not judged.
    pub warm_up_s: f64,
    /// A step whose failed-iteration share is above this fraction fails badly and ends the search.
    pub cutoff_error_rate: f64,
    /// A step whose percentile rule is observed above this multiple of its limit fails badly
    /// and ends the search.
    pub cutoff_latency_factor: f64,
    /// The test passes only when its capacity is at least this (`min_capacity`), per second.
    pub min_capacity_per_s: Option<f64>,
}

/// One step of a capacity search, judged after its warm-up.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CapacityStep {
    /// The offered arrival rate, per second.
    pub rate_per_s: f64,
    /// The seconds judged (after the warm-up).
    pub judged_s: f64,
    /// Iterations completed in the judged seconds.
    pub iterations: u64,
    /// Of which failed.
    pub failed: u64,
    /// Completed iterations per second in the judged seconds.
    pub achieved_per_s: f64,
    /// `failed / iterations` (0 when none completed).
    pub error_rate: f64,
    /// Iteration latency in the judged seconds (from the intended start), microseconds.
    pub p50_us: u64,
    /// 95th percentile, likewise.
    pub p95_us: u64,
    /// 99th percentile, likewise.
    pub p99_us: u64,
    /// The step's verdict.
    pub verdict: StepVerdict,
    /// Why it did not pass, one line each; empty when it passed.
    pub reasons: Vec<String>,
}

/// The verdict on one step of a capacity search.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    /// Every rule held.
    #[default]
    Passed,
    /// A rule failed: the capacity is below this rate.
    Failed,
    /// A rule failed far beyond its limit (the cut-offs): the search stopped at once.
    FailedBadly,
    /// The load generator was saturated: this rate says nothing about the system.
    GeneratorLimited,
    /// Ctrl-C or SIGTERM cut the step short; it was not judged.
    Interrupted,
    /// The step could not run (its harness crashed or refused it).
    Errored,
}

/// How a capacity search ended.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CapacityOutcome {
    /// Bisection narrowed the capacity to the resolution.
    #[default]
    Found,
    /// Every step passed up to the ceiling (`--max-rate`): the capacity is at least that.
    AtCeiling,
    /// No rate passed, down to the lowest the search tries.
    NoPassingRate,
    /// A step failed badly and the search stopped at once.
    StoppedBadStep,
    /// The load generator was saturated at a step: the generator, not the system, was the limit.
    GeneratorLimited,
    /// Interrupted (Ctrl-C / SIGTERM); what was found so far is reported.
    Interrupted,
    /// A step could not run.
    Errored,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_errors_say_which_part_is_wrong() {
        assert_eq!(
            ShardSpec::new(0, 3),
            Err(ShardError::IndexOutOfRange { index: 0, count: 3 })
        );
        assert_eq!(
            ShardSpec::new(1, MAX_SHARDS + 1),
            Err(ShardError::CountOutOfRange {
                count: MAX_SHARDS + 1
            })
        );
        let e = ShardSpec::parse("4/3").unwrap_err();
        assert_eq!(
            e.reason(),
            &ShardError::IndexOutOfRange { index: 4, count: 3 }
        );
        assert_eq!(
            e.to_string(),
            "invalid shard \"4/3\": shard 4 of 3 is out of range: shards are numbered 1 to 3; expected K/N with 1 <= K <= N, e.g. 1/3"
        );
        assert_eq!(
            ShardSpec::parse("3").unwrap_err().reason(),
            &ShardError::NoSlash
        );
        assert_eq!(
            ShardSpec::parse("1/x").unwrap_err().reason(),
            &ShardError::NotWhole {
                part: 'N',
                value: "x".into()
            }
        );
        assert_eq!(
            ShardSpec::parse("k/3").unwrap_err().to_string(),
            "invalid shard \"k/3\": K \"k\" is not a whole number; expected K/N with 1 <= K <= N, e.g. 1/3"
        );
        assert_eq!(
            ShardSpec::parse(" 2/3 "),
            Ok(ShardSpec { index: 2, count: 3 })
        );
    }

    #[test]
    fn test_ids_match_filters_and_keep_their_forms() {
        let id = TestId {
            package: "shop",
            target: "api",
            name: "checkout::pay",
        };
        assert_eq!(id.to_string(), "shop::api::checkout::pay");
        assert_eq!(id.qualified(), "api::checkout::pay");
        assert!(id.matches("checkout", false) && id.matches("api::check", false));
        assert!(
            !id.matches("shop", false),
            "the package is not part of what filters match"
        );
        assert!(id.matches("checkout::pay", true) && id.matches("api::checkout::pay", true));
        assert!(!id.matches("checkout", true));
        let owned = id.to_buf();
        assert_eq!(owned.as_id(), id);
        assert_eq!(owned.to_string(), id.to_string());
        assert_ne!(
            owned,
            TestId {
                package: "other",
                ..id
            }
            .to_buf()
        );
    }
}
