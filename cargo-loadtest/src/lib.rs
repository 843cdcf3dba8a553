//! `cargo loadtest`: discovers the `#[load_test]` functions of a workspace, builds their harness
//! binaries, runs them through the harness machine interface, prints a summary and writes JSON,
//! JUnit and Markdown reports.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | every selected load test passed |
//! | 100 | a load test failed (threshold, error budget, crash of its harness) |
//! | 101 | the build failed |
//! | 4 | no load test matched the selection |
//! | 2 | usage or configuration error (bad flag, option value, config file, missing manifest) |
//! | 130 | interrupted (Ctrl-C / SIGTERM); reports hold what ran |
//!
//! The constants live in [`exit_code`] (from `loadtest-report`).
//!
//! # Responsibilities and boundaries
//!
//! Responsible for: the command line, workspace discovery (cargo_metadata), building harnesses,
//! running them in sessions (one harness process each) through the machine interface, the
//! baseline gate's statistics, the performance history's change points ([`history`]), the reporters that write every output, and scale-out (archives,
//! shards, the coordinated start and the exact merge, in [`scale`]).
//!
//! Must never depend on: `loadtest-runtime`, tokio or an HTTP client. It meets the harness only
//! through `loadtest-report`'s protocol and report types, and judges with its verdict.

mod calendar;
pub mod cli;
pub mod compare;
mod compile;
pub mod dispatch;
pub mod doctor;
pub mod errors;
pub mod history;
pub use loadtest_report::exit_code;
mod list;
mod live;
mod otlp;
pub mod output;
mod report_command;
mod reporter;
mod run;
mod scaffold;
pub mod scale;
mod session;
mod settings;
mod signals;
mod workspace;
