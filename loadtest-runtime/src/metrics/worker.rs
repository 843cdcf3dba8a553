//! One worker thread's share of a test's metrics ([`WorkerMetrics`]). Each worker thread records
//! into its own; they are merged once per second (the interval) and at the end (the totals).
//! (Not a scale-out shard: those are whole generators, `config::shard`.)

use super::hdr::{self, Hist};
use super::names::{DEFAULT_MAX_NAMES, NameKind, Names};
use super::names_map::NameMap;
pub use loadtest_report::class::{IterationClass, RequestClass};
use loadtest_report::exemplar::{Exemplar, Exemplars};
use loadtest_report::grammar::StreamMeasure;
use loadtest_report::verdict::Measurements;
use std::collections::HashMap;
use std::sync::Arc;

/// Metrics of one request name within a worker.
#[derive(Clone)]
pub(crate) struct RequestStats {
    pub(crate) by_class: [u64; RequestClass::ALL.len()],
    pub(crate) by_status: Vec<(u16, u64)>,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) latency: Hist,
    /// The current interval's latency, kept only when the series holds each request name's
    /// latency per second (see [`WorkerMetrics::request_intervals`]).
    pub(crate) interval_latency: Option<Hist>,
    /// The slowest requests, with their trace ids.
    pub(crate) exemplars: Exemplars,
    /// The name's streamed responses; boxed, and only for names that had one, so a request read
    /// whole costs nothing more.
    pub(crate) stream: Option<Box<StreamStats>>,
}

/// The streamed responses of one request name within a worker (see
/// [`loadtest_report::report::StreamMetrics`]), recorded by [`WorkerMetrics::stream_event`] and
/// [`WorkerMetrics::stream_end`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StreamStats {
    pub(crate) streams: u64,
    pub(crate) broken: u64,
    pub(crate) chunks: u64,
    pub(crate) events: u64,
    pub(crate) first_byte: Hist,
    pub(crate) first_event: Hist,
    pub(crate) gap: Hist,
    pub(crate) duration: Hist,
    /// The current interval's gaps, kept only when the series holds each request name's
    /// latency per second (as [`RequestStats::interval_latency`]).
    pub(crate) interval_gap: Option<Hist>,
}

impl Default for StreamStats {
    fn default() -> Self {
        StreamStats {
            streams: 0,
            broken: 0,
            chunks: 0,
            events: 0,
            first_byte: hdr::new_hist(),
            first_event: hdr::new_hist(),
            gap: hdr::new_hist(),
            duration: hdr::new_hist(),
            interval_gap: None,
        }
    }
}

impl StreamStats {
    pub(crate) fn merge(&mut self, other: &StreamStats) {
        self.streams += other.streams;
        self.broken += other.broken;
        self.chunks += other.chunks;
        self.events += other.events;
        for (a, b) in [
            (&mut self.first_byte, &other.first_byte),
            (&mut self.first_event, &other.first_event),
            (&mut self.gap, &other.gap),
            (&mut self.duration, &other.duration),
        ] {
            a.add(b).expect("auto-resizing histograms always merge");
        }
    }

    /// The histogram a threshold rule on a stream measure reads.
    pub(crate) fn measure(&self, measure: StreamMeasure) -> &Hist {
        match measure {
            StreamMeasure::FirstByte => &self.first_byte,
            StreamMeasure::FirstEvent => &self.first_event,
            StreamMeasure::Gap => &self.gap,
            StreamMeasure::Total => &self.duration,
        }
    }
}

/// How one stream ended, for [`WorkerMetrics::stream_end`]: its times from the request's start, in
/// microseconds, and its counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamEnd {
    /// To the first byte of the body, if one came.
    pub(crate) first_byte_us: Option<u64>,
    /// To the first event, if one came.
    pub(crate) first_event_us: Option<u64>,
    /// To the end of the stream (or where it broke off, or was dropped).
    pub(crate) duration_us: u64,
    /// Body chunks received.
    pub(crate) chunks: u64,
    /// The stream broke off before its end.
    pub(crate) broken: bool,
}

