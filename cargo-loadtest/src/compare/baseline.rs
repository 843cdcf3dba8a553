//! Stored results: saving a run to a named baseline, which keeps its newest runs, and loading a
//! baseline by name, from a committed file or folder, or any saved report.
//!
//! A named baseline is a folder, `TARGET_DIR/loadtest/baselines/NAME/`:
//! - `runs/0001.json`, `runs/0002.json`, ...: each run's report, as `--json` writes it;
//! - `baseline.json`: the manifest ([`Manifest`]): which runs it holds, oldest first, and their
//!   spread per test and metric (derived from the runs, for people and tools);
//! - `report.json`: a copy of the newest run, so that anything that reads one report (an older
//!   cargo-loadtest, `compare`, a script) still reads the baseline.
//!
//! A folder without `baseline.json` (saved before baselines held several runs) is a baseline of
//! its one `report.json`. Every file is written atomically, the run files first and the manifest
//! last, so a crash leaves the previous baseline whole; nothing is rewritten in place.

use super::gate;
use super::store_error::{ReadAs, StoreError};
use crate::errors::CliError;
use crate::output::atomic;
use loadtest_grammar::GatedMetric;
use loadtest_report::report::{
    OLDEST_SCHEMA_VERSION, RunReport, SCHEMA_VERSION, TestId, TestResult,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The copy of the newest run a baseline folder holds.
pub const BASELINE_FILE: &str = "report.json";
/// The manifest of a baseline of several runs.
pub const MANIFEST_FILE: &str = "baseline.json";
/// The manifest format this cargo-loadtest writes and reads.
pub const BASELINE_VERSION: u32 = 1;
/// How many runs `--save-baseline` keeps by default (`--keep-runs`).
pub const DEFAULT_KEEP_RUNS: usize = 5;
/// The most runs a baseline may keep.
pub const MAX_KEEP_RUNS: usize = 100;

/// A baseline's manifest, `baseline.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The manifest format ([`BASELINE_VERSION`]); a newer one is refused.
    pub baseline_version: u32,
    /// The run files, relative to the folder, oldest first.
    pub runs: Vec<String>,
    /// Per test and metric, how the runs' values spread (derived from the runs).
    pub spread: Vec<TestSpread>,
}

/// How one test's metrics spread over a baseline's runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TestSpread {
    /// The test (`package::target::name`).
    pub test: String,
    /// One entry per gated metric with a value in at least one run.
    pub metrics: Vec<MetricSpread>,
}

/// How one metric's per-run values (each the median of the run's one-second windows; the mean
/// error fraction for `error_rate`) spread over a baseline's runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricSpread {
    /// `p50`, `p95`, `p99` (microseconds), `throughput` (iterations per second) or `error_rate`.
    pub metric: GatedMetric,
    /// How many runs have a value.
    pub runs: u32,
    /// The smallest run value.
    pub min: f64,
    /// The median run value.
    pub median: f64,
    /// The largest run value.
    pub max: f64,
    /// The standard deviation of the values' natural logarithms (of the fractions themselves
    /// for `error_rate`); 0 with one run.
    pub spread: f64,
}

/// A loaded baseline: one or more runs, oldest first.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// The runs, oldest first; never empty.
    pub runs: Vec<RunReport>,
}

impl Baseline {
    /// A baseline of one run.
    pub fn one(report: RunReport) -> Baseline {
        Baseline { runs: vec![report] }
    }

    /// The newest run, taken out.
    pub fn into_newest(mut self) -> RunReport {
        self.runs.pop().expect("a baseline holds at least one run")
    }

    /// The newest run.
    pub fn newest(&self) -> &RunReport {
        self.runs.last().expect("a baseline holds at least one run")
    }

    /// The results of the test `id` in every run that has one, oldest first.
    pub fn results(&self, id: TestId<'_>) -> Vec<&TestResult> {
        self.runs
            .iter()
            .filter_map(|r| r.test(id).and_then(|t| t.result.as_ref()))
            .collect()
    }
}

