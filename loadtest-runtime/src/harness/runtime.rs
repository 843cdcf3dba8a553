//! The tokio runtime a harness runs its load tests on, and how many threads it gets.
//!
//! With one worker thread (one CPU available, or `LOADTEST_WORKER_THREADS=1`) the harness runs
//! tokio's current-thread scheduler: on one core it is the cheaper of the two (bench/RESULTS.md:
//! 30,100 instead of 19,100 requests per second, 33 instead of 52 µs of CPU per request). With
//! more, the multi-thread scheduler with that many workers.

use crate::RuntimeError;
pub use loadtest_grammar::threads::{WORKER_THREADS_VAR, worker_threads};

/// Builds the harness's runtime.
pub(crate) fn build() -> Result<tokio::runtime::Runtime, RuntimeError> {
    let threads = worker_threads().map_err(RuntimeError::WorkerThreads)?;
    let built = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .thread_name("loadtest-worker")
            .build()
    };
    built.map_err(RuntimeError::Runtime)
}