impl Default for RequestStats {
    fn default() -> Self {
        RequestStats {
            by_class: [0; RequestClass::ALL.len()],
            by_status: Vec::new(),
            bytes_sent: 0,
            bytes_received: 0,
            latency: hdr::new_hist(),
            interval_latency: None,
            exemplars: Exemplars::default(),
            stream: None,
        }
    }
}

impl RequestStats {
    pub(crate) fn count(&self) -> u64 {
        self.by_class.iter().sum()
    }

    fn merge(&mut self, other: &RequestStats) {
        for (a, b) in self.by_class.iter_mut().zip(other.by_class) {
            *a += b;
        }
        for &(status, n) in &other.by_status {
            bump_status(&mut self.by_status, status, n);
        }
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.latency
            .add(&other.latency)
            .expect("auto-resizing histograms always merge");
        self.exemplars.merge(&other.exemplars);
        if let Some(theirs) = &other.stream {
            self.stream.get_or_insert_with(Box::default).merge(theirs);
        }
    }
}

fn bump_status(v: &mut Vec<(u16, u64)>, status: u16, n: u64) {
    match v.iter_mut().find(|(s, _)| *s == status) {
        Some((_, c)) => *c += n,
        None => v.push((status, n)),
    }
}

/// What one request attempt's connection work took: the phase timings (microseconds) and how
/// its connection was come by. The native and hyper transports measure these (not reqwest).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Phases {
    pub(crate) dns_us: Option<u64>,
    pub(crate) connect_us: Option<u64>,
    pub(crate) tls_us: Option<u64>,
    /// From the request being sent to the response head.
    pub(crate) first_byte_us: Option<u64>,
    /// From the response head to the end of the body.
    pub(crate) transfer_us: Option<u64>,
    /// Connections opened.
    pub(crate) opened: u64,
    /// Requests sent on a connection kept from an earlier request.
    pub(crate) reused: u64,
    /// Kept connections found closed (by the server, or broken) and replaced.
    pub(crate) reopened: u64,
}

/// The phases in report order, with their names.
pub(crate) const PHASE_NAMES: [&str; 5] = ["dns", "connect", "tls", "first_byte", "transfer"];

/// What happened in the current one-second interval.
#[derive(Clone)]
pub(crate) struct Interval {
    pub(crate) iterations: u64,
    pub(crate) failed: u64,
    pub(crate) requests: u64,
    pub(crate) request_errors: u64,
    pub(crate) latency: Hist,
    /// Open model only, like the totals' uncorrected latency.
    pub(crate) latency_uncorrected: Hist,
    /// Open model only: how late the interval's iterations started (for live metrics).
    pub(crate) lag: Hist,
    /// Each request name's latency in the interval, when the workers keep it; filled by
    /// [`super::Metrics::take_interval`] from the workers' [`RequestStats::interval_latency`].
    pub(crate) request_latency: HashMap<Box<str>, Hist>,
    /// Each streamed request name's gaps between events in the interval, kept as
    /// `request_latency` is.
    pub(crate) stream_gap: HashMap<Box<str>, Hist>,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            iterations: 0,
            failed: 0,
            requests: 0,
            request_errors: 0,
            latency: hdr::new_hist(),
            latency_uncorrected: hdr::new_hist(),
            lag: hdr::new_hist(),
            request_latency: HashMap::new(),
            stream_gap: HashMap::new(),
        }
    }
}

impl Interval {
    /// Adds `other` (a later slice of the same second) to this interval.
    pub(crate) fn add(&mut self, other: &Interval) {
        self.iterations += other.iterations;
        self.failed += other.failed;
        self.requests += other.requests;
        self.request_errors += other.request_errors;
        add(&mut self.latency, &other.latency);
        add(&mut self.latency_uncorrected, &other.latency_uncorrected);
        add(&mut self.lag, &other.lag);
        for (name, h) in &other.request_latency {
            add(
                self.request_latency
                    .entry(name.clone())
                    .or_insert_with(hdr::new_hist),
                h,
            );
        }
        for (name, h) in &other.stream_gap {
            add(
                self.stream_gap
                    .entry(name.clone())
                    .or_insert_with(hdr::new_hist),
                h,
            );
        }
    }
}

