//! One test's results folded together: a shard's result at a time, or a result that is itself
//! a merge of shards, into exactly what one recorder that saw every value would report.
//!
//! A [`TestFold`] holds one of each histogram, the counts, the series by second and one line
//! of health per shard, so its memory does not grow with the data folded in, only (by the
//! health lines) with the number of shards. Everything it adds is exact and independent of
//! the order and grouping of the parts: integer counts and histogram buckets are added, floats
//! are never summed along the way (the generators' figures are summed from the per-shard lines,
//! in shard order, when the fold finishes), and where one value is kept of several (the worst
//! scheduling lag, the abort reason, the exemplars) the choice is by a total order.

use super::series::SeriesFold;
use super::{MergeError, canonical};
use crate::hdr::{self, Hist};
use crate::report::{
    ConfigSummary, ConnectionCounts, ErrorSample, GeneratorHealth, IterationCounts, RequestMetrics,
    RequestTotals, ShardHealth, StreamMetrics, TestResult,
};
use crate::verdict;
use std::collections::{BTreeMap, BTreeSet};

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
    let mut fold = TestFold::default();
    for p in parts {
        fold.add_shard(p.shard, p.host, p.result)?;
    }
    fold.finish(missing)
}

/// One test's results folded so far. Add shards' results ([`TestFold::add_shard`]) and merged
/// results ([`TestFold::add_merged`]) in any order and grouping; [`TestFold::finish`] gives
/// the same merged result for all of them.
#[derive(Default)]
pub struct TestFold {
    /// The first part's name, configuration (without its shard part) and shard.
    first: Option<(String, ConfigSummary, u32)>,
    /// The earliest start, and whether every part had one.
    start: Option<f64>,
    every_part_started: bool,
    /// The latest end (start plus elapsed time) of any part.
    end: f64,
    open_model: bool,
    latency: Option<Hist>,
    uncorrected: Option<Hist>,
    iterations: IterationCounts,
    requests: RequestTotals,
    names: BTreeMap<String, (RequestMetrics, Hist)>,
    /// The streamed responses of request names that had any.
    streams: BTreeMap<String, StreamFold>,
    custom: BTreeMap<String, Hist>,
    counters: BTreeMap<String, u64>,
    phases: BTreeMap<String, Hist>,
    errors: BTreeMap<(String, String), u64>,
    connections: ConnectionCounts,
    series: SeriesFold,
    shards: Vec<ShardHealth>,
    /// Where each shard's part added so far ended (seconds since the Unix epoch): a restarted
    /// shard's run that joined in place continues from there.
    shard_ends: BTreeMap<u32, f64>,
    /// Shards whose last part added was interrupted (a restarted shard's earlier run is
    /// followed by the run that joined in place, which decides).
    interrupted_shards: BTreeSet<u32>,
    /// A merged part was interrupted.
    interrupted: bool,
    aborted_by: Option<String>,
    warnings: BTreeSet<String>,
}

impl TestFold {
    /// Adds shard `shard`'s result, which ran on `host`. A shard that restarted and joined in
    /// place has several results, added in the order they ran: each run that joined
    /// ([`TestResult::joined_at_s`]) continues from where the one before it ended, and only the
    /// arrivals it missed after then count as missed (and its gap is from then to its join).
    pub fn add_shard(&mut self, shard: u32, host: &str, r: &TestResult) -> Result<(), MergeError> {
        let earlier_end = self.shard_ends.get(&shard).copied();
        let covered_until = r.joined_at_s.and(earlier_end);
        let missed = self.add(shard, r, Some(shard), covered_until)?;
        if let Some(start) = r.started_at_unix {
            let end = start + r.elapsed_s;
            let e = self.shard_ends.entry(shard).or_insert(end);
            *e = e.max(end);
        }
        if r.interrupted {
            self.interrupted_shards.insert(shard);
        } else {
            self.interrupted_shards.remove(&shard);
        }
        let gap_s = r.joined_at_s.map(|joined| {
            let covered = match (covered_until, r.started_at_unix) {
                (Some(until), Some(start)) => until - start,
                _ => 0.0,
            };
            (joined - covered).max(0.0)
        });
        self.shards.push(ShardHealth {
            shard,
            host: host.to_string(),
            started_at_unix: r.started_at_unix,
            elapsed_s: r.elapsed_s,
            iterations: r.iterations.total,
            requests: r.requests.total,
            generator: r.generator.clone(),
            joined_at_s: r.joined_at_s,
            gap_s,
            missed,
        });
        Ok(())
    }

