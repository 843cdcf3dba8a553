//! Running a registered load test from code (integration tests, benchmarks, custom drivers),
//! without a harness `main`.

use crate::RuntimeError;
use crate::config::{OptionLayer, TestConfig};
use crate::executor::{RunTest, Stop, run_test};
use crate::registry;
use crate::report::TestResult;
use std::sync::Arc;

/// Runs the registered load test named `name` on the current tokio runtime, with `overrides`
/// applied above its attribute (lowest first), and returns what it measured.
///
/// No setup hook runs; give the target with a `target` override. Fails with a message when no
/// test has that name or the configuration is invalid.
pub async fn run_registered(
    name: &str,
    overrides: &[OptionLayer],
) -> Result<TestResult, RuntimeError> {
    let def = registry::all()
        .into_iter()
        .find(|d| d.full_name() == name)
        .ok_or_else(|| RuntimeError::UnknownTest(name.to_string()))?;
    let attr = OptionLayer::from_attribute(name, def.options);
    let layers: Vec<&OptionLayer> = std::iter::once(&attr).chain(overrides.iter()).collect();
    let config = TestConfig::resolve(&layers)?;
    let mut ignore = |_| {};
    run_test(RunTest {
        def,
        config,
        setup: None,
        default_base_url: None,
        interrupt: Arc::new(Stop::default()),
        on_progress: &mut ignore,
        request_series: false,
        live_metrics: false,
        health_warm_up: std::time::Duration::ZERO,
        otlp: None,
        join_from_unix: None,
    })
    .await
}
