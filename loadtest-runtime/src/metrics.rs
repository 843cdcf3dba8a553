//! Measurement: per-worker recording without a global lock, merged per second and at the end.

pub use loadtest_report::hdr;
mod process;
pub use process::current_rss;
mod recorder;
mod shard;

pub(crate) use process::ProcessSample;
pub(crate) use recorder::Metrics;
pub(crate) use shard::{Interval, IterationClass, PHASE_NAMES, Phases, RequestClass, Shard};