    /// Adds a result that is itself a merge (its shards' health lines come with it).
    pub fn add_merged(&mut self, r: &TestResult) -> Result<(), MergeError> {
        let first_shard = r.shards.iter().map(|s| s.shard).min().unwrap_or(0);
        self.add(first_shard, r, None, None)?;
        self.interrupted |= r.interrupted;
        self.shards.extend(r.shards.iter().cloned());
        Ok(())
    }

    /// What every part adds; `own_shard` is the shard a shard's result came from (its
    /// exemplars are marked with it), `None` for a merged result.
    /// `covered_until`: see [`SeriesFold::add`]. Returns the arrivals counted as missed.
    fn add(
        &mut self,
        shard: u32,
        r: &TestResult,
        own_shard: Option<u32>,
        covered_until: Option<f64>,
    ) -> Result<u64, MergeError> {
        match &self.first {
            None => {
                let mut config = r.config.clone();
                config.shard = None;
                self.first = Some((r.name.clone(), config, shard));
                self.open_model = r.iteration_latency_uncorrected.is_some();
                self.every_part_started = true;
                self.end = f64::NEG_INFINITY;
            }
            Some((name, config, first_shard)) => {
                if let Some(difference) = config_difference(config, &r.config) {
                    return Err(MergeError::ConfigDiffers {
                        test: name.clone(),
                        shard,
                        first_shard: *first_shard,
                        difference,
                    });
                }
            }
        }
        let err = |error| MergeError::Shard { shard, error };
        match r.started_at_unix {
            Some(start) => {
                self.start = Some(self.start.map_or(start, |s| s.min(start)));
                self.end = self.end.max(start + r.elapsed_s);
            }
            None => {
                self.every_part_started = false;
                self.end = self.end.max(r.elapsed_s);
            }
        }
        super::add(
            self.latency.get_or_insert_with(hdr::new_hist),
            &r.iteration_latency.hdr_v2_base64,
        )
        .map_err(err)?;
        if self.open_model
            && let Some(h) = &r.iteration_latency_uncorrected
        {
            super::add(
                self.uncorrected.get_or_insert_with(hdr::new_hist),
                &h.hdr_v2_base64,
            )
            .map_err(err)?;
        }
        let i = &r.iterations;
        let acc = &mut self.iterations;
        acc.total += i.total;
        if let Some(g) = &i.goodput {
            let sum = acc.goodput.get_or_insert(crate::report::Goodput {
                slo_us: g.slo_us,
                ..Default::default()
            });
            sum.good += g.good;
        }
        acc.ok += i.ok;
        acc.failed += i.failed;
        acc.dropped += i.dropped;
        acc.late += i.late;
        acc.interrupted += i.interrupted;
        add_counts(&mut acc.failed_by_class, &i.failed_by_class);
        let q = &r.requests;
        let acc = &mut self.requests;
        acc.total += q.total;
        acc.bytes_sent += q.bytes_sent;
        acc.bytes_received += q.bytes_received;
        acc.retries_attempted += q.retries_attempted;
        acc.retries_exhausted += q.retries_exhausted;
        add_counts(&mut acc.by_class, &q.by_class);
        add_counts(&mut acc.by_status, &q.by_status);
        for (name, m) in &r.request_names {
            let (acc, h) = self
                .names
                .entry(name.clone())
                .or_insert_with(|| (RequestMetrics::default(), hdr::new_hist()));
            acc.count += m.count;
            acc.bytes_sent += m.bytes_sent;
            acc.bytes_received += m.bytes_received;
            add_counts(&mut acc.by_class, &m.by_class);
            add_counts(&mut acc.by_status, &m.by_status);
            super::add(h, &m.latency.hdr_v2_base64).map_err(err)?;
            if let Some(stream) = &m.stream {
                self.streams
                    .entry(name.clone())
                    .or_default()
                    .add(stream)
                    .map_err(err)?;
            }
            // The slowest over all shards; an exemplar keeps the shard that sent it.
            match own_shard {
                Some(shard) => {
                    let mut exemplars = m.exemplars.clone();
                    exemplars.set_shard(shard);
                    acc.exemplars.merge(&exemplars);
                }
                None => acc.exemplars.merge(&m.exemplars),
            }
        }
        for (name, h) in &r.custom_latencies {
            let acc = self
                .custom
                .entry(name.clone())
                .or_insert_with(hdr::new_hist);
            super::add(acc, &h.hdr_v2_base64).map_err(err)?;
        }
        add_counts(&mut self.counters, &r.custom_counters);
        for (name, h) in &r.phases {
            let acc = self
                .phases
                .entry(name.clone())
                .or_insert_with(hdr::new_hist);
            super::add(acc, &h.hdr_v2_base64).map_err(err)?;
        }
        for e in &r.errors {
            *self
                .errors
                .entry((e.class.clone(), e.message.clone()))
                .or_insert(0) += e.count;
        }
        self.connections.opened += r.connections.opened;
        self.connections.reused += r.connections.reused;
        self.connections.reopened += r.connections.reopened;
        let missed = self
            .series
            .add(r.started_at_unix, r, shard, covered_until)?;
        self.iterations.missed += missed;
        // Of several abort reasons the first in order, whichever order the parts came in.
        if let Some(why) = &r.aborted_by
            && self.aborted_by.as_ref().is_none_or(|kept| why < kept)
        {
            self.aborted_by = Some(why.clone());
        }
        // What any shard warned about (names past `max_names`), once each.
        self.warnings.extend(r.warnings.iter().cloned());
        Ok(missed)
    }

