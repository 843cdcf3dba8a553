//! `cargo loadtest history record REPORT` and `cargo loadtest history`: the flags checked into
//! a plan, then the store, the analysis and the outputs.

use super::analysis::{self, Analysis, Floors, Rules};
use super::detect::Options;
use super::record::{NotRecordable, Record};
use super::{render, store};
use crate::cli::{
    HistoryAnalyzeArgs, HistoryArgs, HistoryCommand, HistoryRecordArgs, HistoryStoreArgs,
};
use crate::compare::baseline;
use crate::compare::store_error::ReadAs;
use crate::errors::CliError;
use crate::exit_code;
use crate::output::atomic;
use loadtest_grammar::GatedMetric;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs `cargo loadtest history ...` and returns its exit code.
pub(crate) fn history(args: &HistoryArgs) -> Result<i32, CliError> {
    match &args.command {
        Some(HistoryCommand::Record(r)) => record(r),
        None => analyze(&args.analyze),
    }
}

/// The history folder: `--history` (or `LOADTEST_HISTORY`), else `TARGET_DIR/loadtest/history`.
fn folder(a: &HistoryStoreArgs) -> Result<PathBuf, CliError> {
    if let Some(d) = &a.history {
        return Ok(d.clone());
    }
    let target_dir = match &a.target_dir {
        Some(d) => d.clone(),
        None => {
            let wargs = crate::cli::WorkspaceArgs {
                manifest_path: a.manifest_path.clone(),
                ..Default::default()
            };
            crate::workspace::discover(&wargs)?.target_dir
        }
    };
    Ok(target_dir.join("loadtest").join("history"))
}

fn record(a: &HistoryRecordArgs) -> Result<i32, CliError> {
    let report = baseline::read_report(&a.report, ReadAs::Report)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let record = Record::of(&report, now).map_err(|e| {
        CliError::Usage(match e {
            NotRecordable::Shard => format!(
                "{} is the report of one shard of a scale-out run; record the merged report (`cargo loadtest merge`) instead",
                a.report.display()
            ),
            NotRecordable::NothingFinished => format!(
                "{}: no load test of this run finished, so there is nothing to record",
                a.report.display()
            ),
        })
    })?;
    let dir = folder(&a.store)?;
    let path = store::append(&dir, &record)?;
    let flagged = record.tests.iter().filter(|t| !t.healthy()).count();
    eprintln!(
        "    Recorded {} ({} test{}{}{})",
        path.display(),
        record.tests.len(),
        if record.tests.len() == 1 { "" } else { "s" },
        record.commit.as_deref().map_or(String::new(), |c| format!(
            ", commit {}",
            c.chars().take(10).collect::<String>()
        )),
        if flagged > 0 {
            format!(
                "; {flagged} with a saturated or disturbed generator, kept and left out of detection"
            )
        } else {
            String::new()
        }
    );
    Ok(exit_code::OK)
}

/// The checked options of an analysis.
struct AnalysisPlan {
    dir: PathBuf,
    rules: Rules,
    json: Option<PathBuf>,
    csv: Option<PathBuf>,
    html: Option<PathBuf>,
    fail_on_regression: bool,
}

