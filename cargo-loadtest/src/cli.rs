//! The command line, with cargo's conventions: invoked as `cargo loadtest`, so the first argument
//! is the word `loadtest`; cargo's selection flags keep cargo's spelling.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `cargo`, as cargo invokes external subcommands (`cargo-loadtest loadtest ...`).
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", disable_help_subcommand = true)]
pub enum Cargo {
    /// Run the load tests of a workspace.
    Loadtest(LoadtestArgs),
}

/// `cargo loadtest [OPTIONS] [FILTER]... [-- HARNESS-ARGS]`
#[derive(Debug, Args)]
#[command(
    version,
    about = "Discover, build and run the #[load_test] functions of a workspace",
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 passed, 100 a load test failed, 101 build failed, 4 no load tests matched, 2 usage or configuration error, 130 interrupted."
)]
pub struct LoadtestArgs {
    /// A subcommand; without one, load tests run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of a run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the load tests: package, target, name, load model, tags.
    List(ListArgs),
    /// Compare two stored results (report files, folders holding report.json, or baseline names).
    Compare(CompareArgs),
    /// Render a stored report (a run, a baseline, a merged result) without rerunning it.
    #[command(
        long_about = "Render a stored report (report.json, or a folder holding one, or a baseline name) without rerunning it. --html writes the same self-contained page a run writes as report.html: the same report gives the same bytes. A report compared with a baseline shows the verdicts it holds; give that baseline with --baseline to draw its curves under the run's too."
    )]
    Report(ReportArgs),
    /// Check what on this machine limits a big run (open files, ports, memory) and say what to change.
    Doctor(DoctorArgs),
    /// Set a package up for load tests: the dev-dependency, a `[[test]]` target, a first test.
    #[command(
        long_about = "Set a package up for load tests: adds the dev-dependency on loadtest-runtime (by path inside a clone of the cargo-loadtest repository, else by version), a [[test]] target with harness = false, and loadtests/NAME.rs with a first load test and commented examples of each load model. Cargo.toml keeps its formatting and comments. Running it again when everything is in place changes nothing; an existing target or file of that name that is not what init writes is refused."
    )]
    Init(InitArgs),
    /// Write a load test from a HAR recording or an OpenAPI document.
    #[command(
        long_about = "Write a load test from what you have, as loadtests/NAME.rs with its [[test]] target (and the dev-dependency, as init adds it).\n\n--from-har replays a browser recording (HAR 1.2): the requests to one host in order, with their methods, bodies and relevant headers, the recorded pauses (ctx.think), and request names with {id} for dynamic path segments. Static assets, other hosts, preflights and redirects the client follows itself are left out. Cookies, Authorization and other secrets are never copied: each becomes an environment variable named in the test's doc comment.\n\n--from-openapi writes one load test per operation of an OpenAPI 3.0 or 3.1 document (YAML or JSON), with path parameters and JSON bodies from the document's examples (or placeholders from their schemas), .name() set to the operation's path template, and a p99 threshold for you to set.",
        after_help = "Examples:\n  cargo loadtest new --from-har session.har --only app.example.com\n  cargo loadtest new --from-openapi openapi.yaml --operations listPets,getPet"
    )]
    New(NewArgs),
    /// Build the selected load tests and write them, with a manifest, into one archive (tar +
    /// zstd) that `cargo loadtest --archive-file` runs on a machine with no toolchain.
    #[command(
        after_help = "Example:\n  cargo loadtest archive --archive-file loadtests.tar.zst\n  cargo-loadtest loadtest --archive-file loadtests.tar.zst --shard 1/3 --start-at 2026-12-02T10:00:00Z"
    )]
    Archive(ArchiveArgs),
    /// Run the shared setup hooks once for a whole scale-out run and write their values to a
    /// setup file that every shard reads (`--setup-file`) instead of running the hook.
    #[command(
        long_about = "Run the setup hook of each selected harness once for a whole scale-out run and write its value to the setup file: shards run with --setup-file PATH read it instead of running the hook, and do not run the teardown hook (`cargo loadtest teardown --setup-file PATH` runs it once, after the merge). Only hooks declared with `main!(shared_setup = ...)` (a value that serializes) can be shared; a harness with a plain `setup` hook is refused (exit 2); a harness without a setup hook is recorded as such. The file records each harness binary's SHA-256 (and the archive's identity): shards of other binaries refuse it. It holds the hook's value as JSON, as is: treat it as a secret if the value is one.",
        after_help = "Example:
  cargo-loadtest loadtest setup --archive-file loadtests.tar.zst --target http://app:8080 --setup-file setup.json
  cargo-loadtest loadtest --archive-file loadtests.tar.zst --shard 1/3 --setup-file setup.json ...
  cargo-loadtest loadtest teardown --archive-file loadtests.tar.zst --target http://app:8080 --setup-file setup.json

