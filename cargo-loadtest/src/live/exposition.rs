//! The `/metrics` page: the live state in the OpenMetrics text format, encoded by the Prometheus
//! organisation's `prometheus-client` crate at each scrape (a collector over the state, so
//! nothing is kept twice).
//!
//! Every series has the labels `test` (`target::name`) and `shard` (`K/N` when the run is one
//! shard of several); request series add `request` (bounded: see
//! [`loadtest_report::live::MAX_LIVE_NAMES`]). Names follow Prometheus's conventions: base
//! units (seconds, bytes), `_total` on counters (added by the encoder), histograms with the
//! fixed bounds of [`loadtest_report::live::LATENCY_BUCKETS_US`].

use super::state::{LiveState, LiveTest};
use loadtest_report::live::{Buckets, LiveRequest, LiveStream};
use loadtest_report::report::{TestIdBuf, TestStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// The families the endpoint exposes and their help, by name before the encoder adds the unit
/// and `_total`. (The Grafana dashboard's test reads the exposed names from a real scrape.)
const FAMILIES: &[(&str, &str)] = &[
    (
        "loadtest_test_running",
        "1 while the test runs, 0 once it has ended",
    ),
    (
        "loadtest_test_passed",
        "once judged: 1 if the test passed, 0 if it failed, errored or was interrupted",
    ),
    (
        "loadtest_iterations",
        "iterations by outcome: ok, failed (completed with an error), dropped (never started), interrupted (cut short)",
    ),
    (
        "loadtest_iterations_late",
        "iterations that started more than 10 ms after their intended start",
    ),
    (
        "loadtest_iteration_duration",
        "iteration latency (from the intended start in the open model)",
    ),
    (
        "loadtest_requests",
        "HTTP requests (each attempt) by outcome class",
    ),
    ("loadtest_responses", "HTTP responses by status code"),
    (
        "loadtest_request_duration",
        "request latency, from sending to the end of the response body",
    ),
    ("loadtest_request_sent", "request body bytes sent"),
    ("loadtest_response_received", "response body bytes received"),
    (
        "loadtest_users",
        "closed model: virtual users running iterations now",
    ),
    (
        "loadtest_iterations_in_flight",
        "open model: iterations running now",
    ),
    (
        "loadtest_generator_cpu",
        "CPU time the load generator (harness process) used during the test",
    ),
    (
        "loadtest_generator_resident_memory",
        "resident memory of the load generator (harness process)",
    ),
    (
        "loadtest_streams",
        "streamed responses that ended, by outcome (ended, broken)",
    ),
    (
        "loadtest_stream_events",
        "events of streamed responses (server-sent events, or chunks of a stream read as chunks)",
    ),
    (
        "loadtest_stream_first_byte",
        "streamed responses: time from the request's start to the first byte of the body",
    ),
    (
        "loadtest_stream_first_event",
        "streamed responses: time from the request's start to the first event",
    ),
    (
        "loadtest_stream_gap",
        "streamed responses: time between one event and the next",
    ),
    (
        "loadtest_stream_duration",
        "streamed responses: each stream's total time",
    ),
    (
        "loadtest_scheduling_lag",
        "open model: how late iterations started against their schedule",
    ),
    (
        "loadtest_iterations_good",
        "with an slo: successful iterations whose own latency met it (goodput)",
    ),
    (
        "loadtest_custom",
        "custom counters (ctx.count, the WebSocket message counters) by name",
    ),
    (
        "loadtest_custom_duration",
        "custom latencies (ctx.record) by name",
    ),
];

fn help(name: &str) -> &'static str {
    FAMILIES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, h)| h)
}

/// Encodes the state at each scrape.
#[derive(Debug)]
pub(crate) struct StateCollector {
    pub(crate) state: Arc<Mutex<LiveState>>,
    pub(crate) shard: String,
}

type Labels = Vec<(&'static str, String)>;

impl StateCollector {
    fn labels(&self, test: &TestIdBuf) -> Labels {
        vec![
            ("test", test.as_id().qualified()),
            ("shard", self.shard.clone()),
        ]
    }
}

/// Writes one family: `each` gives every (labels, value) of it.
fn family<'a>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    rows: impl IntoIterator<Item = (Labels, Value<'a>)>,
) -> Result<(), fmt::Error> {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    let mut metric = encoder.encode_descriptor(name, help(name), unit, kind)?;
    for (labels, value) in rows {
        let e = metric.encode_family(&labels)?;
        value.encode(e)?;
    }
    Ok(())
}

