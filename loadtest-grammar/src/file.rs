//! The workspace file `loadtest.toml`: `[defaults]` for every load test and `[tests.NAME]` for
//! one. Parsed and checked here only, for both `cargo loadtest` and smoke runs under
//! `cargo test`: unknown sections and options are errors with a "did you mean", and
//! [`WorkspaceFile::check_test_names`] refuses `[tests.NAME]` sections that name no load test.
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

use crate::OptionLayer;
use crate::options as grammar;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The name of the optional workspace file.
pub const FILE_NAME: &str = "loadtest.toml";

/// The option layers of a workspace file.
#[derive(Clone, Debug, Default)]
pub struct WorkspaceFile {
    /// `[defaults]`: applies to every load test.
    pub defaults: OptionLayer,
    /// `[tests.NAME]`: applies to the load test named NAME.
    pub tests: BTreeMap<String, OptionLayer>,
}

impl WorkspaceFile {
    /// Parses and validates the text of a workspace file; the error names the section, the
    /// option and the value, and what is accepted.
    pub fn parse(text: &str) -> Result<WorkspaceFile, String> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
        let mut file = WorkspaceFile {
            defaults: OptionLayer::new(format!("{FILE_NAME} [defaults]")),
            tests: BTreeMap::new(),
        };
        for (key, value) in &doc {
            match (key.as_str(), value) {
                ("defaults", toml::Value::Table(t)) => fill(&mut file.defaults, t)?,
                ("tests", toml::Value::Table(t)) => {
                    for (name, v) in t {
                        let toml::Value::Table(opts) = v else {
                            return Err(format!("[tests.{name}] must be a table of options"));
                        };
                        let mut layer = OptionLayer::new(format!("{FILE_NAME} [tests.{name}]"));
                        fill(&mut layer, opts)?;
                        file.tests.insert(name.clone(), layer);
                    }
                }
                (other, _) => {
                    let hint = grammar::closest(other, ["defaults", "tests"])
                        .map(|c| format!(" (did you mean [{c}]?)"))
                        .unwrap_or_default();
                    return Err(format!(
                        "unknown section `{other}`{hint}; accepted: [defaults], [tests.NAME]"
                    ));
                }
            }
        }
        Ok(file)
    }

    /// Reads `dir/loadtest.toml`, if there is one.
    pub fn read(dir: &Path) -> Result<Option<WorkspaceFile>, String> {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        WorkspaceFile::parse(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Finds the workspace file for a smoke run: `loadtest.toml` in `start` or the nearest
    /// folder above it, looking no higher than the first folder whose `Cargo.toml` declares a
    /// `[workspace]` (the workspace root, where `cargo loadtest` reads it).
    pub fn find(start: &Path) -> Option<PathBuf> {
        for dir in start.ancestors() {
            if dir.join(FILE_NAME).is_file() {
                return Some(dir.to_path_buf());
            }
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
            if manifest.lines().any(|l| l.trim() == "[workspace]") {
                return None;
            }
        }
        None
    }

    /// Refuses `[tests.NAME]` sections that name none of `registered` (the load tests of the
    /// workspace), suggesting the closest name.
    pub fn check_test_names<'a>(
        &self,
        registered: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<(), String> {
        for name in self.tests.keys() {
            if registered.clone().into_iter().any(|r| r == name) {
                continue;
            }
            let hint = grammar::closest(name, registered.clone())
                .map(|c| format!(" did you mean [tests.{c}]?"))
                .unwrap_or_default();
            let mut known: Vec<&str> = registered.clone().into_iter().collect();
            known.sort_unstable();
            known.dedup();
            return Err(format!(
                "{FILE_NAME}: [tests.{name}] names no load test of the workspace;{hint} the load tests are: {}",
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
        Ok(())
    }
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
        let f = WorkspaceFile::parse(
            "[defaults]\nduration = \"5s\"\n[tests.checkout]\nusers = 3\ntags = [\"a\"]\n",
        )
        .unwrap();
        assert_eq!(f.defaults.get("duration"), Some(&["5s".to_string()][..]));
        assert_eq!(
            f.tests["checkout"].get("users"),
            Some(&["3".to_string()][..])
        );
    }

    #[test]
    fn rejects_bad_values_with_their_place() {
        let e = WorkspaceFile::parse("[defaults]\nrate = \"lots\"\n").unwrap_err();
        assert!(
            e.contains("loadtest.toml [defaults]") && e.contains("\"lots\""),
            "{e}"
        );
        assert!(
            WorkspaceFile::parse("[oops]\n")
                .unwrap_err()
                .contains("accepted")
        );
        let e = WorkspaceFile::parse("[default]\n").unwrap_err();
        assert!(e.contains("did you mean [defaults]?"), "{e}");
        let e = WorkspaceFile::parse("[tests.a]\nuser = 1\n").unwrap_err();
        assert!(
            e.contains("[tests.a]") && e.contains("unknown option `user` (did you mean `users`?)"),
            "{e}"
        );
    }

    #[test]
    fn unknown_test_names_are_refused_with_the_closest() {
        let f = WorkspaceFile::parse("[tests.chekout]\nusers = 2\n").unwrap();
        let e = f.check_test_names(["checkout", "browse"]).unwrap_err();
        assert!(
            e.contains("[tests.chekout]") && e.contains("did you mean [tests.checkout]?"),
            "{e}"
        );
        f.check_test_names(["chekout"]).unwrap();
    }
}
