//! Every attribute form `#[load_test]` accepts, one module per group: each builds (the macro
//! accepted it) and, run by `cargo test`, smoke-runs (one user, three iterations) and passes.
//! What the macro must reject, and where it points, is in `loadtest-macros/tests/ui`.

mod closed_model;
mod ctx_work;
mod no_options;
mod open_model;
mod requests;
mod return_boxed_error;
mod return_custom_error;
mod return_string_error;
mod stages;
mod tags_and_target;
mod thresholds;

loadtest_runtime::main!();
