//! Merging the reports of a scale-out run's shards into one exact result (`cargo loadtest
//! merge`).
//!
//! Every shard report carries its histograms losslessly (HdrHistogram V2), so merging is exact:
//! counts are added, histograms of the same configuration are added bucket by bucket (never
//! re-quantised), the per-second series are aligned by wall-clock second (each shard's points
//! placed at the nearest whole second after the earliest shard's start), and each shard's
//! generator health is kept beside the whole. Thresholds and the error budget are then evaluated
//! on the merged data by [`crate::verdict::evaluate`], the caller compares the merged result
//! with a baseline when it has one, and each test is judged once, on all of that, by
//! [`crate::verdict::Unjudged::judge`]: nothing here decides pass or fail.
//!
//! [`merge_runs`] checks that the reports belong to one run (same shard count, archive,
//! binaries, tests and options, naming the first difference), keeps one report per shard index
//! when a shard ran twice, and flags missing shards (a partial merge). [`merge_results`] merges
//! one test's results.

use crate::hdr::{self, HdrError, Hist};
use crate::report::{
    Comparison, ConfigSummary, ConnectionCounts, ErrorSample, GeneratorHealth, IntervalPoint,
    IterationCounts, MergeInfo, MergedShard, RequestMetrics, RequestTotals, RunInfo, RunReport,
    RunStatus, ShardHealth, ShardSpec, StartSkew, TestIdBuf, TestReport, TestResult, TestStatus,
};
use crate::verdict::{self, Ended, Measurements, Policy, Unjudged};
use loadtest_grammar::ValueError;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A test's measurements with its histograms decoded: what threshold rules are evaluated on
/// when the data comes from a report rather than a live recorder.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    latency: Hist,
    request_latency: BTreeMap<String, Hist>,
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
        for (name, m) in &r.request_names {
            request_latency.insert(name.clone(), decode(name, &m.latency)?);
            request_counts.insert(
                name.clone(),
                (m.count, m.by_class.get("ok").copied().unwrap_or(0)),
            );
        }
        let mut custom_latency = BTreeMap::new();
        for (name, h) in &r.custom_latencies {
            custom_latency.insert(name.clone(), decode(name, h)?);
        }
        Ok(Decoded {
            latency: decode("iteration latency", &r.iteration_latency)?,
            request_latency,
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

/// One shard's result of a test, for [`merge_results`].
#[derive(Clone, Copy, Debug)]
pub struct ShardResult<'a> {
    /// The shard's index (1 to the count).
    pub shard: u32,
    /// The host it ran on.
    pub host: &'a str,
    /// What it measured.
    pub result: &'a TestResult,
}

/// The first difference between two test configurations other than their shard parts, as
/// `` `users`: 5 vs 6 ``; `None` when they are the same.
pub fn config_difference(a: &ConfigSummary, b: &ConfigSummary) -> Option<String> {
    let plain = |c: &ConfigSummary| {
        let mut c = c.clone();
        c.shard = None;
        serde_json::to_value(c).expect("configurations always serialize")
    };
    let (a, b) = (plain(a), plain(b));
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return None;
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().find_map(|k| {
        let (x, y) = (a.get(k), b.get(k));
        (x != y).then(|| {
            let show = |v: Option<&serde_json::Value>| {
                v.map_or_else(|| "absent".to_string(), |v| v.to_string())
            };
            format!("`{k}`: {} vs {}", show(x), show(y))
        })
    })
}

/// Merges one test's results from several shards exactly, and evaluates its thresholds (and
/// the error budget) on the merged data. `missing` lists the shards that have no result.
pub fn merge_results(parts: &[ShardResult<'_>], missing: &[u32]) -> Result<TestResult, MergeError> {
    let first = parts.first().ok_or(MergeError::NoShardResult)?.result;
    for p in &parts[1..] {
        if let Some(difference) = config_difference(&first.config, &p.result.config) {
            return Err(MergeError::ConfigDiffers {
                test: first.name.clone(),
                shard: p.shard,
                first_shard: parts[0].shard,
                difference,
            });
        }
    }
    let mut config = first.config.clone();
    config.shard = None;
    // Alignment: each shard's series counts from its own start; the merged one from the first.
    let starts: Option<Vec<f64>> = parts.iter().map(|p| p.result.started_at_unix).collect();
    let start = starts
        .as_ref()
        .map(|s| s.iter().copied().fold(f64::INFINITY, f64::min));
    let offsets: Vec<f64> = match (&starts, start) {
        (Some(s), Some(min)) => s.iter().map(|t| t - min).collect(),
        _ => vec![0.0; parts.len()],
    };
    let elapsed_s = parts
        .iter()
        .zip(&offsets)
        .map(|(p, off)| off + p.result.elapsed_s)
        .fold(0.0, f64::max);
    let per_s = |n: u64| {
        if elapsed_s > 0.0 {
            n as f64 / elapsed_s
        } else {
            0.0
        }
    };
    let open_model = first.iteration_latency_uncorrected.is_some();
    let shard_err = |shard: u32| move |error: HdrError| MergeError::Shard { shard, error };

    let mut latency = hdr::new_hist();
    let mut uncorrected = open_model.then(hdr::new_hist);
    let mut iterations = IterationCounts::default();
    let mut requests = RequestTotals::default();
    let mut names: BTreeMap<String, (RequestMetrics, Hist)> = BTreeMap::new();
    let mut custom: BTreeMap<String, Hist> = BTreeMap::new();
    let mut counters: BTreeMap<String, u64> = BTreeMap::new();
    let mut phases: BTreeMap<String, Hist> = BTreeMap::new();
    let mut errors: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut connections = ConnectionCounts::default();
    let mut generator = GeneratorHealth::default();
    let mut shards = Vec::new();
    let mut interrupted = false;
    let mut aborted_by = None;
    for p in parts {
        let r = p.result;
        let err = shard_err(p.shard);
        add(&mut latency, &r.iteration_latency.hdr_v2_base64).map_err(&err)?;
        if let (Some(acc), Some(h)) = (&mut uncorrected, &r.iteration_latency_uncorrected) {
            add(acc, &h.hdr_v2_base64).map_err(&err)?;
        }
        let i = &r.iterations;
        iterations.total += i.total;
        if let Some(g) = &i.goodput {
            let sum = iterations.goodput.get_or_insert(crate::report::Goodput {
                slo_us: g.slo_us,
                ..Default::default()
            });
            sum.good += g.good;
        }
        iterations.ok += i.ok;
        iterations.failed += i.failed;
        iterations.dropped += i.dropped;
        iterations.late += i.late;
        iterations.interrupted += i.interrupted;
        add_counts(&mut iterations.failed_by_class, &i.failed_by_class);
        let q = &r.requests;
        requests.total += q.total;
        requests.bytes_sent += q.bytes_sent;
        requests.bytes_received += q.bytes_received;
        requests.retries_attempted += q.retries_attempted;
        requests.retries_exhausted += q.retries_exhausted;
        add_counts(&mut requests.by_class, &q.by_class);
        add_counts(&mut requests.by_status, &q.by_status);
        for (name, m) in &r.request_names {
            let (acc, h) = names
                .entry(name.clone())
                .or_insert_with(|| (RequestMetrics::default(), hdr::new_hist()));
            acc.count += m.count;
            acc.bytes_sent += m.bytes_sent;
            acc.bytes_received += m.bytes_received;
            add_counts(&mut acc.by_class, &m.by_class);
            add_counts(&mut acc.by_status, &m.by_status);
            add(h, &m.latency.hdr_v2_base64).map_err(&err)?;
            // The slowest over all shards; an exemplar keeps the shard that sent it.
            let mut exemplars = m.exemplars.clone();
            exemplars.set_shard(p.shard);
            acc.exemplars.merge(&exemplars);
        }
        for (name, h) in &r.custom_latencies {
            add(
                custom.entry(name.clone()).or_insert_with(hdr::new_hist),
                &h.hdr_v2_base64,
            )
            .map_err(&err)?;
        }
        add_counts(&mut counters, &r.custom_counters);
        for (name, h) in &r.phases {
            add(
                phases.entry(name.clone()).or_insert_with(hdr::new_hist),
                &h.hdr_v2_base64,
            )
            .map_err(&err)?;
        }
        for e in &r.errors {
            *errors
                .entry((e.class.clone(), e.message.clone()))
                .or_insert(0) += e.count;
        }
        connections.opened += r.connections.opened;
        connections.reused += r.connections.reused;
        connections.reopened += r.connections.reopened;
        let g = &r.generator;
        generator.cpu_seconds += g.cpu_seconds;
        generator.cpu_percent += g.cpu_percent;
        generator.cpus += g.cpus;
        generator.peak_rss_bytes = generator.peak_rss_bytes.max(g.peak_rss_bytes);
        if g.scheduling_lag.p99_us >= generator.scheduling_lag.p99_us {
            // Lag is each generator's own: the whole reports the worst shard's.
            generator.scheduling_lag = g.scheduling_lag;
        }
        generator.dropped += g.dropped;
        generator.late += g.late;
        generator.saturated |= g.saturated;
        // Disturbance is each generator's own too: the whole shows the most disturbed shard's.
        generator.disturbed |= g.disturbed;
        generator.cpu_wait_seconds += g.cpu_wait_seconds;
        generator.cpu_wait_percent = generator.cpu_wait_percent.max(g.cpu_wait_percent);
        generator.steal_percent = generator.steal_percent.max(g.steal_percent);
        generator
            .warnings
            .extend(g.warnings.iter().map(|w| format!("shard {}: {w}", p.shard)));
        interrupted |= r.interrupted;
        if aborted_by.is_none() {
            aborted_by.clone_from(&r.aborted_by);
        }
        shards.push(ShardHealth {
            shard: p.shard,
            host: p.host.to_string(),
            started_at_unix: r.started_at_unix,
            elapsed_s: r.elapsed_s,
            iterations: r.iterations.total,
            requests: r.requests.total,
            generator: g.clone(),
        });
    }
    iterations.rate_per_s = per_s(iterations.total);
    if let Some(g) = iterations.goodput.as_mut() {
        g.rate_per_s = per_s(g.good);
    }
    requests.rate_per_s = per_s(requests.total);
    let series = merge_series(parts, &offsets, open_model)?;
    let request_names: BTreeMap<String, RequestMetrics> = names
        .into_iter()
        .map(|(name, (mut m, h))| {
            m.latency = hdr::to_report(&h);
            (name, m)
        })
        .collect();
    let mut errors: Vec<ErrorSample> = errors
        .into_iter()
        .map(|((class, message), count)| ErrorSample {
            class,
            message,
            count,
        })
        .collect();
    errors.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.message.cmp(&b.message))
    });
    // What any shard warned about (names past `max_names`), once each.
    let mut warnings: Vec<String> = Vec::new();
    for p in parts {
        for w in &p.result.warnings {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
    }
    let mut merged = TestResult {
        name: first.name.clone(),
        started_at_unix: start,
        config,
        elapsed_s,
        interrupted,
        aborted_by,
        iterations,
        iteration_latency: hdr::to_report(&latency),
        iteration_latency_uncorrected: uncorrected.as_ref().map(hdr::to_report),
        requests,
        request_names,
        custom_latencies: custom
            .iter()
            .map(|(k, h)| (k.clone(), hdr::to_report(h)))
            .collect(),
        custom_counters: counters,
        series,
        // Evaluated on the merged data below.
        thresholds: Vec::new(),
        generator,
        errors,
        passed: false,
        connections,
        phases: phases
            .iter()
            .map(|(k, h)| (k.clone(), hdr::to_report(h)))
            .collect(),
        warnings,
        shards,
        missing_shards: missing.to_vec(),
        start_skew: None,
    };
    evaluate_thresholds(&mut merged)?;
    Ok(merged)
}