/// Checks a baseline name: letters, digits, `.`, `_` and `-`, not starting with `.` nor holding
/// `..`, so that a name can never point outside the baselines folder or look like it does.
pub fn check_name(name: &str) -> Result<(), StoreError> {
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
        Err(StoreError::InvalidName { name: name.into() })
    }
}

/// The `--keep-runs` flag: a whole number from 1 to [`MAX_KEEP_RUNS`]; absent,
/// [`DEFAULT_KEEP_RUNS`].
pub fn keep_runs(flag: Option<&str>) -> Result<usize, StoreError> {
    let Some(text) = flag else {
        return Ok(DEFAULT_KEEP_RUNS);
    };
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_KEEP_RUNS).contains(n))
        .ok_or_else(|| StoreError::KeepRuns { value: text.into() })
}

/// The folder of named baselines: `TARGET_DIR/loadtest/baselines`.
pub fn baselines_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("loadtest").join("baselines")
}

/// The folder of a named baseline.
pub fn named_dir(target_dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    check_name(name)?;
    Ok(baselines_dir(target_dir).join(name))
}

/// What saving a run to a baseline did.
#[derive(Debug)]
pub struct Saved {
    /// The baseline's folder.
    pub dir: PathBuf,
    /// How many runs it holds now.
    pub runs: usize,
    /// Runs left out because a test in them ran under another load model than in this run.
    pub dropped: usize,
}