/// One value of a family.
enum Value<'a> {
    Counter(u64),
    CounterF(f64),
    Gauge(i64),
    Histogram(&'a Buckets),
}

impl Value<'_> {
    fn encode(&self, mut e: MetricEncoder<'_>) -> Result<(), fmt::Error> {
        match self {
            Value::Counter(n) => ConstCounter::new(*n).encode(e),
            Value::CounterF(v) => ConstCounter::new(*v).encode(e),
            Value::Gauge(v) => ConstGauge::new(*v).encode(e),
            Value::Histogram(b) => {
                let buckets = seconds_buckets(b);
                e.encode_histogram::<NoLabelSet>(b.sum_us as f64 / 1e6, b.count(), &buckets, None)
            }
        }
    }
}

/// `(upper bound in seconds, values in this bucket)`, the last bound `+Inf`, as
/// `prometheus-client` takes them (it adds the counts up itself).
fn seconds_buckets(b: &Buckets) -> Vec<(f64, u64)> {
    let mut previous = 0;
    b.cumulative()
        .into_iter()
        .map(|(bound, cumulative)| {
            let n = cumulative - previous;
            previous = cumulative;
            (bound.map_or(f64::INFINITY, |us| us as f64 / 1e6), n)
        })
        .collect()
}

/// Rows of a per-test family.
fn per_test<'a>(
    c: &StateCollector,
    tests: &'a [(TestIdBuf, LiveTest)],
    f: impl Fn(&'a LiveTest) -> Option<Value<'a>>,
) -> Vec<(Labels, Value<'a>)> {
    tests
        .iter()
        .filter_map(|(q, t)| f(t).map(|v| (c.labels(q), v)))
        .collect()
}

/// Rows of a per-request family; `f` gives each request's values with their extra label.
fn per_request<'a>(
    c: &StateCollector,
    tests: &'a [(TestIdBuf, LiveTest)],
    f: impl Fn(&'a LiveRequest) -> Vec<(Option<(&'static str, String)>, Value<'a>)>,
) -> Vec<(Labels, Value<'a>)> {
    let mut rows = Vec::new();
    for (q, t) in tests {
        for (name, r) in &t.detail.requests {
            for (extra, v) in f(r) {
                let mut l = c.labels(q);
                l.push(("request", name.clone()));
                l.extend(extra);
                rows.push((l, v));
            }
        }
    }
    rows
}

