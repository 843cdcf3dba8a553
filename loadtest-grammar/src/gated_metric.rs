//! The metrics the regression gate compares and the history tracks: one type, spelled in
//! reports, tolerances and history files as `p50`, `p95`, `p99`, `throughput`, `error_rate`
//! and `capacity`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A metric the regression gate compares (a saved baseline, an A/B gate, a capacity search)
/// and the history of main's runs tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatedMetric {
    /// The median iteration latency.
    P50,
    /// The 95th percentile iteration latency.
    P95,
    /// The 99th percentile iteration latency.
    P99,
    /// Completed iterations per second.
    Throughput,
    /// The share of iterations that failed.
    ErrorRate,
    /// The highest rate a capacity search (`--find-max`) found the test to hold.
    Capacity,
}

impl GatedMetric {
    /// Every gated metric, in report order.
    pub const ALL: [GatedMetric; 6] = [
        GatedMetric::P50,
        GatedMetric::P95,
        GatedMetric::P99,
        GatedMetric::Throughput,
        GatedMetric::ErrorRate,
        GatedMetric::Capacity,
    ];

    /// The metrics a run has in every one-second window (all but `capacity`, which only a
    /// capacity search measures), in report order: what a baseline comparison and the history
    /// compare.
    pub const PER_WINDOW: [GatedMetric; 5] = [
        GatedMetric::P50,
        GatedMetric::P95,
        GatedMetric::P99,
        GatedMetric::Throughput,
        GatedMetric::ErrorRate,
    ];

    /// The latency metrics, the ones that also take an absolute floor (`p50=250us`).
    pub const LATENCIES: [GatedMetric; 3] = [GatedMetric::P50, GatedMetric::P95, GatedMetric::P99];

    /// The name reports, tolerances and history files use.
    pub const fn name(self) -> &'static str {
        match self {
            GatedMetric::P50 => "p50",
            GatedMetric::P95 => "p95",
            GatedMetric::P99 => "p99",
            GatedMetric::Throughput => "throughput",
            GatedMetric::ErrorRate => "error_rate",
            GatedMetric::Capacity => "capacity",
        }
    }

    /// The metric of that name, if any.
    pub fn from_name(name: &str) -> Option<GatedMetric> {
        GatedMetric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// A latency (`p50`, `p95`, `p99`): measured in microseconds, may take an absolute floor.
    pub const fn is_latency(self) -> bool {
        matches!(self, GatedMetric::P50 | GatedMetric::P95 | GatedMetric::P99)
    }

    /// Whether a higher value is worse (latencies, errors) rather than better (throughput,
    /// capacity).
    pub const fn higher_is_worse(self) -> bool {
        !matches!(self, GatedMetric::Throughput | GatedMetric::Capacity)
    }

    /// The names of `metrics`, comma-separated, as error messages list what is accepted.
    pub fn list(metrics: &[GatedMetric]) -> String {
        metrics
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for GatedMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_serializes_as_it_is_named_and_is_found_by_its_name() {
        for m in GatedMetric::ALL {
            assert_eq!(GatedMetric::from_name(m.name()), Some(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<GatedMetric>(&json).unwrap(), m);
        }
        assert_eq!(GatedMetric::from_name("p90"), None);
        assert_eq!(GatedMetric::from_name("P50"), None);
        assert!(serde_json::from_str::<GatedMetric>("\"p90\"").is_err());
    }

    #[test]
    fn the_latencies_are_the_ones_that_take_a_floor_and_only_they() {
        for m in GatedMetric::ALL {
            assert_eq!(m.is_latency(), GatedMetric::LATENCIES.contains(&m), "{m}");
        }
        assert_eq!(GatedMetric::list(&GatedMetric::LATENCIES), "p50, p95, p99");
    }
}
