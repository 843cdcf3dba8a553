//! Option layers above the attribute: `loadtest.toml` (workspace root), `LOADTEST_*`
//! environment variables, then the command line, in increasing precedence.
//!
//! ```toml
//! # loadtest.toml
//! [defaults]            # every load test
//! duration = "20s"
//!
//! [tests.checkout]      # one load test, by name
//! users = 10
//! thresholds = ["p99 < 300ms"]
//! ```

use crate::cli::RunArgs;
use crate::errors::CliError;
use loadtest_grammar::OptionLayer;
use std::collections::BTreeMap;
use std::path::Path;

/// The name of the optional workspace file.
pub(crate) const FILE_NAME: &str = "loadtest.toml";

/// The layers that apply to every test, and per-test layers from the workspace file.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    file_defaults: OptionLayer,
    file_tests: BTreeMap<String, OptionLayer>,
    env: OptionLayer,
    cli: OptionLayer,
}

impl Settings {
    /// Reads the workspace file, the environment and the flags; every value is validated here,
    /// before anything is built.
    pub(crate) fn load(root: &Path, args: &RunArgs) -> Result<Settings, CliError> {
        let mut s = Settings {
            cli: cli_layer(args)?,
            ..Settings::default()
        };
        let path = root.join(FILE_NAME);
        if path.is_file() {
            let text = std::fs::read_to_string(&path)
                .map_err(CliError::io(format!("cannot read {}", path.display())))?;
            let (defaults, tests) = parse_file(&text)
                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
            s.file_defaults = defaults;
            s.file_tests = tests;
        }
        s.env = OptionLayer::from_env(std::env::vars());
        s.env.validate().map_err(CliError::Usage)?;
        // Read by the harnesses; checked here so that a bad value stops the run before the build.
        loadtest_grammar::threads::worker_threads().map_err(CliError::Usage)?;
        Ok(s)
    }

    /// The layers for one test, lowest first.
    pub(crate) fn layers_for(&self, test: &str) -> Vec<OptionLayer> {
        let mut out = Vec::new();
        if !self.file_defaults.is_empty() {
            out.push(self.file_defaults.clone());
        }
        if let Some(l) = self.file_tests.get(test) {
            out.push(l.clone());
        }
        for l in [&self.env, &self.cli] {
            if !l.is_empty() {
                out.push(l.clone());
            }
        }
        out
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
    ];
    for (flag, option, value) in flags {
        if let Some(v) = value {
            loadtest_grammar::check_value(option, &[v.as_str()])
                .map_err(|e| CliError::Usage(format!("{flag}: {e}")))?;
            layer.set_str(option, v);
        }
    }
    Ok(layer)
}

fn parse_file(text: &str) -> Result<(OptionLayer, BTreeMap<String, OptionLayer>), String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
    let mut defaults = OptionLayer::new(format!("{FILE_NAME} [defaults]"));
    let mut tests = BTreeMap::new();
    for (key, value) in &doc {
        match (key.as_str(), value) {
            ("defaults", toml::Value::Table(t)) => fill(&mut defaults, t)?,
            ("tests", toml::Value::Table(t)) => {
                for (name, v) in t {
                    let toml::Value::Table(opts) = v else {
                        return Err(format!("[tests.{name}] must be a table of options"));
                    };
                    let mut layer = OptionLayer::new(format!("{FILE_NAME} [tests.{name}]"));
                    fill(&mut layer, opts)?;
                    tests.insert(name.clone(), layer);
                }
            }
            (other, _) => {
                return Err(format!(
                    "unknown section `{other}`; accepted: [defaults], [tests.NAME]"
                ));
            }
        }
    }
    Ok((defaults, tests))
}

fn fill(layer: &mut OptionLayer, table: &toml::Table) -> Result<(), String> {
    for (key, value) in table {
        let values = match value {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Integer(i) => vec![i.to_string()],
            toml::Value::Boolean(b) => vec![b.to_string()],
            toml::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{key}`: list items must be strings"))
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(format!(
                    "`{key}`: expected a string, integer, boolean or list of strings"
                ));
            }
        };
        layer.set(key, values);
    }
    layer.validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_tests() {
        let (d, t) = parse_file(
            "[defaults]\nduration = \"5s\"\n[tests.checkout]\nusers = 3\ntags = [\"a\"]\n",
        )
        .unwrap();
        assert_eq!(d.get("duration"), Some(&["5s".to_string()][..]));
        assert_eq!(t["checkout"].get("users"), Some(&["3".to_string()][..]));
    }

    #[test]
    fn rejects_bad_values_with_their_place() {
        let e = parse_file("[defaults]\nrate = \"lots\"\n").unwrap_err();
        assert!(
            e.contains("loadtest.toml [defaults]") && e.contains("\"lots\""),
            "{e}"
        );
        assert!(parse_file("[oops]\n").unwrap_err().contains("accepted"));
        assert!(
            parse_file("[defaults]\nbogus = 1\n")
                .unwrap_err()
                .contains("unknown option `bogus`")
        );
    }

    #[test]
    fn flags_are_validated_with_their_name() {
        let args = RunArgs {
            rate: Some("fast".into()),
            ..RunArgs::default()
        };
        let e = cli_layer(&args).unwrap_err().to_string();
        assert!(e.starts_with("--rate: invalid rate \"fast\""), "{e}");
    }
}
