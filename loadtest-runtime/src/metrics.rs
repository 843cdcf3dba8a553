//! Measurement: per-worker recording without a global lock, merged per second and at the end.

pub use loadtest_report::hdr;
mod process;
pub use process::current_rss;
pub(crate) mod names;
mod names_map;
mod recorder;
mod stream;
mod worker;

pub(crate) use process::{CpuWait, ProcessSample};
pub(crate) use recorder::Metrics;
pub(crate) use stream::{StreamTimer, micros};
pub(crate) use worker::{
    Interval, IterationClass, PHASE_NAMES, Phases, RequestClass, WorkerMetrics,
};
// How a stream ended, for a transport outside `http` (gRPC's server-streaming answers).
#[cfg(feature = "grpc")]
pub(crate) use worker::StreamEnd;