Exit codes: 0 the file was written, 100 a setup hook failed (no file is written; the hooks that had run are torn down), 2 usage error (a hook that is not shareable, a setup file path that is not a regular file, bad flags), 4 no load test matched, 101 the build failed."
    )]
    Setup(SetupArgs),
    /// Run the teardown hooks once for a whole scale-out run, given the values of a setup file.
    #[command(
        long_about = "Run the teardown hook of each selected harness once, given the value its shared setup hook wrote to the setup file (`cargo loadtest setup`). Run it after the shards (and the merge). Refused with exit 2, before any hook runs: a setup file that is missing or malformed, one written for other binaries or another archive, or one without an entry for a selected harness.",
        after_help = "Exit codes: 0 every teardown hook returned (or there was none), 100 a teardown hook failed (the others still run), 2 usage error (a bad or mismatched setup file), 4 no load test matched, 101 the build failed."
    )]
    Teardown(SetupArgs),
    /// Merge the reports of a scale-out run's shards exactly and judge the whole.
    #[command(
        long_about = "Merge the JSON reports of a scale-out run's shards (files, or folders searched for them): counts and HdrHistograms are added exactly, the per-second series aligned by wall-clock second, each shard's generator health kept. Thresholds, the error budget and the baseline gate are then judged on the merged data, and every report is written from it. Reports of different archives, binaries or options are refused (exit 2), a shard that ran twice keeps one report, and missing shards make the merge partial (a failure unless --allow-partial).",
        after_help = "Exit codes: 0 passed, 100 a load test failed (threshold, error budget, regression, partial merge), 2 bad input (unreadable report, reports of different runs), 130 a shard was interrupted."
    )]
    Merge(MergeArgs),
    /// The performance history of main: record runs, find change points per test and metric.
    #[command(
        long_about = "The performance history of main. `history record REPORT` adds one run's report to the history folder (one file per run, never rewritten). `history` finds, per test and metric (p50, p95, p99, throughput, error rate, each also per request name), the change points of the recorded runs: E-Divisive means with a Student's t-test, as Apache Otava does it. Runs whose load generator was saturated or disturbed are kept and left out of detection. The history folder is --history DIR, or LOADTEST_HISTORY, or TARGET_DIR/loadtest/history.",
        after_help = "Examples:\n  cargo loadtest history record target/loadtest/report.json --history perf-history\n  cargo loadtest history --history perf-history --fail-on-regression --html history.html\n\nExit codes: 0 done, 100 the newest run opened a regression change point (with --fail-on-regression), 2 bad input (a flag, a record of another version, a corrupt record)."
    )]
    History(HistoryArgs),
}

/// `cargo loadtest history [record REPORT]`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    /// `record`; without it, the history is analysed.
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    /// Options of the analysis.
    #[command(flatten)]
    pub analyze: HistoryAnalyzeArgs,
}

/// Subcommands of `cargo loadtest history`.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Add a run's report (report.json, or a folder holding one) to the history.
    Record(HistoryRecordArgs),
}

