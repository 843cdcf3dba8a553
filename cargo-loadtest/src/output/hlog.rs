//! HdrHistogram interval logs (`.hlog`, the log format of HdrHistogram's libraries and
//! HistogramLogAnalyzer): one file per test, one interval per second of its series, each a
//! compressed histogram tagged `iteration` (corrected in the open model),
//! `iteration_uncorrected` (open model), `request:NAME` or, for a request name read as streams,
//! `gap:NAME` (the gaps between its events). Values are microseconds.
//!
//! The intervals come from the report's series, which carries each second's histograms; the
//! per-request ones are there when the run was asked for interval logs.

use loadtest_report::hdr::{self, Hist};
use loadtest_report::report::{TestReport, TestResult};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The tag of the iteration latency (corrected in the open model).
pub const ITERATION_TAG: &str = "iteration";
/// The tag of the open model's uncorrected iteration latency.
pub const UNCORRECTED_TAG: &str = "iteration_uncorrected";
/// The prefix of a request name's tag.
pub const REQUEST_TAG_PREFIX: &str = "request:";
/// The prefix of the tag of a streamed request name's gaps between events.
pub const GAP_TAG_PREFIX: &str = "gap:";

/// One interval log to write.
pub struct LogFile {
    /// Where it goes.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// The interval logs of every test with a result, for the folder `dir`.
pub fn render_all(tests: &[TestReport], dir: &Path) -> Result<Vec<LogFile>, String> {
    let mut out: Vec<LogFile> = Vec::new();
    for t in tests {
        let Some(result) = &t.result else { continue };
        let mut stem = format!("{}.{}", file_part(&t.target), file_part(&t.name));
        if out
            .iter()
            .any(|f| f.path == dir.join(format!("{stem}.hlog")))
        {
            stem = format!("{}.{stem}", file_part(&t.package));
        }
        let text = render(t, result)?;
        out.push(LogFile {
            path: dir.join(format!("{stem}.hlog")),
            text,
        });
    }
    Ok(out)
}

/// A name made safe for a file name: `api::browse` -> `api__browse`.
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A request name made a valid tag (no space, comma or line break), distinct from the others.
fn request_tags<'a>(names: impl Iterator<Item = &'a String>) -> BTreeMap<&'a str, String> {
    let mut tags: BTreeMap<&str, String> = BTreeMap::new();
    for name in names {
        let base: String = name
            .chars()
            .map(|c| {
                if matches!(c, ' ' | ',' | '\r' | '\n') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let mut tag = format!("{REQUEST_TAG_PREFIX}{base}");
        let mut n = 2;
        while tags.values().any(|t| *t == tag) {
            tag = format!("{REQUEST_TAG_PREFIX}{base}~{n}");
            n += 1;
        }
        tags.insert(name, tag);
    }
    tags
}

/// The interval log of one test.
pub fn render(t: &TestReport, r: &TestResult) -> Result<String, String> {
    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    let seconds = |s: f64| Duration::try_from_secs_f64(s).unwrap_or_default();
    let start = SystemTime::UNIX_EPOCH + seconds(r.started_at_unix.unwrap_or(0.0));
    let names: Vec<&String> = {
        let mut v: Vec<&String> = r
            .series
            .iter()
            .flat_map(|p| p.request_latency.keys().chain(p.stream_gap.keys()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let tags = request_tags(names.iter().copied());
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment("[Histogram log format version 1.3]")
        .add_comment(&format!(
            "[cargo-loadtest {}: {}::{} of package {}]",
            env!("CARGO_PKG_VERSION"),
            t.target,
            t.name,
            t.package
        ))
        .add_comment(
            "[Values are microseconds; the Interval_Max column is in milliseconds. Timestamps count from the test's start.]",
        )
        .add_comment(&format!(
            "[Tag {ITERATION_TAG}: iteration latency{}]",
            if r.iteration_latency_uncorrected.is_some() {
                ", measured from each iteration's intended start"
            } else {
                ""
            }
        ));
    if r.iteration_latency_uncorrected.is_some() {
        builder.add_comment(&format!(
            "[Tag {UNCORRECTED_TAG}: iteration latency measured from each iteration's actual start]"
        ));
    }
    for (name, tag) in &tags {
        builder.add_comment(&format!("[Tag {tag}: requests named {name:?}]"));
    }
    // A streamed request name's gaps between events go under its tag with `gap:` for
    // `request:` (`gap:chat`), as threshold rules name them.
    let gap_tag = |name: &str| {
        let tag = &tags[name];
        format!(
            "{GAP_TAG_PREFIX}{}",
            tag.strip_prefix(REQUEST_TAG_PREFIX).unwrap_or(tag)
        )
    };
    let mut streamed: Vec<&String> = r.series.iter().flat_map(|p| p.stream_gap.keys()).collect();
    streamed.sort();
    streamed.dedup();
    for name in streamed {
        builder.add_comment(&format!(
            "[Tag {}: gaps between the events of the streamed responses named {name:?}]",
            gap_tag(name)
        ));
    }
    if r.series.iter().all(|p| p.request_latency.is_empty()) && !r.request_names.is_empty() {
        builder.add_comment(
            "[No per-second request histograms in the report: run with --hlog to record them]",
        );
    }
    builder
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0);
    let mut text = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let mut log = builder
        .begin_log_with(&mut text, &mut serializer)
        .map_err(|e| e.to_string())?;
    let mut prev = 0.0f64;
    for (i, p) in r.series.iter().enumerate() {
        let (from, to) = (prev.max(0.0), p.t_s.max(prev));
        prev = to;
        let mut write = |encoded: &str, tag: &str| -> Result<(), String> {
            let h: Hist = hdr::decode(encoded)
                .map_err(|e| format!("second {} of `{}`: {e}", i + 1, t.name))?;
            let tag = Tag::new(tag).expect("tags are made without forbidden characters");
            log.write_histogram(&h, seconds(from), seconds(to - from), Some(tag))
                .map_err(|e| e.to_string())
        };
        let Some(iteration) = &p.iteration_latency else {
            return Err(format!(
                "the report of `{}` has no per-second histograms (it was written by an older version)",
                t.name
            ));
        };
        write(iteration, ITERATION_TAG)?;
        if let Some(u) = &p.iteration_latency_uncorrected {
            write(u, UNCORRECTED_TAG)?;
        }
        for (name, encoded) in &p.request_latency {
            write(encoded, &tags[name.as_str()])?;
        }
        for (name, encoded) in &p.stream_gap {
            write(encoded, &gap_tag(name))?;
        }
    }
    drop(log);
    String::from_utf8(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_names_become_distinct_tags() {
        let names = [
            "GET /a b".to_string(),
            "GET /a_b".to_string(),
            "x,y".to_string(),
        ];
        let tags = request_tags(names.iter());
        assert_eq!(tags["GET /a b"], "request:GET_/a_b");
        assert_eq!(tags["GET /a_b"], "request:GET_/a_b~2");
        assert_eq!(tags["x,y"], "request:x_y");
        assert!(tags.values().all(|t| Tag::new(t).is_some()));
        use hdrhistogram::serialization::interval_log::Tag;
    }

    #[test]
    fn file_names_are_plain() {
        assert_eq!(file_part("api::browse"), "api__browse");
        assert_eq!(file_part("a/b c"), "a_b_c");
    }
}