impl AnalysisPlan {
    fn of(a: &HistoryAnalyzeArgs) -> Result<AnalysisPlan, CliError> {
        let mut options = Options::default();
        if let Some(m) = &a.min_magnitude {
            options.min_magnitude = parse_magnitude(m)?;
        }
        if let Some(p) = &a.max_pvalue {
            let v = p
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0 && *v < 1.0);
            options.max_pvalue = v.ok_or_else(|| {
                CliError::invalid(
                    "--max-pvalue",
                    "p-value",
                    p,
                    "a number above 0 and below 1, such as 0.001",
                )
            })?;
        }
        if let Some(w) = &a.window {
            let v = w
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|v| (4..=10_000).contains(v));
            options.window = v.ok_or_else(|| {
                CliError::invalid(
                    "--window",
                    "window",
                    w,
                    "a whole number of runs from 4 to 10000 (default 50)",
                )
            })?;
        }
        let confirm = match &a.confirm_runs {
            None => Rules::default().confirm,
            Some(c) => c
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|c| (1..=100).contains(c))
                .ok_or_else(|| {
                    CliError::invalid(
                        "--confirm-runs",
                        "count",
                        c,
                        "a whole number of runs from 1 to 100 (default 3)",
                    )
                })?,
        };
        let mut floors = Floors::default();
        for f in &a.floor {
            let (metric, us) = parse_floor(f)?;
            floors.set(metric, us);
        }
        for (flag, path) in [("--json", &a.json), ("--html", &a.html)] {
            if let Some(p) = path
                && p.is_dir()
            {
                return Err(CliError::Usage(format!(
                    "{flag} {}: is a folder; give the path of the file to write (`-` for standard output)",
                    p.display()
                )));
            }
        }
        if a.csv.as_deref().is_some_and(atomic::is_stdout) {
            return Err(CliError::Usage(
                "--csv -: the CSV export is one file per test and an otava.yaml, so it cannot go to standard output; give a folder (or a .csv file for a history of one test)".into(),
            ));
        }
        Ok(AnalysisPlan {
            dir: folder(&a.store)?,
            rules: Rules {
                options,
                floors,
                confirm,
            },
            json: a.json.clone(),
            csv: a.csv.clone(),
            html: a.html.clone(),
            fail_on_regression: a.fail_on_regression,
        })
    }
}

/// `--floor`: `p50=250us`, `p95=...` or `p99=...` (any duration the options take; `0us` for none).
fn parse_floor(s: &str) -> Result<(GatedMetric, f64), CliError> {
    let bad = || {
        CliError::invalid(
            "--floor",
            "floor",
            s,
            "METRIC=DURATION with METRIC p50, p95 or p99, such as p99=1ms (0us keeps any size)",
        )
    };
    let (metric, value) = s.split_once('=').ok_or_else(bad)?;
    let metric = GatedMetric::LATENCIES
        .into_iter()
        .find(|m| m.name() == metric.trim())
        .ok_or_else(bad)?;
    let d = loadtest_grammar::parse_duration(value.trim()).map_err(|_| bad())?;
    Ok((metric, d.as_secs_f64() * 1e6))
}

/// `--min-magnitude`: a percentage such as `5%`, or a fraction such as `0.05`; 0 keeps any size.
fn parse_magnitude(s: &str) -> Result<f64, CliError> {
    let v = s.trim();
    let value = match v.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => v.parse::<f64>(),
    };
    match value {
        Ok(f) if f.is_finite() && (0.0..10.0).contains(&f) => Ok(f),
        _ => Err(CliError::invalid(
            "--min-magnitude",
            "magnitude",
            s,
            "a percentage from 0% (any size) to below 1000%, such as \"5%\", or a fraction such as 0.05",
        )),
    }
}

fn analyze(a: &HistoryAnalyzeArgs) -> Result<i32, CliError> {
    let plan = AnalysisPlan::of(a)?;
    let read_started = Instant::now();
    let runs = store::load(&plan.dir)?;
    let read = read_started.elapsed();
    let started = Instant::now();
    let analysis = analysis::analyse(&runs, &plan.rules);
    let took = started.elapsed();
    // Every refusal before anything is written: no partial output.
    let csv_files = match &plan.csv {
        Some(p) => csv_files(p, &analysis, &runs)?,
        None => Vec::new(),
    };
    let shown = plan.dir.display().to_string();
    let to_stdout = [&plan.json, &plan.html]
        .iter()
        .any(|p| p.as_deref().is_some_and(atomic::is_stdout));
    let table = render::table(&analysis, &shown);
    if to_stdout {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    eprintln!(
        "    Analysed {} series of {} runs in {:.1} ms (read in {:.1} ms)",
        analysis.series.len(),
        analysis.runs,
        took.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3
    );
    if let Some(p) = &plan.json {
        atomic::write(p, &render::json(&analysis))?;
    }
    if let Some(p) = &plan.html {
        atomic::write(p, render::html(&analysis, &shown).as_bytes())?;
    }
    for (path, bytes) in &csv_files {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(CliError::io(format!("cannot create {}", dir.display())))?;
        }
        atomic::write(path, bytes)?;
    }
    if plan.fail_on_regression {
        let opened: Vec<String> = analysis
            .new_regressions()
            .map(|(s, c)| {
                format!(
                    "{} {}: {:+.1}% at run {} ({}..{})",
                    s.test,
                    s.metric,
                    c.change * 100.0,
                    c.run,
                    c.commit_before.as_deref().unwrap_or("?"),
                    c.commit.as_deref().unwrap_or("?")
                )
            })
            .collect();
        if !opened.is_empty() {
            eprintln!(
                "error: the newest run opened {} regression change point{}:\n  {}",
                opened.len(),
                if opened.len() == 1 { "" } else { "s" },
                opened.join("\n  ")
            );
            return Ok(exit_code::TEST_FAILED);
        }
    }
    Ok(exit_code::OK)
}