/// `into += from`, for histograms that always merge (auto-resizing, same precision).
pub(crate) fn add(into: &mut Hist, from: &Hist) {
    into.add(from)
        .expect("auto-resizing histograms always merge");
}

/// The most distinct error messages kept per worker; further distinct messages are counted as "other".
const MAX_ERROR_MESSAGES: usize = 32;

/// One worker's metrics.
#[derive(Clone)]
pub(crate) struct WorkerMetrics {
    pub(crate) iter_ok: u64,
    /// Successful iterations whose corrected latency was within [`WorkerMetrics::slo_us`] (goodput).
    pub(crate) iter_good: u64,
    /// Failed iterations, indexed by [`IterationClass`] (its order in `IterationClass::ALL`).
    pub(crate) iter_failed: [u64; IterationClass::ALL.len()],
    pub(crate) interrupted: u64,
    pub(crate) dropped: u64,
    pub(crate) late: u64,
    pub(crate) latency: Hist,
    pub(crate) latency_uncorrected: Hist,
    pub(crate) lag: Hist,
    pub(crate) requests: NameMap<RequestStats>,
    pub(crate) retries_attempted: u64,
    pub(crate) retries_exhausted: u64,
    pub(crate) custom_latencies: HashMap<Box<str>, Hist>,
    pub(crate) counters: HashMap<Box<str>, u64>,
    pub(crate) errors: HashMap<(&'static str, String), u64>,
    pub(crate) interval: Interval,
    /// One histogram per phase, in [`PHASE_NAMES`] order.
    pub(crate) phases: [Hist; 5],
    pub(crate) conn_opened: u64,
    pub(crate) conn_reused: u64,
    pub(crate) conn_reopened: u64,
    /// Whether each request name's latency is also kept per interval (for the series).
    pub(crate) request_intervals: bool,
    /// The test's `slo` in microseconds, when it declares one: goodput counts against it.
    pub(crate) slo_us: Option<u64>,
    /// The test-wide bound on request names (shared by every worker of the test).
    pub(crate) request_names: Arc<Names>,
    /// The test-wide bound on custom latency names.
    pub(crate) latency_names: Arc<Names>,
    /// The test-wide bound on custom counter names.
    pub(crate) counter_names: Arc<Names>,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics {
            iter_ok: 0,
            iter_good: 0,
            iter_failed: [0; IterationClass::ALL.len()],
            interrupted: 0,
            dropped: 0,
            late: 0,
            latency: hdr::new_hist(),
            latency_uncorrected: hdr::new_hist(),
            lag: hdr::new_hist(),
            requests: NameMap::default(),
            retries_attempted: 0,
            retries_exhausted: 0,
            custom_latencies: HashMap::new(),
            counters: HashMap::new(),
            errors: HashMap::new(),
            interval: Interval::default(),
            phases: std::array::from_fn(|_| hdr::new_hist()),
            conn_opened: 0,
            conn_reused: 0,
            conn_reopened: 0,
            request_intervals: false,
            slo_us: None,
            request_names: Arc::new(Names::new(NameKind::Request, DEFAULT_MAX_NAMES)),
            latency_names: Arc::new(Names::new(NameKind::Latency, DEFAULT_MAX_NAMES)),
            counter_names: Arc::new(Names::new(NameKind::Counter, DEFAULT_MAX_NAMES)),
        }
    }
}

