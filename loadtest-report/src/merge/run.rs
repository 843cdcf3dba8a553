//! Merging whole runs: shard reports and merged reports, read one at a time.
//!
//! [`merge_runs`] reads every input's [`ReportHeader`] first (which shards it holds, its run's
//! identity, its tests and their options), refuses inputs that do not belong to one run
//! (naming the first difference), keeps one report per shard when a shard ran twice, refuses a
//! shard held twice when one holder is a merged report (it cannot be taken apart), and flags
//! missing shards. It then reads each kept input's whole report in shard order, folds its
//! tests into one [`TestFold`] each and lets it go: peak memory is one report plus the folds,
//! whatever the number of shards. A merged report can be merged again with other merged or
//! shard reports (a tree of merges); the result is exactly the flat merge's.

use super::result::{TestFold, config_difference};
use super::{MergeError, list};
use crate::report::{
    Comparison, ConfigSummary, MergeInfo, MergedShard, RunInfo, RunReport, RunStatus, ShardRun,
    ShardSpec, StartSkew, TestId, TestReport, TestStatus,
};
use crate::verdict::{Ended, Policy, Unjudged};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// One report and the file it came from.
#[derive(Clone, Debug)]
pub struct ShardReport {
    /// Where it was read from (shown in messages).
    pub source: String,
    /// The report.
    pub report: RunReport,
}

/// What a merge needs of a report before its measurements: the parts of [`RunReport`] that
/// say which run, which shards and which tests it holds. Deserializes from a whole report's
/// JSON, skipping the rest.
#[derive(Clone, Debug, Deserialize)]
pub struct ReportHeader {
    /// The run's outcome.
    pub status: RunStatus,
    /// The run.
    pub run: HeaderRun,
    /// Its tests, in order.
    pub tests: Vec<HeaderTest>,
}

/// The run part of a [`ReportHeader`] (see [`RunInfo`]).
#[derive(Clone, Debug, Deserialize)]
pub struct HeaderRun {
    /// When it started (seconds since the Unix epoch).
    pub started_at_unix: f64,
    /// How long it took, in seconds.
    pub duration_s: f64,
    /// The git commit.
    pub git_commit: Option<String>,
    /// The host (hosts, for a merged report).
    pub host: String,
    /// CPUs.
    pub cpus: usize,
    /// The shard, for a shard's report.
    #[serde(default)]
    pub shard: Option<ShardRun>,
    /// How it was merged, for a merged report.
    #[serde(default)]
    pub merge: Option<MergeInfo>,
}

/// A test of a [`ReportHeader`].
#[derive(Clone, Debug, Deserialize)]
pub struct HeaderTest {
    /// The Cargo package.
    pub package: String,
    /// The cargo target.
    pub target: String,
    /// The test's name.
    pub name: String,
    /// Its verdict.
    pub status: TestStatus,
    /// Its options, when it has a result.
    pub result: Option<HeaderResult>,
}

impl HeaderTest {
    fn id(&self) -> TestId<'_> {
        TestId {
            package: &self.package,
            target: &self.target,
            name: &self.name,
        }
    }
}

/// The options of a test's result.
#[derive(Clone, Debug, Deserialize)]
pub struct HeaderResult {
    /// The test's configuration as it ran.
    pub config: ConfigSummary,
}

impl ReportHeader {
    /// The header of a report in memory.
    pub fn of(r: &RunReport) -> ReportHeader {
        ReportHeader {
            status: r.status,
            run: HeaderRun {
                started_at_unix: r.run.started_at_unix,
                duration_s: r.run.duration_s,
                git_commit: r.run.git_commit.clone(),
                host: r.run.host.clone(),
                cpus: r.run.cpus,
                shard: r.run.shard.clone(),
                merge: r.run.merge.clone(),
            },
            tests: r
                .tests
                .iter()
                .map(|t| HeaderTest {
                    package: t.package.clone(),
                    target: t.target.clone(),
                    name: t.name.clone(),
                    status: t.status,
                    result: t.result.as_ref().map(|r| HeaderResult {
                        config: r.config.clone(),
                    }),
                })
                .collect(),
        }
    }
}

