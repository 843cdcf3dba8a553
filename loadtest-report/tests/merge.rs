//! Merging is exact: the merge of N shards' results equals what one recorder that saw every
//! value reports (counts, histograms, percentiles, the per-second series and threshold
//! outcomes), for many random splits of random measurements.
//!
//! - `LOADTEST_PROPERTY_CASES`: cases (default 40; `--release` runs thousands in seconds).
//! - `LOADTEST_PROPERTY_SEED`: the base seed; a failure prints the case's seed to replay with
//!   `LOADTEST_PROPERTY_SEED=<seed> LOADTEST_PROPERTY_CASES=1`.

use fastrand::Rng;
use loadtest_report::class::{IterationClass, RequestClass};
use loadtest_report::hdr::{self, Hist};
use loadtest_report::merge::{Decoded, MergeError, ShardReport, ShardResult, merge_results};
use loadtest_report::report::{
    ConfigSummary, Goodput, IntervalPoint, IterationCounts, RequestMetrics, RequestTotals,
    ShardPart, ShardSpec, StreamMetrics, TestResult,
};
use std::collections::BTreeMap;

/// One measured iteration: the second it ended in (from 1), its latency, its request.
#[derive(Clone, Debug)]
struct Sample {
    second: u64,
    latency_us: u64,
    uncorrected_us: u64,
    request: &'static str,
    ok: bool,
    custom_us: Option<u64>,
    /// The request's response was read as a stream (three events; see `record`).
    streamed: bool,
}

const NAMES: [&str; 4] = ["GET /", "checkout", "GET /items/{id}", "/shop.Cart/AddItem"];

/// The classes a failed call of a gRPC method (a name starting with `/`) is counted under, by its
/// latency: gRPC statuses, which have no HTTP status.
const GRPC_FAILURES: [RequestClass; 3] = [
    RequestClass::GrpcUnavailable,
    RequestClass::GrpcDeadlineExceeded,
    RequestClass::GrpcInternal,
];

/// The tests' `slo`: goodput counts the successful iterations within it.
const SLO_US: u64 = 50_000;

fn config(open: bool) -> ConfigSummary {
    ConfigSummary {
        model: if open { "open" } else { "closed" }.into(),
        users: (!open).then_some(5),
        rate_per_s: open.then_some(300.0),
        duration_s: Some(10.0),
        thresholds: vec![
            "iterations >= 900".into(),
            "p99 < 250ms".into(),
            "p95(checkout) < 100ms".into(),
            "error_rate < 5%".into(),
            "rps > 250".into(),
            "max(think) < 1s".into(),
            "p99(gap:checkout) < 20ms".into(),
            "p50(first_event:GET /) < 10ms".into(),
            "max(stream:checkout) < 500ms".into(),
        ],
        ..ConfigSummary::default()
    }
}