/// Evaluates a result's threshold rules (its configuration's, or only the error budget for a
/// smoke check) on its own histograms and counts, and sets `thresholds` and `passed`.
pub fn evaluate_thresholds(r: &mut TestResult) -> Result<(), MergeError> {
    let rules = if r.config.smoke {
        Vec::new()
    } else {
        r.config
            .thresholds
            .iter()
            .map(|t| loadtest_grammar::parse_threshold(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(MergeError::Threshold)?
    };
    let m = Decoded::from_result(r)?;
    let outcomes = verdict::evaluate(&rules, &m, r.elapsed_s);
    verdict::set_thresholds(r, outcomes);
    Ok(())
}

fn add(acc: &mut Hist, encoded: &str) -> Result<(), HdrError> {
    let h = hdr::decode(encoded)?;
    acc.add(&h).map_err(HdrError::NotAddable)
}

fn add_counts(acc: &mut BTreeMap<String, u64>, more: &BTreeMap<String, u64>) {
    for (k, v) in more {
        *acc.entry(k.clone()).or_insert(0) += v;
    }
}

/// One merged second.
struct Second {
    t_s: f64,
    iterations: u64,
    failed: u64,
    requests: u64,
    request_errors: u64,
    latency: Hist,
    uncorrected: Hist,
    request_latency: BTreeMap<String, Hist>,
}

/// The shards' series, each point placed at the nearest whole second (of its end) after the
/// earliest shard's start, points of one second added together.
fn merge_series(
    parts: &[ShardResult<'_>],
    offsets: &[f64],
    open_model: bool,
) -> Result<Vec<IntervalPoint>, MergeError> {
    let mut seconds: BTreeMap<u64, Second> = BTreeMap::new();
    for (p, off) in parts.iter().zip(offsets) {
        for point in &p.result.series {
            let end = off + point.t_s;
            let at = end.round().max(1.0) as u64;
            let s = seconds.entry(at).or_insert_with(|| Second {
                t_s: 0.0,
                iterations: 0,
                failed: 0,
                requests: 0,
                request_errors: 0,
                latency: hdr::new_hist(),
                uncorrected: hdr::new_hist(),
                request_latency: BTreeMap::new(),
            });
            s.t_s = s.t_s.max(end);
            s.iterations += point.iterations;
            s.failed += point.failed;
            s.requests += point.requests;
            s.request_errors += point.request_errors;
            let Some(h) = &point.iteration_latency else {
                return Err(MergeError::NoSeriesHistograms {
                    shard: p.shard,
                    test: p.result.name.clone(),
                });
            };
            let err = |error| MergeError::Shard {
                shard: p.shard,
                error,
            };
            add(&mut s.latency, h).map_err(err)?;
            if let Some(h) = &point.iteration_latency_uncorrected {
                add(&mut s.uncorrected, h).map_err(err)?;
            }
            for (name, h) in &point.request_latency {
                add(
                    s.request_latency
                        .entry(name.clone())
                        .or_insert_with(hdr::new_hist),
                    h,
                )
                .map_err(err)?;
            }
        }
    }
    Ok(seconds
        .into_values()
        .map(|s| IntervalPoint {
            t_s: s.t_s,
            iterations: s.iterations,
            failed: s.failed,
            requests: s.requests,
            request_errors: s.request_errors,
            p50_us: s.latency.value_at_quantile(0.50),
            p95_us: s.latency.value_at_quantile(0.95),
            p99_us: s.latency.value_at_quantile(0.99),
            iteration_latency: Some(hdr::encode(&s.latency)),
            iteration_latency_uncorrected: open_model.then(|| hdr::encode(&s.uncorrected)),
            request_latency: s
                .request_latency
                .iter()
                .map(|(k, h)| (k.clone(), hdr::encode(h)))
                .collect(),
        })
        .collect())
}

/// One shard's report and the file it came from.
#[derive(Clone, Debug)]
pub struct ShardReport {
    /// Where it was read from (shown in messages).
    pub source: String,
    /// The report.
    pub report: RunReport,
}

/// A merge: the merged run and its judged tests, and what the terminal should say about how it
/// came about. The run's report is [`verdict::run_report`] of `run` and `tests`.
#[derive(Clone, Debug)]
pub struct Merged {
    /// Where and when the merged run happened, and its shards.
    pub run: RunInfo,
    /// Each merged test, judged by [`verdict::Unjudged::judge`] with its comparison.
    pub tests: Vec<TestReport>,
    /// Notes for people: shards that ran twice, missing shards.
    pub notes: Vec<String>,
}

/// Where and with what the merged report is made.
#[derive(Clone, Debug)]
pub struct MergeContext {
    /// The version of the tool that merges.
    pub tool_version: String,
    /// The merge's command line (credentials already removed).
    pub command_line: Vec<String>,
    /// How the merged tests are judged.
    pub policy: Policy,
}

/// What [`merge_runs`] asks for each merged test's comparison with a baseline: given the test's
/// index and evidence, the comparison (`None` without a baseline), or why it cannot be made.
pub type CompareMerged<'a> =
    dyn FnMut(usize, &Unjudged) -> Result<Option<Comparison>, CompareError> + 'a;

/// Why a merged test's comparison with a baseline cannot be made: the comparer's own error.
pub type CompareError = Box<dyn std::error::Error + Send + Sync>;

/// How far apart shards started, from each kept shard's `(index, start offset, run duration)`:
/// `None` unless at least two shards have an offset against a shared `--start-at` (without
/// one, offsets are against each host's own start and say nothing about simultaneity).
pub fn start_skew(shards: &[(u32, Option<f64>, f64)]) -> Option<StartSkew> {
    let offsets: Vec<(u32, f64)> = shards
        .iter()
        .filter_map(|(index, offset, _)| offset.map(|o| (*index, o)))
        .collect();
    if offsets.len() < 2 {
        return None;
    }
    let earliest = offsets.iter().map(|o| o.1).fold(f64::INFINITY, f64::min);
    let (latest_shard, latest) = offsets
        .iter()
        .copied()
        .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
    let longest = shards.iter().map(|s| s.2).fold(0.0, f64::max);
    let lag: f64 = offsets.iter().map(|o| o.1 - earliest).sum();
    let displaced_share = if longest > 0.0 {
        (lag / (offsets.len() as f64 * longest)).min(1.0)
    } else {
        0.0
    };
    Some(StartSkew {
        spread_s: latest - earliest,
        displaced_share,
        latest_shard,
    })
}

/// Merges the reports of one scale-out run's shards. Refuses (with the first difference named)
/// reports that are not shard reports, or that belong to different runs: another shard count,
/// archive, binary, set of tests, test configuration, or identity. When a shard index has
/// several reports (a shard that ran twice), the one not interrupted and started last is kept.
///
/// `compare` is asked, for each test in order (its index and its evidence), for its comparison
/// with a baseline, before the test is judged; an error ends the merge.
pub fn merge_runs(
    inputs: Vec<ShardReport>,
    ctx: &MergeContext,
    compare: &mut CompareMerged<'_>,
) -> Result<Merged, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::NoShardReport);
    }
    for i in &inputs {
        if i.report.run.shard.is_none() {
            return Err(MergeError::NotAShardReport {
                source: i.source.clone(),
            });
        }
    }
    let shard_of = |i: &ShardReport| i.report.run.shard.clone().expect("checked above");
    let (first, rest) = inputs.split_first().expect("not empty");
    let f = shard_of(first);
    for other in rest {
        let o = shard_of(other);
        let pair = || (first.source.clone(), other.source.clone());
        if o.shard.count != f.shard.count {
            return Err(MergeError::ShardCounts {
                reports: pair(),
                shards: (f.shard, o.shard),
            });
        }
        if o.archive != f.archive {
            return Err(MergeError::Archives {
                reports: pair(),
                archives: (f.archive.clone(), o.archive.clone()),
            });
        }
        let targets: BTreeSet<&String> = f.binaries.keys().chain(o.binaries.keys()).collect();
        for t in targets {
            let (x, y) = (f.binaries.get(t), o.binaries.get(t));
            if x != y {
                return Err(MergeError::Binaries {
                    harness: t.clone(),
                    reports: pair(),
                    binaries: (x.cloned(), y.cloned()),
                });
            }
        }
        let ids =
            |r: &RunReport| -> Vec<String> { r.tests.iter().map(|t| t.id().to_string()).collect() };
        let (na, nb) = (ids(&first.report), ids(&other.report));
        if na != nb {
            return Err(MergeError::Tests {
                reports: pair(),
                only: (
                    na.iter().filter(|n| !nb.contains(n)).cloned().collect(),
                    nb.iter().filter(|n| !na.contains(n)).cloned().collect(),
                ),
            });
        }
        for (ta, tb) in first.report.tests.iter().zip(&other.report.tests) {
            if let (Some(ra), Some(rb)) = (&ta.result, &tb.result)
                && let Some(difference) = config_difference(&ra.config, &rb.config)
            {
                return Err(MergeError::Options {
                    test: Box::new(ta.id().to_buf()),
                    reports: pair(),
                    difference,
                });
            }
        }
        if o.identity != f.identity {
            return Err(MergeError::Identities {
                reports: pair(),
                identities: (f.identity.clone(), o.identity.clone()),
            });
        }
    }
    let count = f.shard.count;
    // One report per shard index: the one not interrupted, then the one started last.
    let mut by_index: BTreeMap<u32, Vec<ShardReport>> = BTreeMap::new();
    for i in inputs.iter().cloned() {
        by_index
            .entry(shard_of(&i).shard.index)
            .or_default()
            .push(i);
    }
    let mut notes = Vec::new();
    let mut ignored = Vec::new();
    let mut kept: Vec<ShardReport> = Vec::new();
    for (index, mut reports) in by_index {
        reports.sort_by(|x, y| {
            let key = |r: &ShardReport| {
                (
                    r.report.status != RunStatus::Interrupted,
                    r.report.run.started_at_unix,
                )
            };
            key(x)
                .partial_cmp(&key(y))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let keep = reports.pop().expect("each index has a report");
        for r in reports {
            let line = format!(
                "shard {index}/{count} ran more than once: kept {}, ignored {}",
                keep.source, r.source
            );
            notes.push(line.clone());
            ignored.push(line);
        }
        kept.push(keep);
    }
    let present: Vec<u32> = kept.iter().map(|k| shard_of(k).shard.index).collect();
    let missing: Vec<u32> = (1..=count).filter(|i| !present.contains(i)).collect();
    if !missing.is_empty() {
        notes.push(format!(
            "partial merge: {} of {count} shards missing ({}); the figures cover the shards that reported",
            missing.len(),
            list(&missing)
        ));
    }
    let skew = start_skew(
        &kept
            .iter()
            .map(|k| {
                let s = shard_of(k);
                let offset = s.start_at_unix.and(s.start_offset_s);
                (s.shard.index, offset, k.report.run.duration_s)
            })
            .collect::<Vec<_>>(),
    );
    let mut tests = Vec::new();
    for (i, t) in first.report.tests.iter().enumerate() {
        let per_shard: Vec<(u32, &ShardReport, &TestReport)> = kept
            .iter()
            .map(|k| (shard_of(k).shard.index, k, &k.report.tests[i]))
            .collect();
        let no_result: Vec<String> = per_shard
            .iter()
            .filter(|(_, _, tr)| tr.result.is_none())
            .map(|(idx, _, tr)| {
                let why = tr
                    .failures
                    .first()
                    .cloned()
                    .or_else(|| tr.error.clone())
                    .unwrap_or_else(|| "no result".into());
                format!("shard {idx}/{count}: {why}")
            })
            .collect();
        // A capacity search is one generator's search: shards' searches are not merged.
        let ended = if no_result.is_empty() {
            let parts: Vec<ShardResult<'_>> = per_shard
                .iter()
                .map(|(idx, k, tr)| ShardResult {
                    shard: *idx,
                    host: &k.report.run.host,
                    result: tr.result.as_ref().expect("checked"),
                })
                .collect();
            let mut merged = merge_results(&parts, &missing).map_err(|e| MergeError::Test {
                test: t.id().to_buf(),
                error: Box::new(e),
            })?;
            merged.start_skew = skew.clone();
            Ended::Finished(merged)
        } else {
            let reason = no_result.join("; ");
            let interrupted = per_shard
                .iter()
                .any(|(_, _, tr)| tr.status == TestStatus::Interrupted);
            if interrupted {
                Ended::NotStarted(reason)
            } else {
                Ended::Errored(reason)
            }
        };
        let mut unjudged = Unjudged {
            package: t.package.clone(),
            target: t.target.clone(),
            name: t.name.clone(),
            ended,
            error: None,
            comparison: None,
        };
        unjudged.comparison = compare(i, &unjudged).map_err(MergeError::Compare)?;
        tests.push(unjudged.judge(&ctx.policy));
    }
    let started = kept
        .iter()
        .map(|k| k.report.run.started_at_unix)
        .fold(f64::INFINITY, f64::min);
    let ended = kept
        .iter()
        .map(|k| k.report.run.started_at_unix + k.report.run.duration_s)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut hosts: Vec<String> = Vec::new();
    for k in &kept {
        if !hosts.contains(&k.report.run.host) {
            hosts.push(k.report.run.host.clone());
        }
    }
    let info = MergeInfo {
        count,
        identity: f.identity.clone(),
        archive: f.archive.clone(),
        shards: kept
            .iter()
            .map(|k| {
                let s = shard_of(k);
                MergedShard {
                    index: s.shard.index,
                    source: k.source.clone(),
                    host: k.report.run.host.clone(),
                    started_at_unix: k.report.run.started_at_unix,
                    start_offset_s: s.start_offset_s,
                }
            })
            .collect(),
        partial: !missing.is_empty(),
        missing,
        ignored,
        start_skew: skew,
    };
    Ok(Merged {
        run: RunInfo {
            tool_version: ctx.tool_version.clone(),
            started_at_unix: started,
            duration_s: (ended - started).max(0.0),
            git_commit: first.report.run.git_commit.clone(),
            host: hosts.join(", "),
            cpus: kept.iter().map(|k| k.report.run.cpus).sum::<usize>().max(1),
            command_line: ctx.command_line.clone(),
            fail_on_saturation: ctx.policy.fail_on_saturation,
            shard: None,
            merge: Some(info),
        },
        tests,
        notes,
    })
}

/// Why shard reports or results cannot be merged, naming the first difference.
#[derive(Debug)]
#[non_exhaustive]
pub enum MergeError {
    /// [`merge_results`] was given no result.
    NoShardResult,
    /// [`merge_runs`] was given no report.
    NoShardReport,
    /// A report that no sharded run wrote.
    NotAShardReport {
        /// Where it was read from.
        source: String,
    },
    /// Two shards ran a test with different configurations.
    ConfigDiffers {
        /// The test's name.
        test: String,
        /// The shard whose configuration differs.
        shard: u32,
        /// The shard it differs from (the first).
        first_shard: u32,
        /// The first difference, `` `users`: 5 vs 6 ``.
        difference: String,
    },
    /// A shard's histogram cannot be decoded or added.
    Shard {
        /// The shard.
        shard: u32,
        /// Why.
        error: HdrError,
    },
    /// A shard's series has no per-second histograms (a report older than schema version 2).
    NoSeriesHistograms {
        /// The shard.
        shard: u32,
        /// The test's name.
        test: String,
    },
    /// A result's histogram cannot be decoded.
    Histogram {
        /// Which histogram (`iteration latency`, or a request or metric name).
        histogram: String,
        /// Why.
        error: HdrError,
    },
    /// A threshold rule of the merged configuration does not parse.
    Threshold(ValueError),
    /// The reports (first, other) are shards of runs with different shard counts.
    ShardCounts {
        /// The two reports' sources.
        reports: (String, String),
        /// Their shards.
        shards: (ShardSpec, ShardSpec),
    },
    /// The reports ran from different archives (or one from none).
    Archives {
        /// The two reports' sources.
        reports: (String, String),
        /// Their archives' hashes.
        archives: (Option<String>, Option<String>),
    },
    /// The reports ran different harness binaries.
    Binaries {
        /// The harness (`package::target`).
        harness: String,
        /// The two reports' sources.
        reports: (String, String),
        /// Its hash in each (absent when a report has no such harness).
        binaries: (Option<String>, Option<String>),
    },
    /// The reports ran different tests.
    Tests {
        /// The two reports' sources.
        reports: (String, String),
        /// The tests only in the first, and only in the other (`package::target::name`).
        only: (Vec<String>, Vec<String>),
    },
    /// A test ran with different options in the two reports.
    Options {
        /// The test (boxed: the largest part of an error).
        test: Box<TestIdBuf>,
        /// The two reports' sources.
        reports: (String, String),
        /// The first difference.
        difference: String,
    },
    /// The reports have different run identities.
    Identities {
        /// The two reports' sources.
        reports: (String, String),
        /// Their identities.
        identities: (String, String),
    },
    /// A test's results cannot be merged.
    Test {
        /// The test.
        test: TestIdBuf,
        /// Why.
        error: Box<MergeError>,
    },
    /// A merged test's comparison with a baseline cannot be made.
    Compare(CompareError),
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NoShardResult => f.write_str("no shard result to merge"),
            MergeError::NoShardReport => f.write_str("no shard report to merge"),
            MergeError::NotAShardReport { source } => write!(
                f,
                "{source} is not a shard report: it was not written by a run with --shard K/N (or LOADTEST_SHARD, JOB_COMPLETION_INDEX)"
            ),
            MergeError::ConfigDiffers {
                test,
                shard,
                first_shard,
                difference,
            } => write!(
                f,
                "shard {shard} ran `{test}` with another configuration than shard {first_shard}: {difference}"
            ),
            MergeError::Shard { shard, error } => write!(f, "shard {shard}: {error}"),
            MergeError::NoSeriesHistograms { shard, test } => write!(
                f,
                "shard {shard}: the series of `{test}` has no per-second histograms (a report older than schema version 2)"
            ),
            MergeError::Histogram { histogram, error } => write!(f, "{histogram}: {error}"),
            MergeError::Threshold(e) => e.fmt(f),
            MergeError::ShardCounts {
                reports: (a, b),
                shards: (x, y),
            } => write!(
                f,
                "{a} is shard {x} and {b} is shard {y}: the shard counts differ, so they are not shards of one run"
            ),
            MergeError::Archives {
                reports: (a, b),
                archives: (x, y),
            } => {
                let show = |x: &Option<String>| {
                    x.as_deref()
                        .map_or_else(|| "no archive".to_string(), |h| format!("archive {h}"))
                };
                write!(
                    f,
                    "{a} ran from {} and {b} from {}: merge refuses reports of different archives",
                    show(x),
                    show(y)
                )
            }
            MergeError::Binaries {
                harness,
                reports: (a, b),
                binaries: (x, y),
            } => write!(
                f,
                "the harness {harness} differs: {} in {a}, {} in {b}; merge refuses reports of different binaries",
                x.as_deref().unwrap_or("absent"),
                y.as_deref().unwrap_or("absent")
            ),
            MergeError::Tests {
                reports: (a, b),
                only: (only_a, only_b),
            } => write!(
                f,
                "{a} and {b} ran different tests (only in {a}: {only_a:?}; only in {b}: {only_b:?}); run every shard with the same selection"
            ),
            MergeError::Options {
                test,
                reports: (a, b),
                difference,
            } => write!(
                f,
                "{} ran with different options in {a} and {b}: {difference}",
                test.as_id().qualified()
            ),
            MergeError::Identities {
                reports: (a, b),
                identities: (x, y),
            } => write!(
                f,
                "{a} and {b} have different run identities ({x} vs {y}): their binaries or options differ"
            ),
            MergeError::Test { test, error } => {
                write!(f, "{}: {error}", test.as_id().qualified())
            }
            MergeError::Compare(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MergeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MergeError::Shard { error, .. } | MergeError::Histogram { error, .. } => Some(error),
            MergeError::Threshold(e) => Some(e),
            MergeError::Test { error, .. } => Some(&**error),
            MergeError::Compare(e) => Some(&**e),
            _ => None,
        }
    }
}

/// `1, 3, 4`.
fn list(xs: &[u32]) -> String {
    xs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{SCHEMA_VERSION, ShardRun};

    #[test]
    fn start_skew_needs_a_shared_start_and_measures_the_lag() {
        assert_eq!(start_skew(&[(1, None, 10.0), (2, None, 10.0)]), None);
        assert_eq!(start_skew(&[(1, Some(0.1), 10.0), (2, None, 10.0)]), None);
        let s = start_skew(&[
            (1, Some(0.1), 10.0),
            (2, Some(0.2), 10.0),
            (3, Some(5.1), 15.0),
        ])
        .unwrap();
        assert!((s.spread_s - 5.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.latest_shard, 3);
        // Lags 0, 0.1 and 5.0 s over 3 shards of the longest run, 15 s.
        assert!((s.displaced_share - 5.1 / 45.0).abs() < 1e-9, "{s:?}");
    }

    fn shard_report(source: &str, shard: Option<(u32, u32)>, identity: &str) -> ShardReport {
        ShardReport {
            source: source.to_string(),
            report: RunReport {
                schema_version: SCHEMA_VERSION,
                run: RunInfo {
                    tool_version: "0".into(),
                    started_at_unix: 0.0,
                    duration_s: 1.0,
                    git_commit: None,
                    host: "h".into(),
                    cpus: 1,
                    command_line: Vec::new(),
                    fail_on_saturation: false,
                    shard: shard.map(|(index, count)| ShardRun {
                        shard: ShardSpec { index, count },
                        identity: identity.into(),
                        archive: None,
                        binaries: BTreeMap::new(),
                        start_at_unix: None,
                        start_offset_s: None,
                        host_clock_unix: 0.0,
                        judged: false,
                    }),
                    merge: None,
                },
                status: RunStatus::Passed,
                exit_code: 0,
                tests: Vec::new(),
                gate: None,
            },
        }
    }

    fn merge(inputs: Vec<ShardReport>) -> Result<Merged, MergeError> {
        let ctx = MergeContext {
            tool_version: "0".into(),
            command_line: Vec::new(),
            policy: Policy::default(),
        };
        merge_runs(inputs, &ctx, &mut |_, _| Ok(None))
    }

    /// Refusals name what differs, in fields a caller can read, and in the words users see.
    #[test]
    fn refusals_carry_what_differs() {
        assert!(matches!(merge(Vec::new()), Err(MergeError::NoShardReport)));
        match merge(vec![shard_report("a.json", None, "x")]) {
            Err(MergeError::NotAShardReport { source }) => assert_eq!(source, "a.json"),
            other => panic!("{other:?}"),
        }
        let e = merge(vec![
            shard_report("a.json", Some((1, 2)), "x"),
            shard_report("b.json", Some((1, 3)), "x"),
        ])
        .unwrap_err();
        let MergeError::ShardCounts { reports, shards } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(reports, &("a.json".to_string(), "b.json".to_string()));
        assert_eq!((shards.0.count, shards.1.count), (2, 3));
        assert_eq!(
            e.to_string(),
            "a.json is shard 1/2 and b.json is shard 1/3: the shard counts differ, so they are not shards of one run"
        );
        let e = merge(vec![
            shard_report("a.json", Some((1, 2)), "x"),
            shard_report("b.json", Some((2, 2)), "y"),
        ])
        .unwrap_err();
        assert!(
            matches!(&e, MergeError::Identities { identities, .. } if identities == &("x".to_string(), "y".to_string())),
            "{e:?}"
        );
        let e = merge(vec![shard_report("a.json", Some((1, 1)), "x")]).map(|m| m.notes);
        assert_eq!(e.unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_comparers_error_ends_the_merge_as_it_said_it() {
        let mut one = shard_report("a.json", Some((1, 1)), "x");
        one.report.tests.push(TestReport {
            package: "p".into(),
            target: "t".into(),
            name: "n".into(),
            status: TestStatus::Errored,
            failures: Vec::new(),
            result: None,
            error: Some("crashed".into()),
            comparison: None,
            capacity: None,
        });
        let ctx = MergeContext {
            tool_version: "0".into(),
            command_line: Vec::new(),
            policy: Policy::default(),
        };
        let e =
            merge_runs(vec![one], &ctx, &mut |_, _| Err("no baseline test".into())).unwrap_err();
        assert!(matches!(e, MergeError::Compare(_)), "{e:?}");
        assert_eq!(e.to_string(), "no baseline test");
    }

    /// The merge keeps each request name's slowest requests over all shards, each with the
    /// shard that sent it (a merged report's exemplars keep theirs when it is merged again).
    #[test]
    fn exemplars_merge_to_the_slowest_over_all_shards() {
        use crate::exemplar::{Exemplar, TraceId};
        let result = |latencies: &[u64], id: u8, shard: Option<u32>| {
            let mut m = RequestMetrics::default();
            let mut h = hdr::new_hist();
            for &us in latencies {
                hdr::record(&mut h, us);
                m.exemplars.offer(us, || Exemplar {
                    trace_id: Some(TraceId([id; 16])),
                    span_id: None,
                    sampled: true,
                    started_at_unix: 1.0,
                    latency_us: us,
                    status: Some(200),
                    shard,
                });
            }
            m.count = latencies.len() as u64;
            m.latency = hdr::to_report(&h);
            let mut r = TestResult {
                iteration_latency: hdr::to_report(&h),
                ..TestResult::default()
            };
            r.request_names.insert("x".into(), m);
            r
        };
        let one = result(&[5, 900, 40, 300], 1, None);
        let two = result(&[800, 2, 700, 50, 600, 1], 2, None);
        // From a merge of shards 3 and 4 before: its exemplars say which shard sent them.
        let three = result(&[850], 3, Some(4));
        let parts = [
            ShardResult {
                shard: 1,
                host: "a",
                result: &one,
            },
            ShardResult {
                shard: 2,
                host: "b",
                result: &two,
            },
            ShardResult {
                shard: 3,
                host: "c",
                result: &three,
            },
        ];
        let merged = merge_results(&parts, &[]).unwrap();
        let kept: Vec<(u64, Option<u32>, TraceId)> = merged.request_names["x"]
            .exemplars
            .as_slice()
            .iter()
            .map(|e| (e.latency_us, e.shard, e.trace_id.unwrap()))
            .collect();
        assert_eq!(
            kept,
            vec![
                (900, Some(1), TraceId([1; 16])),
                (850, Some(4), TraceId([3; 16])),
                (800, Some(2), TraceId([2; 16])),
                (700, Some(2), TraceId([2; 16])),
                (600, Some(2), TraceId([2; 16])),
            ]
        );
    }
}
