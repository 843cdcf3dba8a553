//! A run: one `cargo loadtest` invocation. It checks everything refusable first ([`plan`]),
//! then discovers and builds the harnesses, selects tests,
//! runs each harness's tests in sessions (one harness process each, restarted after a crash for
//! the tests it did not reach), judges every test with the one verdict, and hands the events to
//! the reporters. With `--baseline-rev`, the A/B gate runs both revisions' tests interleaved.
//! Under `--find-max` each test is a capacity search instead: a series of steps at overridden
//! rates ([`capacity`]), the next rate chosen by [`search`].

mod capacity;
mod harness;
mod interleave;
mod orchestrate;
mod plan;
mod search;
mod select;

pub(crate) use interleave::run as against_revision;
pub(crate) use orchestrate::run;
pub(crate) use select::{Selected, build_and_list, filter, select};
