//! What the metrics endpoint shows: every test of the invocation, updated from each progress
//! event while it runs and, once it has ended, from its final result (so the endpoint's last
//! values equal the report's).

use loadtest_report::hdr;
use loadtest_report::live::{self, Buckets, LiveDetail, LiveRequest, MAX_LIVE_NAMES, OTHER_NAME};
use loadtest_report::protocol::Progress;
use loadtest_report::report::{TestId, TestIdBuf, TestReport, TestStatus};
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

/// Every test of the invocation, by identity, in the order they started.
#[derive(Debug, Default)]
pub(crate) struct LiveState {
    /// The test running now.
    current: Option<TestIdBuf>,
    pub(crate) tests: Vec<(TestIdBuf, LiveTest)>,
    /// Incremented on every change, so the server can tell whether a scrape saw the last one.
    pub(crate) version: u64,
}

impl LiveState {
    fn test_mut(&mut self, id: TestId<'_>) -> &mut LiveTest {
        let i = match self.tests.iter().position(|(t, _)| t.as_id() == id) {
            Some(i) => i,
            None => {
                self.tests.push((id.to_buf(), LiveTest::default()));
                self.tests.len() - 1
            }
        };
        &mut self.tests[i].1
    }

    /// A test started (a test that runs again in a new harness process starts afresh).
    pub(crate) fn started(&mut self, id: TestId<'_>) {
        self.current = Some(id.to_buf());
        *self.test_mut(id) = LiveTest {
            running: true,
            ..LiveTest::default()
        };
        self.version += 1;
    }

    /// A progress event of the running test.
    pub(crate) fn progress(&mut self, p: &Progress) {
        let Some(current) = self.current.clone() else {
            return;
        };
        let t = self.test_mut(current.as_id());
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
        let id = report.id();
        if self.current.as_ref().is_some_and(|c| c.as_id() == id) {
            self.current = None;
        }
        let t = self.test_mut(id);
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
            d.good = r.iterations.goodput.as_ref().map(|g| g.good);
            d.custom_counters = live::bound(&r.custom_counters, |a, b| *a += b);
            let latencies = r
                .custom_latencies
                .iter()
                .filter_map(|(name, h)| {
                    Some((
                        name.clone(),
                        Buckets::of(&hdr::decode(&h.hdr_v2_base64).ok()?),
                    ))
                })
                .collect();
            d.custom_latencies = live::bound(&latencies, Buckets::add);
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
                    *e.by_class.entry(*c).or_insert(0) += n;
                }
                for (s, n) in &m.by_status {
                    *e.by_status.entry(s.clone()).or_insert(0) += n;
                }
                e.bytes_sent += m.bytes_sent;
                e.bytes_received += m.bytes_received;
                if let Ok(h) = hdr::decode(&m.latency.hdr_v2_base64) {
                    e.latency.add_hist(&h);
                }
                e.exemplars.merge(&m.exemplars);
                if let Some(s) = &m.stream {
                    e.stream.get_or_insert_with(Default::default).add(s);
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
    let mut d = live.clone();
    d.custom_counters = live::bound(&live.custom_counters, |a, b| *a += b);
    d.custom_latencies = live::bound(&live.custom_latencies, Buckets::add);
    if live.requests.len() <= MAX_LIVE_NAMES + 1 {
        return d;
    }
    let mut requests = BTreeMap::new();
    for (i, (name, r)) in live.requests.iter().enumerate() {
        let key = if i < MAX_LIVE_NAMES && name != OTHER_NAME {
            name.clone()
        } else {
            OTHER_NAME.to_string()
        };
        let e: &mut LiveRequest = requests.entry(key).or_default();
        for (c, n) in &r.by_class {
            *e.by_class.entry(*c).or_insert(0) += n;
        }
        for (s, n) in &r.by_status {
            *e.by_status.entry(s.clone()).or_insert(0) += n;
        }
        e.bytes_sent += r.bytes_sent;
        e.bytes_received += r.bytes_received;
        e.latency.add(&r.latency);
        e.exemplars.merge(&r.exemplars);
    }
    d.requests = requests;
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadtest_report::class::RequestClass;

    /// Two packages may each hold a target `loadtest` with a test `browse`: the state keeps them
    /// apart by identity, so one's end never ends the other.
    #[test]
    fn tests_of_one_target_and_name_in_two_packages_are_two_tests() {
        let shop = TestId {
            package: "shop",
            target: "loadtest",
            name: "browse",
        };
        let admin = TestId {
            package: "admin",
            ..shop
        };
        let ended = |id: TestId<'_>| TestReport {
            package: id.package.into(),
            target: id.target.into(),
            name: id.name.into(),
            status: TestStatus::Failed,
            failures: Vec::new(),
            result: None,
            error: None,
            comparison: None,
            capacity: None,
        };
        let mut s = LiveState::default();
        s.started(shop);
        s.finished(&ended(admin));
        s.progress(&Progress {
            iterations: 3,
            ..Progress::default()
        });
        assert_eq!(s.tests.len(), 2);
        let (id, t) = &s.tests[0];
        assert_eq!(id.as_id(), shop);
        assert!(t.running && t.status.is_none(), "{t:?}");
        assert_eq!(t.detail.ok, 3, "progress goes to the running test");
        let (id, t) = &s.tests[1];
        assert_eq!(id.as_id(), admin);
        assert_eq!((t.running, t.status), (false, Some(TestStatus::Failed)));
        s.finished(&ended(shop));
        assert_eq!(s.tests[0].1.status, Some(TestStatus::Failed));
        s.progress(&Progress {
            iterations: 9,
            ..Progress::default()
        });
        assert_eq!(s.tests[0].1.detail.ok, 3, "no test runs after both ended");
    }

    #[test]
    fn a_harness_cannot_expose_more_names_than_the_bound() {
        let mut live = LiveDetail::default();
        for i in 0..MAX_LIVE_NAMES * 2 {
            let mut r = LiveRequest::default();
            r.by_class.insert(RequestClass::Ok, 1);
            live.requests.insert(format!("n{i:03}"), r);
        }
        let d = bound_names(&live);
        assert_eq!(d.requests.len(), MAX_LIVE_NAMES + 1);
        assert_eq!(d.requests[OTHER_NAME].by_class["ok"], MAX_LIVE_NAMES as u64);
        let total: u64 = d.requests.values().map(|r| r.by_class["ok"]).sum();
        assert_eq!(total, (MAX_LIVE_NAMES * 2) as u64);
    }
}
