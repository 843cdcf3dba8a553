//! CSV reports for spreadsheets and plotting scripts: the per-test summary (one row per test and
//! per request name, custom latency or custom counter) at PATH, and the per-second series at PATH-series.csv.
//! Numbers are plain: latencies in whole microseconds, rates per second, no unit suffixes.

use loadtest_report::class::RequestClass;
use loadtest_report::report::{Histogram, RunReport, TestReport};
use std::path::{Path, PathBuf};

/// The summary file's columns.
pub const SUMMARY_HEADER: [&str; 19] = [
    "package",
    "target",
    "test",
    "status",
    "kind",
    "name",
    "count",
    "failed",
    "rate_per_s",
    "min_us",
    "mean_us",
    "p50_us",
    "p90_us",
    "p95_us",
    "p99_us",
    "p999_us",
    "max_us",
    "bytes_sent",
    "bytes_received",
];

/// The series file's columns.
pub const SERIES_HEADER: [&str; 14] = [
    "package",
    "target",
    "test",
    "t_s",
    "interval_s",
    "iterations",
    "failed",
    "requests",
    "request_errors",
    "iterations_per_s",
    "requests_per_s",
    "p50_us",
    "p95_us",
    "p99_us",
];

/// Where the series goes for a summary at `path`: `results.csv` -> `results-series.csv`.
pub fn series_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-series.{}", ext.to_string_lossy()),
        None => format!("{stem}-series"),
    };
    path.with_file_name(name)
}

/// The summary CSV: for each test an `iteration` row (the whole iteration), then one `request`
/// row per request name, four rows per request name read as streams (`stream`,
/// `stream_first_byte`, `stream_first_event`, `stream_gap`) and one `custom` row per custom
/// latency. A test that produced no
/// result has its `iteration` row with the numbers left empty.
pub fn summary(report: &RunReport) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    write(&mut w, SUMMARY_HEADER);
    for t in &report.tests {
        let id = |kind: &str, name: &str| -> Vec<String> {
            vec![
                t.package.clone(),
                t.target.clone(),
                t.name.clone(),
                status(t).to_string(),
                kind.to_string(),
                name.to_string(),
            ]
        };
        let Some(r) = &t.result else {
            let mut row = id("iteration", "");
            row.resize(SUMMARY_HEADER.len(), String::new());
            write(&mut w, row);
            continue;
        };
        let per_s = |n: u64| {
            if r.elapsed_s > 0.0 {
                n as f64 / r.elapsed_s
            } else {
                0.0
            }
        };
        let mut row = id("iteration", "");
        row.extend([
            r.iterations.total.to_string(),
            r.iterations.failed.to_string(),
            r.iterations.rate_per_s.to_string(),
        ]);
        row.extend(latency(&r.iteration_latency));
        row.extend([
            r.requests.bytes_sent.to_string(),
            r.requests.bytes_received.to_string(),
        ]);
        write(&mut w, row);
        for (name, m) in &r.request_names {
            let ok = m.by_class.get(&RequestClass::Ok).copied().unwrap_or(0);
            let mut row = id("request", name);
            row.extend([
                m.count.to_string(),
                m.count.saturating_sub(ok).to_string(),
                per_s(m.count).to_string(),
            ]);
            row.extend(latency(&m.latency));
            row.extend([m.bytes_sent.to_string(), m.bytes_received.to_string()]);
            write(&mut w, row);
        }
        // A streamed request name's streams: `stream` (count streams, failed the broken ones,
        // latencies each stream's total time), then `stream_first_byte`,
        // `stream_first_event` and `stream_gap` (count the values, latencies the measure).
        for (name, m) in &r.request_names {
            let Some(s) = &m.stream else { continue };
            let mut row = id("stream", name);
            row.extend([
                s.streams.to_string(),
                s.broken.to_string(),
                per_s(s.streams).to_string(),
            ]);
            row.extend(latency(&s.duration));
            row.extend([String::new(), String::new()]);
            write(&mut w, row);
            for (kind, h) in [
                ("stream_first_byte", &s.first_byte),
                ("stream_first_event", &s.first_event),
                ("stream_gap", &s.gap),
            ] {
                let mut row = id(kind, name);
                row.extend([
                    h.summary.count.to_string(),
                    String::new(),
                    per_s(h.summary.count).to_string(),
                ]);
                row.extend(latency(h));
                row.extend([String::new(), String::new()]);
                write(&mut w, row);
            }
        }
        for (name, h) in &r.custom_latencies {
            let mut row = id("custom", name);
            row.extend([
                h.summary.count.to_string(),
                String::new(),
                per_s(h.summary.count).to_string(),
            ]);
            row.extend(latency(h));
            row.extend([String::new(), String::new()]);
            write(&mut w, row);
        }
        for (name, n) in &r.custom_counters {
            let mut row = id("counter", name);
            row.extend([n.to_string(), String::new(), per_s(*n).to_string()]);
            row.extend(std::iter::repeat_n(String::new(), 10));
            write(&mut w, row);
        }
    }
    finish(w)
}

/// The series CSV: one row per test and second.
pub fn series(report: &RunReport) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    write(&mut w, SERIES_HEADER);
    for t in &report.tests {
        let Some(r) = &t.result else { continue };
        let mut prev = 0.0;
        for p in &r.series {
            let span = p.t_s - prev;
            prev = p.t_s;
            let per_s = |n: u64| {
                if span > 0.0 {
                    (n as f64 / span).to_string()
                } else {
                    String::new()
                }
            };
            write(
                &mut w,
                [
                    t.package.clone(),
                    t.target.clone(),
                    t.name.clone(),
                    p.t_s.to_string(),
                    span.to_string(),
                    p.iterations.to_string(),
                    p.failed.to_string(),
                    p.requests.to_string(),
                    p.request_errors.to_string(),
                    per_s(p.iterations),
                    per_s(p.requests),
                    p.p50_us.to_string(),
                    p.p95_us.to_string(),
                    p.p99_us.to_string(),
                ],
            );
        }
    }
    finish(w)
}

fn status(t: &TestReport) -> &'static str {
    use loadtest_report::report::TestStatus::*;
    match t.status {
        Passed => "passed",
        Failed => "failed",
        Errored => "errored",
        Interrupted => "interrupted",
    }
}

/// min, mean, p50, p90, p95, p99, p99.9, max in microseconds.
fn latency(h: &Histogram) -> [String; 8] {
    let s = &h.summary;
    [
        s.min_us.to_string(),
        s.mean_us.to_string(),
        s.p50_us.to_string(),
        s.p90_us.to_string(),
        s.p95_us.to_string(),
        s.p99_us.to_string(),
        s.p999_us.to_string(),
        s.max_us.to_string(),
    ]
}

fn write<I, T>(w: &mut csv::Writer<Vec<u8>>, row: I)
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    w.write_record(row)
        .expect("writing CSV into memory cannot fail");
}

fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner()
        .expect("flushing CSV into memory cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_goes_beside_the_summary() {
        assert_eq!(
            series_path(Path::new("out/results.csv")),
            Path::new("out/results-series.csv")
        );
        assert_eq!(
            series_path(Path::new("results")),
            Path::new("results-series")
        );
    }
}
