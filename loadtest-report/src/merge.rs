//! Merging the reports of a scale-out run's shards into one exact result (`cargo loadtest
//! merge`), and merging merged reports again (a tree of merges over groups of shards).
//!
//! Every shard report carries its histograms losslessly (HdrHistogram V2), so merging is exact:
//! counts are added, histograms of the same configuration are added bucket by bucket (never
//! re-quantised), the per-second series are aligned by wall-clock second, and each shard's
//! generator health is kept beside the whole. Thresholds and the error budget are then evaluated
//! on the merged data by [`crate::verdict::evaluate`], the caller compares the merged result
//! with a baseline when it has one, and each test is judged once, on all of that, by
//! [`crate::verdict::Unjudged::judge`]: nothing here decides pass or fail.
//!
//! - [`run`]: [`merge_runs`] reads inputs one at a time and checks that they belong to one run.
//! - [`result`]: [`TestFold`] folds one test's results; [`merge_results`] merges a few at once.
//! - [`series`]: the per-second series.
//! - [`decoded`]: a result's measurements decoded, for threshold rules.
//! - [`error`]: why a merge is refused.

mod decoded;
mod error;
mod result;
mod run;
mod series;

pub use decoded::Decoded;
pub use error::MergeError;
pub use result::{ShardResult, TestFold, config_difference, evaluate_thresholds, merge_results};
pub use run::{
    CompareError, CompareMerged, HeaderResult, HeaderRun, HeaderTest, MergeContext, Merged,
    ReportHeader, ReportSource, ShardReport, merge_runs, start_skew,
};

use crate::hdr::{self, HdrError, Hist};

/// Adds an encoded histogram to `acc`.
fn add(acc: &mut Hist, encoded: &str) -> Result<(), HdrError> {
    let h = hdr::decode(encoded)?;
    acc.add(&h).map_err(HdrError::NotAddable)
}

/// `h` with the shape that depends on its values alone: an auto-resizing histogram's range
/// grows with the values added to it, so histograms added in another order hold the same counts
/// in a different range (and encode differently). Every merged histogram is encoded through
/// this, so any grouping and order of a merge encodes the same bytes.
fn canonical(h: &Hist) -> Hist {
    let mut c = Hist::new_with_bounds(1, h.max().max(2), 3)
        .expect("1 to at least 2 with 3 significant figures is a valid range");
    c.auto(true);
    c.add(h)
        .expect("an auto-resizing histogram takes any values");
    c
}

/// `1, 3, 4`.
fn list(xs: &[u32]) -> String {
    xs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        RequestMetrics, RunInfo, RunReport, RunStatus, SCHEMA_VERSION, ShardRun, ShardSpec,
        TestReport, TestResult, TestStatus,
    };
    use crate::verdict::Policy;
    use std::collections::BTreeMap;

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
                        joined_at_s: None,
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

    fn merge(mut inputs: Vec<ShardReport>) -> Result<Merged, MergeError> {
        let ctx = MergeContext {
            tool_version: "0".into(),
            command_line: Vec::new(),
            policy: Policy::default(),
        };
        merge_runs(&mut inputs, &ctx, &mut |_, _| Ok(None))
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

    /// A merged report merges again; a shard it holds cannot come again from elsewhere, and a
    /// merged report that does not name its binaries is refused with what to do instead.
    #[test]
    fn a_shard_held_twice_across_a_tree_is_refused() {
        let b = shard_report("b.json", Some((2, 2)), "x");
        let m = merge(vec![shard_report("a.json", Some((1, 2)), "x"), b.clone()]).unwrap();
        let end = crate::verdict::RunEnd {
            interrupted: false,
            refused: false,
        };
        let merged = ShardReport {
            source: "m.json".into(),
            report: crate::verdict::run_report(m.run, m.tests, None, end),
        };
        let again = merge(vec![merged.clone()]).unwrap();
        let info = again.run.merge.unwrap();
        assert_eq!(
            (
                info.partial,
                info.shards.len(),
                info.shards[1].source.as_str()
            ),
            (false, 2, "b.json")
        );
        let e = merge(vec![merged.clone(), b]).unwrap_err();
        assert!(
            matches!(&e, MergeError::Overlap { shard: 2, reports } if reports == &("m.json".to_string(), "b.json".to_string())),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("shard 2 is in both m.json and b.json"),
            "{e}"
        );
        let e = merge(vec![merged.clone(), merged.clone()]).unwrap_err();
        assert!(matches!(&e, MergeError::Overlap { shard: 1, .. }), "{e:?}");
        let mut old = merged;
        old.report.run.merge.as_mut().unwrap().binaries = None;
        let e = merge(vec![old]).unwrap_err();
        assert!(
            matches!(&e, MergeError::NotRemergeable { source } if source == "m.json"),
            "{e:?}"
        );
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
        let e = merge_runs(&mut vec![one], &ctx, &mut |_, _| {
            Err("no baseline test".into())
        })
        .unwrap_err();
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
