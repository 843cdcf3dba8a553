//! Live metrics of a running test, for metrics endpoints (`cargo loadtest --metrics-listen`):
//! fixed-bucket latency counts and per-request-name counters, sent in
//! [`crate::protocol::Progress::live`] once a second when the run asks for them.
//!
//! Latency is bucketed into [`LATENCY_BUCKETS_US`], the same fixed bounds on every run and
//! shard, so that a metrics server can add histograms of several generators up and take their
//! quantiles. The buckets are derived from the HdrHistograms the runtime records anyway
//! ([`Buckets::add_hist`]): a value counts in the first bucket whose bound is at least the
//! highest value HdrHistogram treats as equal to it (as its percentiles do), so the buckets of
//! each second add up exactly to those of the whole test.

use crate::class::RequestClass;
use crate::hdr::Hist;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Upper bounds of the latency buckets, in microseconds: 1-2-5 steps from 10 µs to 50 s, then
/// one, two and five minutes. A last, unbounded bucket (`+Inf`) follows them.
pub const LATENCY_BUCKETS_US: [u64; 24] = [
    10,
    20,
    50,
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    60_000_000,
    120_000_000,
    300_000_000,
];

/// The most request names a test exposes live; further names are counted under [`OTHER_NAME`].
pub const MAX_LIVE_NAMES: usize = 50;

/// The request name that holds the requests of names beyond [`MAX_LIVE_NAMES`].
pub const OTHER_NAME: &str = "(other)";

/// Latency counts per fixed bucket, cumulative since the test started.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Buckets {
    /// Values per bucket (not cumulative across buckets): one per bound of
    /// [`LATENCY_BUCKETS_US`], then the values above the last bound. Empty when nothing was
    /// recorded.
    pub counts: Vec<u64>,
    /// The sum of the values, in microseconds (each value as HdrHistogram's median equivalent).
    pub sum_us: u64,
}

impl Buckets {
    /// Adds every value of `h` to the buckets.
    pub fn add_hist(&mut self, h: &Hist) {
        if h.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; LATENCY_BUCKETS_US.len() + 1];
        }
        for v in h.iter_recorded() {
            let n = v.count_at_value();
            let high = h.highest_equivalent(v.value_iterated_to());
            self.counts[bucket_of(high)] += n;
            self.sum_us = self
                .sum_us
                .saturating_add(h.median_equivalent(v.value_iterated_to()).saturating_mul(n));
        }
    }

    /// The buckets of the values of `h`.
    pub fn of(h: &Hist) -> Buckets {
        let mut b = Buckets::default();
        b.add_hist(h);
        b
    }

    /// Adds `other` to these buckets.
    pub fn add(&mut self, other: &Buckets) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; LATENCY_BUCKETS_US.len() + 1];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }

    /// The number of values.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(upper bound in microseconds, values at or below it)` per bound, cumulative, as
    /// Prometheus histograms expose them; the last entry (`None`) is `+Inf`.
    pub fn cumulative(&self) -> Vec<(Option<u64>, u64)> {
        let mut total = 0;
        (0..=LATENCY_BUCKETS_US.len())
            .map(|i| {
                total += self.counts.get(i).copied().unwrap_or(0);
                (LATENCY_BUCKETS_US.get(i).copied(), total)
            })
            .collect()
    }
}

/// The index of the bucket a value (microseconds) falls in.
pub fn bucket_of(us: u64) -> usize {
    LATENCY_BUCKETS_US.partition_point(|&bound| bound < us)
}

/// One request name's counters and latency so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveRequest {
    /// Requests by outcome class (`ok`, `http_4xx`, ...), as in the report.
    pub by_class: BTreeMap<RequestClass, u64>,
    /// Responses by status code.
    pub by_status: BTreeMap<String, u64>,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Latency, from sending to the end of the response body.
    pub latency: Buckets,
    /// The slowest requests so far, with their trace ids (for OpenMetrics exemplars); absent
    /// from harnesses that predate them.
    #[serde(default, skip_serializing_if = "crate::exemplar::Exemplars::is_empty")]
    pub exemplars: crate::exemplar::Exemplars,
    /// The name's streamed responses so far (see [`crate::report::StreamMetrics`]); absent
    /// when none of its responses was read as a stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<LiveStream>,
}

/// The streamed responses of one request name so far, cumulative since the test started.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveStream {
    /// Streams that ended (to their end, broken off, or dropped by the test).
    pub streams: u64,
    /// Of those, streams that broke off.
    pub broken: u64,
    /// Body chunks received.
    pub chunks: u64,
    /// Events received (as they arrive, before their stream ends).
    pub events: u64,
    /// Time from the request's start to the first byte of the body.
    pub first_byte: Buckets,
    /// Time from the request's start to the first event.
    pub first_event: Buckets,
    /// The time between one event of a stream and the next.
    pub gap: Buckets,
    /// Each stream's total time.
    pub duration: Buckets,
}

impl LiveStream {
    /// Adds a stream's figures (a report's, or a harness's so far) to these.
    pub fn add(&mut self, s: &crate::report::StreamMetrics) {
        self.streams += s.streams;
        self.broken += s.broken;
        self.chunks += s.chunks;
        self.events += s.events;
        for (b, h) in [
            (&mut self.first_byte, &s.first_byte),
            (&mut self.first_event, &s.first_event),
            (&mut self.gap, &s.gap),
            (&mut self.duration, &s.duration),
        ] {
            if let Ok(h) = crate::hdr::decode(&h.hdr_v2_base64) {
                b.add_hist(&h);
            }
        }
    }
}

