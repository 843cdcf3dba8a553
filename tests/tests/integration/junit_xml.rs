//! The JUnit report stays well-formed XML whatever the test names, failure messages and harness
//! output contain: markup characters, `]]>` (which would end a CDATA section) and control
//! characters XML 1.0 cannot hold.

use crate::common;

use cargo_loadtest::output::junit;
use common::synthetic;
use loadtest_report::report::{RunReport, TestStatus};

/// Everything that can break XML, plus an ANSI colour sequence.
const NASTY: &str = "a <b> & \"c\" 'd' ]]> e\u{1}f\u{8}g \u{1b}[31mred\u{1b}[0m";

/// What [`NASTY`] becomes in XML: the control characters replaced, the rest kept.
fn cleaned(s: &str) -> String {
    s.chars()
        .map(|c| {
            if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// The synthetic report with hostile text in names, failures, threshold messages and errors.
fn hostile_report() -> RunReport {
    let mut r = synthetic::report();
    for (i, t) in r.tests.iter_mut().enumerate() {
        t.name = format!("{}{NASTY} #{i}", t.name);
        if let Some(res) = &mut t.result {
            res.name = t.name.clone();
            for th in &mut res.thresholds {
                th.message = format!("{}; {NASTY}", th.message);
            }
            res.generator.warnings.push(format!("warning {NASTY}"));
        }
        if t.status != TestStatus::Passed {
            t.failures.push(format!("reason {NASTY}"));
        }
        if t.error.is_some() {
            t.error = Some(format!("stderr tail\n{NASTY}\nlast line ]]>"));
        }
    }
    r
}

/// The text of a node and every node under it, CDATA sections included.
fn all_text(n: roxmltree::Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect()
}

#[test]
fn hostile_text_keeps_the_junit_report_well_formed() {
    let _g = crate::support::concurrent(&[]);
    let report = hostile_report();
    let xml = junit::render(&report);
    let doc = match roxmltree::Document::parse(&xml) {
        Ok(doc) => doc,
        Err(e) => panic!("the JUnit report is not well-formed XML: {e}\n{xml}"),
    };

    // Exactly one testcase per test, in order, named after it.
    let cases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), report.tests.len(), "{xml}");
    for (case, t) in cases.iter().zip(&report.tests) {
        assert_eq!(case.attribute("name"), Some(cleaned(&t.name).as_str()));
        assert_eq!(
            case.attribute("classname"),
            Some(format!("{}::{}", t.package, t.target).as_str())
        );
        let has = |tag: &str| case.children().filter(|c| c.has_tag_name(tag)).count();
        // A failure element exactly on failed tests; error and skipped likewise.
        assert_eq!(
            has("failure"),
            usize::from(t.status == TestStatus::Failed),
            "failure on {:?} ({:?})",
            t.name,
            t.status
        );
        assert_eq!(
            has("error"),
            usize::from(t.status == TestStatus::Errored),
            "error on {:?} ({:?})",
            t.name,
            t.status
        );
        assert_eq!(
            has("skipped"),
            usize::from(t.status == TestStatus::Interrupted),
            "skipped on {:?} ({:?})",
            t.name,
            t.status
        );
    }
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        1
    );

    // The failure message reads back unescaped: markup characters and `]]>` intact.
    let (failed_case, failed) = cases
        .iter()
        .zip(&report.tests)
        .find(|(_, t)| t.status == TestStatus::Failed)
        .unwrap();
    let failure = failed_case
        .children()
        .find(|c| c.has_tag_name("failure"))
        .unwrap();
    let message = failure.attribute("message").expect("a failure message");
    assert_eq!(message, cleaned(&failed.failures.join("; ")));
    for part in ["<b>", " & ", "\"c\"", "'d'", "]]>", "e\u{FFFD}f\u{FFFD}g"] {
        assert!(
            message.contains(part),
            "{part:?} is missing from the failure message {message:?}"
        );
    }
    // The figures under the failure (CDATA) hold the hostile threshold message whole.
    assert!(
        all_text(failure).contains(&cleaned(NASTY)),
        "{:?}",
        all_text(failure)
    );

    // The error element carries the reason and the stderr tail, split CDATA reassembled.
    let (errored_case, errored) = cases
        .iter()
        .zip(&report.tests)
        .find(|(_, t)| t.status == TestStatus::Errored)
        .unwrap();
    let error = errored_case
        .children()
        .find(|c| c.has_tag_name("error"))
        .unwrap();
    assert_eq!(
        error.attribute("message"),
        Some(cleaned(&errored.failures.join("; ")).as_str())
    );
    let stderr = all_text(error);
    assert!(
        stderr.contains("a <b> & \"c\" 'd' ]]> e\u{FFFD}f\u{FFFD}g")
            && stderr.ends_with("last line ]]>"),
        "{stderr:?}"
    );

    // Interrupted tests' reasons end up in their suite's output, names and `]]>` intact.
    let suite_out: String = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("system-out") && n.parent().is_some_and(|p| p.has_tag_name("testsuite"))
        })
        .map(all_text)
        .collect();
    for t in report
        .tests
        .iter()
        .filter(|t| t.status == TestStatus::Interrupted)
    {
        assert!(
            suite_out.contains(&format!("{}:\n", cleaned(&t.name))),
            "{suite_out:?}"
        );
    }
    assert!(suite_out.contains("INTERRUPTED: the run was interrupted before this test started; reason a <b> & \"c\" 'd' ]]> e"), "{suite_out:?}");

    // No character XML 1.0 forbids made it through, anywhere.
    let forbidden = |c: char| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r');
    assert!(
        !xml.chars().any(forbidden),
        "a control character reached the XML"
    );
}

#[test]
fn suite_counts_match_the_tests() {
    let _g = crate::support::concurrent(&[]);
    let report = hostile_report();
    let xml = junit::render(&report);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 3, "one suite per target");
    for suite in suites {
        let count = |tag: &str| {
            suite
                .descendants()
                .filter(|n| n.has_tag_name(tag))
                .count()
                .to_string()
        };
        assert_eq!(suite.attribute("tests"), Some(count("testcase").as_str()));
        assert_eq!(suite.attribute("failures"), Some(count("failure").as_str()));
        assert_eq!(suite.attribute("errors"), Some(count("error").as_str()));
    }
}
