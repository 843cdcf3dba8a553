//! Why reports or results cannot be merged, naming the first difference.

use super::CompareError;
use crate::hdr::HdrError;
use crate::report::{ShardSpec, TestIdBuf};
use loadtest_grammar::ValueError;
use std::fmt;

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
    /// A report cannot be read (the reader's own error).
    Read {
        /// Where it was to be read from.
        source: String,
        /// Why it cannot be.
        error: CompareError,
    },
    /// Two inputs hold the same shard and one of them is a merged report, whose shards cannot
    /// be taken apart again.
    Overlap {
        /// The shard both hold.
        shard: u32,
        /// The two inputs' sources.
        reports: (String, String),
    },
    /// A merged report written before merged reports could be merged again: it does not name
    /// its shards' binaries.
    NotRemergeable {
        /// Where it was read from.
        source: String,
    },
    /// An input changed between the merge's two readings (its header, then its measurements).
    Changed {
        /// Where it was read from.
        source: String,
    },
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
            MergeError::Read { error, .. } => error.fmt(f),
            MergeError::Overlap {
                shard,
                reports: (a, b),
            } => write!(
                f,
                "shard {shard} is in both {a} and {b}, and a merged report cannot be taken apart: give each shard once (its own report, or one merged report that holds it)"
            ),
            MergeError::NotRemergeable { source } => write!(
                f,
                "{source} was merged by an older cargo-loadtest that did not record its shards' binaries, so it cannot be merged again: merge its shard reports instead"
            ),
            MergeError::Changed { source } => write!(
                f,
                "{source} changed while it was being merged (its tests or shards differ from its first reading)"
            ),
        }
    }
}

impl std::error::Error for MergeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MergeError::Shard { error, .. } | MergeError::Histogram { error, .. } => Some(error),
            MergeError::Threshold(e) => Some(e),
            MergeError::Test { error, .. } => Some(&**error),
            MergeError::Compare(e) | MergeError::Read { error: e, .. } => Some(&**e),
            _ => None,
        }
    }
}
