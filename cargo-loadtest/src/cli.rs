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
    /// A regression tolerance, METRIC=PERCENT (p50, p95, p99, throughput, error_rate); repeatable.
    #[arg(long, value_name = "METRIC=PERCENT")]
    pub tolerance: Vec<String>,
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

/// Options of a run.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Run only load tests whose name contains one of these (or equals one, with --exact).
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Match filters exactly.
    #[arg(long)]
    pub exact: bool,
    /// Skip load tests whose name contains this (repeatable).
    #[arg(long, value_name = "FILTER")]
    pub skip: Vec<String>,
    /// Run only load tests with this tag (repeatable; any tag matches).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
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
    /// Print only the summary and errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Fail a test whose load generator was saturated (dropped iterations, scheduling lag, CPU).
    #[arg(long)]
    pub fail_on_saturation: bool,
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
    /// Save this run's results as the named baseline (TARGET_DIR/loadtest/baselines/NAME/).
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Compare against the named baseline; a regression fails the run (exit 100).
    #[arg(long, value_name = "NAME", conflicts_with = "baseline_file")]
    pub baseline: Option<String>,
    /// Compare against a stored result file (or a folder holding report.json), e.g. a committed one.
    #[arg(long, value_name = "PATH")]
    pub baseline_file: Option<PathBuf>,
    /// Options of the gate.
    #[command(flatten)]
    pub gate: GateArgs,
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
    fn parses_cargo_style() {
        let Cargo::Loadtest(a) = Cargo::try_parse_from([
            "cargo", "loadtest", "-p", "demo", "--rate", "100", "browse", "--", "--x",
        ])
        .unwrap();
        assert_eq!(a.run.workspace.package, ["demo"]);
        assert_eq!(a.run.rate.as_deref(), Some("100"));
        assert_eq!(a.run.filters, ["browse"]);
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