/// Where a merge reads its inputs: each input's header once, then each kept input's whole
/// report once.
pub trait ReportSource {
    /// How many inputs there are.
    fn inputs(&self) -> usize;
    /// Where input `i` comes from (in messages and in the merged report).
    fn source(&self, i: usize) -> String;
    /// Input `i`'s header.
    fn header(&mut self, i: usize) -> Result<ReportHeader, MergeError>;
    /// Input `i`'s whole report.
    fn report(&mut self, i: usize) -> Result<RunReport, MergeError>;
}

/// Reports already in memory.
impl ReportSource for Vec<ShardReport> {
    fn inputs(&self) -> usize {
        self.len()
    }
    fn source(&self, i: usize) -> String {
        self[i].source.clone()
    }
    fn header(&mut self, i: usize) -> Result<ReportHeader, MergeError> {
        Ok(ReportHeader::of(&self[i].report))
    }
    fn report(&mut self, i: usize) -> Result<RunReport, MergeError> {
        Ok(self[i].report.clone())
    }
}

/// A merge: the merged run and its judged tests, and what the terminal should say about how it
/// came about. The run's report is [`crate::verdict::run_report`] of `run` and `tests`.
#[derive(Clone, Debug)]
pub struct Merged {
    /// Where and when the merged run happened, and its shards.
    pub run: RunInfo,
    /// Each merged test, judged by [`Unjudged::judge`] with its comparison.
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

/// Why a merged test's comparison with a baseline cannot be made, or a report cannot be read:
/// the caller's own error.
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

/// What an input says about the run it belongs to, whether it is one shard's report or a
/// merged one: checked against the first input's, then let go (a merge of thousands of inputs
/// keeps only what [`Holding`] says of each).
struct RunSpec {
    count: u32,
    identity: String,
    archive: Option<String>,
    binaries: BTreeMap<String, String>,
    holding: Holding,
}

/// The shards an input holds.
struct Holding {
    /// The shard, for a shard's report: `K/N` in messages.
    shard: Option<ShardSpec>,
    /// The shards it holds, each as a merged report lists it, by index.
    leaves: Vec<MergedShard>,
    /// What merges before this one ignored.
    ignored: Vec<String>,
}

impl RunSpec {
    fn of(h: &ReportHeader, source: &str) -> Result<RunSpec, MergeError> {
        if let Some(s) = &h.run.shard {
            return Ok(RunSpec {
                count: s.shard.count,
                identity: s.identity.clone(),
                archive: s.archive.clone(),
                binaries: s.binaries.clone(),
                holding: Holding {
                    shard: Some(s.shard),
                    leaves: vec![MergedShard {
                        index: s.shard.index,
                        source: source.to_string(),
                        host: h.run.host.clone(),
                        started_at_unix: h.run.started_at_unix,
                        start_offset_s: s.start_offset_s,
                        start_at_unix: s.start_at_unix,
                        duration_s: Some(h.run.duration_s),
                        joined_at_s: s.joined_at_s,
                    }],
                    ignored: Vec::new(),
                },
            });
        }
        let Some(m) = &h.run.merge else {
            return Err(MergeError::NotAShardReport {
                source: source.to_string(),
            });
        };
        let Some(binaries) = &m.binaries else {
            return Err(MergeError::NotRemergeable {
                source: source.to_string(),
            });
        };
        let mut leaves = m.shards.clone();
        leaves.sort_by_key(|s| s.index);
        Ok(RunSpec {
            count: m.count,
            identity: m.identity.clone(),
            archive: m.archive.clone(),
            binaries: binaries.clone(),
            holding: Holding {
                shard: None,
                leaves,
                ignored: m.ignored.clone(),
            },
        })
    }