    /// The merged result, its thresholds (and error budget) evaluated on the merged data;
    /// `missing` lists the shards that have no result.
    pub fn finish(mut self, missing: &[u32]) -> Result<TestResult, MergeError> {
        let (name, config, _) = self.first.take().ok_or(MergeError::NoShardResult)?;
        let start = if self.every_part_started {
            self.start
        } else {
            None
        };
        // Start and end are timestamps of one magnitude: their difference is exact, and a
        // merged result's start plus its elapsed time gives back its end exactly.
        let elapsed_s = (self.end - start.unwrap_or(0.0)).max(0.0);
        let per_s = |n: u64| {
            if elapsed_s > 0.0 {
                n as f64 / elapsed_s
            } else {
                0.0
            }
        };
        self.iterations.rate_per_s = per_s(self.iterations.total);
        if let Some(g) = self.iterations.goodput.as_mut() {
            g.rate_per_s = per_s(g.good);
        }
        self.requests.rate_per_s = per_s(self.requests.total);
        self.shards.sort_by_key(|s| s.shard);
        let generator = whole_generator(&self.shards);
        let mut errors: Vec<ErrorSample> = self
            .errors
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
                .then_with(|| a.class.cmp(&b.class))
        });
        let latency = self.latency.unwrap_or_else(hdr::new_hist);
        let report = |m: &BTreeMap<String, Hist>| {
            m.iter()
                .map(|(k, h)| (k.clone(), hdr::to_report(&canonical(h))))
                .collect()
        };
        let mut merged = TestResult {
            name,
            started_at_unix: start,
            config,
            elapsed_s,
            interrupted: self.interrupted || !self.interrupted_shards.is_empty(),
            aborted_by: self.aborted_by,
            iterations: self.iterations,
            iteration_latency: hdr::to_report(&canonical(&latency)),
            iteration_latency_uncorrected: self.open_model.then(|| {
                hdr::to_report(&canonical(&self.uncorrected.unwrap_or_else(hdr::new_hist)))
            }),
            requests: self.requests,
            request_names: {
                let mut streams = self.streams;
                self.names
                    .into_iter()
                    .map(|(name, (mut m, h))| {
                        m.latency = hdr::to_report(&canonical(&h));
                        m.stream = streams.remove(&name).map(StreamFold::finish);
                        (name, m)
                    })
                    .collect()
            },
            custom_latencies: report(&self.custom),
            custom_counters: self.counters,
            series: self.series.finish(start, self.open_model),
            // Evaluated on the merged data below.
            thresholds: Vec::new(),
            generator,
            errors,
            passed: false,
            connections: self.connections,
            phases: report(&self.phases),
            warnings: self.warnings.into_iter().collect(),
            shards: self.shards,
            missing_shards: missing.to_vec(),
            start_skew: None,
            joined_at_s: None,
        };
        evaluate_thresholds(&mut merged)?;
        Ok(merged)
    }
}

