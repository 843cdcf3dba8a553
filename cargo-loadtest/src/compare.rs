//! Baselines and the regression gate: storing results, the comparability check, the statistics,
//! the per-test verdicts, and the base revision's worktree for the A/B gate.

pub mod apply;
pub mod baseline;
pub mod bmf;
mod command;
pub(crate) use command::compare;
pub mod gate;
pub mod stats;
pub mod store_error;
pub(crate) mod worktree;