    /// The shard spec messages show: the shard, or a merged report's first shard.
    fn shown(&self) -> ShardSpec {
        self.holding.shard.unwrap_or(ShardSpec {
            index: self.holding.first_index().max(1),
            count: self.count,
        })
    }
}

impl Holding {
    fn first_index(&self) -> u32 {
        self.leaves.first().map_or(0, |l| l.index)
    }
}

/// An input, as the first reading found it.
struct Input {
    i: usize,
    source: String,
    holding: Holding,
    interrupted: bool,
    started_at_unix: f64,
    tests: usize,
    /// A restarted shard's run followed by the run that joined in place: its tests that never
    /// started are that run's to report.
    superseded: bool,
}

/// Checks that `other` belongs to the same run as `first`, naming the first difference.
fn same_run(
    first: (&str, &RunSpec, &ReportHeader),
    other: (&str, &RunSpec, &ReportHeader),
) -> Result<(), MergeError> {
    let (fs, f, fh) = first;
    let (os, o, oh) = other;
    let pair = || (fs.to_string(), os.to_string());
    if o.count != f.count {
        return Err(MergeError::ShardCounts {
            reports: pair(),
            shards: (f.shown(), o.shown()),
        });
    }
    if o.archive != f.archive {
        return Err(MergeError::Archives {
            reports: pair(),
            archives: (f.archive.clone(), o.archive.clone()),
        });
    }
    let harnesses: BTreeSet<&String> = f.binaries.keys().chain(o.binaries.keys()).collect();
    for t in harnesses {
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
        |h: &ReportHeader| -> Vec<String> { h.tests.iter().map(|t| t.id().to_string()).collect() };
    let (na, nb) = (ids(fh), ids(oh));
    if na != nb {
        return Err(MergeError::Tests {
            reports: pair(),
            only: (
                na.iter().filter(|n| !nb.contains(n)).cloned().collect(),
                nb.iter().filter(|n| !na.contains(n)).cloned().collect(),
            ),
        });
    }
    for (ta, tb) in fh.tests.iter().zip(&oh.tests) {
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
    Ok(())
}

/// How one test's merge stands while inputs are read.
enum TestState {
    /// Every input so far had a result.
    Folding(Box<TestFold>),
    /// Some input had none: why, per input, and whether one was interrupted.
    NoResult {
        reasons: Vec<String>,
        interrupted: bool,
    },
}

/// Merges the inputs of one scale-out run: shards' reports and reports merged from them.
/// Refuses (with the first difference named) inputs that are neither, or that belong to
/// different runs: another shard count, archive, binary, set of tests, test configuration, or
/// identity. When a shard has several reports (a shard that ran twice), the one not
/// interrupted and started last is kept; a shard held by a merged report and by another input
/// is refused.
///
/// `compare` is asked, for each test in order (its index and its evidence), for its comparison
/// with a baseline, before the test is judged; an error ends the merge.
pub fn merge_runs(
    inputs: &mut dyn ReportSource,
    ctx: &MergeContext,
    compare: &mut CompareMerged<'_>,
) -> Result<Merged, MergeError> {
    if inputs.inputs() == 0 {
        return Err(MergeError::NoShardReport);
    }
    // First reading: headers only, checked against the first.
    let mut first: Option<(String, RunSpec, ReportHeader)> = None;
    let mut read: Vec<Input> = Vec::new();
    for i in 0..inputs.inputs() {
        let source = inputs.source(i);
        let header = inputs.header(i)?;
        let spec = RunSpec::of(&header, &source)?;
        match &first {
            Some((fs, f, fh)) => same_run((fs, f, fh), (&source, &spec, &header))?,
            None => {
                first = Some((
                    source.clone(),
                    RunSpec::of(&header, &source)?,
                    header.clone(),
                ))
            }
        }
        read.push(Input {
            i,
            source,
            holding: spec.holding,
            interrupted: header.status == RunStatus::Interrupted,
            started_at_unix: header.run.started_at_unix,
            tests: header.tests.len(),
            superseded: false,
        });
    }
    let (_, spec, first_header) = first.expect("at least one input");
    let count = spec.count;
    let Chosen {
        kept,
        mut ignored,
        mut notes,
    } = choose(read, count)?;
    let covered: BTreeSet<u32> = kept
        .iter()
        .flat_map(|k| k.holding.leaves.iter().map(|l| l.index))
        .collect();
    let missing: Vec<u32> = (1..=count).filter(|i| !covered.contains(i)).collect();
    if !missing.is_empty() {
        notes.push(format!(
            "partial merge: {} of {count} shards missing ({}); the figures cover the shards that reported",
            missing.len(),
            list(&missing)
        ));
    }
    let mut leaves: Vec<MergedShard> = kept
        .iter()
        .flat_map(|k| k.holding.leaves.iter().cloned())
        .collect();
    leaves.sort_by_key(|l| l.index);
    for k in &kept {
        ignored.extend(k.holding.ignored.iter().cloned());
    }
    ignored.sort();
    // A restarted shard started when its first run did: its later runs joined in place, and
    // their gap is judged as such (the skew of a shard that joined in place), not in the spread. A shard whose only run joined in
    // place (it started late) has no start of its own to skew: its gap is judged, once.
    let mut first_runs: BTreeMap<u32, &MergedShard> = BTreeMap::new();
    for l in &leaves {
        let e = first_runs.entry(l.index).or_insert(l);
        if l.started_at_unix < e.started_at_unix {
            *e = l;
        }
    }
    let skew = start_skew(
        &first_runs
            .values()
            .map(|l| {
                let offset = match l.joined_at_s {
                    Some(_) => None,
                    None => l.start_at_unix.and(l.start_offset_s),
                };
                (l.index, offset, l.duration_s.unwrap_or(0.0))
            })
            .collect::<Vec<_>>(),
    );

    // Second reading: each kept input's measurements, in shard order, one report at a time.
    let mut states: Vec<TestState> = first_header
        .tests
        .iter()
        .map(|_| TestState::Folding(Box::default()))
        .collect();
    let (mut started, mut ended, mut cpus) = (f64::INFINITY, f64::NEG_INFINITY, 0usize);
    let mut git_commit = None;
    for k in &kept {
        let report = inputs.report(k.i)?;
        let still = RunSpec::of(&ReportHeader::of(&report), &k.source)?;
        let same_leaves = still.holding.leaves.iter().map(|l| l.index).eq(k
            .holding
            .leaves
            .iter()
            .map(|l| l.index));
        if report.tests.len() != k.tests || !same_leaves {
            return Err(MergeError::Changed {
                source: k.source.clone(),
            });
        }
        started = started.min(report.run.started_at_unix);
        ended = ended.max(report.run.started_at_unix + report.run.duration_s);
        cpus += report.run.cpus;
        if git_commit.is_none() {
            git_commit.clone_from(&report.run.git_commit);
        }
        for (state, t) in states.iter_mut().zip(&report.tests) {
            let added = match (&mut *state, &t.result, k.holding.shard) {
                (TestState::Folding(fold), Some(r), Some(shard)) => {
                    fold.add_shard(shard.index, &report.run.host, r)
                }
                (TestState::Folding(fold), Some(r), None) => fold.add_merged(r),
                (TestState::NoResult { .. }, Some(_), _) => Ok(()),
                // A restarted shard's killed run never started this test: the run that joined
                // in place reports it.
                (_, None, Some(_)) if k.superseded && t.status == TestStatus::Interrupted => Ok(()),
                (_, None, _) => {
                    let why = match k.holding.shard {
                        Some(s) => {
                            let why = t
                                .failures
                                .first()
                                .cloned()
                                .or_else(|| t.error.clone())
                                .unwrap_or_else(|| "no result".into());
                            format!("shard {s}: {why}")
                        }
                        // A merged report's reason already names its shards.
                        None => t
                            .error
                            .clone()
                            .or_else(|| t.failures.first().cloned())
                            .unwrap_or_else(|| format!("{}: no result", k.source)),
                    };
                    let was_interrupted = t.status == TestStatus::Interrupted;
                    match state {
                        TestState::NoResult {
                            reasons,
                            interrupted,
                        } => {
                            reasons.push(why);
                            *interrupted |= was_interrupted;
                        }
                        TestState::Folding(_) => {
                            *state = TestState::NoResult {
                                reasons: vec![why],
                                interrupted: was_interrupted,
                            }
                        }
                    }
                    Ok(())
                }
            };
            added.map_err(|e| MergeError::Test {
                test: t.id().to_buf(),
                error: Box::new(e),
            })?;
        }
    }

    let mut tests = Vec::new();
    for (i, (t, state)) in first_header.tests.iter().zip(states).enumerate() {
        // A capacity search is one generator's search: shards' searches are not merged.
        let ended = match state {
            TestState::Folding(fold) => {
                let mut merged = fold.finish(&missing).map_err(|e| MergeError::Test {
                    test: t.id().to_buf(),
                    error: Box::new(e),
                })?;
                merged.start_skew = skew.clone();
                Ended::Finished(merged)
            }
            TestState::NoResult {
                reasons,
                interrupted,
            } => {
                let reason = reasons.join("; ");
                if interrupted {
                    Ended::NotStarted(reason)
                } else {
                    Ended::Errored(reason)
                }
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
    let mut hosts: Vec<String> = Vec::new();
    for l in &leaves {
        if !hosts.contains(&l.host) {
            hosts.push(l.host.clone());
        }
    }
    let info = MergeInfo {
        count,
        identity: spec.identity.clone(),
        archive: spec.archive.clone(),
        binaries: Some(spec.binaries.clone()),
        shards: leaves,
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
            git_commit,
            host: hosts.join(", "),
            cpus: cpus.max(1),
            command_line: ctx.command_line.clone(),
            fail_on_saturation: ctx.policy.fail_on_saturation,
            shard: None,
            merge: Some(info),
        },
        tests,
        notes,
    })
}

/// What a merge keeps of its inputs.
struct Chosen {
    /// One input per shard, in shard order.
    kept: Vec<Input>,
    /// A line per report left out (a shard that ran twice).
    ignored: Vec<String>,
    /// What people should be told.
    notes: Vec<String>,
}

/// A shard's reports when they are the runs of one restarted shard, in the order they ran:
/// each run after the first joined the schedule in place, and each before the last was
/// interrupted (killed), so they cover the schedule one after another and are merged together.
/// Returns their sources; `None` (the inputs untouched) otherwise.
fn restarted(inputs: &mut [Input]) -> Option<Vec<String>> {
    if inputs.len() < 2 || inputs.iter().any(|r| r.holding.shard.is_none()) {
        return None;
    }
    inputs.sort_by(|x, y| x.started_at_unix.total_cmp(&y.started_at_unix));
    let joined = |r: &Input| r.holding.leaves.iter().any(|l| l.joined_at_s.is_some());
    let n = inputs.len();
    let chain = inputs[1..].iter().all(joined) && inputs[..n - 1].iter().all(|r| r.interrupted);
    if !chain {
        return None;
    }
    for r in &mut inputs[..n - 1] {
        r.superseded = true;
    }
    Some(inputs.iter().map(|r| r.source.clone()).collect())
}

/// The inputs a merge keeps, in shard order: one report per shard (the one not interrupted,
/// then the one started last, when a shard ran twice), with what was ignored and notes for
/// people; a shard held by a merged report and by another input is refused.
fn choose(read: Vec<Input>, count: u32) -> Result<Chosen, MergeError> {
    let mut holder: BTreeMap<u32, (String, bool)> = BTreeMap::new();
    for r in &read {
        let merged = r.holding.shard.is_none();
        // A merged report lists a restarted shard once per run: one index, one holder.
        let indices: BTreeSet<u32> = r.holding.leaves.iter().map(|l| l.index).collect();
        for index in indices {
            if let Some((other, other_merged)) = holder.get(&index)
                && (merged || *other_merged)
            {
                return Err(MergeError::Overlap {
                    shard: index,
                    reports: (other.clone(), r.source.clone()),
                });
            }
            holder.insert(index, (r.source.clone(), merged));
        }
    }
    let mut by_shard: BTreeMap<u32, Vec<Input>> = BTreeMap::new();
    for r in read {
        by_shard.entry(r.holding.first_index()).or_default().push(r);
    }
    let (mut kept, mut ignored, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for (index, mut inputs) in by_shard {
        if let Some(runs) = restarted(&mut inputs) {
            notes.push(format!(
                "shard {index}/{count} restarted and joined the schedule in place: merged its runs {}",
                runs.join(", ")
            ));
            kept.append(&mut inputs);
            continue;
        }
        inputs.sort_by(|x, y| {
            let key = |r: &Input| (!r.interrupted, r.started_at_unix);
            key(x)
                .partial_cmp(&key(y))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let keep = inputs.pop().expect("each index has an input");
        for r in inputs {
            let line = format!(
                "shard {index}/{count} ran more than once: kept {}, ignored {}",
                keep.source, r.source
            );
            notes.push(line.clone());
            ignored.push(line);
        }
        kept.push(keep);
    }
    Ok(Chosen {
        kept,
        ignored,
        notes,
    })
}
