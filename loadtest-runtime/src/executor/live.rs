//! Live metrics for a metrics endpoint: what each progress event carries when the run asks for
//! it ([`crate::protocol::RunRequest::live_metrics`]).
//!
//! Counters are summed over the shards without touching their histograms; latencies come from
//! each second's interval histograms, bucketed into the fixed bounds of
//! [`crate::live::LATENCY_BUCKETS_US`] and added up here, so a second costs one pass over that
//! second's histograms, never a merge of the whole test's. The gauges (users, in-flight
//! iterations) are read from counters the load models keep without locks.

use crate::live::{self, Buckets, LiveDetail, LiveRequest, MAX_LIVE_NAMES, OTHER_NAME};
use crate::metrics::{Interval, Metrics, ProcessSample, RequestClass};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Gauges the load models keep for live metrics, read once a second.
#[derive(Default)]
pub(crate) struct LiveGauges {
    /// Closed model: users currently running (the ramp's level, once spawned); `u64::MAX` until
    /// the controller sets it (and in the open model).
    users: AtomicU64,
    /// Open model: one counter of running iterations per schedule (each touched by its own
    /// worker thread only).
    in_flight: Mutex<Vec<Arc<AtomicU64>>>,
}

impl LiveGauges {
    /// Gauges with nothing known yet.
    pub(crate) fn new() -> LiveGauges {
        LiveGauges {
            users: AtomicU64::new(u64::MAX),
            in_flight: Mutex::new(Vec::new()),
        }
    }

    /// Closed model: the number of users running now.
    pub(crate) fn set_users(&self, n: u64) {
        self.users.store(n, Ordering::Relaxed);
    }

    /// Open model: a schedule's counter of running iterations.
    pub(crate) fn in_flight_counter(&self) -> Arc<AtomicU64> {
        let c = Arc::new(AtomicU64::new(0));
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(c.clone());
        c
    }

    fn users(&self) -> Option<u64> {
        Some(self.users.load(Ordering::Relaxed)).filter(|&n| n != u64::MAX)
    }

    fn in_flight(&self) -> Option<u64> {
        let counters = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (!counters.is_empty()).then(|| counters.iter().map(|c| c.load(Ordering::Relaxed)).sum())
    }
}

/// One test's live metrics so far, tallied by its collector second after second (what the CLI
/// keeps of them for its endpoint is its own `LiveState`).
pub(crate) struct LiveTally {
    before: ProcessSample,
    iteration_latency: Buckets,
    scheduling_lag: Buckets,
    latency: HashMap<Box<str>, Buckets>,
    /// The request names exposed so far, in the order they appeared; names beyond
    /// [`MAX_LIVE_NAMES`] are counted under [`OTHER_NAME`].
    admitted: BTreeSet<Box<str>>,
}

impl LiveTally {
    /// Starts with the process's CPU time at the test's start.
    pub(crate) fn new(before: ProcessSample) -> LiveTally {
        LiveTally {
            before,
            iteration_latency: Buckets::default(),
            scheduling_lag: Buckets::default(),
            latency: HashMap::new(),
            admitted: BTreeSet::new(),
        }
    }

    /// The name `name` is exposed under.
    fn exposed(&mut self, name: &str) -> Box<str> {
        if self.admitted.contains(name) {
            return name.into();
        }
        if self.admitted.len() < MAX_LIVE_NAMES {
            self.admitted.insert(name.into());
            return name.into();
        }
        OTHER_NAME.into()
    }

