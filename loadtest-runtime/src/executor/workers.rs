//! One current-thread tokio runtime per core: the harness's own runtime is worker 0, and
//! `LOADTEST_WORKER_THREADS - 1` (or one fewer than the usable CPUs) more run on threads of their
//! own. The load models hand each worker its share: closed-model users round-robin, open-model
//! arrivals as one schedule per worker with its share of the rate. A task stays on the worker it
//! was given, so its connections, timers and metric shard (per thread) never move.
//!
//! Code that runs outside a harness (a `#[tokio::test]` calling `run_registered`) has no workers
//! set up and everything runs on the caller's runtime, as before.

use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::Handle;

static WORKERS: OnceLock<Vec<Handle>> = OnceLock::new();

/// Starts `extra` worker threads, each blocked on its own current-thread runtime for the life of
/// the process, and records their handles after `main`'s (the calling runtime's).
pub(crate) fn start(main: Handle, extra: usize) -> std::io::Result<()> {
    let mut handles = vec![main];
    for i in 0..extra {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        handles.push(rt.handle().clone());
        std::thread::Builder::new()
            .name(format!("loadtest-worker-{}", i + 1))
            .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    }
    let _ = WORKERS.set(handles);
    Ok(())
}

/// How many workers share the load (1 when none were started).
pub(crate) fn count() -> usize {
    WORKERS.get().map_or(1, |w| w.len().max(1))
}

/// The threads the load ran on: the workers, or, without them, the current runtime's.
pub(crate) fn threads() -> usize {
    match WORKERS.get() {
        Some(w) => w.len().max(1),
        None => Handle::try_current().map_or(1, |h| h.metrics().num_workers().max(1)),
    }
}

/// Spawns `fut` on worker `i % count()`; on the current runtime when there are no workers.
pub(crate) fn spawn<F>(i: usize, fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match WORKERS.get() {
        Some(w) if w.len() > 1 => w[i % w.len()].spawn(fut),
        _ => tokio::spawn(fut),
    }
}