/// Adds a run to the named baseline, keeping its newest `keep` runs (`keep = 1` replaces it).
/// Earlier runs in which a test ran under another load model than in `report` are dropped: they
/// could not be compared with it. Atomic: a crash leaves the previous baseline intact.
pub fn save(
    target_dir: &Path,
    name: &str,
    report: &RunReport,
    keep: usize,
) -> Result<Saved, CliError> {
    let dir = named_dir(target_dir, name)?;
    let existing = dir.join(BASELINE_FILE).exists() || dir.join(MANIFEST_FILE).exists();
    let mut runs: Vec<(Option<String>, RunReport)> = if keep > 1 && existing {
        load_dir_with_files(&dir).map_err(|e| StoreError::EarlierRuns {
            source: Box::new(e),
        })?
    } else {
        Vec::new()
    };
    let before = runs.len();
    runs.retain(|(_, old)| same_load(old, report));
    let dropped = before - runs.len();
    // New run files take numbers after every file in `runs/`, listed or not, so that no file
    // an older manifest lists is ever replaced.
    let mut next = std::fs::read_dir(dir.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| run_index(&format!("runs/{}", e.file_name().to_string_lossy())))
        .max()
        .unwrap_or(0);
    runs.push((None, report.clone()));
    let excess = runs.len().saturating_sub(keep);
    runs.drain(..excess);
    let mut files = Vec::with_capacity(runs.len());
    for (file, run) in &runs {
        let file = match file {
            Some(f) => f.clone(),
            None => {
                next += 1;
                let f = format!("runs/{next:04}.json");
                write_regular(&dir.join(&f), &json(run))?;
                f
            }
        };
        files.push(file);
    }
    let newest = &runs.last().expect("this run is kept").1;
    write_regular(&dir.join(BASELINE_FILE), &json(newest))?;
    let manifest = Manifest {
        baseline_version: BASELINE_VERSION,
        spread: spread(&runs.iter().map(|(_, r)| r).collect::<Vec<_>>()),
        runs: files.clone(),
    };
    write_regular(
        &dir.join(MANIFEST_FILE),
        &serde_json::to_vec_pretty(&manifest).expect("manifests always serialize"),
    )?;
    if let Ok(entries) = std::fs::read_dir(dir.join("runs")) {
        for e in entries.flatten() {
            let rel = format!("runs/{}", e.file_name().to_string_lossy());
            if !files.contains(&rel) && run_index(&rel).is_some() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(Saved {
        dir,
        runs: runs.len(),
        dropped,
    })
}

fn json(report: &RunReport) -> Vec<u8> {
    serde_json::to_vec_pretty(report).expect("reports always serialize")
}

/// The index of a run file `runs/0007.json`.
fn run_index(file: &str) -> Option<u64> {
    file.strip_prefix("runs/")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

/// Writes a baseline file atomically, refusing to replace anything but a regular file.
fn write_regular(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.is_file()
    {
        return Err(StoreError::NotRegularFile { path: path.into() }.into());
    }
    atomic::write(path, bytes)
}

/// Whether every test that both runs hold ran under the same load model in both.
fn same_load(old: &RunReport, new: &RunReport) -> bool {
    new.tests.iter().all(|t| {
        let (Some(n), Some(o)) = (
            t.result.as_ref(),
            old.test(t.id()).and_then(|o| o.result.as_ref()),
        ) else {
            return true;
        };
        gate::comparable("", &o.config, &n.config).is_ok()
    })
}

/// The spread of every test's metrics over `runs`.
fn spread(runs: &[&RunReport]) -> Vec<TestSpread> {
    let newest = runs.last().expect("at least one run");
    newest
        .tests
        .iter()
        .map(|t| {
            let per_run: Vec<[Option<f64>; 5]> = runs
                .iter()
                .filter_map(|r| r.test(t.id()).and_then(|t| t.result.as_ref()))
                .map(gate::run_summary)
                .collect();
            let metrics = GatedMetric::PER_WINDOW
                .into_iter()
                .enumerate()
                .filter_map(|(i, metric)| {
                    let mut xs: Vec<f64> = per_run.iter().filter_map(|v| v[i]).collect();
                    if xs.is_empty() {
                        return None;
                    }
                    let is_error = metric == GatedMetric::ErrorRate;
                    let logs: Vec<f64> = if is_error {
                        xs.clone()
                    } else {
                        xs.iter().map(|x| x.max(f64::MIN_POSITIVE).ln()).collect()
                    };
                    let spread = super::stats::std_dev(&logs);
                    let median = super::stats::median(&mut xs);
                    Some(MetricSpread {
                        metric,
                        runs: xs.len() as u32,
                        min: xs[0],
                        median,
                        max: xs[xs.len() - 1],
                        spread,
                    })
                })
                .collect();
            TestSpread {
                test: t.id().to_string(),
                metrics,
            }
        })
        .collect()
}

/// Reads a stored result as a baseline: a baseline folder (with `baseline.json`, or only
/// `report.json`), a manifest file, or a report file.
pub fn load_file(path: &Path) -> Result<Baseline, StoreError> {
    if path.is_dir() {
        return load_dir(path);
    }
    if is_manifest(path) {
        return Ok(Baseline {
            runs: manifest_runs(path)?.into_iter().map(|(_, r)| r).collect(),
        });
    }
    Ok(Baseline::one(read_report(path, ReadAs::Baseline)?))
}

/// Whether a file is a baseline manifest (it has `baseline_version` and no `schema_version`),
/// whatever its name: a report saved as `baseline.json` is still a report.
fn is_manifest(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|v| v.get("baseline_version").is_some() && v.get("schema_version").is_none())
}

/// Reads a baseline folder.
fn load_dir(dir: &Path) -> Result<Baseline, StoreError> {
    Ok(Baseline {
        runs: load_dir_with_files(dir)?
            .into_iter()
            .map(|(_, r)| r)
            .collect(),
    })
}

/// Reads a baseline folder's runs with the files they came from (`None`: the folder's
/// `report.json`, for a folder without a manifest).
fn load_dir_with_files(dir: &Path) -> Result<Vec<(Option<String>, RunReport)>, StoreError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    if !manifest_path.exists() {
        return Ok(vec![(
            None,
            read_report(&dir.join(BASELINE_FILE), ReadAs::Baseline)?,
        )]);
    }
    manifest_runs(&manifest_path)
}

/// Reads the runs a manifest lists (relative to its folder), with their files.
fn manifest_runs(manifest_path: &Path) -> Result<Vec<(Option<String>, RunReport)>, StoreError> {
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let path = || manifest_path.to_path_buf();
    let text = std::fs::read_to_string(manifest_path).map_err(|source| {
        StoreError::ManifestUnreadable {
            path: path(),
            source,
        }
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| StoreError::ManifestNotJson {
            path: path(),
            source,
        })?;
    match value.get("baseline_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(BASELINE_VERSION) => {}
        Some(v) => {
            return Err(StoreError::ManifestVersion {
                path: path(),
                found: v,
            });
        }
        None => {
            return Err(StoreError::NotManifest { path: path() });
        }
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|source| StoreError::ManifestInvalid {
            path: path(),
            source,
        })?;
    if manifest.runs.is_empty() {
        return Err(StoreError::NoRuns { path: path() });
    }
    manifest
        .runs
        .into_iter()
        .map(|file| {
            if run_index(&file).is_none() {
                return Err(StoreError::NotRunFile { path: path(), file });
            }
            let report = read_report(&dir.join(&file), ReadAs::BaselineRun)?;
            Ok((Some(file), report))
        })
        .collect()
}

/// Reads a report file (or a folder holding `report.json`); `what` it is read as names it in
/// errors.
pub fn read_report(path: &Path, what: ReadAs) -> Result<RunReport, StoreError> {
    read_as(path, what)
}

/// Reads a report file (or a folder holding `report.json`) as `T`: the whole [`RunReport`], or
/// the part of it a caller needs (a merge's [`loadtest_report::merge::ReportHeader`]); `what`
/// names it in errors. The schema version is checked first, so a report of another version is
/// named as such rather than as malformed.
pub fn read_as<T: serde::de::DeserializeOwned>(path: &Path, what: ReadAs) -> Result<T, StoreError> {
    let file = if path.is_dir() {
        path.join(BASELINE_FILE)
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| StoreError::ReportUnreadable {
        what,
        path: file.clone(),
        source,
    })?;
    /// Only the version, the rest skipped.
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<u64>,
    }
    let version = serde_json::from_str::<Version>(&text).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            StoreError::ReportNotJson {
                what,
                path: file.clone(),
                source: e,
            }
        } else {
            StoreError::NotReport {
                what,
                path: file.clone(),
                reason: Some(e),
            }
        }
    })?;
    match version.schema_version {
        Some(v) if (u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&v) => {}
        Some(v) => {
            return Err(StoreError::SchemaVersion {
                what,
                path: file,
                found: v,
            });
        }
        None => {
            return Err(StoreError::NotReport {
                what,
                path: file,
                reason: None,
            });
        }
    }
    serde_json::from_str(&text).map_err(|source| StoreError::ReportInvalid {
        what,
        path: file,
        source,
    })
}

