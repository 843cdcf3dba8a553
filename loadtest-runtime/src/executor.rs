//! Running one load test: the closed and open models, the iteration wrapper (panics, timeouts,
//! recording), stopping, and the per-second collector that turns shards into a result.

mod closed;
mod driver;
mod fine_timer;
mod iteration;
mod live;
mod open;
mod slots;
mod stop;
pub(crate) mod workers;

pub(crate) use driver::{RunTest, run_test};
pub(crate) use live::LiveGauges;
pub(crate) use stop::Stop;