/// What one recorder reports after seeing `samples` over `elapsed_s` from `started_at`: the
/// same construction the runtime makes (each histogram recorded value by value, encoded).
fn record(
    samples: &[Sample],
    started_at: f64,
    elapsed_s: f64,
    open: bool,
    shard: Option<ShardSpec>,
) -> TestResult {
    let mut latency = hdr::new_hist();
    let mut uncorrected = hdr::new_hist();
    let mut names: BTreeMap<String, (RequestMetrics, Hist)> = BTreeMap::new();
    let mut custom = hdr::new_hist();
    // A streamed request's stream: its first byte at a quarter of its latency, its three
    // events at a third, then gaps of a fifth and a seventh, its end at its latency; broken
    // when the request failed.
    let mut streams: BTreeMap<String, (StreamMetrics, [Hist; 4])> = BTreeMap::new();
    let mut seconds: BTreeMap<u64, (IntervalPoint, Hist, Hist)> = BTreeMap::new();
    let mut iterations = IterationCounts {
        goodput: Some(Goodput {
            slo_us: SLO_US,
            ..Goodput::default()
        }),
        ..IterationCounts::default()
    };
    let mut requests = RequestTotals::default();
    let mut counters: BTreeMap<String, u64> = [("items".to_string(), samples.len() as u64)].into();
    for s in samples {
        hdr::record(&mut latency, s.latency_us);
        hdr::record(&mut uncorrected, s.uncorrected_us);
        iterations.total += 1;
        if s.ok {
            iterations.ok += 1;
            if s.latency_us <= SLO_US
                && let Some(g) = iterations.goodput.as_mut()
            {
                g.good += 1;
            }
        } else {
            iterations.failed += 1;
            *iterations
                .failed_by_class
                .entry(IterationClass::User)
                .or_insert(0) += 1;
        }
        let grpc = s.request.starts_with('/');
        let class = match (s.ok, grpc) {
            (true, _) => RequestClass::Ok,
            (false, false) => RequestClass::Http5xx,
            (false, true) => GRPC_FAILURES[(s.latency_us % 3) as usize],
        };
        let status = match (s.ok, grpc) {
            (_, true) => None,
            (true, false) => Some("200"),
            (false, false) => Some("503"),
        };
        if grpc && s.ok {
            *counters
                .entry(format!("{}.messages_received", s.request))
                .or_insert(0) += 1;
        }
        let (m, h) = names
            .entry(s.request.to_string())
            .or_insert_with(|| (RequestMetrics::default(), hdr::new_hist()));
        m.count += 1;
        m.bytes_received += 100;
        *m.by_class.entry(class).or_insert(0) += 1;
        if let Some(status) = status {
            *m.by_status.entry(status.into()).or_insert(0) += 1;
        }
        hdr::record(h, s.latency_us / 2);
        if s.streamed {
            let (m, [first_byte, first_event, gap, duration]) =
                streams.entry(s.request.to_string()).or_insert_with(|| {
                    (
                        StreamMetrics::default(),
                        std::array::from_fn(|_| hdr::new_hist()),
                    )
                });
            m.streams += 1;
            m.broken += u64::from(!s.ok);
            m.chunks += 4;
            m.events += 3;
            hdr::record(first_byte, s.latency_us / 8 + 1);
            hdr::record(first_event, s.latency_us / 6 + 1);
            hdr::record(gap, s.latency_us / 10 + 1);
            hdr::record(gap, s.latency_us / 14 + 1);
            hdr::record(duration, s.latency_us / 2);
        }
        requests.total += 1;
        requests.bytes_received += 100;
        *requests.by_class.entry(class).or_insert(0) += 1;
        if let Some(status) = status {
            *requests.by_status.entry(status.into()).or_insert(0) += 1;
        }
        if let Some(c) = s.custom_us {
            hdr::record(&mut custom, c);
        }
        let (p, h, u) = seconds
            .entry(s.second)
            .or_insert_with(|| (IntervalPoint::default(), hdr::new_hist(), hdr::new_hist()));
        p.t_s = s.second as f64;
        p.iterations += 1;
        p.requests += 1;
        if !s.ok {
            p.failed += 1;
            p.request_errors += 1;
        }
        hdr::record(h, s.latency_us);
        hdr::record(u, s.uncorrected_us);
    }
    iterations.rate_per_s = iterations.total as f64 / elapsed_s;
    if let Some(g) = iterations.goodput.as_mut() {
        g.rate_per_s = g.good as f64 / elapsed_s;
    }
    requests.rate_per_s = requests.total as f64 / elapsed_s;
    let series = seconds
        .into_values()
        .map(|(mut p, h, u)| {
            p.p50_us = h.value_at_quantile(0.5);
            p.p95_us = h.value_at_quantile(0.95);
            p.p99_us = h.value_at_quantile(0.99);
            p.iteration_latency = Some(hdr::encode(&h));
            p.iteration_latency_uncorrected = open.then(|| hdr::encode(&u));
            p
        })
        .collect();
    let mut config = config(open);
    config.shard = shard.map(|shard| ShardPart {
        shard,
        users: None,
        rate_per_s: None,
        iterations: None,
        max_in_flight: None,
        rate_limit_per_s: None,
        idle: false,
    });
    let mut r = TestResult {
        name: "checkout".into(),
        started_at_unix: Some(started_at),
        config,
        elapsed_s,
        iterations,
        iteration_latency: hdr::to_report(&latency),
        iteration_latency_uncorrected: open.then(|| hdr::to_report(&uncorrected)),
        requests,
        request_names: names
            .into_iter()
            .map(|(k, (mut m, h))| {
                m.latency = hdr::to_report(&h);
                m.stream = streams.remove(&k).map(|(s, hists)| {
                    let [first_byte, first_event, gap, duration] =
                        hists.map(|h| hdr::to_report(&h));
                    StreamMetrics {
                        first_byte,
                        first_event,
                        gap,
                        duration,
                        ..s
                    }
                });
                (k, m)
            })
            .collect(),
        custom_latencies: if custom.is_empty() {
            BTreeMap::new()
        } else {
            [("think".to_string(), hdr::to_report(&custom))].into()
        },
        custom_counters: counters,
        series,
        ..TestResult::default()
    };
    loadtest_report::merge::evaluate_thresholds(&mut r).expect("the rules parse");
    r
}

fn values(h: &loadtest_report::report::Histogram) -> Vec<(u64, u64)> {
    hdr::decode(&h.hdr_v2_base64)
        .expect("decodes")
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn encoded_values(s: &str) -> Vec<(u64, u64)> {
    hdr::decode(s)
        .expect("decodes")
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why()) }
}

