//! Baselines and the regression gate: storing results, the comparability check, the statistics,
//! and the per-test verdicts.

pub mod apply;
pub mod baseline;
pub mod bmf;
mod command;
pub(crate) use command::compare;
pub mod gate;
pub mod stats;
