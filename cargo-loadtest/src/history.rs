//! The performance history of main (`cargo loadtest history`, SPEC section 18): an
//! append-only folder of compact run records, change-point detection per test and metric
//! (E-Divisive means with a Student's t-test, as Apache Otava does it), and its outputs (a
//! table, JSON, Otava's CSV layout, an HTML page). The A/B gate judges one pull request against
//! its base; the history finds the slow drift that passes every gate.
//!
//! - [`record`]: what is kept of a run, versioned (`history_version`);
//! - [`store`]: one file per run, written atomically, never replaced, read back in time order;
//! - [`detect`]: the detection over one series, and its incremental form;
//! - [`analysis`]: series from the runs, change points with their runs and commits, what the
//!   newest run opened;
//! - [`render`]: the outputs;
//! - `command`: the two subcommands.

pub mod analysis;
mod command;
pub mod detect;
pub mod record;
pub mod render;
pub mod store;

pub(crate) use command::history;