fn one_case(rng: &mut Rng) -> Result<(), String> {
    let shards = rng.u32(1..=6);
    let open = rng.bool();
    let seconds = rng.u64(1..=8);
    let n = rng.usize(0..1500);
    let samples: Vec<Sample> = (0..n)
        .map(|_| {
            // Latencies over six orders of magnitude, as real ones spread.
            let latency_us = 10u64.pow(rng.u32(0..7)) * rng.u64(1..10) + rng.u64(0..1000);
            Sample {
                second: rng.u64(1..=seconds),
                latency_us,
                uncorrected_us: latency_us / rng.u64(1..4),
                request: NAMES[rng.usize(..NAMES.len())],
                ok: rng.u8(..20) != 0,
                custom_us: rng.bool().then(|| rng.u64(1..2_000_000)),
                streamed: rng.bool(),
            }
        })
        .collect();
    let start = 1_796_205_600.0;
    let elapsed = seconds as f64;
    let whole = record(&samples, start, elapsed, open, None);
    // Each value goes to a random shard; each shard starts within 40 ms of the first.
    let mut parts: Vec<Vec<Sample>> = vec![Vec::new(); shards as usize];
    for s in &samples {
        parts[rng.usize(..shards as usize)].push(s.clone());
    }
    let lag: Vec<f64> = (0..shards)
        .map(|i| if i == 0 { 0.0 } else { rng.f64() * 0.04 })
        .collect();
    let results: Vec<TestResult> = parts
        .iter()
        .zip(&lag)
        .enumerate()
        .map(|(i, (p, l))| {
            let spec = ShardSpec::new(i as u32 + 1, shards).unwrap();
            let mut r = record(p, start + l, elapsed - l, open, Some(spec));
            // Local series times count from the shard's own start.
            for point in &mut r.series {
                point.t_s -= l;
            }
            r
        })
        .collect();
    let inputs: Vec<ShardResult<'_>> = results
        .iter()
        .enumerate()
        .map(|(i, r)| ShardResult {
            shard: i as u32 + 1,
            host: "h",
            result: r,
        })
        .collect();
    let merged = merge_results(&inputs, &[]).map_err(|e| e.to_string())?;

    // Rates divide by the elapsed time, which the shards' absolute start times (Unix seconds
    // near 1.8e9) carry to within a microsecond: compared as such; counts exactly.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    let mut counts = merged.iterations.clone();
    ensure(
        close(counts.rate_per_s, whole.iterations.rate_per_s),
        || {
            format!(
                "rate {} vs {}",
                counts.rate_per_s, whole.iterations.rate_per_s
            )
        },
    )?;
    counts.rate_per_s = whole.iterations.rate_per_s;
    if let (Some(g), Some(w)) = (counts.goodput.as_mut(), whole.iterations.goodput.as_ref()) {
        ensure(close(g.rate_per_s, w.rate_per_s), || {
            format!("goodput rate {} vs {}", g.rate_per_s, w.rate_per_s)
        })?;
        g.rate_per_s = w.rate_per_s;
    }
    ensure(counts == whole.iterations, || {
        format!(
            "iterations {:?} vs {:?}",
            merged.iterations, whole.iterations
        )
    })?;
    let mut totals = merged.requests.clone();
    ensure(close(totals.rate_per_s, whole.requests.rate_per_s), || {
        format!(
            "request rate {} vs {}",
            totals.rate_per_s, whole.requests.rate_per_s
        )
    })?;
    totals.rate_per_s = whole.requests.rate_per_s;
    ensure(totals == whole.requests, || {
        format!("requests {:?} vs {:?}", merged.requests, whole.requests)
    })?;
    ensure(
        merged.iteration_latency.summary == whole.iteration_latency.summary
            && values(&merged.iteration_latency) == values(&whole.iteration_latency),
        || {
            format!(
                "iteration latency {:?} vs {:?}",
                merged.iteration_latency.summary, whole.iteration_latency.summary
            )
        },
    )?;
    ensure(
        merged
            .iteration_latency_uncorrected
            .as_ref()
            .map(|h| (h.summary, values(h)))
            == whole
                .iteration_latency_uncorrected
                .as_ref()
                .map(|h| (h.summary, values(h))),
        || "uncorrected latency differs".into(),
    )?;
    ensure(
        merged.request_names.keys().eq(whole.request_names.keys()),
        || "request names differ".into(),
    )?;
    for (name, m) in &whole.request_names {
        let got = &merged.request_names[name];
        ensure(
            got.count == m.count
                && got.by_class == m.by_class
                && got.by_status == m.by_status
                && got.bytes_received == m.bytes_received
                && got.latency.summary == m.latency.summary
                && values(&got.latency) == values(&m.latency),
            || format!("request {name}: {got:?} vs {m:?}"),
        )?;
        // Streams: the same counts, and each measure the same values.
        let stream_values = |s: &StreamMetrics| {
            (
                (s.streams, s.broken, s.chunks, s.events),
                [&s.first_byte, &s.first_event, &s.gap, &s.duration]
                    .map(|h| (h.summary, values(h))),
            )
        };
        ensure(
            got.stream.as_ref().map(stream_values) == m.stream.as_ref().map(stream_values),
            || format!("stream of {name}: {:?} vs {:?}", got.stream, m.stream),
        )?;
    }
    ensure(
        merged
            .custom_latencies
            .keys()
            .eq(whole.custom_latencies.keys())
            && merged
                .custom_latencies
                .iter()
                .all(|(k, h)| values(h) == values(&whole.custom_latencies[k])),
        || "custom latencies differ".into(),
    )?;
    ensure(merged.custom_counters == whole.custom_counters, || {
        "custom counters differ".into()
    })?;
    // The series: the same seconds, counts and histograms as the one recorder's.
    ensure(merged.series.len() == whole.series.len(), || {
        format!(
            "{} merged seconds vs {}",
            merged.series.len(),
            whole.series.len()
        )
    })?;
    for (m, w) in merged.series.iter().zip(&whole.series) {
        ensure(
            m.iterations == w.iterations
                && m.failed == w.failed
                && m.requests == w.requests
                && m.request_errors == w.request_errors
                && (m.p50_us, m.p95_us, m.p99_us) == (w.p50_us, w.p95_us, w.p99_us)
                && encoded_values(m.iteration_latency.as_deref().unwrap())
                    == encoded_values(w.iteration_latency.as_deref().unwrap())
                && (m.t_s - w.t_s).abs() < 0.05,
            || format!("second {}: {m:?} vs {w:?}", w.t_s),
        )?;
    }
    // The same threshold outcomes (rps over the same elapsed time).
    ensure(close(merged.elapsed_s, whole.elapsed_s), || {
        format!("elapsed {} vs {}", merged.elapsed_s, whole.elapsed_s)
    })?;
    ensure(merged.thresholds.len() == whole.thresholds.len(), || {
        "threshold count differs".into()
    })?;
    for (m, w) in merged.thresholds.iter().zip(&whole.thresholds) {
        let same_value = match (m.observed, w.observed) {
            (Some(a), Some(b)) => close(a, b),
            (a, b) => a == b,
        };
        ensure(
            m.rule == w.rule && m.passed == w.passed && same_value,
            || format!("{m:?} vs {w:?}"),
        )?;
    }
    ensure(merged.passed == whole.passed, || "passed differs".into())?;
    // And the decoded measurements are the same ones.
    ensure(
        Decoded::from_result(&merged).map_err(|e| e.to_string())?
            == Decoded::from_result(&whole).map_err(|e| e.to_string())?,
        || "decoded measurements differ".into(),
    )?;
    ensure(
        merged.config.shard.is_none() && merged.shards.len() == shards as usize,
        || "the merged config keeps no shard part, each shard's health is kept".into(),
    )
}