impl WorkerMetrics {
    /// Records a finished iteration: corrected latency (from the intended start), uncorrected
    /// latency (from the actual start; `None` in the closed model, where the two are the same
    /// and reports show only one), and its failure class if it failed.
    #[inline]
    pub(crate) fn iteration(
        &mut self,
        corrected_us: u64,
        uncorrected_us: Option<u64>,
        failed: Option<IterationClass>,
    ) {
        hdr::record(&mut self.latency, corrected_us);
        if let Some(u) = uncorrected_us {
            hdr::record(&mut self.latency_uncorrected, u);
            hdr::record(&mut self.interval.latency_uncorrected, u);
        }
        hdr::record(&mut self.interval.latency, corrected_us);
        self.interval.iterations += 1;
        match failed {
            None => {
                self.iter_ok += 1;
                if self.slo_us.is_some_and(|slo| corrected_us <= slo) {
                    self.iter_good += 1;
                }
            }
            Some(class) => {
                self.iter_failed[class as usize] += 1;
                self.interval.failed += 1;
            }
        }
    }

    /// Records one request attempt.
    #[inline]
    pub(crate) fn request(
        &mut self,
        name: &str,
        class: RequestClass,
        status: Option<u16>,
        latency_us: u64,
        sent: u64,
        received: u64,
    ) {
        self.record_request(name, class, status, latency_us, sent, received, |_| {});
    }

