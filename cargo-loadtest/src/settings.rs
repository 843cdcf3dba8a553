//! Option layers above the attribute: `loadtest.toml` (workspace root, parsed and checked by
//! [`WorkspaceFile`]), `LOADTEST_*` environment variables, then the command line, in increasing
//! precedence.

use crate::cli::RunArgs;
use crate::errors::CliError;
use loadtest_grammar::{OptionLayer, WorkspaceFile};
use loadtest_report::report::TestId;
use std::collections::BTreeMap;
use std::path::Path;

/// The layers that apply to every test, and per-test layers from the workspace file.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    file: WorkspaceFile,
    env: OptionLayer,
    cli: OptionLayer,
    /// Where the run exports its metrics over OTLP (`--otlp`, `OTEL_EXPORTER_OTLP_*`), if it does.
    otlp: Option<loadtest_report::protocol::OtlpExport>,
}

impl Settings {
    /// Reads the workspace file, the environment and the flags; every value is validated here,
    /// before anything is built.
    pub(crate) fn load(root: &Path, args: &RunArgs) -> Result<Settings, CliError> {
        let file = WorkspaceFile::read(root)
            .map_err(CliError::usage)?
            .unwrap_or_default();
        Settings::with_file(file, args)
    }

    /// Like [`Settings::load`], with the workspace file's layers given (from an archive's
    /// manifest) instead of read.
    pub(crate) fn with_file_layers(
        defaults: OptionLayer,
        tests: BTreeMap<String, OptionLayer>,
        args: &RunArgs,
    ) -> Result<Settings, CliError> {
        Settings::with_file(WorkspaceFile { defaults, tests }, args)
    }

    fn with_file(file: WorkspaceFile, args: &RunArgs) -> Result<Settings, CliError> {
        let mut s = Settings {
            cli: cli_layer(args)?,
            file,
            ..Settings::default()
        };
        s.env = OptionLayer::from_env(std::env::vars());
        s.env.validate().map_err(CliError::usage)?;
        // Read by the harnesses; checked here so that a bad value stops the run before the build.
        loadtest_grammar::threads::worker_threads().map_err(CliError::usage)?;
        s.otlp = crate::otlp::resolve(args.otlp.as_deref(), |k| std::env::var(k).ok())
            .map_err(CliError::Usage)?;
        Ok(s)
    }

    /// Where the run exports its metrics over OTLP, if it does.
    pub(crate) fn otlp(&self) -> Option<&loadtest_report::protocol::OtlpExport> {
        self.otlp.as_ref()
    }

    /// The build's arguments: the harnesses get loadtest-runtime's `otlp` feature when the run
    /// exports.
    pub(crate) fn build_args(&self, args: &crate::cli::WorkspaceArgs) -> crate::cli::WorkspaceArgs {
        crate::otlp::build_args(args, self.otlp.is_some())
    }

    /// The workspace file's layers: `[defaults]` and `[tests.NAME]`.
    pub(crate) fn file_layers(&self) -> (&OptionLayer, &BTreeMap<String, OptionLayer>) {
        (&self.file.defaults, &self.file.tests)
    }

    /// The layers for one test, lowest first: `[tests.NAME]` of the workspace file applies to
    /// the tests of that name, in whichever package and target.
    pub(crate) fn layers_for(&self, test: TestId<'_>) -> Vec<OptionLayer> {
        let mut out = Vec::new();
        if !self.file.defaults.is_empty() {
            out.push(self.file.defaults.clone());
        }
        if let Some(l) = self.file.tests.get(test.name) {
            out.push(l.clone());
        }
        for l in [&self.env, &self.cli] {
            if !l.is_empty() {
                out.push(l.clone());
            }
        }
        out
    }

    /// Refuses `[tests.NAME]` sections of the workspace file that name no load test of
    /// `registered` (every test of the workspace, before filters).
    pub(crate) fn check_test_names<'a>(
        &self,
        registered: impl IntoIterator<Item = TestId<'a>> + Clone,
    ) -> Result<(), CliError> {
        self.file
            .check_test_names(registered.into_iter().map(|id| id.name).collect::<Vec<_>>())
            .map_err(CliError::usage)
    }

    /// The base URL for the whole run (`--target`, then `LOADTEST_TARGET`), for setup hooks.
    pub(crate) fn run_base_url(&self) -> Option<String> {
        [&self.cli, &self.env]
            .iter()
            .find_map(|l| l.get("target").and_then(|v| v.first().cloned()))
    }
}

fn cli_layer(args: &RunArgs) -> Result<OptionLayer, CliError> {
    let mut layer = OptionLayer::new("the command line");
    let flags = [
        ("--target", "target", &args.base_url),
        ("--users", "users", &args.users),
        ("--rate", "rate", &args.rate),
        ("--duration", "duration", &args.duration),
        ("--iterations", "iterations", &args.iterations),
        ("--retries", "retries", &args.retries),
        ("--client", "client", &args.client),
        ("--min-capacity", "min_capacity", &args.min_capacity),
        ("--trace", "trace", &args.trace),
        ("--trace-sample", "trace_sample", &args.trace_sample),
    ];
    for (flag, option, value) in flags {
        if let Some(v) = value {
            loadtest_grammar::check_value(option, &[v.as_str()]).map_err(CliError::flag(flag))?;
            layer.set_str(option, v);
        }
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::GrammarError;

    #[test]
    fn flags_are_validated_with_their_name() {
        let args = RunArgs {
            rate: Some("fast".into()),
            ..RunArgs::default()
        };
        let e = cli_layer(&args).unwrap_err().to_string();
        assert!(e.starts_with("--rate: invalid rate \"fast\""), "{e}");
        let args = RunArgs {
            trace_sample: Some("1.5".into()),
            ..RunArgs::default()
        };
        let e = cli_layer(&args).unwrap_err();
        assert!(
            matches!(&e, CliError::FlagValue { flag, error: GrammarError::Option(_) } if flag == "--trace-sample"),
            "{e:?}"
        );
        assert_eq!(e.exit_code(), 2);
        let e = e.to_string();
        assert!(
            e.starts_with("--trace-sample: ")
                && e.contains("\"1.5\"")
                && e.contains("fraction from 0 to 1"),
            "{e}"
        );
        let args = RunArgs {
            trace: Some("maybe".into()),
            ..RunArgs::default()
        };
        let e = cli_layer(&args).unwrap_err().to_string();
        assert!(
            e.starts_with("--trace: ") && e.contains("\"propagate\""),
            "{e}"
        );
    }
}
