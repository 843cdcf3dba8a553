//! One run of the history: the compact, versioned record `cargo loadtest history record` keeps
//! of a report, and its file name.
//!
//! A record is one JSON document per run ([`HISTORY_VERSION`] 1):
//!
//! ```json
//! {
//!   "history_version": 1,
//!   "commit": "4f1c2e9...", "started_at_unix": 1796000000.5, "host": "ci-runner-3",
//!   "tool_version": "0.1.0", "recorded_at_unix": 1796000042.0,
//!   "tests": [{
//!     "test": "shop::api::browse", "status": "passed", "model": "closed, 50 users",
//!     "saturated": false, "disturbed": false,
//!     "metrics": {"p50_us": 9600, "p95_us": 16400, "p99_us": 17000,
//!                 "throughput_per_s": 195.1, "error_rate": 0.002},
//!     "requests": {"GET /": {"p50_us": 9100, "p95_us": 15000, "p99_us": 16800,
//!                            "throughput_per_s": 195.1, "error_rate": 0.002}}
//!   }]
//! }
//! ```
//!
//! Latencies are the whole test's percentiles (microseconds, from its HdrHistogram), throughput
//! is iterations (or, per request name, requests) per second, the error rate a fraction of
//! iterations (or requests). A test that did not finish (crashed, interrupted) has no `metrics`.
//! A test whose generator was saturated or disturbed is kept with its flags and left out of
//! change-point detection: its latencies measure the generator as much as the system.

use loadtest_grammar::GatedMetric;
use loadtest_report::class::RequestClass;
use loadtest_report::report::{RunReport, TestStatus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The layout of a history record. Bumped on any incompatible change; records of another
/// version are refused, naming the file.
pub const HISTORY_VERSION: u32 = 1;

/// One run in the history.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// Always [`HISTORY_VERSION`].
    pub history_version: u32,
    /// The git commit the run measured, when the workspace was a git checkout.
    pub commit: Option<String>,
    /// When the run started (seconds since the Unix epoch): the history's order.
    pub started_at_unix: f64,
    /// The machine it ran on.
    pub host: String,
    /// The `cargo-loadtest` version that ran it.
    pub tool_version: String,
    /// When it was recorded.
    pub recorded_at_unix: f64,
    /// Each load test of the run.
    pub tests: Vec<TestRecord>,
}

/// One load test of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TestRecord {
    /// `package::target::name`.
    pub test: String,
    /// `passed`, `failed`, `errored` or `interrupted`.
    pub status: TestStatus,
    /// The load model, as people read it (`closed, 4 users`, `open, 500/s`).
    pub model: String,
    /// The generator could not keep up: left out of detection.
    pub saturated: bool,
    /// Something else competed for the generator's CPUs: left out of detection.
    pub disturbed: bool,
    /// The whole test's figures; absent when it did not finish.
    pub metrics: Option<Metrics>,
    /// The figures of each request name.
    #[serde(default)]
    pub requests: BTreeMap<String, Metrics>,
}

impl TestRecord {
    /// Whether detection uses this test's figures.
    pub fn healthy(&self) -> bool {
        !self.saturated && !self.disturbed
    }
}

/// The figures of a test or a request name in one run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 95th percentile, microseconds.
    pub p95_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// Iterations (tests) or requests (request names) per second.
    pub throughput_per_s: f64,
    /// Failed iterations (tests) or requests that were not `ok` (request names), as a fraction.
    pub error_rate: f64,
}

/// `metric`'s value in `m`; `None` for `capacity`, which the history does not track.
pub fn value(metric: GatedMetric, m: &Metrics) -> Option<f64> {
    match metric {
        GatedMetric::P50 => Some(m.p50_us),
        GatedMetric::P95 => Some(m.p95_us),
        GatedMetric::P99 => Some(m.p99_us),
        GatedMetric::Throughput => Some(m.throughput_per_s),
        GatedMetric::ErrorRate => Some(m.error_rate),
        GatedMetric::Capacity => None,
    }
}

/// `metric`'s `value` as the history's tables show it: `9.6ms`, `195/s`, `0.20%`.
pub fn human(metric: GatedMetric, value: f64) -> String {
    use loadtest_report::report::{human_rate, human_us};
    match metric {
        GatedMetric::P50 | GatedMetric::P95 | GatedMetric::P99 => human_us(value),
        GatedMetric::Throughput | GatedMetric::Capacity => human_rate(value),
        GatedMetric::ErrorRate => format!("{:.2}%", value * 100.0),
    }
}

/// Why a report cannot be recorded.
#[derive(Debug, PartialEq)]
pub enum NotRecordable {
    /// One shard of a scale-out run: the merged report is the run.
    Shard,
    /// No test finished.
    NothingFinished,
}

