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
use crate::error::LayerError;
use crate::options as grammar;
use std::collections::BTreeMap;
use std::fmt;
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
    pub fn parse(text: &str) -> Result<WorkspaceFile, FileError> {
        let doc: toml::Table = toml::from_str(text).map_err(FileError::NotToml)?;
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
                            return Err(FileError::NotATable { test: name.clone() });
                        };
                        let mut layer = OptionLayer::new(format!("{FILE_NAME} [tests.{name}]"));
                        fill(&mut layer, opts)?;
                        file.tests.insert(name.clone(), layer);
                    }
                }
                (other, _) => {
                    return Err(FileError::UnknownSection {
                        section: other.to_string(),
                        suggestion: grammar::closest(other, ["defaults", "tests"]),
                    });
                }
            }
        }
        Ok(file)
    }

    /// Reads `dir/loadtest.toml`, if there is one.
    pub fn read(dir: &Path) -> Result<Option<WorkspaceFile>, FileError> {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Ok(None);
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => return Err(FileError::Read { path, error }),
        };
        WorkspaceFile::parse(&text)
            .map(Some)
            .map_err(|error| FileError::In {
                path,
                error: Box::new(error),
            })
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
    ) -> Result<(), FileError> {
        for name in self.tests.keys() {
            if registered.clone().into_iter().any(|r| r == name) {
                continue;
            }
            let mut known: Vec<String> =
                registered.clone().into_iter().map(str::to_string).collect();
            known.sort_unstable();
            known.dedup();
            return Err(FileError::UnknownTest {
                test: name.clone(),
                suggestion: grammar::closest(name, registered.clone()).map(str::to_string),
                known,
            });
        }
        Ok(())
    }
}