/// Where the history folder is.
#[derive(Debug, Args, Default, Clone)]
pub struct HistoryStoreArgs {
    /// The history folder (default: TARGET_DIR/loadtest/history).
    #[arg(long, value_name = "DIR", env = "LOADTEST_HISTORY")]
    pub history: Option<PathBuf>,
    /// Path to Cargo.toml (to find the target directory of the default folder).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// The target directory of the default folder.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

/// `cargo loadtest history record REPORT`
#[derive(Debug, Args)]
pub struct HistoryRecordArgs {
    /// The run's JSON report (or a folder holding report.json).
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// Where the history is.
    #[command(flatten)]
    pub store: HistoryStoreArgs,
}

/// `cargo loadtest history [OPTIONS]`
#[derive(Debug, Args, Default, Clone)]
pub struct HistoryAnalyzeArgs {
    /// Where the history is.
    #[command(flatten)]
    pub store: HistoryStoreArgs,
    /// The smallest change reported, as a percentage or a fraction (default 5%): the larger of
    /// |after/before - 1| and |before/after - 1|, as Otava measures it.
    #[arg(long, value_name = "PERCENT")]
    pub min_magnitude: Option<String>,
    /// The largest p-value of a change point's t-test (default 0.001).
    #[arg(long, value_name = "P")]
    pub max_pvalue: Option<String>,
    /// Runs analysed at once by the split step (default 50, as Otava's).
    #[arg(long, value_name = "RUNS")]
    pub window: Option<String>,
    /// The smallest change of a latency's mean reported, as METRIC=DURATION for p50, p95 or
    /// p99 (repeatable; defaults p50=250us, p95=500us, p99=1ms, the saved-baseline gate's;
    /// `p99=0us` keeps any size).
    #[arg(long, value_name = "METRIC=DURATION")]
    pub floor: Vec<String>,
    /// Write the change points as JSON (`-` for standard output).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write the series as CSV in Apache Otava's layout: into a folder, one file per test and an
    /// otava.yaml for `otava --config-file DIR/otava.yaml analyze TEST`; or one .csv file for a
    /// history of one test.
    #[arg(long, value_name = "DIR|PATH")]
    pub csv: Option<PathBuf>,
    /// Write one self-contained HTML page drawing each series with its change points.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Exit 100 when the newest run opened a regression change point (a latency or error rate
    /// up, a throughput down): one whose new level holds --confirm-runs runs now and did not
    /// without the newest run.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Runs a new level must hold before the newest run opens it (default 3: one or two slow
    /// runs in a row may be the machine; 1 announces a change on its first run).
    #[arg(long, value_name = "N")]
    pub confirm_runs: Option<String>,
}

/// `cargo loadtest archive [FILTER]... --archive-file PATH`
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Where to write the archive (tar + zstd, conventionally `.tar.zst`).
    #[arg(long, value_name = "PATH")]
    pub archive_file: PathBuf,
    /// Which load tests the archive holds.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Print only errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Build the harnesses with loadtest-runtime's `otlp` feature, so that runs of the archive
    /// can export over OTLP (`run --archive-file ... --otlp ENDPOINT`). Also on when
    /// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set.
    #[arg(long)]
    pub with_otlp: bool,
    /// Which packages and how to build them.
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

/// The environment variable naming the setup file (as `--setup-file` does).
pub const SETUP_FILE_VAR: &str = "LOADTEST_SETUP_FILE";

/// `cargo loadtest setup|teardown [FILTER]... --setup-file PATH`
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The setup file: written by `setup`, read by `teardown` and by shards
    /// (`cargo loadtest --setup-file PATH`); also LOADTEST_SETUP_FILE.
    #[arg(long, value_name = "PATH", env = SETUP_FILE_VAR)]
    pub setup_file: PathBuf,
    /// Whose harnesses' hooks run.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Base URL of the system under test, as the hooks see it (`configured_target()`).
    #[arg(long = "target", value_name = "URL")]
    pub base_url: Option<String>,
    /// The load tests of an archive instead of the workspace's.
    #[command(flatten)]
    pub archive: FromArchiveArgs,
    /// Print only errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Which packages and how to build them.
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    /// Arguments passed to every harness binary.
    #[arg(last = true, value_name = "HARNESS-ARGS")]
    pub harness_args: Vec<String>,
}

/// `cargo loadtest merge REPORT...|DIR`
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard reports (JSON files), or folders searched (recursively) for them.
    #[arg(value_name = "REPORT|DIR", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Judge a merge with missing shards on the shards that reported instead of failing it.
    #[arg(long)]
    pub allow_partial: bool,
    /// Fail the merged tests when the shards' first iterations came further apart than this
    /// (default 1s; only shards that shared a --start-at are compared).
    #[arg(long, value_name = "DURATION", conflicts_with = "allow_skew")]
    pub max_skew: Option<String>,
    /// Accept any start skew between the shards (still reported).
    #[arg(long)]
    pub allow_skew: bool,
    /// Fail a test whose load generator was saturated on any shard.
    #[arg(long)]
    pub fail_on_saturation: bool,
    /// Print only the summary and errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Where the merged run's reports go.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The baseline the merged run is compared with, and the one it is added to.
    #[command(flatten)]
    pub baselines: BaselineArgs,
    /// Options of the gate.
    #[command(flatten)]
    pub gate: GateArgs,
    /// The folder reports and named baselines live under (default: ./target).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

/// `cargo loadtest init [-p PACKAGE] [--name NAME]`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The package to set up (default: the package of the current directory or --manifest-path).
    #[arg(short, long, value_name = "SPEC")]
    pub package: Option<String>,
    /// The test target's name; the file is loadtests/NAME.rs.
    #[arg(long, value_name = "NAME", default_value = "loadtest")]
    pub name: String,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