    /// Records one request attempt and offers it to its name's slowest requests; `exemplar`
    /// builds its exemplar only when it is kept.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn request_with_exemplar(
        &mut self,
        name: &str,
        class: RequestClass,
        status: Option<u16>,
        latency_us: u64,
        sent: u64,
        received: u64,
        exemplar: impl FnOnce() -> Exemplar,
    ) {
        self.record_request(name, class, status, latency_us, sent, received, |e| {
            e.offer(latency_us, exemplar)
        });
    }

    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn record_request(
        &mut self,
        name: &str,
        class: RequestClass,
        status: Option<u16>,
        latency_us: u64,
        sent: u64,
        received: u64,
        offer: impl FnOnce(&mut Exemplars),
    ) {
        let stats = match self.requests.get_mut(name) {
            Some(s) => s,
            None => {
                let name = self.request_names.admit(name);
                self.requests.entry(name.into()).or_default()
            }
        };
        stats.by_class[class as usize] += 1;
        if let Some(s) = status {
            bump_status(&mut stats.by_status, s, 1);
        }
        stats.bytes_sent += sent;
        stats.bytes_received += received;
        hdr::record(&mut stats.latency, latency_us);
        if self.request_intervals {
            hdr::record(
                stats.interval_latency.get_or_insert_with(hdr::new_hist),
                latency_us,
            );
        }
        offer(&mut stats.exemplars);
        self.interval.requests += 1;
        if class != RequestClass::Ok {
            self.interval.request_errors += 1;
        }
    }

    /// The stream stats of a request name (admitted as a request's name is).
    fn stream_stats(&mut self, name: &str) -> &mut StreamStats {
        let stats = if self.requests.contains_key(name) {
            self.requests.get_mut(name).expect("found just above")
        } else {
            let name = self.request_names.admit(name);
            self.requests.entry(name.into()).or_default()
        };
        stats.stream.get_or_insert_with(Box::default)
    }

    /// Records one event of a stream of request `name`: the gap since the stream's previous
    /// event (`None` for its first). Recorded as events arrive, so live metrics see them.
    pub(crate) fn stream_event(&mut self, name: &str, gap_us: Option<u64>) {
        let intervals = self.request_intervals;
        let stats = self.stream_stats(name);
        stats.events += 1;
        if let Some(gap) = gap_us {
            hdr::record(&mut stats.gap, gap);
            if intervals {
                hdr::record(stats.interval_gap.get_or_insert_with(hdr::new_hist), gap);
            }
        }
    }

    /// Records the end of one stream of request `name` (the request itself is recorded as any
    /// request is, by [`WorkerMetrics::request`]).
    pub(crate) fn stream_end(&mut self, name: &str, end: &StreamEnd) {
        let stats = self.stream_stats(name);
        stats.streams += 1;
        stats.broken += u64::from(end.broken);
        stats.chunks += end.chunks;
        if let Some(us) = end.first_byte_us {
            hdr::record(&mut stats.first_byte, us);
        }
        if let Some(us) = end.first_event_us {
            hdr::record(&mut stats.first_event, us);
        }
        hdr::record(&mut stats.duration, end.duration_us);
    }

    /// Records one attempt's phase timings and connection counts.
    #[inline]
    pub(crate) fn phases(&mut self, p: &Phases) {
        let values = [
            p.dns_us,
            p.connect_us,
            p.tls_us,
            p.first_byte_us,
            p.transfer_us,
        ];
        for (h, v) in self.phases.iter_mut().zip(values) {
            if let Some(us) = v {
                hdr::record(h, us);
            }
        }
        self.conn_opened += p.opened;
        self.conn_reused += p.reused;
        self.conn_reopened += p.reopened;
    }

    /// Records an error message (bounded in distinct messages).
    pub(crate) fn error(&mut self, class: &'static str, message: String) {
        if let Some(n) = self.errors.get_mut(&(class, message.clone())) {
            *n += 1;
        } else if self.errors.len() < MAX_ERROR_MESSAGES {
            self.errors.insert((class, message), 1);
        } else {
            *self
                .errors
                .entry((class, "(further distinct messages not kept)".to_string()))
                .or_insert(0) += 1;
        }
    }

    /// Records a custom latency.
    pub(crate) fn custom(&mut self, name: &str, us: u64) {
        let h = match self.custom_latencies.get_mut(name) {
            Some(h) => h,
            None => {
                let name = self.latency_names.admit(name);
                self.custom_latencies
                    .entry(name.into())
                    .or_insert_with(hdr::new_hist)
            }
        };
        hdr::record(h, us);
    }

    /// Adds to a custom counter.
    pub(crate) fn count(&mut self, name: &str, n: u64) {
        match self.counters.get_mut(name) {
            Some(c) => *c += n,
            None => {
                let name = self.counter_names.admit(name);
                *self.counters.entry(name.into()).or_insert(0) += n;
            }
        }
    }

    /// Adds everything in `other` (except its interval) to this worker.
    pub(crate) fn merge(&mut self, other: &WorkerMetrics) {
        self.iter_ok += other.iter_ok;
        self.iter_good += other.iter_good;
        for (a, b) in self.iter_failed.iter_mut().zip(other.iter_failed) {
            *a += b;
        }
        self.interrupted += other.interrupted;
        self.dropped += other.dropped;
        self.late += other.late;
        self.latency
            .add(&other.latency)
            .expect("auto-resizing histograms always merge");
        self.latency_uncorrected
            .add(&other.latency_uncorrected)
            .expect("auto-resizing histograms always merge");
        self.lag
            .add(&other.lag)
            .expect("auto-resizing histograms always merge");
        for (name, stats) in &other.requests {
            self.requests.entry(name.clone()).or_default().merge(stats);
        }
        self.retries_attempted += other.retries_attempted;
        self.retries_exhausted += other.retries_exhausted;
        for (name, h) in &other.custom_latencies {
            self.custom_latencies
                .entry(name.clone())
                .or_insert_with(hdr::new_hist)
                .add(h)
                .expect("auto-resizing histograms always merge");
        }
        for (name, n) in &other.counters {
            *self.counters.entry(name.clone()).or_insert(0) += n;
        }
        for (key, n) in &other.errors {
            *self.errors.entry(key.clone()).or_insert(0) += n;
        }
        for (a, b) in self.phases.iter_mut().zip(&other.phases) {
            a.add(b).expect("auto-resizing histograms always merge");
        }
        self.conn_opened += other.conn_opened;
        self.conn_reused += other.conn_reused;
        self.conn_reopened += other.conn_reopened;
    }

    /// Failed iterations in total.
    pub(crate) fn failed(&self) -> u64 {
        self.iter_failed.iter().sum()
    }

    /// Completed iterations in total.
    pub(crate) fn completed(&self) -> u64 {
        self.iter_ok + self.failed()
    }

    /// Requests (attempts) in total, and how many were not `ok`.
    pub(crate) fn request_counts(&self) -> (u64, u64) {
        self.requests.values().fold((0, 0), |(t, e), s| {
            let n = s.count();
            (t + n, e + n - s.by_class[RequestClass::Ok as usize])
        })
    }
}

