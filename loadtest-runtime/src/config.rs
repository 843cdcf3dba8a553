//! Configuration of a load test: the option layers (attribute, workspace file, environment,
//! command line) and the resolved [`TestConfig`] with its load model.

mod file;
mod layers;
mod ramp;
mod test_config;

pub use file::{FILE_NAME, WorkspaceFile};
pub use layers::{OptionLayer, OptionValue};
pub use ramp::{Arrivals, Ramp};
pub use test_config::{ConfigError, LoadModel, RetryPolicy, TestConfig};