/// How many shards' generator warnings the whole's health repeats (each shard's are all in its
/// own health line); past them one line counts the rest.
pub const WHOLE_WARNINGS: usize = 20;

/// The whole's generator health from each shard's, in shard order: CPU and counts added, the
/// worst scheduling lag and disturbance kept (each is a generator's own), the first
/// [`WHOLE_WARNINGS`] warnings named by shard and the rest counted.
fn whole_generator(shards: &[ShardHealth]) -> GeneratorHealth {
    let mut whole = GeneratorHealth::default();
    let (mut more, mut more_shards) = (0usize, 0usize);
    for s in shards {
        let g = &s.generator;
        whole.cpu_seconds += g.cpu_seconds;
        whole.cpu_percent += g.cpu_percent;
        whole.cpus += g.cpus;
        whole.peak_rss_bytes = whole.peak_rss_bytes.max(g.peak_rss_bytes);
        if g.scheduling_lag.p99_us >= whole.scheduling_lag.p99_us {
            whole.scheduling_lag = g.scheduling_lag;
        }
        whole.dropped += g.dropped;
        whole.late += g.late;
        whole.saturated |= g.saturated;
        whole.disturbed |= g.disturbed;
        whole.cpu_wait_seconds += g.cpu_wait_seconds;
        whole.cpu_wait_percent = whole.cpu_wait_percent.max(g.cpu_wait_percent);
        whole.steal_percent = whole.steal_percent.max(g.steal_percent);
        let room = WHOLE_WARNINGS.saturating_sub(whole.warnings.len());
        whole.warnings.extend(
            g.warnings
                .iter()
                .take(room)
                .map(|w| format!("shard {}: {w}", s.shard)),
        );
        if g.warnings.len() > room {
            more += g.warnings.len() - room;
            more_shards += 1;
        }
    }
    if more > 0 {
        whole.warnings.push(format!(
            "and {more} more generator warnings from {more_shards} shards (each shard's are in its line of `shards`)"
        ));
    }
    whole
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
    let m = super::Decoded::from_result(r)?;
    let outcomes = verdict::evaluate(&rules, &m, r.elapsed_s);
    verdict::set_thresholds(r, outcomes);
    Ok(())
}

fn add_counts<K: Ord + Clone>(acc: &mut BTreeMap<K, u64>, more: &BTreeMap<K, u64>) {
    for (k, v) in more {
        *acc.entry(k.clone()).or_insert(0) += v;
    }
}

/// The streamed responses of one request name, folded so far.
struct StreamFold {
    metrics: StreamMetrics,
    /// `first_byte`, `first_event`, `gap`, `duration`.
    hists: [Hist; 4],
}

impl Default for StreamFold {
    fn default() -> Self {
        StreamFold {
            metrics: StreamMetrics::default(),
            hists: std::array::from_fn(|_| hdr::new_hist()),
        }
    }
}

impl StreamFold {
    fn add(&mut self, s: &StreamMetrics) -> Result<(), crate::hdr::HdrError> {
        let acc = &mut self.metrics;
        acc.streams += s.streams;
        acc.broken += s.broken;
        acc.chunks += s.chunks;
        acc.events += s.events;
        let from = [&s.first_byte, &s.first_event, &s.gap, &s.duration];
        for (h, f) in self.hists.iter_mut().zip(from) {
            super::add(h, &f.hdr_v2_base64)?;
        }
        Ok(())
    }

    fn finish(self) -> StreamMetrics {
        let [first_byte, first_event, gap, duration] =
            self.hists.map(|h| hdr::to_report(&canonical(&h)));
        StreamMetrics {
            first_byte,
            first_event,
            gap,
            duration,
            ..self.metrics
        }
    }
}
