//! The HTML report rendered from the deterministic synthetic report: its structure, that it is
//! self-contained, that it shows the verdict's statuses rather than deciding any, that names
//! and messages are escaped, and its size for a 10-minute run.

use crate::common;

use cargo_loadtest::compare::apply::Comparer;
use cargo_loadtest::compare::baseline::Baseline;
use cargo_loadtest::output::html;
use common::synthetic;
use loadtest_report::hdr::{new_hist, record, to_report};
use loadtest_report::report::{IntervalPoint, RunReport, TestReport, TestStatus};
use loadtest_report::verdict::Unjudged;

fn charts(page: &str, kind: &str) -> usize {
    page.matches(&format!("data-chart=\"{kind}\"")).count()
}

#[test]
fn every_test_with_a_result_gets_its_three_charts_and_tables() {
    let _g = crate::support::concurrent(&[]);
    let report = synthetic::report();
    let page = html::render(&report, None);
    let with_result = report.tests.iter().filter(|t| t.result.is_some()).count();
    assert_eq!(with_result, 3);
    for kind in ["latency", "throughput", "spectrum"] {
        assert_eq!(charts(&page, kind), with_result, "{kind}");
    }
    assert_eq!(page.matches("<svg").count(), 3 * with_result);
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert_eq!(
        page.matches("<section class=\"test\"").count(),
        report.tests.len()
    );
    // Per request name, phase timings when present, the generator, the verdict table.
    assert!(page.contains("Requests by name") && page.contains("GET /search"));
    assert!(page.contains("Load generator") && page.contains("Compared with the baseline"));
    assert!(page.contains("REGRESSED"));
    // Nothing is fetched: no script, no stylesheet or image from anywhere.
    assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("<img"));
    for attr in ["src=\"http", "href=\"http", "href=\"//", "url(http"] {
        assert!(!page.contains(attr), "{attr}");
    }
}

#[test]
fn statuses_are_the_reports_and_rendering_is_deterministic() {
    let _g = crate::support::concurrent(&[]);
    let mut report = synthetic::report();
    let page = html::render(&report, None);
    assert_eq!(page, html::render(&report, None));
    assert!(page.contains("<span class=\"status failed\">FAIL</span>"));
    assert!(page.contains("<span class=\"status errored\">ERROR</span>"));
    // The renderer shows what the verdict decided, even where the numbers would say otherwise.
    report.tests[1].status = TestStatus::Passed;
    let flipped = html::render(&report, None);
    assert_eq!(
        flipped.matches("status failed").count() + 2,
        page.matches("status failed").count(),
        "the flipped test's two badges (summary and section) follow its status"
    );
}

#[test]
fn names_and_messages_are_escaped() {
    let _g = crate::support::concurrent(&[]);
    let mut report = synthetic::report();
    report.tests[0].name = "<script>alert(1)</script>".into();
    report.tests[2].error = Some("broken <b> & \"quoted\" \u{1b}[31m".into());
    let page = html::render(&report, None);
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("broken &lt;b&gt; &amp; &quot;quoted&quot; \\u{1b}[31m"));
}