#[test]
fn merging_shards_equals_one_recorder() {
    let cases: u64 = std::env::var("LOADTEST_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let base: u64 = std::env::var("LOADTEST_PROPERTY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x005C_A1E0_u64);
    for i in 0..cases {
        let seed = base.wrapping_add(i);
        let mut rng = Rng::with_seed(seed);
        if let Err(why) = one_case(&mut rng) {
            panic!(
                "case {i} failed: {why}\nreplay with LOADTEST_PROPERTY_SEED={seed} LOADTEST_PROPERTY_CASES=1"
            );
        }
    }
}

#[test]
fn a_threshold_no_shard_meets_passes_on_the_merge() {
    // Three shards of 300 iterations each: `iterations >= 900` fails on each, holds on the whole.
    let samples: Vec<Sample> = (0..900)
        .map(|i| Sample {
            second: 1 + i % 3,
            latency_us: 1_000 + i,
            uncorrected_us: 1_000,
            request: "checkout",
            ok: true,
            custom_us: None,
            streamed: false,
        })
        .collect();
    let shards: Vec<TestResult> = samples
        .chunks(300)
        .enumerate()
        .map(|(i, c)| {
            record(
                c,
                100.0,
                3.0,
                true,
                Some(ShardSpec::new(i as u32 + 1, 3).unwrap()),
            )
        })
        .collect();
    let rule = |r: &TestResult| {
        r.thresholds
            .iter()
            .find(|t| t.rule == "iterations >= 900")
            .unwrap()
            .passed
    };
    assert!(shards.iter().all(|r| !rule(r)));
    let parts: Vec<ShardResult<'_>> = shards
        .iter()
        .enumerate()
        .map(|(i, r)| ShardResult {
            shard: i as u32 + 1,
            host: "h",
            result: r,
        })
        .collect();
    let merged = merge_results(&parts, &[]).unwrap();
    assert!(rule(&merged), "{:?}", merged.thresholds);
    assert_eq!(merged.iterations.total, 900);
    // Two of three shards: the whole fails the rule, and the result says which shard is missing.
    let partial = merge_results(&parts[..2], &[3]).unwrap();
    assert!(!rule(&partial));
    assert_eq!(partial.missing_shards, [3]);
}

#[test]
fn different_configurations_are_refused_naming_the_field() {
    let a = record(&[], 1.0, 1.0, false, None);
    let mut b = a.clone();
    b.config.users = Some(6);
    let parts = [
        ShardResult {
            shard: 1,
            host: "h",
            result: &a,
        },
        ShardResult {
            shard: 2,
            host: "h",
            result: &b,
        },
    ];
    let e = merge_results(&parts, &[]).unwrap_err();
    assert!(
        matches!(
            &e,
            MergeError::ConfigDiffers { shard: 2, first_shard: 1, difference, .. }
                if difference == "`users`: 5 vs 6"
        ),
        "{e:?}"
    );
    let e = e.to_string();
    assert!(e.contains("`users`: 5 vs 6"), "{e}");
}

