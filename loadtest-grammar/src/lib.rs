//! The option and threshold grammar of cargo-loadtest, shared by the `#[load_test]` macro (which
//! checks attribute values at compile time), the runtime (which parses the same values from
//! `loadtest.toml`, `LOADTEST_*` variables and the command line) and the `cargo loadtest` CLI
//! (which checks flags before anything is built).
//!
//! Responsible for: every option's name and the values it accepts ([`options`]), the parsers of
//! durations, rates, ranges, stages, threshold rules and tolerances, the metrics the regression
//! gate compares ([`GatedMetric`]), and option layers with their
//! precedence ([`layer`]), the worker-thread setting ([`threads`]), and, with the `file` feature,
//! the workspace file `loadtest.toml` ([`file`]), and the typed errors of all of them ([`error`],
//! [`threads::WorkerThreadsError`], [`file::FileError`]), whose messages name the offending
//! value and what is accepted.
//!
//! Must never depend on: tokio, an HTTP client, or any other crate of this workspace. It is
//! compiled into a proc-macro, so it stays small: `std` and serde (for the layers that travel
//! between the CLI and a harness).

pub mod error;
#[cfg(feature = "file")]
pub mod file;
pub mod gated_metric;
pub mod layer;
pub mod options;
pub mod threads;

pub use error::{Conflict, Expected, LayerError, OptionError, Problem, ValueError};
#[cfg(feature = "file")]
pub use file::FileError;
#[cfg(feature = "file")]
pub use file::{FILE_NAME, WorkspaceFile};
pub use gated_metric::GatedMetric;
pub use layer::{OptionLayer, OptionValue, merge};
pub use options::*;
pub use threads::WorkerThreadsError;