#[test]
fn a_capacity_search_shows_its_finding_steps_and_their_p99_by_rate() {
    let _g = crate::support::concurrent(&[]);
    let mut report = synthetic::report();
    report.tests.push(synthetic::capacity_searched());
    let page = html::render(&report, None);
    let t = report.tests.last().unwrap();
    let c = t.capacity.as_ref().unwrap();
    let section = &page[page.rfind("<section class=\"test\"").unwrap()..];
    assert!(
        section.contains("<h3>Capacity: 97.6/s .. 100/s</h3>"),
        "{section}"
    );
    assert!(section.contains("capacity 97.6/s: 97.6/s met every rule"));
    assert_eq!(charts(section, "capacity"), 1);
    // One table row per step, in the order run, each with its verdict.
    let rows: Vec<&str> = section
        .split("<tr>")
        .filter(|r| r.starts_with("<td>") && r.contains("/s</td>"))
        .filter(|r| r.contains("passed</td>") || r.contains("FAILED</td>"))
        .collect();
    assert_eq!(rows.len(), c.steps.len(), "{section}");
    assert!(
        rows[4].contains("<td class=\"fail\">FAILED</td>"),
        "{}",
        rows[4]
    );
    assert!(
        rows[0].contains("<td class=\"ok\">passed</td>"),
        "{}",
        rows[0]
    );
    // The chart's polyline goes up the rates in order, whatever order the search ran them in.
    let chart = &section[section.find("data-chart=\"capacity\"").unwrap()..];
    let points = &chart[chart.find("points=\"").unwrap() + 8..];
    let xs: Vec<f64> = points[..points.find('"').unwrap()]
        .split_whitespace()
        .map(|p| p.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(xs.len(), c.steps.len());
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    // The other tests have no capacity section.
    assert_eq!(page.matches("<h3>Capacity: ").count(), 1);
}

#[test]
fn a_baseline_is_drawn_dashed_under_the_run() {
    let _g = crate::support::concurrent(&[]);
    let report = synthetic::report();
    let without = html::render(&report, None);
    let with = html::render(&report, Some(&report));
    assert!(!without.contains("baseline p99"));
    assert!(with.contains("baseline p99") && with.contains("baseline iterations/s"));
    assert!(with.matches("stroke-dasharray").count() > without.matches("stroke-dasharray").count());
}

/// The synthetic open-model test stretched to 600 one-second points, each with its own
/// histogram, compared with itself as the baseline: the page a 10-minute run writes.
fn ten_minutes() -> RunReport {
    let mut report = synthetic::report();
    let t = &mut report.tests[0];
    let r = t.result.as_mut().unwrap();
    r.series = (1..=600u64)
        .map(|s| {
            let mut h = new_hist();
            for i in 0..200u64 {
                record(
                    &mut h,
                    4_000 + (i * 7_919 + s * 31) % 30_000 + if i == 199 { 90_000 } else { 0 },
                );
            }
            let e = to_report(&h);
            IntervalPoint {
                t_s: s as f64,
                iterations: 200,
                failed: u64::from(s % 50 == 0),
                requests: 300,
                request_errors: u64::from(s % 40 == 0),
                missed: 0,
                p50_us: e.summary.p50_us,
                p95_us: e.summary.p95_us,
                p99_us: e.summary.p99_us,
                iteration_latency: Some(e.hdr_v2_base64.clone()),
                iteration_latency_uncorrected: Some(e.hdr_v2_base64),
                request_latency: Default::default(),
                stream_gap: Default::default(),
            }
        })
        .collect();
    r.elapsed_s = 600.0;
    report
}

#[test]
fn a_ten_minute_run_renders_to_a_page_of_bounded_size() {
    let _g = crate::support::concurrent(&[]);
    let report = ten_minutes();
    let page = html::render(&report, Some(&report));
    let json = serde_json::to_vec(&report).unwrap().len();
    println!(
        "HTML report of a 600-second test with a baseline overlay: {} bytes (its report.json: {json} bytes)",
        page.len()
    );
    // A bound, not a measurement: it catches a page that embeds data per second it should not.
    assert!(page.len() < 1_500_000, "{} bytes", page.len());
    assert_eq!(charts(&page, "latency"), 3);
}

/// Issue 24: the page overlays the baseline test the comparison judged against (one rule,
/// `RunReport::test` by `TestId`): never another package's test of the same target and name,
/// nor, as its name-only fallback once did, a test of the same name in another target.
#[test]
fn the_overlay_is_the_baseline_test_the_comparison_judged_against() {
    let _g = crate::support::concurrent(&[]);
    let in_package = |package: &str, target: &str, slower: bool| {
        let mut result = synthetic::open_model_passed();
        if slower {
            for p in &mut result.series {
                (p.p50_us, p.p95_us, p.p99_us) = (2 * p.p50_us, 2 * p.p95_us, 2 * p.p99_us);
            }
        }
        TestReport {
            package: package.into(),
            ..synthetic::judged(target, result)
        }
    };
    let run_of = |tests: Vec<TestReport>| RunReport {
        tests,
        ..synthetic::report()
    };
    let this = in_package("b", "browse", false);
    let run = run_of(vec![this.clone()]);
    // The baseline has the test in two packages: `a`'s is slower.
    let both = run_of(vec![
        in_package("a", "browse", true),
        in_package("b", "browse", false),
    ]);
    let only_b = run_of(vec![in_package("b", "browse", false)]);
    let only_a = run_of(vec![in_package("a", "browse", true)]);
    let compared = |baseline: &RunReport, test: &TestReport| {
        let baseline = Baseline::one(baseline.clone());
        Comparer::new(&baseline, "baseline \"b1\"", &[], false)
            .compare(0, &Unjudged::from_report(test.clone()))
            .expect("no tolerance to parse")
    };
    assert_eq!(compared(&both, &this), compared(&only_b, &this));
    assert_ne!(compared(&both, &this), compared(&only_a, &this));
    let page = html::render(&run, Some(&both));
    assert!(page.contains("baseline p99"), "the overlay is drawn");
    assert_eq!(page, html::render(&run, Some(&only_b)));
    assert_ne!(page, html::render(&run, Some(&only_a)));

    // The same name in another target is another test: neither compared nor drawn.
    let elsewhere = in_package("b", "checkout", false);
    let c = compared(&only_b, &elsewhere).expect("a comparison note");
    assert!(c.metrics.is_empty(), "{c:?}");
    assert_eq!(
        c.note.as_deref(),
        Some("the baseline has no result for this test")
    );
    let page = html::render(&run_of(vec![elsewhere]), Some(&only_b));
    assert!(!page.contains("baseline p99"), "no overlay");
}