/// A shard's whole report around `result`, as `cargo loadtest --shard K/N --start-at` writes it.
fn shard_report(
    index: u32,
    count: u32,
    start_at: f64,
    lag: f64,
    result: TestResult,
) -> ShardReport {
    use loadtest_report::report::{
        RunInfo, RunReport, RunStatus, SCHEMA_VERSION, ShardRun, TestReport, TestStatus,
    };
    let interrupted = result.interrupted;
    ShardReport {
        source: format!("shard-{index}.json"),
        report: RunReport {
            schema_version: SCHEMA_VERSION,
            run: RunInfo {
                tool_version: "0".into(),
                started_at_unix: start_at + lag,
                duration_s: result.elapsed_s + 0.25,
                git_commit: Some("abc".into()),
                host: format!("host-{}", index % 3),
                cpus: 2,
                command_line: Vec::new(),
                fail_on_saturation: false,
                shard: Some(ShardRun {
                    shard: ShardSpec::new(index, count).unwrap(),
                    identity: "run".into(),
                    archive: None,
                    binaries: [("p::t".to_string(), "sha".to_string())].into(),
                    start_at_unix: Some(start_at),
                    start_offset_s: Some(lag),
                    host_clock_unix: start_at - 1.0,
                    judged: false,
                    joined_at_s: None,
                }),
                merge: None,
            },
            status: if interrupted {
                RunStatus::Interrupted
            } else {
                RunStatus::Passed
            },
            exit_code: 0,
            tests: vec![TestReport {
                package: "p".into(),
                target: "t".into(),
                name: "checkout".into(),
                status: TestStatus::Passed,
                failures: Vec::new(),
                result: Some(result),
                error: None,
                comparison: None,
                capacity: None,
            }],
            gate: None,
        },
    }
}

/// Merges `inputs` and writes the merged report as `cargo loadtest merge` does.
fn merge_reports(mut inputs: Vec<ShardReport>, source: String) -> Result<ShardReport, String> {
    use loadtest_report::merge::{MergeContext, merge_runs};
    use loadtest_report::report::TestStatus;
    use loadtest_report::verdict::{Policy, RunEnd, run_report};
    let ctx = MergeContext {
        tool_version: "0".into(),
        command_line: vec!["cargo".into(), "loadtest".into(), "merge".into()],
        policy: Policy::default(),
    };
    let merged = merge_runs(&mut inputs, &ctx, &mut |_, _| Ok(None)).map_err(|e| e.to_string())?;
    let end = RunEnd {
        interrupted: merged
            .tests
            .iter()
            .any(|t| t.status == TestStatus::Interrupted),
        refused: false,
    };
    Ok(ShardReport {
        source,
        report: run_report(merged.run, merged.tests, None, end),
    })
}

/// Merges `inputs` as a random tree: a random grouping, each group merged (itself as a random
/// tree, or as a shard's own report when it is one), then the groups' reports merged.
fn merge_as_tree(
    rng: &mut Rng,
    inputs: Vec<ShardReport>,
    depth: u32,
    names: &mut u32,
) -> Result<ShardReport, String> {
    if inputs.len() == 1 && (depth > 0 && rng.bool()) {
        return Ok(inputs.into_iter().next().unwrap());
    }
    let groups = if depth >= 3 || inputs.len() == 1 {
        1
    } else {
        rng.usize(1..=inputs.len())
    };
    let mut parts: Vec<Vec<ShardReport>> = vec![Vec::new(); groups];
    // Any grouping: not only runs of neighbouring shards. A restarted shard's runs stay in one
    // group (its runs are merged together first; across groups they are refused as overlap).
    let mut group_of: BTreeMap<u32, usize> = BTreeMap::new();
    let mut units = 0;
    for r in inputs {
        let key = r.report.run.shard.as_ref().map(|s| s.shard.index);
        let known = key.and_then(|k| group_of.get(&k).copied());
        let g = match known {
            Some(g) => g,
            None => {
                let g = if units < groups {
                    units
                } else {
                    rng.usize(..groups)
                };
                units += 1;
                if let Some(k) = key {
                    group_of.insert(k, g);
                }
                g
            }
        };
        parts[g].push(r);
    }
    // Fewer units than groups (a restarted shard's runs count once): no empty group.
    parts.retain(|p| !p.is_empty());
    let groups = parts.len();
    let merged: Vec<ShardReport> = if groups == 1 {
        parts.pop().unwrap()
    } else {
        parts
            .into_iter()
            .map(|p| merge_as_tree(rng, p, depth + 1, names))
            .collect::<Result<_, _>>()?
    };
    *names += 1;
    merge_reports(merged, format!("merged-{names}.json"))
}

/// The first place where two JSON values differ, as a JSON pointer.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, format!("{at}/{k}")),
                _ => Some(format!("{at}/{k} (present in one only)")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}/{i}"))),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