/// Rows of a per-custom-metric family: each of `f`'s named values with the label `name`.
fn per_custom<'a, V: 'a>(
    c: &StateCollector,
    tests: &'a [(TestIdBuf, LiveTest)],
    f: impl Fn(&'a LiveTest) -> &'a std::collections::BTreeMap<String, V>,
    value: impl Fn(&'a V) -> Value<'a>,
) -> Vec<(Labels, Value<'a>)> {
    let mut rows = Vec::new();
    for (q, t) in tests {
        for (name, v) in f(t) {
            let mut l = c.labels(q);
            l.push(("name", name.clone()));
            rows.push((l, value(v)));
        }
    }
    rows
}

fn gauge<'a>(v: u64) -> Value<'a> {
    Value::Gauge(i64::try_from(v).unwrap_or(i64::MAX))
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let tests: &[(TestIdBuf, LiveTest)] = &state.tests;
        let e = &mut encoder;
        family(
            e,
            "loadtest_test_running",
            None,
            MetricType::Gauge,
            per_test(self, tests, |t| Some(Value::Gauge(i64::from(t.running)))),
        )?;
        family(
            e,
            "loadtest_test_passed",
            None,
            MetricType::Gauge,
            per_test(self, tests, |t| {
                t.status
                    .map(|s| Value::Gauge(i64::from(s == TestStatus::Passed)))
            }),
        )?;
        let mut rows = Vec::new();
        for (q, t) in tests {
            for (outcome, n) in [
                ("ok", t.detail.ok),
                ("failed", t.failed),
                ("dropped", t.dropped),
                ("interrupted", t.detail.interrupted),
            ] {
                let mut l = self.labels(q);
                l.push(("outcome", outcome.to_string()));
                rows.push((l, Value::Counter(n)));
            }
        }
        family(e, "loadtest_iterations", None, MetricType::Counter, rows)?;
        family(
            e,
            "loadtest_iterations_late",
            None,
            MetricType::Counter,
            per_test(self, tests, |t| Some(Value::Counter(t.detail.late))),
        )?;
        family(
            e,
            "loadtest_iteration_duration",
            Some(&Unit::Seconds),
            MetricType::Histogram,
            per_test(self, tests, |t| {
                Some(Value::Histogram(&t.detail.iteration_latency))
            }),
        )?;
        family(
            e,
            "loadtest_requests",
            None,
            MetricType::Counter,
            per_request(self, tests, |r| {
                r.by_class
                    .iter()
                    .map(|(c, n)| (Some(("class", c.to_string())), Value::Counter(*n)))
                    .collect()
            }),
        )?;
        family(
            e,
            "loadtest_responses",
            None,
            MetricType::Counter,
            per_request(self, tests, |r| {
                r.by_status
                    .iter()
                    .map(|(s, n)| (Some(("status", s.clone())), Value::Counter(*n)))
                    .collect()
            }),
        )?;
        family(
            e,
            "loadtest_request_duration",
            Some(&Unit::Seconds),
            MetricType::Histogram,
            per_request(self, tests, |r| vec![(None, Value::Histogram(&r.latency))]),
        )?;
        family(
            e,
            "loadtest_request_sent",
            Some(&Unit::Bytes),
            MetricType::Counter,
            per_request(self, tests, |r| vec![(None, Value::Counter(r.bytes_sent))]),
        )?;
        family(
            e,
            "loadtest_response_received",
            Some(&Unit::Bytes),
            MetricType::Counter,
            per_request(self, tests, |r| {
                vec![(None, Value::Counter(r.bytes_received))]
            }),
        )?;
        family(
            e,
            "loadtest_streams",
            None,
            MetricType::Counter,
            per_request(self, tests, |r| {
                r.stream
                    .iter()
                    .flat_map(|s| {
                        [
                            (
                                Some(("outcome", "ended".to_string())),
                                Value::Counter(s.streams - s.broken),
                            ),
                            (
                                Some(("outcome", "broken".to_string())),
                                Value::Counter(s.broken),
                            ),
                        ]
                    })
                    .collect()
            }),
        )?;
        family(
            e,
            "loadtest_stream_events",
            None,
            MetricType::Counter,
            per_request(self, tests, |r| {
                r.stream
                    .iter()
                    .map(|s| (None, Value::Counter(s.events)))
                    .collect()
            }),
        )?;
        type Pick = fn(&LiveStream) -> &Buckets;
        let measures: [(&str, Pick); 4] = [
            ("loadtest_stream_first_byte", |s| &s.first_byte),
            ("loadtest_stream_first_event", |s| &s.first_event),
            ("loadtest_stream_gap", |s| &s.gap),
            ("loadtest_stream_duration", |s| &s.duration),
        ];
        for (name, pick) in measures {
            family(
                e,
                name,
                Some(&Unit::Seconds),
                MetricType::Histogram,
                per_request(self, tests, |r| {
                    r.stream
                        .iter()
                        .map(|s| (None, Value::Histogram(pick(s))))
                        .collect()
                }),
            )?;
        }
        family(
            e,
            "loadtest_users",
            None,
            MetricType::Gauge,
            per_test(self, tests, |t| t.detail.users.map(gauge)),
        )?;
        family(
            e,
            "loadtest_iterations_in_flight",
            None,
            MetricType::Gauge,
            per_test(self, tests, |t| t.detail.in_flight.map(gauge)),
        )?;
        family(
            e,
            "loadtest_generator_cpu",
            Some(&Unit::Seconds),
            MetricType::Counter,
            per_test(self, tests, |t| Some(Value::CounterF(t.detail.cpu_seconds))),
        )?;
        family(
            e,
            "loadtest_generator_resident_memory",
            Some(&Unit::Bytes),
            MetricType::Gauge,
            per_test(self, tests, |t| Some(gauge(t.detail.rss_bytes))),
        )?;
        family(
            e,
            "loadtest_scheduling_lag",
            Some(&Unit::Seconds),
            MetricType::Histogram,
            per_test(self, tests, |t| {
                (!t.detail.scheduling_lag.counts.is_empty())
                    .then_some(Value::Histogram(&t.detail.scheduling_lag))
            }),
        )?;
        family(
            e,
            "loadtest_iterations_good",
            None,
            MetricType::Counter,
            per_test(self, tests, |t| t.detail.good.map(Value::Counter)),
        )?;
        family(
            e,
            "loadtest_custom",
            None,
            MetricType::Counter,
            per_custom(
                self,
                tests,
                |t| &t.detail.custom_counters,
                |n| Value::Counter(*n),
            ),
        )?;
        family(
            e,
            "loadtest_custom_duration",
            Some(&Unit::Seconds),
            MetricType::Histogram,
            per_custom(
                self,
                tests,
                |t| &t.detail.custom_latencies,
                Value::Histogram,
            ),
        )?;
        Ok(())
    }
}

/// The registry of the endpoint: the state's collector alone.
pub(crate) fn registry(state: Arc<Mutex<LiveState>>, shard: String) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(StateCollector { state, shard }));
    registry
}