/// Why a workspace file cannot be used: the section, the option and the value, and what is
/// accepted.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// An error in the file at `path`.
    In {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        error: Box<FileError>,
    },
    /// The text is not TOML.
    NotToml(toml::de::Error),
    /// A section that is neither `[defaults]` nor `[tests.NAME]`.
    UnknownSection {
        /// The section's name.
        section: String,
        /// The section it probably meant.
        suggestion: Option<&'static str>,
    },
    /// `[tests.NAME]` is not a table.
    NotATable {
        /// NAME.
        test: String,
    },
    /// A list option with an item that is not a string.
    ListItemNotString {
        /// The option.
        option: String,
    },
    /// An option whose value is not a string, an integer, a boolean or a list of strings.
    UnsupportedValue {
        /// The option.
        option: String,
    },
    /// An option of a section that the grammar refuses.
    Option(LayerError),
    /// `[tests.NAME]` names no load test of the workspace.
    UnknownTest {
        /// NAME.
        test: String,
        /// The load test it probably meant.
        suggestion: Option<String>,
        /// The load tests of the workspace, sorted.
        known: Vec<String>,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Read { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            FileError::In { path, error } => write!(f, "{}: {error}", path.display()),
            FileError::NotToml(e) => write!(f, "not valid TOML: {e}"),
            FileError::UnknownSection {
                section,
                suggestion,
            } => {
                write!(f, "unknown section `{section}`")?;
                if let Some(c) = suggestion {
                    write!(f, " (did you mean [{c}]?)")?;
                }
                f.write_str("; accepted: [defaults], [tests.NAME]")
            }
            FileError::NotATable { test } => {
                write!(f, "[tests.{test}] must be a table of options")
            }
            FileError::ListItemNotString { option } => {
                write!(f, "`{option}`: list items must be strings")
            }
            FileError::UnsupportedValue { option } => write!(
                f,
                "`{option}`: expected a string, integer, boolean or list of strings"
            ),
            FileError::Option(e) => e.fmt(f),
            FileError::UnknownTest {
                test,
                suggestion,
                known,
            } => {
                write!(
                    f,
                    "{FILE_NAME}: [tests.{test}] names no load test of the workspace;"
                )?;
                if let Some(c) = suggestion {
                    write!(f, " did you mean [tests.{c}]?")?;
                }
                write!(
                    f,
                    " the load tests are: {}",
                    if known.is_empty() {
                        "(none)".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            }
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Read { error, .. } => Some(error),
            FileError::In { error, .. } => Some(&**error),
            FileError::NotToml(e) => Some(e),
            FileError::Option(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LayerError> for FileError {
    fn from(e: LayerError) -> FileError {
        FileError::Option(e)
    }
}

fn fill(layer: &mut OptionLayer, table: &toml::Table) -> Result<(), FileError> {
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
                        .ok_or_else(|| FileError::ListItemNotString {
                            option: key.clone(),
                        })
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(FileError::UnsupportedValue {
                    option: key.clone(),
                });
            }
        };
        layer.set(key, values);
    }
    Ok(layer.validate()?)
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
        let e = WorkspaceFile::parse("[defaults]\nrate = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("loadtest.toml [defaults]") && e.contains("\"lots\""),
            "{e}"
        );
        assert!(
            WorkspaceFile::parse("[oops]\n")
                .unwrap_err()
                .to_string()
                .contains("accepted")
        );
        let e = WorkspaceFile::parse("[default]\n").unwrap_err().to_string();
        assert!(e.contains("did you mean [defaults]?"), "{e}");
        let e = WorkspaceFile::parse("[tests.a]\nuser = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[tests.a]") && e.contains("unknown option `user` (did you mean `users`?)"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_section_option_and_value() {
        match WorkspaceFile::parse("[defaults]\nrate = \"lots\"\n").unwrap_err() {
            FileError::Option(LayerError { layer, error }) => {
                assert_eq!(layer, "loadtest.toml [defaults]");
                assert!(
                    matches!(&error, crate::OptionError::Value { option, error } if option == "rate" && error.value == "lots"),
                    "{error:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            WorkspaceFile::parse("[default]\n").unwrap_err(),
            FileError::UnknownSection { section, suggestion: Some("defaults") } if section == "default"
        ));
        assert!(matches!(
            WorkspaceFile::parse("[tests]\na = 1\n").unwrap_err(),
            FileError::NotATable { test } if test == "a"
        ));
        assert!(matches!(
            WorkspaceFile::parse("[defaults]\ntags = [1]\n").unwrap_err(),
            FileError::ListItemNotString { option } if option == "tags"
        ));
        assert!(matches!(
            WorkspaceFile::parse("[defaults]\nusers = 1.5\n").unwrap_err(),
            FileError::UnsupportedValue { option } if option == "users"
        ));
        assert!(matches!(
            WorkspaceFile::parse("[defaults\n").unwrap_err(),
            FileError::NotToml(_)
        ));
        let f = WorkspaceFile::parse("[tests.chekout]\nusers = 2\n").unwrap();
        match f.check_test_names(["checkout", "browse"]).unwrap_err() {
            FileError::UnknownTest {
                test,
                suggestion,
                known,
            } => {
                assert_eq!(test, "chekout");
                assert_eq!(suggestion.as_deref(), Some("checkout"));
                assert_eq!(known, ["browse", "checkout"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            f.check_test_names([]).unwrap_err().to_string(),
            "loadtest.toml: [tests.chekout] names no load test of the workspace; the load tests are: (none)"
        );
    }

    #[test]
    fn read_names_the_file() {
        let dir =
            std::env::temp_dir().join(format!("loadtest-grammar-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), "[oops]\n").unwrap();
        let e = WorkspaceFile::read(&dir).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let FileError::In { path, error } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(path, &dir.join(FILE_NAME));
        assert!(matches!(**error, FileError::UnknownSection { .. }));
        assert_eq!(
            e.to_string(),
            format!(
                "{}: unknown section `oops`; accepted: [defaults], [tests.NAME]",
                dir.join(FILE_NAME).display()
            )
        );
    }

    #[test]
    fn unknown_test_names_are_refused_with_the_closest() {
        let f = WorkspaceFile::parse("[tests.chekout]\nusers = 2\n").unwrap();
        let e = f
            .check_test_names(["checkout", "browse"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[tests.chekout]") && e.contains("did you mean [tests.checkout]?"),
            "{e}"
        );
        f.check_test_names(["chekout"]).unwrap();
    }
}