fn one_tree_case(rng: &mut Rng) -> Result<(), String> {
    use loadtest_report::exemplar::{Exemplar, TraceId};
    use loadtest_report::report::ErrorSample;
    let count = rng.u32(1..=9);
    let open = rng.bool();
    let seconds = rng.u64(1..=6);
    let start_at = 1_796_205_600.0 + rng.f64();
    // Some shards never report: the flat merge and the tree are partial alike.
    let present: Vec<u32> = (1..=count)
        .filter(|i| *i == 1 || rng.u8(..8) != 0)
        .collect();
    let mut reports = Vec::new();
    for &index in &present {
        let samples: Vec<Sample> = (0..rng.usize(0..300))
            .map(|_| {
                let latency_us = 10u64.pow(rng.u32(1..6)) * rng.u64(1..10);
                Sample {
                    second: rng.u64(1..=seconds),
                    latency_us,
                    uncorrected_us: latency_us / rng.u64(1..4),
                    request: NAMES[rng.usize(..NAMES.len())],
                    ok: rng.u8(..10) != 0,
                    custom_us: rng.bool().then(|| rng.u64(1..2_000_000)),
                    streamed: rng.u8(..4) == 0,
                }
            })
            .collect();
        let lag = rng.f64() * 0.6;
        let spec = ShardSpec::new(index, count).unwrap();
        let mut r = record(&samples, start_at + lag, seconds as f64, open, Some(spec));
        for point in &mut r.series {
            point.t_s -= rng.f64() * 0.3;
        }
        // Exemplars with ties across shards (equal latencies, equal starts).
        for (name, m) in &mut r.request_names {
            for _ in 0..rng.usize(0..8) {
                let latency_us = 1_000 * rng.u64(1..5);
                let byte = rng.u8(..4);
                m.exemplars.offer(latency_us, || Exemplar {
                    trace_id: Some(TraceId([byte; 16])),
                    span_id: None,
                    sampled: rng.bool(),
                    started_at_unix: start_at + f64::from(rng.u8(..3)),
                    latency_us,
                    status: Some(200),
                    shard: None,
                });
            }
            let _ = name;
        }
        for _ in 0..rng.usize(0..4) {
            r.errors.push(ErrorSample {
                class: ["timeout", "http_5xx"][rng.usize(..2)].into(),
                message: format!("message {}", rng.u8(..3)),
                count: rng.u64(1..50),
            });
        }
        r.errors
            .sort_by(|a, b| (&a.class, &a.message).cmp(&(&b.class, &b.message)));
        r.errors
            .dedup_by(|a, b| (&a.class, &a.message) == (&b.class, &b.message));
        let g = &mut r.generator;
        g.cpu_seconds = rng.f64() * 3.0;
        g.cpu_percent = rng.f64() * 100.0;
        g.cpus = 2;
        g.peak_rss_bytes = rng.u64(1..1 << 30);
        g.scheduling_lag.p99_us = rng.u64(0..3) * 1_000;
        g.scheduling_lag.count = rng.u64(0..100);
        g.cpu_wait_seconds = rng.f64();
        g.cpu_wait_percent = rng.f64() * 10.0;
        g.steal_percent = rng.f64();
        g.dropped = rng.u64(0..3);
        g.saturated = rng.u8(..5) == 0;
        if rng.u8(..4) == 0 {
            g.warnings.push(format!("warning {}", rng.u8(..2)));
        }
        if rng.u8(..6) == 0 {
            r.aborted_by = Some(format!("abort rule {}", rng.u8(..3)));
        }
        if rng.u8(..5) == 0 {
            r.warnings
                .push(format!("names past max_names {}", rng.u8(..2)));
        }
        r.connections.opened = rng.u64(0..10);
        match rng.u8(..5) {
            // A shard killed mid-run and restarted: its first run interrupted, its second
            // joined in place.
            0 if seconds >= 2 => {
                let (first, rejoined) = restart(rng, &r, start_at, lag, seconds, open);
                reports.push(shard_report(index, count, start_at, lag, first));
                reports.push(rejoined_report(index, count, start_at, rejoined));
            }
            // A shard that started late and joined in place, with no run before.
            1 => {
                let join = rng.f64() * seconds as f64;
                let late = joined(rng, r, start_at, join, open);
                reports.push(rejoined_report(index, count, start_at, late));
            }
            _ => reports.push(shard_report(index, count, start_at, lag, r)),
        }
    }
    // Each case merges the reports in a shuffled order: order does not matter either.
    rng.shuffle(&mut reports);
    let flat = merge_reports(reports.clone(), "flat.json".into())?;
    let mut names = 0;
    let tree = merge_as_tree(rng, reports, 0, &mut names)?;
    let (a, b) = (
        serde_json::to_value(&flat.report).unwrap(),
        serde_json::to_value(&tree.report).unwrap(),
    );
    match first_difference(&a, &b, String::new()) {
        None => Ok(()),
        Some(at) => Err(format!(
            "the tree of {names} merges differs from the flat merge at {at}"
        )),
    }
}

/// `r` cut at a kill in its second half: the killed run (interrupted, the points up to the
/// kill) and the run that joined in place after it (the points after the join, with missed
/// arrivals in the seconds before).
fn restart(
    rng: &mut Rng,
    r: &TestResult,
    start_at: f64,
    lag: f64,
    seconds: u64,
    open: bool,
) -> (TestResult, TestResult) {
    let kill = 1.0 + rng.f64() * (seconds as f64 - 1.0);
    let join = kill + rng.f64() * (seconds as f64 - kill);
    let mut first = r.clone();
    first.series.retain(|p| p.t_s <= kill);
    first.elapsed_s = kill;
    first.interrupted = true;
    first.iterations.interrupted = rng.u64(0..3);
    let mut second = r.clone();
    second.series.retain(|p| p.t_s > join.ceil());
    second.started_at_unix = Some(start_at + lag);
    let second = joined(rng, second, start_at, join, open);
    (first, second)
}