    /// Adds a second's interval and returns the detail so far.
    pub(crate) fn tick(
        &mut self,
        interval: &Interval,
        metrics: &Metrics,
        gauges: &LiveGauges,
    ) -> LiveDetail {
        self.iteration_latency.add_hist(&interval.latency);
        self.scheduling_lag.add_hist(&interval.lag);
        // Names are admitted in sorted order within a second, so which names are exposed does
        // not depend on hash order.
        let mut names: Vec<&Box<str>> = interval.request_latency.keys().collect();
        names.sort();
        for name in names {
            let exposed = self.exposed(name);
            self.latency
                .entry(exposed)
                .or_default()
                .add_hist(&interval.request_latency[name]);
        }
        let totals = metrics.totals();
        let mut counts: Vec<_> = metrics.name_counts().into_iter().collect();
        counts.sort_by(|a, b| a.0.cmp(&b.0));
        let mut requests: BTreeMap<String, LiveRequest> = BTreeMap::new();
        for (name, c) in counts {
            let exposed = self.exposed(&name);
            let r = requests.entry(exposed.to_string()).or_default();
            for class in RequestClass::ALL {
                let n = c.by_class[class as usize];
                if n > 0 {
                    *r.by_class.entry(class).or_insert(0) += n;
                }
            }
            for (status, n) in c.by_status {
                *r.by_status.entry(status.to_string()).or_insert(0) += n;
            }
            r.bytes_sent += c.bytes_sent;
            r.bytes_received += c.bytes_received;
            r.exemplars.merge(&c.exemplars);
            if let Some(s) = &c.stream {
                let live = r.stream.get_or_insert_with(Default::default);
                live.streams += s.streams;
                live.broken += s.broken;
                live.chunks += s.chunks;
                live.events += s.events;
                live.first_byte.add_hist(&s.first_byte);
                live.first_event.add_hist(&s.first_event);
                live.gap.add_hist(&s.gap);
                live.duration.add_hist(&s.duration);
            }
        }
        for (name, r) in &mut requests {
            if let Some(b) = self.latency.get(name.as_str()) {
                r.latency = b.clone();
            }
        }
        let now = ProcessSample::now();
        LiveDetail {
            ok: totals.completed - totals.failed,
            late: totals.late,
            interrupted: totals.interrupted,
            users: gauges.users(),
            in_flight: gauges.in_flight(),
            cpu_seconds: (now.cpu_seconds - self.before.cpu_seconds).max(0.0),
            rss_bytes: crate::metrics::current_rss().unwrap_or(0),
            iteration_latency: self.iteration_latency.clone(),
            scheduling_lag: self.scheduling_lag.clone(),
            requests,
            good: metrics.slo_us().map(|_| totals.good),
            custom_counters: live::bound(&metrics.custom_counts(), |a, b| *a += b),
            custom_latencies: live::bound(&metrics.custom_latency_buckets(), Buckets::add),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn names_beyond_the_bound_are_counted_together() {
        let m = Metrics::with_settings(10_000, true, None);
        for i in 0..MAX_LIVE_NAMES + 5 {
            let name = format!("GET /item/{i:03}");
            m.with(|s| s.request(&name, RequestClass::Ok, Some(200), 100, 0, 1));
        }
        m.with(|s| s.iteration(100, None, None));
        let mut live = LiveTally::new(ProcessSample::now());
        let gauges = LiveGauges::new();
        let d = live.tick(&m.take_interval(), &m, &gauges);
        assert_eq!(d.requests.len(), MAX_LIVE_NAMES + 1);
        let other = &d.requests[OTHER_NAME];
        assert_eq!(other.by_class["ok"], 5);
        assert_eq!(other.latency.count(), 5);
        assert_eq!(d.requests["GET /item/000"].latency.count(), 1);
        assert_eq!(d.iteration_latency.count(), 1);
        assert_eq!((d.ok, d.users, d.in_flight), (1, None, None));
        // A later second adds up; the same names stay exposed.
        m.with(|s| s.request("GET /item/000", RequestClass::Http5xx, Some(503), 100, 0, 1));
        let d = live.tick(&m.take_interval(), &m, &gauges);
        let first = &d.requests["GET /item/000"];
        assert_eq!((first.by_class["ok"], first.by_class["http_5xx"]), (1, 1));
        assert_eq!(first.by_status["503"], 1);
        assert_eq!(first.latency.count(), 2);
        gauges.set_users(7);
        let c = gauges.in_flight_counter();
        c.store(3, Ordering::Relaxed);
        let d = live.tick(&m.take_interval(), &m, &gauges);
        assert_eq!((d.users, d.in_flight), (Some(7), Some(3)));
    }

    #[test]
    fn custom_metrics_and_goodput_are_live_and_bounded() {
        let m = Metrics::with_settings(10_000, true, Some(1_000));
        m.with(|s| {
            s.count("chat.messages_sent", 3);
            s.custom("render", 250);
            s.iteration(500, None, None);
            s.iteration(5_000, None, None);
        });
        // A second worker thread's shard adds up with the first's.
        std::thread::scope(|t| {
            t.spawn(|| m.with(|s| s.count("chat.messages_sent", 2)));
        });
        let mut live = LiveTally::new(ProcessSample::now());
        let d = live.tick(&m.take_interval(), &m, &LiveGauges::new());
        assert_eq!(d.custom_counters["chat.messages_sent"], 5);
        assert_eq!(d.custom_latencies["render"].count(), 1);
        assert_eq!(d.good, Some(1), "one of two iterations met the 1 ms slo");
        for i in 0..MAX_LIVE_NAMES + 2 {
            m.with(|s| s.count(&format!("c{i:03}"), 1));
        }
        let d = live.tick(&m.take_interval(), &m, &LiveGauges::new());
        assert_eq!(d.custom_counters.len(), MAX_LIVE_NAMES + 1);
        assert_eq!(
            d.custom_counters.values().sum::<u64>(),
            5 + MAX_LIVE_NAMES as u64 + 2
        );
        let without_slo = Metrics::with_settings(10_000, true, None);
        without_slo.with(|s| s.iteration(500, None, None));
        let d = live.tick(
            &without_slo.take_interval(),
            &without_slo,
            &LiveGauges::new(),
        );
        assert_eq!(d.good, None);
    }
}
