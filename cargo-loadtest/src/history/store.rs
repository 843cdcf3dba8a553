//! The history folder: one JSON file per run, added and never changed.
//!
//! Appending writes the record to a temporary file in the folder (named with a leading dot,
//! which readers skip), flushes it to disk, then hard-links it to its final name, which fails
//! if that name exists: a record appears whole or not at all, and no record is ever replaced,
//! even by two CI jobs recording at once (their runs' names differ, see
//! [`Record::file_name`]). Nothing here rewrites or deletes a record.
//!
//! Reading takes every `*.json` file of the folder (not its subfolders or dot-files; other files
//! such as a README are left alone) and refuses, naming the file, one that is not JSON, not a
//! record, or a record of another [`HISTORY_VERSION`]. Runs are ordered by their start time,
//! then file name.

use super::record::{HISTORY_VERSION, Record};
use crate::errors::CliError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A record and the file it came from.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The file's name in the folder.
    pub file: String,
    /// Its record.
    pub record: Record,
}

/// Adds `record` to the history in `dir` (created when missing) and returns its path.
pub fn append(dir: &Path, record: &Record) -> Result<PathBuf, CliError> {
    std::fs::create_dir_all(dir).map_err(CliError::io(format!(
        "cannot create the history folder {}",
        dir.display()
    )))?;
    let name = record.file_name();
    let path = dir.join(&name);
    if path.exists() {
        return Err(already(&path));
    }
    let bytes = serde_json::to_vec_pretty(record).expect("a record serializes");
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, &path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(already(&path)),
        Err(e) => Err(CliError::Io {
            context: format!("cannot write {}", path.display()),
            source: e,
        }),
    }
}

fn already(path: &Path) -> CliError {
    CliError::Usage(format!(
        "this run is already in the history as {}; a record is never replaced (record each run once)",
        path.display()
    ))
}

/// Every record in `dir`, oldest first.
pub fn load(dir: &Path) -> Result<Vec<Stored>, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CliError::Usage(format!(
            "cannot read the history folder {}: {e}; record runs into it with `cargo loadtest history record REPORT --history {}`",
            dir.display(),
            dir.display()
        ))
    })?;
    let mut stored = Vec::new();
    for entry in entries {
        let entry = entry.map_err(CliError::io(format!("cannot list {}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !name.ends_with(".json") || !entry.path().is_file() {
            continue;
        }
        let record = read(&entry.path())?;
        stored.push(Stored { file: name, record });
    }
    stored.sort_by(|a, b| {
        a.record
            .started_at_unix
            .total_cmp(&b.record.started_at_unix)
            .then_with(|| a.file.cmp(&b.file))
    });
    Ok(stored)
}

/// Reads one record, refusing anything else with the file's name.
pub fn read(path: &Path) -> Result<Record, CliError> {
    let bad = |what: String| {
        CliError::Usage(format!(
            "the history record {} {what}; history records are written by `cargo loadtest history record` (history_version {HISTORY_VERSION}); move the file out of the history folder",
            path.display()
        ))
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("is not valid JSON ({e}); it may be corrupted")))?;
    match value.get("history_version").map(|v| v.as_u64()) {
        Some(Some(v)) if v == u64::from(HISTORY_VERSION) => {}
        Some(Some(v)) => {
            return Err(bad(format!(
                "has history_version {v}; this cargo-loadtest reads version {HISTORY_VERSION} only"
            )));
        }
        _ => {
            return Err(bad(
                "has no history_version: it is not a history record".into()
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| bad(format!("is not a valid record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::record::{Metrics, TestRecord};
    use loadtest_report::report::TestStatus;

    fn record(started: f64, p50: f64) -> Record {
        Record {
            history_version: HISTORY_VERSION,
            commit: Some(format!("c{started}")),
            started_at_unix: started,
            host: "ci".into(),
            tool_version: "0.1.0".into(),
            recorded_at_unix: started + 10.0,
            tests: vec![TestRecord {
                test: "p::t::n".into(),
                status: TestStatus::Passed,
                model: "closed, 4 users".into(),
                saturated: false,
                disturbed: false,
                metrics: Some(Metrics {
                    p50_us: p50,
                    p95_us: p50 * 2.0,
                    p99_us: p50 * 3.0,
                    throughput_per_s: 100.0,
                    error_rate: 0.0,
                }),
                requests: Default::default(),
            }],
        }
    }

    #[test]
    fn appends_one_file_per_run_and_reads_them_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let late = append(dir.path(), &record(2000.0, 10.0)).unwrap();
        append(dir.path(), &record(1000.0, 11.0)).unwrap();
        std::fs::write(dir.path().join("README.md"), "the history of main").unwrap();
        let runs = load(dir.path()).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].record, record(1000.0, 11.0));
        assert_eq!(runs[1].file, late.file_name().unwrap().to_string_lossy());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn a_run_is_never_recorded_twice_nor_its_file_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = append(dir.path(), &record(1000.0, 10.0)).unwrap();
        let before = std::fs::read(&path).unwrap();
        let again = append(dir.path(), &record(1000.0, 99.0)).unwrap_err();
        assert_eq!(again.exit_code(), 2);
        assert!(
            again.to_string().contains("already in the history"),
            "{again}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn corrupt_files_and_other_versions_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &record(1000.0, 10.0)).unwrap();
        let cases = [
            (
                "torn.json",
                "{\"history_version\": 1, \"commit\"".to_string(),
                "is not valid JSON",
            ),
            (
                "future.json",
                serde_json::to_string(&record(1.0, 1.0))
                    .unwrap()
                    .replace("\"history_version\":1", "\"history_version\":2"),
                "has history_version 2; this cargo-loadtest reads version 1 only",
            ),
            (
                "report.json",
                "{\"schema_version\": 2}".to_string(),
                "has no history_version",
            ),
            (
                "partial.json",
                "{\"history_version\": 1, \"tests\": []}".to_string(),
                "is not a valid record",
            ),
        ];
        for (name, text, says) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let e = load(dir.path()).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()) && msg.contains(says),
                "{msg}"
            );
            std::fs::remove_file(&path).unwrap();
        }
        assert_eq!(load(dir.path()).unwrap().len(), 1);
        let missing = load(&dir.path().join("nope")).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("cannot read the history folder"),
            "{missing}"
        );
    }
}