/// `cargo loadtest new --from-har FILE | --from-openapi FILE`
#[derive(Debug, Args)]
#[command(
    group(clap::ArgGroup::new("source").required(true).args(["from_har", "from_openapi"])),
)]
pub struct NewArgs {
    /// A HAR 1.2 recording (as browsers export it) to replay.
    #[arg(long, value_name = "FILE")]
    pub from_har: Option<PathBuf>,
    /// An OpenAPI 3.0 or 3.1 document (YAML or JSON) to write tests for.
    #[arg(long, value_name = "FILE")]
    pub from_openapi: Option<PathBuf>,
    /// The test target's name (default: from the file's name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// HAR: replay the requests to this host (default: the host of the first page request).
    #[arg(long, value_name = "HOST", conflicts_with = "from_openapi")]
    pub only: Option<String>,
    /// OpenAPI: the operations to test, by operationId or as "METHOD /path" (default: all).
    #[arg(
        long,
        value_name = "OPERATION",
        value_delimiter = ',',
        conflicts_with = "from_har"
    )]
    pub operations: Vec<String>,
    /// The package to add the test to (default: the package of the current directory).
    #[arg(short, long, value_name = "SPEC")]
    pub package: Option<String>,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

/// `cargo loadtest report FILE --html OUT`
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report: a report.json file, a folder holding one, or a baseline name.
    pub report: String,
    /// Where to write the HTML page.
    #[arg(long, value_name = "PATH")]
    pub html: PathBuf,
    /// The baseline the report was compared with (file, folder or baseline name), for its
    /// curves overlaid on the report's.
    #[arg(long, value_name = "BASELINE")]
    pub baseline: Option<String>,
    /// A trace viewer's URL with {trace_id} where a trace id goes: the page links each slowest
    /// request's trace id through it.
    #[arg(long, value_name = "TEMPLATE", value_parser = crate::output::trace_url::TraceUrl::parse)]
    pub trace_url: Option<crate::output::trace_url::TraceUrl>,
    /// Path to Cargo.toml (to find the target directory that holds named baselines).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// The target directory that holds named baselines.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

/// `cargo loadtest doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The connections the run should hold open at once (to one target address and port).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub connections: u64,
}

/// `cargo loadtest compare OLD NEW`
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a report file, a folder holding report.json, or a baseline name.
    pub old: String,
    /// The result to judge, likewise.
    pub new: String,
    /// Options of the gate.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Where to write the JSON report of the comparison.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Where to write the JUnit XML report of the comparison.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Where to write the Markdown report of the comparison.
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Where to write the results in Bencher's metric format (BMF JSON).
    #[arg(long, value_name = "PATH")]
    pub bmf: Option<PathBuf>,
    /// Path to Cargo.toml (to find the target directory that holds named baselines).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// The target directory that holds named baselines.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

/// Options of the regression gate, shared by runs and `compare`.
#[derive(Debug, Args, Default, Clone)]
pub struct GateArgs {
    /// Compare even when the load models differ.
    #[arg(long)]
    pub force_compare: bool,
    /// A regression tolerance, METRIC=PERCENT (p50, p95, p99, throughput, error_rate), or an
    /// absolute floor METRIC=DURATION (p50, p95, p99; e.g. p50=250us); repeatable.
    #[arg(long, value_name = "METRIC=PERCENT")]
    pub tolerance: Vec<String>,
}

/// The capacity search: `--find-max --max-rate RATE` and how its steps are run.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Capacity search")]
pub struct CapacityArgs {
    /// Find each selected open-model test's capacity: raise the arrival rate in steps, judge
    /// each on the test's thresholds, bisect between the last passing and the first failing rate.
    #[arg(
        long,
        requires = "max_rate",
        conflicts_with_all = ["users", "duration", "iterations"]
    )]
    pub find_max: bool,
    /// The hard ceiling of the search: no step runs above this rate (required with --find-max).
    #[arg(long, value_name = "RATE", requires = "find_max")]
    pub max_rate: Option<String>,
    /// The first step's rate (default: the test's own rate).
    #[arg(long, value_name = "RATE", requires = "find_max")]
    pub start_rate: Option<String>,
    /// The judged part of each step (default 5s).
    #[arg(long, value_name = "DURATION", requires = "find_max")]
    pub step_duration: Option<String>,
    /// The warm-up at the start of each step, not judged (default 1s).
    #[arg(long, value_name = "DURATION", requires = "find_max")]
    pub warm_up: Option<String>,
    /// Stop bisecting when the bracket is narrower than this share of its low end (default 5%).
    #[arg(long, value_name = "PERCENT", requires = "find_max")]
    pub resolution: Option<String>,
    /// A step with more failed iterations than this share fails badly and ends the search
    /// (default 50%).
    #[arg(long, value_name = "PERCENT", requires = "find_max")]
    pub cutoff_errors: Option<String>,
    /// A step whose percentile rule (such as p99 < 250ms) is over this multiple of its limit
    /// fails badly and ends the search (default 5, i.e. 5x).
    #[arg(long, value_name = "FACTOR", requires = "find_max")]
    pub cutoff_latency: Option<String>,
}

