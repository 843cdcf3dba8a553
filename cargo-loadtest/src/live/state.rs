//! What the metrics endpoint shows: every test of the invocation, updated from each progress
//! event while it runs and, once it has ended, from its final result (so the endpoint's last
//! values equal the report's).

use loadtest_report::hdr;
use loadtest_report::live::{Buckets, LiveDetail, LiveRequest, MAX_LIVE_NAMES, OTHER_NAME};
use loadtest_report::protocol::Progress;
use loadtest_report::report::{TestReport, TestStatus};
use std::collections::{BTreeMap, BTreeSet};

/// One test as the endpoint shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LiveTest {
    /// Still running.
    pub(crate) running: bool,
    /// The verdict, once judged.
    pub(crate) status: Option<TestStatus>,
    /// Iterations dropped (open model).
    pub(crate) dropped: u64,
    /// Iterations that failed.
    pub(crate) failed: u64,
    /// Everything else, as the harness sent it (or as the final result gives it).
    pub(crate) detail: LiveDetail,
}

/// Every test of the invocation, by `target::name`, in the order they started.
#[derive(Debug, Default)]
pub(crate) struct LiveState {
    /// `target::name` of the test running now.
    current: Option<String>,
    pub(crate) tests: Vec<(String, LiveTest)>,
    /// Incremented on every change, so the server can tell whether a scrape saw the last one.
    pub(crate) version: u64,
}

impl LiveState {
    fn test_mut(&mut self, qualified: &str) -> &mut LiveTest {
        let i = match self.tests.iter().position(|(q, _)| q == qualified) {
            Some(i) => i,
            None => {
                self.tests
                    .push((qualified.to_string(), LiveTest::default()));
                self.tests.len() - 1
            }
        };
        &mut self.tests[i].1
    }

    /// A test started (a test that runs again in a new harness process starts afresh).
    pub(crate) fn started(&mut self, qualified: &str) {
        self.current = Some(qualified.to_string());
        *self.test_mut(qualified) = LiveTest {
            running: true,
            ..LiveTest::default()
        };
        self.version += 1;
    }

    /// A progress event of the running test.
    pub(crate) fn progress(&mut self, p: &Progress) {
        let Some(qualified) = self.current.clone() else {
            return;
        };
        let t = self.test_mut(&qualified);
        t.dropped = p.dropped;
        t.failed = p.failed;
        match &p.live {
            Some(live) => t.detail = bound_names(live),
            // A harness that predates live metrics: what progress itself says.
            None => t.detail.ok = p.iterations.saturating_sub(p.failed),
        }
        self.version += 1;
    }

    /// A test ended: its final values come from its result.
    pub(crate) fn finished(&mut self, report: &TestReport) {
        let qualified = format!("{}::{}", report.target, report.name);
        if self.current.as_deref() == Some(qualified.as_str()) {
            self.current = None;
        }
        let t = self.test_mut(&qualified);
        t.running = false;
        t.status = Some(report.status);
        if let Some(r) = &report.result {
            let exposed: BTreeSet<String> = t
                .detail
                .requests
                .keys()
                .filter(|n| *n != OTHER_NAME)
                .cloned()
                .collect();
            let d = &mut t.detail;
            d.ok = r.iterations.ok;
            d.late = r.iterations.late;
            d.interrupted = r.iterations.interrupted;
            d.users = d.users.map(|_| 0);
            d.in_flight = d.in_flight.map(|_| 0);
            d.cpu_seconds = d.cpu_seconds.max(r.generator.cpu_seconds);
            if d.rss_bytes == 0 {
                d.rss_bytes = r.generator.peak_rss_bytes;
            }
            if let Ok(h) = hdr::decode(&r.iteration_latency.hdr_v2_base64) {
                d.iteration_latency = Buckets::of(&h);
            }
            let mut requests: BTreeMap<String, LiveRequest> = BTreeMap::new();
            let mut admitted = exposed.clone();
            for (name, m) in &r.request_names {
                // Names exposed while the test ran keep their series; others join while there
                // is room, as the harness admits them.
                let key = if admitted.contains(name) || admitted.len() < MAX_LIVE_NAMES {
                    admitted.insert(name.clone());
                    name.clone()
                } else {
                    OTHER_NAME.to_string()
                };
                let e = requests.entry(key).or_default();
                for (c, n) in &m.by_class {
                    *e.by_class.entry(c.clone()).or_insert(0) += n;
                }
                for (s, n) in &m.by_status {
                    *e.by_status.entry(s.clone()).or_insert(0) += n;
                }
                e.bytes_sent += m.bytes_sent;
                e.bytes_received += m.bytes_received;
                if let Ok(h) = hdr::decode(&m.latency.hdr_v2_base64) {
                    e.latency.add_hist(&h);
                }
            }
            d.requests = requests;
            t.dropped = r.iterations.dropped;
            t.failed = r.iterations.failed;
        }
        self.version += 1;
    }
}

/// The detail with at most [`MAX_LIVE_NAMES`] names (plus [`OTHER_NAME`]), whatever a harness
/// sends: the harness bounds them already; this bounds what the endpoint exposes.
fn bound_names(live: &LiveDetail) -> LiveDetail {
    if live.requests.len() <= MAX_LIVE_NAMES + 1 {
        return live.clone();
    }
    let mut d = live.clone();
    let mut requests = BTreeMap::new();
    for (i, (name, r)) in live.requests.iter().enumerate() {
        let key = if i < MAX_LIVE_NAMES && name != OTHER_NAME {
            name.clone()
        } else {
            OTHER_NAME.to_string()
        };
        let e: &mut LiveRequest = requests.entry(key).or_default();
        for (c, n) in &r.by_class {
            *e.by_class.entry(c.clone()).or_insert(0) += n;
        }
        for (s, n) in &r.by_status {
            *e.by_status.entry(s.clone()).or_insert(0) += n;
        }
        e.bytes_sent += r.bytes_sent;
        e.bytes_received += r.bytes_received;
        e.latency.add(&r.latency);
    }
    d.requests = requests;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_harness_cannot_expose_more_names_than_the_bound() {
        let mut live = LiveDetail::default();
        for i in 0..MAX_LIVE_NAMES * 2 {
            let mut r = LiveRequest::default();
            r.by_class.insert("ok".into(), 1);
            live.requests.insert(format!("n{i:03}"), r);
        }
        let d = bound_names(&live);
        assert_eq!(d.requests.len(), MAX_LIVE_NAMES + 1);
        assert_eq!(d.requests[OTHER_NAME].by_class["ok"], MAX_LIVE_NAMES as u64);
        let total: u64 = d.requests.values().map(|r| r.by_class["ok"]).sum();
        assert_eq!(total, (MAX_LIVE_NAMES * 2) as u64);
    }
}