/// Loads a named baseline.
pub fn load_named(target_dir: &Path, name: &str) -> Result<Baseline, StoreError> {
    let dir = named_dir(target_dir, name)?;
    if !dir.join(MANIFEST_FILE).is_file() && !dir.join(BASELINE_FILE).is_file() {
        return Err(StoreError::NoSuchBaseline {
            name: name.into(),
            looked_for: dir.join(BASELINE_FILE),
        });
    }
    load_dir(&dir)
}

/// Loads `spec` as a file or folder if it exists as a path, else as a baseline name.
pub fn load_spec(target_dir: &Path, spec: &str) -> Result<(Baseline, String), StoreError> {
    let p = Path::new(spec);
    if p.exists() {
        Ok((load_file(p)?, p.display().to_string()))
    } else if looks_like_path(spec) {
        Err(StoreError::NoSuchPath { spec: spec.into() })
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
    use loadtest_report::report::{IntervalPoint, RunInfo};
    use loadtest_report::verdict::{self, Ended, Policy, RunEnd, Unjudged};

    /// A run of one test, `shop::api::steady`, with `users` users and a p50 of `p50_us`.
    fn run(users: u64, p50_us: u64, started_at_unix: f64) -> RunReport {
        let mut result = TestResult {
            series: (1..=6)
                .map(|i| IntervalPoint {
                    t_s: i as f64,
                    iterations: 100,
                    requests: 100,
                    p50_us,
                    p95_us: p50_us * 2,
                    p99_us: p50_us * 3,
                    ..IntervalPoint::default()
                })
                .collect(),
            ..TestResult::default()
        };
        result.config.model = "closed".into();
        result.config.users = Some(users);
        let test = Unjudged {
            package: "shop".into(),
            target: "api".into(),
            name: "steady".into(),
            ended: Ended::Finished(result),
            error: None,
            comparison: None,
        }
        .judge(&Policy::default());
        let info = RunInfo {
            started_at_unix,
            duration_s: 6.0,
            host: "here".into(),
            cpus: 1,
            ..RunInfo::default()
        };
        verdict::run_report(info, vec![test], None, RunEnd::default())
    }

    fn temp_dir(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cargo-loadtest-baseline-{what}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn saving_adds_runs_up_to_the_bound_and_a_new_load_model_starts_over() {
        let dir = temp_dir("runs");
        for i in 0..4 {
            let saved = save(&dir, "main", &run(4, 1000 + i, i as f64), 3).unwrap();
            assert_eq!(saved.runs, (i as usize + 1).min(3));
            assert_eq!(saved.dropped, 0);
        }
        let b = load_named(&dir, "main").unwrap();
        let starts: Vec<f64> = b.runs.iter().map(|r| r.run.started_at_unix).collect();
        assert_eq!(starts, [1.0, 2.0, 3.0], "the newest three, oldest first");
        let folder = named_dir(&dir, "main").unwrap();
        let manifest: Manifest =
            serde_json::from_slice(&std::fs::read(folder.join(MANIFEST_FILE)).unwrap()).unwrap();
        assert_eq!(
            manifest.runs,
            ["runs/0002.json", "runs/0003.json", "runs/0004.json"]
        );
        let files = std::fs::read_dir(folder.join("runs")).unwrap().count();
        assert_eq!(files, 3, "the run that fell out is removed");
        let p50 = &manifest.spread[0].metrics[0];
        assert_eq!(manifest.spread[0].test, "shop::api::steady");
        assert_eq!((p50.metric, p50.runs), (GatedMetric::P50, 3));
        assert_eq!((p50.min, p50.median, p50.max), (1001.0, 1002.0, 1003.0));
        assert!(p50.spread > 0.0 && p50.spread < 0.01, "{p50:?}");
        // The folder's report.json is the newest run, for anything that reads one report.
        assert_eq!(
            load_file(&folder.join(BASELINE_FILE)).unwrap().runs.len(),
            1
        );
        assert_eq!(
            load_file(&folder.join(MANIFEST_FILE)).unwrap().runs.len(),
            3
        );
        // A report saved under the manifest's name is still a report.
        let copy = dir.join(MANIFEST_FILE);
        std::fs::copy(folder.join(BASELINE_FILE), &copy).unwrap();
        assert_eq!(load_file(&copy).unwrap().newest().run.started_at_unix, 3.0);

        // Another load model: the earlier runs cannot be compared with it and are dropped.
        let saved = save(&dir, "main", &run(8, 1000, 9.0), 3).unwrap();
        assert_eq!((saved.runs, saved.dropped), (1, 3));
        // --keep-runs 1 replaces.
        save(&dir, "main", &run(8, 1000, 10.0), 3).unwrap();
        let saved = save(&dir, "main", &run(8, 1000, 11.0), 1).unwrap();
        assert_eq!(saved.runs, 1);
        assert_eq!(
            load_named(&dir, "main")
                .unwrap()
                .newest()
                .run
                .started_at_unix,
            11.0
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_old_one_run_baseline_loads_and_grows_without_being_rewritten() {
        let dir = temp_dir("old");
        let folder = named_dir(&dir, "main").unwrap();
        std::fs::create_dir_all(&folder).unwrap();
        let old = serde_json::to_vec_pretty(&run(4, 1000, 1.0)).unwrap();
        std::fs::write(folder.join(BASELINE_FILE), &old).unwrap();
        assert_eq!(load_named(&dir, "main").unwrap().runs.len(), 1);
        let saved = save(&dir, "main", &run(4, 1100, 2.0), 5).unwrap();
        assert_eq!(saved.runs, 2);
        let first = std::fs::read(folder.join("runs/0001.json")).unwrap();
        assert_eq!(first, old, "the old run is kept as it was");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_manifest_from_a_future_version_or_a_bad_flag_is_refused() {
        let dir = temp_dir("future");
        save(&dir, "main", &run(4, 1000, 1.0), 5).unwrap();
        let manifest = named_dir(&dir, "main").unwrap().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest).unwrap();
        let future = text.replace("\"baseline_version\": 1", "\"baseline_version\": 2");
        std::fs::write(&manifest, &future).unwrap();
        let err = load_named(&dir, "main").unwrap_err().to_string();
        assert!(
            err.contains("has baseline_version 2; this cargo-loadtest reads version 1"),
            "{err}"
        );
        let err = save(&dir, "main", &run(4, 1000, 2.0), 5)
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("save with --keep-runs 1"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            future,
            "left as it was"
        );
        for bad in ["0", "101", "five", "-1"] {
            let err = keep_runs(Some(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("invalid --keep-runs {bad:?}")),
                "{err}"
            );
        }
        assert_eq!(keep_runs(None).unwrap(), DEFAULT_KEEP_RUNS);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_baseline_file_that_is_not_a_regular_file_is_never_written_over() {
        let dir = temp_dir("fifo");
        let folder = named_dir(&dir, "main").unwrap();
        std::fs::create_dir_all(folder.join(BASELINE_FILE)).unwrap();
        let err = save(&dir, "main", &run(4, 1000, 1.0), 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("exists and is not a regular file"), "{err}");
        assert!(folder.join(BASELINE_FILE).is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
    fn missing_and_corrupt_files_are_usage_errors_of_their_kind() {
        let dir =
            std::env::temp_dir().join(format!("cargo-loadtest-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Each refusal is its kind, says what its message said as a string, and ends the
        // command with the usage exit code.
        let said = |e: StoreError, expected: &str| {
            let m = e.to_string();
            assert!(m.contains(expected), "{m:?} does not say {expected:?}");
            assert_eq!(CliError::from(e).exit_code(), crate::exit_code::USAGE);
        };
        let e = load_named(&dir, "nope").unwrap_err();
        assert!(
            matches!(&e, StoreError::NoSuchBaseline { name, looked_for } if name == "nope" && looked_for.ends_with("nope/report.json")),
            "{e:?}"
        );
        said(e, "no baseline named \"nope\"");
        let f = dir.join("bad.json");
        std::fs::write(&f, "{ truncated").unwrap();
        let e = load_file(&f).unwrap_err();
        assert!(
            matches!(&e, StoreError::ReportNotJson { what: ReadAs::Baseline, path, .. } if path == &f),
            "{e:?}"
        );
        said(e, "not valid JSON");
        std::fs::write(&f, "{\"schema_version\": 99}").unwrap();
        let e = load_file(&f).unwrap_err();
        assert!(
            matches!(&e, StoreError::SchemaVersion { found: 99, .. }),
            "{e:?}"
        );
        said(e, "schema_version 99");
        std::fs::write(&f, "{\"schema_version\": 1}").unwrap();
        let e = load_file(&f).unwrap_err();
        assert!(matches!(&e, StoreError::ReportInvalid { .. }), "{e:?}");
        said(e, "not a valid cargo-loadtest report");
        for (text, reason) in [
            ("{\"runs\": []}", "(no schema_version)"),
            ("{\"schema_version\": \"one\"}", "(invalid type: string"),
        ] {
            std::fs::write(&f, text).unwrap();
            let e = load_file(&f).unwrap_err();
            assert!(matches!(&e, StoreError::NotReport { .. }), "{e:?}");
            said(e, &format!("is not a cargo-loadtest report {reason}"));
        }
        let e = load_spec(&dir, "target/loadtest/nope.json").unwrap_err();
        assert!(
            matches!(&e, StoreError::NoSuchPath { spec } if spec == "target/loadtest/nope.json"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("no such file or folder: \"target/loadtest/nope.json\""),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