/// `cargo loadtest list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
    /// Which packages and how to build them.
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

/// The format of `cargo loadtest list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table.
    Human,
    /// JSON, one document.
    Json,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when the output is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Package selection and build flags, as cargo spells them.
#[derive(Debug, Args, Default, Clone)]
pub struct WorkspaceArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Package(s) whose load tests to run.
    #[arg(short, long, value_name = "SPEC")]
    pub package: Vec<String>,
    /// All packages of the workspace (the default when no -p is given).
    #[arg(long)]
    pub workspace: bool,
    /// Exclude packages (with --workspace).
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,
    /// Features to activate (space or comma separated).
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Build profile (default: release; load generators are not measured in debug builds).
    #[arg(long, value_name = "NAME", default_value = "release")]
    pub profile: String,
    /// Directory for all generated artifacts (reports go to its `loadtest/` folder).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Require Cargo.lock to be up to date.
    #[arg(long)]
    pub locked: bool,
    /// Run without accessing the network.
    #[arg(long)]
    pub offline: bool,
    /// Require Cargo.lock and the cache to be up to date.
    #[arg(long)]
    pub frozen: bool,
    /// Coloring (also from CARGO_TERM_COLOR).
    #[arg(long, value_enum, value_name = "WHEN", env = "CARGO_TERM_COLOR")]
    pub color: Option<Color>,
}

/// Where a run's (or a merge's) reports go: each flag's default is under
/// TARGET_DIR/loadtest/, or not written when the flag says so.
#[derive(Debug, Args, Default, Clone)]
pub struct OutputArgs {
    /// Where to write the JSON report (default: TARGET_DIR/loadtest/report.json).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Where to write the JUnit XML report (default: TARGET_DIR/loadtest/junit.xml).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Where to write the Markdown report (default: TARGET_DIR/loadtest/report.md).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Where to write the results in Bencher's metric format (BMF JSON); not written by default.
    #[arg(long, value_name = "PATH")]
    pub bmf: Option<PathBuf>,
    /// Write the per-test summary as CSV to PATH and the per-second series to PATH-series.csv
    /// (microseconds, per second); not written by default.
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// Write one HdrHistogram interval log per test into DIR (TARGET.TEST.hlog): one interval per
    /// second, tagged iteration, iteration_uncorrected and request:NAME. Also keeps each request
    /// name's per-second histograms in the JSON report's series.
    #[arg(long, value_name = "DIR")]
    pub hlog: Option<PathBuf>,
    /// Where to write the HTML report, one self-contained page with charts (default:
    /// TARGET_DIR/loadtest/report.html).
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// A trace viewer's URL with {trace_id} where a trace id goes, e.g.
    /// 'https://tempo.example/trace/{trace_id}': the HTML and Markdown reports link each slowest
    /// request's trace id through it.
    #[arg(long, value_name = "TEMPLATE", value_parser = crate::output::trace_url::TraceUrl::parse)]
    pub trace_url: Option<crate::output::trace_url::TraceUrl>,
}

/// Which load tests a command takes: `run`, `archive`, `setup` and `teardown` share these.
#[derive(Debug, Args, Default, Clone)]
pub struct SelectArgs {
    /// Only load tests whose name contains one of these (or equals one, with --exact).
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Match filters exactly.
    #[arg(long)]
    pub exact: bool,
    /// Skip load tests whose name contains this (repeatable).
    #[arg(long, value_name = "FILTER")]
    pub skip: Vec<String>,
    /// Only load tests with this tag (repeatable; any tag matches).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
}

/// The saved baselines a run or a merge is compared with and added to.
#[derive(Debug, Args, Default, Clone)]
pub struct BaselineArgs {
    /// Add the results to the named baseline (TARGET_DIR/loadtest/baselines/NAME/), which keeps
    /// its newest --keep-runs runs; with 3 or more, comparisons use the spread between them.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// How many runs the saved baseline keeps, newest first (default 5; 1 replaces it with this
    /// run).
    #[arg(long, value_name = "N", requires = "save_baseline")]
    pub keep_runs: Option<String>,
    /// Compare against the named baseline; a regression fails the run (exit 100).
    #[arg(long, value_name = "NAME", conflicts_with = "baseline_file")]
    pub baseline: Option<String>,
    /// Compare against a stored result file (or a folder holding report.json), e.g. a committed one.
    #[arg(long, value_name = "PATH")]
    pub baseline_file: Option<PathBuf>,
}