/// Everything a metrics endpoint shows of a running test, cumulative since it started (gauges
/// are the current value).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveDetail {
    /// Iterations that returned `Ok`.
    pub ok: u64,
    /// Iterations that started more than 10 ms after their intended start.
    pub late: u64,
    /// Iterations cut short by the end of the test or an interrupt.
    pub interrupted: u64,
    /// Closed model: virtual users currently running iterations (the ramp's current level).
    pub users: Option<u64>,
    /// Open model: iterations running now.
    pub in_flight: Option<u64>,
    /// CPU time the harness process used since the test started, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory of the harness process now, in bytes.
    pub rss_bytes: u64,
    /// Iteration latency (corrected in the open model).
    pub iteration_latency: Buckets,
    /// Open model: how late iterations started against their schedule.
    pub scheduling_lag: Buckets,
    /// Per request name, at most [`MAX_LIVE_NAMES`] of them plus [`OTHER_NAME`].
    pub requests: BTreeMap<String, LiveRequest>,
    /// With an `slo`: the successful iterations whose own latency met it (goodput) so far;
    /// absent without one and from harnesses that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good: Option<u64>,
    /// Custom counters (`ctx.count`, the WebSocket message counters) so far, by name, at most
    /// [`MAX_LIVE_NAMES`] of them plus [`OTHER_NAME`] (see [`bound`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_counters: BTreeMap<String, u64>,
    /// Custom latencies (`ctx.record`) so far, by name, bounded as the counters are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_latencies: BTreeMap<String, Buckets>,
}

/// `values` with at most [`MAX_LIVE_NAMES`] names: the first ones by name keep theirs, the rest
/// (and any [`OTHER_NAME`] already there) are added up under [`OTHER_NAME`] with `add`. For
/// custom metrics, whose names the harness already bounds by the test's `max_names`.
pub fn bound<V: Default + Clone>(
    values: &BTreeMap<String, V>,
    add: impl Fn(&mut V, &V),
) -> BTreeMap<String, V> {
    if values.len() <= MAX_LIVE_NAMES {
        return values.clone();
    }
    let mut out = BTreeMap::new();
    for (i, (name, v)) in values.iter().filter(|(n, _)| *n != OTHER_NAME).enumerate() {
        let key = if i < MAX_LIVE_NAMES {
            name.as_str()
        } else {
            OTHER_NAME
        };
        add(out.entry(key.to_string()).or_default(), v);
    }
    if let Some(v) = values.get(OTHER_NAME) {
        add(out.entry(OTHER_NAME.to_string()).or_default(), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdr::{new_hist, record};

    #[test]
    fn bounding_keeps_the_first_names_and_adds_up_the_rest() {
        let few: BTreeMap<String, u64> = [("a".to_string(), 1)].into();
        assert_eq!(bound(&few, |a, b| *a += b), few);
        let many: BTreeMap<String, u64> = (0..MAX_LIVE_NAMES + 3)
            .map(|i| (format!("n{i:03}"), 1))
            .chain([(OTHER_NAME.to_string(), 10)])
            .collect();
        let b = bound(&many, |a, b| *a += b);
        assert_eq!(b.len(), MAX_LIVE_NAMES + 1);
        assert_eq!(b[OTHER_NAME], 13);
        assert_eq!(b["n000"], 1);
        assert!(!b.contains_key(&format!("n{MAX_LIVE_NAMES:03}")));
        assert_eq!(b.values().sum::<u64>(), many.values().sum::<u64>());
    }

    #[test]
    fn values_land_in_the_first_bucket_at_or_above_them() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(10), 0);
        assert_eq!(bucket_of(11), 1);
        assert_eq!(bucket_of(1_000), 6);
        assert_eq!(bucket_of(300_000_000), LATENCY_BUCKETS_US.len() - 1);
        assert_eq!(bucket_of(300_000_001), LATENCY_BUCKETS_US.len());
        let mut h = new_hist();
        for v in [5, 10, 15, 999, 1_000, 1_001, 7_000_000] {
            record(&mut h, v);
        }
        let b = Buckets::of(&h);
        assert_eq!(b.count(), 7);
        assert_eq!(b.counts[0], 2);
        assert_eq!(b.counts[1], 1);
        assert_eq!(b.counts[6], 2);
        assert_eq!(b.counts[7], 1);
        assert_eq!(b.counts[18], 1, "7 s is in the 10 s bucket");
        let cumulative = b.cumulative();
        assert_eq!(cumulative.last(), Some(&(None, 7)));
        assert_eq!(cumulative[6], (Some(1_000), 5));
        // The sum is exact below 2048 µs, where HdrHistogram keeps every value apart.
        assert!(
            b.sum_us
                .abs_diff(5 + 10 + 15 + 999 + 1_000 + 1_001 + 7_000_000)
                < 7_000
        );
    }

    #[test]
    fn the_buckets_of_parts_add_up_to_the_buckets_of_the_whole() {
        let (mut whole, mut a, mut b) = (new_hist(), new_hist(), new_hist());
        for i in 0..5_000u64 {
            let v = (i * 7_919) % 3_000_000;
            record(&mut whole, v);
            record(if i % 3 == 0 { &mut a } else { &mut b }, v);
        }
        let mut parts = Buckets::of(&a);
        parts.add(&Buckets::of(&b));
        assert_eq!(parts.counts, Buckets::of(&whole).counts);
        assert_eq!(parts.count(), 5_000);
    }
}
