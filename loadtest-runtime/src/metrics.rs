//! Measurement: per-worker recording without a global lock, merged per second and at the end.

pub use loadtest_report::hdr;
mod process;
pub use process::current_rss;
pub(crate) mod names;
mod names_map;
mod recorder;
mod shard;
mod stream;

pub(crate) use process::{CpuWait, ProcessSample};
pub(crate) use recorder::Metrics;
pub(crate) use shard::{Interval, IterationClass, PHASE_NAMES, Phases, RequestClass, Shard};
pub(crate) use stream::{StreamTimer, micros};
// How a stream ended, for a transport outside `http` (gRPC's server-streaming answers).
#[cfg(feature = "grpc")]
pub(crate) use shard::StreamEnd;
