//! Configuration of a load test: the option layers (attribute, workspace file, environment,
//! command line) and the resolved [`TestConfig`] with its load model.

mod ramp;
pub mod shard;
mod test_config;

pub use loadtest_grammar::{FILE_NAME, OptionLayer, OptionValue, WorkspaceFile};
pub use ramp::{Arrivals, Ramp};
pub use shard::ShardPlan;
pub use test_config::{ConfigError, LoadModel, RetryPolicy, TestConfig};