/// The load tests of an archive written by `cargo loadtest archive` instead of the
/// workspace's: no cargo, no source tree needed (`run`, `setup`, `teardown`).
#[derive(Debug, Args, Default, Clone)]
pub struct FromArchiveArgs {
    /// Run the load tests of this archive (written by `cargo loadtest archive`).
    #[arg(long, value_name = "PATH")]
    pub archive_file: Option<PathBuf>,
    /// Where to extract the archive (default: a temporary folder, removed afterwards).
    #[arg(long, value_name = "DIR", requires = "archive_file")]
    pub extract_to: Option<PathBuf>,
}

/// Options of a run.
#[derive(Debug, Args, Default, Clone)]
pub struct RunArgs {
    /// Which load tests run.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Base URL of the system under test (overrides LOADTEST_TARGET and attributes).
    #[arg(long = "target", value_name = "URL")]
    pub base_url: Option<String>,
    /// Virtual users (switches a test to the closed model).
    #[arg(long, value_name = "N")]
    pub users: Option<String>,
    /// Arrival rate such as 500/s (switches a test to the open model).
    #[arg(long, value_name = "RATE")]
    pub rate: Option<String>,
    /// How long each test runs, such as 30s or 1m30s.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Total iterations per test.
    #[arg(long, value_name = "N")]
    pub iterations: Option<String>,
    /// Request retries.
    #[arg(long, value_name = "N")]
    pub retries: Option<String>,
    /// The HTTP transport: native (the default: per-user connections, HTTP/1.1 exchanged in
    /// place), hyper (the same connections through hyper's client) or reqwest (proxies).
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// With --find-max: a test passes only when its capacity is at least this rate, e.g. 2000/s
    /// (the `min_capacity` option).
    #[arg(long, value_name = "RATE")]
    pub min_capacity: Option<String>,
    /// W3C trace context on requests: on (the default: a traceparent per request, a trace per
    /// iteration), propagate (ids only, never sampled) or off (the `trace` option).
    #[arg(long, value_name = "MODE")]
    pub trace: Option<String>,
    /// The share of iterations whose traceparent is sampled, 0 to 1 or a percentage, e.g. 0.1
    /// or 10% (the `trace_sample` option; default 1).
    #[arg(long, value_name = "FRACTION")]
    pub trace_sample: Option<String>,
    /// Print only the summary and errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Fail a test whose load generator was saturated (dropped iterations, scheduling lag, CPU).
    #[arg(long)]
    pub fail_on_saturation: bool,
    /// Where the reports go.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Export each test's metrics over OTLP/HTTP (protobuf) to ENDPOINT, e.g.
    /// http://localhost:4318 (`/v1/metrics` is added unless it ends with it): exponential
    /// histograms of request and iteration durations and counters, every 10 s and at the end.
    /// Also on when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set;
    /// OTEL_EXPORTER_OTLP_HEADERS apply. Builds the harnesses with loadtest-runtime's `otlp`
    /// feature.
    #[arg(long, value_name = "ENDPOINT")]
    pub otlp: Option<String>,
    /// Serve live OpenMetrics / Prometheus metrics at http://ADDR/metrics while the run lasts:
    /// PORT or :PORT listen on 127.0.0.1, HOST:PORT where given (0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Watch the run in a browser: serve a live page (the HTML report, updated every second,
    /// with a Stop control) at http://ADDR/, printed at the start. `--dashboard` alone listens
    /// on 127.0.0.1 at a free port; `--dashboard=PORT` or `--dashboard=HOST:PORT` where given
    /// (any other than loopback needs --dashboard-token). Its Stop control ends the run as
    /// Ctrl-C does (exit 130, every report written). At the end the page shows the final report,
    /// sent to every open page before the run exits (waiting at most 5 s).
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = crate::live::dashboard::access::DEFAULT_ADDR
    )]
    pub dashboard: Option<String>,
    /// The token every dashboard request must carry (open the page with ?token=TOKEN): at least
    /// 16 letters, digits, '-', '_', '.' or '~', or `generate` for a random one printed at the
    /// start; also LOADTEST_DASHBOARD_TOKEN (kept off the command line). Required on an address
    /// other than loopback. Reports show it as [redacted].
    #[arg(
        long,
        value_name = "TOKEN",
        env = "LOADTEST_DASHBOARD_TOKEN",
        hide_env_values = true
    )]
    pub dashboard_token: Option<String>,
    /// The dashboard shows the run but cannot stop it (no Stop control).
    #[arg(long, requires = "dashboard")]
    pub dashboard_read_only: bool,
    /// The baseline the run is compared with, and the one it is added to.
    #[command(flatten)]
    pub baselines: BaselineArgs,
    /// A/B gate: build REV (a commit, branch or tag) in a temporary git worktree and run both
    /// revisions' tests interleaved on this machine, round after round; a regression fails the
    /// run (exit 100).
    #[arg(long, value_name = "REV", conflicts_with_all = ["baseline", "baseline_file", "save_baseline"])]
    pub baseline_rev: Option<String>,
    /// A/B gate: rounds, each one run of both revisions in random order (default 6; at least 3).
    #[arg(long, value_name = "N", requires = "baseline_rev")]
    pub rounds: Option<String>,
    /// A/B gate: how long each run lasts, overriding the tests' durations (e.g. 5s).
    #[arg(long, value_name = "DURATION", requires = "baseline_rev")]
    pub round_duration: Option<String>,
    /// Options of the gate.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Run shard K of N of every selected test (users, rates and iteration budgets split
    /// exactly); also LOADTEST_SHARD=K/N, or JOB_COMPLETION_INDEX (shard index + 1) with
    /// --shard-count.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// The number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed
    /// Job); also LOADTEST_SHARD_COUNT.
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u32>,
    /// Under sharding, judge thresholds and baselines on this shard alone (by default the
    /// shard is not judged: `cargo loadtest merge` judges the whole).
    #[arg(long)]
    pub judge_shard: bool,
    /// Hold the first test until this instant: RFC 3339 (2026-12-02T10:00:00Z, or with an
    /// offset) or seconds since the Unix epoch. A time already past is refused (exit 2).
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Accept a --start-at up to this long ago and start at once (a shard that was rerun).
    #[arg(long, value_name = "DURATION", requires = "start_at")]
    pub start_grace: Option<String>,
    /// Read the shared setup hooks' values from this file (written once for the whole run by
    /// `cargo loadtest setup`) instead of running the hooks; the teardown hooks do not run
    /// either (`cargo loadtest teardown`). Also LOADTEST_SETUP_FILE.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["baseline_rev", "find_max"])]
    pub setup_file: Option<PathBuf>,
    /// The load tests of an archive instead of the workspace's.
    #[command(flatten)]
    pub archive: FromArchiveArgs,
    /// Options of the capacity search.
    #[command(flatten)]
    pub capacity: CapacityArgs,
    /// Which packages and how to build them.
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    /// Arguments passed to every harness binary.
    #[arg(last = true, value_name = "HARNESS-ARGS")]
    pub harness_args: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_is_consistent() {
        Cargo::command().debug_assert();
    }

    #[test]
    fn parses_init_and_new() {
        let Cargo::Loadtest(a) =
            Cargo::try_parse_from(["cargo", "loadtest", "init", "-p", "app"]).unwrap();
        assert!(
            matches!(a.command, Some(Command::Init(InitArgs { package: Some(ref p), ref name, .. })) if p == "app" && name == "loadtest")
        );
        let Cargo::Loadtest(a) = Cargo::try_parse_from([
            "cargo",
            "loadtest",
            "new",
            "--from-openapi",
            "api.yaml",
            "--operations",
            "a,GET /b",
        ])
        .unwrap();
        let Some(Command::New(n)) = a.command else {
            panic!("not new")
        };
        assert_eq!(n.operations, ["a", "GET /b"]);
        for bad in [
            &["cargo", "loadtest", "new"][..],
            &[
                "cargo",
                "loadtest",
                "new",
                "--from-har",
                "a",
                "--from-openapi",
                "b",
            ],
            &[
                "cargo",
                "loadtest",
                "new",
                "--from-openapi",
                "b",
                "--only",
                "h",
            ],
        ] {
            assert!(Cargo::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_history_and_its_record() {
        let Cargo::Loadtest(a) = Cargo::try_parse_from([
            "cargo",
            "loadtest",
            "history",
            "record",
            "r.json",
            "--history",
            "h",
        ])
        .unwrap();
        let Some(Command::History(HistoryArgs {
            command: Some(HistoryCommand::Record(r)),
            ..
        })) = a.command
        else {
            panic!("not history record")
        };
        assert_eq!(r.report.to_str(), Some("r.json"));
        assert_eq!(r.store.history.as_deref(), Some(std::path::Path::new("h")));
        let Cargo::Loadtest(a) = Cargo::try_parse_from([
            "cargo",
            "loadtest",
            "history",
            "--min-magnitude",
            "10%",
            "--fail-on-regression",
        ])
        .unwrap();
        let Some(Command::History(h)) = a.command else {
            panic!("not history")
        };
        assert!(h.command.is_none() && h.analyze.fail_on_regression);
        assert_eq!(h.analyze.min_magnitude.as_deref(), Some("10%"));
        assert!(Cargo::try_parse_from(["cargo", "loadtest", "history", "record"]).is_err());
    }

    #[test]
    fn parses_report_and_the_watch_flags() {
        let Cargo::Loadtest(a) = Cargo::try_parse_from([
            "cargo", "loadtest", "report", "r.json", "--html", "out.html",
        ])
        .unwrap();
        let Some(Command::Report(r)) = a.command else {
            panic!("not report")
        };
        assert_eq!(
            (r.report.as_str(), r.html.to_str()),
            ("r.json", Some("out.html"))
        );
        assert!(Cargo::try_parse_from(["cargo", "loadtest", "report", "r.json"]).is_err());
        let Cargo::Loadtest(a) = Cargo::try_parse_from([
            "cargo",
            "loadtest",
            "--metrics-listen",
            "9464",
            "--html",
            "x.html",
        ])
        .unwrap();
        assert_eq!(a.run.metrics_listen.as_deref(), Some("9464"));
        // `--dashboard` takes its address only after `=`: a next word is a test filter.
        let run = |args: &[&str]| {
            let Cargo::Loadtest(a) =
                Cargo::try_parse_from(["cargo", "loadtest"].iter().chain(args)).unwrap();
            a.run
        };
        let r = run(&["--dashboard", "home"]);
        assert_eq!(
            (r.dashboard.as_deref(), r.select.filters.as_slice()),
            (
                Some(crate::live::dashboard::access::DEFAULT_ADDR),
                &["home".to_string()][..]
            )
        );
        let r = run(&["--dashboard=0.0.0.0:8080", "--dashboard-read-only"]);
        assert_eq!(r.dashboard.as_deref(), Some("0.0.0.0:8080"));
        assert!(r.dashboard_read_only && r.select.filters.is_empty());
        assert!(run(&[]).dashboard.is_none());
        assert_eq!(
            a.run.output.html.as_deref(),
            Some(std::path::Path::new("x.html"))
        );
    }

    #[test]
    fn parses_setup_and_teardown() {
        for (word, teardown) in [("setup", false), ("teardown", true)] {
            let Cargo::Loadtest(a) = Cargo::try_parse_from([
                "cargo",
                "loadtest",
                word,
                "--setup-file",
                "s.json",
                "--archive-file",
                "a.tar.zst",
                "--target",
                "http://127.0.0.1:1",
                "api",
            ])
            .unwrap();
            let s = match a.command {
                Some(Command::Setup(s)) if !teardown => s,
                Some(Command::Teardown(s)) if teardown => s,
                other => panic!("{word}: {other:?}"),
            };
            assert_eq!(s.setup_file.to_str(), Some("s.json"));
            assert_eq!(s.select.filters, ["api"]);
            assert_eq!(s.base_url.as_deref(), Some("http://127.0.0.1:1"));
        }
        let Cargo::Loadtest(a) = Cargo::try_parse_from([
            "cargo",
            "loadtest",
            "--setup-file",
            "s.json",
            "--shard",
            "1/3",
        ])
        .unwrap();
        assert_eq!(
            a.run.setup_file.as_deref(),
            Some(std::path::Path::new("s.json"))
        );
        assert!(
            Cargo::try_parse_from([
                "cargo",
                "loadtest",
                "--setup-file",
                "s.json",
                "--find-max",
                "--max-rate",
                "10/s"
            ])
            .is_err()
        );
    }

    #[test]
    fn parses_cargo_style() {
        let Cargo::Loadtest(a) = Cargo::try_parse_from([
            "cargo", "loadtest", "-p", "demo", "--rate", "100", "browse", "--", "--x",
        ])
        .unwrap();
        assert_eq!(a.run.workspace.package, ["demo"]);
        assert_eq!(a.run.rate.as_deref(), Some("100"));
        assert_eq!(a.run.select.filters, ["browse"]);
        assert_eq!(a.run.harness_args, ["--x"]);
        let Cargo::Loadtest(a) =
            Cargo::try_parse_from(["cargo", "loadtest", "list", "--format", "json"]).unwrap();
        assert!(matches!(
            a.command,
            Some(Command::List(ListArgs {
                format: ListFormat::Json,
                ..
            }))
        ));
    }
}