impl Record {
    /// The record of `report`, recorded at `now`.
    pub fn of(report: &RunReport, now: f64) -> Result<Record, NotRecordable> {
        if report.run.shard.is_some() {
            return Err(NotRecordable::Shard);
        }
        let tests: Vec<TestRecord> = report.tests.iter().map(test_record).collect();
        if tests.iter().all(|t| t.metrics.is_none()) {
            return Err(NotRecordable::NothingFinished);
        }
        Ok(Record {
            history_version: HISTORY_VERSION,
            commit: report.run.git_commit.clone(),
            started_at_unix: report.run.started_at_unix,
            host: report.run.host.clone(),
            tool_version: report.run.tool_version.clone(),
            recorded_at_unix: now,
            tests,
        })
    }

    /// The record's file name: the start time (UTC), the commit's first 12 characters and the
    /// first 16 hexadecimal digits of a SHA-256 of the run's identity (start time to the bit,
    /// host, commit, tool). Unique without coordination between CI jobs, and the same for the
    /// same report, so that recording a report twice is refused instead of counting it twice.
    pub fn file_name(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.started_at_unix.to_bits().to_le_bytes());
        for part in [
            self.host.as_str(),
            self.commit.as_deref().unwrap_or(""),
            self.tool_version.as_str(),
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        let digest: String = hash
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let commit: String = self
            .commit
            .as_deref()
            .unwrap_or("nocommit")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        format!(
            "{}-{commit}-{digest}.json",
            crate::calendar::compact(self.started_at_unix)
        )
    }
}

fn test_record(t: &loadtest_report::report::TestReport) -> TestRecord {
    let finished = matches!(t.status, TestStatus::Passed | TestStatus::Failed);
    let result = t.result.as_ref().filter(|r| finished && !r.interrupted);
    let model = result.map_or_else(String::new, |r| {
        let c = &r.config;
        match (c.users, c.rate_per_s) {
            (Some(u), _) => format!("{}, {u} users", c.model),
            (None, Some(rate)) => {
                format!("{}, {}", c.model, loadtest_report::report::human_rate(rate))
            }
            _ => c.model.clone(),
        }
    });
    let metrics = result.map(|r| {
        let s = &r.iteration_latency.summary;
        let total = r.iterations.total.max(1) as f64;
        Metrics {
            p50_us: s.p50_us as f64,
            p95_us: s.p95_us as f64,
            p99_us: s.p99_us as f64,
            throughput_per_s: r.iterations.rate_per_s,
            error_rate: r.iterations.failed as f64 / total,
        }
    });
    let requests = result
        .map(|r| {
            r.request_names
                .iter()
                .filter(|(_, m)| m.count > 0)
                .map(|(name, m)| {
                    let s = &m.latency.summary;
                    let ok = m.by_class.get(&RequestClass::Ok).copied().unwrap_or(0);
                    let rate = if r.elapsed_s > 0.0 {
                        m.count as f64 / r.elapsed_s
                    } else {
                        0.0
                    };
                    (
                        name.clone(),
                        Metrics {
                            p50_us: s.p50_us as f64,
                            p95_us: s.p95_us as f64,
                            p99_us: s.p99_us as f64,
                            throughput_per_s: rate,
                            error_rate: m.count.saturating_sub(ok) as f64 / m.count as f64,
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let generator = t.result.as_ref().map(|r| &r.generator);
    TestRecord {
        test: t.id().to_string(),
        status: t.status,
        model,
        saturated: generator.is_some_and(|g| g.saturated),
        disturbed: generator.is_some_and(|g| g.disturbed),
        metrics,
        requests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_run() {
        let r = Record {
            history_version: HISTORY_VERSION,
            commit: Some("0123456789abcdef0123".into()),
            started_at_unix: 1_796_000_000.25,
            host: "ci".into(),
            tool_version: "0.1.0".into(),
            recorded_at_unix: 1_796_000_100.0,
            tests: vec![],
        };
        let name = r.file_name();
        assert!(name.starts_with("20261130T005320Z-0123456789ab-"), "{name}");
        assert!(name.ends_with(".json") && name.len() == 51, "{name}");
        let later = Record {
            recorded_at_unix: 1.0,
            ..r.clone()
        };
        assert_eq!(
            later.file_name(),
            name,
            "the recording time is not the run's"
        );
        let other = Record {
            started_at_unix: 1_796_000_000.250_001,
            ..r.clone()
        };
        assert_ne!(other.file_name(), name);
        let none = Record { commit: None, ..r };
        assert!(none.file_name().contains("-nocommit-"));
    }
}