/// `r` as a run that joined its schedule `join` seconds in: its origin the coordinated start,
/// each second before the join with the arrivals it missed.
fn joined(rng: &mut Rng, mut r: TestResult, start_at: f64, join: f64, open: bool) -> TestResult {
    r.started_at_unix = Some(start_at);
    r.joined_at_s = Some(join);
    r.series.retain(|p| p.t_s > join.ceil() - 1.0);
    let empty = hdr::encode(&hdr::new_hist());
    for s in 1..=(join.ceil() as u64) {
        if !r.series.iter().any(|p| p.t_s.round() as u64 == s) {
            r.series.push(IntervalPoint {
                t_s: s as f64,
                iteration_latency: Some(empty.clone()),
                iteration_latency_uncorrected: open.then(|| empty.clone()),
                ..IntervalPoint::default()
            });
        }
    }
    r.series.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let mut missed = 0;
    if open {
        for p in &mut r.series {
            if p.t_s <= join.ceil() {
                p.missed = rng.u64(0..100);
                missed += p.missed;
            }
        }
    }
    r.iterations.missed = missed;
    r
}

/// The report of a shard's run that joined the schedule in place, as `cargo loadtest` writes
/// it after a restart.
fn rejoined_report(index: u32, count: u32, start_at: f64, result: TestResult) -> ShardReport {
    let join = result.joined_at_s.expect("a run that joined");
    let mut report = shard_report(index, count, start_at, join, result);
    report.source = format!("shard-{index}-rejoined.json");
    let shard = report.report.run.shard.as_mut().unwrap();
    shard.joined_at_s = Some(join);
    report
}

/// Any tree of merges, over any grouping of shards in any order, equals the flat merge field
/// by field: the whole merged report (counts, histograms, series, errors, exemplars, generator
/// health, start skew, missing shards, verdict) compared as JSON.
#[test]
fn any_tree_of_merges_equals_the_flat_merge() {
    let cases: u64 = std::env::var("LOADTEST_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let base: u64 = std::env::var("LOADTEST_PROPERTY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x7EE_u64);
    for i in 0..cases {
        let seed = base.wrapping_add(i);
        let mut rng = Rng::with_seed(seed);
        if let Err(why) = one_tree_case(&mut rng) {
            panic!(
                "case {i} failed: {why}\nreplay with LOADTEST_PROPERTY_SEED={seed} LOADTEST_PROPERTY_CASES=1"
            );
        }
    }
}