/// `--csv`: the files to write, a folder of one CSV per test and an `otava.yaml`, or one `.csv`
/// file for a history of one test; refused before anything is written.
fn csv_files(
    path: &Path,
    a: &Analysis,
    runs: &[store::Stored],
) -> Result<Vec<(PathBuf, Vec<u8>)>, CliError> {
    let csvs = render::csv(a, |run| {
        let r = &runs[run - 1].record;
        (r.started_at_unix, r.commit.clone())
    });
    let is_file = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        && !path.is_dir();
    if is_file {
        return match csvs.as_slice() {
            [one] => Ok(vec![(path.to_path_buf(), one.text.clone().into_bytes())]),
            _ => Err(CliError::Usage(format!(
                "--csv {}: the history holds {} tests and the export is one CSV per test; give a folder",
                path.display(),
                csvs.len()
            ))),
        };
    }
    if path.exists() && !path.is_dir() {
        return Err(CliError::Usage(format!(
            "--csv {}: exists and is not a folder; give a folder (one CSV per test and otava.yaml are written into it) or a .csv file",
            path.display()
        )));
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let file = |test: &str| format!("{}.csv", render::file_stem(test));
    let mut files: Vec<(PathBuf, Vec<u8>)> = csvs
        .iter()
        .map(|c| (path.join(file(&c.test)), c.text.clone().into_bytes()))
        .collect();
    let config = render::otava_config(&csvs, |test| {
        absolute.join(file(test)).display().to_string()
    });
    files.push((path.join("otava.yaml"), config));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_are_a_latency_metric_and_a_duration() {
        assert_eq!(parse_floor("p99=2ms").unwrap(), (GatedMetric::P99, 2000.0));
        assert_eq!(
            parse_floor(" p50 = 100us ").unwrap(),
            (GatedMetric::P50, 100.0)
        );
        assert_eq!(parse_floor("p95=0us").unwrap(), (GatedMetric::P95, 0.0));
        for bad in ["p99", "throughput=1ms", "p99=5%", "p90=1ms", "p99=fast", ""] {
            let e = parse_floor(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            let text = e.to_string();
            assert!(
                text.contains(&format!("{bad:?}")) && text.contains("p50, p95 or p99"),
                "{text}"
            );
        }
    }

    #[test]
    fn shares_and_p_values_are_checked_with_what_is_accepted() {
        assert_eq!(parse_magnitude("5%").unwrap(), 0.05);
        assert_eq!(parse_magnitude("0.1").unwrap(), 0.1);
        assert_eq!(parse_magnitude("0").unwrap(), 0.0);
        for bad in ["-1%", "five", "", "NaN", "1e9"] {
            let e = parse_magnitude(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
            assert!(
                matches!(&e, CliError::FlagInvalid { flag, what: "magnitude", value, .. } if flag == "--min-magnitude" && value == bad),
                "{e:?}"
            );
        }
        let args = |p: &str| HistoryAnalyzeArgs {
            max_pvalue: Some(p.into()),
            store: HistoryStoreArgs {
                history: Some("h".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            AnalysisPlan::of(&args("0.01"))
                .unwrap()
                .rules
                .options
                .max_pvalue,
            0.01
        );
        for bad in ["0", "1", "x", "-0.1"] {
            let e = AnalysisPlan::of(&args(bad)).err().unwrap();
            assert!(e.to_string().contains("--max-pvalue"), "{e}");
            assert!(
                matches!(&e, CliError::FlagInvalid { flag, what: "p-value", value, .. } if flag == "--max-pvalue" && value == bad),
                "{e:?}"
            );
        }
    }
}
