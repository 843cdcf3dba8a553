//! The documented exit codes of `cargo loadtest` (SPEC section 8).

/// Every selected load test passed.
pub const OK: i32 = 0;
/// Usage or configuration error: bad flag, option value, config file, baseline file, threshold
/// rule, or a missing manifest. Nothing was run and no report was written.
pub const USAGE: i32 = 2;
/// No load test matched the selection (or the workspace has none).
pub const NO_TESTS: i32 = 4;
/// A load test failed: a threshold, the error budget, a regression, or its harness crashed.
pub const TEST_FAILED: i32 = 100;
/// The build failed; cargo's diagnostics were shown.
pub const BUILD_FAILED: i32 = 101;
/// Interrupted by SIGINT or SIGTERM; every report was still written for what ran.
pub const INTERRUPTED: i32 = 130;
