//! Export in Bencher's metric format (BMF JSON) for teams that track results on bencher.dev:
//! one benchmark per load test, with measures for its latency percentiles, throughput and error
//! rate. Latencies are in nanoseconds (Bencher's `latency` unit); `lower_value`/`upper_value`
//! carry the minimum and maximum where they are known.

use loadtest_report::report::RunReport;
use serde_json::{Map, Value, json};

/// Renders the run's results as BMF JSON.
pub fn render(report: &RunReport) -> String {
    let mut benches = Map::new();
    for t in &report.tests {
        let Some(r) = &t.result else { continue };
        let l = &r.iteration_latency.summary;
        let ns = |us: u64| us as f64 * 1000.0;
        let total = r.iterations.total.max(1) as f64;
        let measures = json!({
            "latency": { "value": ns(l.p50_us), "lower_value": ns(l.min_us), "upper_value": ns(l.max_us) },
            "latency-p95": { "value": ns(l.p95_us) },
            "latency-p99": { "value": ns(l.p99_us) },
            "throughput": { "value": r.iterations.rate_per_s },
            "error-rate": { "value": r.iterations.failed as f64 / total },
        });
        benches.insert(t.id().to_string(), measures);
    }
    serde_json::to_string_pretty(&Value::Object(benches)).expect("BMF always serializes")
}
