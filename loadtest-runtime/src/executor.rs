//! Running one load test: the closed model (a task per virtual user) and the open model (long-lived
//! slots per worker pulling due arrivals), the iteration wrapper (panics, timeouts, recording),
//! stopping, and the per-second collector that turns shards into a result.

mod closed;
mod driver;
mod fine_timer;
mod iteration;
mod join;
mod live;
mod open;
mod slots;
mod stop;
pub(crate) mod workers;

pub(crate) use driver::{RunTest, run_test};
pub(crate) use live::LiveGauges;
pub(crate) use stop::Stop;
