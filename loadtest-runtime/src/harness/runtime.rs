//! The tokio runtime a harness runs its load tests on, and how many threads it gets.
//!
//! Every worker thread runs tokio's current-thread scheduler with its own share of the load: on
//! one core it is the cheaper scheduler (bench/RESULTS.md: 30,100 instead of 19,100 requests per
//! second, 33 instead of 52 µs of CPU per request), and with one runtime per core no task, timer
//! or connection is shared between cores.

use crate::RuntimeError;
pub use loadtest_grammar::threads::{WORKER_THREADS_VAR, worker_threads};

/// Builds the harness's runtime: a current-thread runtime for this thread, and one more on a
/// thread of its own for each further worker thread (see `executor::workers`).
pub(crate) fn build() -> Result<tokio::runtime::Runtime, RuntimeError> {
    let threads = worker_threads()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RuntimeError::Runtime)?;
    crate::executor::workers::start(rt.handle().clone(), threads - 1)
        .map_err(RuntimeError::Runtime)?;
    Ok(rt)
}