/// Threshold rules read a test's merged workers directly (no histogram is copied).
impl Measurements for WorkerMetrics {
    fn iteration_latency(&self) -> &Hist {
        &self.latency
    }

    fn named_latency(&self, name: &str) -> Option<&Hist> {
        self.requests
            .get(name)
            .map(|r| &r.latency)
            .or_else(|| self.custom_latencies.get(name))
    }

    fn stream_latency(&self, name: &str, measure: StreamMeasure) -> Option<&Hist> {
        self.requests
            .get(name)
            .and_then(|r| r.stream.as_deref())
            .map(|s| s.measure(measure))
    }

    fn completed(&self) -> u64 {
        WorkerMetrics::completed(self)
    }

    fn failed(&self) -> u64 {
        WorkerMetrics::failed(self)
    }

    fn requests(&self, name: Option<&str>) -> Option<(u64, u64)> {
        match name {
            None => {
                let (total, errors) = self.request_counts();
                Some((total, total - errors))
            }
            Some(name) => self
                .requests
                .get(name)
                .map(|r| (r.count(), r.by_class[RequestClass::Ok as usize])),
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }

    fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_everything() {
        let mut a = WorkerMetrics::default();
        let mut b = WorkerMetrics::default();
        a.iteration(100, Some(90), None);
        b.iteration(300, Some(200), Some(IterationClass::Panic));
        b.request("GET /", RequestClass::Http5xx, Some(503), 50, 0, 10);
        b.request("GET /", RequestClass::Ok, Some(200), 40, 0, 10);
        b.error("panic", "boom".into());
        a.merge(&b);
        assert_eq!((a.completed(), a.failed()), (2, 1));
        assert_eq!(a.request_counts(), (2, 1));
        assert_eq!(a.requests["GET /"].by_status, vec![(503, 1), (200, 1)]);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.errors[&("panic", "boom".to_string())], 1);
    }

    #[test]
    fn distinct_errors_are_bounded() {
        let mut s = WorkerMetrics::default();
        for i in 0..100 {
            s.error("user", format!("error {i}"));
        }
        assert_eq!(s.errors.len(), MAX_ERROR_MESSAGES + 1);
        assert_eq!(s.errors.values().sum::<u64>(), 100);
    }

    #[test]
    fn the_shards_merge_keeps_each_names_slowest_requests() {
        let exemplar = |latency_us| Exemplar {
            trace_id: None,
            span_id: None,
            sampled: false,
            started_at_unix: 1.0,
            latency_us,
            status: Some(200),
            shard: None,
        };
        let (mut a, mut b) = (WorkerMetrics::default(), WorkerMetrics::default());
        for us in [10, 70, 20, 90] {
            a.request_with_exemplar("x", RequestClass::Ok, Some(200), us, 0, 0, || exemplar(us));
        }
        for us in [80, 30, 60, 5, 40] {
            b.request_with_exemplar("x", RequestClass::Ok, Some(200), us, 0, 0, || exemplar(us));
        }
        // A request recorded without an exemplar (a bench's) is counted, never kept.
        b.request("x", RequestClass::Ok, Some(200), 1_000, 0, 0);
        a.merge(&b);
        let kept: Vec<u64> = a.requests["x"]
            .exemplars
            .as_slice()
            .iter()
            .map(|e| e.latency_us)
            .collect();
        assert_eq!(kept, vec![90, 80, 70, 60, 40]);
        assert_eq!(a.requests["x"].count(), 10);
    }
}