/// The page in the OpenMetrics text format, the request latency buckets with their exemplars
/// (see [`super::exemplars`]).
pub(crate) fn render(registry: &Registry, state: &Mutex<LiveState>) -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)
        .expect("writing into a String cannot fail");
    let state = state.lock().unwrap_or_else(PoisonError::into_inner);
    super::exemplars::annotate(&out, &state)
}

/// The same page in Prometheus's older text format (0.0.4), for clients that do not ask for
/// OpenMetrics (`promtool check metrics`, `curl`): a counter family is named with its `_total`
/// (OpenMetrics names it without), and there are no `# UNIT` or `# EOF` lines.
pub(crate) fn to_text_format(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut help: Option<&str> = None;
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            // Held until the TYPE line tells whether the family is a counter.
            help = Some(rest);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let name = if kind == "counter" && !name.ends_with("_total") {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            if let Some(h) = help.take() {
                let text = h.split_once(' ').map_or("", |(_, t)| t);
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        // The older format has no exemplars.
        out.push_str(super::exemplars::without_exemplar(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::state::LiveState;
    use loadtest_report::protocol::Progress;

    #[test]
    fn counters_carry_their_total_in_the_older_text_format() {
        let state = Arc::new(Mutex::new(LiveState::default()));
        {
            let mut s = state.lock().unwrap();
            s.started(loadtest_report::report::TestId {
                package: "shop",
                target: "api",
                name: "home",
            });
            s.progress(&Progress {
                iterations: 3,
                ..Progress::default()
            });
        }
        let page = render(&registry(state.clone(), "0/1".into()), &state);
        assert!(
            page.contains("# TYPE loadtest_iterations counter\n"),
            "{page}"
        );
        assert!(
            page.contains(
                r#"loadtest_iterations_total{test="api::home",shard="0/1",outcome="ok"} 3"#
            ),
            "{page}"
        );
        let text = to_text_format(&page);
        assert!(
            text.contains("# HELP loadtest_iterations_total iterations by outcome"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE loadtest_iterations_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE loadtest_test_running gauge\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
        let samples = |p: &str| {
            p.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(samples(&page), samples(&text));
    }

    #[test]
    fn custom_metrics_and_goodput_are_families_of_their_own() {
        let state = Arc::new(Mutex::new(LiveState::default()));
        {
            let mut s = state.lock().unwrap();
            s.started(loadtest_report::report::TestId {
                package: "shop",
                target: "chat",
                name: "echo",
            });
            let mut render = loadtest_report::hdr::new_hist();
            loadtest_report::hdr::record(&mut render, 1_500);
            s.progress(&Progress {
                iterations: 3,
                live: Some(Box::new(loadtest_report::live::LiveDetail {
                    good: Some(2),
                    custom_counters: [("chat.messages_sent".to_string(), 7)].into(),
                    custom_latencies: [("render".to_string(), Buckets::of(&render))].into(),
                    ..Default::default()
                })),
                ..Progress::default()
            });
        }
        let page = render(&registry(state.clone(), String::new()), &state);
        let labels = r#"test="chat::echo",shard="""#;
        for line in [
            format!("loadtest_iterations_good_total{{{labels}}} 2"),
            format!(r#"loadtest_custom_total{{{labels},name="chat.messages_sent"}} 7"#),
            format!(r#"loadtest_custom_duration_seconds_count{{{labels},name="render"}} 1"#),
            format!(
                r#"loadtest_custom_duration_seconds_bucket{{le="0.002",{labels},name="render"}} 1"#
            ),
        ] {
            assert!(page.contains(&line), "{line} in {page}");
        }
        assert!(page.contains("# TYPE loadtest_custom counter\n"), "{page}");
        assert!(
            page.contains("# TYPE loadtest_custom_duration_seconds histogram\n"),
            "{page}"
        );
    }
}
