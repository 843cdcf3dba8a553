//! A test's metrics registry: one [`WorkerMetrics`] per worker thread, found through a
//! thread-local, so the hot path takes only its own thread's (uncontended) lock. The collector
//! visits them once
//! per second for the interval series and once at the end for the totals.

use super::names::{NameKind, Names};
use super::worker::WorkerMetrics;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static LOCAL: RefCell<Option<(u64, Arc<Mutex<WorkerMetrics>>)>> = const { RefCell::new(None) };
}

/// Counts so far, for progress reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) requests: u64,
    pub(crate) request_errors: u64,
    pub(crate) dropped: u64,
    pub(crate) late: u64,
    pub(crate) interrupted: u64,
    /// Successful iterations within the test's `slo` (goodput; 0 without one).
    pub(crate) good: u64,
}

/// One request name's counters so far (no histogram), for live metrics.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct NameCounts {
    pub(crate) by_class: [u64; super::RequestClass::ALL.len()],
    pub(crate) by_status: Vec<(u16, u64)>,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) exemplars: loadtest_report::exemplar::Exemplars,
    /// The name's streamed responses so far.
    pub(crate) stream: Option<super::worker::StreamStats>,
}

/// The metrics of one running test.
pub(crate) struct Metrics {
    id: u64,
    workers: Mutex<Vec<Arc<Mutex<WorkerMetrics>>>>,
    request_intervals: bool,
    /// The test's `slo` in microseconds (goodput), copied into every worker.
    slo_us: Option<u64>,
    request_names: Arc<Names>,
    latency_names: Arc<Names>,
    counter_names: Arc<Names>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while recording cannot leave a worker half-updated in a way that matters more than
    // losing the run, so a poisoned lock is used as it is.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    /// A new, empty registry keeping the default number of distinct names, without request
    /// intervals.
    #[cfg(any(test, feature = "bench"))]
    pub(crate) fn new() -> Arc<Metrics> {
        Metrics::with_settings(super::names::DEFAULT_MAX_NAMES, false, None)
    }

