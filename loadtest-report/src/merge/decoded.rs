//! A test's measurements decoded from a report, for evaluating threshold rules on data that
//! comes from a report (a merge, the dashboard's provisional verdict) rather than a live recorder.

use super::MergeError;
use crate::class::RequestClass;
use crate::hdr::{self, Hist};
use crate::report::TestResult;
use crate::verdict::Measurements;
use loadtest_grammar::StreamMeasure;
use std::collections::BTreeMap;

/// A test's measurements with its histograms decoded: what threshold rules are evaluated on
/// when the data comes from a report rather than a live recorder.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    latency: Hist,
    request_latency: BTreeMap<String, Hist>,
    /// Each stream measure of each request name whose responses were read as streams.
    stream_latency: BTreeMap<(String, StreamMeasure), Hist>,
    custom_latency: BTreeMap<String, Hist>,
    /// `(requests, ok requests)` by request name.
    request_counts: BTreeMap<String, (u64, u64)>,
    completed: u64,
    failed: u64,
    dropped: u64,
    late: u64,
}

impl Decoded {
    /// Decodes every histogram of `r`.
    pub fn from_result(r: &TestResult) -> Result<Decoded, MergeError> {
        let decode = |what: &str, h: &crate::report::Histogram| {
            hdr::decode(&h.hdr_v2_base64).map_err(|error| MergeError::Histogram {
                histogram: what.to_string(),
                error,
            })
        };
        let mut request_latency = BTreeMap::new();
        let mut request_counts = BTreeMap::new();
        let mut stream_latency = BTreeMap::new();
        for (name, m) in &r.request_names {
            request_latency.insert(name.clone(), decode(name, &m.latency)?);
            if let Some(stream) = &m.stream {
                for measure in StreamMeasure::ALL {
                    let what = format!("{}:{name}", measure.as_str());
                    let h = decode(&what, stream.measure(measure))?;
                    stream_latency.insert((name.clone(), measure), h);
                }
            }
            request_counts.insert(
                name.clone(),
                (
                    m.count,
                    m.by_class.get(&RequestClass::Ok).copied().unwrap_or(0),
                ),
            );
        }
        let mut custom_latency = BTreeMap::new();
        for (name, h) in &r.custom_latencies {
            custom_latency.insert(name.clone(), decode(name, h)?);
        }
        Ok(Decoded {
            latency: decode("iteration latency", &r.iteration_latency)?,
            request_latency,
            stream_latency,
            custom_latency,
            request_counts,
            completed: r.iterations.total,
            failed: r.iterations.failed,
            dropped: r.iterations.dropped,
            late: r.iterations.late,
        })
    }
}

impl Measurements for Decoded {
    fn iteration_latency(&self) -> &Hist {
        &self.latency
    }
    fn named_latency(&self, name: &str) -> Option<&Hist> {
        self.request_latency
            .get(name)
            .or_else(|| self.custom_latency.get(name))
    }
    fn stream_latency(&self, name: &str, measure: StreamMeasure) -> Option<&Hist> {
        self.stream_latency.get(&(name.to_string(), measure))
    }
    fn completed(&self) -> u64 {
        self.completed
    }
    fn failed(&self) -> u64 {
        self.failed
    }
    fn requests(&self, name: Option<&str>) -> Option<(u64, u64)> {
        match name {
            None => Some(
                self.request_counts
                    .values()
                    .fold((0, 0), |(n, ok), (a, b)| (n + a, ok + b)),
            ),
            Some(name) => self.request_counts.get(name).copied(),
        }
    }
    fn dropped(&self) -> u64 {
        self.dropped
    }
    fn late(&self) -> u64 {
        self.late
    }
}
