//! Stored results: saving a run as a named baseline, and loading a baseline by name, from a
//! committed file or folder, or any saved report.

use crate::errors::CliError;
use crate::output::atomic;
use loadtest_report::report::{OLDEST_SCHEMA_VERSION, RunReport, SCHEMA_VERSION};
use std::path::{Path, PathBuf};

/// The file a baseline folder holds.
pub const BASELINE_FILE: &str = "report.json";

/// Checks a baseline name: letters, digits, `.`, `_` and `-`, not starting with `.` nor holding
/// `..`, so that a name can never point outside the baselines folder or look like it does.
pub fn check_name(name: &str) -> Result<(), CliError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "invalid baseline name {name:?}: use letters, digits, '.', '_' and '-' (not starting with '.' nor holding \"..\"), at most 100 characters, e.g. \"main\" or \"v1.2\""
        )))
    }
}

/// The folder of named baselines: `TARGET_DIR/loadtest/baselines`.
pub fn baselines_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("loadtest").join("baselines")
}

/// The file of a named baseline.
pub fn named_path(target_dir: &Path, name: &str) -> Result<PathBuf, CliError> {
    check_name(name)?;
    Ok(baselines_dir(target_dir).join(name).join(BASELINE_FILE))
}

/// Saves a run as the named baseline (atomically: a crash leaves the previous one intact).
pub fn save(target_dir: &Path, name: &str, report: &RunReport) -> Result<PathBuf, CliError> {
    let path = named_path(target_dir, name)?;
    let json = serde_json::to_vec_pretty(report).expect("reports always serialize");
    atomic::write(&path, &json)?;
    Ok(path)
}

/// Reads a stored result: a report file, or a folder holding `report.json`.
pub fn load_file(path: &Path) -> Result<RunReport, CliError> {
    read_report(path, "baseline")
}

/// Reads a report file (or a folder holding `report.json`); `what` names it in errors
/// (`baseline`, `shard report`).
pub fn read_report(path: &Path, what: &str) -> Result<RunReport, CliError> {
    let file = if path.is_dir() {
        path.join(BASELINE_FILE)
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        CliError::Usage(format!("cannot read the {what} {}: {e} (expected a report.json written by cargo loadtest, or a folder holding one)", file.display()))
    })?;
    let again = if what == "baseline" {
        "save it again with --save-baseline"
    } else {
        "write it again"
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "the {what} {} is not valid JSON ({e}); it may be corrupted: {again}",
            file.display()
        ))
    })?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if (u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&v) => {}
        Some(v) => {
            return Err(CliError::Usage(format!(
                "the {what} {} has schema_version {v}; this cargo-loadtest reads versions {OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION}",
                file.display()
            )));
        }
        None => {
            return Err(CliError::Usage(format!(
                "the {what} {} is not a cargo-loadtest report (no schema_version)",
                file.display()
            )));
        }
    }
    serde_json::from_value(value).map_err(|e| {
        CliError::Usage(format!(
            "the {what} {} is not a valid cargo-loadtest report: {e}",
            file.display()
        ))
    })
}

/// Loads a named baseline.
pub fn load_named(target_dir: &Path, name: &str) -> Result<RunReport, CliError> {
    let path = named_path(target_dir, name)?;
    if !path.is_file() {
        return Err(CliError::Usage(format!(
            "no baseline named {name:?} (looked for {}); save one with `cargo loadtest --save-baseline {name}`",
            path.display()
        )));
    }
    load_file(&path)
}

/// Loads `spec` as a file or folder if it exists as a path, else as a baseline name.
pub fn load_spec(target_dir: &Path, spec: &str) -> Result<(RunReport, String), CliError> {
    let p = Path::new(spec);
    if p.exists() {
        Ok((load_file(p)?, p.display().to_string()))
    } else if looks_like_path(spec) {
        Err(CliError::Usage(format!(
            "no such file or folder: {spec:?}; compare takes report files (report.json written by cargo loadtest), folders holding one, or names of baselines saved with --save-baseline"
        )))
    } else {
        Ok((load_named(target_dir, spec)?, spec.to_string()))
    }
}

/// Whether a compare argument is meant as a path rather than a baseline name.
fn looks_like_path(spec: &str) -> bool {
    spec.contains(['/', '\\']) || spec.ends_with(".json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_folder() {
        for bad in [
            "", "..", "../x", "a/b", ".hidden", "a\\b", "x y", "/abs", "a..b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["main", "v1.2", "pr-17_base"] {
            check_name(good).unwrap();
        }
    }

    #[test]
    fn missing_and_corrupt_files_are_usage_errors() {
        let dir =
            std::env::temp_dir().join(format!("cargo-loadtest-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(
            matches!(load_named(&dir, "nope"), Err(CliError::Usage(m)) if m.contains("no baseline named \"nope\""))
        );
        let f = dir.join("bad.json");
        std::fs::write(&f, "{ truncated").unwrap();
        assert!(matches!(load_file(&f), Err(CliError::Usage(m)) if m.contains("not valid JSON")));
        std::fs::write(&f, "{\"schema_version\": 99}").unwrap();
        assert!(
            matches!(load_file(&f), Err(CliError::Usage(m)) if m.contains("schema_version 99"))
        );
        std::fs::write(&f, "{\"schema_version\": 1}").unwrap();
        assert!(
            matches!(load_file(&f), Err(CliError::Usage(m)) if m.contains("not a valid cargo-loadtest report"))
        );
        assert!(
            matches!(load_spec(&dir, "target/loadtest/nope.json"), Err(CliError::Usage(m)) if m.starts_with("no such file or folder: \"target/loadtest/nope.json\""))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
