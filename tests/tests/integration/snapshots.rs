//! Snapshots of what people read: the terminal summary, the Markdown report and the JUnit XML,
//! rendered from the deterministic synthetic report. JUnit's suite timestamp is the time of
//! rendering, so it is redacted.

use crate::common;

use cargo_loadtest::output::{junit, markdown, summary};
use common::synthetic;

#[test]
fn summary_table() {
    let _g = crate::support::concurrent(&[]);
    insta::assert_snapshot!(summary::table(&synthetic::report()));
}

#[test]
fn markdown_report() {
    let _g = crate::support::concurrent(&[]);
    insta::assert_snapshot!(markdown::render(&synthetic::report()));
}

#[test]
fn junit_report() {
    let _g = crate::support::concurrent(&[]);
    let xml = junit::render(&synthetic::report());
    roxmltree::Document::parse(&xml).expect("the JUnit report is well-formed XML");
    insta::with_settings!({filters => vec![
        (r#"timestamp="[^"]*""#, r#"timestamp="[timestamp]""#),
    ]}, {
        insta::assert_snapshot!(xml);
    });
}