/// A shard killed mid-run and restarted within its grace: its killed run and the run that
/// joined in place are merged as one shard's, and nothing is counted twice. The seconds the
/// killed run covered are its own; the rejoined run's missed arrivals count from the second
/// after the kill (a second the killed run began is that run's); the shard's gap is from the
/// kill to the join, and the merge judges it against the skew bound.
#[test]
fn a_restarted_shard_merges_its_runs_and_counts_its_gap_once() {
    use loadtest_report::merge::{MergeContext, merge_runs};
    use loadtest_report::report::TestStatus;
    use loadtest_report::verdict::Policy;
    let start_at = 1_796_205_600.0;
    let per_second = |from: u64, to: u64, n: usize| -> Vec<Sample> {
        (from..=to)
            .flat_map(|second| {
                (0..n).map(move |i| Sample {
                    second,
                    latency_us: 1_000 + i as u64,
                    uncorrected_us: 1_000,
                    request: "GET /",
                    ok: true,
                    custom_us: None,
                    streamed: false,
                })
            })
            .collect()
    };
    let spec = |k| Some(ShardSpec::new(k, 2).unwrap());
    // Shard 1: 10 iterations in each of 6 seconds.
    let one = record(&per_second(1, 6, 10), start_at, 6.0, true, spec(1));
    // Shard 2's first run: seconds 1 and 2, killed 2.4 s in.
    let mut killed = record(&per_second(1, 2, 10), start_at, 2.4, true, spec(2));
    killed.interrupted = true;
    // Shard 2 again, joined 4.5 s in: seconds 5 and 6 run, 10 arrivals a second missed before
    // the join (5 in the half second).
    let mut rejoined = record(&per_second(5, 6, 10), start_at, 6.0, true, spec(2));
    rejoined.joined_at_s = Some(4.5);
    let empty = hdr::encode(&hdr::new_hist());
    for (t, missed) in [(1, 10), (2, 10), (3, 10), (4, 10)] {
        rejoined.series.push(IntervalPoint {
            t_s: f64::from(t),
            missed,
            iteration_latency: Some(empty.clone()),
            iteration_latency_uncorrected: Some(empty.clone()),
            ..IntervalPoint::default()
        });
    }
    rejoined.series.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    rejoined.series[4].missed = 5;
    rejoined.iterations.missed = 45;
    let mut inputs = vec![
        shard_report(1, 2, start_at, 0.0, one),
        rejoined_report(2, 2, start_at, rejoined),
        shard_report(2, 2, start_at, 0.0, killed),
    ];
    // A restarted shard's runs split across merges are refused: a merged report holding one of
    // them cannot be taken apart to combine it with the other.
    let part = merge_reports(
        vec![inputs[0].clone(), inputs[2].clone()],
        "part.json".into(),
    )
    .unwrap();
    let e = merge_reports(vec![part, inputs[1].clone()], "again.json".into()).unwrap_err();
    assert!(e.contains("shard 2 is in both"), "{e}");
    let ctx = |max_skew| MergeContext {
        tool_version: "0".into(),
        command_line: Vec::new(),
        policy: Policy {
            max_skew,
            ..Policy::default()
        },
    };
    let merged = merge_runs(
        &mut inputs,
        &ctx(Some(std::time::Duration::from_secs(1))),
        &mut |_, _| Ok(None),
    )
    .unwrap();
    assert!(
        merged.notes.iter().any(|n| n.contains(
            "shard 2/2 restarted and joined the schedule in place: merged its runs shard-2.json, shard-2-rejoined.json"
        )),
        "{:?}",
        merged.notes
    );
    let info = merged.run.merge.as_ref().unwrap();
    assert!(!info.partial && info.ignored.is_empty());
    let runs: Vec<(u32, Option<f64>)> = info
        .shards
        .iter()
        .map(|s| (s.index, s.joined_at_s))
        .collect();
    assert_eq!(runs, [(1, None), (2, None), (2, Some(4.5))]);
    // The restarted shard started with its first run: no skew.
    assert!(
        info.start_skew.as_ref().is_none_or(|s| s.spread_s == 0.0),
        "{:?}",
        info.start_skew
    );
    let t = &merged.tests[0];
    let r = t.result.as_ref().unwrap();
    assert!(!r.interrupted, "the run that joined ran to its end");
    assert_eq!(r.iterations.total, 60 + 20 + 20);
    // Seconds 1 and 2 were the killed run's; second 3 began before the kill (2.4 s): that run's.
    let by_second: Vec<(u64, u64, u64)> = r
        .series
        .iter()
        .map(|p| (p.t_s.round() as u64, p.iterations, p.missed))
        .collect();
    assert_eq!(
        by_second,
        [
            (1, 20, 0),
            (2, 20, 0),
            (3, 10, 0),
            (4, 10, 10),
            (5, 20, 5),
            (6, 20, 0)
        ]
    );
    assert_eq!(r.iterations.missed, 15);
    let lines: Vec<(u32, Option<f64>, u64)> = r
        .shards
        .iter()
        .map(|s| {
            (
                s.shard,
                s.gap_s.map(|g| (g * 10.0).round() / 10.0),
                s.missed,
            )
        })
        .collect();
    assert_eq!(lines, [(1, None, 0), (2, None, 0), (2, Some(2.1), 15)]);
    assert_eq!(t.status, TestStatus::Failed);
    assert!(
        t.failures.iter().any(|f| f.starts_with(
            "start skew: shard 2 joined the schedule 4.5s in (it started late or was restarted, and joined in place), its load missing for 2.1s (15 arrivals missed), more than the 1s allowed"
        )),
        "{:?}",
        t.failures
    );
    // --allow-skew accepts the gap, still reported.
    let allowed = merge_runs(&mut inputs, &ctx(None), &mut |_, _| Ok(None)).unwrap();
    let t = &allowed.tests[0];
    assert!(
        !t.failures.iter().any(|f| f.starts_with("start skew")),
        "{:?}",
        t.failures
    );
    assert_eq!(t.result.as_ref().unwrap().iterations.missed, 15);
    // Only the run that joined, the killed run having left no report (killed with SIGKILL):
    // the shard's whole share before the join is missed, its gap is from the start, and the
    // late start is judged as that gap, not as start skew.
    let mut alone: Vec<ShardReport> = inputs
        .iter()
        .filter(|r| r.source != "shard-2.json")
        .cloned()
        .collect();
    let merged = merge_runs(
        &mut alone,
        &ctx(Some(std::time::Duration::from_secs(1))),
        &mut |_, _| Ok(None),
    )
    .unwrap();
    let info = merged.run.merge.as_ref().unwrap();
    assert!(info.start_skew.is_none(), "{:?}", info.start_skew);
    let t = &merged.tests[0];
    let r = t.result.as_ref().unwrap();
    assert_eq!(r.iterations.total, 60 + 20);
    assert_eq!(r.iterations.missed, 45);
    let missed: Vec<u64> = r.series.iter().map(|p| p.missed).collect();
    assert_eq!(missed, [10, 10, 10, 10, 5, 0]);
    let lines: Vec<(u32, Option<f64>, u64)> = r
        .shards
        .iter()
        .map(|s| (s.shard, s.gap_s, s.missed))
        .collect();
    assert_eq!(lines, [(1, None, 0), (2, Some(4.5), 45)]);
    assert!(
        t.failures
            .iter()
            .any(|f| f.starts_with("start skew: shard 2 joined the schedule 4.5s in (it started late or was restarted, and joined in place), its load missing for 4.5s (45 arrivals missed)")),
        "{:?}",
        t.failures
    );
    // One cause, one failure: the joined shard's start is not also in the spread.
    assert_eq!(
        t.failures
            .iter()
            .filter(|f| f.starts_with("start skew"))
            .count(),
        1,
        "{:?}",
        t.failures
    );
}