    /// A new, empty registry keeping at most `max_names` request names and as many custom
    /// metric names of each kind (further names are counted under [`super::names::OVERFLOW`]),
    /// whose intervals also hold each request name's latency when `request_intervals` is set,
    /// and which counts goodput against `slo_us` when set.
    pub(crate) fn with_settings(
        max_names: u64,
        request_intervals: bool,
        slo_us: Option<u64>,
    ) -> Arc<Metrics> {
        Arc::new(Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            workers: Mutex::new(Vec::new()),
            request_intervals,
            slo_us,
            request_names: Arc::new(Names::new(NameKind::Request, max_names)),
            latency_names: Arc::new(Names::new(NameKind::Latency, max_names)),
            counter_names: Arc::new(Names::new(NameKind::Counter, max_names)),
        })
    }

    /// The warnings of names that did not fit under the cap (none when all fit).
    pub(crate) fn name_warnings(&self) -> Vec<String> {
        [
            &self.request_names,
            &self.latency_names,
            &self.counter_names,
        ]
        .iter()
        .filter_map(|n| n.warning())
        .collect()
    }

    /// Runs `f` on this thread's worker, creating it on first use.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut WorkerMetrics) -> R) -> R {
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.as_ref().is_none_or(|(id, _)| *id != self.id) {
                let worker = Arc::new(Mutex::new(WorkerMetrics {
                    request_intervals: self.request_intervals,
                    slo_us: self.slo_us,
                    request_names: self.request_names.clone(),
                    latency_names: self.latency_names.clone(),
                    counter_names: self.counter_names.clone(),
                    ..WorkerMetrics::default()
                }));
                lock(&self.workers).push(worker.clone());
                *local = Some((self.id, worker));
            }
            let (_, worker) = local.as_ref().expect("set just above");
            let mut guard = lock(worker);
            f(&mut guard)
        })
    }

    /// Takes every worker's current interval and merges them.
    pub(crate) fn take_interval(&self) -> super::worker::Interval {
        let workers = lock(&self.workers).clone();
        let mut out = super::worker::Interval::default();
        for worker in workers {
            let mut s = lock(&worker);
            out.add(&s.interval);
            s.interval.iterations = 0;
            s.interval.failed = 0;
            s.interval.requests = 0;
            s.interval.request_errors = 0;
            s.interval.latency.reset();
            s.interval.latency_uncorrected.reset();
            s.interval.lag.reset();
            for (name, stats) in s.requests.iter_mut() {
                if let Some(h) = stats.interval_latency.as_mut().filter(|h| !h.is_empty()) {
                    super::worker::add(
                        out.request_latency
                            .entry(name.clone())
                            .or_insert_with(super::hdr::new_hist),
                        h,
                    );
                    h.reset();
                }
                let gaps = stats.stream.as_mut().and_then(|s| s.interval_gap.as_mut());
                if let Some(h) = gaps.filter(|h| !h.is_empty()) {
                    super::worker::add(
                        out.stream_gap
                            .entry(name.clone())
                            .or_insert_with(super::hdr::new_hist),
                        h,
                    );
                    h.reset();
                }
            }
        }
        out
    }

    /// The test's `slo` in microseconds, when it declares one (goodput counts against it).
    pub(crate) fn slo_us(&self) -> Option<u64> {
        self.slo_us
    }

    /// The counts so far, summed over the workers without merging their histograms.
    pub(crate) fn totals(&self) -> Totals {
        let workers = lock(&self.workers).clone();
        let mut t = Totals::default();
        for worker in workers {
            let s = lock(&worker);
            let (requests, request_errors) = s.request_counts();
            t.completed += s.completed();
            t.failed += s.failed();
            t.requests += requests;
            t.request_errors += request_errors;
            t.dropped += s.dropped;
            t.late += s.late;
            t.interrupted += s.interrupted;
            t.good += s.iter_good;
        }
        t
    }

    /// The custom counters so far, summed over the workers.
    pub(crate) fn custom_counts(&self) -> std::collections::BTreeMap<String, u64> {
        let workers = lock(&self.workers).clone();
        let mut counters = std::collections::BTreeMap::new();
        for worker in workers {
            for (name, n) in &lock(&worker).counters {
                *counters.entry(name.to_string()).or_insert(0) += n;
            }
        }
        counters
    }

    /// The custom latencies so far, bucketed for live metrics: each worker's histograms are
    /// added to the buckets, never merged into one another.
    pub(crate) fn custom_latency_buckets(
        &self,
    ) -> std::collections::BTreeMap<String, loadtest_report::live::Buckets> {
        let workers = lock(&self.workers).clone();
        let mut latencies = std::collections::BTreeMap::new();
        for worker in workers {
            for (name, h) in &lock(&worker).custom_latencies {
                latencies
                    .entry(name.to_string())
                    .or_insert_with(loadtest_report::live::Buckets::default)
                    .add_hist(h);
            }
        }
        latencies
    }

    /// Each request name's counters so far, summed over the workers without their histograms.
    pub(crate) fn name_counts(&self) -> std::collections::HashMap<Box<str>, NameCounts> {
        let workers = lock(&self.workers).clone();
        let mut out: std::collections::HashMap<Box<str>, NameCounts> =
            std::collections::HashMap::new();
        for worker in workers {
            let s = lock(&worker);
            for (name, stats) in &s.requests {
                let c = out.entry(name.clone()).or_default();
                for (a, b) in c.by_class.iter_mut().zip(stats.by_class) {
                    *a += b;
                }
                for &(status, n) in &stats.by_status {
                    match c.by_status.iter_mut().find(|(st, _)| *st == status) {
                        Some((_, m)) => *m += n,
                        None => c.by_status.push((status, n)),
                    }
                }
                c.bytes_sent += stats.bytes_sent;
                c.bytes_received += stats.bytes_received;
                c.exemplars.merge(&stats.exemplars);
                if let Some(theirs) = &stats.stream {
                    c.stream.get_or_insert_with(Default::default).merge(theirs);
                }
            }
        }
        out
    }

    /// Merges every worker into one (the totals so far).
    pub(crate) fn merged(&self) -> WorkerMetrics {
        let workers = lock(&self.workers).clone();
        let mut out = WorkerMetrics::default();
        for worker in workers {
            out.merge(&lock(&worker));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_record_into_their_own_shards() {
        let m = Metrics::new();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        m.with(|sh| sh.iteration(10, Some(10), None));
                    }
                });
            }
        });
        assert_eq!(lock(&m.workers).len(), 4);
        assert_eq!(m.merged().completed(), 4000);
        m.with(|sh| {
            sh.iteration(10, Some(10), Some(crate::metrics::IterationClass::User));
            sh.request(
                "GET /",
                crate::metrics::RequestClass::Ok,
                Some(200),
                5,
                0,
                2,
            );
            sh.request(
                "GET /",
                crate::metrics::RequestClass::Http5xx,
                Some(503),
                5,
                0,
                2,
            );
            sh.dropped += 3;
        });
        let merged = m.merged();
        let (requests, request_errors) = merged.request_counts();
        assert_eq!(
            m.totals(),
            Totals {
                completed: merged.completed(),
                failed: merged.failed(),
                requests,
                request_errors,
                dropped: merged.dropped,
                late: merged.late,
                interrupted: merged.interrupted,
                good: merged.iter_good,
            }
        );
        assert_eq!(
            m.totals(),
            Totals {
                completed: 4001,
                failed: 1,
                requests: 2,
                request_errors: 1,
                dropped: 3,
                late: 0,
                interrupted: 0,
                good: 0,
            }
        );
        let names = m.name_counts();
        assert_eq!(names["GET /"].by_class[0], 1);
        assert_eq!(names["GET /"].by_status, vec![(200, 1), (503, 1)]);
        assert_eq!(names["GET /"].bytes_received, 4);
        assert_eq!(m.take_interval().iterations, 4001);
        assert_eq!(m.take_interval().iterations, 0);
    }

    #[test]
    fn a_new_test_gets_new_shards() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.with(|s| s.count("x", 1));
        b.with(|s| s.count("x", 2));
        a.with(|s| s.count("x", 1));
        assert_eq!(a.merged().counters["x"], 2);
        assert_eq!(b.merged().counters["x"], 2);
    }
}
